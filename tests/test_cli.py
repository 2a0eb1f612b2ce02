"""The `lagrangian-zoo` command line, run in-process with Typer's test runner.

One tiny run (a baseline on the spring, 20 steps, a width-8 network) is generated, trained,
evaluated and animated once per module; the other tests read it or copy it.
"""

import dataclasses
import json
import math
import re
import shutil
import sys
import threading
import time

import jax
import jax.numpy as jnp
import jaxtyping
import lagrangian_zoo as lz
import numpy as np
import pytest
import typer
from lagrangian_zoo.cli import app, help_from_code
from PIL import Image
from typer.testing import CliRunner

from helpers import tree_allclose


runner = CliRunner()

COMMANDS = (
    "systems", "generate", "train", "evaluate", "animate", "benchmark", "demo", "inspect",
)  # fmt: skip
# Generation and training use the same sizes, so the trajectories integrated by `generate`
# and by `train --data trajectories` share one compiled program.
CONFIG = """\
trajectories = 4
samples = 10
t_end = 1.0
batch_size = 16
checkpoint_every = 10
width = 8
depth = 1
"""
TRAIN = ["--system", "spring", "--model", "baseline", "--steps", "20", "--data", "trajectories"]
# Evaluation (at 10 samples per unit time, at least 3) and animation (15 frames per unit time)
# both sample 3 times on this horizon, so they share compiled rollouts too.
T_END = "0.15"


def invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def assert_one_line_error(result, code: int, words: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert re.search(words, lines[0]), lines[0]
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    config = folder / "tiny.toml"
    config.write_text(CONFIG)
    return folder, config


@pytest.fixture(scope="module")
def run(workspace):
    folder, config = workspace
    out = folder / "run"
    # With progress on: the test runner's output is no terminal, as a redirected one is not.
    result = invoke("train", *TRAIN, "--config", config, "--out", out)
    assert result.exit_code == 0, result.output
    return out, result


def test_help_lists_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert re.search(rf"\b{command}\b", result.stdout), command


def test_systems_prints_a_table_with_the_double_pendulum():
    result = invoke("systems")
    assert result.exit_code == 0
    # The row of the double pendulum: its name, 2 degrees of freedom, its parameters.
    assert re.search(r"double_pendulum\W+2\W+masses=\(1\.0, 1\.0\)", result.stdout)
    for name in lz.systems.names():
        assert name in result.stdout


def test_generate_writes_a_dataset_of_the_system(workspace):
    folder, _ = workspace
    path = folder / "data" / "spring.npz"
    args = ["--trajectories", "4", "--samples", "10", "--t-end", "1.0", "--seed", "3"]
    result = invoke("generate", "--system", "spring", "--out", path, *args)
    assert result.exit_code == 0, result.output
    data = lz.Dataset.load(path)
    assert data.y.shape == data.dy.shape == (4, 10, 2)
    np.testing.assert_allclose(data.ts, np.linspace(0.0, 1.0, 10), rtol=0, atol=1e-15)
    assert data.metadata["system"] == "spring"
    # The default spring (m = 1/2, k = 2): dy = [q_t, -(k/m) q], energy conserved.
    q, q_t = data.y[..., 0], data.y[..., 1]
    np.testing.assert_allclose(data.dy[..., 0], q_t, rtol=0, atol=1e-14)
    np.testing.assert_allclose(data.dy[..., 1], -4.0 * q, rtol=0, atol=1e-14)
    energy = 0.25 * q_t**2 + q**2
    assert float(jnp.max(jnp.abs(energy - energy[:, :1]))) < 1e-8


def test_generate_reads_integer_parameters_as_floats(workspace):
    folder, _ = workspace
    path = folder / "stiff.npz"
    # The default stiffness written as an integer: same program, so no new compilation.
    args = ["--trajectories", "4", "--samples", "10", "--t-end", "1.0", "--param", "stiffness=2"]
    result = invoke("generate", "--system", "spring", "--out", path, *args)
    assert result.exit_code == 0, result.output
    data = lz.Dataset.load(path)
    assert data.metadata["parameters"]["stiffness"] == 2.0
    assert isinstance(data.metadata["parameters"]["stiffness"], float)
    np.testing.assert_allclose(data.dy[..., 1], -4.0 * data.y[..., 0], rtol=0, atol=1e-13)


def test_train_writes_model_history_and_config(run):
    out, result = run
    for name in ("model.lzm", "history.json", "config.json", "summary.json"):
        assert (out / name).is_file(), name
    # One copy of the trained model: model.lzm at the top, none beside the checkpoints.
    assert sorted(p.name for p in out.rglob("*.lzm")) == ["model.lzm"]
    assert not list(out.rglob("*.eqx"))
    config = json.loads((out / "config.json").read_text())
    assert config["system"] == "spring" and config["model"] == "baseline"
    assert config["steps"] == 20 and config["trajectories"] == 4
    assert (config["width"], config["depth"], config["model_kwargs"]) == (8, 1, {})
    history = json.loads((out / "history.json").read_text())
    assert history["step"][-1] == 20
    assert math.isfinite(history["train_loss"][-1]) and history["train_loss"][-1] > 0
    model = lz.load_model(out / "model.lzm")
    assert isinstance(model, lz.models.Baseline)
    assert (model.dof, model.width, model.depth) == (1, 8, 1)
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["status"] == "trained"
    assert summary["final_train_loss"] == history["train_loss"][-1]
    # Scored on held-out trajectories, beside the score of predicting zero derivatives.
    held_out, zero = summary["held_out_loss"], summary["zero_prediction_loss"]
    assert math.isfinite(held_out) and held_out > 0 and zero > 0
    assert summary["held_out_loss_relative_to_zero_prediction"] == pytest.approx(held_out / zero)
    # The live CSV log: one line per history entry.
    lines = (out / "checkpoints" / "history.csv").read_text().splitlines()
    assert lines[0] == "step,train_loss,eval_loss,seconds"
    assert [int(line.split(",")[0]) for line in lines[1:]] == history["step"]


def test_evaluate_writes_metrics(run):
    out, _ = run
    result = invoke("evaluate", "--run", out, "--trajectories", "1", "--t-end", T_END)
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "evaluation.json").read_text())
    metrics = evaluation["metrics"]
    assert set(metrics) == {
        "failed_rollouts",
        "rollout_mse",
        "energy_mse",
        "energy_discrepancy_percent",
        "valid_prediction_time",
    }
    assert metrics["failed_rollouts"] == 0
    assert all(math.isfinite(v) and v >= 0 for v in metrics.values())
    assert metrics["valid_prediction_time"] <= float(T_END)
    assert evaluation["system"] == "spring" and evaluation["trajectories"] == 1
    assert "rollout_mse" in result.stdout


def test_evaluate_counts_a_failed_rollout_and_scores_the_rest(run, monkeypatch):
    from lagrangian_zoo import _experiment

    out, _ = run
    rolled_out = _experiment.rollout

    def first_blows_up(dynamics, *args, **kwargs):
        ys = rolled_out(dynamics, *args, **kwargs)
        if not isinstance(dynamics, lz.models.AbstractDynamics):
            return ys  # the truth
        # An under-trained model: its first rollout comes back non-finite.
        assert kwargs.get("checks") is False, "evaluation must not stop at a failed rollout"
        return ys.at[0, 1:].set(jnp.inf)

    monkeypatch.setattr(_experiment, "rollout", first_blows_up)
    result = invoke("evaluate", "--run", out, "--trajectories", "2", "--t-end", T_END)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "evaluation.json").read_text())["metrics"]
    assert metrics["failed_rollouts"] == 1
    assert math.isfinite(metrics["rollout_mse"]) and math.isfinite(metrics["energy_mse"])
    assert re.search(r"failed_rollouts\W+1 of 2", result.stdout), result.stdout


