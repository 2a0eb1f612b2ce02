"""Rollouts against closed-form solutions, convergence orders, energy behaviour and errors."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
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


def test_empty_batch_rolls_out_to_an_empty_batch():
    ys = lz.rollout(oscillator, jnp.zeros((0, 4)), TS)
    assert ys.shape == (0, 13, 4) and ys.dtype == jnp.float64
    # Checked like any other batch first.
    with pytest.raises(ValueError, match=r"has dof=2, so it expects 2 \* dof = 4"):
        lz.rollout(TwoSprings(), jnp.zeros((0, 6)), TS)
    with pytest.raises(ValueError, match=r"same shape as a state, \(4,\).*shape \(2,\)"):
        lz.rollout(lambda t, y, args: y[:2], jnp.zeros((0, 4)), TS)


def test_tolerances_and_steps_take_any_real_scalar():
    # NumPy scalars and 0-d arrays, as NumPy code and config files hand them over (the options
    # of test_every_solver_matches_cos_sin, so the compiled solve is shared).
    exact = exact_oscillator(Y0, TS)
    for rtol, atol, dt0 in [
        (np.float32(1e-9), np.float64(1e-11), np.float32(0.02)),
        (jnp.asarray(1e-9), np.asarray(1e-11), jnp.asarray(0.02)),
    ]:
        ys = lz.rollout(oscillator, Y0, TS, rtol=rtol, atol=atol, dt0=dt0)
        assert float(jnp.max(jnp.abs(ys - exact))) < 1e-6
    # The midpoint rule's Newton tolerances too, kept as Python floats (static settings).
    solver = lz.ImplicitMidpoint(rtol=np.float32(0.25), atol=jnp.asarray(1e-9))
    assert (solver.rtol, solver.atol) == (0.25, 1e-9)


_EVALUATION_TIMES: list[float] = []


def _recorded_oscillator(t, y, args):
    """The oscillator, recording the times at which it is evaluated."""
    jax.debug.callback(lambda t: _EVALUATION_TIMES.append(float(t)), t)
    return oscillator(t, y, args)


def test_adaptive_solvers_take_dt0_as_their_first_step():
    # The first step's stages lie in [ts[0], ts[0] + dt0]. Diffrax's own first step (8e-3
    # here, its first stage at 1.6e-3) would put none below 1e-9 after ts[0] = 0.
    _EVALUATION_TIMES.clear()
    ts = jnp.linspace(0.0, 1.0, 3)
    ys = lz.rollout(_recorded_oscillator, Y0, ts, dt0=1e-9)
    assert 0.0 < min(t for t in _EVALUATION_TIMES if t > 0) <= 1e-9
    assert float(jnp.max(jnp.abs(ys - exact_oscillator(Y0, ts)))) < 1e-5


def _blows_up(t, y, args):
    """q_t = q^2 (and a resting second entry): q = q0 / (1 - q0 t) blows up at t = 1 / q0."""
    return jnp.stack([y[0] ** 2, jnp.zeros_like(y[1])])


def _midpoint_steps(q0, ts):
    """The implicit midpoint rule for q_t = q^2, step by step in NumPy: the smaller root of
    k = h (q + k / 2)^2, which exists while 2 h q <= 1; nan from the first step without one."""
    qs = np.full(ts.shape, np.nan)
    qs[0] = q0
    for i, h in enumerate(np.diff(ts)):
        q = qs[i]
        if 2 * h * q > 1:
            break
        qs[i + 1] = q + 2 * h * q**2 / ((1 - h * q) + np.sqrt(1 - 2 * h * q))
    return qs


def test_unchecked_batch_is_non_finite_from_each_failure_on():
    # The middle state blows up at t = 1.305, the others after ts[-1]. Without checks the
    # batch comes back whole, and a failed rollout is non-finite from its failure on, never a
    # finite last iterate that a score would take for a state. Adaptive solvers keep no step
    # with a non-finite error (docs/rollouts.md shows one); the midpoint rule fails at the
    # first step whose equation k = h (q + k / 2)^2 has no root, and returns nan from there.
    q0 = np.array([0.2, 1 / 1.305, 0.5])
    y0 = jnp.asarray(np.stack([q0, np.zeros(3)], axis=1))
    ts = jnp.linspace(0.0, 1.5, 151)
    times = np.asarray(ts)
    ys = np.asarray(lz.rollout(_blows_up, y0, ts, solver="midpoint", dt0=0.01, checks=False))
    references = [_midpoint_steps(q, times) for q in q0]
    assert [int(np.isnan(r).sum()) for r in references] == [0, 21, 0]  # the middle one fails
    for row, reference in zip(ys, references):
        failed = np.isnan(reference)
        np.testing.assert_allclose(row[~failed, 0], reference[~failed], rtol=1e-10)
        assert not np.any(np.isfinite(row[failed]))


# Precision: `dtype` and `cast_floating` --------------------------------------------------


def _spring_error(ys, ts):
    # The spring's defaults, m = 1/2 and k = 2: q = cos(2t), q_t = -2 sin(2t) from (1, 0).
    ts = np.asarray(ts, np.float64)
    exact = np.stack([np.cos(2 * ts), -2 * np.sin(2 * ts)], -1)
    return float(np.max(np.abs(np.asarray(ys, np.float64) - exact)))


def test_dtype_rolls_a_float32_system_out_in_float64():
    with jax.enable_x64(False):
        system = lz.systems.get("spring")  # float32 parameters, as after float32 training
        y0, ts = jnp.array([1.0, 0.0]), jnp.linspace(0.0, 10.0, 11)
        assert y0.dtype == system.stiffness.dtype == jnp.float32
        options = dict(solver="dopri8", rtol=1e-12, atol=1e-12)
        wide = lz.rollout(system, y0, ts, dtype=jnp.float64, **options)
        narrow = lz.rollout(system, y0, ts, rtol=1e-6, atol=1e-6)
        assert not jax.config.jax_enable_x64  # switched on for the call only
    assert wide.dtype == jnp.float64 and narrow.dtype == jnp.float32
    # Float32's rounding alone is ~1e-7; the float64 solve reaches the closed form far below.
    assert _spring_error(wide, ts) < 1e-8
    assert _spring_error(narrow, ts) > 1e-7


def test_dtype_float32_in_a_float64_session():
    system = lz.systems.get("spring")
    ts = np.linspace(0.0, 3.0, 7)
    ys = lz.rollout(system, np.array([1.0, 0.0]), ts, dtype="float32", rtol=1e-6, atol=1e-6)
    assert ys.dtype == jnp.float32
    assert _spring_error(ys, ts) < 1e-4


def test_dtype_refuses_what_it_cannot_do():
    system = lz.systems.get("spring")
    with pytest.raises(ValueError, match="`dtype` must be a real floating-point dtype.*int32"):
        lz.rollout(system, jnp.array([1.0, 0.0]), jnp.linspace(0.0, 1.0, 3), dtype=jnp.int32)
    with jax.enable_x64(False):
        y0, ts = jnp.array([1.0, 0.0]), jnp.linspace(0.0, 1.0, 3)
        roll = jax.jit(lambda y: lz.rollout(system, y, ts, dtype=jnp.float64))
        with pytest.raises(ValueError, match="float64 under jit needs 64-bit floats"):
            roll(y0)
        with pytest.raises(ValueError, match="float64 needs 64-bit floats"):
            lz.cast_floating(system, jnp.float64)


def test_cast_floating_casts_floating_arrays_only(getkey):
    model = lz.models.LGN(4, key=getkey(), width=4, depth=1)
    tree = {"model": model, "index": jnp.arange(3), "key": getkey(), "name": "lgn"}
    cast = lz.cast_floating(tree, jnp.float32)
    floating = [leaf for leaf in jax.tree.leaves(cast["model"]) if eqx.is_inexact_array(leaf)]
    assert floating and all(leaf.dtype == jnp.float32 for leaf in floating)
    assert cast["index"].dtype == tree["index"].dtype and cast["name"] == "lgn"
    assert cast["key"] is tree["key"]
    before = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    after = jax.tree.leaves(eqx.filter(lz.cast_floating(cast, jnp.float64), eqx.is_inexact_array))
    # float64 -> float32 -> float64 keeps each value to float32's rounding.
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a, b, rtol=2**-24)


# Velocity states for models that take canonical ones: `lagrangian` ------------------------


def test_lagrangian_rolls_a_canonical_model_out_from_velocity_states(getkey):
    # The spring, m = 1/2: p = m q_t, so q_t = 2 p (its Legendre map in closed form).
    system = lz.systems.get("spring")
    hnn = lz.models.HNN(1, key=getkey(), width=8)
    y0 = jnp.array([[1.0, 0.5], [-0.3, 2.0]])
    ts = jnp.linspace(0.0, 2.0, 5)
    ys = lz.rollout(hnn, y0, ts, lagrangian=system.lagrangian)
    to_momenta, to_velocities = jnp.array([[1.0, 0.5]]), jnp.array([[[1.0, 2.0]]])
    canonical = lz.rollout(hnn, y0 * to_momenta, ts)
    np.testing.assert_allclose(ys, canonical * to_velocities, rtol=1e-12, atol=1e-14)
    # Dynamics that take velocity states are rolled out as they are.
    np.testing.assert_array_equal(
        lz.rollout(system, y0, ts, lagrangian=system.lagrangian), lz.rollout(system, y0, ts)
    )


def test_lagrangian_leaves_a_failed_canonical_rollout_non_finite(getkey):
    system = lz.systems.get("spring")
    hnn = lz.models.HNN(1, key=getkey(), width=8)
    ts = jnp.linspace(0.0, 2.0, 5)
    ys = lz.rollout(
        hnn, jnp.array([1.0, 0.5]), ts, lagrangian=system.lagrangian, max_steps=1, checks=False
    )
    assert np.all(np.isfinite(ys[0])) and np.all(np.isnan(ys[-1]))
    # (jaxtyping's check, where it runs, names `lagrangian` first.)
    with pytest.raises((TypeError, jaxtyping.TypeCheckError), match="lagrangian"):
        lz.rollout(hnn, jnp.array([1.0, 0.5]), ts, lagrangian="spring")


def test_exported_rk4_takes_one_step_by_its_taylor_polynomial():
    # On y' = lam y one classic RK4 step multiplies y by the degree-4 Taylor polynomial of
    # exp(h lam), a closed form of the method itself.
    lam, h = -0.7, 0.3
    ys = lz.rollout(
        lambda t, y, args: lam * y,
        jnp.array([2.0, 1.0]),
        jnp.array([0.0, h]),
        solver=lz.ClassicRK4(),
        dt0=h,
    )
    z = h * lam
    factor = 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24
    assert np.allclose(ys[1], factor * np.array([2.0, 1.0]), rtol=1e-14, atol=0)
    assert not _resolve_solver(lz.ClassicRK4())[1]  # fixed steps: no error estimate to adapt by
