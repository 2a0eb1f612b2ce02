"""Pixel pendulum: the renderer, the dataset, the autoencoder, the pixel loss and its training.

References are independent of the code under test: the angle is read back from a frame by the
intensity-weighted centroid (numpy), the lit area is the geometric area of a disc and a rod,
the trials are integrated again by SciPy, the loss terms are recomputed in numpy from the
model's latents, and the RK4 latent step is compared with an adaptive solve.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import optax
import pytest
from scipy.integrate import solve_ivp


SIZE = 12  # small frames keep the networks and the compiled programs small
PIVOT, LENGTH, BOB, ROD = 0.5, 1.05, 0.2, 0.1  # render_pendulum's default geometry


def read_angle(frames: np.ndarray, pivot_height: float = PIVOT) -> np.ndarray:
    """The angle of the lit pixels' intensity-weighted centroid, seen from the pivot."""
    size = frames.shape[-1]
    centres = -1.0 + (np.arange(size) + 0.5) * 2.0 / size
    weight = frames.sum(axis=(-2, -1))
    x = (frames * centres[None, :]).sum(axis=(-2, -1)) / weight
    y = (frames * -centres[:, None]).sum(axis=(-2, -1)) / weight - pivot_height
    return np.arctan2(x, -y)


# One batch size and chunk for every training run here, so that they share one compiled
# program (the number of steps and the loss weights are inputs of it).
FIT_SETTINGS = dict(batch_size=20, log_every=20, progress=False)


@pytest.fixture(scope="module")
def data():
    return lz.pixel_pendulum_dataset(jax.random.key(3), trials=6, steps=10, size=SIZE)


def small_model(kind: str, key, integrator: str = "euler") -> lz.models.PixelDynamics:
    autoencoder_key, dynamics_key = jax.random.split(key)
    autoencoder = lz.models.Autoencoder(2 * SIZE**2, width=16, key=autoencoder_key)
    dynamics = {
        "baseline": lambda: lz.models.Baseline(1, width=16, key=dynamics_key),
        "hnn": lambda: lz.models.HNN(1, width=16, key=dynamics_key),
        "lnn": lambda: lz.models.LNN(1, width=16, depth=2, checks=False, key=dynamics_key),
    }[kind]()
    return lz.models.PixelDynamics(autoencoder, dynamics, integrator=integrator)


# The renderer


def test_frames_shape_range_and_determinism():
    angles = jnp.linspace(-0.8, 0.8, 12).reshape(3, 4)
    frames = lz.render_pendulum(angles)
    assert frames.shape == (3, 4, 28, 28) and frames.dtype == angles.dtype
    assert float(frames.min()) == 0.0 and float(frames.max()) == 1.0
    # Anti-aliased: the edges hold intermediate values.
    assert np.any((np.asarray(frames) > 0.05) & (np.asarray(frames) < 0.95))
    np.testing.assert_array_equal(frames, lz.render_pendulum(angles))
    np.testing.assert_allclose(frames, jax.jit(lz.render_pendulum)(angles), atol=1e-12)
    np.testing.assert_array_equal(frames[1, 2], lz.render_pendulum(angles[1, 2]))
    assert lz.render_pendulum(jnp.float32(0.3), size=16).shape == (16, 16)


def test_lit_area_is_the_drawn_area():
    # Coverage: the sum of the pixel values is the area of the disc and the rod outside it
    # (with its round end at the pivot), in pixels; independent of the angle.
    pixel = 2.0 / 28
    rod_outside_bob = ROD * (LENGTH - math.sqrt(BOB**2 - (ROD / 2) ** 2))
    area = math.pi * BOB**2 + rod_outside_bob + math.pi * (ROD / 2) ** 2 / 2
    sums = np.asarray(lz.render_pendulum(jnp.linspace(-0.8, 0.8, 9))).sum(axis=(-2, -1))
    np.testing.assert_allclose(sums, area / pixel**2, rtol=0.02)