def test_evaluate_prints_the_valid_time_with_its_horizon(run):
    out, _ = run
    result = invoke("evaluate", "--run", out, "--trajectories", "1", "--t-end", T_END)
    assert result.exit_code == 0, result.output
    shown = re.search(r"valid_prediction_time\W+(\S+) of (\S+) \(the horizon\)", result.stdout)
    assert shown, result.stdout
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert float(shown.group(2)) == evaluation["t_end"] == float(T_END)
    valid_time = evaluation["metrics"]["valid_prediction_time"]
    assert float(shown.group(1)) == pytest.approx(valid_time, rel=1e-3)


def test_animate_writes_a_gif(run):
    out, _ = run
    result = invoke("animate", "--run", out, "--t-end", T_END)
    assert result.exit_code == 0, result.output
    path = out / "animation.gif"
    assert path.read_bytes()[:4] == b"GIF8"
    with Image.open(path) as image:
        # One frame per sample: 15 per unit time on [0, 0.15].
        assert image.n_frames == 3
        assert image.size[0] > image.size[1] > 50


def test_resume_of_a_finished_run_changes_nothing(run):
    out, _ = run
    before = {name: (out / name).read_bytes() for name in ("model.lzm", "history.json")}
    result = invoke("train", "--out", out, "--resume", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "already complete (20 steps)" in result.stdout
    assert {name: (out / name).read_bytes() for name in before} == before


def test_resume_refuses_changed_settings(run):
    out, _ = run
    result = invoke("train", "--out", out, "--resume", "--steps", "40")
    assert_one_line_error(result, 2, r"steps=40 here vs 20 in the run.*another --out")


def test_training_into_a_finished_run_needs_resume(run, workspace):
    out, config = run[0], workspace[1]
    result = invoke("train", *TRAIN, "--config", config, "--out", out, "--no-progress")
    assert_one_line_error(result, 2, r"already holds a run: pass --resume")


def test_resume_after_an_interruption_matches_the_uninterrupted_run(run, tmp_path):
    out, _ = run
    copy = tmp_path / "interrupted"
    shutil.copytree(out, copy)
    # As if stopped after the checkpoint at step 10: no final model, no step-20 checkpoint.
    for name in ("model.lzm", "summary.json", "checkpoints/step_000000020.ckpt"):
        (copy / name).unlink()
    assert (copy / "checkpoints" / "step_000000010.ckpt").is_file()
    result = invoke("train", "--out", copy, "--resume", "--no-progress")
    assert result.exit_code == 0, result.output
    assert '"status": "resumed"' in result.stdout
    resumed, uninterrupted = lz.load_model(copy / "model.lzm"), lz.load_model(out / "model.lzm")
    assert tree_allclose(resumed, uninterrupted, rtol=0, atol=0)


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--system", "nope"], r"unknown system 'nope'.*Known systems: .*spring"),
        (["train", "--model", "transformer"], r"unknown model 'transformer'\. Known models"),
        (["train", "--model", "lnm"], r"unknown model 'lnm'\. Did you mean 'lnn'\? Known models"),
        (["train", "--system", "spirng"], r"unknown system 'spirng'\. Did you mean 'spring'\?"),
        (
            ["train", "--config", "{width_in_model_kwargs}"],
            r"`model_kwargs` sets 'width', which is a setting of its own: write `width = \.\.\.`",
        ),
        (["train", "--loss", "l3"], r"`loss` must be one of l2, l1, got 'l3'"),
        (["train", "--config", "{bad_key}"], r"unknown setting\(s\) 'widht'; known settings"),
        (["train", "--config", "{bad_toml}"], r"--config file is not valid TOML"),
        (["train", "--config", "{missing}/run.toml"], r"--config file .* does not exist"),
        (["train", "--steps", "0"], r"Invalid value for '--steps'"),
        (["evaluate", "--run", "{missing}"], r"no run directory at '.*missing'"),
        (["animate", "--run", "{missing}"], r"no run directory at '.*missing'"),
        (["evaluate"], r"Missing option '--run'"),
        (
            ["generate", "--system", "spring", "--out", "{missing}.npz", "--param", "mass=-1"],
            r"spring: parameter `mass` must be positive and finite",
        ),
        (
            ["generate", "--system", "spring", "--out", "{missing}.npz", "--param", "mass=heavy"],
            r"--param 'mass=heavy': the value must be a number",
        ),
    ],
)
def test_bad_arguments_give_one_error_line(workspace, tmp_path, args, words):
    bad_key = tmp_path / "bad_key.toml"
    bad_key.write_text("widht = 8\n")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("steps = = 3\n")
    width_in_model_kwargs = tmp_path / "model_kwargs.toml"
    width_in_model_kwargs.write_text("model_kwargs = {width = 8}\n")
    paths = {
        "bad_key": bad_key,
        "bad_toml": bad_toml,
        "missing": tmp_path / "missing",
        "width_in_model_kwargs": width_in_model_kwargs,
    }
    args = [a.format(**paths) for a in args]
    if args[0] == "train":
        args += ["--out", str(tmp_path / "out")]
    result = invoke(*args)
    assert_one_line_error(result, 2, words)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_a_type_error_of_a_library_check_gives_one_error_line(tmp_path, monkeypatch):
    # A TypeError, as a bug's would be, but raised by DeLaN's check of its arguments. As users
    # run it: without the tests' runtime type checking, which would refuse the value first.
    monkeypatch.setattr(jaxtyping.config, "jaxtyping_disable", True)
    config = tmp_path / "epsilon.toml"
    config.write_text("model_kwargs = {epsilon = 'small'}\n")
    args = ["--system", "spring", "--model", "delan", "--width", "8", "--depth", "1"]
    result = invoke("train", *args, "--config", config, "--out", tmp_path / "out")
    assert_one_line_error(result, 2, r"DeLaN: `epsilon` must be a float, got 'small'\.")
    assert not (tmp_path / "out").exists()


