"""`benchmarks/n_body.py`: its orbits, coordinate maps, learned-force metric and quick mode.

The one-orbit experiment builds its orbits from orbital elements in closed form; here they are
checked against the invariants of the Kepler problem (energy, angular momentum, Runge-Lenz
vector) that `lz.systems.Kepler` computes independently. The learned-force metric is checked on
a pairwise model set to exact gravity, where its errors must vanish.
"""

import json
import math
import pathlib
import sys

import equinox as eqx
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest

from helpers import run_benchmark


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "n_body.py"
sys.path.insert(0, str(BENCHMARKS))
import n_body  # noqa: E402


def test_orbits_from_elements_have_the_kepler_invariants():
    rng = np.random.default_rng(0)
    e, a = rng.uniform(0.1, 0.8, 5), rng.uniform(0.5, 2.0, 5)
    periapsis, anomaly = rng.uniform(0, 2 * np.pi, 5), rng.uniform(0, 2 * np.pi, 5)
    states = n_body.relative_orbit_state(e, a, periapsis, anomaly)
    # The reduced problem of two unit masses with G = 1: mu = 1/2 about G (m1 + m2) = 2.
    kepler = lz.systems.Kepler(gm=2.0, mass=0.5)
    for state, e_i, a_i, w_i in zip(states, e, a, periapsis):
        q, v = jnp.asarray(state[:2]), jnp.asarray(state[2:])
        assert float(kepler.energy(q, v)) == pytest.approx(-2.0 * 0.5 / (2 * a_i), rel=1e-12)
        ell = 0.5 * math.sqrt(2.0 * a_i * (1 - e_i**2))  # mu sqrt(GM p), anticlockwise
        assert float(kepler.angular_momentum(q, v)) == pytest.approx(ell, rel=1e-12)
        runge_lenz = np.asarray(kepler.runge_lenz(q, v))  # along the periapsis, length GM mu^2 e
        assert np.linalg.norm(runge_lenz) == pytest.approx(2.0 * 0.25 * e_i, rel=1e-10)
        direction = math.atan2(runge_lenz[1], runge_lenz[0])
        assert math.remainder(direction - w_i, 2 * math.pi) == pytest.approx(0.0, abs=1e-10)


def test_coordinate_maps_are_inverse_and_keep_the_energy():
    rng = np.random.default_rng(1)
    relative = n_body.relative_orbit_state(
        rng.uniform(0.1, 0.6, 4), np.ones(4), rng.uniform(0, 6, 4), rng.uniform(0, 6, 4)
    )
    bodies = n_body.bodies_from_relative(relative)
    np.testing.assert_allclose(n_body.relative_from_bodies(bodies), relative, rtol=1e-15)
    # The centre of mass at rest at the origin, and the two-body energy is the reduced one.
    np.testing.assert_allclose(bodies[:, 0:2] + bodies[:, 2:4], 0.0, atol=1e-15)
    np.testing.assert_allclose(bodies[:, 4:6] + bodies[:, 6:8], 0.0, atol=1e-15)
    two_body, kepler = lz.systems.TwoBody(), lz.systems.Kepler(gm=2.0, mass=0.5)
    for b, r in zip(jnp.asarray(bodies), jnp.asarray(relative)):
        assert float(two_body.energy(b[:4], b[4:])) == pytest.approx(
            float(kepler.energy(r[:2], r[2:])), rel=1e-12
        )
    for frame, form in [("relative", "velocity"), ("relative", "canonical")]:
        there = n_body.to_model(bodies, frame, form)
        np.testing.assert_allclose(n_body.from_model(there, frame, form), bodies, rtol=1e-14)
    # Canonical relative momentum: p = mu r_t with mu = 1/2.
    canonical = n_body.to_model(bodies, "relative", "canonical")
    np.testing.assert_allclose(canonical[:, 2:], 0.5 * relative[:, 2:], rtol=1e-15)


def test_learned_force_metric_vanishes_for_exact_gravity(getkey):
    model = lz.models.PairwiseLagrangian(6, key=getkey(), width=8)
    # V(r) = -1/r through the linear feature l/r (l = 1 before adapting), the network zero.
    model = eqx.tree_at(lambda m: m.potential_network, model, lambda f: jnp.zeros((), f.dtype))
    model = eqx.tree_at(lambda m: m.potential_linear, model, jnp.asarray([0.0, -1.0, 0.0]))
    positions = np.random.default_rng(2).normal(size=(50, 6))
    learned = n_body.learned_potential(model, positions, bodies=3)
    for part in ("within", "near", "far"):
        assert learned[f"force_error_{part}"] < 1e-12
    # Twice the mass and twice the potential move the bodies alike: the same force per mass.
    heavier = eqx.tree_at(lambda m: m.log_mass, model, jnp.log(jnp.asarray([2.0])))
    heavier = eqx.tree_at(lambda m: m.potential_linear, heavier, jnp.asarray([0.0, -2.0, 0.0]))
    assert n_body.learned_potential(heavier, positions, bodies=3)["force_error_far"] < 1e-12
    # A wrong potential is seen: -1/r^2 is not gravity.
    wrong = eqx.tree_at(lambda m: m.potential_network, model, lambda f: -(f[1] ** 2))
    assert n_body.learned_potential(wrong, positions, bodies=3)["force_error_within"] > 0.1


def test_quick_mode_writes_every_experiment(tmp_path):
    run_benchmark(SCRIPT, tmp_path)
    document = json.loads((tmp_path / "n_body.json").read_text())
    assert document["mode"] == "quick" and not document["partial"]
    experiments = {row["experiment"] for row in document["rows"]}
    assert experiments == {"one_orbit", "zero_shot", "learned"}
    for row in document["rows"]:
        if row["experiment"] == "learned":
            assert math.isfinite(row["force_error_within"])
        else:
            assert row["rollouts"] > 0 and math.isfinite(row["seconds"])
    zero_shot = [r for r in document["rows"] if r["experiment"] == "zero_shot"]
    # Trained on three bodies and run on three and four (the full run also trains on four).
    assert {(r["trained_on"], r["bodies"]) for r in zero_shot} == {(3, 4), (3, 3)}
    for figure in document["config"]["figures"]:
        assert (tmp_path / figure).stat().st_size > 1000
