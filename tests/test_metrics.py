import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st


def harmonic_energy(q, q_t):
    return 0.5 * jnp.sum(q_t**2) + 0.5 * jnp.sum(q**2)


# Hand-computed values ------------------------------------------------------------------------


def test_derivative_mse_by_hand():
    predicted = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    true = jnp.array([[1.0, 0.0], [0.0, 4.0]])
    # squared errors 0, 4, 9, 0
    assert float(lz.metrics.derivative_mse(predicted, true)) == pytest.approx(13 / 4)
    per_state = lz.metrics.derivative_mse(predicted, true, reduction="none")
    assert np.allclose(per_state, [2.0, 4.5])


def test_derivative_mse_many_batch_axes():
    rng = np.random.default_rng(0)
    predicted, true = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    expected = np.mean((predicted - true) ** 2)
    value = lz.metrics.derivative_mse(jnp.asarray(predicted), jnp.asarray(true))
    assert value.shape == ()
    assert float(value) == pytest.approx(expected, rel=1e-12)
    assert lz.metrics.derivative_mse(
        jnp.asarray(predicted), jnp.asarray(true), reduction="none"
    ).shape == (2, 3)


def test_rollout_mse_by_hand():
    true = jnp.zeros((2, 3, 2))
    predicted = jnp.zeros((2, 3, 2)).at[0].set(1.0).at[1, 0, 0].set(2.0)
    # trajectory 0: every squared error is 1; trajectory 1: 4 / 6
    per_trajectory = lz.metrics.rollout_mse(predicted, true, reduction="none")
    assert np.allclose(per_trajectory, [1.0, 2 / 3])
    assert float(lz.metrics.rollout_mse(predicted, true)) == pytest.approx(5 / 6)
    assert float(lz.metrics.rollout_mse(true[0], true[0])) == 0.0


def test_energy_mse_and_discrepancy_by_hand():
    true = jnp.array([[1.0, 0.0], [0.0, 1.0]])  # E = 0.5, 0.5
    predicted = jnp.array([[1.0, 1.0], [0.0, 2.0]])  # E = 1.0, 2.0
    assert float(lz.metrics.energy_mse(harmonic_energy, true, predicted)) == pytest.approx(
        (0.25 + 2.25) / 2
    )
    final = lz.metrics.energy_discrepancy(harmonic_energy, true, predicted, scale=2.0)
    mean = lz.metrics.energy_discrepancy(harmonic_energy, true, predicted, scale=2.0, at="mean")
    assert float(final) == pytest.approx(1.5 / 2)
    assert float(mean) == pytest.approx((0.5 + 1.5) / 2 / 2)


def test_energy_metrics_batching():
    true = jnp.array([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]])  # E = .5,.5 / 2,2
    predicted = jnp.array([[[1.0, 1.0], [0.0, 2.0]], [[2.0, 0.0], [1.0, 2.0]]])  # 1,2 / 2,2.5
    per = lz.metrics.energy_mse(harmonic_energy, true, predicted, reduction="none")
    assert np.allclose(per, [(0.25 + 2.25) / 2, (0.0 + 0.25) / 2])
    assert float(lz.metrics.energy_mse(harmonic_energy, true, predicted)) == pytest.approx(
        (1.25 + 0.125) / 2
    )
    per_final = lz.metrics.energy_discrepancy(
        harmonic_energy, true, predicted, scale=0.5, reduction="none"
    )
    assert np.allclose(per_final, [3.0, 1.0])
    assert float(
        lz.metrics.energy_discrepancy(harmonic_energy, true, predicted, scale=0.5)
    ) == pytest.approx(2.0)
    # Two leading batch axes: every entry equals the single-trajectory value.
    stacked = jnp.broadcast_to(true[0], (2, 3, 2, 2))
    stacked_pred = jnp.broadcast_to(predicted[0], (2, 3, 2, 2))
    out = lz.metrics.energy_mse(harmonic_energy, stacked, stacked_pred, reduction="none")
    assert out.shape == (2, 3)
    assert np.allclose(out, 1.25)


