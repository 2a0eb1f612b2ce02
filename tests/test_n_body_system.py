"""`NBody`: any number of planar bodies under gravity, and the ring sampler of the HNN task."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import lagrangian_zoo as lz
import numpy as np
import pytest
from lagrangian_zoo.cli import app
from typer.testing import CliRunner


UNEQUAL = {
    2: (0.7, 1.6),
    3: (0.5, 1.0, 2.0),
    4: (1.3, 0.6, 2.1, 0.9),
    8: (0.8, 1.7, 1.1, 0.4, 2.3, 1.0, 0.6, 1.5),
}


def _reference_acceleration(positions, masses, g):
    """The Newtonian pulls of the other bodies, one pair at a time."""
    out = np.zeros_like(positions)
    for i in range(len(masses)):
        for j in range(len(masses)):
            if i != j:
                separation = positions[j] - positions[i]
                out[i] += g * masses[j] * separation / np.linalg.norm(separation) ** 3
    return out


def _reference_potential(positions, masses, g):
    total = 0.0
    for i in range(len(masses)):
        for j in range(i + 1, len(masses)):
            total -= g * masses[i] * masses[j] / np.linalg.norm(positions[i] - positions[j])
    return total


def _separated_positions(bodies, seed):
    """Positions in [-2, 2]^2, no two bodies closer than 0.3."""
    rng = np.random.default_rng(seed)
    while True:
        positions = rng.uniform(-2.0, 2.0, (bodies, 2))
        gaps = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
        if np.min(gaps + np.eye(bodies) * 10) > 0.3:
            return positions


def _ring_omega(bodies, mean_mass, radius, g=1.0):
    """omega^2 R = sum_k G m / (4 R^2 sin(pi k / N)), summed here term by term."""
    pull = sum(
        g * mean_mass / (4 * radius**2 * math.sin(math.pi * k / bodies)) for k in range(1, bodies)
    )
    return math.sqrt(pull / radius)


@eqx.filter_jit
def _samples(system, keys):
    """Initial states for `keys`; one compilation per number of bodies (parameters are leaves)."""
    return jax.vmap(system.sample_initial_state)(keys)


def _turned(vectors, angle):
    c, s = math.cos(angle), math.sin(angle)
    return np.stack(
        [c * vectors[..., 0] - s * vectors[..., 1], s * vectors[..., 0] + c * vectors[..., 1]],
        axis=-1,
    )


def test_registered_with_its_size():
    assert "n_body" in lz.systems.names()
    system = lz.systems.get("n_body", bodies=5)
    assert type(system) is lz.systems.NBody
    assert system.dof == 10 and system.periodic == (False,) * 10
    assert lz.systems.NBody().bodies == 3
    assert lz.systems.NBody(masses=(1.0, 2.0, 3.0, 4.0)).dof == 8
    assert lz.systems.parameters("n_body")["bodies"] == 3


def test_command_line_lists_it():
    result = CliRunner().invoke(app, ["systems"])
    assert result.exit_code == 0, result.output
    assert "n_body" in result.stdout
    assert "perturbation=0.2" in result.stdout.replace("\n", " ").replace(" ", "")


def test_three_bodies_sample_the_three_body_states():
    keys = jax.random.split(jax.random.key(11), 200)
    ours = _samples(lz.systems.NBody(3), keys)
    theirs = _samples(lz.systems.ThreeBody(), keys)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-14)
    # Also with the parameters ThreeBody shares: unequal masses, another G.
    ours = lz.systems.NBody(masses=UNEQUAL[3], gravitational_constant=1.7)
    theirs = lz.systems.ThreeBody(masses=UNEQUAL[3], gravitational_constant=1.7)
    np.testing.assert_allclose(
        _samples(ours, keys),
        _samples(theirs, keys),
        rtol=1e-13,
        atol=1e-14,
    )


@eqx.filter_jit
def _evaluate(system, q, q_t):
    """Closed forms, the engine's accelerations and the derivatives, in one program."""
    return {
        "acceleration": system.acceleration(q, q_t),
        "euler_lagrange": lz.euler_lagrange(system.lagrangian)(q, q_t),
        "energy": system.energy(q, q_t),
        "lagrangian": system.lagrangian(q, q_t),
        "jacobian": jax.jacrev(system.acceleration)(q, q_t),
        "energy_gradient": jax.grad(system.energy)(q, q_t),
    }


