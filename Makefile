# Every target CI runs is here; .ci/run calls `make test`, exactly as the README says.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: serve test test-fast check lint typecheck buf-lint breaking generate check-generated pytest tools bench bench-quick bench-peers clean

## serve: set everything up, then run the server on 127.0.0.1:50051 with ./threadline.db
serve: $(STAMP)
	$(VENV)/bin/threadline serve

## test: set everything up, then run every check and the whole test suite
test: check pytest

# The suite waits far more than it computes (servers, processes, builds), so
# pytest-xdist runs it in more workers than the machine has cores; tests that
# share a module's expensive fixture (or a build's output) are one xdist_group,
# kept on one worker by --dist loadgroup. Measured: docs/development.md.
PYTEST_WORKERS ?= 3
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup

## test-fast: the quick loop: lint, types, and the unit and api tests (no toolchains, no processes)
test-fast: lint typecheck $(STAMP)
	$(VENV)/bin/pytest $(XDIST) -m "unit or api" -q

check: lint typecheck buf-lint breaking check-generated

# Both distributions editable: the server and threadline-client (generated/python), which it pins.
$(STAMP): pyproject.toml generated/python/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./generated/python -e '.[dev]'
	@touch $(STAMP)

## tools: pinned code generators and grpcurl in .tools/bin (Go, Maven and npm registries)
tools:
	scripts/tools.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

buf-lint: $(STAMP)
	$(VENV)/bin/buf lint

## breaking: buf breaking against the previous commit (BASE=<ref> for another; BASE=HEAD before committing)
breaking: $(STAMP)
	@git rev-parse --verify --quiet '$(or $(BASE),HEAD~1)^{commit}' >/dev/null || { \
	  echo "make breaking: no commit $(or $(BASE),HEAD~1) to compare with (shallow clone? git fetch --deepen=1)" >&2; exit 1; }
	$(VENV)/bin/buf breaking --against '.git#ref=$(or $(BASE),HEAD~1)'

GENERATE := PYTHON=$(PY) scripts/generate.sh

generate: $(STAMP) tools
	$(GENERATE)

## check-generated: fail when a copy of VERSION differs from it, or generated/ is not what protos/ produce
check-generated: $(STAMP) tools
	$(PY) scripts/stamp_version.py --check
	$(GENERATE)
	@git add -N generated >/dev/null 2>&1 || true
	@if ! git diff --quiet -- generated; then \
	  git --no-pager diff --stat -- generated; \
	  echo "generated/ is stale: run 'make generate' and commit the result"; exit 1; \
	fi

pytest: $(STAMP) tools
	PATH="$(CURDIR)/$(TOOLS):$$PATH" $(VENV)/bin/pytest $(XDIST) --durations=25

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

## bench-peers: the peers (LangGraph dev, the A2A SDK) in their own venvs under bench/.venvs
bench-peers:
	PYTHON=$(PYTHON) scripts/bench-peers.sh

## bench: Threadline beside the limit, a naive durable server and the peers (~30 min; bench/README.md)
bench: $(BENCH_STAMP) tools bench-peers
	$(PY) -m bench

## bench-quick: every scenario of the benchmark briefly (about 2 minutes): does the harness work?
bench-quick: $(BENCH_STAMP) tools bench-peers
	$(PY) -m bench --quick

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache bench/.venvs bench/.results bench/.store