@pytest.fixture(scope="module")
def pendulum_rollout():
    system = lz.systems.get("pendulum")
    ts = jnp.linspace(0.0, 2.0, 21)
    y0 = jnp.array([[1.0, 0.5], [-0.5, 2.0]])
    ys = lz.rollout(system, y0, ts, rtol=1e-10, atol=1e-12, solver="dopri8")
    return system, ts, ys


def test_energy_metrics_on_perturbed_pendulum(pendulum_rollout):
    system, _, true = pendulum_rollout
    # Scaling the velocities by 1.1 raises E = m l^2 q_t^2 / 2 + ... (m = 1/2, l = 1) by
    # exactly 0.25 * 0.21 * q_t^2.
    predicted = true.at[..., 1].multiply(1.1)
    gap = 0.25 * 0.21 * np.asarray(true[..., 1]) ** 2
    assert float(lz.metrics.energy_mse(system.energy, true, predicted)) == pytest.approx(
        np.mean(gap**2), rel=1e-10
    )
    scale = 6.0  # the largest potential energy, 2 m g l at q = pi
    final = lz.metrics.energy_discrepancy(system.energy, true, predicted, scale=scale)
    mean = lz.metrics.energy_discrepancy(system.energy, true, predicted, scale=scale, at="mean")
    assert float(final) == pytest.approx(np.mean(gap[:, -1]) / scale, rel=1e-10)
    assert float(mean) == pytest.approx(np.mean(gap) / scale, rel=1e-10)
    assert float(lz.metrics.energy_mse(system.energy, true, true)) == 0.0


def test_energy_drift(pendulum_rollout):
    system, _, ys = pendulum_rollout
    drift = lz.metrics.energy_drift(system.energy, ys)
    assert drift.shape == (2,)
    assert np.all(drift < 1e-8)
    # E = 2, 2.5, 1 along a hand-made trajectory: max |E - E0| / |E0| = 1 / 2.
    ys = jnp.array([[2.0, 0.0], [0.0, jnp.sqrt(5.0)], [0.0, jnp.sqrt(2.0)]])
    assert float(lz.metrics.energy_drift(harmonic_energy, ys)) == pytest.approx(0.5)
    # A zero initial energy is divided by the floor instead.
    at_rest = jnp.array([[0.0, 0.0], [0.0, 1.0]])
    assert float(lz.metrics.energy_drift(harmonic_energy, at_rest, floor=2.0)) == 0.25
    assert np.isnan(float(lz.metrics.energy_drift(harmonic_energy, at_rest.at[1, 0].set(jnp.nan))))


# Valid prediction time ----------------------------------------------------------------------


def _diverging(ts, rate):
    """A constant true state of norm 5 and a prediction whose error is `rate * 5 * t`."""
    true = jnp.broadcast_to(jnp.array([3.0, 4.0]), (ts.shape[0], 2))
    error = jnp.stack([5.0 * rate * ts, jnp.zeros_like(ts)], axis=-1)
    return true, true + error


def test_valid_prediction_time_crossing():
    ts = jnp.linspace(0.0, 1.0, 11)
    true, predicted = _diverging(ts, 1.0)  # normalised error e(t) = t
    vpt = lz.metrics.valid_prediction_time
    assert float(vpt(ts, true, predicted, threshold=0.45)) == pytest.approx(0.5)
    assert float(vpt(ts, true, predicted, threshold=0.45, scale="instantaneous")) == (
        pytest.approx(0.5)
    )
    # A fixed scale of 10 halves the error: t / 2 > 0.33 first at t = 0.7.
    assert float(vpt(ts, true, predicted, threshold=0.33, scale=10.0)) == pytest.approx(0.7)
    # Never exceeded: the last time.
    assert float(vpt(ts, true, predicted, threshold=2.0)) == pytest.approx(1.0)
    # A blown-up prediction counts as exceeding.
    blown = predicted.at[3].set(jnp.nan)
    assert float(vpt(ts, true, blown, threshold=2.0)) == pytest.approx(0.3)


