"""DeLaN's character data, its loader, and the quick mode of `benchmarks/delan_character.py`.

The metric code is checked without training: the true arm (`TwoLinkArm` with DeLaN's
parameters) scored against the data's own decomposition, which the DeLaN repository's
simulation wrote, must give errors at rounding level; a known offset must give its square.
"""

import importlib.util
import json
import math
import pathlib
import sys

import jax.numpy as jnp
import lagrangian_zoo as lz
import lagrangian_zoo._character_data as character_data
import numpy as np
import pytest

from helpers import run_benchmark


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "delan_character.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("delan_character", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loader_gives_the_repository_split():
    train, test = lz.delan_character_dataset()
    assert set(test.letters) == {"e", "q", "v"}
    assert len(train.letters) == 17 and not set(train.letters) & set(test.letters)
    assert train.q.shape[0] + test.q.shape[0] == 2913
    for part in (train, test):
        assert part.q.dtype == np.float64 and part.mass_matrix.shape[1:] == (2, 2)
        # The data's own decomposition adds up to its torques.
        np.testing.assert_allclose(
            part.inertial + part.coriolis + part.gravity, part.tau, atol=1e-12
        )
    other_train, other_test = lz.delan_character_dataset(test_letters=("a",))
    assert other_test.letters == ("a",) and other_train.q.shape[0] == 2913 - other_test.q.shape[0]


@pytest.mark.parametrize("letters", [("x",), (), "eqv"])
def test_loader_refuses_unknown_letters(letters):
    with pytest.raises((ValueError, TypeError), match="test_letters"):
        lz.delan_character_dataset(test_letters=letters)


def test_loader_names_a_corrupt_file(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "delan_character.npz").write_bytes(b"not an archive")
    monkeypatch.setattr(character_data.importlib.resources, "files", lambda _: tmp_path)
    with pytest.raises(ValueError, match="delan_character.npz"):
        lz.delan_character_dataset()


def test_true_arm_scores_zero_on_the_metric_code(bench):
    _, test = lz.delan_character_dataset()
    y = jnp.asarray(np.concatenate([test.q, test.q_t, test.q_tt], axis=-1))
    parts = bench.decomposition(bench.true_arm(), *jnp.split(y, 3, axis=-1))
    errors = bench.component_errors({k: np.asarray(v) for k, v in parts.items()}, test)
    assert set(errors) == set(bench.COMPONENTS)
    for name, value in errors.items():
        assert value < 1e-20, (name, value)
    # The true mass matrix too: the inertial part is H(q) q_tt with the data's H.
    np.testing.assert_allclose(
        np.einsum("nij,nj->ni", test.mass_matrix, test.q_tt),
        np.asarray(parts["inertial"]),
        atol=1e-10,
    )


def test_errors_sum_over_joints_and_average_over_samples(bench):
    _, test = lz.delan_character_dataset()
    truth = {"torque": test.tau, "inertial": test.inertial}
    truth |= {"coriolis": test.coriolis, "gravity": test.gravity}
    offset = {k: v + np.array([0.1, 0.2]) for k, v in truth.items()}
    errors = bench.component_errors(offset, test)
    for part in truth:
        assert errors[part] == pytest.approx(0.01 + 0.04)
    power = np.mean((test.q_t @ np.array([0.1, 0.2])) ** 2)
    assert errors["power"] == pytest.approx(power)


def test_quick_mode_writes_every_model(tmp_path):
    run_benchmark(SCRIPT, tmp_path)
    document = json.loads((tmp_path / "delan_character.json").read_text())
    assert document["mode"] == "quick" and document["partial"] is False
    rows = {row["model"]: row for row in document["rows"]}
    for model in ("delan_structured", "delan_black_box", "feed_forward"):
        row = rows[model]
        assert row["seeds"] == document["config"]["seeds"]
        for metric in ("torque", "inertial", "coriolis", "gravity", "power"):
            assert math.isfinite(row[metric]) and row[metric] >= 0
        assert row["samples_per_second"] > 0
    published = rows["published DeLaN (repository README)"]
    assert published["torque"] == 4.327e-04 and published["samples_per_second"] == 1517.0
    truth = rows["true arm (check of the metric code)"]
    assert all(truth[metric] < 1e-20 for metric in ("torque", "inertial", "power"))
    assert (tmp_path / "delan_character.png").exists()
