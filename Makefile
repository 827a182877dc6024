# Two commands for a fresh machine with Python 3: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
# One worker more than the cores: part of the fast set waits on sockets (webhook receivers, their
# timeouts), and the extra worker keeps both cores busy meanwhile (2 cores: 103 s with 2, 85 s with 3).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; f = getattr(os, 'sched_getaffinity', None); \
	print((len(f(0)) if f else os.cpu_count()) + 1)")

.PHONY: run serve test test-fast lint bench install docs docs-build

$(BIN)/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,docs]"
	touch $(BIN)/flask

install: $(BIN)/flask

## run: set up the SQLite database (first admin printed once) and serve on http://127.0.0.1:5000
run: install
	$(BIN)/flask setup
	$(BIN)/flask run

## serve: production server: gunicorn with gunicorn.conf.py on http://127.0.0.1:8000 (PORTAL_BIND)
serve: install
	$(BIN)/flask setup
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## test: the whole suite (browser tests included when Chromium is installed)
test: install
	$(BIN)/python -m pytest

## test-fast: everything that needs no browser, no PostgreSQL and no subprocess, on every core
test-fast: install
	PORTAL_TESTS_FAST=1 $(BIN)/python -m pytest -m "not browser and not postgres and not slow" \
		-n $(TEST_WORKERS) --dist worksteal -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/run.py --quick

## docs-build: the documentation site into site/ (fails on a broken link or a missing page)
docs-build: install
	$(BIN)/mkdocs build --strict

## docs: build the documentation site, then serve it with live reload on http://127.0.0.1:8001
DOCS_ADDR ?= 127.0.0.1:8001
docs: docs-build
	$(BIN)/mkdocs serve --strict --dev-addr $(DOCS_ADDR)