def test_valid_prediction_time_batched_and_jitted():
    ts = jnp.linspace(0.0, 1.0, 11)
    true_a, pred_a = _diverging(ts, 1.0)
    true_b, pred_b = _diverging(ts, 4.0)  # e(t) = 4 t
    true, predicted = jnp.stack([true_a, true_b]), jnp.stack([pred_a, pred_b])
    out = jax.jit(lambda a, b: lz.metrics.valid_prediction_time(ts, a, b, threshold=0.45))(
        true, predicted
    )
    assert out.shape == (2,)
    assert np.allclose(out, [0.5, 0.2])
    deeper = lz.metrics.valid_prediction_time(
        ts, jnp.stack([true] * 3), jnp.stack([predicted] * 3), threshold=0.45
    )
    assert deeper.shape == (3, 2)


def test_valid_prediction_time_rms_versus_instantaneous():
    ts = jnp.arange(8.0)
    amplitude = jnp.array([1.0, 1, 1, 1, 3, 3, 3, 3])
    true = jnp.stack([amplitude, jnp.zeros(8)], axis=-1)
    predicted = true.at[:, 1].add(1.5)
    # rms norm sqrt((4 * 1 + 4 * 9) / 8) = sqrt(5): error 1.5 / sqrt(5) = 0.67 < 1 throughout;
    # instantaneous: 1.5 / 1 > 1 at once.
    vpt = lz.metrics.valid_prediction_time
    assert float(vpt(ts, true, predicted, threshold=1.0)) == 7.0
    assert float(vpt(ts, true, predicted, threshold=1.0, scale="instantaneous")) == 0.0
    assert float(vpt(ts, true, predicted, threshold=0.6)) == 0.0


# Dtypes, transformations, properties ----------------------------------------------------------


def test_float32_and_mixed_dtypes():
    a = jnp.ones((3, 2), jnp.float32)
    b = jnp.zeros((3, 2), jnp.float64)
    assert lz.metrics.rollout_mse(a, a).dtype == jnp.float32
    assert lz.metrics.rollout_mse(a, b).dtype == jnp.float64
    value = lz.metrics.energy_discrepancy(harmonic_energy, a, 2 * a, scale=1.0)
    assert value.dtype == jnp.float32
    assert float(value) == pytest.approx(3.0)  # |1 - 4|


def test_jit_and_grad():
    rng = np.random.default_rng(1)
    true = jnp.asarray(rng.normal(size=(2, 5, 4)))
    predicted = jnp.asarray(rng.normal(size=(2, 5, 4)))
    eager = lz.metrics.energy_discrepancy(harmonic_energy, true, predicted, scale=3.0, at="mean")
    jitted = jax.jit(
        lambda a, b, s: lz.metrics.energy_discrepancy(harmonic_energy, a, b, scale=s, at="mean")
    )(true, predicted, 3.0)
    assert float(jitted) == pytest.approx(float(eager), rel=1e-12)
    grad = jax.grad(lambda p: lz.metrics.rollout_mse(p, true))(predicted)
    assert np.allclose(grad, 2 * (predicted - true) / predicted.size)


@settings(max_examples=15, deadline=None)
@given(st.floats(0.1, 100.0), st.sampled_from(["final", "mean"]))
def test_discrepancy_scales_inversely(scale, at):
    true = jnp.array([[[0.3, -1.0], [0.5, 0.2], [1.0, 1.0]]])
    predicted = true * 1.3
    one = lz.metrics.energy_discrepancy(harmonic_energy, true, predicted, scale=1.0, at=at)
    scaled = lz.metrics.energy_discrepancy(harmonic_energy, true, predicted, scale=scale, at=at)
    assert float(scaled) * scale == pytest.approx(float(one), rel=1e-12)


# Errors ------------------------------------------------------------------------------------


