# Two commands on a fresh machine with Python 3.11+:
#   make demo   the offline story end to end
#   make test   the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "rocky needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rocky demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal -q tests

bench: $(STAMP)
	$(BIN)/python bench/compile_bench.py

lint: $(STAMP)
	$(BIN)/ruff check rocky_engine intent_agent tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