def _raise_boom(*args, **kwargs):
    raise TypeError("boom")  # as a dependency of the library would


@pytest.mark.parametrize(
    "patch, last_line",
    [
        # A function the command calls fails.
        (("lagrangian_zoo._experiment", "evaluate_run", _raise_boom), "TypeError: boom"),
        # Python itself raises, inside the library: a call of something that is no function...
        (
            ("lagrangian_zoo._experiment", "_load_run", None),
            "TypeError: 'NoneType' object is not callable",
        ),
        # ... and a key the command looks up that the result lacks.
        (
            ("lagrangian_zoo._experiment", "evaluate_run", lambda *a, **k: {}),
            "KeyError: 'metrics'",
        ),
    ],
)
def test_a_bug_shows_its_traceback(tmp_path, monkeypatch, capsys, patch, last_line):
    module, name, value = patch
    monkeypatch.setattr(f"{module}.{name}", value)
    # Typer's app() installs its exception hook; the monkeypatch restores the test's.
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    # The console script's way (app() with the arguments of sys.argv), not the test runner's.
    with pytest.raises(Exception) as raised:
        app(["evaluate", "--run", str(tmp_path)], prog_name="lagrangian-zoo")
    assert type(raised.value).__name__ == last_line.split(":")[0]
    # What Python shows of an error that leaves the program.
    sys.excepthook(raised.type, raised.value, raised.tb)
    shown = capsys.readouterr().err
    assert shown.startswith("Traceback (most recent call last):"), shown
    assert shown.strip().splitlines()[-1] == last_line
    assert "error:" not in shown


def test_debug_shows_the_traceback_of_a_mistake_too(tmp_path):
    args = ["train", "--loss", "l3", "--out", tmp_path / "out"]
    result = invoke("--debug", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Traceback (most recent call last):"), result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == "ValueError: `loss` must be one of l2, l1, got 'l3'.", last
    assert_one_line_error(invoke(*args), 2, r"`loss` must be one of l2, l1, got 'l3'")
    assert not (tmp_path / "out").exists()


def test_evaluate_of_an_unfinished_run_says_to_resume(tmp_path):
    run = tmp_path / "unfinished"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"system": "spring", "model": "baseline"}))
    result = invoke("evaluate", "--run", run)
    assert_one_line_error(result, 2, r"has no trained model \(model\.lzm\).*train --resume")