def test_shape_errors():
    with pytest.raises(ValueError, match="`predicted_ys` and `true_ys` must have the same shape"):
        lz.metrics.rollout_mse(jnp.zeros((4, 2)), jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="`predicted_dy` and `true_dy`"):
        lz.metrics.derivative_mse(jnp.zeros((4, 2)), jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="`true_ys` must hold states"):
        lz.metrics.energy_mse(harmonic_energy, jnp.zeros((4, 3)), jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"`ts` must have shape \(T,\) with T = 4"):
        lz.metrics.valid_prediction_time(jnp.arange(5.0), jnp.zeros((4, 2)), jnp.zeros((4, 2)))


def test_argument_errors():
    ys = jnp.ones((4, 2))
    # Literal arguments: refused by the run-time type checker when it is on, by the function
    # itself otherwise; both messages list the allowed values.
    with pytest.raises((ValueError, TypeError), match="'final'.*'mean'"):
        lz.metrics.energy_discrepancy(harmonic_energy, ys, ys, scale=1.0, at="last")
    with pytest.raises(ValueError, match="`scale` must be positive"):
        lz.metrics.energy_discrepancy(harmonic_energy, ys, ys, scale=0.0)
    with pytest.raises((ValueError, TypeError), match="'mean'.*'none'"):
        lz.metrics.rollout_mse(ys, ys, reduction="sum")
    with pytest.raises(ValueError, match="`threshold` must be positive"):
        lz.metrics.valid_prediction_time(jnp.arange(4.0), ys, ys, threshold=-1.0)
    with pytest.raises((ValueError, TypeError), match="'rms'.*'instantaneous'"):
        lz.metrics.valid_prediction_time(jnp.arange(4.0), ys, ys, scale="max")
    with pytest.raises(ValueError, match="`energy` must return a scalar"):
        lz.metrics.energy_mse(lambda q, q_t: q + q_t, ys, ys)
    with pytest.raises(TypeError, match="energy.*[Cc]allable"):
        lz.metrics.energy_drift(3.0, ys)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="`floor` must be positive"):
        lz.metrics.energy_drift(harmonic_energy, ys, floor=-1.0)


def test_scale_checked_inside_jit():
    ys = jnp.ones((4, 2))
    fn = jax.jit(lambda s: lz.metrics.energy_discrepancy(harmonic_energy, ys, ys, scale=s))
    with pytest.raises(Exception, match="`scale` must be positive and finite"):
        fn(-1.0)


# Angles -------------------------------------------------------------------------------------


def test_rollout_mse_wraps_angle_differences_by_hand():
    # q = pi - 0.1 and q = -pi + 0.1 are 0.2 apart on the circle, not 2 pi - 0.2.
    true = jnp.array([[np.pi - 0.1, 1.0, 0.0, 0.5]])
    predicted = jnp.array([[-np.pi + 0.1, 1.0 + 2 * np.pi, 0.0, 0.5 + 2 * np.pi]])
    # Only the first coordinate is an angle; its velocity and the second coordinate are not.
    expected = (0.2**2 + (2 * np.pi) ** 2 + 0.0 + (2 * np.pi) ** 2) / 4
    value = lz.metrics.rollout_mse(predicted, true, periodic=(True, False))
    assert float(value) == pytest.approx(expected, rel=1e-12)
    plain = ((2 * np.pi - 0.2) ** 2 + 2 * (2 * np.pi) ** 2) / 4
    assert float(lz.metrics.rollout_mse(predicted, true)) == pytest.approx(plain, rel=1e-12)
    # An angle difference of exactly pi stays pi: the wrap is into (-pi, pi].
    half = lz.metrics.rollout_mse(jnp.array([[np.pi, 0.0]]), jnp.zeros((1, 2)), periodic=(True,))
    assert float(half) == pytest.approx(np.pi**2 / 2, rel=1e-12)


