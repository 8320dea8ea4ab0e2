# Two commands a newcomer needs: `make demo` and `make test`. Everything else is a helper of those.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))

.PHONY: demo test lint typecheck pytest bench clean install cdk-cli image-lock

# --no-compile: pip would compile all 312 MB of the dependencies' sources (183 MB of them aws_cdk's), about 55
# CPU-s, most of which nothing imports; what is imported is compiled on its first import instead.
$(VENV)/.installed: pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -e '.[dev]' $(foreach p,$(PLUGINS),-e $(p))
	touch $@

install: $(VENV)/.installed

# The CDK CLI pinned in infra/cdk/package-lock.json (docs/deploy.md runs `npx --no-install cdk`); only where
# node is, as the infra tests themselves.
CDK_CLI := infra/cdk/node_modules/.installed
$(CDK_CLI): infra/cdk/package.json infra/cdk/package-lock.json
	cd infra/cdk && npm ci --no-audit --no-fund --loglevel=error
	touch $@

cdk-cli: $(CDK_CLI)

# requirements/image.txt: what the runtime wheels resolve to in a fresh venv (the Dockerfile's constraints).
image-lock: install
	rm -rf build/image-lock && mkdir -p build/image-lock
	$(PY) -m pip wheel -q --no-deps -w build/image-lock/wheels . plugins/cosync_aws plugins/cosync_gcp plugins/cosync_microsoft
	$(PYTHON) -m venv build/image-lock/venv
	build/image-lock/venv/bin/pip install -q build/image-lock/wheels/*.whl
	{ sed -n '1,3p' requirements/image.txt; build/image-lock/venv/bin/pip freeze | grep -v '^cosync'; } > build/image-lock/image.txt
	mv build/image-lock/image.txt requirements/image.txt

demo: install
	$(VENV)/bin/cosync demo

lint: install
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/ruff check cosync_worker plugins tests bench infra/cdk
	$(VENV)/bin/ruff format --check cosync_worker plugins tests bench infra/cdk

typecheck: install
	$(VENV)/bin/mypy cosync_worker plugins infra/cdk/cosync_infra

# On PYTEST_WORKERS pytest-xdist workers: the suite mostly waits (scaled quotas, convergence, child processes),
# so 3 workers on 2 cores finish sooner than one. tests/conftest.py says which tests share a worker and why.
# PYTHONDONTWRITEBYTECODE (set in some shells and images) is lifted for the run: without .pyc files every child
# process the suite starts (hundreds: workers, relays, CLI commands) compiles the repo's modules again, about
# 0.12-0.17 CPU-s each, and each xdist worker compiles and assertion-rewrites the tests again, about 5 CPU-s.
PYTEST_WORKERS ?= 3
pytest: install $(if $(shell command -v node),cdk-cli)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup --durations=15

test: lint typecheck pytest

bench: install
	$(PY) bench/worker_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache infra/cdk/node_modules infra/cdk/cdk.out