@eqx.filter_jit
def _lagrangians(system, qs, q_t):
    return jax.vmap(system.lagrangian, in_axes=(0, None))(qs, q_t)


def _central_differences(function, x, step=1e-6):
    """The derivative of `function` (a batched map of the rows of its argument) at `x`."""
    shifts = step * np.eye(len(x))
    ahead, behind = function(x + shifts), function(x - shifts)
    return (np.asarray(ahead) - np.asarray(behind)).T / (2 * step)


@pytest.mark.parametrize("bodies", [2, 3, 4, 8])
@pytest.mark.parametrize("equal", [True, False])
def test_accelerations_and_energy_against_pairwise_loops(bodies, equal):
    masses = (1.0,) * bodies if equal else UNEQUAL[bodies]
    g = 1.3
    systems = [lz.systems.NBody(bodies, masses=masses, gravitational_constant=g)]
    if bodies == 2:
        systems.append(lz.systems.TwoBody(masses=masses, gravitational_constant=g))
    if bodies == 3:
        systems.append(lz.systems.ThreeBody(masses=masses, gravitational_constant=g))
    positions = _separated_positions(bodies, seed=bodies)
    velocities = np.random.default_rng(bodies + 100).normal(size=(bodies, 2))
    q, q_t = jnp.asarray(positions.reshape(-1)), jnp.asarray(velocities.reshape(-1))
    expected = _reference_acceleration(positions, np.asarray(masses), g).reshape(-1)
    kinetic = 0.5 * np.sum(np.asarray(masses)[:, None] * velocities**2)
    potential = _reference_potential(positions, np.asarray(masses), g)
    for system in systems:
        out = {key: np.asarray(value) for key, value in _evaluate(system, q, q_t).items()}
        np.testing.assert_allclose(out["acceleration"], expected, rtol=1e-12, atol=1e-13)
        # The Euler-Lagrange equations of the Lagrangian, by automatic differentiation.
        np.testing.assert_allclose(out["euler_lagrange"], expected, rtol=1e-10, atol=1e-12)
        assert float(out["energy"]) == pytest.approx(kinetic + potential, rel=1e-13)
        assert float(out["lagrangian"]) == pytest.approx(kinetic - potential, rel=1e-13)


@pytest.mark.parametrize("bodies", [2, 4, 8])
def test_accelerations_are_force_over_mass_by_finite_differences(bodies):
    masses = np.asarray(UNEQUAL[bodies])
    system = lz.systems.NBody(bodies, masses=tuple(masses))
    q = _separated_positions(bodies, seed=7 * bodies).reshape(-1)
    q_t = jnp.zeros(2 * bodies)
    # m_i q_tt_i = dL/dq_i, by central differences of the Lagrangian.
    force = _central_differences(lambda qs: _lagrangians(system, jnp.asarray(qs), q_t), q)
    acceleration = np.asarray(_evaluate(system, jnp.asarray(q), q_t)["acceleration"])
    np.testing.assert_allclose(acceleration, force / np.repeat(masses, 2), rtol=1e-7, atol=1e-8)


def test_derivatives_stay_finite_where_a_body_meets_itself():
    # The masked (bodies, bodies) distances hold zeros on their diagonal: derivatives through
    # them must not be NaN.
    masses = np.asarray(UNEQUAL[4])
    system = lz.systems.NBody(4, masses=tuple(masses))
    positions = _separated_positions(4, seed=3)
    q, q_t = jnp.asarray(positions.reshape(-1)), jnp.ones(8)
    out = _evaluate(system, q, q_t)
    jacobian, gradient = np.asarray(out["jacobian"]), np.asarray(out["energy_gradient"])
    assert np.all(np.isfinite(jacobian)) and np.all(np.isfinite(gradient))
    # Against central differences of the pairwise loops.
    expected = _central_differences(
        lambda qs: [_reference_acceleration(x.reshape(4, 2), masses, 1.0).reshape(-1) for x in qs],
        positions.reshape(-1),
    )
    np.testing.assert_allclose(jacobian, expected, rtol=1e-6, atol=1e-7)
    potential = _central_differences(
        lambda qs: [_reference_potential(x.reshape(4, 2), masses, 1.0) for x in qs],
        positions.reshape(-1),
    )
    np.testing.assert_allclose(gradient, potential, rtol=1e-7, atol=1e-8)


