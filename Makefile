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

## make test: lint, type-check and run every test on Airflow 3.x, then on Airflow 2.11, then the
## provider's own tests on the older 3.x lines (test-lines).
test:
	$(MAKE) check LINE=3
	$(MAKE) check LINE=2
	$(MAKE) test-lines

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

## make constraints: re-pin the transitive dependencies of both lines and of the older 3.x lines
## (constraints-lines), for every supported Python (needs the registry). `make install` uses them
## when present.
constraints: $(UV) constraints-lines
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
	rm -rf $(foreach v,$(LINES),.venv-airflow$(call line_of,$(v)))

# ---------------------------------------------------------------------------------------------
# The older Airflow 3 lines (3.0, 3.1, 3.2): the newest patch of each, in its own virtualenv
# (.venv-airflow3.0, ...), with its transitive dependencies pinned as of its release date
# (installing them unpinned today pulls a newer pydantic that breaks them). On these lines run the
# provider's registration, connection form, hook, operator, notifier and `dags test` tests, and
# the line-specific ones; the whole suite runs on the newest 3.x and on 2.11 (make check).
LINES ?= 3.0.6 3.1.8 3.2.2
# Each line's release day on PyPI plus two days: `uv pip compile --exclude-newer` resolves as then.
EXCLUDE_NEWER_3.0.6 := 2025-08-31
EXCLUDE_NEWER_3.1.8 := 2026-03-13
EXCLUDE_NEWER_3.2.2 := 2026-05-31
LINE_TESTS ?= tests/test_provider.py tests/test_compat.py tests/test_hook.py tests/test_notifier.py \
	tests/test_dags.py tests/test_example_dags.py tests/test_lines.py
# 3.2.2 -> 3.2
line_of = $(word 1,$(subst ., ,$(1))).$(word 2,$(subst ., ,$(1)))

.PHONY: test-lines constraints-lines

## make test-lines [LINES="3.1.8"]: the provider's tests on each older Airflow 3 line, timed.
test-lines:
	@for v in $(LINES); do \
		line=$$(echo $$v | cut -d. -f1,2); start=$$(date +%s); \
		$(MAKE) --no-print-directory install LINE=$$line AIRFLOW_3=$$v || exit 1; \
		installed=$$(date +%s); \
		.venv-airflow$$line/bin/python -m pytest -q $(PYTEST_ARGS) $(LINE_TESTS) || exit 1; \
		echo "Airflow $$v: install $$((installed - start)) s, tests $$(($$(date +%s) - installed)) s"; \
	done

## make constraints-lines: re-pin the older 3.x lines, each as of its own release date.
constraints-lines: $(UV)
	mkdir -p constraints
	$(foreach v,$(LINES),$(call pin_line,$(v),$(EXCLUDE_NEWER_$(v))))

# $(call pin_line,VERSION,DATE): constraints/airflow-VERSION.txt resolved as the registry was on DATE.
define pin_line
req=$(BOOT)/requirements-$(1).txt; \
	echo "apache-airflow==$(1)" > $$req; \
	sed -n '/^test = \[/,/^\]/p' pyproject.toml | grep -o '"[^"]*"' | tr -d '"' >> $$req; \
	echo "requests>=2.31" >> $$req; \
	$(UV) pip compile --quiet --universal --python-version 3.10 --no-header \
		--exclude-newer $(or $(2),$(error no EXCLUDE_NEWER_$(1) date for Airflow $(1))) \
		--output-file constraints/airflow-$(1).txt $$req
	
endef