def test_angle_reads_back_within_a_pixel():
    angles = np.random.default_rng(0).uniform(-0.85, 0.85, 200)
    for size in (28, SIZE):
        read = read_angle(np.asarray(lz.render_pendulum(jnp.asarray(angles), size=size)))
        # A pixel at the bob subtends (2 / size) / length radians.
        pixel_angle = 2.0 / size / LENGTH
        assert np.max(np.abs(read - angles)) < 0.5 * pixel_angle


def test_renderer_errors():
    with pytest.raises(ValueError, match="`size` must be an int >= 4"):
        lz.render_pendulum(jnp.zeros(2), size=2)
    with pytest.raises(ValueError, match="`bob_radius` must be a positive"):
        lz.render_pendulum(jnp.zeros(2), bob_radius=-0.1)
    with pytest.raises(TypeError, match="angles"):
        lz.render_pendulum(jnp.zeros(2, bool))


# The dataset


def test_dataset_follows_the_pendulum(data):
    assert data.frames.shape == (6, 12, SIZE, SIZE) and data.states.shape == (6, 12, 2)
    q0, v0 = np.asarray(data.states[:, 0, 0]), np.asarray(data.states[:, 0, 1])
    assert np.all((np.abs(q0) > 0) & (np.abs(q0) < math.pi / 6)) and np.all(np.abs(v0) <= 0.63)
    # The trials are the pendulum's (SciPy, q'' = -(g/l) sin q with g/l = 6) ...
    ts = np.asarray(data.ts)
    np.testing.assert_allclose(np.diff(ts), 0.08, rtol=1e-12)
    for trial in range(2):
        solution = solve_ivp(
            lambda t, y: [y[1], -6.0 * np.sin(y[0])],
            (0.0, ts[-1]),
            np.asarray(data.states[trial, 0]),
            t_eval=ts,
            rtol=1e-11,
            atol=1e-12,
        )
        np.testing.assert_allclose(data.states[trial], solution.y.T, atol=1e-8)
    # ... and the frames show their angles.
    read = read_angle(np.asarray(data.frames))
    assert np.max(np.abs(read - np.asarray(data.states[..., 0]))) < 0.5 * 2.0 / SIZE / LENGTH


def test_dataset_is_deterministic_by_key(data):
    again = lz.pixel_pendulum_dataset(jax.random.key(3), trials=6, steps=10, size=SIZE)
    np.testing.assert_array_equal(again.frames, data.frames)
    other = lz.pixel_pendulum_dataset(jax.random.key(4), trials=6, steps=10, size=SIZE)
    assert not np.allclose(other.states[:, 0], data.states[:, 0])


def test_rows_samples_and_split(data):
    x, x_next = data.rows()
    assert x.shape == x_next.shape == (6 * 10, 2 * SIZE**2) == (data.num_rows, 2 * SIZE**2)
    flat = np.asarray(data.frames).reshape(6, 12, -1)
    # Row 13 is trial 1, start 3: x = [f3, f4], x_next = [f4, f5].
    np.testing.assert_array_equal(x[13], np.concatenate([flat[1, 3], flat[1, 4]]))
    np.testing.assert_array_equal(x_next[13], np.concatenate([flat[1, 4], flat[1, 5]]))
    xs, xs_next = data.sample(jax.random.key(0), 25)
    rows = {np.asarray(x).tobytes(): i for i, x in enumerate(x)}
    drawn = [rows[np.asarray(row).tobytes()] for row in xs]
    assert len(set(drawn)) == 25  # distinct rows, as randperm(N)[:batch]
    np.testing.assert_array_equal(xs_next, x_next[np.asarray(drawn)])
    train, test = data.split(0.66, None)
    assert (train.num_trials, test.num_trials) == (4, 2)
    np.testing.assert_array_equal(test.frames, data.frames[4:])
    assert data.split(0.5, None)[0].rows()[0].shape == data.split(0.5, None)[1].rows()[0].shape
    assert test.metadata["split"] == "test"
    with pytest.raises(ValueError, match="batch_size` 61 is larger than the 60 rows"):
        data.sample(jax.random.key(0), 61)


