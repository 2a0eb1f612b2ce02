"""The quick mode of `benchmarks/hnn_tasks.py`, run as `make test` runs the suite.

It trains the paper's baseline and HNN on the spring and the pendulum for a few hundred steps
and checks what the full run must also show: every number is finite, and the HNN's energy MSE
(the paper's protocol, RK4 along the test trajectories) is below the baseline's.
"""

import json
import math
import pathlib

from helpers import run_benchmark


SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "hnn_tasks.py"


def test_hnn_tasks_quick_mode(tmp_path):
    run_benchmark(SCRIPT, tmp_path, compilation_cache=True)
    document = json.loads((tmp_path / "hnn_tasks.json").read_text())
    assert document["mode"] == "quick"
    assert document["partial"] is False
    rows = document["rows"]
    assert {(row["task"], row["model"]) for row in rows} == {
        (task, model) for task in ("spring", "pendulum") for model in ("baseline", "hnn")
    }
    for row in rows:
        assert row["failures"] == 0, row
        for metric in ("test_loss", "energy_mse", "energy_mse_long", "valid_prediction_time"):
            assert math.isfinite(row[metric]), (row["task"], row["model"], metric)
    for task in ("spring", "pendulum"):
        energy = {row["model"]: row["energy_mse"] for row in rows if row["task"] == task}
        assert energy["hnn"] < energy["baseline"], (task, energy)
    assert (tmp_path / "hnn_tasks.md").exists()
    for figure in document["config"]["figures"]:
        assert (tmp_path / figure).exists()
