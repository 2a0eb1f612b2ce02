# Every target sets up what it needs: a .venv with the project and its dev tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The exact versions the two commands install (see its header); `make lock` refreshes it.
LOCK := requirements.lock
# `make test-latest` installs the newest releases within pyproject.toml's ranges here.
LATEST_VENV := .venv-latest
CHROMIUM ?= /usr/bin/chromium

.PHONY: help test test-latest lock demo lint docs docs-check clean bench-quick bench-speed

help:
	@echo "make demo   train baseline, HNN and LNN on the double pendulum (CPU, minutes) -> runs/demo/"
	@echo "make test   lint, the test suite (float64, CPU) with every benchmark's --quick run"
	@echo "make test-latest   the test suite on the newest releases of every dependency (.venv-latest)"
	@echo "make lock   refresh requirements.lock from the newest releases within pyproject.toml's ranges"
	@echo "make lint   ruff"
	@echo "make docs   build the documentation site into site/"
	@echo "make docs-check   every page of the site in headless Chromium, phone and desktop -> site-check/"
	@echo "make bench-speed   speed vs SciPy, PyTorch and the papers' code -> benchmarks/results/speed.*"

# Every package at its locked version (pip itself included): the same environment on any
# machine, whatever has been released since.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev,docs]"
	$(BIN)/python -m pip check
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lagrangian_zoo tests benchmarks

# The unit tests and every benchmark's --quick smoke run (tests/test_benchmark_*.py), the 10
# slowest listed. Whole files go to each worker (loadfile), so a file's tests share the
# programs their worker compiled; handing tests out one by one (worksteal) was slower on 2
# cores, each worker compiling the same programs again.
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=10

# The suite on the newest releases within pyproject.toml's ranges, in a fresh .venv-latest, so
# that a breaking release is found by a run rather than by a user. It prints the versions it
# tested; lint is left out (a new ruff release adds rules, which says nothing of the library).
# CI runs it with LAGRANGIAN_ZOO_CI=latest (.ci/run).
test-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[dev,docs]"
	$(LATEST_VENV)/bin/python -m pip check
	@echo "== the newest releases (left) against requirements.lock (right), where they differ:"
	@$(LATEST_VENV)/bin/python -m pip freeze --all --exclude-editable | grep -v "^setuptools==" | sort -f > $(LATEST_VENV)/versions.txt
	@grep -v '^#' $(LOCK) | sort -f | diff -i $(LATEST_VENV)/versions.txt - | grep '^[<>]' || echo "   (none)"
	$(LATEST_VENV)/bin/python -m pytest -q -n 2 --dist loadfile --durations=10

# Rewrites requirements.lock from a fresh environment of the newest releases within
# pyproject.toml's ranges (setuptools left out: the venv brings its own). Run `make test`
# before committing the new lock; `git diff requirements.lock` shows what moved.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[dev,docs]"
	{ sed -n '/^#/p' $(LOCK); .venv-lock/bin/python -m pip freeze --all --exclude-editable \
		| grep -v '^setuptools=='; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .venv-lock

# Each benchmarks/<name>.py (not the _helpers) in its --quick mode, writing to a temp folder
# (make test runs the same through pytest).
bench-quick: $(STAMP)
	@set -e; for script in benchmarks/[a-z]*.py; do \
		echo "== $$script --quick"; \
		out=$$(mktemp -d); \
		$(BIN)/python $$script --quick --out $$out; \
		rm -rf $$out; \
	done

# The full speed benchmark: benchmarks/results/speed.{json,md} and the docs' figures.
bench-speed: $(STAMP)
	$(BIN)/python benchmarks/speed.py --full

demo: $(STAMP)
	$(BIN)/lagrangian-zoo demo --out runs/demo

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# Builds the site into a temporary folder and opens every page in headless Chromium at a
# desktop (1280x900) and a phone (390x844) width: screenshots into site-check/, and a list of
# the pages that look broken (HTTP errors, missing images, JavaScript or MathJax errors, TeX
# left unrendered, a page that scrolls sideways, empty content), failing if there is one.
# Playwright (the docs-check extra) drives the system's Chromium; it downloads no browser.
docs-check: $(STAMP)
	@test -x $(CHROMIUM) || { echo "make docs-check needs Chromium at $(CHROMIUM):"; \
		echo "  apt-get install -y chromium    (Debian/Ubuntu; or CHROMIUM=/path/to/chromium)"; \
		exit 1; }
	@$(BIN)/python -c "import playwright" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet -e ".[docs-check]"
	$(BIN)/python docs/check_site.py --chromium $(CHROMIUM) --out site-check

clean:
	rm -rf $(VENV) site site-check runs .pytest_cache
