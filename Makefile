# xtdf: two commands do everything on a fresh machine.
#   make xtest  - set up, start the local platform, run the cross-SDK matrix with -n auto
#   make test   - the project's own tests (tests/)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(abspath $(VENV))/bin/python
STAMP  := $(VENV)/.installed
# extra pytest arguments for the matrix, e.g. XTEST_ARGS="--focus=js -k roundtrip"
XTEST_ARGS ?=
XTEST_WORKERS ?= auto
FUZZ_SECONDS ?= 120

# keep bytecode: with PYTHONDONTWRITEBYTECODE set, every pytest worker compiles xtdf and
# rewrites the suite's asserts again (collection 1.4 s -> 0.7 s per process without it)
unexport PYTHONDONTWRITEBYTECODE

.PHONY: test xtest sdks sdk-py browser lint bench bench-formats fuzz mutation venv clean

venv: $(STAMP)

# the protos too: hatch_build.py generates src/xtdf/_proto from them at install
$(STAMP): pyproject.toml hatch_build.py $(shell find proto -name '*.proto')
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23.2"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

include sdk/sdks.mk
# OpenTDF's Go platform beside ours (make platform-go, make xtest PLATFORM=go)
include platform/go/go.mk

sdk-py: $(STAMP)
	$(MAKE) -C sdk/py PY=$(PY)

# every SDK in the matrix: ours, otdf-python (two releases) and the JS CLI
sdks: sdk-py sdks-independent

# headless Chromium for the HTML report's browser test (tests/harness/test_report_browser.py):
# Debian's package, installed once where apt-get can run (as root); elsewhere that test skips
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends chromium >/dev/null; } || \
	  echo "no Chromium: the HTML report's browser test will skip"

test: $(STAMP) sdks platform-go browser
	$(PY) -m ruff check src tests xtest
	$(PY) -m pytest tests -n 2 --dist loadgroup -q

# PLATFORM=go: the matrix against OpenTDF's Go platform (platform/go/go.mk, docs/go-platform.md)
# instead of ours, its stats in .xtdf/last-run-go.json; then every test whose outcome differs
# from the last run on ours (.xtdf/last-run.json), printed and written to docs/compat.md
PLATFORM ?= xtdf
$(if $(filter-out xtdf go,$(PLATFORM)),$(error PLATFORM=$(PLATFORM): expected xtdf or go))
ifeq ($(PLATFORM),go)
XTEST_DEPS := platform-go
# "=" forms: pytest takes the value of an option it does not know yet for a path, and an
# existing file there moves its rootdir away from xtest/
XTEST_OUT  := --stats-json=../.xtdf/last-run-go.json --report-html=../.xtdf/report-go.html
endif

xtest: $(STAMP) sdks $(XTEST_DEPS)
ifeq ($(PLATFORM),go)
	cd xtest && XTDF_PLATFORM=go $(PY) -m pytest -n $(XTEST_WORKERS) -q $(XTEST_OUT) $(XTEST_ARGS); \
	  status=$$?; cd .. && if [ -f .xtdf/last-run.json ]; then \
	  $(PY) -m xtdf.harness.platform_diff .xtdf/last-run.json .xtdf/last-run-go.json \
	    --compat-md docs/compat.md; \
	  else echo "no run on xtdf's platform to compare with (.xtdf/last-run.json): make xtest"; fi; \
	  exit $$status
else
	cd xtest && $(PY) -m pytest -n $(XTEST_WORKERS) -q $(XTEST_ARGS)
endif

lint: $(STAMP)
	$(PY) -m ruff check src tests xtest
	$(PY) -m ruff format --check src tests xtest

fuzz: $(STAMP)
	$(PY) -m xtdf.bench.fuzz --seconds $(FUZZ_SECONDS)

bench-formats: $(STAMP)
	$(PY) -m xtdf.bench.formats

# every measurement of issue 6, one sitting: bench/results.md and bench/results.json
bench: $(STAMP) sdks
	$(PY) -m xtdf.bench --out bench

# mutation testing of the security core, bounded (tools/mutation.py; not in make test):
# the per-module table goes into docs/testing.md
MUTATION_BUDGET ?= 1700
MUTATION_ARGS ?=
$(VENV)/.mutation: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,mutation]"
	@touch $@

mutation: $(VENV)/.mutation
	$(PY) tools/mutation.py --budget $(MUTATION_BUDGET) --write-doc docs/testing.md $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build dist sdk/*/dist
