"""Inverse dynamics and the torque decomposition, against closed forms and the models' own
forward dynamics."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from lagrangian_zoo._torque_decomposition import quadratic_decomposition


def states(key, batch=4, n=2):
    return tuple(jax.random.normal(jax.random.key(key), (3, batch, n)))


def test_generic_decomposition_matches_the_two_link_arm_closed_forms():
    arm = lz.systems.TwoLinkArm(masses=(1.2, 0.8), centres=(0.45, 0.55), gravity=9.0)
    q, q_t, q_tt = states(0)

    @jax.jit
    def compare(q, q_t, q_tt):
        closed = jax.vmap(
            lambda q, q_t, q_tt: (
                arm.mass_matrix(q) @ q_tt,
                arm.coriolis_force(q, q_t),
                arm.gravity_force(q),
                arm.inverse_dynamics(q, q_t, q_tt),
            )
        )(q, q_t, q_tt)
        # DeLaN's structured formula, given the arm's mass matrix and potential.
        structured = jax.vmap(
            lambda q, q_t, q_tt: quadratic_decomposition(
                arm.mass_matrix, arm.potential_energy, jnp.zeros(2), q, q_t, q_tt
            )
        )(q, q_t, q_tt)
        generic = lz.torque_decomposition(arm.lagrangian, q, q_t, q_tt)
        return closed, structured, generic

    closed, structured, generic = compare(q, q_t, q_tt)
    for parts in (structured, generic):
        for part, expected in zip((*parts[:3], parts.torque), closed):
            np.testing.assert_allclose(part, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(parts.dissipation, 0.0)
    torque = lz.inverse_dynamics(arm.lagrangian, q[0], q_t[0], q_tt[0])  # one state, eagerly
    np.testing.assert_allclose(torque, closed[3][0], atol=1e-12)


def test_delan_decomposition(getkey):
    model = lz.models.DeLaN(2, key=getkey(), width=8, depth=1, dissipation=True)
    q, q_t, q_tt = states(1, batch=3)

    @eqx.filter_jit
    def compare(model, q, q_t, q_tt):
        own = jax.vmap(model.acceleration)(q, q_t)
        return (
            jax.vmap(model.torque_decomposition)(q, q_t, q_tt),
            lz.torque_decomposition(model, q, q_t, q_tt),
            jax.vmap(model.inverse_dynamics)(q, q_t, q_tt),
            own,
            jax.vmap(model.inverse_dynamics)(q, q_t, own),
        )

    parts, generic, torque, own, no_torque = compare(model, q, q_t, q_tt)
    for ours, autodiff in zip(parts, generic):
        np.testing.assert_allclose(ours, autodiff, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(torque, parts.torque, atol=1e-14)
    # The motors supply C(q) q_t against the damping: positive work.
    assert np.all(np.sum(parts.dissipation * q_t, axis=-1) > 0)
    # The model's own (Cholesky) accelerations need no torque at all.
    np.testing.assert_allclose(no_torque, 0.0, atol=1e-10 * float(jnp.max(abs(own))))


def test_forward_and_inverse_dynamics_of_an_lnn_are_inverse(getkey):
    model = lz.models.LNN(2, key=getkey(), width=8, depth=2, dissipation=True, mass_prior=True)
    q, q_t, tau = states(2, batch=3)

    @eqx.filter_jit
    def round_trip(model, q, q_t, tau):
        return lz.inverse_dynamics(model, q, q_t, lz.forward_dynamics(model, q, q_t, tau))

    np.testing.assert_allclose(round_trip(model, q, q_t, tau), tau, atol=1e-9)


def test_a_driven_lagrangian_is_the_driven_system():
    arm = lz.systems.TwoLinkArm()

    def control(t, y):
        return jnp.stack([jnp.cos(t), -2.0 * y[2]])

    ours = lz.driven(arm.lagrangian, control)
    exact = arm.driven(control)
    constant = lz.driven(arm.lagrangian, jnp.array([1.0, -0.5]))

    @jax.jit
    @jax.vmap
    def fields(t, y):
        pushed = arm.forward_dynamics(y[:2], y[2:], jnp.array([1.0, -0.5]))
        return (
            (ours(t, y, None), exact(t, y, None)),
            (constant(t, y, None), jnp.concatenate([y[2:], pushed])),
        )

    ts, ys = jnp.array([0.0, 0.7]), jax.random.normal(jax.random.key(3), (2, 4))
    for driven, expected in fields(ts, ys):
        np.testing.assert_allclose(driven, expected, atol=1e-10)


def test_bad_arguments_are_refused(getkey):
    baseline = lz.models.Baseline(2, key=getkey(), width=4)
    delan = lz.models.DeLaN(2, key=getkey(), width=4)
    q = jnp.zeros(2)
    with pytest.raises(TypeError, match="`dynamics` must be a Lagrangian model.*Baseline, which"):
        lz.inverse_dynamics(baseline, q, q, q)
    with pytest.raises(
        ValueError, match=r"one shape .* got q of shape \(2,\), q_t of shape \(3,\)"
    ):
        lz.inverse_dynamics(delan, q, jnp.zeros(3), q)
    with pytest.raises(ValueError, match=r"dof=2, so the last axis must be 2"):
        lz.torque_decomposition(delan, jnp.zeros(3), jnp.zeros(3), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"`control` must be a callable .* shape \(2,\), got"):
        lz.driven(delan, jnp.zeros(3))
    with pytest.raises(TypeError, match="`tau` must be a real floating-point array"):
        lz.forward_dynamics(delan, q, q, jnp.zeros(2, int))
