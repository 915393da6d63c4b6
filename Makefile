# Two commands do all the set-up on a fresh machine:
#   make demo   - run the whole loader locally (embedded AWS + PostgreSQL), drop sample files, show them loaded
#   make test   - install everything the tests need and run the whole suite
# Both create .venv on first use. One layer of the suite alone (README, "Architecture"):
#   make unit | functional | integration | e2e | reliability | fidelity

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench local clean unit functional integration e2e reliability fidelity

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/loader-admin local up --demo

local: $(STAMP)
	$(BIN)/loader-admin local up

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2

# One layer of the suite: the folder tests/<layer>/, in parallel as `make test` runs it.
unit functional integration e2e reliability fidelity: $(STAMP)
	$(BIN)/pytest -n 2 tests/$@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build .aws-sam .pytest_cache .ruff_cache .mypy_cache

# Lambda artifact (sam build's makefile builder, and `make package` without SAM).
include build.mk
