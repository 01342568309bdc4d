# Independent OpenTDF SDKs for the matrix (included by the main Makefile).
#   make sdks-independent   install otdf-python (two releases), @opentdf/cli, otdfctl, the Go
#                           SDK lane and the Java lane, once
# Each install leaves sdk/<name>/dist/<version>/cli.sh plus a .installed stamp; later runs
# reuse them until the pins or the adapter templates change. Each lane needs only its registry.
PYTHON ?= python3

OTDF_PYTHON_VERSIONS := 0.11.0 0.9.0
JS_CLI_VERSION       := 2.0.0-beta.1412

OTDF_PYTHON_STAMPS := $(foreach v,$(OTDF_PYTHON_VERSIONS),sdk/otdf-python/dist/$(v)/.installed)
JS_STAMP           := sdk/js/dist/$(JS_CLI_VERSION)/.installed

.PHONY: sdks-independent sdks-independent-clean

sdks-independent: $(OTDF_PYTHON_STAMPS) $(JS_STAMP) sdks-go sdks-gosdk sdks-java

include sdk/go/go.mk
include sdk/gosdk/gosdk.mk
include sdk/java/java.mk

sdk/otdf-python/dist/%/.installed: sdk/otdf-python/requirements-%.txt \
		sdk/otdf-python/install.sh sdk/otdf-python/cli.sh.in \
		$(wildcard sdk/otdf-python/supports-*.tsv)
	PYTHON=$(PYTHON) sdk/otdf-python/install.sh $*

$(JS_STAMP): sdk/js/package.json sdk/js/package-lock.json sdk/js/install.sh sdk/js/cli.sh.in
	sdk/js/install.sh $(JS_CLI_VERSION)

sdks-independent-clean:
	rm -rf sdk/otdf-python/dist sdk/js/dist
