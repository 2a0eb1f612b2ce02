"""The quick modes of `benchmarks/robustness.py`, run as `make test` runs the suite.

The grid's quick mode must write a row for every (model, noise, fraction) with its failed
rollouts counted; `--lnn-variants` trains the LNN on one cell with and without the mass prior
and must write a row per variant with the options it was built with.
"""

import json
import math
import pathlib

from helpers import run_benchmark


SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "robustness.py"


def test_quick_mode_writes_every_cell(tmp_path):
    run_benchmark(SCRIPT, tmp_path)
    document = json.loads((tmp_path / "robustness.json").read_text())
    assert document["mode"] == "quick" and document["partial"] is False
    config = document["config"]
    cells = {(row["model"], row["noise_std"], row["fraction"]) for row in document["rows"]}
    assert cells == {
        (model, noise, fraction)
        for model in ("lnn", "lnn_prior", "baseline", "hnn")
        for noise in config["noise_levels"]
        for fraction in config["fractions"]
    }
    for row in document["rows"]:
        assert 0 <= row["failed_rollouts"] <= row["rollouts"]
        assert math.isfinite(row["test_loss"])
    assert (tmp_path / "robustness.png").exists()


def test_lnn_variants_quick_mode_builds_each_variant(tmp_path):
    run_benchmark(SCRIPT, tmp_path, "--lnn-variants")
    document = json.loads((tmp_path / "robustness_lnn_variants.json").read_text())
    rows = {row["variant"]: row for row in document["rows"]}
    # The quick mode: the first two, with and without the prior (the full mode adds the
    # paper's initialisation with and without it).
    built = [(row["init"], row["mass_prior"]) for row in rows.values()]
    assert built == [("default", True), ("default", False)]
    for row in rows.values():
        assert 0 <= row["failed_rollouts"] <= row["rollouts"]
        assert math.isfinite(row["test_loss_l1_acceleration"])
