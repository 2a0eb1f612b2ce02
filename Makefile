# Every target sets up what it needs: a .venv with the project and its dev tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help test demo lint docs clean bench-quick bench-speed

help:
	@echo "make demo   train baseline, HNN and LNN on the double pendulum (CPU, minutes) -> runs/demo/"
	@echo "make test   lint, the test suite (float64, CPU) with every benchmark's --quick run"
	@echo "make lint   ruff"
	@echo "make docs   build the documentation site into site/"
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
# slowest listed.
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

clean:
	rm -rf $(VENV) site runs .pytest_cache
