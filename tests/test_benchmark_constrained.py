"""`benchmarks/constrained.py`: its metric, chaos floor, coordinate maps and quick mode.

The metric is checked where its value is known (the truth against itself, a known relative
error); the scoring path (rollout, coordinate maps, metric) is checked on models that carry
the exact dynamics: a CLNN given the true masses and the true potential in place of its
network, and the exact chain in angles rolled out through the angle models' path. Both must
score at the order of the chaos floor, which itself must be small and positive.
"""

import json
import math
import pathlib
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import constrained  # noqa: E402


# The quick mode's own settings: its data programs are then compiled once, for the fixture,
# and read from the session's compilation cache by the quick run.
SMALL = constrained.QUICK


class Linear(eqx.Module):
    """`V(x) = w . x`, in place of a model's potential network."""

    weights: jax.Array

    def __call__(self, x):
        return x @ self.weights


@pytest.fixture(scope="module")
def two_links():
    return constrained.chain_data(2, SMALL)


def test_metric_on_known_errors():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 7, 8))
    assert np.all(constrained.relative_error(z, z) == 0)
    # z_hat = (1 + e) z: ||e z|| / ||(2 + e) z|| = e / (2 + e) at every time.
    e = 0.01
    np.testing.assert_allclose(constrained.relative_error((1 + e) * z, z), e / (2 + e))
    ts = 0.1 * np.arange(7)
    result = constrained.score((1 + e) * z, z, ts)
    assert result["geometric_mean"] == pytest.approx(e / (2 + e) + 1e-8, rel=1e-10)
    assert constrained.score(z, z, ts)["geometric_mean"] == pytest.approx(1e-8, rel=1e-10)
    # A geometric mean: errors 1e-2 and 1e-4 on two trajectories give 1e-3.
    errors = np.stack([np.full(7, 1e-2), np.full(7, 1e-4)])
    means = constrained.geometric_mean_along(errors, ts)
    assert np.exp(np.mean(np.log(means))) == pytest.approx(1e-3, rel=1e-4)


def test_chaos_floor_is_small_and_positive(two_links):
    floor = constrained.score(two_links.perturbed, two_links.truth, two_links.test_ts)
    assert 1e-7 < floor["geometric_mean"] < 1e-2
    # The perturbed states are on the constraints: rod lengths kept to 1e-10.
    system, n = two_links.system, two_links.system.links
    x = two_links.perturbed[:, 0, : 2 * n].reshape(-1, n, 2)
    previous = np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
    rods = np.linalg.norm(x - previous, axis=-1)
    np.testing.assert_allclose(rods, np.broadcast_to(system.lengths, rods.shape), atol=1e-10)


def test_exact_models_score_at_the_chaos_floor(two_links):
    system, n = two_links.system, two_links.system.links
    floor = constrained.score(two_links.perturbed, two_links.truth, two_links.test_ts)
    masses = np.asarray(system.masses)

    # The potential m g y of every bob (unit gravity) as weights on the positions: the exact
    # and the wrong model below differ only in these arrays, so they share one program.
    gravity = Linear(jnp.stack([jnp.zeros(n), jnp.asarray(masses)], 1).reshape(-1))

    constraints = system.constraints
    model = lz.models.CLNN(
        2 * n, key=jax.random.key(0), constraints=constraints, masses=masses.tolist(), width=4
    )
    exact = eqx.tree_at(lambda m: m.potential_network, model, gravity)
    prediction = constrained.model_rollout(
        "clnn", exact, system, two_links.test_y0, two_links.test_ts, SMALL
    )
    clnn = constrained.score(prediction, two_links.truth, two_links.test_ts)
    assert clnn["failed_rollouts"] == 0
    assert clnn["geometric_mean"] < 3 * floor["geometric_mean"]
    # The angle models' path: to angles, rolled out, back to the plane.
    prediction = constrained.model_rollout(
        "lnn", system.angle_system(), system, two_links.test_y0, two_links.test_ts, SMALL
    )
    angles = constrained.score(prediction, two_links.truth, two_links.test_ts)
    assert angles["geometric_mean"] < 3 * floor["geometric_mean"]
    # ... and the HNN's canonical momenta, mapped there and back.
    view = constrained.model_view("hnn", system, two_links.truth)
    back = constrained.to_cartesian(system, view, canonical=True)
    np.testing.assert_allclose(back, two_links.truth, atol=1e-10)
    # The CHNN reads the bobs' momenta m v: the true masses' momenta, by hand.
    view = constrained.model_view("chnn", system, two_links.truth)
    np.testing.assert_allclose(view[..., 2 * n :: 2], masses * two_links.truth[..., 2 * n :: 2])
    np.testing.assert_allclose(view[..., : 2 * n], two_links.truth[..., : 2 * n])
    # A wrong model is seen: a CLNN with gravity doubled.
    wrong = eqx.tree_at(lambda m: m.potential_network, model, Linear(2 * gravity.weights))
    prediction = constrained.model_rollout(
        "clnn", wrong, system, two_links.test_y0, two_links.test_ts, SMALL
    )
    assert (
        constrained.score(prediction, two_links.truth, two_links.test_ts)["geometric_mean"]
        > 30 * floor["geometric_mean"]
    )


def test_quick_mode_writes_every_experiment(tmp_path):
    # In this process, so that it reuses the programs the tests above compiled (its data's).
    assert constrained.main(["--quick", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "constrained.json").read_text())
    assert document["mode"] == "quick" and not document["partial"]
    chains = [r for r in document["rows"] if r["experiment"] == "chains"]
    assert {(r["links"], r["model"]) for r in chains} == {(2, "clnn")}
    for row in chains:
        assert math.isfinite(row["geometric_mean"]) and row["geometric_mean"] > 0
        assert 0 < row["chaos_floor"] < 1e-2
    zero = [r for r in document["rows"] if r["experiment"] == "zero_shot"]
    assert {r["links"] for r in zero} == {2, 3}
    assert all(math.isfinite(r["geometric_mean"]) for r in zero)
    cost = document["cost"]
    assert {(r["model"], r["links"]) for r in cost} == {("clnn", 2)}
    assert all(r["seconds_per_training_step"] > 0 for r in cost)
    assert (tmp_path / "constrained_error.png").exists()


def test_full_plan_puts_the_published_comparisons_first():
    plan = constrained.plan_runs(constrained.FULL)
    assert plan[:6] == [
        ("chains", "clnn", 2, 0),
        ("chains", "chnn", 2, 0),
        ("chains", "clnn", 3, 0),
        ("chains", "chnn", 3, 0),
        ("zero_shot", "shared_clnn", 3, 0),
        ("zero_shot", "shared_clnn", 10, 0),
    ]
    # Every run once: 6 models x 3 chains x 3 seeds, 2 zero-shot trainings x 3 seeds, and the
    # cost of 4 models on 4 chains.
    assert len(plan) == len(set(plan)) == 54 + 6 + 16
    assert {("cost", m, n, 0) for m in ("clnn", "chnn", "lnn", "hnn") for n in (6, 10)} <= set(
        plan
    )
