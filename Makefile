# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make run    install, start embedded PostgreSQL/Redis unless URLs are given, serve on :8000
#   make demo   the same, with demo accounts and an event on sale; prints logins and URLs
#   make test   install, then run the whole suite against real PostgreSQL and Redis, and the
#               sale's tests again against a Redis Cluster
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: all install run demo test lint typecheck fmt clean bench reconcile

all: lint typecheck test

$(BIN)/uv:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(BIN)/uv uv.lock pyproject.toml
	$(BIN)/uv sync --frozen --python $(BIN)/python --quiet
	@touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python -m ops.stack

# make run, plus a demo partner, gate staff, customers and an event on sale (ops/demo.py)
demo: install
	$(BIN)/python -m ops.demo

# two sessions: the whole suite on one Redis, then the tests marked `cluster` (sale engine,
# waiting room, gate, faults) on a 3-master Redis Cluster with a replica each, which the
# harness starts itself (tests/services.py)
test: install /usr/bin/chromium /usr/bin/promtool /usr/sbin/pgbouncer
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m pytest --redis-cluster $(PYTEST_ARGS)

# the browser tests again, writing their screenshots over docs/screenshots/ (the README's)
.PHONY: screenshots
screenshots: install /usr/bin/chromium
	SCREENSHOTS=docs $(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# the alert rules (ops/observability) are checked by promtool, from Debian's prometheus package:
# installed here when it is missing and we are root; otherwise that test fails and says how
/usr/bin/promtool:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	else \
		echo "promtool is missing and this is not root: sudo apt-get install -y prometheus"; \
	fi

# the waiting-room page is tested in Debian's chromium (tests/e2e): installed here when it is
# missing and we are root; otherwise that test fails and says how to install it
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "chromium is missing and this is not root: sudo apt-get install -y chromium"; \
	fi

# asyncpg behind PgBouncer's transaction pooling is tested against Debian's pgbouncer
# (tests/integration/test_pgbouncer.py): installed here when it is missing and we are root
/usr/sbin/pgbouncer:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer; \
	else \
		echo "pgbouncer is missing and this is not root: sudo apt-get install -y pgbouncer"; \
	fi

bench: install /usr/bin/redis-benchmark
	$(BIN)/python -m loadtests.bench $(BENCH_ARGS)

# the raw claim figure is redis-benchmark's (Debian redis-tools): installed here when it is
# missing and we are root; otherwise make bench stops and says how to install it
/usr/bin/redis-benchmark:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools; \
	else \
		echo "redis-benchmark is missing and this is not root: sudo apt-get install -y redis-tools"; \
	fi

reconcile: install
	$(BIN)/python -m ops.reconcile $(RECONCILE_ARGS)

# flash-sale load tests: private stack, set-up, Locust headless, audit, reports/loadtest*.md
.PHONY: loadtest loadtest-large
loadtest: install
	$(BIN)/python -m loadtests.run_loadtest --profile small $(LOADTEST_ARGS)

loadtest-large: install
	$(BIN)/python -m loadtests.run_loadtest --profile large $(LOADTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy engine api workers ops loadtests web

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache
