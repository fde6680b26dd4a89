# Two commands on a fresh machine: `make demo` and `make test`. Each makes or refreshes .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench-eventstore bench-workflows clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/drugfree demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy domain catalog cli

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench-eventstore: $(STAMP)
	$(BIN)/python -m bench.eventstore_bench

bench-workflows: $(STAMP)
	$(BIN)/python -m bench.workflows_bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
