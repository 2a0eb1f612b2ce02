"""The analytic systems: closed forms against the Euler-Lagrange engine, samplers, registry."""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from helpers import relative_error


SYSTEM_NAMES = (
    "double_pendulum",
    "falling_ball",
    "kepler",
    "pendulum",
    "pendulum_chain",
    "relativistic_particle",
    "spring",
    "three_body",
    "two_body",
)
CLASSES = {
    "double_pendulum": lz.systems.DoublePendulum,
    "falling_ball": lz.systems.FallingBall,
    "kepler": lz.systems.Kepler,
    "pendulum": lz.systems.Pendulum,
    "pendulum_chain": lz.systems.PendulumChain,
    "relativistic_particle": lz.systems.RelativisticParticle,
    "spring": lz.systems.Spring,
    "three_body": lz.systems.ThreeBody,
    "two_body": lz.systems.TwoBody,
}
HYPOTHESIS = settings(max_examples=12, deadline=None, derandomize=True)

positive = st.floats(0.3, 3.0)


def _tuple(size):
    return st.tuples(*([positive] * size))


@st.composite
def _chain_parameters(draw):
    # One and two links are compared with the pendulum and the double pendulum elsewhere;
    # few distinct sizes keep the number of compilations small.
    links = draw(st.sampled_from([2, 3]))
    return {
        "masses": draw(_tuple(links)),
        "lengths": draw(_tuple(links)),
        "gravity": draw(positive),
    }


PARAMETERS = {
    "double_pendulum": st.fixed_dictionaries(
        {"masses": _tuple(2), "lengths": _tuple(2), "gravity": positive}
    ),
    "falling_ball": st.fixed_dictionaries(
        {"mass": positive, "gravity": positive, "dimensions": st.sampled_from([1, 3])}
    ),
    "kepler": st.fixed_dictionaries({"gm": positive, "mass": positive}),
    "pendulum": st.fixed_dictionaries({"mass": positive, "length": positive, "gravity": positive}),
    "pendulum_chain": _chain_parameters(),
    "relativistic_particle": st.fixed_dictionaries(
        {
            "mass": positive,
            "speed_of_light": positive,
            "gravity": st.floats(-3.0, 3.0),
            "dimensions": st.sampled_from([1, 3]),
        }
    ),
    "spring": st.fixed_dictionaries({"mass": positive, "stiffness": positive}),
    "three_body": st.fixed_dictionaries({"masses": _tuple(3), "gravitational_constant": positive}),
    "two_body": st.fixed_dictionaries({"masses": _tuple(2), "gravitational_constant": positive}),
}


def _vector(draw, size, low=-3.0, high=3.0):
    return np.array(draw(st.lists(st.floats(low, high), min_size=size, max_size=size)))


def _draw_state(draw, system):
    """A physically valid state: bodies apart, speeds below c."""
    n = system.dof
    if isinstance(system, lz.systems.Kepler):
        radius, angle = draw(st.floats(0.3, 3.0)), draw(st.floats(0.0, 2 * math.pi))
        q = radius * np.array([math.cos(angle), math.sin(angle)])
    else:
        q = _vector(draw, n)
    if isinstance(system, lz.systems.AbstractNBody):
        positions = q.reshape(-1, 2)
        gaps = [
            np.linalg.norm(positions[i] - positions[j])
            for i in range(len(positions))
            for j in range(i)
        ]
        assume(min(gaps) > 0.3)
    if isinstance(system, lz.systems.RelativisticParticle):
        direction = _vector(draw, n, -1.0, 1.0)
        assume(np.linalg.norm(direction) > 0.1)
        speed = draw(st.floats(0.0, 0.99)) * system.speed_of_light
        q_t = speed * direction / np.linalg.norm(direction)
    else:
        q_t = _vector(draw, n)
    return jnp.asarray(q), jnp.asarray(q_t)


@eqx.filter_jit
def _sample_all(samplers, keys):
    return {label: jax.vmap(sampler)(keys) for label, sampler in samplers}