@settings(max_examples=10, deadline=None)
@given(
    turns=st.lists(st.integers(-3, 3), min_size=21, max_size=21),
    shift_truth=st.integers(-2, 2),
)
def test_a_motion_shifted_by_whole_turns_gives_identical_metrics(
    pendulum_rollout, turns, shift_truth
):
    system, ts, true = pendulum_rollout
    # A prediction that drifts away from the truth, then the same prediction with its angle
    # moved by whole turns at every time (as an unwrapped integration would give it), and the
    # truth moved by whole turns too.
    predicted = true.at[..., 0].add(0.3 * ts**2).at[..., 1].multiply(1.05)
    turned = predicted.at[..., 0].add(2 * np.pi * jnp.asarray(turns, float))
    true_turned = true.at[..., 0].add(2 * np.pi * shift_truth)
    periodic = system.periodic
    assert periodic == (True,)

    mse = lz.metrics.rollout_mse(predicted, true, periodic=periodic, reduction="none")
    mse_turned = lz.metrics.rollout_mse(turned, true_turned, periodic=periodic, reduction="none")
    np.testing.assert_allclose(mse_turned, mse, rtol=1e-9)
    # The reference: the plain MSE of the unshifted motion, whose angles differ by < pi.
    assert float(jnp.max(jnp.abs(predicted - true)[..., 0])) < np.pi
    np.testing.assert_allclose(
        mse, lz.metrics.rollout_mse(predicted, true, reduction="none"), rtol=1e-12
    )

    for scale in ("rms", "instantaneous", 2.0):
        vpt = lz.metrics.valid_prediction_time(
            ts, true, predicted, threshold=0.1, scale=scale, periodic=periodic
        )
        vpt_turned = lz.metrics.valid_prediction_time(
            ts, true_turned, turned, threshold=0.1, scale=scale, periodic=periodic
        )
        np.testing.assert_array_equal(vpt_turned, vpt)
        assert np.all(np.asarray(vpt) < float(ts[-1]))  # the threshold is crossed


def test_without_periodic_whole_turns_count_as_errors(pendulum_rollout):
    _, ts, true = pendulum_rollout
    turned = true.at[..., 0].add(2 * np.pi)
    # The physically identical motion is a perfect prediction only when the angle is declared.
    assert float(lz.metrics.rollout_mse(turned, true)) == pytest.approx(2 * np.pi**2)
    assert float(lz.metrics.rollout_mse(turned, true, periodic=(True,))) < 1e-20
    assert np.all(np.asarray(lz.metrics.valid_prediction_time(ts, true, turned)) == 0.0)
    vpt = lz.metrics.valid_prediction_time(ts, true, turned, periodic=(True,))
    np.testing.assert_array_equal(vpt, float(ts[-1]))


def test_periodic_is_checked():
    ys = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match="`periodic` must have one entry per coordinate: 2"):
        lz.metrics.rollout_mse(ys, ys, periodic=(True,))
    # Refused by the run-time type checker when it is on, by the function itself otherwise.
    with pytest.raises(TypeError, match="periodic"):
        lz.metrics.rollout_mse(ys, ys, periodic=(1, 0))
    with pytest.raises((TypeError, ValueError), match="periodic"):
        lz.metrics.valid_prediction_time(jnp.arange(3.0), ys, ys, periodic="angle")


# The HNN paper's energy protocols -----------------------------------------------------------


def _spring_field(c):
    """The canonical field of H = q^2 + c p^2: (dq/dt, dp/dt) = (2 c p, -2 q)."""

    def field(t, y, args):
        return jnp.stack([2 * c * y[1], -2 * y[0]])

    return field


def _spring_energy(q, p):
    return q[0] ** 2 + p[0] ** 2


def _spring_flow(y0, ts, c):
    """The closed-form flow of H = q^2 + c p^2 from states `y0` (numpy, shape (B, 2))."""
    omega = 2 * np.sqrt(c)
    q0, p0 = y0[:, :1], y0[:, 1:]
    cos, sin = np.cos(omega * ts)[None], np.sin(omega * ts)[None]
    q = q0 * cos + 2 * c * p0 / omega * sin
    p = p0 * cos - 2 * q0 / omega * sin
    return np.stack([q, p], axis=-1)


