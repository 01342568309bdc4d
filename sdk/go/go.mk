# Go lane: OpenTDF's Go CLI otdfctl, built from the Go module proxy; included by sdk/sdks.mk.
#   make sdks-go    build each pinned otdfctl into sdk/go/dist/<version>/ (otdfctl + cli.sh)
# The pins below are the only place a version is named. Each is module, version and the
# module's two checksums (zip and go.mod, as `go mod download -json` prints them): the Go
# checksum database cannot vouch for these releases here, so sdk/go/install.sh checks the
# download against them itself; dependencies are checked against otdfctl's own go.sum.
# Without a Go toolchain the lane is skipped with one line (a failure under CI=true).
#
# Which releases: the module proxy this project may use refuses otdfctl v0.24.0 (upstream's
# long-term-support pick), v0.20.0 and v0.22.0-v0.29.0, github.com/opentdf/platform/otdfctl
# at every release tried (v0.31.0-v0.36.0) and every opentdf version list (403); it serves
# v0.21.0 and v0.30.0 (docs/compat.md, "Go lane").
# - 0.21.0 builds exactly as released (Go SDK 0.4.6).
# - 0.30.0, the last release before otdfctl moved into the platform repository, pins Go SDK
#   v0.15.0, protocol/go v0.21.0 and lib/identifier v0.3.0, which the proxy refuses. Its own
#   code, unchanged, is built with those raised to releases the proxy serves (GO_RAISE_*):
#   the Go SDK lane's 0.36.0 (sdk/gosdk) and what it takes. It reports sdk_version 0.36.0.
#   sdk/go/raise-0.30.0.sum holds the go.sum lines, as the go command wrote them, for every
#   module the raise brings in; protocol/go v0.44.0 needs Go 1.26.10, so the build uses
#   GO_TOOLCHAIN_* (fetched from the proxy like the Go SDK lane's).
GO_VERSIONS := 0.21.0 0.30.0

GO_MODULE_0.21.0    := github.com/opentdf/otdfctl
GO_SUM_0.21.0       := h1:3FtvTvjFw9xZlCR2vBiGIs9D+Jtgx9S7AAOIroZA2+s=
GO_MOD_SUM_0.21.0   := h1:18G1qnTpOlPA84DgQimW9526YUQWQ9sRednJ4Q+YDRQ=

GO_MODULE_0.30.0    := github.com/opentdf/otdfctl
GO_SUM_0.30.0       := h1:WtAnM/tMsGTzLiOhAaklTxqRWO8b4P0Lzlo1TZmuuYM=
GO_MOD_SUM_0.30.0   := h1:wIb33D/fjVXbwfc3Ftc0v9j73GCFs26efY+y5xtfcuM=
GO_RAISE_0.30.0     := github.com/opentdf/platform/sdk@v0.36.0 \
                       github.com/opentdf/platform/protocol/go@v0.44.0 \
                       github.com/opentdf/platform/lib/identifier@v0.4.0
GO_TOOLCHAIN_0.30.0 := go1.27.3

GO_STAMPS := $(foreach v,$(GO_VERSIONS),sdk/go/dist/$(v)/.installed)

.PHONY: sdks-go sdks-go-clean
sdks-go: $(GO_STAMPS)

sdk/go/dist/%/.installed: sdk/go/go.mk sdk/go/install.sh sdk/go/pinned_build.sh sdk/go/cli.sh.in \
		$(wildcard sdk/go/raise-*.sum)
	@$(if $(GO_TOOLCHAIN_$*),GOTOOLCHAIN=$(GO_TOOLCHAIN_$*)) PYTHON=$(PYTHON) sdk/go/install.sh \
		"$(GO_MODULE_$*)" "$*" "$(GO_SUM_$*)" "$(GO_MOD_SUM_$*)" \
		$(if $(GO_RAISE_$*),--raise sdk/go/raise-$*.sum $(GO_RAISE_$*))

sdks-go-clean:
	rm -rf sdk/go/dist
