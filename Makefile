# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: install run serve test bench lint system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server,dev,test]'
	touch $(STAMP)

install: $(STAMP)

## run: install and start the main job: the demo (server + example services + traffic)
run: install
	$(VENV)/bin/tracelake demo

## test: install (incl. system packages the tests drive) and run the whole suite
test: install system-deps
	$(PY) -m pytest -q

## bench: the performance figures of docs/performance.md
bench: install
	$(PY) benchmarks/run.py

## lint: ruff and mypy
lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

system-deps:
	sh scripts/system-deps.sh

clean:
	rm -rf $(VENV) data data-demo .pytest_cache .mypy_cache .ruff_cache