def test_energy_mse_test_trajectories_exact_model_is_zero():
    ts = np.linspace(0.0, 3.0, 31)
    y0 = np.array([[0.5, 0.0], [-0.3, 0.7], [0.1, -0.2]])
    true = _spring_flow(y0, ts, 1.0)
    per_trajectory = lz.metrics.energy_mse_test_trajectories(
        _spring_field(1.0), _spring_energy, ts, jnp.asarray(true), reduction="none"
    )
    assert per_trajectory.shape == (3,)
    assert float(jnp.max(per_trajectory)) < 1e-16


@pytest.mark.parametrize("c", [0.5, 1.5])
def test_energy_mse_test_trajectories_wrong_frequency_by_closed_form(c):
    # A model with H = q^2 + c p^2 runs on ellipses: from (A, 0) the true energy along its
    # rollout is A^2 + A^2 (1/c - 1) sin^2(2 sqrt(c) t), the truth's is A^2.
    ts = np.linspace(0.0, 3.0, 31)
    amplitudes = np.array([0.4, 1.0])
    y0 = np.stack([amplitudes, np.zeros(2)], axis=1)
    true = _spring_flow(y0, ts, 1.0)
    gap = amplitudes[:, None] ** 2 * (1 / c - 1) * np.sin(2 * np.sqrt(c) * ts)[None] ** 2
    expected = np.mean(gap**2, axis=1)
    value = lz.metrics.energy_mse_test_trajectories(
        _spring_field(c), _spring_energy, ts, jnp.asarray(true), reduction="none"
    )
    assert np.allclose(value, expected, rtol=1e-6)
    mean = lz.metrics.energy_mse_test_trajectories(
        _spring_field(c), _spring_energy, ts, jnp.asarray(true)
    )
    assert float(mean) == pytest.approx(np.mean(expected), rel=1e-6)


def test_energy_mse_test_trajectories_counts_a_blow_up_as_non_finite():
    # dq/dt = q^2 from q = 1 blows up at t = 1; from q = 0 it stays at rest.
    def blow_up(t, y, args):
        return jnp.stack([y[0] ** 2, jnp.zeros_like(y[1])])

    ts = np.linspace(0.0, 3.0, 31)
    true = np.zeros((2, 31, 2))
    true[0, :, 0] = 1.0
    value = lz.metrics.energy_mse_test_trajectories(
        blow_up, _spring_energy, ts, jnp.asarray(true), reduction="none"
    )
    assert not np.isfinite(value[0])
    assert float(value[1]) == 0.0


def test_long_horizon_initial_states_follow_the_notebook(getkey):
    states = lz.metrics.long_horizon_initial_states(getkey())
    assert states.shape == (15, 2)
    magnitude = np.abs(np.asarray(states))
    assert np.all((magnitude >= 0.2) & (magnitude <= 1.0))
    many = np.asarray(lz.metrics.long_horizon_initial_states(getkey(), starts=400, dof=2))
    assert many.shape == (400, 4)
    assert 0.4 < np.mean(many > 0) < 0.6  # both signs, about equally often


def test_energy_mse_long_horizon_exact_model_is_zero(getkey):
    y0 = lz.metrics.long_horizon_initial_states(getkey())
    value = lz.metrics.energy_mse_long_horizon(
        _spring_field(1.0), _spring_field(1.0), _spring_energy, y0
    )
    assert float(value) < 1e-20
    # Stretching time keeps the model on the true circle: still no energy error.
    stretched = lz.metrics.energy_mse_long_horizon(
        _spring_field(1.0), _spring_field(1.0), _spring_energy, y0, time_stretch=1.09
    )
    assert float(stretched) < 1e-16