def test_evaluate_of_a_run_with_the_old_model_name_says_to_rename_it(run, tmp_path):
    out, _ = run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    (old / "model.lzm").rename(old / "model.eqx")
    result = invoke("evaluate", "--run", old)
    assert_one_line_error(result, 2, r"named the trained model model\.eqx: rename it model\.lzm")


def test_a_diverging_training_ends_with_one_line_and_code_1(workspace, tmp_path, monkeypatch):
    # A schedule that turns the learning rate into NaN at step 2: the run must stop there.
    import lagrangian_zoo._experiment as experiment

    real_fit = experiment.fit

    def fit_with_nan_schedule(*args, **kwargs):
        kwargs["learning_rate"] = lambda count: jnp.where(count >= 2, jnp.nan, 1e-3)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(experiment, "fit", fit_with_nan_schedule)
    _, config = workspace
    out = tmp_path / "nan"
    result = invoke("train", *TRAIN, "--config", config, "--out", out, "--no-progress")
    assert_one_line_error(result, 1, r"training stopped at step 2")
    assert jax.config.jax_enable_x64  # the tests' precision is untouched by the command


# Runs on a dataset file: the file's metadata decides --------------------------------------

FILE_CONFIG = """\
batch_size = 16
checkpoint_every = 10
width = 8
depth = 1
"""


@pytest.fixture(scope="module")
def long_pendulum(workspace):
    """Trajectories of a pendulum of length 2, with noise, in a dataset file."""
    folder, _ = workspace
    path = folder / "long_pendulum.npz"
    args = ["--trajectories", "3", "--samples", "10", "--t-end", "1.0", "--noise-std", "0.01"]
    result = invoke(
        "generate", "--system", "pendulum", "--param", "length=2.0", "--out", path, *args
    )
    assert result.exit_code == 0, result.output
    config = folder / "file.toml"
    config.write_text(FILE_CONFIG)
    return path, config


