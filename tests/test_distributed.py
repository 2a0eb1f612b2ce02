import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import lagrangian_zoo._distributed as distributed
import numpy as np
import pytest
from jax.sharding import PartitionSpec


# Run in a fresh interpreter: the number of host devices is fixed when JAX starts.
SCRIPT = textwrap.dedent(
    """
    import json
    import os
    import sys
    import time

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_rank_promotion", "raise")

    import lagrangian_zoo as lz
    import lagrangian_zoo._distributed as distributed
    import lagrangian_zoo._training as training

    out = sys.argv[1]
    report = {"device_count": jax.device_count()}


    def oscillator(key, trajectories, times):
        # q = a cos(t + phase) solves q_tt = -q: states and derivatives in closed form.
        ts = jnp.linspace(0.0, 3.0, times)
        a, phase = jax.random.uniform(key, (2, trajectories, 1), minval=0.2, maxval=1.0)
        angle = ts[None, :] + 6.0 * phase
        q, q_t = a * jnp.cos(angle), -a * jnp.sin(angle)
        y = jnp.stack([q, q_t], axis=-1)
        return lz.Dataset(ts, y, jnp.stack([q_t, -q], axis=-1))


    data = oscillator(jax.random.key(0), 8, 16)
    # 5 x 15 = 75 rows, which do not split evenly over 4 devices.
    eval_data = oscillator(jax.random.key(7), 5, 15)
    seen = {}

    def recording_loss(name):
        def loss(prediction, target):
            def record(sharding):
                seen.setdefault(name, []).append(
                    [len(sharding.device_set), sharding.is_fully_replicated, list(target.shape)]
                )

            jax.debug.inspect_array_sharding(target, callback=record)
            return jnp.mean((prediction - target) ** 2)

        return loss

    def train(name, devices, **options):
        model = lz.models.Baseline(1, width=16, depth=2, key=jax.random.key(1))
        arguments = dict(
            steps=100,
            key=jax.random.key(2),
            batch_size=32,
            learning_rate=1e-2,
            log_every=20,
            progress=False,
            devices=devices,
        )
        started = time.perf_counter()
        trained, history = lz.fit(model, data, **(arguments | options))
        report[name] = {
            "seconds": time.perf_counter() - started,
            "devices": history.devices,
            "train_loss": history.train_loss.tolist(),
            "eval_loss": history.eval_loss.tolist(),
        }
        leaves = jax.tree.leaves(eqx.filter(trained, eqx.is_array))
        np.savez(os.path.join(out, name + ".npz"), *[np.asarray(x) for x in leaves])
        return trained

    one = train("one", [jax.devices()[0]], eval_data=eval_data, loss=recording_loss("one"))
    four = train("four", "auto", eval_data=eval_data, loss=recording_loss("four"))
    train("plain", None, eval_data=eval_data)
    report["seen"] = seen
    report["default_device"] = str(jax.devices()[0])
    report["returned_devices"] = sorted(
        {str(d) for x in jax.tree.leaves(eqx.filter(four, eqx.is_array)) for d in x.devices()}
    )

    # A 4-device run stopped after 40 steps, resumed on one device.
    class Interrupt:
        def __init__(self, total, completed):
            pass

        def update(self, step, *rest):
            if step == 40:
                raise KeyboardInterrupt

        def close(self):
            pass

    folder = os.path.join(out, "run")
    training._ProgressBar = Interrupt
    try:
        train("stopped", "auto", checkpoint_dir=folder, checkpoint_every=20, progress=True)
    except KeyboardInterrupt:
        report["checkpoints"] = sorted(os.listdir(folder))
    train("resumed", None, checkpoint_dir=folder, checkpoint_every=20, resume=True)

    errors = {}
    try:
        train("indivisible", "auto", batch_size=30)
    except ValueError as error:
        errors["fit"] = str(error)
    mesh = distributed.data_parallel_mesh()
    try:
        distributed.shard_batch(np.zeros((6, 2)), mesh)
    except ValueError as error:
        errors["shard_batch"] = str(error)
    batch = distributed.shard_batch(np.arange(16.0).reshape(8, 2), mesh)
    report["mesh"] = [dict(mesh.shape), list(mesh.axis_names)]
    report["shard_shapes"] = [list(s.data.shape) for s in batch.addressable_shards]
    report["errors"] = errors
    with open(os.path.join(out, "report.json"), "w") as file:
        json.dump(report, file)
    """
)


