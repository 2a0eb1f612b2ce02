"""The chain pendulum in Cartesian coordinates against the same chain in angles."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


def chain(links):
    rng = np.random.default_rng(links)
    # The repository's draw of masses and lengths, U(0.6, 1.4), and another gravity.
    return lz.systems.CartesianChain(
        masses=tuple(rng.uniform(0.6, 1.4, links)),
        lengths=tuple(rng.uniform(0.6, 1.4, links)),
        gravity=9.8,
    )


def cartesian_reference(lengths, q, q_t, q_tt):
    """Positions, velocities and accelerations of the bobs from the angles, written out:
    bob k at sum_j<=k l_j (sin q_j, -cos q_j), differentiated twice by hand."""
    sin, cos = np.sin(q), np.cos(q)
    x = np.cumsum(lengths * sin), np.cumsum(-lengths * cos)
    v = np.cumsum(lengths * cos * q_t), np.cumsum(lengths * sin * q_t)
    a = (
        np.cumsum(lengths * (cos * q_tt - sin * q_t**2)),
        np.cumsum(lengths * (sin * q_tt + cos * q_t**2)),
    )
    return [np.stack(pair, axis=1).reshape(-1) for pair in (x, v, a)]


@eqx.filter_jit
def _both(system, angles, ys):
    """The Cartesian system's states, accelerations, energies and angles, beside the angle
    chain's accelerations and energies, for a batch of angle states: one program per size."""

    def one(y):
        n = angles.links
        state = system.from_angles(y)
        x, v = state[: 2 * n], state[2 * n :]
        # The free bobs' Lagrangian gives the Legendre map of canonical data
        # (`generate_dataset(..., coordinates="canonical")` applies it).
        canonical = lz.to_canonical(system.lagrangian, state, system(0.0, state, None))
        return (
            state,
            system.acceleration(x, v),
            system.energy(x, v),
            system.to_angles(state),
            angles.acceleration(y[:n], y[n:]),
            angles.energy(y[:n], y[n:]),
            canonical,
        )

    return jax.vmap(one)(ys)


def test_accelerations_and_energy_match_the_chain_in_angles():
    systems = [chain(links) for links in (1, 2, 3, 5)]
    pairs = [(system, system.angle_system()) for system in systems]
    for system, angles in pairs:
        assert isinstance(angles, lz.systems.PendulumChain) and angles.links == system.links
    inputs = [
        jnp.asarray(np.random.default_rng(s.links).normal(size=(3, 2 * s.links))) for s in systems
    ]
    # One program for the four chains.
    results = eqx.filter_jit(lambda pairs, inputs: [_both(*p, y) for p, y in zip(pairs, inputs)])(
        pairs, inputs
    )
    for (system, _), ys, result in zip(pairs, inputs, results):
        check_against_angles(system, ys, result)


def check_against_angles(system, ys, result):
    links = system.links
    (states, accelerations, energies, back, q_tt, angle_energies, (z, dz)) = jax.tree.map(
        np.asarray, result
    )
    np.testing.assert_allclose(energies, angle_energies, rtol=1e-12)
    lengths, masses = np.asarray(system.lengths), np.repeat(np.asarray(system.masses), 2)
    for y, state, acceleration, recovered, y_tt, p, p_t in zip(
        np.asarray(ys), states, accelerations, back, q_tt, z[:, 2 * links :], dz[:, 2 * links :]
    ):
        q, q_t = y[:links], y[links:]
        x, v, a = cartesian_reference(lengths, q, q_t, y_tt)
        np.testing.assert_allclose(state, np.concatenate([x, v]), rtol=0, atol=1e-13)
        np.testing.assert_allclose(acceleration, a, rtol=0, atol=1e-10)
        wrapped = np.arctan2(np.sin(q), np.cos(q))
        np.testing.assert_allclose(recovered, np.concatenate([wrapped, q_t]), atol=1e-12)
        # Canonical states: p = m v and dp/dt = m a.
        np.testing.assert_allclose(p, masses * v, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(p_t, masses * a, rtol=0, atol=1e-10)


def test_rollout_conserves_energy_and_stays_on_the_constraints(getkey):
    system = lz.systems.get("cartesian_chain", links=3)
    assert system.dof == 6 and system.gravity == 1.0 and not any(system.periodic)
    y0 = jax.jit(jax.vmap(system.sample_initial_state))(jax.random.split(getkey(), 2))
    # The repository's initial states: projected onto the rods.
    position, velocity = lz.constraint_drift(system.constraints, y0)
    assert np.all(position < 1e-10) and np.all(velocity < 1e-10)
    ys = lz.rollout(system, y0, jnp.linspace(0.0, 3.0, 7), rtol=1e-10, atol=1e-10)
    energies = np.asarray(jax.jit(jax.vmap(jax.vmap(lambda y: system.energy(y[:6], y[6:]))))(ys))
    np.testing.assert_allclose(energies, np.repeat(energies[:, :1], 7, axis=1), rtol=1e-7)
    position, velocity = lz.constraint_drift(system.constraints, ys)
    assert position.shape == (2, 7)
    assert np.max(position) < 1e-7 and np.max(velocity) < 1e-7


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="disagree on the number of links"):
        lz.systems.CartesianChain(masses=(1.0, 1.0), lengths=(1.0,))
    with pytest.raises(ValueError, match=r"parameter `lengths\[1\]` must be positive"):
        lz.systems.CartesianChain(lengths=(1.0, -1.0))
    with pytest.raises(ValueError, match="`links` must be a positive int"):
        lz.systems.CartesianChain(links=0)
    system = lz.systems.CartesianChain(links=2)
    with pytest.raises(ValueError, match=r"`y` must have shape \(\.\.\., 2 \* links\)"):
        system.from_angles(jnp.zeros(3))
    with pytest.raises(ValueError, match=r"`y` must have shape \(\.\.\., 4 \* links\)"):
        system.to_angles(jnp.zeros(4))


