# fastsplit developer tasks. `make demo` and `make test` work on a fresh clone:
# they create .venv and install everything first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format regen-golden tools clean bench bench-quick

include tools/tools.mk
include tools/compat.mk
include tools/lambdaric.mk
include tools/bench.mk
include tools/vercel.mk

install: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	rm -rf build/demo build/demo-dist
	$(BIN)/fastsplit routes example_app.main:app
	$(BIN)/fastsplit build example_app.main:app --out build/demo
	$(BIN)/fastsplit package --build build/demo --out build/demo-dist \
		--requirements example_app/requirements.txt
	@echo
	@echo "Generated files (build/demo):"
	@cd build/demo && find . -path './functions/*/example_app' -prune -o -type f -print | sort
	@echo
	@echo "One handler (build/demo/functions/get_users_user_id/handler.py):"
	@cat build/demo/functions/get_users_user_id/handler.py
	@echo
	@echo "Zips for Lambda: build/demo-dist/lambda/"

test: install tools compat-venv lambdaric vercel-tools
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check fastsplit tests example_app bench
	$(BIN)/ruff format --check fastsplit tests example_app bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format fastsplit tests example_app
	$(BIN)/ruff check --fix fastsplit tests example_app

## bench: every benchmark (scale, runtime, packaging vs sam build and osls), under 10 minutes; writes bench/results.md
bench: install tools bench-tools
	$(BIN)/python -m bench

## bench-quick: the same reduced to under 2 minutes (fewer runs, smaller apps)
bench-quick: install tools bench-tools
	$(BIN)/python -m bench --quick

regen-golden: install
	$(BIN)/python -m tests.golden.regen
	$(BIN)/python -m tests.golden_vercel.regen

clean:
	rm -rf $(VENV) .tools build dist .pytest_cache .mypy_cache .ruff_cache
