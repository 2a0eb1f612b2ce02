import csv
import functools
import json
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import lagrangian_zoo._training as training
import numpy as np
import optax
import pytest
from lagrangian_zoo._experiment import settings_from_dataset, train_run, TrainConfig

import _resume_script
from test_compile import count_compilations
from test_pixels import SIZE, small_model


SCRIPT = pathlib.Path(__file__).with_name("_resume_script.py")


@functools.cache
def _spring() -> lz.Dataset:
    system = lz.systems.get("spring")
    return lz.generate_dataset(
        system, jax.random.key(0), trajectories=8, ts=jnp.linspace(0.0, 3.0, 16)
    )


@functools.cache
def _frames() -> lz.PixelDataset:
    return lz.pixel_pendulum_dataset(jax.random.key(3), trials=6, steps=10, size=SIZE)


@pytest.fixture(scope="module")
def spring_data():
    return _spring()


def _baseline(key=1, **kwargs):
    return lz.models.Baseline(1, width=16, depth=1, key=jax.random.key(key), **kwargs)


class Case(NamedTuple):
    """A model, the data to train it on, and the options of `fit` that choose the source."""

    model: eqx.Module
    data: Any
    options: dict[str, Any]


# Every kind of source the training loop runs: derivatives, rollout windows, pixel frames.
SOURCES = ["derivatives", "windows", "pixels"]


def _case(source: str) -> Case:
    """The case of one source, built alike in every process (the kill test rebuilds it)."""
    if source == "pixels":
        return Case(small_model("hnn", jax.random.key(9)), _frames().source(), {})
    options = {"loss": "rollout", "rollout_window": 3} if source == "windows" else {}
    return Case(_baseline(), _spring(), options)


@pytest.fixture(params=SOURCES)
def case(request) -> Case:
    return _case(request.param)


@eqx.filter_jit
def _derivative_mse(model, data):
    y, dy = data.states()
    prediction = jax.vmap(model, in_axes=(None, 0, None))(0.0, y, None)
    return jnp.mean((prediction - dy) ** 2)


def _assert_params_identical(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        if eqx.is_array(x):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


def test_fit_reduces_the_loss_and_keeps_the_statistics(spring_data):
    model = _baseline()
    states, _ = spring_data.states()
    adapted = model.adapt(states)
    initial = float(_derivative_mse(adapted, spring_data))
    trained, history = lz.fit(
        model,
        spring_data,
        steps=300,
        key=jax.random.key(2),
        batch_size=32,
        learning_rate=1e-2,
        eval_data=spring_data,
        eval_every=100,
        log_every=50,
        progress=False,
    )
    final = float(_derivative_mse(trained, spring_data))
    assert final < 0.05 * initial
    # The input statistics come from the data and are not trained.
    _assert_params_identical(trained.normaliser, adapted.normaliser)
    assert float(jnp.abs(trained.normaliser.scale[1] - jnp.std(states[:, 1]))) < 1e-12
    np.testing.assert_array_equal(history.step, [50, 100, 150, 200, 250, 300])
    assert np.all(np.isnan(history.eval_loss[[0, 2, 4]]))
    np.testing.assert_allclose(history.eval_loss[[1, 3, 5]][-1], final, rtol=1e-10)
    assert history.eval_loss[1] > history.eval_loss[5]
    assert np.all(np.diff(history.seconds) >= 0)
    assert history.train_loss[0] > 3 * history.train_loss[-1]


def test_fit_on_a_state_stream_with_l1_loss():
    system = lz.systems.get("pendulum")
    model = _baseline(periodic=[True])
    trained, history = lz.fit(
        model,
        lz.StateStream(system),
        steps=300,
        key=jax.random.key(3),
        batch_size=64,
        learning_rate=1e-2,
        loss="l1",
        log_every=100,
        progress=False,
    )
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]
    # The statistics of the velocities come from a large sample of the stream.
    assert 0.5 < float(trained.normaliser.scale[1]) < 5.0


