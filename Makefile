# snowpg developer commands. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CODE   := src tests $(wildcard bench)

.PHONY: help install browser test test-slow lint typecheck format demo bench bench-full clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python browser ## create .venv, install snowpg with its test and demo dependencies
	$(BIN)/pip install --quiet -e '.[dev]'
	@# the fakesnow server needs snowflake-connector-python < 5; snowpg runs with 5.x
	test -x .venv-fakesnow/bin/python || $(PYTHON) -m venv .venv-fakesnow
	.venv-fakesnow/bin/pip install --quiet 'fakesnow[server]==0.12.1' 'snowflake-connector-python>=4.8,<5'
	@echo "installed: activate with 'source $(VENV)/bin/activate' or run $(BIN)/snowpg"

# The status-page test (tests/observe/test_browser.py) drives the distribution's headless Chromium.
BROWSER_PKGS := chromium chromium-driver
browser: ## Chromium + chromedriver for the status-page test (apt-get as root or via sudo -n)
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	    exit 0; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make test needs Chromium and chromedriver on PATH (no apt-get here): install" \
	         "them with your package manager, then run 'make install' again" >&2; exit 2; \
	elif [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
	elif sudo -n true 2>/dev/null; then SUDO="sudo"; \
	else \
	    echo "make test needs Chromium and chromedriver; run:" >&2; \
	    echo "  sudo apt-get update && sudo apt-get install -y $(BROWSER_PKGS)" >&2; \
	    echo "then 'make install' again" >&2; exit 2; \
	fi; \
	echo "installing $(BROWSER_PKGS) with apt-get (for the status-page test)"; \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    $(BROWSER_PKGS) >/dev/null

lint: ## ruff (lint + format check)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

typecheck: ## mypy --strict on src/
	$(BIN)/mypy

test: lint typecheck ## lint, type-check and run the default test suite (real fakesnow + PostgreSQL)
	$(BIN)/pytest -m "not slow" -q -n 2

test-slow: ## the slow suites (scale, soak, fault injection at scale)
	$(BIN)/pytest -m slow -q

format: ## apply ruff formatting and fixes
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

demo: ## snowpg demo: fakesnow + embedded PostgreSQL + a real 1M-row migration
	$(BIN)/snowpg demo

ROWS ?= 1000000 5000000
LATENCY ?= 0.2
bench: ## the scale benchmark on the stand-in (LATENCY=0.2 s/query) at each of ROWS (default 1M and 5M, ~5 min on 2 idle cores): snowpg defaults vs the source alone, peak RSS, CPU, queries
	$(BIN)/pip install --quiet -e '.[bench]'
	for rows in $(ROWS); do \
	    $(BIN)/python -m bench.run --rows $$rows --latency $(LATENCY) --skip-ceilings \
	        --skip-baselines --scale '' --tuned '' || exit 1; \
	done

bench-full: ## everything: ceilings, tuned, naive loaders, scale-out (ROWS=1000000, ~10 min)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run --rows $(firstword $(ROWS)) --latency $(LATENCY)

clean: ## remove caches and demo data
	rm -rf .snowpg-demo .bench-work .pytest_cache .mypy_cache .ruff_cache
