# Liaison: `make run` to try it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.DEFAULT_GOAL := help
.PHONY: help run test lint migrate seed catalogues messages worker web check clean

help:
	@echo "make run    create .venv, migrate, load demo data, start web + worker + scheduler"
	@echo "make test   ruff, the import layers, makemigrations --check and the whole test suite"
	@echo "make lint   ruff only;  make messages  refresh locale/*.po (needs GNU gettext)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) || true

# uv installs the pinned requirements in seconds; pip is the fallback.
define install
	( $(BIN)/uv pip install --quiet --python $(BIN)/python -r $(1) \
	  || $(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(1) )
endef

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(call install,requirements.txt)
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(call install,requirements-dev.txt)
	touch $@ $(VENV)/.runtime

catalogues: $(VENV)/.runtime
	$(BIN)/python scripts/compile_catalogues.py

migrate: $(VENV)/.runtime catalogues
	DEBUG=true $(BIN)/python manage.py migrate --no-input

# Through run_stack.py: the demo's messages carry links to the address
# `make run` serves (HOST, PORT), or to SITE_URL when it is set.
seed: migrate
	DEBUG=true $(BIN)/python scripts/run_stack.py manage seed_demo

run: seed
	DEBUG=true $(BIN)/python scripts/run_stack.py

web: $(VENV)/.runtime
	DEBUG=true $(BIN)/python manage.py runserver

worker: $(VENV)/.runtime
	DEBUG=true $(BIN)/python manage.py qcluster

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest runs twice: the tests that start processes (marked slow or e2e: worker
# clusters, the browser stack) one after the other with the machine to
# themselves, since side by side their workers starve each other past their
# leases; the rest spread over TEST_WORKERS processes (pytest-xdist, each with
# its own test database and Redis key prefix).
TEST_WORKERS ?= auto
PROCESSES := slow or e2e
# BROWSER=no leaves the browser tests (marked e2e) out: .ci/run runs them once,
# on the production parts, since they drive the same pages whatever the database.
BROWSER ?= yes
ifeq ($(BROWSER),no)
PROCESS_RUN := slow
else
PROCESS_RUN := $(PROCESSES)
endif

test: $(VENV)/.dev catalogues
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	DJANGO_SETTINGS_MODULE=config.test_settings $(BIN)/python manage.py makemigrations --check --dry-run
	@# pytest exits 5 when it collected nothing: a suite that ran no test fails.
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not ($(PROCESSES))"; rest=$$?; \
	$(BIN)/python -m pytest -m "$(PROCESS_RUN)"; processes=$$?; \
	for status in $$rest $$processes; do \
		if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; \
	done; \
	[ $$rest -eq 0 ] && [ $$processes -eq 0 ]

messages: $(VENV)/.runtime
	DEBUG=true $(BIN)/python manage.py makemessages -l fr -l en --no-obsolete --ignore=.venv --ignore=tests

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .pytest_cache .ruff_cache
