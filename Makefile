# Trellis: `make up` runs the platform locally, `make test` runs every test against real
# Postgres and Kafka. Both install what they need on a fresh machine.

SHELL := /bin/bash
UV ?= python3 -m uv
VENV := .venv
STAMP := $(VENV)/.synced
PY := $(VENV)/bin/python
STACK := $(VENV)/bin/trellis-stack

.PHONY: up down logs status demo test reliability bench lint format bootstrap clean help

help:
	@echo "make up      start the platform (Postgres, Kafka, 4 services, gateway on :8080)"
	@echo "make down    stop it;  make logs  follow its logs;  make status"
	@echo "make demo    seed an alumni mentoring program through the API (starts the platform if needed)"
	@echo "make test    lint, then every test against its own Postgres and Kafka"
	@echo "make reliability  faults and hostile input at full size, with figures (~40 min)"
	@echo "make bench   benchmarks with same-run baselines (never fails the build)"
	@echo "make lint    ruff check + format check;  make format  apply ruff's fixes"

bootstrap: $(STAMP)

$(STAMP): pyproject.toml uv.lock shared/pyproject.toml infra/pyproject.toml services/*/pyproject.toml infra/asyncapi/package-lock.json
	@bash infra/bootstrap.sh
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==0.13.8"
	$(UV) sync --frozen --all-packages
	npm ci --prefix infra/asyncapi --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

up: $(STAMP)
	@$(STACK) up

down: $(STAMP)
	@$(STACK) down

status: $(STAMP)
	@$(STACK) status

logs: $(STAMP)
	@$(STACK) logs

demo: $(STAMP)
	@$(PY) -m trellis_infra.demo $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The same tests `make test` runs in their short version (tests/reliability), at full size.
reliability: $(STAMP)
	TRELLIS_RELIABILITY=full $(VENV)/bin/pytest tests/reliability $(PYTEST_ARGS)

bench: $(STAMP)
	@command -v wrk >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(PY) tests/bench/run.py $(BENCH_ARGS)

clean: down
	rm -rf .trellis/up .trellis/test