def _samplers():
    """Every system's sampler with its defaults, and a few with other settings."""
    double = lz.systems.DoublePendulum()
    samplers = [(name, lz.systems.get(name).sample_initial_state) for name in SYSTEM_NAMES]
    samplers += [
        ("double_pendulum_training", double.sample_training_state),
        ("falling_ball_3d", lz.systems.FallingBall(dimensions=3).sample_initial_state),
        ("kepler_custom", KEPLER_CUSTOM.sample_initial_state),
        ("pendulum_chain_5", lz.systems.PendulumChain(links=5).sample_initial_state),
        ("relativistic_particle_3d", RELATIVISTIC_3D.sample_initial_state),
    ]
    return tuple(samplers)


KEPLER_CUSTOM = lz.systems.Kepler(gm=2.0, eccentricity_range=(0.1, 0.6))
RELATIVISTIC_3D = lz.systems.RelativisticParticle(dimensions=3, speed_of_light=2.0)


@functools.cache
def _all_default_samples(seed=0, count=2000):
    """`count` initial states from every sampler (one compilation for all)."""
    samples = _sample_all(_samplers(), jax.random.split(jax.random.key(seed), count))
    return {label: np.asarray(value) for label, value in samples.items()}


def _default_samples(name):
    return _all_default_samples()[name]


@jax.jit
def _evaluate(system, q, q_t):
    """Closed forms, the engine's results from the Lagrangian, and the vector field."""
    return {
        "acceleration": system.acceleration(q, q_t),
        "euler_lagrange": lz.euler_lagrange(system.lagrangian)(q, q_t),
        "energy": system.energy(q, q_t),
        "lagrangian_energy": lz.lagrangian_energy(system.lagrangian)(q, q_t),
        "lagrangian": system.lagrangian(q, q_t),
        "field": system(0.0, jnp.concatenate([q, q_t]), None),
    }


def _check_closed_forms(system, q, q_t):
    out = {key: np.asarray(value) for key, value in _evaluate(system, q, q_t).items()}
    assert out["acceleration"].shape == (system.dof,)
    assert relative_error(out["acceleration"], out["euler_lagrange"]) < 1e-10
    # |E| + |L| >= max(|T|, |V|): relative to the size of the terms, also where the energy
    # itself is near zero because of where the potential's zero lies.
    scale = max(abs(out["lagrangian_energy"]) + abs(out["lagrangian"]), 1e-300)
    assert abs(out["energy"] - out["lagrangian_energy"]) / scale < 1e-10
    np.testing.assert_array_equal(out["field"][: system.dof], q_t)
    np.testing.assert_array_equal(out["field"][system.dof :], out["acceleration"])
    return out


def test_registry_lists_every_system():
    assert set(SYSTEM_NAMES) <= set(lz.systems.names())
    assert lz.systems.names() == sorted(lz.systems.names())
    for name, cls in CLASSES.items():
        system = lz.systems.get(name)
        assert type(system) is cls
        assert cls.name == name
        assert len(system.periodic) == system.dof


@pytest.mark.parametrize("name", SYSTEM_NAMES)
def test_default_closed_forms_match_euler_lagrange(name):
    # The papers' settings and initial states; compiled once with the drawn ones below.
    system = lz.systems.get(name)
    for state in _default_samples(name)[:4]:
        q, q_t = lz.split_state(jnp.asarray(state))
        _check_closed_forms(system, q, q_t)


@pytest.mark.parametrize("name", SYSTEM_NAMES)
@HYPOTHESIS
@given(data=st.data())
def test_closed_forms_match_euler_lagrange(name, data):
    system = lz.systems.get(name, **data.draw(PARAMETERS[name]))
    q, q_t = _draw_state(data.draw, system)
    _check_closed_forms(system, q, q_t)


def test_every_system_works_in_float32():
    systems = tuple((name, lz.systems.get(name)) for name in SYSTEM_NAMES)
    states = {name: jnp.asarray(_default_samples(name)[0], jnp.float32) for name in SYSTEM_NAMES}

    @eqx.filter_jit
    def evaluate(systems, states):
        # One compilation for every system.
        out = {}
        for name, system in systems:
            q, q_t = lz.split_state(states[name])
            out[name] = (
                system.lagrangian(q, q_t),
                system.energy(q, q_t),
                system(0.0, states[name], None),
            )
        return out

    outputs = evaluate(systems, states)
    for name, system in systems:
        for value in outputs[name]:
            assert value.dtype == jnp.float32
            assert np.all(np.isfinite(np.asarray(value)))
        q, q_t = lz.split_state(jnp.asarray(_default_samples(name)[0]))
        reference = _evaluate(system, q, q_t)["acceleration"]
        acceleration = np.asarray(outputs[name][2][system.dof :], dtype=np.float64)
        assert relative_error(acceleration, np.asarray(reference)) < 1e-4, name


