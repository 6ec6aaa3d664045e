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
comma := ,
# The two main lines also get the `distributed` extra (Celery, Redis and PostgreSQL drivers) for
# the distributed deployment of the tests; the older 3.x lines and `make lowest` do not.
EXTRAS = $(if $(filter 2 3,$(LINE)),test$(comma)distributed,test)

.PHONY: test test-airflow3 test-airflow2 check lint install demo bench constraints clean

## make test: Chromium for the browser test, PostgreSQL and Redis for the distributed deployment
## (services), the release build (dist), the docs site (docs: warnings are errors; tests/test_docs.py
## then checks it), the tests that prove the dependency floors (lowest), then three test runs at once,
## each printed whole when it ends (on two cores this is ~40% faster than one after the other: most of
## a deployment test is waiting): lint, type-check and every test on Airflow 3.3 (the deployments'
## tests last); every test on 2.11 (its deployments' tests first, so the two lines' deployments are
## rarely up at the same time); the provider's tests on the older 3.x lines, then on the newest
## Python (test-lines, which ends with test-newest).
test:
	$(MAKE) chromium
	$(MAKE) services
	$(MAKE) dist
	$(MAKE) docs
	$(MAKE) lowest
	$(MAKE) install LINE=3
	$(MAKE) install LINE=2
	$(MAKE) --no-print-directory -j3 --output-sync=target test-airflow3 test-airflow2 test-lines

## make test-airflow3 / test-airflow2: one line's whole suite, timed.
test-airflow3:
	@start=$$(date +%s); $(MAKE) --no-print-directory check LINE=3 || exit 1; \
		echo "Airflow $(AIRFLOW_3): lint and tests $$(($$(date +%s) - start)) s"

test-airflow2:
	@start=$$(date +%s); $(MAKE) --no-print-directory check LINE=2 PYTEST_ARGS="--deployments-first $(PYTEST_ARGS)" \
		|| exit 1; echo "Airflow $(AIRFLOW_2): tests $$(($$(date +%s) - start)) s"

## make check LINE=3|2: the whole suite on one Airflow line.
# Each line's pytest has its own temporary directory: runs at once must not clean up each other's.
# Outside the checkout (tests/test_wheel.py proves the wheel works with nothing of the checkout on
# sys.path), one per checkout.
PYTEST_TMP ?= $(or $(TMPDIR),/tmp)/airflow-provider-signal-tests$(subst /,-,$(CURDIR))
check: install $(if $(filter 3,$(LINE)),lint)
	mkdir -p $(PYTEST_TMP)  # pytest creates the --basetemp directory, not its parents
	$(VENV)/bin/python -m pytest --basetemp=$(PYTEST_TMP)/airflow$(LINE) --durations=25 $(PYTEST_ARGS)

## Lint and type-check against the Airflow 3 line (types differ on 2.11).
lint: install
	$(VENV)/bin/ruff check airflow_provider_signal tests example_dags demo benchmarks docs/conf.py docs/_ext
	$(VENV)/bin/ruff format --check airflow_provider_signal tests example_dags demo benchmarks docs/conf.py docs/_ext
	$(VENV)/bin/mypy

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet --disable-pip-version-check "uv>=0.5"

## make install LINE=3|2: the virtualenv for one Airflow line, with the package (editable) and test extras.
# The marker names the Airflow version and the extras (.installed-3.3.2-test+distributed): a venv
# built with other extras is rebuilt, not reused.
install: $(VENV)/.installed-$(AIRFLOW_VERSION)-$(subst $(comma),+,$(EXTRAS))

$(VENV)/.installed-%: pyproject.toml $(wildcard $(CONSTRAINTS)) $(UV)
	rm -rf $(VENV)
	$(UV) venv --quiet --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(UV) pip install --quiet \
		$(if $(wildcard $(CONSTRAINTS)),--constraint $(CONSTRAINTS)) \
		"apache-airflow==$(AIRFLOW_VERSION)" -e ".[$(EXTRAS)]"
	touch $@

## make constraints: re-pin the transitive dependencies of both lines and of the older 3.x lines
## (constraints-lines), for every supported Python, then the docs (constraints-docs; needs the
## registry). `make install` uses them when present.
constraints: $(UV) constraints-lines
	mkdir -p constraints
	for v in $(AIRFLOW_3) $(AIRFLOW_2); do \
		req=$(BOOT)/requirements-$$v.txt; \
		echo "apache-airflow==$$v" > $$req; \
		sed -n '/^test = \[/,/^\]/p;/^distributed = \[/,/^\]/p' pyproject.toml \
			| grep -o '"[^"]*"' | tr -d '"' >> $$req; \
		echo "requests>=2.31" >> $$req; \
		echo "urllib3>=2.6" >> $$req; \
		$(UV) pip compile --quiet --universal --python-version 3.10 --no-header \
			--output-file constraints/airflow-$$v.txt $$req || exit 1; \
	done
	$(MAKE) constraints-docs

