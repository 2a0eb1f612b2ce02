"""`lagrangian-zoo train --data FILE` on measured trajectories with inputs, run as a user runs
it (a process of its own).

The file holds motions of the two-link arm under recorded torques, integrated from the arm's
closed-form forward dynamics; a baseline reads the torques beside the state, a Lagrangian
model takes them as generalised forces, and a model of canonical states is refused.
"""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


CONFIG = """\
batch_size = 32
width = 32
depth = 2
checkpoint_every = 100
learning_rate = 0.01
"""


@pytest.fixture(scope="module")
def arm_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    arm = lz.systems.TwoLinkArm()
    key = jax.random.key(3)
    trajectories, samples = 8, 12
    ts = jnp.linspace(0.0, 1.1, samples)
    y0 = jax.random.uniform(key, (trajectories, 4), minval=-1.0, maxval=1.0)
    u = jax.random.normal(jax.random.fold_in(key, 1), (trajectories, samples, 2))
    ys = lz.rollout_with_inputs(arm, y0, ts, u)
    q, q_t = ys[..., :2], ys[..., 2:]
    # The accelerations the arm's own equations give at each sample under its held input.
    q_tt = jax.vmap(jax.vmap(arm.forward_dynamics))(q, q_t, u)
    path = folder / "arm.npz"
    lz.save_trajectories(path, ts, q, q_t, q_tt=q_tt, u=u, metadata={"system": "two_link_arm"})
    config = folder / "config.toml"
    config.write_text(CONFIG)
    return path, config, (q, q_t, q_tt, u)


def _train(arm_file, out, model: str, steps: int = 300) -> subprocess.CompletedProcess:
    """The command as a user types it, in a process of its own."""
    path, config, _ = arm_file
    command = pathlib.Path(sys.executable).with_name("lagrangian-zoo")
    return subprocess.run(
        [
            str(command), "train", "--model", model, "--steps", str(steps), "--data", str(path),
            "--config", str(config), "--out", str(out), "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )  # fmt: skip


@pytest.mark.parametrize("model", ["baseline", "delan"])
def test_train_learns_the_field_under_the_recorded_inputs(arm_file, tmp_path, model):
    out = tmp_path / model
    result = _train(arm_file, out, model)
    assert result.returncode == 0, result.stderr[-3000:]
    stored = json.loads((out / "config.json").read_text())
    assert stored["system"] == "two_link_arm"
    assert stored["trajectories"] == 8 and stored["samples"] == 12
    history = json.loads((out / "history.json").read_text())["train_loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.5 * history[0], history

    # The trained model's accelerations under the recorded torques are closer to the arm's
    # than zero is, and than its own with the torques left out: it learned, and reads them.
    # Scored in a process of its own too, as a user would load the run (a CI run's xdist
    # worker, after hundreds of other files' programs, crashed in XLA compiling this).
    scores = subprocess.run(
        [sys.executable, "-c", SCORE, str(out / "model.lzm"), str(arm_file[0])],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert scores.returncode == 0, scores.stderr[-3000:]
    inputs, error, zeroed, scale = json.loads(scores.stdout.strip().splitlines()[-1])
    if model == "baseline":
        assert inputs == 2
    assert error < zeroed, (error, zeroed)
    assert error < 0.5 * scale, (error, scale)


# Loads a trained run's model and scores its accelerations on the file's recorded motion:
# prints [model inputs, MSE, MSE with the torques set to zero, mean squared acceleration].
SCORE = """
import json, sys
import jax, jax.numpy as jnp, lagrangian_zoo as lz
jax.config.update("jax_enable_x64", True)
model = lz.load_model(sys.argv[1])
record = lz.load_trajectories(sys.argv[2])
states = jnp.concatenate([record.q, record.q_t], axis=-1).reshape(-1, 4)
u, q_tt = jnp.asarray(record.u).reshape(-1, 2), jnp.asarray(record.q_tt).reshape(-1, 2)
def mse(inputs):
    field = jax.vmap(lambda y, f: lz.vector_field_with_inputs(model, 0.0, y, f))(states, inputs)
    return float(jnp.mean((field[:, 2:] - q_tt) ** 2))
print(json.dumps([getattr(model, "inputs", 0), mse(u), mse(0 * u), float(jnp.mean(q_tt**2))]))
"""


def test_a_model_of_canonical_states_is_refused(arm_file, tmp_path):
    result = _train(arm_file, tmp_path / "hnn", "hnn", steps=1)
    assert result.returncode != 0
    assert "canonical states" in result.stderr and "lnn, delan" in result.stderr, result.stderr
