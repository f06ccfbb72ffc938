# The two commands of the quick start are `make up` and `make test`; see README.md.
PY := .venv/bin/python
STACK := $(PY) deploy/local/stack.py

.PHONY: up down status provision test test-unit test-integration test-e2e test-fault lint

up: provision  ## provision what is missing, start everything, wait until ready
	@$(STACK) up
	@echo "Demo tokens are in deploy/local/dev.env. Stop with: make down"

down:  ## stop everything `make up` started
	@if [ -x $(PY) ]; then $(STACK) down; fi

status:
	@$(STACK) status

provision:
	@deploy/local/provision.sh

test: up lint  ## the whole suite against the running system (started if needed)
	$(PY) -m pytest -q tests

test-unit: provision
	$(PY) -m pytest -q tests/unit

test-integration: up
	$(PY) -m pytest -q tests/integration

test-e2e: up
	$(PY) -m pytest -q tests/e2e

test-fault: up
	$(PY) -m pytest -q tests/fault

lint: provision
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared services deploy/local/stack.py
