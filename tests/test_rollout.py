"""Rollouts against closed-form solutions, convergence orders, energy behaviour and errors."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from lagrangian_zoo._rollout import _resolve_solver


OMEGA = 1.3


def oscillator(t, y, args):
    """A plain function: q_tt = -omega^2 q for every coordinate."""
    n = y.shape[0] // 2
    return jnp.concatenate([y[n:], -(OMEGA**2) * y[:n]])


def exact_oscillator(y0, ts):
    n = y0.shape[-1] // 2
    q0, v0 = y0[None, :n], y0[None, n:]
    c, s = jnp.cos(OMEGA * ts)[:, None], jnp.sin(OMEGA * ts)[:, None]
    q = q0 * c + v0 / OMEGA * s
    v = -q0 * OMEGA * s + v0 * c
    return jnp.concatenate([q, v], axis=-1)


def oscillator_energy(ys):
    n = ys.shape[-1] // 2
    return 0.5 * jnp.sum(ys[..., n:] ** 2, -1) + 0.5 * OMEGA**2 * jnp.sum(ys[..., :n] ** 2, -1)


class TwoSprings(eqx.Module):
    """A system with a `dof` attribute, as analytic systems and models have."""

    dof: int = eqx.field(static=True, default=2)

    def __call__(self, t, y, args):
        return oscillator(t, y, args)


Y0 = jnp.array([1.0, -0.5, 0.3, 0.8])
TS = jnp.linspace(0.0, 6.0, 13)


# One set of options for every solver, so that compiled solves are shared between tests.
OPTIONS = dict(rtol=1e-9, atol=1e-11, dt0=0.02)


@pytest.mark.parametrize(
    "solver, tolerance",
    [
        ("tsit5", 1e-6),
        ("dopri5", 1e-6),
        ("dopri8", 1e-6),
        ("kvaerno5", 1e-5),
        ("rk4", 1e-6),
        ("verlet", 2e-3),
    ],
)
def test_every_solver_matches_cos_sin(solver, tolerance):
    ys = lz.rollout(oscillator, Y0, TS, solver=solver, **OPTIONS)
    assert ys.shape == (13, 4)
    assert float(jnp.max(jnp.abs(ys - exact_oscillator(Y0, TS)))) < tolerance


def test_solver_instances():
    # A Diffrax solver without error estimates gets fixed steps of at most dt0.
    ys = lz.rollout(oscillator, Y0, TS, solver=diffrax.Euler(), dt0=1e-3)
    error = float(jnp.max(jnp.abs(ys - exact_oscillator(Y0, TS))))
    assert 1e-4 < error < 2e-2  # first order: visibly worse, still converging
    assert _resolve_solver(diffrax.Heun())[1]  # adaptive, since Diffrax says so
    assert not _resolve_solver(lz.StormerVerlet())[1]
    assert not _resolve_solver("rk4")[1]


def test_batched_equals_looped(getkey):
    y0s = jax.random.normal(getkey(), (3, 4))
    batched = lz.rollout(oscillator, y0s, TS, **OPTIONS)
    assert batched.shape == (3, 13, 4)
    for y0, ys in zip(y0s, batched):
        single = lz.rollout(oscillator, y0, TS, **OPTIONS)  # shares the tsit5 compilation
        assert np.allclose(ys, single, rtol=1e-12, atol=1e-12)
        assert np.allclose(ys, exact_oscillator(y0, TS), atol=1e-6)


def test_rk4_is_fourth_order():
    # With `dt0` traced under jit, the steps are exactly dt0 (one compilation for both) and the
    # outputs fall between steps, so this also checks the order of the interpolation.
    ts = jnp.linspace(0.0, 5.0, 8)
    roll = jax.jit(lambda dt0: lz.rollout(oscillator, Y0, ts, solver="rk4", dt0=dt0))
    errors = [float(jnp.max(jnp.abs(roll(dt) - exact_oscillator(Y0, ts)))) for dt in (0.1, 0.05)]
    assert 13.0 < errors[0] / errors[1] < 19.0


def test_verlet_is_second_order_without_energy_drift():
    ts = jnp.linspace(0.0, 400.0, 401)
    # dt0 traced: one compilation for both step sizes (steps land on `ts` up to rounding)
    roll = jax.jit(lambda dt0: lz.rollout(oscillator, Y0, ts, solver="verlet", dt0=dt0))
    ys, ys_fine = roll(0.1), roll(0.05)
    exact = exact_oscillator(Y0, ts)
    coarse, fine = jnp.max(jnp.abs(ys - exact)), jnp.max(jnp.abs(ys_fine - exact))
    assert 3.5 < float(coarse / fine) < 4.5  # second order

    energy = oscillator_energy(ys)
    drift = jnp.abs(energy - energy[0])
    # bounded: the error of the last quarter is no larger than that of the first quarter
    quarter = ts.shape[0] // 4
    assert float(jnp.max(drift[-quarter:])) < 1.1 * float(jnp.max(drift[:quarter]))
    assert float(jnp.max(drift)) < 1e-2 * float(energy[0])
    fine_drift = jnp.max(jnp.abs(oscillator_energy(ys_fine) - energy[0]))
    assert 3.5 < float(jnp.max(drift) / fine_drift) < 4.5  # the bound itself is O(dt^2)


def test_lagrangian_dynamics_in_float32():
    def lagrangian(q, q_t):
        return 0.5 * q_t @ q_t - 0.5 * OMEGA**2 * q @ q

    field = lz.lagrangian_vector_field(lagrangian)
    ys = lz.rollout(field, Y0.astype(jnp.float32), TS)  # default tsit5, rtol 1e-6
    assert ys.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(ys.astype(jnp.float64) - exact_oscillator(Y0, TS)))) < 1e-4


# --- Errors --------------------------------------------------------------------------------


def test_state_errors():
    with pytest.raises(ValueError, match=r"has dof=2, so it expects 2 \* dof = 4"):
        lz.rollout(TwoSprings(), jnp.zeros(6), TS)
    with pytest.raises(ValueError, match=r"`y0` must have shape \(2n,\).*got shape \(3,\)"):
        lz.rollout(oscillator, jnp.zeros(3), TS)
    with pytest.raises(ValueError, match=r"`y0` must have shape.*\(1, 2, 4\)"):
        lz.rollout(oscillator, jnp.zeros((1, 2, 4)), TS)
    with pytest.raises(ValueError, match=r"`y0` contains non-finite values.*index \(1, 2\)"):
        lz.rollout(oscillator, jnp.zeros((2, 4)).at[1, 2].set(jnp.nan), TS)
    with pytest.raises(TypeError, match="`y0` must be a real floating-point array"):
        lz.rollout(oscillator, jnp.zeros(4, dtype=jnp.int32), TS)


def test_time_errors():
    with pytest.raises(ValueError, match=r"strictly increasing, but ts\[2\] = 2.0 and ts\[3\]"):
        lz.rollout(oscillator, Y0, jnp.array([0.0, 1.0, 2.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"at least 2 strictly increasing times.*\(1,\)"):
        lz.rollout(oscillator, Y0, jnp.array([0.0]))
    with pytest.raises(ValueError, match=r"non-finite values: ts\[1\]"):
        lz.rollout(oscillator, Y0, jnp.array([0.0, jnp.inf]))


def test_solver_and_option_errors():
    with pytest.raises(ValueError, match=r"unknown `solver` 'rk45'.*'tsit5'.*'verlet'.*'rk4'"):
        lz.rollout(oscillator, Y0, TS, solver="rk45")
    with pytest.raises(ValueError, match="`rtol` must be a positive number"):
        lz.rollout(oscillator, Y0, TS, rtol=0.0)
    with pytest.raises(ValueError, match="`dt0` must be a positive step"):
        lz.rollout(oscillator, Y0, TS, solver="rk4", dt0=-0.1)
    with pytest.raises(ValueError, match=r"needs 600 steps.*max_steps=10: increase max_steps"):
        lz.rollout(oscillator, Y0, TS, solver="rk4", dt0=0.01, max_steps=10)


def test_dynamics_shape_error():
    with pytest.raises(ValueError, match=r"same shape as a state, \(4,\).*shape \(2,\)"):
        lz.rollout(lambda t, y, args: y[:2], Y0, TS)
    with pytest.raises(ValueError, match=r"same shape as a state, \(4,\).*tuple"):
        lz.rollout(lambda t, y, args: (y, y), Y0, TS)


def test_max_steps_and_non_finite_state_eagerly_and_under_jit():
    long_ts = jnp.linspace(0.0, 100.0, 3)
    message = "increase max_steps or loosen rtol"
    with pytest.raises(Exception, match=message):
        lz.rollout(oscillator, Y0, long_ts, max_steps=5)

    @jax.jit
    def simulate(y0):
        return lz.rollout(oscillator, y0, long_ts, max_steps=5)

    with pytest.raises(Exception, match=message):
        simulate(Y0).block_until_ready()
    with pytest.raises(Exception, match="`y0` contains non-finite values"):
        simulate(Y0.at[0].set(jnp.nan)).block_until_ready()
