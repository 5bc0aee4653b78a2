# segmesh: `make run` starts Orthanc with segmesh and a demo study; `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python

# `make test-compat`: the integration suite inside a root file system of each Debian release
# other than the host's, out of 12, 13 and testing (forky), kept in /var/cache/segmesh/compat.
.PHONY: run run-cluster test test-compat system-deps test-system-deps venv test-venv bench-venv app lint typecheck pytest clean

run: system-deps venv app
	scripts/run-orthanc.sh

# Scale-out on one machine: PostgreSQL and two nodes (8042, 8043) sharing its index and storage.
run-cluster: venv app
	scripts/install-system-deps.sh --cluster
	scripts/run-cluster.sh

test: test-system-deps test-venv app lint typecheck pytest

test-compat: app
	scripts/test-compat.sh $(PYTEST_ARGS)

system-deps:
	scripts/install-system-deps.sh

test-system-deps:
	scripts/install-system-deps.sh --test

$(VENV)/.installed-run: pyproject.toml requirements/run.txt scripts/make-venv.sh
	scripts/make-venv.sh
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements/run.txt requirements/test.txt scripts/make-venv.sh
	scripts/make-venv.sh test
	touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run

# The viewer's three.js, from the npm registry as pinned in the app's package-lock.json.
APP := plugin/segmesh/app
$(APP)/node_modules/.package-lock.json: $(APP)/package.json $(APP)/package-lock.json
	scripts/install-app.sh

app: $(APP)/node_modules/.package-lock.json

test-venv: $(VENV)/.installed-test

# The benchmarks' peers (highdicom, pydicom-seg, rt-utils, VTK, ...), pinned in pyproject.toml.
bench-venv:
	scripts/make-venv.sh test,bench

lint: test-venv
	$(VENV)/bin/ruff check plugin tests benchmarks
	$(VENV)/bin/ruff format --check plugin tests benchmarks

typecheck: test-venv
	$(VENV)/bin/mypy

# pytest exits 5 when it collects no test: that is a failure here, as it should be.
pytest: test-venv
	$(PYTHON) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .orthanc-storage .orthanc-cluster .pytest_cache .mypy_cache .ruff_cache