def test_split_takes_the_arguments_of_dataset_split(data):
    # Both classes: split(fraction of the first part, key) -> (train, test) of their own type.
    spring = lz.Dataset(data.ts, data.states, jnp.zeros_like(data.states))
    for whole, count in ((data, lambda d: d.num_trials), (spring, lambda d: d.num_trajectories)):
        parts = whole.split(0.5, jax.random.key(2))
        assert isinstance(parts, tuple) and len(parts) == 2
        assert all(type(part) is type(whole) for part in parts)
        assert (count(parts[0]), count(parts[1])) == (3, 3)
    # A shuffle: disjoint trials that together are all of them, not the first three in order.
    train, test = data.split(0.5, jax.random.key(2))
    starts = sorted(map(float, np.concatenate([train.states[:, 0, 0], test.states[:, 0, 0]])))
    assert starts == sorted(map(float, data.states[:, 0, 0]))
    assert not np.array_equal(train.frames, data.frames[:3])
    assert train.metadata["split"] == "train" and test.metadata["split"] == "test"
    # Both parts keep at least one trial, as Dataset.split keeps a trajectory.
    assert data.split(0.01, None)[0].num_trials == 1
    with pytest.raises(ValueError, match="`fraction` must lie strictly between 0 and 1"):
        data.split(1.0, None)
    with pytest.raises(TypeError, match="`key` must be a JAX PRNG key"):
        data.split(0.5, 3)


def test_split_of_a_test_fraction_is_deprecated_and_unchanged(data):
    with pytest.warns(FutureWarning, match=r"write split\(1 - test_fraction, None\)"):
        train, test = data.split(0.34)
    np.testing.assert_array_equal(train.frames, data.frames[:4])
    np.testing.assert_array_equal(test.frames, data.frames[4:])
    assert test.metadata["test_fraction"] == 0.34
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="leaves 6 for training"):
        data.split(0.01)


# The models


@eqx.filter_jit
def pieces(model, x, x_next):
    """Latents of both inputs, the reconstruction of the first, the latent field there."""
    z = jax.vmap(model.encode)(x)
    z_next = jax.vmap(model.encode)(x_next)
    x_hat = jax.vmap(model.decode)(z)
    field = jax.vmap(lambda y: model(0.0, y, None))(z)
    return z, z_next, x_hat, field


def test_autoencoder_round_trip(data):
    # Trained alone (weights 1, 0, 0) on a tiny set, the 2-number latent reconstructs the
    # frames far better than their mean image does.
    train, _ = data.split(0.5, None)
    x, x_next = train.rows()
    model = small_model("hnn", jax.random.key(0))
    assert jax.eval_shape(model.encode, x[0]).shape == (2,)
    assert jax.eval_shape(model.decode, jnp.zeros(2)).shape == (2 * SIZE**2,)
    model, _ = lz.fit_pixel_dynamics(
        model, train, steps=400, weights=(1.0, 0.0, 0.0), **FIT_SETTINGS, key=jax.random.key(1)
    )
    x_hat = np.asarray(pieces(model, x, x_next)[2])
    x = np.asarray(x)
    mean_image_error = np.mean((x - x.mean(axis=0)) ** 2)
    assert np.mean((x_hat - x) ** 2) < 0.25 * mean_image_error


def test_loss_terms_are_the_papers(data):
    model = small_model("hnn", jax.random.key(2))
    x, x_next = data.split(0.5, None)[1].rows()
    z, z_next, x_hat, field = (np.asarray(a) for a in pieces(model, x, x_next))
    x, x_next = np.asarray(x), np.asarray(x_next)
    reconstruction = np.mean((x - x_hat) ** 2, axis=1)
    consistency = (z[:, 1] - (z_next[:, 0] - z[:, 0])) ** 2
    step = np.mean((z_next - (z + field)) ** 2, axis=1)
    expected = np.mean(reconstruction + consistency + 0.1 * step)
    loss = lz.pixel_dynamics_loss(model, jnp.asarray(x), jnp.asarray(x_next))
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"shape \(batch, 288\)"):
        lz.pixel_dynamics_loss(model, jnp.asarray(x[:, :10]), jnp.asarray(x_next[:, :10]))