def test_interrupted_run_resumes_bit_identically(case, tmp_path, monkeypatch):
    arguments = dict(
        steps=60,
        key=jax.random.key(4),
        batch_size=16,
        learning_rate=1e-2,
        log_every=10,
        checkpoint_every=20,
        **case.options,
    )
    reference, reference_history = lz.fit(case.model, case.data, progress=False, **arguments)

    folder = tmp_path / "run"
    starts = []
    original_init = training._ProgressBar.__init__

    def record_start(self, total, completed):
        starts.append(completed)
        original_init(self, total, completed)

    def interrupt_at_30(self, step, *rest):
        # What Ctrl-C between two chunks looks like to the loop.
        if step == 30:
            raise KeyboardInterrupt

    monkeypatch.setattr(training._ProgressBar, "__init__", record_start)
    monkeypatch.setattr(training._ProgressBar, "update", interrupt_at_30)
    with pytest.raises(KeyboardInterrupt):
        lz.fit(case.model, case.data, checkpoint_dir=folder, **arguments)
    assert sorted(p.name for p in folder.glob("step_*.ckpt")) == [
        "step_000000020.ckpt",
        "step_000000030.ckpt",
    ]
    assert not (folder / "model.lzm").exists()

    monkeypatch.setattr(training._ProgressBar, "update", lambda self, *args: None)
    resumed, history = lz.fit(
        case.model, case.data, checkpoint_dir=folder, resume=True, **arguments
    )
    assert starts == [0, 30]
    _assert_params_identical(resumed, reference)
    np.testing.assert_array_equal(history.step, reference_history.step)
    np.testing.assert_array_equal(history.train_loss, reference_history.train_loss)
    _assert_params_identical(lz.load_model(folder / "model.lzm"), reference)
    written = json.loads((folder / "history.json").read_text())
    assert written["step"] == list(range(10, 61, 10))
    # The live CSV log holds every entry, those before the interruption included.
    with open(folder / "history.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == list(range(10, 61, 10))
    np.testing.assert_allclose(
        [float(row["train_loss"]) for row in rows], reference_history.train_loss, rtol=1e-8
    )
    assert [row["eval_loss"] for row in rows] == [""] * 6

    # A finished run resumes to the same result; other settings are refused.
    again, _ = lz.fit(case.model, case.data, checkpoint_dir=folder, resume=True, **arguments)
    _assert_params_identical(again, reference)
    with pytest.raises(ValueError, match="batch_size=16 in the file vs 32 here"):
        lz.fit(
            case.model,
            case.data,
            checkpoint_dir=folder,
            resume=True,
            **(arguments | {"batch_size": 32}),
        )
    with pytest.raises(FileExistsError, match="already holds training checkpoints"):
        lz.fit(case.model, case.data, checkpoint_dir=folder, **arguments)


# The run the kill test stops: a checkpoint every 20 of 60 steps, a history entry every 10.
KILL_STEPS, KILL_CHECKPOINT_EVERY, KILL_LOG_EVERY = 60, 20, 10


def _run_to_kill(source: str, folder=None, *, resume: bool = False):
    case = _case(source)
    return _short_fit(
        case.data,
        model=case.model,
        seed=2,
        steps=KILL_STEPS,
        log_every=KILL_LOG_EVERY,
        checkpoint_every=KILL_CHECKPOINT_EVERY,
        checkpoint_dir=folder,
        resume=resume,
        **case.options,
    )


def run_slowly_to_kill(source: str, folder: str) -> None:
    """`_run_to_kill` in a process of its own, each chunk of steps a tenth of a second longer
    (the parameters are the same), so that it lasts long enough to be killed midway."""
    run_chunk = training._run_chunk

    def slowed(*args):
        time.sleep(0.1)
        return run_chunk(*args)

    training._run_chunk = slowed
    _run_to_kill(source, folder, resume=True)


def _kill_command(source: str, folder) -> list[str]:
    # The settings of conftest.py (XLA_FLAGS comes through the environment).
    code = (
        "import sys; import jax; "
        "jax.config.update('jax_enable_x64', True); "
        "jax.config.update('jax_numpy_dtype_promotion', 'strict'); "
        "jax.config.update('jax_numpy_rank_promotion', 'raise'); "
        f"sys.path.insert(0, {str(SCRIPT.parent)!r}); "
        f"import test_training; test_training.run_slowly_to_kill({source!r}, {str(folder)!r})"
    )
    return [sys.executable, "-c", code]


@pytest.mark.parametrize("source", SOURCES)
def test_killed_process_resumes_bit_identically(source, tmp_path):
    folder = tmp_path / "run"
    command = _kill_command(source, folder)
    log = tmp_path / "log.txt"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while not list(folder.glob("step_*.ckpt")):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no checkpoint within 180 s"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (folder / "model.lzm").exists()
    latest = sorted(folder.glob("step_*.ckpt"))[-1]
    header = json.loads(latest.read_bytes().split(b"\n", 1)[0])
    assert 0 < header["step"] < KILL_STEPS

    resumed, _ = _run_to_kill(source, folder, resume=True)
    reference, _ = _run_to_kill(source)
    _assert_params_identical(resumed, reference)
    _assert_params_identical(lz.load_model(folder / "model.lzm"), reference)
    # The run continued the killed one's history rather than starting over: the logged
    # wall-clock times up to the checkpoint are the killed process's own.
    written = json.loads((folder / "history.json").read_text())
    saved = header["history"]
    assert len(saved["seconds"]) == header["step"] // KILL_LOG_EVERY
    assert written["seconds"][: len(saved["seconds"])] == saved["seconds"]
    assert written["step"][-1] == KILL_STEPS


def _poison_update_at(step):
    """An optax transformation whose update turns to NaN at one step."""

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(updates, count, params=None):
        updates = jax.tree.map(lambda u: jnp.where(count == step, jnp.nan, u), updates)
        return updates, count + 1

    return optax.GradientTransformation(init, update)


def test_non_finite_update_stops_and_keeps_the_last_good_checkpoint(case, tmp_path):
    with pytest.raises(FloatingPointError, match=r"step 25.*last good checkpoint \(step 20\)"):
        lz.fit(
            case.model,
            case.data,
            steps=60,
            key=jax.random.key(5),
            batch_size=16,
            optimizer=optax.chain(optax.adam(1e-3), _poison_update_at(25)),
            checkpoint_dir=tmp_path,
            checkpoint_every=10,
            log_every=5,
            progress=False,
            **case.options,
        )
    names = sorted(p.name for p in tmp_path.glob("step_*.ckpt"))
    assert names == ["step_000000010.ckpt", "step_000000020.ckpt"]
    header = json.loads((tmp_path / names[-1]).read_bytes().split(b"\n", 1)[0])
    assert header["step"] == 20


def test_non_finite_data_stops_at_the_first_step(spring_data):
    dy = spring_data.dy.at[3, 5, 1].set(jnp.nan)
    broken = lz.Dataset(spring_data.ts, spring_data.y, dy, spring_data.metadata)
    with pytest.raises(FloatingPointError, match="step 0.*No checkpoint was written"):
        lz.fit(
            _baseline(),
            broken,
            steps=10,
            key=jax.random.key(6),
            batch_size=None,
            loss=lambda prediction, target: jnp.mean(jnp.abs(prediction - target) ** 3),
            progress=False,
        )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"loss": "l3"}, ValueError, "loss"),
        ({"loss": "rollout", "rollout_window": 1}, ValueError, "rollout_window"),
        ({"optimizer": optax.sgd(0.1), "learning_rate": 0.1}, ValueError, "either `optimizer`"),
        ({"resume": True}, ValueError, "checkpoint_dir"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"max_seconds": 0.0}, ValueError, "`max_seconds` must be a positive number"),
    ],
)
def test_fit_arguments_are_checked(spring_data, kwargs, error, match):
    arguments = {"steps": 10, "key": jax.random.key(0), "progress": False} | kwargs
    with pytest.raises(error, match=match):
        lz.fit(_baseline(), spring_data, **arguments)


