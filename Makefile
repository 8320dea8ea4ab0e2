# Two commands a newcomer needs: `make demo` and `make test`. Everything else is a helper of those.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))

.PHONY: demo test lint typecheck pytest bench clean install

$(VENV)/.installed: pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' $(foreach p,$(PLUGINS),-e $(p))
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/cosync demo

lint: install
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/ruff check cosync_worker plugins tests bench infra/cdk
	$(VENV)/bin/ruff format --check cosync_worker plugins tests bench infra/cdk

typecheck: install
	$(VENV)/bin/mypy cosync_worker plugins infra/cdk/cosync_infra

pytest: install
	$(PY) -m pytest -q -p no:cacheprovider

test: lint typecheck pytest

bench: install
	$(PY) bench/worker_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