def test_rk4_step_is_the_latent_flow_over_one_frame():
    model = small_model("hnn", jax.random.key(5), integrator="rk4")
    z = np.array([0.3, -0.2])
    exact = solve_ivp(
        lambda t, y: np.asarray(model(0.0, jnp.asarray(y), None)),
        (0.0, 1.0),
        z,
        method="DOP853",
        rtol=1e-12,
        atol=1e-12,
    ).y[:, -1]
    step = np.asarray(model.latent_step(jnp.asarray(z)))
    euler_step = z + np.asarray(model(0.0, jnp.asarray(z), None))
    # Fourth order: far closer to the flow than the first-order Euler step of the paper.
    assert np.max(np.abs(step - exact)) < 1e-3 * np.max(np.abs(euler_step - exact))
    lnn = small_model("lnn", jax.random.key(5))
    # The LNN's latent is (q, q_t): an Euler step moves q by q_t, the consistency target.
    np.testing.assert_allclose(lnn.latent_step(jnp.asarray(z))[0], z[0] + z[1], rtol=1e-14)


@pytest.mark.parametrize("kind", ["baseline", "hnn", "lnn"])
def test_whole_model_save_and_load_is_exact(kind, tmp_path):
    model = small_model(kind, jax.random.key(7), integrator="rk4")
    path = tmp_path / "pixel.lzm"
    lz.save_model(path, model)
    loaded = lz.load_model(path)
    assert type(loaded) is lz.models.PixelDynamics
    assert type(loaded.dynamics) is type(model.dynamics)
    assert loaded.config() == model.config()
    assert jax.tree.structure(loaded) == jax.tree.structure(model)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(model)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_invalid_pixel_models():
    # Built abstractly (nothing is compiled): the checks run while a model is built.
    def build(cls, *args, **kwargs):
        return eqx.filter_eval_shape(cls, *args, **kwargs)

    autoencoder = build(lz.models.Autoencoder, 8, width=4, latent=3, key=jax.random.key(0))
    hnn = build(lz.models.HNN, 1, width=4, key=jax.random.key(1))
    with pytest.raises(ValueError, match=r"latent \(3\) must be the state.*2 \* dof = 2"):
        build(lz.models.PixelDynamics, autoencoder, hnn)
    config = {"in_size": 8, "width": 4, "latent": 2}
    with pytest.raises(ValueError, match="must name its class under 'model'"):
        build(lz.models.PixelDynamics, config, {"dof": 1}, key=jax.random.key(0))
    with pytest.raises(TypeError, match="needs a `key`"):
        build(lz.models.PixelDynamics, config, {"model": "HNN", "dof": 1})
    with pytest.raises(ValueError, match="`integrator` must be one of 'euler', 'rk4'"):
        build(lz.models.PixelDynamics, autoencoder, hnn, integrator="rk45")


# Training


def test_combined_loss_decreases_and_resumes_exactly(data, tmp_path):
    train, test = data.split(0.5, None)
    x, x_next = test.rows()
    model = small_model("hnn", jax.random.key(9))
    before = float(lz.pixel_dynamics_loss(model, x, x_next))
    settings = dict(steps=60, key=jax.random.key(1), **FIT_SETTINGS)
    trained, history = lz.fit_pixel_dynamics(model, train, eval_data=test, **settings)
    after = float(lz.pixel_dynamics_loss(trained, x, x_next))
    assert after < 0.5 * before
    np.testing.assert_allclose(history.eval_loss[-1], after, rtol=1e-10)
    assert list(history.step) == [20, 40, 60]
    # Stopped by the time limit after its first chunk of 20 steps, then resumed: the same model.
    folder = tmp_path / "run"
    _, part_history = lz.fit_pixel_dynamics(
        model, train, checkpoint_dir=folder, max_seconds=1e-9, **settings
    )
    assert list(part_history.step) == [20]
    resumed, _ = lz.fit_pixel_dynamics(
        model, train, checkpoint_dir=folder, resume=True, **settings
    )
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(trained)):
        np.testing.assert_array_equal(a, b)
    assert isinstance(lz.load_model(folder / "model.lzm"), lz.models.PixelDynamics)
    with pytest.raises(ValueError, match="other settings"):
        lz.fit_pixel_dynamics(
            model, train, checkpoint_dir=folder, resume=True, **{**settings, "batch_size": 10}
        )


