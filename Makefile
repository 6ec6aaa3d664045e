# Two commands on a fresh machine: `make test` and `make demo`.
# Each Airflow line gets its own virtualenv; uv (installed from PyPI into a small
# bootstrap venv) makes creating them take seconds instead of minutes.

PYTHON ?= python3
AIRFLOW_3 ?= 3.3.2
AIRFLOW_2 ?= 2.11.2
# Which line `make demo`, `make bench` and `make check` use: 3 (default) or 2.
LINE ?= 3

BOOT := .venv-boot
UV := $(BOOT)/bin/uv
VENV = .venv-airflow$(LINE)
AIRFLOW_VERSION = $(if $(filter 2,$(LINE)),$(AIRFLOW_2),$(AIRFLOW_3))
CONSTRAINTS = constraints/airflow-$(AIRFLOW_VERSION).txt
PYTEST_ARGS ?=

.PHONY: test test-airflow3 test-airflow2 check lint install demo bench constraints clean

## make test: lint, type-check and run every test on Airflow 3.x, then on Airflow 2.11.
test:
	$(MAKE) check LINE=3
	$(MAKE) check LINE=2

test-airflow3:
	$(MAKE) check LINE=3

test-airflow2:
	$(MAKE) check LINE=2

## make check LINE=3|2: the whole suite on one Airflow line.
check: install $(if $(filter 3,$(LINE)),lint)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## Lint and type-check against the Airflow 3 line (types differ on 2.11).
lint: install
	$(VENV)/bin/ruff check airflow_provider_signal tests example_dags demo benchmarks
	$(VENV)/bin/ruff format --check airflow_provider_signal tests example_dags demo benchmarks
	$(VENV)/bin/mypy

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet --disable-pip-version-check "uv>=0.5"

## make install LINE=3|2: the virtualenv for one Airflow line, with the package (editable) and test extras.
install: $(VENV)/.installed-$(AIRFLOW_VERSION)

$(VENV)/.installed-%: pyproject.toml $(wildcard $(CONSTRAINTS)) $(UV)
	rm -rf $(VENV)
	$(UV) venv --quiet --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip install --quiet \
		$(if $(wildcard $(CONSTRAINTS)),--constraint $(CONSTRAINTS)) \
		"apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]"
	touch $@

## make constraints: re-pin the transitive dependencies of both lines, for every supported
## Python (needs the registry). `make install` uses them when present.
constraints: $(UV)
	mkdir -p constraints
	for v in $(AIRFLOW_3) $(AIRFLOW_2); do \
		req=$(BOOT)/requirements-$$v.txt; \
		echo "apache-airflow==$$v" > $$req; \
		sed -n '/^test = \[/,/^\]/p' pyproject.toml | grep -o '"[^"]*"' | tr -d '"' >> $$req; \
		echo "requests>=2.31" >> $$req; \
		$(UV) pip compile --quiet --universal --python-version 3.10 --no-header \
			--output-file constraints/airflow-$$v.txt $$req || exit 1; \
	done

## make demo: run the example DAGs against the local emulator and print what was delivered.
demo: install
	$(VENV)/bin/python demo/run_demo.py

## make bench: measure and write benchmarks/RESULTS.md (not part of make test). Runs on Airflow 3
## in its own virtualenv, which also holds the Slack and SMTP providers it compares against.
BENCH_VENV := .venv-bench
BENCH_ARGS ?=

bench: $(BENCH_VENV)/.installed-$(AIRFLOW_3)
	$(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

$(BENCH_VENV)/.installed-$(AIRFLOW_3): pyproject.toml $(UV)
	rm -rf $(BENCH_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(BENCH_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(BENCH_VENV) $(UV) pip install --quiet \
		"apache-airflow==$(AIRFLOW_3)" apache-airflow-providers-slack apache-airflow-providers-smtp -e .
	touch $@

clean:
	rm -rf .venv-boot .venv-airflow2 .venv-airflow3 .venv-bench .pytest_cache .mypy_cache .ruff_cache
