# Go SDK lane: xtdf's own command line (sdk/gosdk, xtdf-go-cli) on OpenTDF's Go SDK
# (github.com/opentdf/platform/sdk) from the Go module proxy; included by sdk/sdks.mk.
#   make sdks-gosdk        build sdk/gosdk/dist/<version>/ (xtdf-go-cli + cli.sh)
#   make sdks-gosdk-clean  delete it
# Why a lane of our own beside otdfctl: no otdfctl release on a Go SDK newer than 0.4.6 is
# served here (sdk/go/go.mk), the Go SDK itself is, at its newest. Its go.mod and go.sum pin
# the SDK and every dependency; GOSDK_VERSION must name the same release (install.sh checks).
# Go SDK 0.36.0 needs Go 1.26.10, newer than this machine's 1.26.8: the go command fetches
# the approved toolchain go1.27.3 from the module proxy (once, ~76 MB), so every shell that
# runs `go` in sdk/gosdk needs GOTOOLCHAIN=go1.27.3 (README, .ci/run). Without Go the lane
# is skipped with one line (a failure under CI=true). NanoTDF left the Go SDK in 0.12.0:
# this lane is ZTDF only, and says so (`cli.sh supports nano` answers no).
GOSDK_VERSION   := 0.36.0
GOSDK_TOOLCHAIN := go1.27.3

GOSDK_STAMP := sdk/gosdk/dist/$(GOSDK_VERSION)/.installed

.PHONY: sdks-gosdk sdks-gosdk-clean
sdks-gosdk: $(GOSDK_STAMP)

$(GOSDK_STAMP): sdk/gosdk/gosdk.mk sdk/gosdk/go.mod sdk/gosdk/go.sum $(wildcard sdk/gosdk/*.go) \
		sdk/go/install.sh sdk/go/pinned_build.sh sdk/go/cli.sh.in
	@GOTOOLCHAIN=$(GOSDK_TOOLCHAIN) PYTHON=$(PYTHON) sdk/go/install.sh --source sdk/gosdk $(GOSDK_VERSION)

sdks-gosdk-clean:
	rm -rf sdk/gosdk/dist