## make demo: run the example DAGs against the local emulator and print what was delivered.
demo: install
	$(VENV)/bin/python demo/run_demo.py

## make bench: measure; figures to benchmarks/RESULTS.md and results.json (not part of make test). Airflow 3
## in its own virtualenv, which also holds the Slack, SMTP and Apprise providers it compares against, and
## the PostgreSQL drivers of the storm section's database part. One section alone, its figures merged into
## the existing files: make bench BENCH_ARGS="--only storm --merge".
BENCH_VENV := .venv-bench
BENCH_ARGS ?=

bench: $(BENCH_VENV)/.installed-$(AIRFLOW_3)-pg
	$(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

$(BENCH_VENV)/.installed-$(AIRFLOW_3)-pg: pyproject.toml $(UV)
	rm -rf $(BENCH_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(BENCH_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(BENCH_VENV) $(UV) pip install --quiet \
		"apache-airflow==$(AIRFLOW_3)" apache-airflow-providers-slack apache-airflow-providers-smtp \
		apache-airflow-providers-apprise "pytest>=8" "statsd>=4.0" "psycopg2-binary>=2.9" "asyncpg>=0.30" -e .
	touch $@

# ---------------------------------------------------------------------------------------------
# Release build: sdist and wheel with `python -m build` (build and twine live in their own
# virtualenv, .venv-release), metadata checked with `twine check --strict`. What the wheel holds,
# and that it installs and works in a clean virtualenv, is tests/test_wheel.py (Airflow 3 line).
RELEASE_VENV := .venv-release

.PHONY: dist chromium services lowest constraints-lowest clean-release

## make dist: dist/airflow_provider_signal-<version>.tar.gz and -py3-none-any.whl, twine-checked.
dist: $(RELEASE_VENV)/.installed
	rm -rf dist build
	$(RELEASE_VENV)/bin/python -m build --installer uv --outdir dist .
	$(RELEASE_VENV)/bin/twine check --strict dist/*

$(RELEASE_VENV)/.installed: $(UV)
	rm -rf $(RELEASE_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(RELEASE_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(RELEASE_VENV) $(UV) pip install --quiet "build[uv]>=1.2" "twine>=6.1"
	touch $@

# ---------------------------------------------------------------------------------------------
# The docs site: Sphinx with MyST Markdown pages (docs/*.md), the API reference from the
# docstrings (autodoc imports the package, so the virtualenv holds Airflow 3 as `make install`
# does), built with warnings as errors. Its own virtualenv, .venv-docs, pinned by
# constraints/docs.txt (the docs extra resolved within the Airflow 3 line's constraints).
DOCS_VENV := .venv-docs
DOCS_CONSTRAINTS := constraints/docs.txt
DOCS_HTML := docs/_build/html

.PHONY: docs constraints-docs

## make docs: the HTML site in docs/_build/html (open docs/_build/html/index.html).
docs: $(DOCS_VENV)/.installed-$(AIRFLOW_3)
	rm -rf docs/_build
	$(DOCS_VENV)/bin/sphinx-build -W --keep-going -q -b html docs $(DOCS_HTML)
	@echo "docs: open $(DOCS_HTML)/index.html"

$(DOCS_VENV)/.installed-$(AIRFLOW_3): pyproject.toml $(wildcard $(DOCS_CONSTRAINTS)) $(UV)
	rm -rf $(DOCS_VENV)
	$(UV) venv --quiet --python $(PYTHON) $(DOCS_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(DOCS_VENV) $(UV) pip install --quiet \
		$(if $(wildcard $(DOCS_CONSTRAINTS)),--constraint $(DOCS_CONSTRAINTS)) \
		"apache-airflow==$(AIRFLOW_3)" -e ".[docs]"
	touch $@

## make constraints-docs (part of make constraints): re-pin constraints/docs.txt within the
## Airflow 3 line's constraints, so the docs build uses the same Airflow as the tests. Python 3.11+:
## Airflow 3.3's rich needs markdown-it-py 4, which only myst-parser 5 (Python 3.11+) accepts.
constraints-docs: $(UV)
	req=$(BOOT)/requirements-docs.txt; \
	echo "apache-airflow==$(AIRFLOW_3)" > $$req; \
	sed -n '/^docs = \[/,/^\]/p' pyproject.toml | grep -o '"[^"]*"' | tr -d '"' >> $$req; \
	echo "requests>=2.31" >> $$req; \
	echo "urllib3>=2.6" >> $$req; \
	$(UV) pip compile --quiet --universal --python-version 3.11 --no-header \
		--constraint constraints/airflow-$(AIRFLOW_3).txt --output-file $(DOCS_CONSTRAINTS) $$req

# ---------------------------------------------------------------------------------------------
# Chromium for tests/test_ui_browser.py: Debian's package, installed here (not by the test) when
# /usr/bin/chromium is missing. CI runs as root on a fresh Debian machine.
CHROMIUM := /usr/bin/chromium
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600

## make chromium: install Debian's chromium when missing (as root; elsewhere it says what to run).
chromium:
	@if [ -x $(CHROMIUM) ]; then \
		echo "chromium: $(CHROMIUM) is there"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "chromium: installing Debian's chromium with apt-get ..."; \
		$(APT_GET) update && $(APT_GET) install -y chromium || exit 1; \
		[ -x $(CHROMIUM) ] || { echo "chromium: apt-get ran but $(CHROMIUM) is missing" >&2; exit 1; }; \
	else \
		echo "chromium: $(CHROMIUM) is missing and this is not a root Debian shell: run" \
			"'apt-get update && apt-get install -y chromium' as root (the browser test skips until then)" >&2; \
		[ -z "$$CI" ] || exit 1; \
	fi

# ---------------------------------------------------------------------------------------------
# PostgreSQL and Redis for the distributed deployment of the tests (tests/distributed_support.py
# starts its own throwaway server of each on free ports): Debian's packages, installed when missing.
# Debian's postgresql package would create and start a cluster of its own on port 5432: not wanted.
PG_INITDB = $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) $(shell command -v initdb))

## make services: install Debian's redis-server and postgresql when missing (as root; elsewhere it
## says what to run, and the distributed tests skip until then).
services:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -n "$(PG_INITDB)" ] || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then \
		echo "services: redis-server and PostgreSQL ($(PG_INITDB)) are there"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "services: installing Debian's$$missing with apt-get ..."; \
		mkdir -p /etc/postgresql-common; \
		[ -e /etc/postgresql-common/createcluster.conf ] || \
			echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf; \
		$(APT_GET) update && $(APT_GET) install -y --no-install-recommends $$missing || exit 1; \
		command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null || \
			{ echo "services: apt-get ran but redis-server or initdb is missing" >&2; exit 1; }; \
	else \
		echo "services:$$missing missing and this is not a root Debian shell: run" \
			"'apt-get update && apt-get install -y$$missing' as root (the distributed tests skip until then)" >&2; \
		[ -z "$$CI" ] || exit 1; \
	fi

# ---------------------------------------------------------------------------------------------
# Dependency floors that are true: the client, hook and fault tests on the lowest versions
# pyproject.toml allows of every direct dependency (uv's lowest-direct resolution: Airflow 2.11.0,
# requests 2.31.0, urllib3 2.6.0, and the test extras' floors), on
# the lowest Python it allows when that is installed. constraints/lowest-direct.txt pins them and
# the transitive dependencies as the registry was on LOWEST_DATE, a few days after Airflow 2.11.0:
# newer transitive releases, installed without Airflow's constraints, are not what 2.11.0 was
# released with; only urllib3 may be newer (LOWEST_URLLIB3_DATE), as its floor 2.6.0 came later.
LOWEST_VENV := .venv-lowest
LOWEST_DATE ?= 2025-05-25
LOWEST_URLLIB3_DATE ?= 2026-01-01
# The lowest Python that runs, 3.10 (pyproject's floor) first, on PATH or installed by pyenv;
# Airflow 2.11.0 stops at 3.12. Else $(PYTHON).
LOWEST_PYTHON ?= $(firstword $(shell for v in 3.10 3.11 3.12; do \
	for p in python$$v $(HOME)/.pyenv/versions/$$v*/bin/python$$v; do \
	$$p -c 'import sys; print(sys.executable)' 2>/dev/null && exit 0; done; done) $(PYTHON))
LOWEST_CONSTRAINTS := constraints/lowest-direct.txt
# test_fanout.py (the fanout branch) is the one user of pytest-mock, so it proves that floor too.
LOWEST_TESTS ?= tests/test_hook.py tests/test_faults.py tests/test_secrets.py tests/test_validation.py \
	tests/test_emulator.py $(wildcard tests/test_fanout.py) tests/client

## make lowest: check that the floors are what is installed, then run LOWEST_TESTS there.
lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python .ci/check_floors.py
	$(LOWEST_VENV)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(LOWEST_TESTS)

$(LOWEST_VENV)/.installed: pyproject.toml $(LOWEST_CONSTRAINTS) $(UV)
	rm -rf $(LOWEST_VENV)
	$(UV) venv --quiet --no-python-downloads --python $(LOWEST_PYTHON) $(LOWEST_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(LOWEST_VENV) $(UV) pip install --quiet \
		--constraint $(LOWEST_CONSTRAINTS) -e ".[test]"
	touch $@

## make constraints-lowest: re-resolve constraints/lowest-direct.txt (needs the registry).
constraints-lowest: $(UV)
	mkdir -p constraints
	rm -f $(LOWEST_CONSTRAINTS)  # uv would prefer the old pins; resolve afresh
	$(UV) pip compile --quiet --universal --python-version 3.10 --no-header \
		--resolution lowest-direct --exclude-newer $(LOWEST_DATE) \
		--exclude-newer-package urllib3=$(LOWEST_URLLIB3_DATE) --extra test \
		--no-emit-package airflow-provider-signal \
		--output-file $(LOWEST_CONSTRAINTS) pyproject.toml

## make clean-release (part of make clean): the release and lowest virtualenvs, dist/, build/.
clean: clean-release
clean-release:
	rm -rf $(RELEASE_VENV) $(LOWEST_VENV) $(DOCS_VENV) docs/_build dist build *.egg-info .hypothesis benchmarks/logs

clean:
	rm -rf .venv-boot .venv-airflow2 .venv-airflow3 .venv-bench $(NEWEST_VENV) .pytest_cache $(PYTEST_TMP) .mypy_cache .ruff_cache
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
# test_dags.py (the notifier and callbacks in real `dags test` runs, 15 runs) left out for time;
# run it on one line with `make test-lines LINES=3.0.6 LINE_TESTS=tests/test_dags.py`.
LINE_TESTS ?= tests/test_provider.py tests/test_compat.py tests/test_hook.py tests/test_notifier.py \
	tests/test_example_dags.py tests/test_lines.py
# 3.2.2 -> 3.2
line_of = $(word 1,$(subst ., ,$(1))).$(word 2,$(subst ., ,$(1)))

.PHONY: test-lines constraints-lines

## make test-lines [LINES="3.1.8"]: the provider's tests on each older Airflow 3 line, timed, then
## make test-newest (so that `make test`'s three streams stay three).
test-lines:
	@for v in $(LINES); do \
		line=$$(echo $$v | cut -d. -f1,2); start=$$(date +%s); \
		$(MAKE) --no-print-directory install LINE=$$line AIRFLOW_3=$$v || exit 1; \
		installed=$$(date +%s); mkdir -p $(PYTEST_TMP); \
		.venv-airflow$$line/bin/python -m pytest -q --basetemp=$(PYTEST_TMP)/lines-$$line $(PYTEST_ARGS) \
			$(LINE_TESTS) || exit 1; \
		echo "Airflow $$v: install $$((installed - start)) s, tests $$(($$(date +%s) - installed)) s"; \
	done
	@$(MAKE) --no-print-directory test-newest

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
	echo "urllib3>=2.6" >> $$req; \
	date=$(or $(2),$(error no EXCLUDE_NEWER_$(1) date for Airflow $(1))); \
	urllib3_date=$$date; [ "$$date" \< "$(LOWEST_URLLIB3_DATE)" ] && urllib3_date=$(LOWEST_URLLIB3_DATE); \
	$(UV) pip compile --quiet --universal --python-version 3.10 --no-header \
		--exclude-newer $$date --exclude-newer-package urllib3=$$urllib3_date \
		--output-file constraints/airflow-$(1).txt $$req
	
endef

# ---------------------------------------------------------------------------------------------
# The newest Python pyproject.toml names: the newest "Programming Language :: Python :: 3.N"
# classifier (3.13). The whole suite runs on $(PYTHON) (3.11 here and in CI), the floors on 3.10
# (make lowest); here the provider's own tests run on the newest, with Airflow $(AIRFLOW_3) and the
# same constraints as the main suite (resolved --universal, so they hold for it too), in
# .venv-newest. Deployment tests (real Airflow components), `dags test` runs, the wheel, the
# browser and the docs stay on the main lines.
NEWEST_VENV := .venv-newest
NEWEST_VERSION := $(shell sed -n 's/^ *"Programming Language :: Python :: \(3\.[0-9][0-9]*\)".*/\1/p' \
	pyproject.toml | sort -t. -k2,2n | tail -n 1)
# That version on PATH, else installed by pyenv (its newest patch release first); empty if neither.
NEWEST_PYTHON ?= $(firstword $(shell v=$(NEWEST_VERSION); \
	for p in python$$v $$(ls -d $(HOME)/.pyenv/versions/$$v.*/bin/python$$v 2>/dev/null | sort -rV); do \
	$$p -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$$v'.split('.'))); \
	print(sys.executable)" 2>/dev/null && exit 0; done))
# Its full version (3.13.0), empty when it does not run: the marker names it, so a new patch
# release rebuilds the virtualenv.
NEWEST_PYTHON_VERSION = $(if $(NEWEST_PYTHON),$(shell $(NEWEST_PYTHON) -c \
	'import platform; print(platform.python_version())' 2>/dev/null))
NEWEST_MARKER = $(NEWEST_VENV)/.installed-$(AIRFLOW_3)-test-py$(NEWEST_PYTHON_VERSION)
# The client, the hook (and its faults, secrets and fan-out), the notifier and the ready callbacks
# in-process, the alert decision, grouping and texts (run failures, import errors, input
# requests), the emulator, validation and text scaling.
NEWEST_TESTS ?= tests/client tests/test_hook.py tests/test_faults.py tests/test_secrets.py \
	tests/test_fanout.py tests/test_notifier.py tests/test_alerts_decision.py \
	tests/test_alerts_grouping.py tests/test_alerts_message.py tests/test_import_errors.py \
	tests/test_input_request.py tests/test_emulator.py tests/test_validation.py \
	tests/test_text_scaling.py

.PHONY: test-newest

## make test-newest: NEWEST_TESTS on the newest Python pyproject.toml names, timed. That Python
## missing: under CI ($$CI set) this fails saying what to install; elsewhere it says so and skips.
test-newest:
	@if [ -z "$(NEWEST_VERSION)" ]; then \
		echo "test-newest: no 'Programming Language :: Python :: 3.N' classifier in pyproject.toml" >&2; \
		exit 1; \
	elif [ -z "$(NEWEST_PYTHON_VERSION)" ]; then \
		echo "test-newest: Python $(NEWEST_VERSION), the newest pyproject.toml names, is missing:" \
			"$(if $(NEWEST_PYTHON),NEWEST_PYTHON=$(NEWEST_PYTHON) does not run,no python$(NEWEST_VERSION) on PATH" \
			"or in $(HOME)/.pyenv/versions/$(NEWEST_VERSION).*/bin). Install it (e.g. 'pyenv install" \
			"$(NEWEST_VERSION)') or set NEWEST_PYTHON=/path/to/python$(NEWEST_VERSION);" \
			"$(if $(CI),under CI (CI=$(CI)) this fails,the provider's tests on it skip until then)" >&2; \
		[ -z "$$CI" ] || exit 1; \
	else \
		start=$$(date +%s); \
		$(MAKE) --no-print-directory $(NEWEST_MARKER) NEWEST_PYTHON=$(NEWEST_PYTHON) || exit 1; \
		installed=$$(date +%s); mkdir -p $(PYTEST_TMP); \
		$(NEWEST_VENV)/bin/python -m pytest -q --basetemp=$(PYTEST_TMP)/newest $(PYTEST_ARGS) \
			$(NEWEST_TESTS) || exit 1; \
		echo "Python $(NEWEST_PYTHON_VERSION), Airflow $(AIRFLOW_3): install $$((installed - start)) s," \
			"tests $$(($$(date +%s) - installed)) s"; \
	fi

$(NEWEST_VENV)/.installed-%: pyproject.toml $(wildcard constraints/airflow-$(AIRFLOW_3).txt) $(UV)
	rm -rf $(NEWEST_VENV)
	$(UV) venv --quiet --no-python-downloads --python $(NEWEST_PYTHON) $(NEWEST_VENV)
	VIRTUAL_ENV=$(CURDIR)/$(NEWEST_VENV) $(UV) pip install --quiet \
		$(if $(wildcard constraints/airflow-$(AIRFLOW_3).txt),--constraint constraints/airflow-$(AIRFLOW_3).txt) \
		"apache-airflow==$(AIRFLOW_3)" -e ".[test]"
	touch $@