def test_train_on_a_dataset_file_uses_the_file_settings(long_pendulum, tmp_path):
    path, config = long_pendulum
    out = tmp_path / "run"
    result = invoke(
        "train", "--model", "baseline", "--steps", "2", "--data", path, "--config", config,
        "--out", out, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = json.loads((out / "config.json").read_text())
    # What `generate` was given, not the defaults (a double pendulum, 100 trajectories, ...).
    assert stored["system"] == "pendulum"
    assert stored["system_params"] == {"mass": 0.5, "length": 2.0, "gravity": 6.0}
    assert stored["trajectories"] == 3 and stored["samples"] == 10
    assert stored["noise_std"] == 0.01 and stored["t_end"] == pytest.approx(1.0, rel=1e-15)
    # The evaluation's truth is the length-2 pendulum: its period at small amplitude is
    # 2 pi sqrt(l / g), and the rebuilt system gives the acceleration -(g / l) sin q.
    from lagrangian_zoo._experiment import build_system, TrainConfig

    system = build_system(TrainConfig.from_dict(stored))
    q = jnp.array([0.3])
    np.testing.assert_allclose(system.acceleration(q, q), -3.0 * np.sin(0.3), rtol=1e-12)


@pytest.mark.parametrize(
    "args, toml, words",
    [
        (["--system", "double_pendulum"], "", r"system='double_pendulum' \(the file has 'pend"),
        ([], "system_params = {length = 1.0}", r"parameter length=1.0 \(the file has 2.0\)"),
        ([], "trajectories = 100", r"trajectories=100 \(the file has 3\)"),
        ([], "noise_std = 0.0", r"noise_std=0.0 \(the file has 0.01\)"),
    ],
)
def test_train_refuses_settings_that_contradict_the_dataset_file(
    long_pendulum, tmp_path, args, toml, words
):
    path, _ = long_pendulum
    config = tmp_path / "conflict.toml"
    config.write_text(FILE_CONFIG + toml + "\n")
    out = tmp_path / "out"
    result = invoke("train", "--data", path, "--config", config, "--out", out, *args)
    assert_one_line_error(result, 2, words + r".*The file decides these")
    assert not out.exists()


def test_train_run_refuses_a_config_that_contradicts_its_dataset_file(long_pendulum, tmp_path):
    # The library path, without the command line's completion from the file.
    from lagrangian_zoo._experiment import train_run, TrainConfig

    path, _ = long_pendulum
    config = TrainConfig(system="pendulum", model="baseline", steps=2, data=str(path))
    with pytest.raises(ValueError, match=r"system parameter length=1.0 \(the file has 2.0\)"):
        train_run(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# The model's coordinates decide the data's ------------------------------------------------


@pytest.mark.parametrize("model", ["hnn", "baseline"])
@pytest.mark.parametrize("data", ["trajectories", "stream"])
@pytest.mark.parametrize("coordinates", ["canonical", "velocity"])
def test_data_are_in_the_model_coordinates(model, data, coordinates):
    from lagrangian_zoo._experiment import build_data, build_model, build_system, TrainConfig

    config = TrainConfig(
        system="spring",
        model=model,
        data=data,
        trajectories=2,
        samples=5,
        t_end=1.0,
        width=8,
        depth=1,
        model_kwargs={"coordinates": coordinates},
    )
    system = build_system(config)
    model = build_model(config, system, jax.random.key(0))
    source = build_data(config, system, model, jax.random.key(1))
    y, dy = source.states() if data == "trajectories" else source.sample(jax.random.key(2), 8)
    # The spring (m = 1/2): the second half of a state is q_t = dq/dt, or p = m dq/dt.
    factor = 0.5 if coordinates == "canonical" else 1.0
    np.testing.assert_allclose(y[:, 1], factor * dy[:, 0], rtol=1e-12)
    assert float(jnp.max(jnp.abs(dy[:, 0]))) > 1e-3  # the states move


# Help texts -------------------------------------------------------------------------------


def _help(*command: str) -> str:
    """The help of a command, one option per line (a wide terminal), spaces collapsed."""
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    return result.stdout


def _collapsed(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)])
def test_every_help_text_is_shown_as_written(command):
    # Rich reads "[q, q_t]" as a markup tag and drops it, leaving "()": every help text (the
    # command's, every option's) must come out whole.
    shown = _help(*command)
    assert "()" not in shown and "( " not in shown, shown
    assert "${" not in shown, shown  # every quote of the code filled in
    group = typer.main.get_command(app)
    cli_command = group.commands[command[0]] if command else group
    texts = [p.help for p in cli_command.params if getattr(p, "help", None)]
    if cli_command.help:
        texts += [paragraph for paragraph in cli_command.help.split("\n\n")]
    assert texts
    for text in texts:
        written = _collapsed(help_from_code(text).replace("\\[", "["))
        assert written in _collapsed(shown), f"{written!r} is not shown whole"


def test_generate_help_shows_the_state_layouts():
    assert "'velocity' ([q, q_t]) or 'canonical' ([q, p], for an HNN)" in _help("generate")


def _option_line(shown: str, option: str) -> str:
    return next(line for line in shown.splitlines() if re.search(rf"│ +{option}\b", line))


def _names(listed: str) -> list[str]:
    """The names of "a, b or c"."""
    return re.split(r", | or ", listed)


def test_help_lists_the_models_and_systems_of_the_registries(monkeypatch):
    from lagrangian_zoo.models import _registry

    # A model registered now is listed: the help is read from the registry, not typed.
    monkeypatch.setitem(_registry.MODELS, "toy", lz.models.Baseline)
    shown = _help("train")
    listed = re.search(
        r"The model to train: (.+?)\. +\[default: lnn\]", _option_line(shown, "--model")
    )
    assert listed, _option_line(shown, "--model")
    assert sorted(_names(listed.group(1))) == sorted(lz.models.names())
    assert {"lgn", "toy"} <= set(lz.models.names())
    line = _option_line(shown, "--activation")
    assert ", ".join(lz.models.ACTIVATIONS) + " (an LNN needs a curved one)" in line
    for command in ("train", "generate"):
        text = _collapsed(_help(command))
        listed = re.search(
            r"The system(?: to learn)?: (.+?) \(see `lagrangian-zoo systems`\)", text
        )
        assert listed, text
        assert sorted(_names(listed.group(1))) == sorted(lz.systems.names())