def test_sampler_shapes_and_determinism():
    again, other = _all_default_samples.__wrapped__(), _all_default_samples(seed=1)
    for name in SYSTEM_NAMES:
        batch = _default_samples(name)
        assert batch.shape == (2000, 2 * lz.systems.get(name).dof)
        assert batch.dtype == np.float64
        assert np.all(np.isfinite(batch))
        # The same key gives the same states, other keys others.
        np.testing.assert_array_equal(batch, again[name])
        assert np.all(np.any(batch != other[name], axis=1))
        assert np.min(np.std(batch, axis=0)) > 0


@pytest.mark.parametrize(
    ("name", "mass", "low", "high"), [("spring", 0.5, 0.1, 1.0), ("pendulum", 0.5, 1.3, 2.3)]
)
def test_hnn_samplers_lie_on_circles_in_phase_space(name, mass, low, high):
    y = _default_samples(name)
    q, p = y[:, 0], mass * y[:, 1]
    radius = np.hypot(q, p)
    assert radius.min() >= low and radius.max() <= high
    # The radius spans its interval and the angle the whole circle.
    assert radius.min() < low + 0.01 and radius.max() > high - 0.01
    assert np.all(np.histogram(np.arctan2(p, q), bins=4, range=(-np.pi, np.pi))[0] > 400)


def test_double_pendulum_samplers_follow_the_lnn_paper():
    test = _default_samples("double_pendulum")
    assert np.all((test[:, :2] >= 0) & (test[:, :2] < 2 * np.pi))
    assert np.all((test[:, 2:] >= 0) & (test[:, 2:] < 0.1))
    assert test[:, :2].max() > 6.2 and test[:, 2:].max() > 0.099
    train = _default_samples("double_pendulum_training")
    assert train.shape == (2000, 4)
    assert np.all((train[:, :2] >= 0) & (train[:, :2] < 2 * np.pi))
    assert np.all((train[:, 2:] >= -10) & (train[:, 2:] < 10))
    assert train[:, 2:].min() < -9.9 and train[:, 2:].max() > 9.9


def test_double_pendulum_max_potential_energy():
    system = lz.systems.DoublePendulum()
    assert float(system.max_potential_energy) == pytest.approx(3 * 1.0 * 9.8 * 1.0, rel=1e-14)
    assert float(system.max_potential_energy) == pytest.approx(29.4, rel=1e-14)


@jax.jit
def _potential_on_grid(system):
    angles = jnp.linspace(0.0, 2 * jnp.pi, 61)
    grid = jnp.stack(jnp.meshgrid(angles, angles), axis=-1).reshape(-1, 2)
    return jax.vmap(lambda q: system.energy(q, jnp.zeros_like(q)))(grid)


@HYPOTHESIS
@given(parameters=PARAMETERS["double_pendulum"])
def test_max_potential_energy_is_the_potential_maximum(parameters):
    system = lz.systems.DoublePendulum(**parameters)
    # Both rods upright (q = pi, pi) is the maximum, and it is on the grid.
    maximum = float(np.max(np.asarray(_potential_on_grid(system))))
    assert maximum == pytest.approx(float(system.max_potential_energy), rel=1e-12)


def test_falling_ball_sampler():
    for dimensions, label in ((1, "falling_ball"), (3, "falling_ball_3d")):
        y = _default_samples(label)
        assert y.shape == (2000, 2 * dimensions)
        horizontal, height, q_t = (
            y[:, : dimensions - 1],
            y[:, dimensions - 1],
            y[:, dimensions:],
        )
        assert np.all(np.abs(horizontal) <= 1) and np.all(np.abs(q_t) <= 1)
        assert np.all((height >= 0) & (height <= 2))
        assert height.max() > 1.9 and q_t.min() < -0.9


