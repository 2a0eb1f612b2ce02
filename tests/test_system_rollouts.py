"""Rollouts of the analytic systems against closed-form motion and conservation laws."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


BATCH = 4
TIMES = 201
HORIZON = 20.0
TIGHT = {"solver": "tsit5", "rtol": 1e-10, "atol": 1e-10, "max_steps": 50_000}
KEPLER = {"solver": "dopri8", "rtol": 1e-12, "atol": 1e-12, "max_steps": 200_000}


@functools.cache
def _sampled_states():
    """Initial states from the samplers of the systems whose distribution matters here."""

    @eqx.filter_jit
    def sample(systems, keys):
        # One compilation for all three samplers.
        return {name: jax.vmap(system.sample_initial_state)(keys) for name, system in systems}

    systems = (
        ("two_body", lz.systems.TwoBody()),
        ("three_body", lz.systems.ThreeBody()),
        ("kepler", lz.systems.Kepler()),
    )
    return sample(systems, jax.random.split(jax.random.key(0), BATCH))


def _uniform(rng, low, high, size):
    return rng.uniform(low, high, size=(BATCH, size))


@eqx.filter_jit
def _along(function, ys):
    return lz.energy_along(function, ys)


def _energy_drift(system, ys):
    """max |E(t) - E(0)| over each trajectory, relative to the size of its terms.

    |E| + |L| >= max(|T|, |V|); its largest value along the trajectory is the scale (a falling
    ball's terms grow as it falls, while E stays put).
    """
    energy = np.asarray(_along(system.energy, jnp.asarray(ys)))
    lagrangian = np.asarray(_along(system.lagrangian, jnp.asarray(ys)))
    scale = np.max(np.abs(energy) + np.abs(lagrangian), axis=1, keepdims=True)
    return float(np.max(np.abs(energy - energy[:, :1]) / scale))


# Small-angle pendulum: amplitude 1e-3 at three phases, and one at 0.3 to show that the
# comparison with harmonic motion is sensitive.
PENDULUM_AMPLITUDES = np.array([1e-3, 1e-3, 1e-3, 0.3])
PENDULUM_PHASES = np.array([0.0, 1.0, 2.5, 0.7])
# Relativistic motion along the force: from rest, with it, and 0.8 c against it (it turns back).
RELATIVISTIC_SPEEDS = np.array([0.0, 0.5, -0.8, 0.9])


def _pendulum_states(system):
    omega = math.sqrt(system.gravity / system.length)
    q0 = PENDULUM_AMPLITUDES * np.cos(PENDULUM_PHASES)
    v0 = -PENDULUM_AMPLITUDES * omega * np.sin(PENDULUM_PHASES)
    return jnp.asarray(np.stack([q0, v0], axis=1))


def _along_force_states(dimensions):
    q0 = np.linspace(-1.0, 1.0, BATCH * dimensions).reshape(BATCH, dimensions)
    q_t0 = np.zeros((BATCH, dimensions))
    q_t0[:, -1] = RELATIVISTIC_SPEEDS
    return jnp.asarray(np.concatenate([q0, q_t0], axis=1))


def _product_members():
    # Simple uniform states where any state will do; the samplers' distributions are tested
    # in test_systems.py.
    rng = np.random.default_rng(0)
    pendulum = lz.systems.Pendulum()
    # The LNN paper's energetic training states (angular velocities up to 10), for the double
    # pendulum and the 2-link chain alike.
    training = np.concatenate([_uniform(rng, 0, 2 * np.pi, 2), _uniform(rng, -10, 10, 2)], 1)
    directions = rng.normal(size=(BATCH, 3))
    speeds = rng.uniform(0.0, 0.9, size=(BATCH, 1))
    sampled = _sampled_states()
    members = {
        "falling_ball": (lz.systems.FallingBall(dimensions=3), _uniform(rng, -1, 1, 6)),
        "spring": (lz.systems.Spring(), _uniform(rng, -1, 1, 2)),
        "pendulum": (pendulum, _pendulum_states(pendulum)),
        "double_pendulum": (lz.systems.DoublePendulum(), training),
        "pendulum_chain": (lz.systems.PendulumChain(links=2), training),
        "pendulum_chain_3": (
            lz.systems.PendulumChain(masses=(1.0, 0.5, 2.0), lengths=(0.7, 1.0, 1.3)),
            np.concatenate([_uniform(rng, -np.pi, np.pi, 3), _uniform(rng, -3, 3, 3)], 1),
        ),
        "two_body": (lz.systems.TwoBody(), sampled["two_body"]),
        "three_body": (lz.systems.ThreeBody(), sampled["three_body"]),
        "relativistic_particle": (lz.systems.RelativisticParticle(), _along_force_states(1)),
        "relativistic_particle_3d": (
            lz.systems.RelativisticParticle(dimensions=3),
            _along_force_states(3),
        ),
        "relativistic_particle_3d_oblique": (
            lz.systems.RelativisticParticle(dimensions=3),
            np.concatenate(
                [
                    _uniform(rng, -1, 1, 3),
                    speeds * directions / np.linalg.norm(directions, axis=1, keepdims=True),
                ],
                axis=1,
            ),
        ),
    }
    systems = {name: system for name, (system, _) in members.items()}
    states = {name: jnp.asarray(state) for name, (_, state) in members.items()}
    return systems, states


@pytest.fixture(scope="module")
def product():
    """Every system but Kepler, integrated together for t in [0, 20].

    The systems are independent, so integrating their states side by side as one product
    system is exact; it costs one compilation instead of one per system, and the step size,
    set by the most demanding member, only makes the others more accurate.
    """
    members, states = _product_members()
    sizes = [2 * system.dof for system in members.values()]
    splits = np.cumsum(sizes)[:-1].tolist()

    def field(t, y, args):
        pieces = jnp.split(y, splits)
        return jnp.concatenate(
            [system(t, piece, args) for system, piece in zip(members.values(), pieces)]
        )

    y0 = jnp.concatenate(list(states.values()), axis=1)
    ts = jnp.linspace(0.0, HORIZON, TIMES)
    ys = np.asarray(lz.rollout(field, y0, ts, **TIGHT))
    parts = np.split(ys, splits, axis=-1)
    return np.asarray(ts), {
        name: (system, part) for (name, system), part in zip(members.items(), parts)
    }


def test_falling_ball_is_a_parabola(product):
    ts, members = product
    system, ys = members["falling_ball"]
    q0, v0 = ys[:, :1, :3], ys[:, :1, 3:]
    t = ts[None, :, None]
    g = np.array([0.0, 0.0, -system.gravity])
    # Heights reach -2000: relative to that, a few ulps.
    np.testing.assert_allclose(ys[..., :3], q0 + v0 * t + 0.5 * g * t**2, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ys[..., 3:], v0 + g * t, rtol=0, atol=1e-10)


def test_spring_matches_its_closed_form(product):
    # Six periods of the HNN paper's spring (omega = 2).
    ts, members = product
    system, ys = members["spring"]
    omega = math.sqrt(system.stiffness / system.mass)
    q0, v0, t = ys[:, :1, 0], ys[:, :1, 1], ts[None, :]
    q = q0 * np.cos(omega * t) + v0 / omega * np.sin(omega * t)
    v = -q0 * omega * np.sin(omega * t) + v0 * np.cos(omega * t)
    amplitude = np.hypot(q0, v0 / omega)
    assert np.max(np.abs(ys[..., 0] - q) / amplitude) < 1e-8
    assert np.max(np.abs(ys[..., 1] - v) / (omega * amplitude)) < 1e-8


def test_small_angle_pendulum_matches_harmonic_motion(product):
    # At amplitude 1e-3 the anharmonic frequency shift omega * theta0^2 / 16 moves the phase
    # by 3e-6 over t = 20, so harmonic motion holds to 1e-5 of the amplitude; at amplitude
    # 0.3 it does not.
    ts, members = product
    system, ys = members["pendulum"]
    omega = math.sqrt(system.gravity / system.length)
    q0, v0, t = ys[:, :1, 0], ys[:, :1, 1], ts[None, :]
    harmonic = q0 * np.cos(omega * t) + v0 / omega * np.sin(omega * t)
    error = np.max(np.abs(ys[..., 0] - harmonic), axis=1) / PENDULUM_AMPLITUDES
    assert np.all(error[:3] < 1e-5)
    assert error[3] > 1e-2


def test_two_link_chain_rollout_is_the_double_pendulum(product):
    # Same steps, same start: differences start at rounding level and grow chaotically, so
    # compare over t in [0, 3].
    ts, members = product
    early = ts <= 3.0
    _, chain = members["pendulum_chain"]
    _, double = members["double_pendulum"]
    np.testing.assert_allclose(chain[:, early], double[:, early], rtol=0, atol=1e-9)
    # The states are energetic: the test covers fast, large motion.
    assert np.max(np.abs(double[:, early, 2:])) > 5


@jax.jit
def _relativistic_exact(system, q0, q_t0, ts):
    one = jax.vmap(system.exact_solution, in_axes=(None, None, 0))
    return jax.vmap(one, in_axes=(0, 0, None))(q0, q_t0, ts)


@pytest.mark.parametrize("name", ["relativistic_particle", "relativistic_particle_3d"])
def test_relativistic_particle_matches_constant_force_motion(product, name):
    ts, members = product
    system, ys = members[name]
    n = system.dof
    exact = np.asarray(
        _relativistic_exact(system, jnp.asarray(ys[:, 0, :n]), jnp.asarray(ys[:, 0, n:]), ts)
    )
    np.testing.assert_allclose(ys, exact, rtol=0, atol=1e-8)
    # Pushed for t = 20, the speed gets within 0.2% of c but never reaches it.
    speed = np.linalg.norm(ys[..., n:], axis=-1)
    assert np.all(speed < system.speed_of_light) and speed.max() > 0.998


def test_relativistic_particle_stays_below_light_speed(product):
    # Random directions in three dimensions, speeds up to 0.9 c.
    _, members = product
    system, ys = members["relativistic_particle_3d_oblique"]
    speed = np.linalg.norm(ys[..., 3:], axis=-1)
    assert np.all(speed < system.speed_of_light)
    assert speed[:, -1].min() > 0.99


# Bounds on the relative energy drift over t in [0, 20] (tsit5, rtol = atol = 1e-10), from 10
# to 100 times the measured drift. The shared step size is set by the energetic double
# pendulums (measured drift 2e-9), which makes the smooth systems (two bodies: 3e-15) nearly
# exact.
DRIFT = {
    "falling_ball": 1e-12,
    "spring": 1e-10,
    "pendulum": 2e-9,
    "double_pendulum": 1e-7,
    "pendulum_chain": 1e-7,
    "pendulum_chain_3": 1e-7,
    "two_body": 1e-10,
    "three_body": 2e-9,
    "relativistic_particle": 1e-10,
    "relativistic_particle_3d": 1e-10,
    "relativistic_particle_3d_oblique": 1e-10,
}


@pytest.mark.parametrize(("name", "bound"), DRIFT.items())
def test_energy_drift_over_long_rollouts(product, name, bound):
    _, members = product
    system, ys = members[name]
    assert np.all(np.isfinite(ys))
    assert _energy_drift(system, ys) < bound


@pytest.fixture(scope="module")
def kepler_orbit():
    """Four rotated copies of an orbit of eccentricity 0.5 and period 2 pi, 100 periods long."""
    system = lz.systems.Kepler()
    e, a = 0.5, 1.0
    periapsis = a * (1 - e)
    speed = math.sqrt(system.gm * (1 + e) / periapsis)
    period = 2 * math.pi * math.sqrt(a**3 / system.gm)
    states = []
    for angle in (0.0, 1.0, 2.0, 3.0):
        c, s = math.cos(angle), math.sin(angle)
        states.append([periapsis * c, periapsis * s, -speed * s, speed * c])
    ts = jnp.linspace(0.0, 100 * period, TIMES)
    ys = np.asarray(lz.rollout(system, jnp.asarray(states), ts, **KEPLER))
    return system, period, np.asarray(ts), ys


def test_kepler_period_closed_form(kepler_orbit):
    system, period, _, ys = kepler_orbit
    q, q_t = jnp.asarray(ys[0, 0, :2]), jnp.asarray(ys[0, 0, 2:])
    assert float(system.period(q, q_t)) == pytest.approx(period, rel=1e-14)


def test_kepler_orbit_returns_after_one_period():
    # Orbits drawn from the sampler (eccentricities up to 0.7), each integrated over exactly
    # one of its own periods 2 pi sqrt(a^3 / GM).
    system = lz.systems.Kepler()
    for state in np.asarray(_sampled_states()["kepler"]):
        period = float(system.period(jnp.asarray(state[:2]), jnp.asarray(state[2:])))
        ts = jnp.linspace(0.0, period, TIMES)
        # The batch of copies keeps the shapes of the other Kepler rollouts (one compilation).
        y0 = jnp.broadcast_to(jnp.asarray(state), (BATCH, 4))
        ys = np.asarray(lz.rollout(system, y0, ts, **KEPLER))[0]
        np.testing.assert_allclose(ys[-1], state, rtol=0, atol=1e-9)
        # Half-way round the body is elsewhere, so the check above can fail.
        assert np.max(np.abs(ys[TIMES // 2] - state)) > 0.1


@jax.jit
def _kepler_invariants(system, ys):
    flat = ys.reshape(-1, 4)
    q, q_t = flat[:, :2], flat[:, 2:]
    return (
        jax.vmap(system.energy)(q, q_t).reshape(BATCH, -1),
        jax.vmap(system.angular_momentum)(q, q_t).reshape(BATCH, -1),
        jax.vmap(system.runge_lenz)(q, q_t).reshape(BATCH, -1, 2),
    )


def test_kepler_conserves_energy_angular_momentum_and_runge_lenz(kepler_orbit):
    system, _, _, ys = kepler_orbit
    energy, momentum, runge_lenz = map(np.asarray, _kepler_invariants(system, jnp.asarray(ys)))
    # Bound over 100 periods: 1e-8 relative.
    assert np.max(np.abs(energy / energy[:, :1] - 1)) < 1e-8
    assert np.max(np.abs(momentum / momentum[:, :1] - 1)) < 1e-8
    length = np.linalg.norm(runge_lenz[:, :1], axis=2, keepdims=True)
    np.testing.assert_allclose(length[:, 0, 0], 0.5 * system.gm * system.mass**2, rtol=1e-12)
    assert np.max(np.abs(runge_lenz - runge_lenz[:, :1]) / length) < 1e-8
    # And the body is back at periapsis after 100 periods.
    np.testing.assert_allclose(ys[:, -1], ys[:, 0], rtol=0, atol=1e-7)


def test_kepler_polar_lagrangian_gives_the_same_orbit(kepler_orbit):
    system, period, _, ys = kepler_orbit
    gm, mass = system.gm, system.mass

    def polar_lagrangian(q, q_t):
        r, r_t, phi_t = q[0], q_t[0], q_t[1]
        return 0.5 * mass * (r_t**2 + r**2 * phi_t**2) + gm * mass / r

    start = ys[:, 0]
    x, y, vx, vy = (start[:, i] for i in range(4))
    r = np.hypot(x, y)
    y0 = np.stack([r, np.arctan2(y, x), (x * vx + y * vy) / r, (x * vy - y * vx) / r**2], axis=1)
    ts = jnp.linspace(0.0, 3 * period, TIMES)
    polar = np.asarray(
        lz.rollout(lz.lagrangian_vector_field(polar_lagrangian), jnp.asarray(y0), ts, **KEPLER)
    )
    cartesian = np.asarray(lz.rollout(system, jnp.asarray(start), ts, **KEPLER))
    r, phi, r_t, phi_t = (polar[..., i] for i in range(4))
    converted = np.stack(
        [
            r * np.cos(phi),
            r * np.sin(phi),
            r_t * np.cos(phi) - r * phi_t * np.sin(phi),
            r_t * np.sin(phi) + r * phi_t * np.cos(phi),
        ],
        axis=-1,
    )
    np.testing.assert_allclose(converted, cartesian, rtol=0, atol=1e-9)
    # The orbit sweeps r between periapsis a (1 - e) = 0.5 and apoapsis a (1 + e) = 1.5.
    assert r.min() == pytest.approx(0.5, rel=1e-9) and r.max() == pytest.approx(1.5, rel=1e-3)
