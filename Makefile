# The newcomer's commands. `make demo`, `make run` and `make test` each set up what they need first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup demo run test bench

# `make demo DEMO_ARGS="--speed 1"` for the real pace.
DEMO_ARGS ?= --speed 30

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/hotline demo $(DEMO_ARGS)

run: setup
	$(BIN)/hotline run

test: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/ingest.py
