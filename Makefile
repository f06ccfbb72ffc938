# The two commands of the quick start are `make up` and `make test`; see README.md.
PY := .venv/bin/python
STACK := $(PY) deploy/local/stack.py

.PHONY: up demo down status provision test test-unit test-integration test-e2e test-fault lint bench rescore \
	backup restore

up: provision  ## provision what is missing, start everything, wait until ready, load the demo year
	@$(STACK) up
	@$(PY) -m tools.demo load
	@echo "Demo tokens are in deploy/local/dev.env. Stop with: make down"

demo:  ## load the demo year 2022 into the running system (a no-op once loaded; see tools/demo)
	@$(PY) -m tools.demo load

down:  ## stop everything `make up` started
	@if [ -x $(PY) ]; then $(STACK) down; fi

status:
	@$(STACK) status

provision:  ## BUNDLE=path (make up BUNDLE=..., make test BUNDLE=...): from an offline bundle, no registry
	@BUNDLE="$(BUNDLE)" deploy/local/provision.sh

.PHONY: bundle
bundle: provision  ## var/bundle/court-bundle-....tar: all `make up BUNDLE=` needs on a machine with no registry
	$(PY) -m tools.bundle create

test: provision lint  ## the whole suite against the running system (started if needed)
	@$(STACK) up
	$(PY) -m pytest -q tests --ignore=tests/demo
	@# The demo year last: its ~45,000 records would queue ahead of every test's records.
	@$(PY) -m tools.demo load
	DEMO_DEADLINE_S=2400 $(PY) -m pytest -q --timeout=3000 tests/demo

rescore:  ## rebuild every score from the Kafka log under the rulebook into a new generation, then switch
	$(PY) -m services.scoring rescore

backup:  ## while running: the Kafka topics (records, offsets) and the MongoDB database into var/backups/
	$(PY) -m tools.backup create

restore:  ## make restore ARCHIVE=var/backups/backup-....tar.gz, into a stack with no topics and no data (README)
	@test -n "$(ARCHIVE)" || { echo "usage: make restore ARCHIVE=var/backups/backup-....tar.gz" >&2; exit 2; }
	$(PY) -m tools.backup restore "$(ARCHIVE)"

bench: provision  ## the benchmarks (not part of test): table and var/bench/results.json; see README
	@$(STACK) up
	$(PY) -m bench

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
	$(PY) -m mypy shared services tools bench deploy/local/stack.py