def test_coupled_pendulum_moves_as_its_lagrangian_in_spherical_angles():
    system = lz.systems.CoupledPendulum(masses=(1.0, 1.5, 0.8), stiffness=10.0, length=1.2)
    assert system.dof == 9 and system.gravity == 10.0
    pivots = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    masses = np.array([1.0, 1.5, 0.8])

    def positions(angles):
        """The bobs in the paper's spherical angles, written out: (phi_i, theta_i) pairs."""
        phi, theta = angles[0::2], angles[1::2]
        direction = jnp.stack(
            [-jnp.cos(theta), jnp.sin(theta) * jnp.sin(phi), jnp.sin(theta) * jnp.cos(phi)], 1
        )
        return (pivots + 1.2 * direction).reshape(-1)

    def lagrangian(angles, rates):
        x, v = jax.jvp(positions, (angles,), (rates,))
        x, v = x.reshape(3, 3), v.reshape(3, 3)
        stretch = jnp.linalg.norm(x[1:] - x[:-1], axis=1) - 1.0
        potential = 10.0 * jnp.sum(masses * x[:, 2]) + 5.0 * jnp.sum(stretch**2)
        return 0.5 * jnp.sum(masses[:, None] * v * v) - potential

    @jax.jit
    def compare(y):
        angles, rates = y[:6], y[6:]
        # The existing generalised-coordinate engine on the angles' Lagrangian, mapped to the
        # plane by differentiating the positions twice along the motion.
        angles_tt = lz.euler_lagrange(lagrangian)(angles, rates)
        tangent = jax.jvp(positions, (angles,), (angles_tt,))[1]
        curve = jax.jvp(lambda a: jax.jvp(positions, (a,), (rates,))[1], (angles,), (rates,))[1]
        state = system.from_angles(y)
        x_v = jnp.concatenate(jax.jvp(positions, (angles,), (rates,)))
        return state, x_v, system.acceleration(state[:9], state[9:]), tangent + curve

    y = jnp.asarray(np.array([3.3, 1.4, 2.9, 1.8, 3.0, 1.5, 0.3, -0.2, 0.5, 0.1, -0.4, 0.6]))
    state, expected_state, acceleration, expected = map(np.asarray, compare(y))
    np.testing.assert_allclose(state, expected_state, rtol=0, atol=1e-13)
    np.testing.assert_allclose(acceleration, expected, rtol=0, atol=1e-10)
    # Sampled states lie on the rods.
    y0 = eqx.filter_jit(system.sample_initial_state)(jax.random.key(0))
    position, velocity = lz.constraint_drift(system.constraints, y0)
    assert position < 1e-12 and velocity < 1e-12


def test_gyroscope_in_steady_precession_matches_the_closed_form():
    # A heavy symmetric top precessing steadily at rate Omega, tilted by theta: its spin
    # omega_3 satisfies m g l = Omega (I_3 omega_3 - I_1' Omega cos theta), with I_1' the
    # transverse moment about the pivot. Every point then moves as a rigid rotation whose
    # angular velocity omega = Omega z + psi_dot e_3 turns about z: a = alpha x r +
    # omega x (omega x r), alpha = Omega z x omega.
    m, i1, i3, ell, g = 1.3, 0.4, 0.6, 0.8, 9.81
    system = lz.systems.Gyroscope(mass=m, moments=(i1, i1, i3), pivot_distance=ell, gravity=g)
    theta, phi, omega_z = 0.6, 0.4, 1.7
    omega3 = (m * g * ell / omega_z + (i1 + m * ell**2) * omega_z * np.cos(theta)) / i3
    psi_t = omega3 - omega_z * np.cos(theta)

    @eqx.filter_jit
    def state_and_acceleration(system, angles, rates):
        y = system.from_euler(angles, rates)
        return y, system.acceleration(y[:12], y[12:])

    y, a = map(np.asarray, state_and_acceleration(
        system, jnp.array([phi, theta, 0.3]), jnp.array([omega_z, 0.0, psi_t])))  # fmt: skip
    x, v, a = y[:12].reshape(4, 3), y[12:].reshape(4, 3), a.reshape(4, 3)
    e3 = np.array([np.sin(theta) * np.sin(phi), -np.sin(theta) * np.cos(phi), np.cos(theta)])
    z = np.array([0.0, 0.0, 1.0])
    omega = omega_z * z + psi_t * e3
    np.testing.assert_allclose(x[0], ell * e3, rtol=0, atol=1e-14)
    np.testing.assert_allclose(v, np.cross(omega, x), rtol=0, atol=1e-13)
    expected = np.cross(np.cross(omega_z * z, omega), x) + np.cross(omega, np.cross(omega, x))
    np.testing.assert_allclose(a, expected, rtol=0, atol=1e-10)
    # Its kinetic energy is that of the rigid rotation, 1/2 omega . I_pivot omega.
    axes = x[1:] - x[0]
    inertia = axes.T @ np.diag([i1, i1, i3]) @ axes + m * (
        ell**2 * np.eye(3) - np.outer(x[0], x[0])
    )
    kinetic = system.energy(jnp.asarray(y[:12]), jnp.asarray(y[12:])) - m * g * x[0, 2]
    np.testing.assert_allclose(kinetic, 0.5 * omega @ inertia @ omega, rtol=1e-12)
    with pytest.raises(ValueError, match="triangle inequality"):
        lz.systems.Gyroscope(moments=(1.0, 0.2, 0.3))
