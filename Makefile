# Portail Cabinet — `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium
# Bytecode is cached (__pycache__, ignored by git) even where the environment says not to: the suite starts
# pytest workers and dozens of `portal` commands, each of which would otherwise compile the portal again.
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help setup run worker scheduler test test-pg lint fmt typecheck migrate revision db-check i18n bench chaos browser pdf-libs clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP) pdf-libs ## Create the virtualenv and install the portal with its dev tools (and WeasyPrint's Debian libraries)

run: $(STAMP) ## Serve http://127.0.0.1:8000 (PORTAL_PORT) with demo data and the embedded worker
	$(VENV)/bin/portal run --demo

worker: $(STAMP) ## Run dramatiq workers (production: PORTAL_BROKER_URL=redis://…)
	$(VENV)/bin/portal worker

scheduler: $(STAMP) ## Run the scheduler: periodic jobs and the outbox relay
	$(VENV)/bin/portal scheduler

# WeasyPrint (PDF reports) prints with Pango and HarfBuzz; DejaVu is the documents' font; the PDF tests read
# and draw pages with poppler-utils (pdftotext, pdftoppm). Installed when missing (as root; otherwise it says how).
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils
pdf-libs:
	@missing="$$(for package in $(PDF_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$package 2>/dev/null | grep -q 'ok installed' || echo $$package; done)"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "PDF reports and their tests need: sudo apt-get install" $$missing >&2; exit 1; fi; \
	fi

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is needed for the browser tests: sudo apt-get install chromium" >&2; exit 1; fi; \
	fi

# pytest-xdist workers, each with its own database and broker namespace (tests/conftest.py).
# The whole suite: 4 (on 2 cores they spend much of their time waiting); a part (T=…): one
# process, unless N says otherwise. N=0 always runs in this process.
N ?= $(if $(T),0,4)
PYTEST = $(PY) -m pytest -n $(N) --dist worksteal
# The whole suite on SQLite measures branch coverage of portal/ and fails under fail_under
# ([tool.coverage.report] in pyproject.toml), printing the total at the end
# (`.venv/bin/coverage report -m` then lists what was missed). A part (T=…) skips it, and so does
# a run on PostgreSQL: its figure is not the one fail_under was set from, and CI's time is short.
COVERAGE = $(if $(T)$(PORTAL_TEST_DATABASE_URL),,--cov --cov-report=)
# The whole suite on PostgreSQL + Redis leaves out the tests marked `once` (pyproject.toml: layout, words,
# source scans, pure parsing), which the embedded run has checked; pytest counts them as deselected.
ONCE = $(if $(T),,$(if $(PORTAL_TEST_DATABASE_URL),-m 'not once'))

test: $(STAMP) browser pdf-libs ## Run the whole suite in parallel (T=path for a part, N=workers); PORTAL_TEST_DATABASE_URL/BROKER_URL for PG + Redis
	$(PYTEST) $(COVERAGE) $(ONCE) $(T)

test-pg: $(STAMP) browser pdf-libs ## Run the suite on the local PostgreSQL and Redis (one database per worker: portal_test_gw0…)
	PORTAL_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/portal_test \
	PORTAL_TEST_BROKER_URL=redis://127.0.0.1:6379/15 $(PYTEST) $(if $(T),,-m 'not once') $(T)

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP) ## Format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(STAMP) ## mypy only
	$(VENV)/bin/mypy

migrate: $(STAMP) ## Apply migrations to PORTAL_DATABASE_URL
	$(VENV)/bin/portal db upgrade

revision: $(STAMP) ## New migration from the models: make revision m="what changed"
	$(VENV)/bin/portal db revision -m "$(m)"

db-check: $(STAMP) ## Models and migrations agree (upgrade an empty database, compare)
	$(PY) -m pytest tests/test_migrations.py

i18n: $(STAMP) ## Extract messages and update the English catalogue
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k NP_:1,2 -k _ --ignore-dirs '.* .venv var tests migrations' \
	  --no-location --omit-header --sort-output -o portal/locale/messages.pot .
	$(VENV)/bin/pybabel update -i portal/locale/messages.pot -d portal/locale -l en --omit-header --width 120 --no-fuzzy-matching

bench: $(STAMP) ## Benchmarks: print figures (no assertions), then the fault and load harness (make chaos)
	$(PY) -m benchmarks
	$(PY) -m benchmarks.chaos

# Longer than CI's 3 minutes (two worker kills, a FEC import, 30 s without Redis): run by `make bench`.
chaos: $(STAMP) ## Faults and load on the production topology on loopback (PostgreSQL, Redis :6391, web :8250)
	$(PY) -m benchmarks.chaos

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
