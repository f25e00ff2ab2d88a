# The two set-up commands of the README: `make demo` runs the main job, `make test` runs the whole suite.
# Both use the virtual environment .venv, made on first use: the demo installs only what the product needs, the
# tests add the `dev` extra (pytest, ruff, the vendors' official clients, selenium, the PostgreSQL driver).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench clean

$(BIN)/consentry: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/consentry
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/consentry
	$(BIN)/consentry demo

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# mypy checks the packages under their installed names from .venv/mypy-root, where consentry/<package> links to
	# the top-level folder (mypy does not follow setuptools' editable finder); sdk strict, connectors and
	# webhook_server at mypy's default level, as pyproject.toml's [tool.mypy] says.
	mkdir -p $(VENV)/mypy-root/consentry
	ln -sfn $(CURDIR)/sdk $(VENV)/mypy-root/consentry/sdk
	ln -sfn $(CURDIR)/connectors $(VENV)/mypy-root/consentry/connectors
	ln -sfn $(CURDIR)/webhook_server $(VENV)/mypy-root/consentry/webhook_server
	cd $(VENV)/mypy-root && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
		-p consentry.sdk -p consentry.connectors -p consentry.webhook_server
	$(BIN)/pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/bench_check.py

clean:
	rm -rf $(VENV) build *.egg-info