@jax.jit
def _kepler_invariants(system, y):
    q, q_t = y[:, :2], y[:, 2:]
    return (
        jax.vmap(system.energy)(q, q_t),
        jax.vmap(system.runge_lenz)(q, q_t),
        jax.vmap(system.angular_momentum)(q, q_t),
    )


def test_kepler_sampler_gives_bound_orbits_in_range():
    system = KEPLER_CUSTOM
    y = _default_samples("kepler_custom")
    energy, runge_lenz, angular_momentum = map(np.asarray, _kepler_invariants(system, y))
    assert np.all(energy < 0)
    semi_major = -system.gm * system.mass / (2 * energy)
    assert np.all((semi_major >= 0.5 - 1e-12) & (semi_major <= 1.5 + 1e-12))
    # |A| = mu m^2 e
    eccentricity = np.linalg.norm(runge_lenz, axis=1) / (system.gm * system.mass**2)
    assert np.all((eccentricity >= 0.1 - 1e-12) & (eccentricity <= 0.6 + 1e-12))
    assert eccentricity.min() < 0.12 and eccentricity.max() > 0.58
    # Anticlockwise orbits.
    assert np.all(angular_momentum > 0)


def test_kepler_circular_orbit_quantities():
    gm, radius, mass = 2.5, 1.7, 0.8
    system = lz.systems.Kepler(gm=gm, mass=mass)
    speed = math.sqrt(gm / radius)
    q, q_t = jnp.array([radius, 0.0]), jnp.array([0.0, speed])
    assert float(system.period(q, q_t)) == pytest.approx(2 * math.pi * radius / speed, rel=1e-13)
    assert float(system.angular_momentum(q, q_t)) == pytest.approx(mass * radius * speed)
    np.testing.assert_allclose(system.runge_lenz(q, q_t), [0.0, 0.0], atol=1e-13)
    np.testing.assert_allclose(
        system.acceleration(q, q_t), [-(speed**2) / radius, 0.0], rtol=1e-13
    )
    escape = jnp.array([0.0, 1.01 * math.sqrt(2 * gm / radius)])
    assert float(system.period(q, escape)) == math.inf


def test_two_body_sampler_follows_the_hnn_paper():
    y = _default_samples("two_body")
    first, second = y[:, 0:2], y[:, 2:4]
    v1, v2 = y[:, 4:6], y[:, 6:8]
    assert np.all((first >= 0.5) & (first <= 1.5))
    np.testing.assert_array_equal(second, -first)
    np.testing.assert_allclose(v2, -v1, atol=1e-15)
    r = np.linalg.norm(first, axis=1)
    # Perpendicular to the radius, anticlockwise.
    np.testing.assert_allclose(np.sum(first * v1, axis=1), 0.0, atol=1e-14)
    assert np.all(first[:, 0] * v1[:, 1] - first[:, 1] * v1[:, 0] > 0)
    # Circular speed 1 / (2 sqrt(r)) times 1 + 0.05 N(0, 1).
    ratio = np.linalg.norm(v1, axis=1) * 2 * np.sqrt(r)
    assert abs(ratio.mean() - 1) < 0.005
    assert 0.046 < ratio.std() < 0.054


def test_two_body_circular_speed_is_circular():
    # Without the noise factor the sampled speed gives a circular orbit: gravity supplies the
    # centripetal acceleration v^2 / r of each body about the centre of mass.
    system = lz.systems.TwoBody(masses=(1.0, 3.0), gravitational_constant=2.0)
    positions = jnp.array([[0.8, 1.1], [-0.8, -1.1]])
    velocities = system._rigid_rotation(positions, 2 * jnp.linalg.norm(positions[0]))
    q, q_t = positions.reshape(-1), velocities.reshape(-1)
    centre = system.centre_of_mass(q)
    acc = system.acceleration(q, q_t).reshape(-1, 2)
    relative = positions - centre[None, :]
    speed2 = jnp.sum(velocities**2, axis=1)
    expected = -speed2[:, None] * relative / jnp.sum(relative**2, axis=1)[:, None]
    np.testing.assert_allclose(acc, expected, rtol=1e-12)
    np.testing.assert_allclose(jnp.array([1.0, 3.0]) @ velocities, 0.0, atol=1e-14)


