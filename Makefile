# One command for each habit. Every target sets up its own environment first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: setup demo test test-slow test-determinism check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The main job end to end on the bundled example, offline, with the built-in engineer.
demo: setup
	rm -rf runs/demo
	$(BIN)/mlestar run examples/breast-cancer --out runs/demo --budget 2m --no-live
	$(BIN)/mlestar status runs/demo

## The default test suite (fast; no network).
test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q

## Long end-to-end checks.
test-slow: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -m slow

## Same seed and --max-nodes, same run: quiet and with every core busy (built-in engineer, the
## bundled example and the bench tasks when ../shared/bench is there; MLESTAR_BENCH_DIR moves it).
test-determinism: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -m slow tests/test_determinism.py

check: setup
	$(BIN)/ruff check mlestar tests bench examples
	$(BIN)/mypy mlestar

## Benchmark on ../shared/bench (see bench/README.md for options).
bench: setup
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
