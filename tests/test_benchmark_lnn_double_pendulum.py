"""The quick modes of `benchmarks/lnn_double_pendulum.py`, run as `make test` runs the suite.

The main quick mode trains every model and recipe for a few steps on small networks and must
write a row for each, count its failed rollouts, and write the figure and the GIF of the
saved models; `--figures` redraws them without training; `--timing` times recipes. The
ablation's quick mode trains `ours` with and without the mass prior: even after 20 steps the
prior's accelerations are far closer to the truth, since without it the network's own mass
matrix starts small and indefinite.
"""

import json
import math
import pathlib

from helpers import run_benchmark


SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "lnn_double_pendulum.py"


def test_quick_mode_writes_every_row_the_figure_and_the_gif(tmp_path):
    run_benchmark(SCRIPT, tmp_path)
    document = json.loads((tmp_path / "lnn_double_pendulum.json").read_text())
    assert document["mode"] == "quick" and document["partial"] is False
    rows = {(row["model"], row["recipe"]): row for row in document["rows"]}
    assert set(rows) == {
        ("lnn", "ours"),
        ("lnn", "paper"),
        ("baseline", "ours"),
        ("hnn", "ours"),
        ("delan", "ours"),
    }
    for key, row in rows.items():
        assert math.isfinite(row["test_loss"]), key
        assert 0 <= row["failed_rollouts"] <= row["rollouts"], key
        if row["failed_rollouts"] < row["rollouts"]:
            assert math.isfinite(row["energy_discrepancy_percent"]), key
    assert rows[("lnn", "ours")]["mass_prior"] is True
    assert rows[("lnn", "paper")]["mass_prior"] is False
    for name in ("lnn_double_pendulum_energy.png", "lnn_double_pendulum.gif"):
        assert (tmp_path / name).stat().st_size > 1000, name
    models = sorted(path.name for path in (tmp_path / "lnn_double_pendulum_models").iterdir())
    assert models == ["baseline_ours_seed0.eqx", "lnn_ours_seed0.eqx"]
    # `--figures` redraws both from the results and the saved models, training nothing.
    for name in ("lnn_double_pendulum_energy.png", "lnn_double_pendulum.gif"):
        (tmp_path / name).unlink()
    run_benchmark(SCRIPT, tmp_path, "--figures")
    for name in ("lnn_double_pendulum_energy.png", "lnn_double_pendulum.gif"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert json.loads((tmp_path / "lnn_double_pendulum.json").read_text()) == document


def test_ablation_quick_mode_shows_the_mass_prior_at_work(tmp_path):
    run_benchmark(SCRIPT, tmp_path, "--ablation")
    document = json.loads((tmp_path / "lnn_double_pendulum_ablation.json").read_text())
    losses = {row["variant"]: row["test_loss"] for row in document["rows"]}
    assert set(losses) == {"ours", "without the mass prior"}
    assert all(math.isfinite(value) for value in losses.values()), losses
    assert losses["ours"] < 0.5 * losses["without the mass prior"], losses


def test_timing_quick_mode_times_every_recipe(tmp_path):
    run_benchmark(SCRIPT, tmp_path, "--timing")
    document = json.loads((tmp_path / "lnn_double_pendulum_timing.json").read_text())
    rows = {(row["model"], row["recipe"]): row for row in document["rows"]}
    assert set(rows) == {("lnn", "ours"), ("baseline", "ours")}  # the full mode times all
    for key, row in rows.items():
        assert row["ms_per_step"] >= 0 and row["compile_seconds"] >= 0, key
        # One compilation is part of every projection.
        assert row["projected_minutes"] >= row["compile_seconds"] / 60, key
        assert math.isclose(
            row["projected_cpu_minutes"], document["config"]["cores"] * row["projected_minutes"]
        ), key


def test_budget_table_lists_the_lnn_seed_zero_runs_in_order(tmp_path):
    import importlib
    import sys

    sys.path.insert(0, str(SCRIPT.parent))
    benchmark = importlib.import_module("lnn_double_pendulum")

    def run(recipe, seed=0, model="lnn", seconds=60.0):
        return {
            "model": model,
            "recipe": recipe,
            "seed": seed,
            "seconds": seconds,
            "test_loss": 0.5,
            "energy_discrepancy_percent": 1.0,
            "failed_rollouts": 2,
        }

    runs = [run("paper", seconds=30.0), run("ours", seconds=600.0), run("ours", seed=1)]
    runs.append(run("ours", model="baseline"))
    benchmark.write_budget_table(tmp_path, runs)
    lines = (tmp_path / "lnn_double_pendulum_budget.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("| ")][1:]  # below the header
    # Only the LNN's seed-0 runs, `ours` before the paper's, minutes from seconds.
    assert len(table) == 2
    assert table[0].startswith("| ours, 150000 steps | 10 |")
    assert table[1].startswith("| the paper's recipe (500 x 4, batch 32), 3000 steps | 0.5 |")
    assert table[1].endswith("| 2 |")
