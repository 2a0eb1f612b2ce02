"""`lz.EnergyShapingSwingUp` against references written here: the classic cart-pole equations
(Barto, Sutton and Anderson 1983, as corrected by Florian 2007) differentiated numerically,
the pole's energy by hand, and SciPy's discrete Riccati solver.

Every rollout has the same times and solver, so the compiled program is shared.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
import scipy.linalg


MC, MP, LENGTH, G = 1.0, 0.1, 1.0, 9.8
R = LENGTH / 2
J = MP * LENGTH**2 / 3
TS = jnp.linspace(0.0, 12.0, 601)


def classic_field(y, force):
    """dy/dt of the classic cart-pole equations, theta from the upright."""
    x_t, theta, theta_t = y[2], y[1], y[3]
    total = MC + MP
    temp = (force + MP * R * theta_t**2 * np.sin(theta)) / total
    theta_tt = (G * np.sin(theta) - np.cos(theta) * temp) / (
        R * (4 / 3 - MP * np.cos(theta) ** 2 / total)
    )
    x_tt = temp - MP * R * theta_tt * np.cos(theta) / total
    return np.array([x_t, theta_t, x_tt, theta_tt])


def pole_energy(theta, theta_t):
    """The pole's energy in the cart's frame, by hand; 0 upright at rest is `MP G R`."""
    return 0.5 * J * theta_t**2 + MP * G * R * np.cos(theta)


@eqx.filter_jit
def controls(controller, ys):
    """The force and the commanded cart acceleration at each state."""
    force = jax.vmap(lambda y: controller(0.0, y)[0])(ys)
    acceleration = jax.vmap(lambda y: controller.pumping_acceleration(y[:2], y[2:]))(ys)
    return force, acceleration


def roll(controller, y0):
    system = lz.systems.CartPole()
    return np.asarray(lz.rollout(system.driven(controller), jnp.asarray(y0), TS, solver="rk4"))


def test_pumping_raises_the_pole_energy_at_the_rate_of_the_cart_acceleration():
    # Pure pumping (no cart terms, no force limit in reach): along a rollout of the true
    # cart-pole the pole's energy never falls while below the upright's, and changes at
    # dE/dt = -m r cos(theta) theta_t a, with a the commanded cart acceleration.
    controller = lz.EnergyShapingSwingUp(
        lz.systems.CartPole(),
        position_gain=0.0,
        velocity_gain=0.0,
        max_force=1e3,
        switch_angle=1e-3,
    )
    ys = roll(controller, [0.0, math.pi - 0.1, 0.0, 0.2])
    energy = pole_energy(ys[:, 1], ys[:, 3])
    target = MP * G * R
    below = np.flatnonzero(energy < target - 1e-3)
    assert below.size > 50  # the check covers the whole swing
    steps = np.diff(energy)[below[below < len(energy) - 1]]
    assert np.all(steps >= -1e-9), steps.min()
    assert energy[0] < -0.9 * target and energy.max() > 0.99 * target  # it did pump
    # The rate at each state, exactly: J theta_t theta_tt - m g r sin(theta) theta_t with the
    # classic equations' theta_tt under the controller's force.
    forces, acceleration = (np.asarray(v) for v in controls(controller, jnp.asarray(ys)))
    theta_tt = np.array([classic_field(y, f)[3] for y, f in zip(ys, forces)])
    theta, theta_t = ys[:, 1], ys[:, 3]
    rate = J * theta_t * theta_tt - MP * G * R * np.sin(theta) * theta_t
    power = -MP * R * np.cos(theta) * theta_t * acceleration
    np.testing.assert_allclose(rate, power, rtol=1e-9, atol=1e-9 * np.abs(power).max())


def test_the_energy_error_is_the_pole_energy_below_the_upright():
    controller = lz.EnergyShapingSwingUp(lz.systems.CartPole())
    q, q_t = jnp.array([0.4, 2.0]), jnp.array([0.3, -1.5])
    expected = pole_energy(2.0, -1.5) - MP * G * R
    assert float(controller.pole_energy_error(q, q_t)) == pytest.approx(expected, rel=1e-12)


def test_linearisation_matches_finite_differences_and_the_lqr_stabilises_it():
    controller = lz.EnergyShapingSwingUp(lz.systems.CartPole())
    a, b = (np.asarray(m) for m in controller.linearisation())
    h = 1e-6
    a_fd = np.stack(
        [(classic_field(h * e, 0.0) - classic_field(-h * e, 0.0)) / (2 * h) for e in np.eye(4)],
        axis=1,
    )
    b_fd = (classic_field(np.zeros(4), h) - classic_field(np.zeros(4), -h)) / (2 * h)
    np.testing.assert_allclose(a, a_fd, atol=1e-7)
    np.testing.assert_allclose(b[:, 0], b_fd, atol=1e-7)
    gain = np.asarray(controller.lqr_gain)
    assert np.linalg.eigvals(a).real.max() > 1.0  # the upright is unstable on its own
    assert np.linalg.eigvals(a - b @ gain).real.max() < -0.1
    # The gain of SciPy's discrete Riccati solution for the default costs and step.
    dt, state_cost, input_cost = 0.01, np.diag([1.0, 10.0, 1.0, 1.0]), np.array([[0.1]])
    exponential = scipy.linalg.expm(np.block([[a, b], [np.zeros((1, 5))]]) * dt)
    a_d, b_d = exponential[:4, :4], exponential[:4, 4:]
    riccati = scipy.linalg.solve_discrete_are(a_d, b_d, state_cost, input_cost)
    expected = np.linalg.solve(input_cost + b_d.T @ riccati @ b_d, b_d.T @ riccati @ a_d)
    np.testing.assert_allclose(gain, expected, rtol=1e-7)


def test_swing_up_with_the_true_model_succeeds_and_holds_the_top():
    controller = lz.EnergyShapingSwingUp(lz.systems.CartPole())
    ys = roll(controller, [0.1, math.pi - 0.05, 0.0, 0.0])
    angle = np.arctan2(np.sin(ys[:, 1]), np.cos(ys[:, 1]))
    last = TS >= TS[-1] - 3.0
    assert np.abs(angle[last]).max() < 0.1
    assert np.abs(ys[last, 0]).max() < 0.5  # the cart term brought the cart back
    assert np.abs(ys[:, 0]).max() < 2.0
    forces, _ = controls(controller, jnp.asarray(ys))
    assert np.abs(np.asarray(forces)).max() <= 15.0 + 1e-12


def test_generalised_forces_drive_a_lagrangian_as_the_input_drives_the_system():
    # lz.driven differentiates the Lagrangian; the system's own field is in closed form.
    system = lz.systems.CartPole()
    controller = lz.EnergyShapingSwingUp(system)
    y = jnp.array([0.3, 2.0, -0.4, 1.1])
    forces = controller.generalised_forces(0.0, y)
    np.testing.assert_allclose(forces, [controller(0.0, y)[0], 0.0])
    np.testing.assert_allclose(
        lz.driven(system.lagrangian, controller.generalised_forces)(0.0, y, None),
        classic_field(np.asarray(y), float(forces[0])),
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    "arguments, error, match",
    [
        ({"model": lambda q: q}, TypeError, "`model` must provide mass_matrix"),
        ({"model": lz.systems.TwoLinkArm(), "energy_gain": -1.0}, ValueError, "energy_gain"),
        ({"switch_angle": 4.0}, ValueError, "switch_angle"),
        ({"state_cost": (1.0, 1.0)}, ValueError, "state_cost"),
        ({"position_gain": float("nan")}, ValueError, "position_gain"),
    ],
)
def test_bad_arguments_are_named(arguments, error, match):
    arguments = {"model": lz.systems.CartPole(), **arguments}
    with pytest.raises(error, match=match):
        lz.EnergyShapingSwingUp(**arguments)


class _ThreeBodies:
    """Provides the energies, but of three coordinates."""

    dof = 3

    def mass_matrix(self, q):
        return jnp.eye(3)

    def potential_energy(self, q):
        return jnp.sum(q)


def test_a_model_that_is_not_a_cart_pole_is_refused():
    with pytest.raises(ValueError, match="dof = 2; got a model with dof = 3"):
        lz.EnergyShapingSwingUp(_ThreeBodies())


def test_a_state_of_the_wrong_shape_is_refused():
    controller = lz.EnergyShapingSwingUp(lz.systems.CartPole())
    with pytest.raises(ValueError, match=r"`y` must be .* shape \(4,\), got shape \(2,\)"):
        controller(0.0, jnp.zeros(2))
