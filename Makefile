# The two set-up commands of the README: `make demo` runs the main job, `make test` runs the whole suite.
# Each creates its own virtual environment in .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench clean

$(BIN)/consentry: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/consentry
	$(BIN)/consentry demo

test: $(BIN)/consentry
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

lint: $(BIN)/consentry
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/consentry
	$(BIN)/python benchmarks/bench_check.py

clean:
	rm -rf $(VENV) build *.egg-info
