"""The quick mode of `benchmarks/speed.py`, run as `make test` runs the suite.

It runs every section at toy sizes (accelerations, data generation, a rollout, the two
trainings as whole processes) and checks the results file: every row has the columns of the
design, every measured ratio is a positive number, a goal's verdict agrees with its ratio,
and a missing reference (PyTorch not installed) is a row that says so, not a crash.
"""

import importlib.util
import json
import math
import pathlib

from helpers import run_benchmark


SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"
COLUMNS = (
    "operation",
    "size",
    "ours_seconds",
    "reference",
    "reference_seconds",
    "ratio",
    "compile_seconds",
    "peak_memory_mb",
    "goal",
    "goal_met",
    "bound",
)


def test_speed_quick_mode(tmp_path):
    run_benchmark(SCRIPT, tmp_path, timeout=600)
    document = json.loads((tmp_path / "speed.json").read_text())
    assert document["mode"] == "quick"
    assert document["config"]["partial"] is False
    rows = document["rows"]
    assert {row["operation"] for row in rows} >= {
        "lnn_accelerations",
        "data_generation",
        "rollout_lnn",
        "training_hnn_spring",
        "training_lnn_double_pendulum",
    }
    for row in rows:
        assert set(COLUMNS) <= set(row), row
        assert row["ours_seconds"] > 0, row
        assert row["bound"], row
        assert row["peak_memory_mb"] > 0, row
        if row["reference_seconds"] is None:
            assert "skipped" in row["reference"], row
            assert row["ratio"] is None and row["goal_met"] is None, row
            continue
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0, row
        assert math.isclose(
            row["ratio"], row["reference_seconds"] / row["ours_seconds"], rel_tol=1e-2
        ), row
    hnn = next(row for row in rows if row["operation"] == "training_hnn_spring")
    torch_installed = importlib.util.find_spec("torch") is not None
    assert (hnn["reference_seconds"] is not None) == torch_installed, hnn
    assert (tmp_path / "speed.md").exists()
    assert (tmp_path / "speed_ratios.png").exists()
    assert (tmp_path / "speed_stages.png").exists()
