"""`benchmarks/swing_up.py`: its scoring on trajectories made by hand, and its quick mode."""

import importlib.util
import json
import math
import pathlib
import sys

import numpy as np
import pytest

from helpers import run_benchmark


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "swing_up.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("swing_up", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_score_counts_a_swing_up_only_if_it_holds(bench):
    ts = np.linspace(0.0, 10.0, 501)
    # Up (one full turn away, which counts as upright) from t = 4 on; up but falling at
    # t = 9; never up; non-finite from t = 8.
    settles = np.where(ts >= 4.0, 2 * math.pi + 0.05, math.pi)
    falls = np.where((ts >= 4.0) & (ts < 9.0), 0.0, math.pi)
    hangs = np.full_like(ts, math.pi)
    blows_up = np.where(ts >= 8.0, np.nan, 0.0)
    angles = np.stack([settles, falls, hangs, blows_up])
    ys = np.zeros((4, len(ts), 4))
    ys[..., 1] = angles
    ys[0, :, 0] = np.linspace(0.0, -0.7, len(ts))
    forces = np.tile(np.linspace(-3.0, 2.0, len(ts)), (4, 1))
    scored = bench.score(ts, ys, forces)
    assert scored["successes"] == 1 and scored["failed_starts"] == [1, 2, 3]
    assert scored["swing_up_times"] == [pytest.approx(4.0), None, None, None]
    assert scored["max_force"][0] == pytest.approx(3.0)
    assert scored["max_cart_position"][0] == pytest.approx(0.7)


def test_quick_mode_swings_up_with_the_true_model(tmp_path):
    run_benchmark(SCRIPT, tmp_path)
    document = json.loads((tmp_path / "swing_up.json").read_text())
    assert document["mode"] == "quick" and document["partial"] is False
    truth, learned = document["rows"]
    assert truth["controller model"] == "true cart-pole"
    # The true model's controller swings every start up (the quick DeLaN is barely trained,
    # so its count is only bounded).
    assert truth["successes"] == truth["starts"] == document["config"]["starts"]
    assert 0 < truth["median swing-up time [s]"] < document["config"]["horizon"] - 3.0
    assert truth["max force [N]"] <= 15.0 + 1e-9
    assert 0 <= learned["successes"] <= learned["starts"]
    assert math.isfinite(learned["test force MSE"]) and learned["test force MSE"] > 0
    (run,) = document["runs"]
    assert len(run["swing_up"]["max_force"]) == document["config"]["starts"]
    assert (tmp_path / "swing_up.png").exists() and (tmp_path / "swing_up.gif").exists()