def test_fit_errors(data):
    model, key = small_model("hnn", jax.random.key(0)), jax.random.key(0)
    smaller = lz.PixelDataset(data.ts, data.states, data.frames[..., :10, :10])
    with pytest.raises(ValueError, match="10 x 10 frames, inputs of 200 values.*takes 288"):
        lz.fit_pixel_dynamics(model, smaller, steps=1, key=jax.random.key(0))
    with pytest.raises(TypeError, match="model"):
        lz.fit_pixel_dynamics(model.dynamics, data, steps=1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="`weights` must be three numbers"):
        lz.fit_pixel_dynamics(model, data, steps=1, **FIT_SETTINGS, key=key, weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="`max_seconds` must be a positive number"):
        lz.fit_pixel_dynamics(model, data, steps=1, **FIT_SETTINGS, key=key, max_seconds=0.0)


def test_training_is_adam_on_the_papers_loss_over_each_steps_rows(data):
    # The training written out step by step: Adam with PyTorch's weight decay on
    # pixel_dynamics_loss, step i on the rows drawn with fold_in(key, i), only the trainable
    # arrays updated.
    train, _ = data.split(0.5, None)
    model, key = small_model("hnn", jax.random.key(4)), jax.random.key(6)
    trained, history = lz.fit_pixel_dynamics(model, train, steps=20, key=key, **FIT_SETTINGS)

    def trainable(keep, subtree):
        return jax.tree.map(lambda leaf: bool(keep) and eqx.is_inexact_array(leaf), subtree)

    spec = jax.tree.map(trainable, lz.models.trainable_filter(model), model)
    params, static = eqx.partition(model, spec)
    optimizer = optax.chain(optax.add_decayed_weights(1e-5), optax.adam(1e-3))

    @eqx.filter_jit
    def step(params, opt_state, i):
        x, x_next = train.sample(jax.random.fold_in(key, i), FIT_SETTINGS["batch_size"])

        def loss(params):
            return lz.pixel_dynamics_loss(eqx.combine(params, static), x, x_next)

        value, grads = eqx.filter_value_and_grad(loss)(params)
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return eqx.apply_updates(params, updates), opt_state, value

    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)
    losses = []
    for i in range(20):
        params, opt_state, value = step(params, opt_state, jnp.asarray(i, jnp.int32))
        losses.append(float(value))
    np.testing.assert_allclose(history.train_loss, [np.mean(losses)], rtol=1e-9)
    for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(eqx.combine(params, static))):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_fit_takes_pixel_frames_through_their_source(data):
    model, key = small_model("hnn", jax.random.key(0)), jax.random.key(0)
    with pytest.raises(TypeError, match=r"a PixelDataset's \.source\(\)\), got PixelDataset"):
        lz.fit(model, data, steps=1, key=key)
    with pytest.raises(ValueError, match="has a loss of its own; leave `loss` at its default"):
        lz.fit(model, data.source(), steps=1, key=key, loss="l1")
    with pytest.raises(TypeError, match="rows train an lz.models.PixelDynamics, got HNN"):
        lz.fit(model.dynamics, data.source(), steps=1, key=key, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="`weights` must be three numbers"):
        data.source((1.0, -1.0, 0.1))


def test_animate_frames(tmp_path):
    from PIL import Image

    frames = np.asarray(lz.render_pendulum(jnp.linspace(-0.5, 0.5, 7), size=SIZE))
    path = tmp_path / "swing.gif"
    lz.plots.animate_frames({"truth": frames, "model": frames[::-1]}, path=path, stride=2)
    with Image.open(path) as gif:
        assert gif.n_frames == 4  # states 0, 2, 4, 6
    with pytest.raises(ValueError, match="same number of times T"):
        lz.plots.animate_frames({"truth": frames, "model": frames[:3]})
    with pytest.raises(ValueError, match=r"shape \(T, height, width\)"):
        lz.plots.animate_frames({"truth": frames[0]})