@pytest.mark.parametrize("c", [0.8, 1.25])
def test_energy_mse_long_horizon_wrong_frequency_by_closed_form(getkey, c):
    y0 = lz.metrics.long_horizon_initial_states(getkey(), starts=5)
    ts = np.linspace(0.0, 20.0, 100)
    truth = _spring_flow(np.asarray(y0), ts, 1.0)
    predicted = _spring_flow(np.asarray(y0), ts, c)
    gap = np.sum(truth**2, axis=-1) - np.sum(predicted**2, axis=-1)
    expected = np.mean(gap**2, axis=1)
    value = lz.metrics.energy_mse_long_horizon(
        _spring_field(c), _spring_field(1.0), _spring_energy, y0, reduction="none"
    )
    assert np.allclose(value, expected, rtol=1e-7)
    assert np.all(expected > 1e-3)  # the closed form is far from zero: the test can fail


def test_energy_protocol_argument_errors(getkey):
    field = _spring_field(1.0)
    y0 = lz.metrics.long_horizon_initial_states(getkey())
    with pytest.raises(ValueError, match="times"):
        lz.metrics.energy_mse_long_horizon(field, field, _spring_energy, y0, times=1)
    with pytest.raises(ValueError, match="time_stretch"):
        lz.metrics.energy_mse_long_horizon(field, field, _spring_energy, y0, time_stretch=0.0)
    with pytest.raises(ValueError, match="low"):
        lz.metrics.long_horizon_initial_states(getkey(), low=1.0, high=0.5)


# Failed rollouts ----------------------------------------------------------------------------


def _batch_with_failures():
    """Five rollouts of one true motion [[1, 0], [0, 1]] (E = 1/2 at both times): exact, two
    with small errors, one that went nan, and one that stayed finite but ran away (its energy
    error is 1e10, ten billion times a scale of 1)."""
    true = np.broadcast_to(np.array([[1.0, 0.0], [0.0, 1.0]]), (5, 2, 2))
    predicted = true.copy()
    predicted[1, 1, 1] = 1.2  # E = 0.72
    predicted[2, 1] = np.nan
    predicted[3, 1, 1] = np.sqrt(2e10 + 1.0)  # E = 1e10 + 1/2
    predicted[4, 1, 1] = 1.1  # E = 0.605
    return jnp.asarray(true), jnp.asarray(predicted)


def test_batch_means_leave_out_non_finite_rollouts():
    true, predicted = _batch_with_failures()
    # Per trajectory, by hand; the nan rollout (index 2) is left out of every mean.
    runaway = (np.sqrt(2e10 + 1.0) - 1.0) ** 2 / 4
    rollout = [0.0, 0.04 / 4, runaway, 0.01 / 4]
    energy = [0.0, 0.22**2 / 2, 1e20 / 2, 0.105**2 / 2]
    discrepancy = [0.0, 0.22, 1e10, 0.105]
    assert float(lz.metrics.rollout_mse(predicted, true)) == pytest.approx(
        np.mean(rollout), rel=1e-12
    )
    assert float(lz.metrics.energy_mse(harmonic_energy, true, predicted)) == pytest.approx(
        np.mean(energy), rel=1e-12
    )
    assert float(
        lz.metrics.energy_discrepancy(harmonic_energy, true, predicted, scale=1.0)
    ) == pytest.approx(np.mean(discrepancy), rel=1e-12)
    # One value per trajectory still shows the failure; a batch of failures alone has no mean.
    per = lz.metrics.rollout_mse(predicted, true, reduction="none")
    assert np.isnan(per[2]) and np.isfinite(np.delete(np.asarray(per), 2)).all()
    assert np.isnan(float(lz.metrics.rollout_mse(jnp.full_like(true, jnp.nan), true)))


def test_failed_rollouts_by_hand():
    true, predicted = _batch_with_failures()
    failed = lz.metrics.failed_rollouts(true, predicted)
    assert failed.dtype == jnp.bool_
    assert failed.tolist() == [False, False, True, False, False]
    with_energy = lz.metrics.failed_rollouts(true, predicted, energy=harmonic_energy, scale=1.0)
    assert with_energy.tolist() == [False, False, True, True, False]
    # Energy errors 0, 0.22, nan, 1e10, 0.105 against bounds of 0.2 and of 1e11 * 1.
    strict = lz.metrics.failed_rollouts(
        true, predicted, energy=harmonic_energy, scale=1.0, max_energy_error=0.2
    )
    assert strict.tolist() == [False, True, True, True, False]
    loose = lz.metrics.failed_rollouts(true, predicted, energy=harmonic_energy, scale=1e11)
    assert loose.tolist() == [False, False, True, False, False]
    assert lz.metrics.failed_rollouts(true[0], predicted[2]).shape == ()


