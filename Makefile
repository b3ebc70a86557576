# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3
# One stamp per set of extras: `make run` installs only what the demo needs.
RUN_STAMP  := $(VENV)/.installed-server
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install run test bench lint screenshots system-deps node-deps clean

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
test: lint system-deps node-deps
	$(PY) -m pytest -q

## screenshots: the README's and docs/ui.md's screenshots, from a running demo's data
screenshots: $(TEST_STAMP)
	TRACELAKE_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/ui/test_demo_pages.py

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

## node-deps: the Node.js clients the tests drive (loggers, tracers, breakers; tests/clients/node)
node-deps: tests/clients/node/node_modules/.package-lock.json

tests/clients/node/node_modules/.package-lock.json: tests/clients/node/package-lock.json
	cd tests/clients/node && npm ci --no-audit --no-fund --loglevel=error

clean:
	rm -rf $(VENV) data data-demo .pytest_cache .mypy_cache .ruff_cache
