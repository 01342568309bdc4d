# xtdf: two commands do everything on a fresh machine.
#   make test   - the project's own tests (tests/)
#   make xtest  - the cross-SDK matrix (see README; arrives with the suite)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint bench bench-formats venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23.2"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check src tests xtest
	$(PY) -m pytest tests -n 2 -q

lint: $(STAMP)
	$(PY) -m ruff check src tests xtest
	$(PY) -m ruff format --check src tests xtest

bench-formats: $(STAMP)
	$(PY) -m xtdf.bench.formats

bench: bench-formats

clean:
	rm -rf $(VENV) .pytest_cache build dist