def _turned(vectors, angle):
    """`vectors` (..., 2) turned anticlockwise by `angle`."""
    c, s = math.cos(angle), math.sin(angle)
    return np.stack(
        [c * vectors[..., 0] - s * vectors[..., 1], s * vectors[..., 0] + c * vectors[..., 1]],
        axis=-1,
    )


def test_three_body_sampler_follows_the_hnn_repository():
    # experiment-3body/data.py of the HNN repository, as PAPERS.md gives it.
    y = _default_samples("three_body")
    positions, velocities = y[:, :6].reshape(-1, 3, 2), y[:, 6:].reshape(-1, 3, 2)
    first = positions[:, 0]
    radius = np.linalg.norm(first, axis=1)
    assert np.all((radius >= 0.9) & (radius <= 1.2))
    assert radius.min() < 0.91 and radius.max() > 1.19
    assert abs(radius.mean() - 1.05) < 0.005
    # The other two on the same circle at +120 and +240 degrees.
    np.testing.assert_allclose(positions[:, 1], _turned(first, 2 * math.pi / 3), atol=1e-13)
    np.testing.assert_allclose(positions[:, 2], _turned(first, 4 * math.pi / 3), atol=1e-13)
    # The direction of a point uniform in the square [-1, 1]^2: within pi / 8 of a diagonal
    # with probability 1 - tan(pi / 8) = 0.586 (0.5 for a uniform angle); sd 0.011 here.
    angle = np.arctan2(first[:, 1], first[:, 0])
    near_diagonal = np.abs((angle % (math.pi / 2)) - math.pi / 4) < math.pi / 8
    assert abs(near_diagonal.mean() - (1 - math.tan(math.pi / 8))) < 0.04
    # Circular velocity: the radius vector turned by 90 degrees, over r^1.5, times
    # sqrt(sin(pi / 3) / (2 cos^2(pi / 6))); each component then times 1 + U(-0.2, 0.2).
    factor = math.sqrt(math.sin(math.pi / 3) / (2 * math.cos(math.pi / 6) ** 2))
    circular = _turned(positions, math.pi / 2) / radius[:, None, None] ** 1.5 * factor
    defined = np.abs(circular) > 0.05  # a component near zero says nothing of its factor
    ratio = velocities[defined] / circular[defined]
    assert np.all((ratio >= 0.8) & (ratio <= 1.2))
    assert ratio.min() < 0.801 and ratio.max() > 1.199
    assert abs(ratio.mean() - 1) < 0.005
    assert abs(ratio.std() - 0.4 / math.sqrt(12)) < 0.005
    # One factor per component of each body: the two components of a body vary apart.
    both = np.all(defined[:, 0], axis=1)
    x_factor = velocities[both, 0, 0] / circular[both, 0, 0]
    y_factor = velocities[both, 0, 1] / circular[both, 0, 1]
    assert abs(np.corrcoef(x_factor, y_factor)[0, 1]) < 0.1


def test_three_body_lagrange_solution_rotates_rigidly():
    system = lz.systems.ThreeBody()
    radius = 1.1
    angles = jnp.array([0.3, 0.3 + 2 * jnp.pi / 3, 0.3 + 4 * jnp.pi / 3])
    positions = radius * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
    velocities = system._rigid_rotation(positions, jnp.asarray(math.sqrt(3) * radius))
    acc = system.acceleration(positions.reshape(-1), velocities.reshape(-1)).reshape(-1, 2)
    omega2 = 1 / (math.sqrt(3) * radius**3)
    np.testing.assert_allclose(acc, -omega2 * positions, rtol=1e-12)


def test_relativistic_sampler():
    y = _default_samples("relativistic_particle")
    assert np.all(np.abs(y[:, 0]) <= 1) and np.all(np.abs(y[:, 1]) < 0.9)
    assert y[:, 1].min() < -0.89 and y[:, 1].max() > 0.89
    y = _default_samples("relativistic_particle_3d")
    q, q_t = y[:, :3], y[:, 3:]
    assert np.all(np.abs(q) <= 1)
    speed = np.linalg.norm(q_t, axis=1)
    assert np.all(speed < 0.9 * 2.0) and speed.max() > 0.89 * 2.0
    # Directions cover the sphere.
    assert np.all(np.abs(np.mean(q_t / speed[:, None], axis=0)) < 0.1)


