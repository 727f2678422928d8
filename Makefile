# The two commands of README.md: `make run` and `make test`. Both set up what they need
# on a fresh machine (a virtual environment in .venv from pyproject.toml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROD_STAMP := $(VENV)/.installed-prod

.PHONY: run test manage bench bench-api bench-proxy lint install install-prod clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# What running needs and nothing else (no pytest, playwright, schemathesis...): for a
# production host (docs/deploy.md) and for `make run`.
$(PROD_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(PROD_STAMP)

install-prod: $(PROD_STAMP)

run: $(PROD_STAMP)
	scripts/run

# Any management command, from a fresh shell: make manage ARGS="changepassword admin"
manage: $(PROD_STAMP)
	scripts/manage $(ARGS)

test: $(STAMP)
	scripts/test $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=mypy $(BIN)/mypy

bench: $(STAMP)
	scripts/bench

bench-api: $(STAMP)
	scripts/bench api

bench-proxy: $(STAMP)
	scripts/bench proxy

clean:
	rm -rf $(VENV) var .pytest_cache
