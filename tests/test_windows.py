import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from lagrangian_zoo._windows import RolloutWindows


@pytest.fixture(scope="module")
def spring_data():
    system = lz.systems.get("spring")
    ts = jnp.linspace(0.0, 3.0, 31)
    return system, lz.generate_dataset(system, jax.random.key(0), trajectories=6, ts=ts)


def test_windows_are_consecutive_samples(spring_data):
    _, data = spring_data
    windows = RolloutWindows(data, 4)
    y0, target = windows.sample(jax.random.key(1), 8)
    assert y0.shape == (8, 2) and target.shape == (8, 4, 2)
    np.testing.assert_array_equal(y0, target[:, 0])
    rows = np.asarray(data.y).reshape(-1, 2)
    for window in np.asarray(target):
        # Each window is a run of 4 consecutive samples of one trajectory.
        index = int(np.flatnonzero(np.all(rows == window[0], axis=1))[0])
        np.testing.assert_array_equal(rows[index : index + 4], window)
    all_y0, all_windows = windows.states()
    assert all_y0.shape == (6 * 28, 2) and all_windows.shape == (6 * 28, 4, 2)


def test_exact_dynamics_reproduce_the_windows(spring_data):
    system, data = spring_data
    windows = RolloutWindows(data, 5, substeps=4)
    y0, target = windows.states()
    predicted = windows.predict(system, y0)
    # RK4 with steps of 0.025 on a spring of angular frequency 2: error ~ (0.05)^4 per unit time.
    assert float(jnp.max(jnp.abs(predicted - target))) < 1e-6


@pytest.mark.parametrize("solver", ["rk4", "gl4"])
def test_fit_with_rollout_loss_learns(spring_data, solver):
    # The windows integrate with any of rollout's fixed-step solvers, the implicit Gauss-Legendre
    # one (its Newton solve differentiated) included.
    _, data = spring_data
    model = lz.models.Baseline(1, key=jax.random.key(2), width=16, depth=1)
    _, history = lz.fit(
        model,
        data,
        steps=200,
        batch_size=32,
        loss="rollout",
        rollout_window=3,
        rollout_solver=solver,
        key=jax.random.key(3),
        eval_data=data,
        progress=False,
        log_every=100,
    )
    losses = history.as_dict()["train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert np.isfinite(history.as_dict()["eval_loss"][-1])


def test_rollout_loss_errors(spring_data):
    system, data = spring_data
    model = lz.models.Baseline(1, key=jax.random.key(2), width=8, depth=1)
    with pytest.raises(TypeError, match="must be a lz.Dataset"):
        lz.fit(model, lz.StateStream(system), steps=1, loss="rollout", key=jax.random.key(0))
    with pytest.raises(ValueError, match="rollout_window"):
        RolloutWindows(data, 40)
    uneven = lz.Dataset(
        ts=jnp.array([0.0, 0.1, 0.3]), y=data.y[:, :3], dy=data.dy[:, :3], metadata=data.metadata
    )
    with pytest.raises(ValueError, match="equally spaced"):
        RolloutWindows(uneven, 2)
