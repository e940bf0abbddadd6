# The newcomer's commands. `make run` and `make test` each set up what they need first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup run test bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/hotline run

test: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/ingest.py