def test_traced_program_does_not_grow_with_the_bodies():
    # Pairs are arrays, not Python loops: eight bodies trace as many operations as two.
    def size(system, method):
        q = jnp.arange(system.dof, dtype=float) ** 1.5
        return len(jax.make_jaxpr(getattr(system, method))(q, q).jaxpr.eqns)

    for method in ("acceleration", "energy"):
        sizes = {
            size(lz.systems.TwoBody(), method),
            size(lz.systems.ThreeBody(), method),
            size(lz.systems.NBody(8), method),
        }
        assert len(sizes) == 1, (method, sizes)


@pytest.mark.parametrize("bodies", [2, 3, 4, 5, 8])
def test_ring_angular_velocity_closed_form(bodies):
    system = lz.systems.NBody(bodies, gravitational_constant=1.4)
    omega = float(system.ring_angular_velocity(1.1))
    assert omega == pytest.approx(_ring_omega(bodies, 1.0, 1.1, g=1.4), rel=1e-14)
    if bodies == 4:
        # The square: omega^2 = G m (1/4 + 1/sqrt(2)) / R^3.
        assert omega**2 == pytest.approx(1.4 * (0.25 + 2**-0.5) / 1.1**3, rel=1e-14)


@pytest.mark.parametrize("bodies", [2, 3])
def test_unequal_masses_still_turn_rigidly_for_two_and_three_bodies(bodies):
    # At the mean mass's omega, two bodies and Lagrange's triangle are exact for any masses:
    # every body accelerates towards the centre of mass by omega^2 times its distance.
    masses = np.asarray(UNEQUAL[bodies])
    system = lz.systems.NBody(bodies, masses=tuple(masses), perturbation=0.0)
    y = np.asarray(system.sample_initial_state(jax.random.key(4)))
    positions = y[: 2 * bodies].reshape(-1, 2)
    radius = np.linalg.norm(positions[0])
    side = 2 * radius * math.sin(math.pi / bodies)
    omega2 = masses.sum() / side**3
    centre = masses @ positions / masses.sum()
    acceleration = _reference_acceleration(positions, masses, 1.0)
    np.testing.assert_allclose(acceleration, -omega2 * (positions - centre), rtol=1e-12)
    velocities = y[2 * bodies :].reshape(-1, 2)
    np.testing.assert_allclose(
        velocities, math.sqrt(omega2) * _turned(positions - centre, math.pi / 2), rtol=1e-12
    )


@pytest.mark.parametrize("bodies", [2, 4, 5, 8])
def test_unperturbed_ring_rotates_rigidly_for_one_period(bodies):
    system = lz.systems.NBody(bodies, perturbation=0.0)
    y0 = np.asarray(system.sample_initial_state(jax.random.key(bodies)))
    positions = y0[: 2 * bodies].reshape(-1, 2)
    radius = np.linalg.norm(positions[0])
    omega = _ring_omega(bodies, 1.0, radius)
    ts = np.linspace(0.0, 2 * math.pi / omega, 5)
    ys = np.asarray(
        lz.rollout(
            system, jnp.asarray(y0), jnp.asarray(ts), solver="dopri8", rtol=1e-12, atol=1e-12
        )
    )
    for t, y in zip(ts, ys):
        np.testing.assert_allclose(
            y[: 2 * bodies].reshape(-1, 2), _turned(positions, omega * t), rtol=0, atol=1e-8
        )
    # A quarter turn in, the bodies are elsewhere: the check above can fail.
    assert np.max(np.abs(ys[1, : 2 * bodies] - y0[: 2 * bodies])) > 0.5


def test_perturbed_five_bodies_conserve_energy():
    system = lz.systems.NBody(5)
    y0 = system.sample_initial_state(jax.random.key(0))
    ts = jnp.linspace(0.0, 3.0, 31)
    ys = np.asarray(lz.rollout(system, y0, ts, solver="dopri8", rtol=1e-11, atol=1e-11))
    # Unit masses: the kinetic energy is half the squared velocities.
    energy = np.array(
        [
            0.5 * np.sum(y[10:] ** 2) + _reference_potential(y[:10].reshape(5, 2), np.ones(5), 1.0)
            for y in ys
        ]
    )
    assert np.max(np.abs(energy / energy[0] - 1)) < 5e-9  # 6.5e-10 measured
    # The perturbation did change the motion: the ring no longer keeps its shape.
    gaps = np.linalg.norm(ys[:, 0:2] - ys[:, 2:4], axis=1)
    assert np.ptp(gaps) > 1e-2


