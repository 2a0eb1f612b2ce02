# Every target sets up what it needs: a .venv with the project and its dev tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

.PHONY: help test demo lint docs docs-check clean bench-quick bench-speed

help:
	@echo "make demo   train baseline, HNN and LNN on the double pendulum (CPU, minutes) -> runs/demo/"
	@echo "make test   lint, the test suite (float64, CPU) with every benchmark's --quick run"
	@echo "make lint   ruff"
	@echo "make docs   build the documentation site into site/"
	@echo "make docs-check   every page of the site in headless Chromium, phone and desktop -> site-check/"
	@echo "make bench-speed   speed vs SciPy, PyTorch and the papers' code -> benchmarks/results/speed.*"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,docs]"
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
