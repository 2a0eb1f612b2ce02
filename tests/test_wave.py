"""The string (`wave`): closed forms against the engine and against exact discrete waves."""

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


BOUNDARIES = ("fixed", "free", "periodic")


def random_state(key, n, scale=0.5):
    q_key, v_key = jax.random.split(key)
    return scale * jax.random.normal(q_key, (n,)), scale * jax.random.normal(v_key, (n,))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("quartic, sine_gordon", [(0.0, 0.0), (0.7, 3.0)])
def test_closed_form_acceleration_matches_the_engine(getkey, boundary, quartic, sine_gordon):
    system = lz.systems.get(
        "wave",
        points=9,
        boundary=boundary,
        wave_speed=1.3,
        spacing=0.2,
        density=2.5,
        quartic=quartic,
        sine_gordon=sine_gordon,
    )
    q, q_t = random_state(getkey(), 9)
    dense = lz.euler_lagrange(system.lagrangian)(q, q_t)
    banded = lz.euler_lagrange(
        system.lagrangian, mass_bandwidth=1, mass_periodic=boundary == "periodic"
    )(q, q_t)
    closed = system.acceleration(q, q_t)
    scale = float(jnp.max(jnp.abs(dense)))
    np.testing.assert_allclose(closed, dense, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(banded, dense, rtol=0, atol=1e-12 * scale)


def test_closed_form_lagrangian_and_energy_by_hand():
    # Three points, fixed ends: edges (0,1), (1,2), (2,3), (3,4) with ghosts q_0 = q_4 = 0.
    system = lz.systems.get(
        "wave", points=3, spacing=0.5, wave_speed=2.0, density=3.0, quartic=0.4, sine_gordon=1.5
    )
    q, q_t = jnp.array([0.1, -0.2, 0.3]), jnp.array([1.0, 2.0, -1.0])
    stretch = np.diff(np.concatenate([[0.0], np.asarray(q), [0.0]]))
    kinetic = 0.5 * 3.0 * 0.5 * np.sum(np.asarray(q_t) ** 2)
    springs = 3.0 * 4.0 / (2 * 0.5) * np.sum(stretch**2 + 0.5 * 0.4 * stretch**4 / 0.25)
    onsite = 3.0 * 0.5 * 1.5 * np.sum(1 - np.cos(np.asarray(q)))
    np.testing.assert_allclose(system.lagrangian(q, q_t), kinetic - springs - onsite, rtol=1e-14)
    np.testing.assert_allclose(system.energy(q, q_t), kinetic + springs + onsite, rtol=1e-14)


def _exact_rollout(system, y0, ts):
    return lz.rollout(system, y0, ts, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("mode", [1, 3])
def test_fixed_ends_standing_wave(mode):
    n, c, dx, amplitude = 16, 1.5, 0.1, 0.2
    system = lz.systems.get("wave", points=n, wave_speed=c, spacing=dx)
    i = np.arange(1, n + 1)
    shape = amplitude * np.sin(mode * np.pi * i / (n + 1))
    omega = 2 * c / dx * np.sin(mode * np.pi / (2 * (n + 1)))
    ts = jnp.linspace(0.0, 4 * 2 * np.pi / omega, 41)  # four periods
    ys = _exact_rollout(system, jnp.concatenate([jnp.asarray(shape), jnp.zeros(n)]), ts)
    exact = shape[None, :] * np.cos(omega * np.asarray(ts))[:, None]
    np.testing.assert_allclose(ys[:, :n], exact, rtol=0, atol=1e-8)


def test_free_ends_standing_wave():
    n, c, dx, mode = 12, 1.0, 0.25, 2
    system = lz.systems.get("wave", points=n, wave_speed=c, spacing=dx, boundary="free")
    i = np.arange(1, n + 1)
    shape = 0.3 * np.cos(mode * np.pi * (i - 0.5) / n)
    omega = 2 * c / dx * np.sin(mode * np.pi / (2 * n))
    ts = jnp.linspace(0.0, 3 * 2 * np.pi / omega, 31)
    ys = _exact_rollout(system, jnp.concatenate([jnp.asarray(shape), jnp.zeros(n)]), ts)
    exact = shape[None, :] * np.cos(omega * np.asarray(ts))[:, None]
    np.testing.assert_allclose(ys[:, :n], exact, rtol=0, atol=1e-8)


def test_periodic_travelling_wave():
    n, c, dx, m, amplitude = 20, 0.8, 0.05, 2, 0.1
    system = lz.systems.get("wave", points=n, wave_speed=c, spacing=dx, boundary="periodic")
    kappa = 2 * np.pi * m / n
    omega = 2 * c / dx * np.sin(kappa / 2)
    i = np.arange(n)
    ts = np.linspace(0.0, 3 * 2 * np.pi / omega, 31)
    y0 = jnp.asarray(
        np.concatenate([amplitude * np.cos(kappa * i), amplitude * omega * np.sin(kappa * i)])
    )
    ys = np.asarray(_exact_rollout(system, y0, jnp.asarray(ts)))
    exact = amplitude * np.cos(kappa * i[None, :] - omega * ts[:, None])
    np.testing.assert_allclose(ys[:, :n], exact, rtol=0, atol=1e-8)
    # The wave moves: after a quarter period the crest has left point 0.
    assert abs(ys[len(ts) // 12, 0] - ys[0, 0]) > 0.05


def test_modes_match_the_closed_form_frequencies():
    for boundary in BOUNDARIES:
        system = lz.systems.get("wave", points=10, boundary=boundary, spacing=0.3)
        shapes, omegas = system.modes(4)
        for shape, omega in zip(shapes, omegas):
            acc = system.acceleration(shape, jnp.zeros(10))
            np.testing.assert_allclose(acc, -(omega**2) * shape, rtol=0, atol=1e-12)


def test_nonlinear_string_conserves_energy_over_a_long_rollout(getkey):
    system = lz.systems.get("wave", points=32, spacing=0.1, quartic=0.5, sine_gordon=4.0)
    y0 = system.sample_initial_state(getkey()) * 5.0
    ts = jnp.linspace(0.0, 200.0, 201)
    ys = lz.rollout(system, y0, ts, solver="verlet", dt0=0.005)
    energy = lz.energy_along(system.energy, ys)
    error = np.abs(np.asarray(energy - energy[0])) / float(energy[0])
    # Störmer-Verlet: an O(dt^2) error that oscillates and does not grow over 40,000 steps.
    assert error.max() < 3e-3
    assert error[100:].max() < 1.5 * error[:101].max()
    assert float(jnp.max(jnp.abs(ys[:, :32]))) > 0.1  # it moved


@pytest.mark.parametrize(
    "params, words",
    [
        ({"boundary": "clamped"}, "`boundary` must be one of 'fixed', 'free', 'periodic'"),
        ({"points": 0}, "`points` must be a positive int"),
        ({"points": 2, "boundary": "periodic"}, "periodic string needs `points` >= 3"),
        ({"spacing": 0.0}, "parameter `spacing` must be positive"),
        ({"wave_speed": -1.0}, "parameter `wave_speed` must be positive"),
        ({"quartic": -0.1}, "parameter `quartic` must be finite and >= 0"),
        ({"sine_gordon": float("nan")}, "parameter `sine_gordon` must be finite and >= 0"),
    ],
)
def test_bad_settings_are_refused(params, words):
    with pytest.raises(ValueError, match=words):
        lz.systems.get("wave", **params)


def test_registry_and_sampler(getkey):
    assert "wave" in lz.systems.names()
    system = lz.systems.get("wave", points=7)
    assert system.dof == 7 and system.periodic == (False,) * 7
    y = system.sample_initial_state(getkey())
    assert y.shape == (14,) and bool(jnp.all(jnp.isfinite(y)))
    # A new parameter value runs the same compiled program (parameters are leaves).
    field = jax.jit(lambda s, y: s(0.0, y, None))
    field(system, y)
    field(lz.systems.get("wave", points=7, wave_speed=2.0), y)
    assert field._cache_size() == 1
