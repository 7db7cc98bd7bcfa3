# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint fmt bench bench-dashboard bench-hcapi clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev,apprise]'
	touch $(STAMP)

run: $(STAMP)  ## Start pingd with ./pingd.toml on the embedded database (pingd.db).
	$(BIN)/pingd --config pingd.toml serve

test: $(STAMP)  ## Run the whole default suite (unit, WebTest and real-server tests).
	$(BIN)/pytest -q

test-slow: $(STAMP)  ## Run the slow crash, soak and load tests.
	$(BIN)/pytest -q -m slow

lint: $(STAMP)  ## ruff and mypy --strict, as CI runs them.
	$(BIN)/ruff format --check pingd tests bench
	$(BIN)/ruff check pingd tests bench
	$(BIN)/mypy pingd

fmt: $(STAMP)
	$(BIN)/ruff format pingd tests bench
	$(BIN)/ruff check --fix pingd tests bench

bench: $(STAMP)  ## Benchmarks against a bare Falcon baseline, then the soak test (BENCHMARKS.md).
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python bench/run.py
	$(BIN)/python bench/proxy.py
	$(BIN)/pytest -q -m slow -s tests/test_soak.py

bench-dashboard: $(STAMP)  ## The checks page with 1,000 checks: time, size, memory (BENCHMARKS.md).
	$(BIN)/python bench/dashboard.py

bench-hcapi: $(STAMP)  ## The Healthchecks-compatible API, badges and metrics with 1,000 checks, against /v1.
	$(BIN)/python bench/hcapi.py --rounds 50

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build
