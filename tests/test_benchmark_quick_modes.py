"""Every benchmark script's `--quick` mode runs and writes its results file.

Scripts with a test of their own (tests/test_benchmark_<name>.py, which also checks their
numbers) are left to it; every other `benchmarks/<name>.py` is run here, so a new benchmark is
covered by `make test` without further wiring.
"""

import json
import pathlib

import pytest

from helpers import run_benchmark


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
TESTS = pathlib.Path(__file__).resolve().parent
SCRIPTS = sorted(
    path
    for path in BENCHMARKS.glob("[a-z]*.py")
    if not (TESTS / f"test_benchmark_{path.stem}.py").exists()
)


def test_scripts_are_found():
    assert {"mechanics_speed", "checks_cost"} <= {path.stem for path in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_quick_mode_writes_results(script, tmp_path):
    run_benchmark(script, tmp_path)
    results = sorted(tmp_path.glob("*.json"))
    assert results, f"{script.name} --quick wrote no results file in {tmp_path}"
    document = json.loads(results[0].read_text())
    assert document.get("mode") == "quick"
    assert document.get("rows"), f"{results[0].name} holds no rows"
