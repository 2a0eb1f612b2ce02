"""`benchmarks/lgn_wave.py`: its exact solution, test states and baseline, and its quick mode.

The benchmark's truth is the string's normal-mode solution in closed form; here it is checked
against SciPy integrating the string's finite-difference wave equation. The quick mode is run as
`make test` runs it, and must show what the full run relies on: the true system through the
benchmark's solver agrees with the closed form, and the solver keeps the LGN's own energy.
"""

import json
import math
import pathlib
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

from helpers import run_benchmark


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "lgn_wave.py"
sys.path.insert(0, str(BENCHMARKS))
import lgn_wave  # noqa: E402


def test_exact_solution_matches_scipy(getkey):
    system = lgn_wave.string(7)
    y0 = 0.3 * jax.random.normal(getkey(), (2, 14))  # any states, not only a few modes
    ts = jnp.linspace(0.0, 3.0, 31)
    closed = np.asarray(lgn_wave.truth(system, y0, ts))

    def field(t, y):  # u_tt = c^2 u_xx by central differences, u = 0 beyond both ends
        q = np.pad(y[:7], 1)
        return np.concatenate([y[7:], (q[2:] - 2 * q[1:-1] + q[:-2]) / 0.1**2])

    for b in range(2):
        solution = scipy.integrate.solve_ivp(
            field,
            (0.0, 3.0),
            np.asarray(y0[b]),
            method="DOP853",
            t_eval=np.asarray(ts),
            rtol=1e-12,
            atol=1e-12,
        )
        np.testing.assert_allclose(closed[b], solution.y.T, rtol=0, atol=1e-9)


def test_thermal_states_share_the_energy_equally_among_the_modes():
    # Equipartition: in the string's thermal equilibrium every normal mode holds, on average,
    # kinetic and potential energy 1/2 kT each, kT = rho dx v^2 for velocities of variance v^2.
    system = lgn_wave.string(7)
    states = jax.vmap(lambda key: lgn_wave.thermal_state(system, 1.5, key))(
        jax.random.split(jax.random.key(0), 40_000)
    )
    shapes, omegas = (np.asarray(a) for a in system.modes(7))
    mass = 0.1 * 8 / 2  # rho dx times the squared norm (n + 1) / 2 of a mode shape
    amplitudes = np.asarray(states[:, :7]) @ shapes.T / 4
    rates = np.asarray(states[:, 7:]) @ shapes.T / 4
    kinetic = np.mean(0.5 * mass * rates**2, axis=0)
    potential = np.mean(0.5 * mass * omegas**2 * amplitudes**2, axis=0)
    half_kt = 0.5 * 0.1 * 1.5**2
    np.testing.assert_allclose(kinetic, half_kt, rtol=0.05)
    np.testing.assert_allclose(potential, half_kt, rtol=0.05)
    # The ends stay at rest: the stretches, with the ghosts' zeros, add up to nothing.
    assert np.allclose(np.diff(np.pad(np.asarray(states[:, :7]), ((0, 0), (1, 1)))).sum(1), 0)


def test_long_grid_states_repeat_the_training_wavelengths():
    # Mode 10k of a string of 170 segments advances by the phase of mode k of one of 17 from
    # point to point: a long state begins as the short state drawn with the same numbers.
    short, long = lgn_wave.string(16), lgn_wave.string(169)
    key = jax.random.key(3)
    y_short = np.asarray(lgn_wave.initial_states(short, 1, 5, key))
    y_long = np.asarray(lgn_wave.initial_states(long, 10, 5, key))
    np.testing.assert_allclose(y_long[:, :16], y_short[:, :16], rtol=0, atol=1e-12)
    np.testing.assert_allclose(y_long[:, 169:185], y_short[:, 16:], rtol=0, atol=1e-12)
    # Both grids' states hold only the four chosen modes.
    shapes, _ = long.modes(169)
    weights = np.abs(y_long[:, :169] @ np.asarray(shapes).T)
    chosen = [9, 19, 29, 39]
    assert np.all(np.delete(weights, chosen, axis=1) < 1e-10 * weights.max())


@eqx.filter_jit
def rates(model, y):
    return model(0.0, y, None)


@eqx.filter_jit
def rates_jacobian(model, y):
    return jax.jacfwd(lambda y: model(0.0, y, None))(y)


def test_baseline_is_local_and_runs_on_any_grid(getkey):
    model = lgn_wave.LocalAcceleration.build(8, key=getkey(), width=8, depth=2)
    states = jax.random.normal(getkey(), (64, 16))
    model = model.adapt(states)
    y = states[0]
    jacobian = np.asarray(rates_jacobian(model, y))[8:]  # d q_tt / d y
    for block in (jacobian[:, :8], jacobian[:, 8:]):
        distance = np.abs(np.subtract.outer(np.arange(8), np.arange(8)))
        assert np.all(block[distance > 1] == 0)
        assert np.all(np.abs(np.diagonal(block, 1)) > 0)
    # On a longer string the first points see the same neighbourhood (and the fixed end).
    longer = model.resized(20)
    y_long = jnp.concatenate([y[:8], jnp.zeros(12), y[8:], jnp.zeros(12)])
    short_acceleration = rates(model, y)[8:]
    long_acceleration = rates(longer, y_long)[20:]
    np.testing.assert_allclose(long_acceleration[:7], short_acceleration[:7], rtol=1e-12)
    with pytest.raises(ValueError):
        longer(0.0, y, None)


def test_quick_mode(tmp_path):
    run_benchmark(SCRIPT, tmp_path, compilation_cache=True)
    document = json.loads((tmp_path / "lgn_wave.json").read_text())
    assert document["mode"] == "quick"
    assert document["partial"] is False
    rows = {row["model"]: row for row in document["rows"]}
    assert set(rows) == {"exact", "lgn", "baseline"}
    config = document["config"]
    for row in rows.values():
        assert row["test_points"] == 10 * (config["train_points"] + 1) - 1
        assert row["steps"] == config["rollout_steps"]
        assert 0 <= row["failed_rollouts"] <= row["rollouts"] == config["initial_states"]
        # The median takes a failed rollout as the worst: infinite only when half failed.
        assert math.isfinite(row["energy_drift"]) or 2 * row["failed_rollouts"] >= row["rollouts"]
    exact = rows["exact"]
    last = f"state_rmse_step_{config['rollout_steps']}"
    # The solver on the true system against the closed form: the floor of every other row.
    assert exact[last] < 1e-4 * exact["true_state_rms"]
    assert exact["energy_drift"] < 1e-4
    # The solver keeps the LGN's own energy, whatever the model learned.
    assert rows["lgn"]["failed_rollouts"] == 0
    assert rows["lgn"]["learned_energy_drift"] < 1e-4
    assert (tmp_path / "lgn_wave.md").exists()
    assert (tmp_path / "lgn_wave.png").exists()
    gif = tmp_path / "lgn_wave.gif"
    assert gif.stat().st_size < 1_000_000
    from PIL import Image

    with Image.open(gif) as image:
        assert image.format == "GIF"
        assert image.n_frames == config["gif_frames"]