def test_full_batch_needs_a_dataset():
    stream = lz.StateStream(lz.systems.get("pendulum"))
    with pytest.raises(ValueError, match="full batch"):
        lz.fit(_baseline(), stream, steps=10, key=jax.random.key(0), batch_size=None)


def test_resume_refuses_a_changed_optimizer_data_or_loss(spring_data, tmp_path):
    model = lz.models.Baseline(1, width=8, depth=1, key=jax.random.key(0))
    options = dict(steps=10, key=jax.random.key(1), batch_size=16, progress=False, log_every=5)
    folder = tmp_path / "run"

    def run(data=spring_data, optimizer=None, **changes):
        optimizer = optax.adam(1e-3) if optimizer is None else optimizer
        return lz.fit(
            model, data, optimizer=optimizer, checkpoint_dir=folder, **options, **changes
        )

    run()
    # The same settings resume (the run is finished, so nothing more happens).
    run(resume=True)
    with pytest.raises(ValueError, match="optimizer"):
        run(optimizer=optax.adam(0.5), resume=True)
    with pytest.raises(ValueError, match="optimizer"):
        run(optimizer=optax.sgd(1e-3), resume=True)
    changed = lz.Dataset(spring_data.ts, spring_data.y * 1.01, spring_data.dy)
    with pytest.raises(ValueError, match="data"):
        run(data=changed, resume=True)
    with pytest.raises(ValueError, match="loss"):
        run(resume=True, loss="l1")


