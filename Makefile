# One place for every routine command. Each target builds .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck pytest fmt bench validate demo sandbox clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start the daemon on ./config.yaml (SQLite + built-in sandbox channels, no tokens needed)
run: $(STAMP)
	$(BIN)/crisisd run --config config.yaml

## test: everything CI runs: lint, format check, strict types, the whole test suite
test: check

check: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadfile

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: $(STAMP)
	$(BIN)/crisisd validate --config config.yaml

## bench: every benchmark, medians of three beside raw counterparts and targets (BENCH_ARGS=--json)
bench: $(STAMP)
	@# the notifier library bench/email.py compares with: installed for the bench only
	-$(BIN)/python -m pip install --quiet apprise
	$(BIN)/python -m bench.core --pg "$${CRISISD_TEST_PG_URL:-}" $(BENCH_ARGS)
	$(BIN)/python -m bench.province $(BENCH_ARGS)
	$(BIN)/python -m bench.email $(BENCH_ARGS)
	$(BIN)/python -m bench.startup $(BENCH_ARGS)
	$(BIN)/python -m bench.reload $(BENCH_ARGS)
	$(BIN)/python -m bench.fanout $(BENCH_ARGS)
	$(BIN)/python -m bench.tellfactory $(BENCH_ARGS)
	$(BIN)/python -m bench.rollcall $(BENCH_ARGS)

## demo: a scripted incident end to end on the sandbox, with a live view and the report
demo: $(STAMP)
	$(BIN)/crisisd demo

sandbox: $(STAMP)
	$(BIN)/crisisd sandbox

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var
