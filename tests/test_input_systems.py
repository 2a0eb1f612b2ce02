"""Systems with inputs: the two-link arm and the cart-pole against independent references."""

import pathlib

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


# DeLaN's data, as the package ships it.
DATA = pathlib.Path(lz.__file__).parent / "data" / "delan_character.npz"


def arm_lagrangian(arm):
    """The arm's Lagrangian from the positions of its centres of mass, written anew."""
    (m1, m2), (l1, _), (r1, r2), (i1, i2), g = (
        np.asarray(arm.masses),
        np.asarray(arm.lengths),
        np.asarray(arm.centres),
        np.asarray(arm.inertias),
        float(arm.gravity),
    )

    def centres(q):
        first = r1 * jnp.stack([jnp.cos(q[0]), jnp.sin(q[0])])
        elbow = l1 * jnp.stack([jnp.cos(q[0]), jnp.sin(q[0])])
        second = elbow + r2 * jnp.stack([jnp.cos(q[0] + q[1]), jnp.sin(q[0] + q[1])])
        return first, second

    def lagrangian(q, q_t):
        (v1, v2) = jax.jvp(centres, (q,), (q_t,))[1]
        p1, p2 = centres(q)
        kinetic = 0.5 * (m1 * v1 @ v1 + m2 * v2 @ v2)
        kinetic = kinetic + 0.5 * (i1 * q_t[0] ** 2 + i2 * (q_t[0] + q_t[1]) ** 2)
        return kinetic - g * (m1 * p1[1] + m2 * p2[1])

    return lagrangian


def cart_pole_lagrangian(system):
    """The cart-pole's Lagrangian from the pole's centre of mass and spin, written anew."""
    mc, mp, length, g = (
        float(system.cart_mass),
        float(system.pole_mass),
        float(system.pole_length),
        float(system.gravity),
    )
    r, inertia = length / 2, mp * length**2 / 12

    def lagrangian(q, q_t):
        def centre(q):
            return jnp.stack([q[0] + r * jnp.sin(q[1]), r * jnp.cos(q[1])])

        velocity = jax.jvp(centre, (q,), (q_t,))[1]
        kinetic = 0.5 * mc * q_t[0] ** 2 + 0.5 * mp * velocity @ velocity
        kinetic = kinetic + 0.5 * inertia * q_t[1] ** 2
        return kinetic - mp * g * centre(q)[1]

    return lagrangian


def euler_lagrange_terms(lagrangian, q, q_t):
    """M, c and g of `d/dt dL/dq_t - dL/dq = M q_tt + c + g` by autodiff, with g the part at
    rest (q_t = 0), for a Lagrangian `T - V`."""
    mass = jax.hessian(lagrangian, argnums=1)(q, q_t)

    def residual(v):
        mixed = jax.jacfwd(jax.grad(lagrangian, argnums=1), argnums=0)(q, v) @ v
        return mixed - jax.grad(lagrangian, argnums=0)(q, v)

    gravity = residual(jnp.zeros_like(q_t))
    return mass, residual(q_t) - gravity, gravity


SYSTEMS = {
    "two_link_arm": (
        lambda: lz.systems.TwoLinkArm(
            masses=(1.3, 0.7), lengths=(0.9, 1.1), centres=(0.4, 0.6), inertias=(0.1, 0.05)
        ),
        arm_lagrangian,
    ),
    "cart_pole": (
        lambda: lz.systems.CartPole(cart_mass=0.8, pole_mass=0.3, pole_length=1.2),
        cart_pole_lagrangian,
    ),
}


@pytest.mark.parametrize("name", SYSTEMS)
def test_closed_forms_match_an_independent_lagrangian(name):
    build, reference = SYSTEMS[name]
    system = build()
    lagrangian = reference(system)
    q, q_t = jax.random.normal(jax.random.key(0), (2, 3, 2))
    u = jax.random.normal(jax.random.key(1), (3, system.inputs))

    @jax.jit
    @jax.vmap
    def both(q, q_t, u):
        mine = (
            system.mass_matrix(q),
            system.coriolis_force(q, q_t),
            system.gravity_force(q),
            jax.grad(system.potential_energy)(q),
            system.lagrangian(q, q_t),
            # Forward, then inverse dynamics: back to the generalised forces B u.
            system.inverse_dynamics(q, q_t, system.forward_dynamics(q, q_t, u)),
        )
        mass, coriolis, gravity = euler_lagrange_terms(lagrangian, q, q_t)
        theirs = (mass, coriolis, gravity, gravity, lagrangian(q, q_t))
        return mine, (*theirs, system.input_matrix(q) @ u)

    mine, theirs = both(q, q_t, u)
    for ours, expected in zip(mine, theirs):
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)


def test_cart_pole_matches_the_classic_equations():
    # The equations of the classic balancing task, solved for the accelerations (Barto, Sutton
    # and Anderson 1983, as corrected by Florian 2007), with the pole's half-length r.
    system = lz.systems.CartPole()
    mc, mp, r, g = 1.0, 0.1, 0.5, 9.8
    for x, theta, x_t, theta_t, force in [(0.1, 0.3, -0.5, 1.2, 2.0), (0.0, 2.5, 0.3, -2.0, -1)]:
        total = mc + mp
        temp = (force + mp * r * theta_t**2 * np.sin(theta)) / total
        theta_tt = (g * np.sin(theta) - np.cos(theta) * temp) / (
            r * (4 / 3 - mp * np.cos(theta) ** 2 / total)
        )
        x_tt = temp - mp * r * theta_tt * np.cos(theta) / total
        acc = system.forward_dynamics(
            jnp.array([x, theta]), jnp.array([x_t, theta_t]), jnp.array([float(force)])
        )
        np.testing.assert_allclose(acc, [x_tt, theta_tt], rtol=1e-12)