def test_resume_warns_when_it_cannot_read_the_optimizer(spring_data, tmp_path):
    class Opaque:
        """An optimizer kept in an object's attribute, not in closures."""

        def __init__(self):
            self.inner = optax.adam(1e-3)

        def init(self, params):
            return self.inner.init(params)

        def update(self, grads, state, params=None):
            return self.inner.update(grads, state, params)

    opaque = Opaque()

    model = lz.models.Baseline(1, width=8, depth=1, key=jax.random.key(0))
    with pytest.warns(UserWarning, match="cannot tell whether the optimizer"):
        lz.fit(
            model,
            spring_data,
            steps=5,
            key=jax.random.key(1),
            batch_size=16,
            progress=False,
            optimizer=optax.GradientTransformation(opaque.init, opaque.update),
            checkpoint_dir=tmp_path / "run",
            resume=True,
        )


def test_gradient_clip_is_optax_clip_before_adam(spring_data):
    arguments = dict(steps=20, key=jax.random.key(5), batch_size=16, progress=False)
    clipped, _ = lz.fit(_baseline(), spring_data, gradient_clip=1e-3, **arguments)
    # The same run with the optimizer spelled out in optax: clip the raw gradient, then Adam
    # with the default cosine schedule.
    spelled_out = optax.chain(
        optax.clip_by_global_norm(1e-3),
        optax.adam(optax.cosine_decay_schedule(1e-3, arguments["steps"])),
    )
    reference, _ = lz.fit(_baseline(), spring_data, optimizer=spelled_out, **arguments)
    for a, b in zip(jax.tree.leaves(clipped), jax.tree.leaves(reference)):
        if eqx.is_inexact_array(a):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # A clip that bites changes the run (Adam's step depends on the gradients' history).
    unclipped, _ = lz.fit(_baseline(), spring_data, **arguments)
    differences = [
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(clipped), jax.tree.leaves(unclipped))
        if eqx.is_inexact_array(a)
    ]
    assert max(differences) > 1e-6


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_gradient_clip_must_be_a_positive_number(spring_data, bad):
    with pytest.raises(ValueError, match="`gradient_clip` must be a positive number"):
        lz.fit(_baseline(), spring_data, steps=1, key=jax.random.key(0), gradient_clip=bad)


def test_gradient_clip_and_an_optimizer_are_exclusive(spring_data):
    with pytest.raises(ValueError, match="chain optax.clip_by_global_norm"):
        lz.fit(
            _baseline(),
            spring_data,
            steps=1,
            key=jax.random.key(0),
            gradient_clip=1.0,
            optimizer=optax.adam(1e-3),
        )


def _derivatives(model, y):
    return jax.vmap(model, in_axes=(None, 0, None))(jnp.zeros(()), y, None)


