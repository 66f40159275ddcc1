# linkguard — two commands matter: `make run` and `make test`.
# Both create or refresh .venv from pyproject.toml themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint types unit clean eval bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The embedded default: SQLite in ./var, and (unless LINKGUARD_LINK_KEYS is set) a local link key
# kept in ./var by dev mode. Production sets LINKGUARD_LINK_KEYS and runs `linkguard serve`.
run: $(STAMP)
	LINKGUARD_DEV_MODE=$${LINKGUARD_DEV_MODE:-true} $(BIN)/linkguard serve

lint: $(STAMP)
	$(BIN)/ruff check linkguard tests bench
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint types unit

eval: $(STAMP)
	$(BIN)/python bench/eval.py

bench: $(STAMP)
	$(BIN)/python bench/verdict.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/rewrite.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
