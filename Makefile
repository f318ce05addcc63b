# The two commands: `make demo` and `make test`. Everything else supports them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
HUB := $(VENV)/bin/hub
DEMO_ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: setup stack-up stack-down lint test demo bench schemas clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

stack-up: setup
	$(HUB) stack up

stack-down: setup
	$(HUB) stack down

lint: setup
	$(VENV)/bin/ruff check .

# Starts the stack, runs lint and the whole suite, stops the stack whatever the outcome.
test: setup
	$(HUB) stack up
	status=0; \
	$(VENV)/bin/ruff check . || status=$$?; \
	[ $$status -ne 0 ] || $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS) || status=$$?; \
	$(HUB) stack down; \
	exit $$status

# Sets up, starts the stack, migrates, runs workers and API, publishes a sample, summarises.
demo: setup
	$(HUB) demo $(DEMO_ARGS)

bench: setup
	$(HUB) stack up
	$(VENV)/bin/python bench/report.py $(BENCH_ARGS)

schemas: setup
	$(VENV)/bin/python -m schemas.generate

clean:
	-$(HUB) stack down
	rm -rf $(VENV) test-artifacts
