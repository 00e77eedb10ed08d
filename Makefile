# Two commands for a newcomer: `make demo` and `make test`. Each builds its own virtual environments.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
# Every supported Airflow line, at its latest patch. The full suite runs on 3.3 and 2.11; the
# DAG-level suites (real DAG runs with deferral, failure detail, reattach on retry, the gate, the
# example DAGs, DB-stored connections) run on every line. Each line installs with the pins in
# constraints/airflow-<line>.txt.
AIRFLOW3 ?= 3.3.2
AIRFLOW2 ?= 2.11.2
AIRFLOW30 ?= 3.0.6
AIRFLOW31 ?= 3.1.8
AIRFLOW32 ?= 3.2.2
VENV3 := .venv
VENV2 := .venv-af2
VENV30 := .venv-af30
VENV31 := .venv-af31
VENV32 := .venv-af32
VENVF := .venv-floors
# pip's notes about absent local mirrors are noise here; real errors still fail the build.
PIP_QUIET = 2>&1 | { grep -v "^WARNING: Location" || true; }
PYTEST_ARGS ?=
PYTEST = -m pytest -q -p no:cacheprovider
DAG_SUITES = tests/dag_runs tests/examples tests/reliability/test_dag_secrets.py tests/provider

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv venv-af2 venv-af30 venv-af31 venv-af32 venv-floors lint mutation test test-af3 test-af2 test-af30 test-af31 test-af32 test-floors demo clean

help:
	@echo "make demo   - run the example pre-ETL pipeline against the embedded BaaS simulator"
	@echo "make test   - lint, every test on Airflow $(AIRFLOW3) and $(AIRFLOW2), the DAG-level suites on"
	@echo "              $(AIRFLOW32), $(AIRFLOW31) and $(AIRFLOW30), and on $(AIRFLOW2) with the lowest"
	@echo "              versions pyproject.toml allows of our runtime dependencies (test-floors)"
	@echo "make mutation - mutation testing of the decision modules (slow; docs/testing.md)"

# $(1) venv, $(2) Airflow version, $(3) constraints file, $(4) extras of this package
define airflow_venv
$(1)/.installed: pyproject.toml $(3)
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/pip install -q --upgrade pip $$(PIP_QUIET)
	$(1)/bin/pip install -q -c $(3) "apache-airflow==$(2)" -e ".$(4)" $$(PIP_QUIET)
	$(1)/bin/python -c "import airflow, airflow_provider_baas; assert airflow.__version__ == '$(2)'"
	touch $$@
endef
$(eval $(call airflow_venv,$(VENV3),$(AIRFLOW3),constraints/airflow-3.3.txt,[dev]))
$(eval $(call airflow_venv,$(VENV2),$(AIRFLOW2),constraints/airflow-2.11.txt,[dev]))
$(eval $(call airflow_venv,$(VENV30),$(AIRFLOW30),constraints/airflow-3.0.txt,[dev]))
$(eval $(call airflow_venv,$(VENV31),$(AIRFLOW31),constraints/airflow-3.1.txt,[dev]))
$(eval $(call airflow_venv,$(VENV32),$(AIRFLOW32),constraints/airflow-3.2.txt,[dev]))

# The oldest supported Airflow with every runtime dependency of ours at its floor in pyproject.toml
# (scripts/floors.py), so each floor is a version the tests ran with. pip refuses a floor that
# Airflow 2.11.2 cannot install; `pip check` refuses an inconsistent set.
$(VENVF)/.installed: pyproject.toml constraints/airflow-2.11.txt scripts/floors.py
	test -x $(VENVF)/bin/python || $(PYTHON) -m venv $(VENVF)
	$(VENVF)/bin/pip install -q --upgrade pip $(PIP_QUIET)
	$(VENVF)/bin/pip install -q -c constraints/airflow-2.11.txt "apache-airflow==$(AIRFLOW2)" -e ".[dev]" $(PIP_QUIET)
	$(VENVF)/bin/pip install -q "apache-airflow==$(AIRFLOW2)" $$($(PYTHON) scripts/floors.py) $(PIP_QUIET)
	$(VENVF)/bin/pip check
	$(VENVF)/bin/python -c "import airflow; assert airflow.__version__ == '$(AIRFLOW2)'"
	$(VENVF)/bin/python scripts/floors.py --check
	touch $@

venv: $(VENV3)/.installed
venv-af2: $(VENV2)/.installed
venv-af30: $(VENV30)/.installed
venv-af31: $(VENV31)/.installed
venv-af32: $(VENV32)/.installed
venv-floors: $(VENVF)/.installed

# One-spot mutants of the decision modules against their fast tests (docs/testing.md). About
# 1.5 hours on 2 shared cores, so not part of `make test`. MODULES="status freshness" runs a subset.
MODULES ?=
mutation: venv
	$(VENV3)/bin/python scripts/mutation.py $(MODULES) $(if $(JOBS),--jobs $(JOBS))

lint: venv
	$(VENV3)/bin/ruff check .
	$(VENV3)/bin/ruff format --check .

test-af3: venv
	@echo "== Airflow $(AIRFLOW3): every test =="
	$(VENV3)/bin/python $(PYTEST) $(PYTEST_ARGS)

test-af2: venv-af2
	@echo "== Airflow $(AIRFLOW2): every test =="
	$(VENV2)/bin/ruff check .
	$(VENV2)/bin/python $(PYTEST) $(PYTEST_ARGS)

test-af32: venv-af32
	@echo "== Airflow $(AIRFLOW32): DAG-level suites =="
	$(VENV32)/bin/python $(PYTEST) $(DAG_SUITES) $(PYTEST_ARGS)

test-af31: venv-af31
	@echo "== Airflow $(AIRFLOW31): DAG-level suites =="
	$(VENV31)/bin/python $(PYTEST) $(DAG_SUITES) $(PYTEST_ARGS)

