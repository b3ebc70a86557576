# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3
# One stamp per set of extras: `make run` installs only what the demo needs.
RUN_STAMP  := $(VENV)/.installed-server
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install run test bench lint system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[server]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[server,dev,test]'
	touch $@ $(RUN_STAMP)

## install: the server and the demo (what `make run` needs)
install: $(RUN_STAMP)

## run: install and start the main job: the demo (server + example services + traffic)
run: install
	$(VENV)/bin/tracelake demo

## test: lint, install (incl. system packages the tests drive) and run the whole suite
test: lint system-deps
	$(PY) -m pytest -q

## bench: the performance figures of docs/performance.md
bench: $(TEST_STAMP)
	$(PY) benchmarks/run.py

## lint: ruff, mypy and the layers of docs/internals/architecture.md (import-linter)
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

system-deps:
	sh scripts/system-deps.sh

clean:
	rm -rf $(VENV) data data-demo .pytest_cache .mypy_cache .ruff_cache
