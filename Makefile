# The two commands of the quick start are `make up` and `make test`; see README.md.
PY := .venv/bin/python
STACK := $(PY) deploy/local/stack.py

.PHONY: up demo down status provision test suite test-unit test-integration test-e2e test-fault lint bench \
	rescore backup restore

# `make test` and `make bench` run on copies of the system of their own, so what `make up` runs keeps its
# data, topics, groups and board as they were: STACK_INSTANCE names the copy (`make test STACK_INSTANCE=`
# runs on the default one, which is never removed). `stack.py run` starts the copy, runs the command on
# it and removes it afterwards (stopped, var/instances/NAME deleted; also on failure) unless KEEP=1.
test test-integration test-e2e test-fault: export STACK_INSTANCE ?= test
bench: export STACK_INSTANCE ?= bench

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

test: provision lint  ## the whole suite on a copy of its own (STACK_INSTANCE=test), removed afterwards unless KEEP=1
	@# `make`, not $$(MAKE): a dry run (make -n test) would run this line, and so start a copy.
	@$(STACK) run -- make --no-print-directory suite

suite:  ## the whole suite against the running copy STACK_INSTANCE names (make test runs it on a fresh copy)
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

bench: provision  ## the benchmarks (not part of test) on a copy of their own (STACK_INSTANCE=bench); see README
	@$(STACK) run -- $(PY) -m bench

test-unit: provision
	$(PY) -m pytest -q tests/unit

test-integration: provision  ## one layer on the test copy, as make test (KEEP=1 keeps it for the next)
	@$(STACK) run -- $(PY) -m pytest -q tests/integration

test-e2e: provision
	@$(STACK) run -- $(PY) -m pytest -q tests/e2e

test-fault: provision
	@$(STACK) run -- $(PY) -m pytest -q tests/fault

lint: provision
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared services tools bench deploy/local/stack.py