@pytest.mark.parametrize("bodies", [2, 4, 5, 8])
def test_sampler_rings_carry_no_momentum(bodies):
    keys = jax.random.split(jax.random.key(bodies), 500)
    for masses in ((1.0,) * bodies, UNEQUAL.get(bodies, tuple(np.linspace(0.5, 2.0, bodies)))):
        weights = np.repeat(np.asarray(masses)[None, :, None], 2, axis=2)
        unperturbed = lz.systems.NBody(bodies, masses=masses, perturbation=0.0)
        y = np.asarray(_samples(unperturbed, keys))
        momentum = np.sum(weights * y[:, 2 * bodies :].reshape(-1, bodies, 2), axis=1)
        np.testing.assert_allclose(momentum, 0.0, atol=1e-13)
        # The perturbation (as the HNN repository's) adds momentum, zero on average.
        perturbed = lz.systems.NBody(bodies, masses=masses)
        y = np.asarray(_samples(perturbed, keys))
        momentum = np.sum(weights * y[:, 2 * bodies :].reshape(-1, bodies, 2), axis=1)
        assert np.max(np.abs(momentum)) > 1e-3
        assert np.all(np.abs(momentum.mean(axis=0)) < 4 * momentum.std(axis=0) / math.sqrt(500))


def test_sampler_draws_the_ring_of_the_settings():
    bodies, low, high, p = 5, 0.5, 2.0, 0.3
    system = lz.systems.NBody(bodies, radius_range=(low, high), perturbation=p)
    y = np.asarray(_samples(system, jax.random.split(jax.random.key(2), 2000)))
    positions, velocities = y[:, :10].reshape(-1, 5, 2), y[:, 10:].reshape(-1, 5, 2)
    radius = np.linalg.norm(positions[:, 0], axis=1)
    assert np.all((radius >= low) & (radius <= high))
    assert abs(radius.mean() - (low + high) / 2) < 0.03
    for k in range(1, bodies):
        np.testing.assert_allclose(
            positions[:, k], _turned(positions[:, 0], 2 * math.pi * k / bodies), atol=1e-13
        )
    omega = np.array([_ring_omega(bodies, 1.0, r) for r in radius])
    circular = omega[:, None, None] * _turned(positions, math.pi / 2)
    defined = np.abs(circular) > 0.05
    ratio = velocities[defined] / circular[defined]
    assert np.all((ratio >= 1 - p) & (ratio <= 1 + p))
    assert ratio.min() < 1 - 0.99 * p and ratio.max() > 1 + 0.99 * p
    assert abs(ratio.std() - 2 * p / math.sqrt(12)) < 0.005


@pytest.mark.parametrize(
    "params, words",
    [
        ({"bodies": 1}, r"`bodies` must be an int of at least 2, got 1"),
        ({"bodies": 4.0}, r"`bodies` must be an int of at least 2, got 4\.0"),
        ({"bodies": True}, r"`bodies` must be an int"),
        ({"bodies": "5"}, r"`bodies` must be an int of at least 2, got '5'"),
        ({"bodies": 4, "masses": (1.0, 1.0, 1.0)}, r"`masses` must be a tuple of 4 numbers"),
        ({"masses": (1.0,)}, r"`masses` must hold one number per body, at least 2"),
        ({"masses": 2.0}, r"`masses` must be a tuple with one number per body, got 2\.0"),
        ({"masses": (1.0, -1.0)}, r"`masses\[1\]` must be positive"),
        ({"gravitational_constant": 0.0}, r"`gravitational_constant` must be positive"),
        ({"perturbation": 1.0}, r"`perturbation` must be a number p with 0 <= p < 1, got"),
        ({"perturbation": -0.1}, r"`perturbation` must be a number p with 0 <= p < 1"),
        ({"perturbation": float("nan")}, r"`perturbation` must be a number p with 0 <= p < 1"),
        ({"perturbation": (0.1, 0.2)}, r"`perturbation` must be a number p with 0 <= p < 1"),
        ({"radius_range": (1.2, 0.9)}, r"`radius_range` must satisfy 0 < low <= high, got"),
        ({"radius_range": (0.0, 1.0)}, r"`radius_range\[0\]` must be positive"),
        ({"radius_range": (1.0,)}, r"`radius_range` must be a tuple of 2 numbers, got"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, words, monkeypatch):
    # Users run without the suite's runtime type checker, which would answer a value of the
    # wrong type first, with its own message: these are the messages users see.
    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)
    with pytest.raises(ValueError, match=r"^n_body: parameter " + words):
        lz.systems.get("n_body", **params)