def test_help_quotes_the_demo_settings(monkeypatch):
    import lagrangian_zoo._demo as demo

    settings = demo.DemoSettings()
    assert f"the demo trains the LNN for {settings.lnn_steps})" in _collapsed(_help("train"))
    steps = (
        f"the LNN for {settings.lnn_steps} steps, the HNN for {settings.hnn_steps} and the "
        f"baseline for {settings.baseline_steps};"
    )
    assert steps in _collapsed(_help("demo"))
    # Other settings of the demo: other numbers in its help.
    monkeypatch.setattr(
        demo, "DemoSettings", lambda: dataclasses.replace(settings, lnn_steps=12345)
    )
    assert "the demo trains the LNN for 12345)" in _collapsed(_help("train"))
    assert "the LNN for 12345 steps" in _collapsed(_help("demo"))


def test_train_help_shows_every_default_and_how_long_they_take():
    shown = _help("train")
    expected = {
        "--system": "double_pendulum",
        "--model": "lnn",
        "--width": "128",
        "--depth": "3",
        "--steps": "2000",
        "--batch-size": "256",
        "--learning-rate": "0.001",
        "--gradient-clip": "1.0",
        "--loss": "l2",
        "--data": "stream",
        "--trajectories": "100",
        "--t-end": "3.0",
        "--samples": "30",
        "--noise-std": "0.0",
        "--checkpoint-every": "500",
        "--seed": "0",
        "--float64": "float64",
        "--out": "runs/train",
    }
    for option, default in expected.items():
        assert f"[default: {default}]" in _option_line(shown, option), option
    assert "by default the model's own" in _option_line(shown, "--activation")
    assert "by default the system's own" in _option_line(shown, "--param")
    text = _collapsed(shown)
    assert "finish in a minute or two on a 2-core laptop CPU" in text
    assert "--width 500 --depth 4" in text


def test_train_option_defaults_are_the_train_config_defaults():
    from lagrangian_zoo._experiment import TrainConfig

    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
    options = typer.main.get_command(app).commands["train"].params
    settings = [option for option in options if option.name in fields]
    # Every setting but the two tables (set with --param, or in a --config file) is an option.
    assert {o.name for o in settings} == set(fields) - {"system_params", "model_kwargs"}
    for option in settings:
        assert option.default == fields[option.name].default, option.name