def test_chain_samples_like_the_double_pendulum():
    np.testing.assert_array_equal(
        _default_samples("pendulum_chain"), _default_samples("double_pendulum")
    )
    y = _default_samples("pendulum_chain_5")
    assert y.shape == (2000, 10)
    assert np.all((y[:, :5] >= 0) & (y[:, :5] < 2 * np.pi))
    assert np.all((y[:, 5:] >= 0) & (y[:, 5:] < 0.1))


@HYPOTHESIS
@given(data=st.data())
def test_two_link_chain_is_the_double_pendulum(data):
    parameters = data.draw(PARAMETERS["double_pendulum"])
    double = lz.systems.DoublePendulum(**parameters)
    chain = lz.systems.PendulumChain(**parameters)
    q, q_t = _draw_state(data.draw, double)
    assert chain.dof == 2 and chain.periodic == (True, True)
    chain_out, double_out = _evaluate(chain, q, q_t), _evaluate(double, q, q_t)
    assert relative_error(chain_out["acceleration"], double_out["acceleration"]) < 1e-11
    scale = 1 + abs(float(double_out["lagrangian"])) + abs(float(double_out["energy"]))
    for key in ("lagrangian", "energy"):
        assert abs(float(chain_out[key] - double_out[key])) <= 1e-12 * scale


@HYPOTHESIS
@given(data=st.data())
def test_one_link_chain_is_the_pendulum(data):
    mass, length, gravity = data.draw(st.tuples(positive, positive, positive))
    chain = lz.systems.PendulumChain(masses=(mass,), lengths=(length,), gravity=gravity)
    pendulum = lz.systems.Pendulum(mass=mass, length=length, gravity=gravity)
    q, q_t = _draw_state(data.draw, pendulum)
    chain_out, pendulum_out = _evaluate(chain, q, q_t), _evaluate(pendulum, q, q_t)
    assert relative_error(chain_out["acceleration"], pendulum_out["acceleration"]) < 1e-12
    # The potentials differ by the constant m g l (zero at the pivot, not at the bottom).
    assert float(chain_out["energy"] + mass * gravity * length) == pytest.approx(
        float(pendulum_out["energy"]), rel=1e-12, abs=1e-12
    )


def test_chain_mass_matrix_matches_autodiff(getkey):
    chain = lz.systems.PendulumChain(masses=(1.0, 2.0, 0.5, 1.5), lengths=(0.5, 1.0, 2.0, 1.2))
    q = jax.random.uniform(getkey(), (4,), minval=-3.0, maxval=3.0)
    q_t = jax.random.uniform(getkey(), (4,), minval=-3.0, maxval=3.0)
    closed, autodiff = jax.jit(
        lambda q, q_t: (chain.mass_matrix(q), lz.mass_matrix(chain.lagrangian)(q, q_t))
    )(q, q_t)
    np.testing.assert_allclose(closed, autodiff, rtol=1e-12, atol=1e-14)
    # Symmetric positive definite.
    assert np.all(np.linalg.eigvalsh(np.asarray(closed)) > 0)


def test_chain_parameters():
    chain = lz.systems.get("pendulum_chain", links=4)
    assert chain.dof == 4
    assert np.asarray(chain.masses).tolist() == [1.0] * 4
    assert np.asarray(chain.lengths).tolist() == [1.0] * 4
    chain = lz.systems.get("pendulum_chain", masses=(1.0, 2.0, 3.0))
    assert chain.dof == 3 and np.asarray(chain.lengths).tolist() == [1.0, 1.0, 1.0]
    assert lz.systems.get("pendulum_chain").dof == 2


@jax.jit
def _exact_and_derivative(system, q0, q_t0, ts):
    exact = jax.vmap(system.exact_solution, in_axes=(None, None, 0))(q0, q_t0, ts)
    derivative = jax.vmap(jax.jacfwd(system.exact_solution, argnums=2), in_axes=(None, None, 0))(
        q0, q_t0, ts
    )
    field = jax.vmap(lambda y: system(0.0, y, None))(exact)
    return exact, derivative, field