def test_score_rollouts_by_hand():
    true, predicted = _batch_with_failures()
    ts = jnp.array([0.0, 2.0])
    options = dict(energy=harmonic_energy, scale=1.0, ts=ts)
    scores = lz.metrics.score_rollouts(true, predicted, **options)
    assert (int(scores.failed), scores.total) == (2, 5)
    # Means over rollouts 0, 1 and 4; medians over all five with the two failed as +inf.
    assert float(scores.rollout_mse) == pytest.approx((0.01 + 0.0025) / 3, rel=1e-12)
    assert float(scores.rollout_mse_median) == pytest.approx(0.01, rel=1e-12)
    assert float(scores.energy_mse) == pytest.approx((0.0242 + 0.0055125) / 3, rel=1e-12)
    assert float(scores.energy_mse_median) == pytest.approx(0.0242, rel=1e-12)
    assert float(scores.energy_discrepancy) == pytest.approx((0.22 + 0.105) / 3, rel=1e-12)
    assert float(scores.energy_discrepancy_median) == pytest.approx(0.22, rel=1e-12)
    # Errors of 0, 0.2 and 0.1 against an RMS norm of 1 stay below 0.4: valid to ts[-1].
    assert float(scores.valid_prediction_time) == 2.0
    assert float(scores.valid_prediction_time_median) == 2.0
    # Rollouts 0 and 1 gone as well: four of five failed, so every median is the worst value
    # and every mean that of rollout 4 alone.
    worse = lz.metrics.score_rollouts(true, predicted.at[:2].set(jnp.nan), **options)
    assert (int(worse.failed), worse.total) == (4, 5)
    assert float(worse.rollout_mse) == pytest.approx(0.0025, rel=1e-12)
    assert float(worse.energy_discrepancy) == pytest.approx(0.105, rel=1e-12)
    assert float(worse.rollout_mse_median) == float(worse.energy_mse_median) == np.inf
    assert float(worse.valid_prediction_time_median) == 0.0
    assert repr(worse).startswith("RolloutScores(failed=4 of 5, rollout_mse=0.0025 (median inf)")
    # Without an energy: only the state metrics, and only the nan rollout fails; when all
    # fail, no mean.
    plain = lz.metrics.score_rollouts(true, predicted)
    assert int(plain.failed) == 1 and plain.energy_mse is None
    assert plain.valid_prediction_time is None
    assert float(plain.rollout_mse) == pytest.approx(
        (0.01 + (np.sqrt(2e10 + 1.0) - 1.0) ** 2 / 4 + 0.0025) / 4, rel=1e-12
    )
    assert np.isnan(
        float(lz.metrics.score_rollouts(true, jnp.full_like(true, jnp.nan)).rollout_mse)
    )


def test_failed_rollout_arguments_are_checked():
    true, predicted = _batch_with_failures()
    with pytest.raises(ValueError, match="`energy` was given without `scale`"):
        lz.metrics.failed_rollouts(true, predicted, energy=harmonic_energy)
    with pytest.raises(ValueError, match="`scale` was given without `energy`"):
        lz.metrics.score_rollouts(true, predicted, scale=1.0)
    with pytest.raises(ValueError, match="`max_energy_error` must be positive"):
        lz.metrics.failed_rollouts(
            true, predicted, energy=harmonic_energy, scale=1.0, max_energy_error=0.0
        )
    with pytest.raises(ValueError, match="`true_ys` and `predicted_ys` must have the same"):
        lz.metrics.score_rollouts(true, predicted[:, :1])