def test_train_flags_set_the_model_data_and_system(tmp_path):
    # A --config file sets some settings; the flags override it and set the rest.
    config = tmp_path / "base.toml"
    config.write_text('steps = 2\nwidth = 4\nloss = "l2"\nbatch_size = 8\n')
    out = tmp_path / "flags"
    result = invoke(
        "train", "--config", config, "--out", out, "--no-progress",
        "--system", "pendulum", "--param", "length=2.0", "--param", "mass=0.25",
        "--model", "baseline", "--width", "8", "--depth", "1", "--activation", "softplus",
        "--loss", "l1", "--data", "trajectories", "--trajectories", "2", "--samples", "5",
        "--t-end", "0.5", "--noise-std", "0.01", "--seed", "4", "--checkpoint-every", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = json.loads((out / "config.json").read_text())
    assert stored["steps"] == 2 and stored["batch_size"] == 8  # from the file
    assert (stored["width"], stored["depth"], stored["activation"]) == (8, 1, "softplus")
    assert (stored["loss"], stored["seed"], stored["checkpoint_every"]) == ("l1", 4, 1)
    assert (stored["trajectories"], stored["samples"], stored["t_end"]) == (2, 5, 0.5)
    assert stored["noise_std"] == 0.01 and stored["data"] == "trajectories"
    assert stored["system"] == "pendulum"
    assert stored["system_params"] == {"length": 2.0, "mass": 0.25}
    model = lz.load_model(out / "model.lzm")
    assert isinstance(model, lz.models.Baseline)
    assert (model.width, model.depth, model.activation) == (8, 1, "softplus")


# Progress without a terminal --------------------------------------------------------------


def test_train_prints_plain_progress_lines_without_a_terminal(run):
    _, result = run
    lines = [line for line in result.stdout.splitlines() if line.startswith("training:")]
    assert lines[0] == "training: 0/20 steps done; compiling, first step ..."
    assert re.fullmatch(r"training: step 20/20 \(100%\), loss \S+, \d+ steps/s", lines[-2])
    assert re.fullmatch(r"training: done at step 20/20 after \d+ s", lines[-1])
    assert "━" not in result.stdout  # no bar drawn into a file


def test_progress_lines_come_every_n_steps_after_a_heartbeat(capsys):
    from lagrangian_zoo._training import _ProgressBar

    bar = _ProgressBar(100, 0, interactive=False, every=25, heartbeat_seconds=0.02)
    time.sleep(0.2)  # compiling
    beats = capsys.readouterr().out.splitlines()
    assert beats[0] == "training: 0/100 steps done; compiling, first step ..."
    assert len(beats) >= 3
    assert all(re.fullmatch(r"training: still compiling .*\(\d+ s\)", b) for b in beats[1:])
    for step in range(10, 101, 10):
        bar.update(step, 1.0 / step, float("nan"), 50.0)
    time.sleep(0.1)  # the heartbeat has stopped
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    steps = [int(m.group(1)) for m in map(re.compile(r"training: step (\d+)/").match, lines) if m]
    assert steps == [30, 50, 80, 100]
    assert lines[0] == "training: step 30/100 (30%), loss 3.333e-02, 50 steps/s, 1 s left"
    assert re.fullmatch(r"training: done at step 100/100 after \d+ s", lines[-1])
    assert not any("still compiling" in line for line in lines)
    assert not any(t.name == "training-heartbeat" for t in threading.enumerate())


# Benchmarks from anywhere -----------------------------------------------------------------


def test_benchmark_lists_the_scripts_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("benchmark")
    assert result.exit_code == 0, result.output
    assert re.search(r"benchmarks: .*\bchecks_cost\b.*\bmechanics_speed\b", result.stdout)


def test_benchmark_without_its_folder_says_where_it_looked(tmp_path, monkeypatch):
    import lagrangian_zoo.cli as cli

    monkeypatch.setattr(
        cli, "benchmarks_folder", lambda: tmp_path / "site-packages" / "benchmarks"
    )
    result = invoke("benchmark")
    words = (
        r"no benchmarks folder at '.*site-packages/benchmarks': .*not with an installed wheel\. "
        r"Install from a clone \(pip install -e \.\) or pass --directory"
    )
    assert_one_line_error(result, 2, words)
    result = invoke("benchmark", "--directory", tmp_path / "nowhere")
    assert_one_line_error(result, 2, r"--directory '.*nowhere' is not a folder")


@pytest.mark.parametrize(
    "args, out",
    [
        (["--full"], "{cwd}/benchmark-results"),  # never into the source tree unless asked
        (["--full", "--out", "results"], "{cwd}/results"),
        (["--out", "quick"], "{cwd}/quick"),
        ([], None),  # a quick run picks a temporary folder itself
    ],
)
def test_benchmark_runs_the_script_with_its_output_folder(tmp_path, monkeypatch, args, out):
    import lagrangian_zoo.cli as cli

    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command: calls.append(command) or 0)
    monkeypatch.chdir(tmp_path)
    result = invoke("benchmark", "checks_cost", *args)
    assert result.exit_code == 0, result.output
    [command] = calls
    script = cli.benchmarks_folder() / "checks_cost.py"
    mode = "--full" if "--full" in args else "--quick"
    tail = [] if out is None else ["--out", out.format(cwd=tmp_path.resolve())]
    assert command == [sys.executable, str(script), mode, *tail]
    assert script.is_file()


def test_benchmark_suggests_a_close_name():
    result = invoke("benchmark", "check_cost")
    assert_one_line_error(
        result, 2, r"unknown benchmark 'check_cost'\. Did you mean 'checks_cost'"
    )
