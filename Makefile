# The two commands: `make demo` and `make test`. Everything else supports them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
HUB := $(VENV)/bin/hub
DEMO_ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: setup browser wrk stack-up stack-down lint test soak demo bench schemas clean

CHART_JS := hub/api/static/vendor/chart.umd.min.js
SWAGGER_UI := hub/api/static/vendor/swagger-ui/swagger-ui-bundle.js

setup: $(VENV)/.installed $(CHART_JS) $(SWAGGER_UI) browser

# The hub and its producer kit (kit/, the event models' one source), both editable.
$(VENV)/.installed: pyproject.toml kit/pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e './kit[django]' -e '.[dev]'
	touch $@

# The dashboard's chart library, from the npm registry (web/package-lock.json), served by the
# API itself: never a CDN at run time. Redone only when the lock file changes.
$(CHART_JS): web/package.json web/package-lock.json
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(dir $@)
	cp web/node_modules/chart.js/dist/chart.umd.min.js $@

# Swagger UI of the API's /docs, the same way (FastAPI's default page loads it from a CDN).
# --ignore-scripts: swagger-ui-dist pulls in @scarf/scarf, whose install script phones home.
$(SWAGGER_UI): web/package.json web/package-lock.json
	test -d web/node_modules/swagger-ui-dist || \
	  (cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	mkdir -p $(dir $@)
	cd web/node_modules/swagger-ui-dist && \
	  cp swagger-ui.css favicon-32x32.png LICENSE $(CURDIR)/$(dir $@) && \
	  cp swagger-ui-bundle.js $(CURDIR)/$@

# Headless Chromium for the dashboard's browser test (Debian's package; installed when root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "note: install Debian's chromium package for the dashboard browser test"; fi; }

# wrk, the C load generator of bench/api.py (Debian's package; installed when root).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; \
	  else echo "bench/api.py needs wrk: install Debian's wrk package" >&2; exit 2; fi; }

stack-up: setup
	$(HUB) stack up

stack-down: setup
	$(HUB) stack down

lint: setup
	$(VENV)/bin/ruff check .

# Starts the stack, runs lint (ruff), the type check (mypy), the schema compatibility gate
# and the whole suite, stops the stack whatever the outcome; a lint, type or
# compatibility error fails the run without running the suite.
test: setup
	$(HUB) stack up
	status=0; \
	$(VENV)/bin/ruff check . || status=$$?; \
	$(VENV)/bin/mypy || status=$$?; \
	$(HUB) schemas check || status=$$?; \
	[ $$status -ne 0 ] || $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS) || status=$$?; \
	$(HUB) stack down; \
	exit $$status

# The long form of tests/reliability (HUB_SOAK=1: 100k events, 24+ worker kills, 3 broker and
# 3 PostgreSQL hard restarts, zombie, scaling); prints each run's checker line. `make test`
# runs the same tests at a bounded scale.
soak: setup
	$(HUB) stack up
	status=0; \
	HUB_SOAK=1 $(VENV)/bin/pytest -q -s -p no:cacheprovider tests/reliability $(PYTEST_ARGS) || status=$$?; \
	$(HUB) stack down; \
	exit $$status

# Sets up, starts the stack, migrates, runs workers and API, publishes a sample, summarises.
demo: setup
	$(HUB) demo $(DEMO_ARGS)

bench: setup wrk
	$(HUB) stack up
	$(VENV)/bin/python bench/report.py $(BENCH_ARGS)

schemas: setup
	$(VENV)/bin/python -m schemas.generate

clean:
	-$(HUB) stack down
	rm -rf $(VENV) test-artifacts web/node_modules hub/api/static/vendor