def test_energy_changes_by_the_power_of_the_input():
    systems = [build() for build, _ in SYSTEMS.values()]

    def control(system, t, y):
        drive = jnp.sin(3.0 * t) * jnp.arange(1.0, system.inputs + 1.0)
        return drive - 0.5 * y[2 : 2 + system.inputs]

    def augmented(system):
        # The state and the work W done by the input, dW/dt = q_t . B u, integrated together.
        driven = system.driven(lambda t, y: control(system, t, y))

        def field(t, z):
            y = z[:4]
            power = system.input_power(y[:2], y[2:], driven.input(t, y))
            return jnp.concatenate([driven(t, y, None), power[None]])

        return field

    @jax.jit
    def balance(z0):
        out = []
        for system in systems:
            field, dt = augmented(system), 0.005

            def step(z, t, field=field, dt=dt):
                # Classical fourth-order Runge-Kutta, independent of the library's solvers.
                k1 = field(t, z)
                k2 = field(t + dt / 2, z + dt / 2 * k1)
                k3 = field(t + dt / 2, z + dt / 2 * k2)
                k4 = field(t + dt, z + dt * k3)
                return z + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

            z, _ = jax.lax.scan(step, z0, jnp.arange(400.0) * dt)
            change = system.energy(z[:2], z[2:4]) - system.energy(z0[:2], z0[2:4])
            out.append(jnp.stack([change, z[4]]))
        return jnp.stack(out)

    for change, work in np.asarray(balance(jnp.array([0.2, -0.4, 0.5, 0.1, 0.0]))):
        assert abs(work) > 1e-2  # the input does work
        assert abs(change - work) < 1e-7 * max(1.0, abs(work))


def test_two_link_arm_matches_the_delan_character_data():
    data = np.load(DATA)
    arm = lz.systems.TwoLinkArm(
        masses=(0.75, 0.5),
        lengths=(1.0, 1.0),
        centres=(0.5, 1.0),
        inertias=(0.1676145833333333, 0.0176145833333333),
        gravity=3.0,
    )
    q, q_t, q_tt = (jnp.asarray(data[key]) for key in ("qp", "qv", "qa"))
    mass = jax.vmap(arm.mass_matrix)(q)
    np.testing.assert_allclose(mass, data["mass_matrix"], atol=1e-12)
    np.testing.assert_allclose(jax.vmap(arm.coriolis_force)(q, q_t), data["c"], atol=1e-11)
    np.testing.assert_allclose(jax.vmap(arm.gravity_force)(q), data["g"], atol=1e-12)
    np.testing.assert_allclose(
        jax.vmap(arm.inverse_dynamics)(q, q_t, q_tt), data["tau"], atol=1e-10
    )


def test_registered_and_constant_inputs():
    assert {"two_link_arm", "cart_pole"} <= set(lz.systems.names())
    cart = lz.systems.get("cart_pole", pole_mass=0.2)
    assert cart.inputs == 1 and cart.periodic == (False, True)
    # A constant push from rest at the hanging equilibrium moves the cart forward.
    y = jnp.array([0.0, jnp.pi, 0.0, 0.0])
    dy = cart.driven(jnp.array([1.5]))(0.0, y, None)
    # x_tt = F J / det M with J = m_p l^2 / 3 and the off-diagonal -m_p l / 2 at theta = pi.
    inertia, coupling = 0.2 / 3, -0.1
    np.testing.assert_allclose(dy[2], 1.5 * inertia / (1.2 * inertia - coupling**2), rtol=1e-12)
    # Gravity compensation holds the arm still.
    arm = lz.systems.TwoLinkArm()
    hold = arm.driven(lambda t, y: arm.gravity_force(y[:2]))
    np.testing.assert_allclose(hold(0.0, jnp.array([0.3, 0.5, 0.0, 0.0]), None)[2:], 0, atol=1e-12)


def test_bad_inputs_are_refused():
    arm = lz.systems.TwoLinkArm()
    q = jnp.zeros(2)
    with pytest.raises(ValueError, match=r"TwoLinkArm takes 2 input\(s\): `u` must have shape"):
        arm.forward_dynamics(q, q, jnp.zeros(3))
    with pytest.raises(ValueError, match=r"`control` must have shape \(1,\), got shape \(2,\)"):
        lz.systems.CartPole().driven(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"control law must return the input of shape \(2,\)"):
        arm.driven(lambda t, y: y)(0.0, jnp.zeros(4), None)
    with pytest.raises(ValueError, match=r"two_link_arm: parameter `inertias\[1\]` must be"):
        lz.systems.TwoLinkArm(inertias=(0.1, -0.1))
    with pytest.raises(ValueError, match=r"cart_pole: parameter `pole_length` must be"):
        lz.systems.CartPole(pole_length=0.0)
