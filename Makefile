# linkguard — two commands matter: `make run` and `make test`.
# Both create or refresh .venv from pyproject.toml themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NATIVE := $(VENV)/.native
# The modules setup.py compiles live here (linkguard/native.py lists them); any change in
# these folders reruns the in-place build, which recompiles only the modules that changed.
NATIVE_SRC := setup.py linkguard/native.py
NATIVE_SRC += $(wildcard linkguard/core/*.py linkguard/core/*.pyx linkguard/core/checks/*.py)
NATIVE_SRC += $(wildcard linkguard/rewriter/*.py linkguard/rewriter/*.pyx)

.PHONY: run test lint types unit unit-python native clean eval bench

# The editable install itself compiles nothing (LINKGUARD_PURE_PYTHON=1): $(NATIVE) does, in
# place, so that an edited module is rebuilt by the next `make run` or `make test`.
$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	LINKGUARD_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The per-URL hot paths compiled with Cython (setup.py). Without a C compiler this warns and
# the same modules run as Python.
$(NATIVE): $(STAMP) $(NATIVE_SRC)
	$(BIN)/python setup.py --quiet build_ext --inplace --parallel $$(nproc)
	touch $(NATIVE)

native: $(NATIVE)

# The embedded default: SQLite in ./var, and (unless LINKGUARD_LINK_KEYS is set) a local link key
# kept in ./var by dev mode. Production sets LINKGUARD_LINK_KEYS and runs `linkguard serve`.
run: $(NATIVE)
	LINKGUARD_DEV_MODE=$${LINKGUARD_DEV_MODE:-true} $(BIN)/linkguard serve

lint: $(STAMP)
	$(BIN)/ruff check linkguard tests bench setup.py
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

unit: $(NATIVE)
	$(BIN)/pytest

# The tests of the compiled modules again, on their Python source (tests/conftest.py).
unit-python: $(NATIVE)
	LINKGUARD_PURE_PYTHON=1 $(BIN)/pytest tests/core tests/rewriter tests/test_native.py

test: lint types unit unit-python

eval: $(NATIVE)
	$(BIN)/python bench/eval.py

bench: $(NATIVE)
	$(BIN)/python bench/verdict.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/rewrite.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build
	find linkguard -name '*.so' -delete