def _leaves(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _assert_close_per_leaf(a, b, rtol):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape and x.dtype == y.dtype == np.float64
        assert np.max(np.abs(x - y)) <= rtol * np.max(np.abs(x))


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    folder = tmp_path_factory.mktemp("four_devices")
    script = folder / "train_on_four.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    result = subprocess.run(
        [sys.executable, str(script), str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((folder / "report.json").read_text())
    return folder, report


def test_four_devices_give_the_one_device_parameters(four_devices):
    folder, report = four_devices
    assert report["device_count"] == 4
    assert report["one"]["devices"] == 1 and report["four"]["devices"] == 4
    # Inside the compiled step the 32-row minibatch was split over the 4 devices, and so were
    # the evaluation's 75 rows; on one device each was whole.
    assert sorted(report["seen"]["four"]) == [[4, False, [32, 2]], [4, False, [75, 2]]]
    assert sorted(report["seen"]["one"]) == [[1, True, [32, 2]], [1, True, [75, 2]]]
    one, four = _leaves(folder / "one.npz"), _leaves(folder / "four.npz")
    # The same minibatches and the same arithmetic, except the order in which the batch sums
    # add up: equal to rounding.
    _assert_close_per_leaf(one, four, rtol=1e-12)
    assert any(np.max(np.abs(x)) > 0.1 for x in one)
    np.testing.assert_allclose(report["four"]["train_loss"], report["one"]["train_loss"], 1e-12)
    np.testing.assert_allclose(report["four"]["eval_loss"], report["one"]["eval_loss"], 1e-12)
    assert report["one"]["train_loss"][-1] < 0.2 * report["one"]["train_loss"][0]
    # One listed device is the plain run on JAX's default device.
    assert report["plain"]["devices"] == 1
    for x, y in zip(one, _leaves(folder / "plain.npz")):
        np.testing.assert_array_equal(x, y)
    assert report["plain"]["eval_loss"] == report["one"]["eval_loss"]
    # The trained model comes back as ordinary arrays on the default device.
    assert report["returned_devices"] == [report["default_device"]]


def test_a_four_device_checkpoint_resumes_on_one_device(four_devices):
    folder, report = four_devices
    assert report["checkpoints"] == [
        "history.csv",
        "history.json",
        "step_000000020.ckpt",
        "step_000000040.ckpt",
    ]
    assert report["resumed"]["devices"] == 1
    one, resumed = _leaves(folder / "one.npz"), _leaves(folder / "resumed.npz")
    _assert_close_per_leaf(one, resumed, rtol=1e-12)
    saved = lz.load_model(folder / "run" / "model.lzm")
    saved_leaves = jax.tree.leaves(eqx.filter(saved, eqx.is_array))
    for x, y in zip(saved_leaves, resumed):
        np.testing.assert_array_equal(np.asarray(x), y)


def test_four_device_mesh_and_divisibility_errors(four_devices):
    _, report = four_devices
    assert report["mesh"] == [{"batch": 4}, ["batch"]]
    assert report["shard_shapes"] == [[2, 2]] * 4
    fit_error = report["errors"]["fit"]
    assert "`batch_size`=30 is not divisible by the 4 devices" in fit_error
    assert "multiple of 4 (such as 28 or 32)" in fit_error
    assert "batch size`=6 is not divisible by the 4 devices" in report["errors"]["shard_batch"]


def test_mesh_helpers_on_one_device():
    device = jax.devices()[0]
    mesh = distributed.data_parallel_mesh([device])
    assert mesh.axis_names == ("batch",) and mesh.size == 1
    assert distributed.data_parallel_mesh().size == jax.device_count()

    params = {"w": jnp.arange(6.0).reshape(2, 3), "name": "layer", "n": None}
    copied = distributed.replicate(params, mesh)
    assert copied["name"] == "layer" and copied["n"] is None
    assert copied["w"].sharding.spec == PartitionSpec()
    y, dy = jnp.linspace(0.0, 1.0, 10).reshape(5, 2), jnp.ones((5, 2))
    sharded_y, sharded_dy = distributed.shard_batch((y, dy), mesh)
    assert sharded_y.sharding.spec == PartitionSpec("batch")
    np.testing.assert_array_equal(sharded_y, y)

    @jax.jit
    def mean_square(y):
        return jnp.mean(distributed.constrain_batch(y, mesh) ** 2)

    np.testing.assert_allclose(mean_square(sharded_y), jnp.mean(y**2), rtol=1e-15)
    host = distributed.gather_to_host({"y": sharded_y, "k": 3})
    assert isinstance(host["y"], np.ndarray) and host["k"] == 3
    np.testing.assert_array_equal(host["y"], y)
    with pytest.raises(ValueError, match="scalar"):
        distributed.shard_batch(jnp.ones(()), mesh)


def test_placement_of_a_training_run():
    device = jax.devices()[0]
    assert distributed.training_placement(None) == (None, None)
    assert distributed.training_placement([device]) == (None, device)
    assert distributed.training_placement(mesh=distributed.data_parallel_mesh([device])) == (
        None,
        device,
    )
    if jax.device_count() == 1:
        assert distributed.training_placement("auto") == (None, None)
    with pytest.raises(ValueError, match="'auto', None or a sequence"):
        distributed.training_placement("all")
    with pytest.raises(ValueError, match="empty"):
        distributed.training_placement([])
    with pytest.raises(TypeError, match="JAX devices"):
        distributed.training_placement([0, 1])
    with pytest.raises(ValueError, match="more than once"):
        distributed.training_placement([device, device])
    with pytest.raises(ValueError, match="either `devices` or `mesh`"):
        distributed.training_placement([device], mesh=distributed.data_parallel_mesh())
    other_axis = jax.sharding.Mesh(np.array([device]), ("data",))
    with pytest.raises(ValueError, match="axis named 'batch'"):
        distributed.training_placement(mesh=other_axis)


def test_initialize_without_a_cluster_does_nothing():
    # JAX is already running in this process, so it stays a single process.
    assert distributed.initialize() is False
    assert not jax.distributed.is_initialized()