def test_relativistic_exact_solution_solves_the_equations(getkey):
    # d/dt of the closed-form solution is the closed-form vector field, and it starts at y0.
    ts = jnp.array([0.0, 0.4, 3.0, 20.0])
    for gravity in (1.3, -0.7, 0.0):
        for dimensions in (1, 3):
            system = lz.systems.RelativisticParticle(
                gravity=gravity, speed_of_light=1.5, dimensions=dimensions
            )
            q0 = jax.random.uniform(getkey(), (dimensions,), minval=-1.0, maxval=1.0)
            q_t0 = jnp.zeros(dimensions).at[-1].set(-1.2)
            exact, derivative, field = map(np.asarray, _exact_and_derivative(system, q0, q_t0, ts))
            np.testing.assert_allclose(derivative, field, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(exact[0], np.concatenate([q0, q_t0]), atol=1e-15)
            assert np.all(np.abs(exact[:, dimensions:]) < 1.5)
    free = lz.systems.RelativisticParticle(gravity=0.0)
    np.testing.assert_allclose(
        free.exact_solution(jnp.array([0.2]), jnp.array([0.9]), 2.0), [2.0, 0.9], rtol=1e-14
    )


def test_relativistic_exact_solution_refuses_transverse_velocity():
    system = lz.systems.RelativisticParticle(dimensions=3)
    with pytest.raises(RuntimeError, match="along the force only"):
        system.exact_solution(jnp.zeros(3), jnp.array([0.1, 0.0, 0.2]), 1.0)


def test_unknown_system_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown system 'pendullum'.*Did you mean 'pendulum'"):
        lz.systems.get("pendullum")
    with pytest.raises(ValueError, match=r"Known systems: .*double_pendulum.*two_body"):
        lz.systems.get("not_a_system")


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) 'lenght'.*length"):
        lz.systems.get("pendulum", lenght=1.0)
    with pytest.raises(ValueError, match=r"'spring_constant'.*stiffness"):
        lz.systems.get("spring", spring_constant=1.0)


@pytest.mark.parametrize(
    ("name", "parameters", "match"),
    [
        ("pendulum", {"length": -1.0}, "pendulum: parameter `length` must be positive"),
        ("spring", {"mass": 0.0}, "spring: parameter `mass` must be positive"),
        ("falling_ball", {"gravity": -9.8}, "`gravity` must be positive"),
        ("falling_ball", {"dimensions": 4}, "`dimensions` must be 1, 2 or 3"),
        ("double_pendulum", {"masses": (1.0, -1.0)}, r"`masses\[1\]` must be positive"),
        ("double_pendulum", {"lengths": (1.0, 1.0, 1.0)}, "`lengths` must be a tuple of 2"),
        ("pendulum_chain", {"lengths": (1.0, -2.0, 1.0)}, r"`lengths\[1\]` must be positive"),
        ("pendulum_chain", {"masses": (1.0, 2.0, 3.0), "lengths": (1.0, 1.0)}, "disagree"),
        ("pendulum_chain", {"links": 3, "masses": (1.0, 1.0)}, "masses 2"),
        ("pendulum_chain", {"links": 0}, "`links` must be a positive int"),
        ("kepler", {"gm": -1.0}, "kepler: parameter `gm` must be positive"),
        ("kepler", {"eccentricity_range": (0.2, 1.0)}, "0 <= low <= high < 1"),
        ("two_body", {"masses": (1.0, 1.0, 1.0)}, "`masses` must be a tuple of 2 numbers"),
        ("two_body", {"masses": (1.0, float("nan"))}, r"`masses\[1\]` must be positive and"),
        ("three_body", {"masses": (1.0, 1.0)}, "`masses` must be a tuple of 3 numbers"),
        ("three_body", {"gravitational_constant": 0.0}, "`gravitational_constant`"),
        ("relativistic_particle", {"speed_of_light": -1.0}, "`speed_of_light` must be positive"),
        ("relativistic_particle", {"dimensions": 2}, "`dimensions` must be 1 or 3"),
        ("relativistic_particle", {"gravity": float("inf")}, "`gravity` must be finite"),
    ],
)
def test_invalid_parameters_are_refused(name, parameters, match):
    with pytest.raises(ValueError, match=match):
        lz.systems.get(name, **parameters)