def test_a_streams_fingerprint_is_the_same_in_another_process():
    # A function's repr holds its memory address, which differs from one process to the
    # next: a run on a stream with a sampler of its own could not be resumed.
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--fingerprints"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    here = _resume_script.stream_fingerprints()
    assert json.loads(result.stdout) == here
    # Another function, or the same one with other numbers, is another stream.
    assert len(set(here.values())) == len(here)


def test_train_run_trains_in_the_precision_its_config_records(spring_data, tmp_path):
    # The session runs in float64 and the dataset file holds float64 arrays; a config that
    # says float32 gets a float32 model.
    spring_data.save(tmp_path / "spring.npz")
    settings = {"data": str(tmp_path / "spring.npz"), "model": "baseline", "float64": False}
    settings |= {"width": 8, "depth": 1, "steps": 2, "batch_size": 8}
    train_run(TrainConfig.from_dict(settings_from_dataset(settings)), tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["float64"] is False
    model = lz.load_model(tmp_path / "run" / "model.lzm")
    dtypes = {leaf.dtype for leaf in jax.tree.leaves(model) if eqx.is_inexact_array(leaf)}
    assert dtypes == {jnp.dtype(jnp.float32)}


def _short_fit(data, *, seed: int, steps: int = 60, model=None, **options):
    """A fit of `model` (a small baseline by default; batch 16, Adam 1e-2, no progress bar)
    with `options`."""
    return lz.fit(
        _baseline() if model is None else model,
        data,
        steps=steps,
        key=jax.random.key(seed),
        batch_size=16,
        learning_rate=1e-2,
        progress=False,
        **options,
    )


def test_coprime_intervals_run_one_chunk_per_event_with_one_program(spring_data, monkeypatch):
    starts, compilations = [], []
    run_chunk = training._run_chunk

    def counted(*args):
        with count_compilations() as count:
            result = jax.block_until_ready(run_chunk(*args))
        starts.append(int(args[4]))
        compilations.append(count[0])
        return result

    monkeypatch.setattr(training, "_run_chunk", counted)
    model, history = _short_fit(
        spring_data, seed=2, steps=300, eval_data=spring_data, log_every=100, eval_every=99
    )
    # One dispatch from each event to the next, not one per step (their gcd is 1).
    assert starts == [0, 99, 100, 198, 200, 297]
    assert compilations[0] <= 1 and compilations[1:] == [0] * 5
    np.testing.assert_array_equal(history.step, [99, 100, 198, 200, 297, 300])
    evaluated = ~np.isnan(history.eval_loss)
    np.testing.assert_array_equal(evaluated, [True, False, True, False, True, True])
    y, dy = spring_data.states()
    expected = jnp.mean((_derivatives(model, y) - dy) ** 2)
    np.testing.assert_allclose(history.eval_loss[-1], expected, rtol=1e-12)


def test_resume_falls_back_from_a_damaged_newest_checkpoint(case, tmp_path):
    # log_every 10 and checkpoint_every 15: the checkpoint of step 45 also holds the losses
    # of steps 41 to 45, which the entry of step 50 averages over.
    arguments = dict(seed=3, log_every=10, checkpoint_every=15, checkpoint_dir=tmp_path / "run")
    arguments |= dict(model=case.model, **case.options)
    folder = arguments["checkpoint_dir"]
    reference, reference_history = _short_fit(case.data, **arguments)
    newest, previous = folder / "step_000000060.ckpt", folder / "step_000000045.ckpt"
    newest.write_bytes(newest.read_bytes()[:-100])

    with pytest.warns(UserWarning, match="cannot be used") as warned:
        resumed, history = _short_fit(case.data, resume=True, **arguments)
    (message,) = [str(w.message) for w in warned if "cannot be used" in str(w.message)]
    assert f"'{newest}' is truncated" in message and f"'{previous}' (step 45)" in message
    _assert_params_identical(resumed, reference)
    np.testing.assert_array_equal(history.step, np.arange(10, 61, 10))
    np.testing.assert_array_equal(history.train_loss, reference_history.train_loss)
    header = json.loads(newest.read_bytes().split(b"\n", 1)[0])
    assert header["step"] == 60  # written again, whole


def test_ctrl_c_keeps_the_losses_since_the_last_entry(case, tmp_path, monkeypatch):
    reference, _ = _short_fit(case.data, seed=4, log_every=10, model=case.model, **case.options)

    run_chunk = training._run_chunk
    losses = []  # of every step, as the compiled chunks return them

    def interrupted_at_25(*args):
        start = int(args[4])
        if start == 25:
            raise KeyboardInterrupt  # Ctrl-C while steps 26-30 run
        result = run_chunk(*args)
        losses.extend(np.asarray(result[2])[:5])
        return result

    monkeypatch.setattr(training, "_run_chunk", interrupted_at_25)
    folder = tmp_path / "run"
    arguments = dict(seed=4, log_every=10, checkpoint_dir=folder, checkpoint_every=5)
    arguments |= dict(model=case.model, **case.options)
    with pytest.raises(KeyboardInterrupt):
        _short_fit(case.data, **arguments)
    # Steps 21-25 ran after the entry of step 20; their mean loss gets an entry of its own.
    assert len(losses) == 25
    expected = np.mean(losses[20:25])
    with open(folder / "history.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == [10, 20, 25]
    np.testing.assert_allclose(float(rows[2]["train_loss"]), expected, rtol=1e-8)
    saved = json.loads((folder / "history.json").read_text())
    assert saved["step"] == [10, 20, 25]
    np.testing.assert_allclose(saved["train_loss"][2], expected, rtol=1e-15)
    header = json.loads((folder / "step_000000025.ckpt").read_bytes().split(b"\n", 1)[0])
    assert header["history"]["step"] == [10, 20, 25]

    monkeypatch.setattr(training, "_run_chunk", run_chunk)
    resumed, history = _short_fit(case.data, resume=True, **arguments)
    _assert_params_identical(resumed, reference)
    np.testing.assert_array_equal(history.step, [10, 20, 25, 30, 40, 50, 60])


def test_time_budget_stops_with_a_checkpoint_and_resumes(case, tmp_path):
    arguments = dict(seed=4, log_every=10, model=case.model, **case.options)
    reference, reference_history = _short_fit(case.data, **arguments)
    folder = tmp_path / "run"
    arguments["checkpoint_dir"] = folder
    # Out of time after the first chunk: its entry and a checkpoint, but no model file.
    _, history = _short_fit(case.data, max_seconds=1e-9, **arguments)
    np.testing.assert_array_equal(history.step, [10])
    np.testing.assert_array_equal(history.train_loss, reference_history.train_loss[:1])
    assert [p.name for p in folder.glob("step_*.ckpt")] == ["step_000000010.ckpt"]
    assert not (folder / "model.lzm").exists()
    resumed, history = _short_fit(case.data, resume=True, **arguments)
    _assert_params_identical(resumed, reference)
    np.testing.assert_array_equal(history.step, reference_history.step)
    np.testing.assert_array_equal(history.train_loss, reference_history.train_loss)
    _assert_params_identical(lz.load_model(folder / "model.lzm"), reference)


class Accelerations(lz.AbstractDerivativeSource, lz.AbstractFiniteSource):
    """A dataset whose targets are the accelerations only, the second half of `dy`."""

    data: lz.Dataset

    def states(self):
        y, dy = self.data.states()
        return y, dy[:, 1:]

    def sample(self, key, batch_size):
        y, dy = self.data.sample(key, batch_size)
        return y, dy[:, 1:]

    def predict(self, model, y):
        return _derivatives(model, y)[:, 1:]


def test_evaluation_uses_the_sources_prediction(spring_data):
    source = Accelerations(spring_data)
    model, history = lz.fit(
        _baseline(),
        source,
        steps=5,
        key=jax.random.key(5),
        batch_size=16,
        eval_data=source,
        log_every=5,
        progress=False,
    )
    # The training objective on every row, written out: the accelerations' squared error.
    y, dy = spring_data.y.reshape(-1, 2), spring_data.dy.reshape(-1, 2)
    expected = jnp.mean((_derivatives(model, y)[:, 1] - dy[:, 1]) ** 2)
    np.testing.assert_allclose(history.eval_loss[-1], expected, rtol=1e-12)