test-af30: venv-af30
	@echo "== Airflow $(AIRFLOW30): DAG-level suites =="
	$(VENV30)/bin/python $(PYTEST) $(DAG_SUITES) $(PYTEST_ARGS)

test-floors: venv-floors
	@echo "== Airflow $(AIRFLOW2), our runtime dependencies at their floors: $$($(PYTHON) scripts/floors.py) =="
	$(VENVF)/bin/python $(PYTEST) tests/hook $(DAG_SUITES) $(PYTEST_ARGS)

test: lint test-af3 test-af2 test-af32 test-af31 test-af30 test-floors

demo: venv
	$(VENV3)/bin/python demo/run_demo.py

clean:
	rm -rf $(VENV3) $(VENV2) $(VENV30) $(VENV31) $(VENV32) $(VENVF) $(VENVP) .pytest_cache .ruff_cache

# The connection form in Airflow 3's own UI, in a real browser: Debian's chromium (installed with apt
# when missing), driven by Playwright from PyPI (its wheel carries the driver; never
# `playwright install`). Starts and stops its own api-server and simulator. BAAS_UI_UPDATE_DOCS=1
# also refreshes docs/images/connection-form.png; screenshots and timings land in artifacts/ui/.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: test-ui
test-ui: venv
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium; }
	@$(VENV3)/bin/python -c "import playwright" 2>/dev/null || $(VENV3)/bin/pip install -q "playwright>=1.50,<2" $(PIP_QUIET)
	@echo "== connection form in the Airflow $(AIRFLOW3) UI ($$($(CHROMIUM) --version 2>/dev/null)) =="
	BAAS_UI_TESTS=1 BAAS_CHROMIUM=$(CHROMIUM) $(VENV3)/bin/python -m pytest -q -p no:cacheprovider tests/ui $(PYTEST_ARGS)

# A real Airflow 3.3 deployment (scheduler, dag-processor, triggerer, api-server; LocalExecutor, sqlite)
# runs the pre-ETL example DAG; the triggerer is SIGKILLed mid-wait. See scripts/e2e.sh.
.PHONY: e2e
e2e: venv
	scripts/e2e.sh

# The asset watcher on a real Airflow 3.3 deployment: the simulator runs a backup every 20 s on its
# own schedule; one DAG run per backup, none twice, none from before the deployment, through a
# triggerer SIGKILL (watermark in the asset state store). See scripts/e2e_events.sh.
.PHONY: e2e-events
e2e-events: venv
	scripts/e2e_events.sh

# A production-shaped deployment (docs/deployment-test.md): throw-away PostgreSQL and Redis (Debian's
# packages, installed with apt when missing; never the system services), CeleryExecutor with two
# workers and two triggerers, 20 concurrent DAG runs; a worker and a triggerer are SIGKILLed. Its own
# environment: the Celery provider and the PostgreSQL drivers (sync and async), pinned in
# constraints/e2e-prod.txt.
VENVP := .venv-prod

$(VENVP)/.installed: pyproject.toml constraints/airflow-3.3.txt constraints/e2e-prod.txt
	test -x $(VENVP)/bin/python || $(PYTHON) -m venv $(VENVP)
	$(VENVP)/bin/pip install -q --upgrade pip $(PIP_QUIET)
	$(VENVP)/bin/pip install -q -c constraints/airflow-3.3.txt -c constraints/e2e-prod.txt "apache-airflow==$(AIRFLOW3)" -e . apache-airflow-providers-celery psycopg2-binary asyncpg $(PIP_QUIET)
	$(VENVP)/bin/python -c "import airflow, airflow_provider_baas, airflow.providers.celery, psycopg2, asyncpg; assert airflow.__version__ == '$(AIRFLOW3)'"
	touch $@

.PHONY: e2e-prod
e2e-prod: $(VENVP)/.installed
	@command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y postgresql redis-server; }
	scripts/e2e_prod.sh

# Benchmarks (scripts, never timed tests; BENCHMARKS.md): their own environment, with the peers they
# are compared with (http and dbt-cloud providers) and psutil/py-spy, none of which the package needs.
VENVB := .venv-bench
BENCH_DEPS := apache-airflow-providers-http==6.3.0 apache-airflow-providers-dbt-cloud==4.11.1 psutil==7.2.2 py-spy==0.4.3

$(VENVB)/.installed: pyproject.toml constraints/airflow-3.3.txt
	test -x $(VENVB)/bin/python || $(PYTHON) -m venv $(VENVB)
	$(VENVB)/bin/pip install -q --upgrade pip $(PIP_QUIET)
	$(VENVB)/bin/pip install -q -c constraints/airflow-3.3.txt "apache-airflow==$(AIRFLOW3)" -e . $(BENCH_DEPS) $(PIP_QUIET)
	$(VENVB)/bin/python -c "import airflow, airflow_provider_baas, psutil; assert airflow.__version__ == '$(AIRFLOW3)'"
	touch $@

.PHONY: bench
bench: $(VENVB)/.installed
	@echo "== bench/poll_efficiency.py =="
	$(VENVB)/bin/python bench/poll_efficiency.py
	@echo "== bench/parse_cost.py =="
	$(VENVB)/bin/python bench/parse_cost.py
	@echo "== bench/simulator_throughput.py =="
	$(VENVB)/bin/python bench/simulator_throughput.py --endpoint all
	@echo "== bench/triggerer_density.py =="
	$(VENVB)/bin/python bench/triggerer_density.py
	@echo "== bench/triggerer_density.py, job summaries that show only finished executions =="
	$(VENVB)/bin/python bench/triggerer_density.py --summary-details finished --n 1000 --variants floor,ours --no-breakdown
