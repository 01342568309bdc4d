# Go lane: OpenTDF's Go CLI otdfctl, built from the Go module proxy; included by sdk/sdks.mk.
#   make sdks-go    build each pinned otdfctl into sdk/go/dist/<version>/ (otdfctl + cli.sh)
# The pins below are the only place a version is named. Each is module, version and the
# module's two checksums (zip and go.mod, as `go mod download -json` prints them): the Go
# checksum database cannot vouch for these releases here, so sdk/go/install.sh checks the
# download against them itself; dependencies are checked against otdfctl's own go.sum.
# Without a Go toolchain the lane is skipped with one line (a failure under CI=true).
#
# Why only 0.21.0: the module proxy this project may use refuses otdfctl v0.24.0, v0.23.0,
# v0.22.0, v0.20.0, v0.19.0 and github.com/opentdf/platform/otdfctl v0.36.0 (403), and
# every opentdf version list (docs/compat.md, "Go lane").
GO_VERSIONS := 0.21.0

GO_MODULE_0.21.0    := github.com/opentdf/otdfctl
GO_SUM_0.21.0       := h1:3FtvTvjFw9xZlCR2vBiGIs9D+Jtgx9S7AAOIroZA2+s=
GO_MOD_SUM_0.21.0   := h1:18G1qnTpOlPA84DgQimW9526YUQWQ9sRednJ4Q+YDRQ=

GO_STAMPS := $(foreach v,$(GO_VERSIONS),sdk/go/dist/$(v)/.installed)

.PHONY: sdks-go sdks-go-clean
sdks-go: $(GO_STAMPS)

sdk/go/dist/%/.installed: sdk/go/go.mk sdk/go/install.sh sdk/go/pinned_build.sh sdk/go/cli.sh.in
	@PYTHON=$(PYTHON) sdk/go/install.sh "$(GO_MODULE_$*)" "$*" "$(GO_SUM_$*)" "$(GO_MOD_SUM_$*)"

sdks-go-clean:
	rm -rf sdk/go/dist
