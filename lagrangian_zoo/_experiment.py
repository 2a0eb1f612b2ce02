"""Runs on disk: train a named model on a named system, evaluate it, animate it.

The command line calls these; they are plain functions so scripts can call them too. A run
directory holds `config.json`, the trained model `model.lzm` (read it with
`lagrangian_zoo.load_model`), `history.json`, `summary.json`, `checkpoints/` and, after
`evaluate_run`, `evaluation.json`.
"""

import dataclasses
import inspect
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from . import metrics, plots, systems
from ._canonical_stream import CanonicalStream
from ._checkpoint import load_model, save_model
from ._data import Dataset, generate_dataset, parameters_of, StateStream
from ._input_data import InputDataset
from ._io import atomic_write
from ._mechanics import energy_along
from ._rollout import cast_floating, rollout
from ._training import fit
from ._trajectory_file import is_trajectory_file, load_trajectories, Trajectories
from ._validation import non_negative_number, positive_int, positive_number
from .models import get as get_model
from .models._registry import model_class
from .systems._registry import system_class


_DATA_MODES = ("stream", "trajectories")
_LOSSES = ("l2", "l1")
_POSITIVE_INTS = (
    "width",
    "depth",
    "steps",
    "batch_size",
    "trajectories",
    "samples",
    "checkpoint_every",
)
# Model settings of their own, so the command line can show and set them.
_MODEL_SETTINGS = ("width", "depth", "activation")
# The name of the trained model in a run directory (`fit` writes it beside its checkpoints).
MODEL_FILE = "model.lzm"
_POSITIVE_NUMBERS = ("learning_rate", "t_end")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; stored as `config.json` in the run directory.

    `data` is `"stream"` (fresh random states with exact derivatives for every batch, the LNN
    paper's setting; needs a system that can sample states), `"trajectories"` (a fixed dataset of
    trajectories, the HNN paper's setting) or the path of a dataset saved with `Dataset.save`.
    Every setting is checked when the config is built, so a wrong one fails before anything is
    written or computed.

    The defaults (an LNN of width 128 and depth 3, 2000 steps of 256 fresh double-pendulum
    states, gradients clipped to norm 1) train in a minute or two on a 2-core laptop CPU;
    `gradient_clip` `0` turns the clipping off (without it the default LNN does not learn
    the double pendulum: its held-out error stays above that of predicting zero).
    `activation` `None` is the model's own default; `model_kwargs` holds the model's other
    keyword arguments (an HNN's `coordinates`, an LNN's `dissipation`, ...). `float64`
    chooses the precision of the whole run (model, data and training), whatever the
    session's: `train_run` works under `jax.enable_x64(config.float64)`.
    """

    system: str = "double_pendulum"
    model: str = "lnn"
    width: int = 128
    depth: int = 3
    activation: str | None = None
    steps: int = 2000
    seed: int = 0
    batch_size: int = 256
    learning_rate: float = 1e-3
    gradient_clip: float = 1.0
    loss: str = "l2"
    data: str = "stream"
    trajectories: int = 100
    t_end: float = 3.0
    samples: int = 30
    noise_std: float = 0.0
    system_params: dict[str, Any] = dataclasses.field(default_factory=dict)
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    checkpoint_every: int = 500
    float64: bool = True

    def __post_init__(self):
        system_class(self.system)
        model_class(self.model)
        if self.activation is not None and not isinstance(self.activation, str):
            raise ValueError(
                f"`activation` must be a name such as 'tanh', got {self.activation!r}."
            )
        for name in _POSITIVE_INTS:
            positive_int("", name, getattr(self, name), expected="a positive integer")
        if not _is_int(self.seed):
            raise ValueError(f"`seed` must be an integer, got {self.seed!r}.")
        for name in _POSITIVE_NUMBERS:
            positive_number("", name, getattr(self, name), expected_value="a positive number")
        at_least_0 = "a number >= 0"
        non_negative_number("", "noise_std", self.noise_std, expected_value=at_least_0)
        clip = "a number >= 0 (0: no clipping)"
        non_negative_number(
            "", "gradient_clip", self.gradient_clip, expected=clip, expected_value=clip
        )
        if self.loss not in _LOSSES:
            raise ValueError(f"`loss` must be one of {', '.join(_LOSSES)}, got {self.loss!r}.")
        if not isinstance(self.data, str) or not self.data:
            raise ValueError(
                f"`data` must be 'stream', 'trajectories' or the path of a dataset file, got "
                f"{self.data!r}."
            )
        for name in ("system_params", "model_kwargs"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise ValueError(
                    f"`{name}` must be a table of NAME = VALUE settings, got {value!r}."
                )
        for name in _MODEL_SETTINGS:
            if name in self.model_kwargs:
                raise ValueError(
                    f"`model_kwargs` sets {name!r}, which is a setting of its own: write "
                    f"`{name} = ...` (or --{name} on the command line)."
                )
        if not isinstance(self.float64, bool):
            raise ValueError(f"`float64` must be true or false, got {self.float64!r}.")

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> "TrainConfig":
        """Builds a config from a dict (a TOML file, a `config.json`), refusing unknown keys."""
        if not isinstance(settings, dict):
            raise ValueError(f"a run configuration must be a table, got {settings!r}.")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(
                f"unknown setting(s) {', '.join(map(repr, unknown))}; known settings: "
                f"{', '.join(sorted(known))}."
            )
        return cls(**settings)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values, as stored in `config.json`."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_json_default))


def system_parameters(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters read from TOML, JSON or the command line, in the types the system declares.

    Those formats have lists where the systems take tuples (masses, lengths), and write `2`
    for `2.0`; a parameter whose default is a float (or a tuple of floats) gets floats.
    """
    defaults = systems.parameters(name)
    out = {}
    for key, value in params.items():
        default = defaults.get(key)
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(default, tuple) and isinstance(value, tuple):
            if default and all(isinstance(d, float) for d in default):
                value = tuple(float(v) if _is_int(v) else v for v in value)
        out[key] = value
    return out


def build_system(config: TrainConfig):
    """The system a config names, with its parameters."""
    return systems.get(config.system, **system_parameters(config.system, config.system_params))


def build_model(config: TrainConfig, system, key: PRNGKeyArray, inputs: int = 0):
    """The untrained model a config names, sized for `system`; with `inputs`, a model that
    reads inputs beside the state takes that many (a Lagrangian model takes generalised forces
    without being told)."""
    kwargs = dict(config.model_kwargs, width=config.width, depth=config.depth)
    if config.activation is not None:
        kwargs["activation"] = config.activation
    kwargs.setdefault("periodic", tuple(system.periodic))
    # A constrained model (CLNN, CHNN) takes the system's known constraints: without them it
    # would assume a chain of unit rods from the origin.
    parameters = inspect.signature(model_class(config.model)).parameters
    if inputs and "inputs" in parameters:
        kwargs.setdefault("inputs", inputs)
    if "constraints" in parameters and getattr(system, "constraints", None) is not None:
        kwargs.setdefault("constraints", system.constraints)
        kwargs.setdefault("dimension", system.constraints.dimension)
    return get_model(config.model, system.dof, key=key, **kwargs)


# The settings a dataset file fixes, for a run that trains on it.
_DATASET_SETTINGS = ("system", "system_params", "trajectories", "noise_std", "t_end", "samples")


def dataset_settings(data: Dataset) -> dict[str, Any]:
    """The run settings a dataset fixes: its system and parameters (as its metadata records
    them), its number of trajectories, its noise and its times."""
    metadata = data.metadata
    out: dict[str, Any] = {"trajectories": data.num_trajectories, "samples": len(data.ts)}
    span = float(data.ts[-1] - data.ts[0])
    if math.isfinite(span) and span > 0:
        out["t_end"] = span
    if isinstance(metadata.get("system"), str):
        out["system"] = metadata["system"]
    if isinstance(metadata.get("parameters"), dict):
        out["system_params"] = metadata["parameters"]
    if _is_number(metadata.get("noise_std")):
        out["noise_std"] = float(metadata["noise_std"])
    return out


def _same(name: str, ours: Any, theirs: Any) -> bool:
    if name in ("system", "trajectories", "samples"):
        return ours == theirs
    try:
        return bool(np.allclose(np.asarray(ours, float), np.asarray(theirs, float), rtol=1e-6))
    except (TypeError, ValueError):  # a list against a number, or lists of other lengths
        return False


def _conflicts(settings: dict[str, Any], fixed: dict[str, Any]) -> list[str]:
    """`name=value` for each of `settings` that differs from the dataset's `fixed` value."""
    out = []
    for name, theirs in fixed.items():
        if name not in settings:
            continue
        ours = settings[name]
        if name != "system_params":
            if not _same(name, ours, theirs):
                out.append(f"{name}={ours!r} (the file has {theirs!r})")
            continue
        for key, value in (ours or {}).items():
            if key in theirs and not _same(key, value, theirs[key]):
                out.append(f"system parameter {key}={value!r} (the file has {theirs[key]!r})")
    return out


def _data_file(data: Any) -> Path | None:
    if not isinstance(data, str) or data in _DATA_MODES:
        return None
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(
            f"`data` must be 'stream', 'trajectories' or an existing dataset file; "
            f"{data!r} does not exist."
        )
    return path


def _inputs_file(data: Any) -> Trajectories | None:
    """The measured trajectories with inputs that `data` names (a file in the format of
    `lz.save_trajectories` with `u`), or `None`."""
    path = data if isinstance(data, Path) else _data_file(data)
    if path is None or not is_trajectory_file(path):
        return None
    record = load_trajectories(path)
    return record if record.u is not None else None


def _trajectory_settings(record: Trajectories) -> dict[str, Any]:
    """The run settings a file of trajectories with inputs fixes (as `dataset_settings`)."""
    out: dict[str, Any] = {"trajectories": record.q.shape[0], "samples": record.t.shape[0]}
    span = float(record.t[-1] - record.t[0])
    if math.isfinite(span) and span > 0:
        out["t_end"] = span
    if isinstance(record.metadata.get("system"), str):
        out["system"] = record.metadata["system"]
    if isinstance(record.metadata.get("parameters"), dict):
        out["system_params"] = record.metadata["parameters"]
    return out


def settings_from_dataset(settings: dict[str, Any]) -> dict[str, Any]:
    """Run settings completed from the dataset file they train on, which is their source of truth.

    When `settings["data"]` names a dataset file, its system, system parameters, number of
    trajectories, noise and times are taken from the file; a setting given in `settings` that
    contradicts the file is an error. Other settings are returned unchanged.

    **Returns:** the settings with the file's values, for `TrainConfig.from_dict`.
    """
    path = _data_file(settings.get("data"))
    if path is None:
        return dict(settings)
    record = _inputs_file(path)
    if record is not None:
        fixed = _trajectory_settings(record)
    else:
        fixed = dataset_settings(Dataset.load(path))
    conflicts = _conflicts(settings, fixed)
    if conflicts:
        raise ValueError(
            f"the dataset {str(path)!r} was made with other settings than the run asks for: "
            f"{'; '.join(conflicts)}. The file decides these; drop the conflicting settings "
            "or use another file."
        )
    if "system_params" in fixed:
        fixed["system_params"] = {**settings.get("system_params", {}), **fixed["system_params"]}
    return {**settings, **fixed}


def _check_dataset_file(config: TrainConfig, system, model, data: Dataset, path: Path) -> None:
    """Refuses a dataset file of another system, made with other settings than `config`
    records, or in other coordinates than the model reads."""
    if data.dof != system.dof:
        raise ValueError(
            f"the dataset {str(path)!r} holds states of {2 * data.dof} entries, but the system "
            f"{config.system!r} has dof={system.dof} (states of {2 * system.dof} entries)."
        )
    used = {**config.to_dict(), "system_params": parameters_of(system)}
    conflicts = _conflicts(used, dataset_settings(data))
    if conflicts:
        raise ValueError(
            f"the dataset {str(path)!r} was made with other settings than the run's: "
            f"{'; '.join(conflicts)}. Build the run's settings from the file with "
            "settings_from_dataset (the command line does), or use another file."
        )
    coordinates = data.metadata.get("coordinates")
    wanted = model.coordinates
    if coordinates in ("velocity", "canonical") and coordinates != wanted:
        raise ValueError(
            f"the model {config.model!r} learns from {wanted} states, but the dataset "
            f"{str(path)!r} holds {coordinates} states; generate it with "
            f"--coordinates {wanted}."
        )


def build_data(config: TrainConfig, system, model, key: PRNGKeyArray):
    """The training data a config asks for (a Dataset or a stream), in the model's coordinates."""
    canonical = model.coordinates == "canonical"
    if config.data == "stream":
        stream = StateStream(system)
        return CanonicalStream(stream) if canonical else stream
    if config.data == "trajectories":
        ts = jnp.linspace(0.0, config.t_end, config.samples)
        return generate_dataset(
            system,
            key,
            trajectories=config.trajectories,
            ts=ts,
            noise_std=config.noise_std,
            coordinates="canonical" if canonical else "velocity",
        )
    path = _data_file(config.data)
    assert path is not None
    if _inputs_file(path) is not None:
        return _input_data(config, system, model, path)
    data = Dataset.load(path)
    _check_dataset_file(config, system, model, data, path)
    return data


def _input_data(config: TrainConfig, system, model, path: Path) -> InputDataset:
    """Measured trajectories with inputs, checked against the run's system and model: the
    model learns the field under the recorded inputs (`lz.InputDataset`)."""
    data = InputDataset.load(path)
    if data.dof != system.dof:
        raise ValueError(
            f"the trajectories {str(path)!r} have dof={data.dof}, but the system "
            f"{config.system!r} has dof={system.dof}."
        )
    conflicts = _conflicts(
        {**config.to_dict(), "system_params": parameters_of(system)},
        _trajectory_settings(load_trajectories(path)),
    )
    if conflicts:
        raise ValueError(
            f"the trajectories {str(path)!r} were recorded with other settings than the "
            f"run's: {'; '.join(conflicts)}. Build the run's settings from the file with "
            "settings_from_dataset (the command line does), or use another file."
        )
    if model.coordinates != "velocity":
        raise ValueError(
            f"the model {config.model!r} learns from {model.coordinates} states, but the "
            f"trajectories {str(path)!r} hold positions and velocities under inputs; train a "
            "Lagrangian model (lnn, delan) or the baseline on them."
        )
    return data


# Held-out rows a run is scored on: a fixed sample of fresh states, or of trajectories.
_HELD_OUT_ROWS = 4096


def build_held_out_data(config: TrainConfig, system, model, key: PRNGKeyArray):
    """Data the run never trains on, to score it: fresh states of the stream, or new
    trajectories (a quarter as many, at least ten) from another key; `None` for a dataset
    file, whose held-out part is the user's to choose."""
    if config.data == "stream":
        return build_data(config, system, model, key)
    if config.data == "trajectories":
        held_out = dataclasses.replace(config, trajectories=max(10, config.trajectories // 4))
        return build_data(held_out, system, model, key)
    return None


def held_out_scores(model, held_out, loss: str) -> dict[str, float | None]:
    """The run's loss on held-out rows, beside the loss of predicting zero derivatives there
    (a model that learned nothing scores about 1 on their ratio)."""
    if held_out is None:
        return dict.fromkeys(
            ("held_out_loss", "zero_prediction_loss", "held_out_loss_relative_to_zero_prediction")
        )
    if isinstance(held_out, Dataset):
        y, target = held_out.states()
    else:
        y, target = held_out.sample(jax.random.key(0), _HELD_OUT_ROWS)
    prediction = held_out.predict(model, y)
    if loss == "l1":
        error, zero = jnp.mean(jnp.abs(prediction - target)), jnp.mean(jnp.abs(target))
    else:
        error, zero = jnp.mean((prediction - target) ** 2), jnp.mean(target**2)
    return {
        "held_out_loss": float(error),
        "zero_prediction_loss": float(zero),
        "held_out_loss_relative_to_zero_prediction": float(error / zero),
    }


def write_json(path: Path, payload: Any) -> None:
    """Writes `payload` as JSON atomically (non-finite floats become `null`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # allow_nan=False: NaN is not JSON, and other tools would refuse the file.
    text = json.dumps(_finite(payload), indent=2, default=_json_default, allow_nan=False)
    atomic_write(path, lambda file: file.write((text + "\n").encode()))


def _finite(value: Any) -> Any:
    """`None` in place of every non-finite float, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_default(value):
    if isinstance(value, (np.ndarray, jax.Array)):
        return _finite(np.asarray(value).tolist())
    if isinstance(value, (np.floating, np.integer)):
        return _finite(value.item())
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _history_dict(history) -> dict[str, Any]:
    if callable(getattr(history, "as_dict", None)):
        return history.as_dict()
    values = history if isinstance(history, dict) else dataclasses.asdict(history)
    return {str(k): np.asarray(v).tolist() for k, v in values.items()}


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(path)!r} ({what}) is not valid JSON: {error}.") from None


def stored_config(out: Path) -> dict[str, Any]:
    """The settings of the run in `out`, from its `config.json`."""
    path = Path(out) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run in {str(out)!r}: it has no config.json.")
    settings = _read_json(path, "the run's settings")
    if not isinstance(settings, dict):
        raise ValueError(f"{str(path)!r} does not hold a table of settings.")
    return settings


def _differences(stored: dict[str, Any], current: dict[str, Any]) -> str:
    keys = sorted(set(stored) | set(current))
    return ", ".join(
        f"{key}={current.get(key)!r} here vs {stored.get(key)!r} in the run"
        for key in keys
        if stored.get(key) != current.get(key)
    )


def resume_config(out: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The config of the run in `out`, refusing `overrides` that would change it.

    A resumed run continues the same computation (its learning-rate schedule, batches and
    checkpoints depend on every setting), so settings may be repeated but not changed.
    """
    stored = stored_config(out)
    config = TrainConfig.from_dict({**stored, **overrides})
    if config.to_dict() != TrainConfig.from_dict(stored).to_dict():
        raise ValueError(
            f"--resume continues the run in {str(out)!r} with its own settings, but "
            f"{_differences(stored, config.to_dict())}. To train with other settings, "
            "start a new run with another --out."
        )
    return config


def _finished_summary(config: TrainConfig, out: Path) -> dict[str, Any] | None:
    """The summary of a run in `out` that already trained all of `config.steps`."""
    summary_path = out / "summary.json"
    if not (summary_path.is_file() and (out / MODEL_FILE).is_file()):
        return None
    summary = _read_json(summary_path, "the run's summary")
    if isinstance(summary, dict) and summary.get("steps") == config.steps:
        return summary
    return None


def train_run(
    config: TrainConfig, out: Path, *, resume: bool = False, progress: bool = True, console=None
) -> dict[str, Any]:
    """Trains `config.model` on `config.system` and writes the run directory `out`.

    The run is built and trained in float64 when `config.float64` is set and in float32
    otherwise, whatever the session's `jax_enable_x64`, so that the model has the dtype
    `config.json` records.

    **Arguments:**

    - `config`: the run's settings.
    - `out`: the run directory; it must not hold another run unless `resume` is set.
    - `resume`: continue the run in `out` from its last checkpoint. Its settings must equal
        those in `out/config.json`. A run that already finished is left as it is.
    - `progress`: show a progress bar.
    - `console`: a `rich` console for messages (none by default).

    **Returns:** the run's summary (also written to `out/summary.json`); `"status"` is
    `"trained"`, `"resumed"` or `"complete"` (a finished run, nothing done).
    """
    out = Path(out)
    config_path = out / "config.json"
    if resume:
        stored = stored_config(out)
        if stored != config.to_dict():
            raise ValueError(
                f"--resume continues the run in {str(out)!r} with its own settings, but "
                f"{_differences(stored, config.to_dict())}. To train with other settings, "
                "start a new run with another --out."
            )
        finished = _finished_summary(config, out)
        if finished is not None:
            if console is not None:
                console.print(
                    f"the run in {str(out)!r} is already complete ({config.steps} steps): "
                    "nothing to do.",
                    soft_wrap=True,
                )
            return {**finished, "status": "complete"}
    elif (out / MODEL_FILE).exists() or (out / "checkpoints").exists():
        raise ValueError(
            f"the run directory {str(out)!r} already holds a run: pass --resume to continue it "
            "or choose another --out."
        )
    elif out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, not a run directory.")

    # The whole run, model, data and training, in the precision the config records.
    with jax.enable_x64(config.float64):
        return _train_in_precision(config, out, config_path, resume=resume, progress=progress)


def _train_in_precision(
    config: TrainConfig, out: Path, config_path: Path, *, resume: bool, progress: bool
) -> dict[str, Any]:
    """`train_run` after its checks of the run directory, in the precision in force."""
    # Everything that can refuse the settings runs before anything is written.
    system = build_system(config)
    model_key, data_key, train_key = jax.random.split(jax.random.key(config.seed), 3)
    recorded = _inputs_file(config.data)
    model = build_model(config, system, model_key, inputs=recorded.inputs if recorded else 0)
    data = build_data(config, system, model, data_key)
    held_out = build_held_out_data(config, system, model, jax.random.fold_in(data_key, 1))
    if isinstance(data, (Dataset, InputDataset)):
        # A dataset file keeps the dtype it was saved in; the run's is the config's.
        data = cast_floating(data, jnp.float64 if config.float64 else jnp.float32)

    out.mkdir(parents=True, exist_ok=True)
    write_json(config_path, config.to_dict())
    start = time.perf_counter()
    model, history = fit(
        model,
        data,
        steps=config.steps,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        gradient_clip=config.gradient_clip or None,
        loss=config.loss,
        key=train_key,
        checkpoint_dir=out / "checkpoints",
        checkpoint_every=config.checkpoint_every,
        resume=resume,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    final = out / "checkpoints" / MODEL_FILE
    if final.is_file():
        # One copy of the trained model, at the top of the run directory.
        os.replace(final, out / MODEL_FILE)
    else:
        save_model(out / MODEL_FILE, model)
    history = _history_dict(history)
    write_json(out / "history.json", history)
    losses = history.get("train_loss") or []
    scores = held_out_scores(model, held_out, config.loss)
    summary = {
        "system": config.system,
        "model": config.model,
        "steps": config.steps,
        "final_train_loss": losses[-1] if losses else None,
        **scores,
        "seconds": seconds,
        "run": str(out),
        "status": "resumed" if resume else "trained",
    }
    write_json(out / "summary.json", summary)
    return summary


def _load_run(run: Path):
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"no run directory at {str(run)!r}.")
    config_path = run / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{str(run)!r} is not a run directory (no config.json).")
    config = TrainConfig.from_dict(_read_json(config_path, "the run's settings"))
    if not (run / MODEL_FILE).is_file() and (run / "model.eqx").is_file():
        raise FileNotFoundError(
            f"the run in {str(run)!r} was written by an older lagrangian_zoo, which named the "
            f"trained model model.eqx: rename it {MODEL_FILE} (the format is the same)."
        )
    if not (run / MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"the run in {str(run)!r} has no trained model ({MODEL_FILE}): it has not finished; "
            "continue it with `train --resume`."
        )
    system = build_system(config)
    model = load_model(run / MODEL_FILE)
    return config, system, model


def _check_horizon(t_end: Any) -> float:
    return positive_number("", "t_end", t_end, expected_value="a positive number")


def energy_scale(system, true_ys) -> float:
    """The normaliser of the energy discrepancy: the maximum potential energy where the system
    defines one (the double pendulum's 3 m g l), else the mean absolute true energy."""
    scale = getattr(system, "max_potential_energy", None)
    if scale is not None:
        return float(scale)
    return float(jnp.maximum(jnp.mean(jnp.abs(energy_along(system.energy, true_ys))), 1e-12))


def evaluate_run(
    run: Path, *, trajectories: int = 16, t_end: float | None = None, seed: int = 123
) -> dict[str, Any]:
    """Rolls out a trained model from fresh initial states against the truth; writes metrics.

    **Arguments:**

    - `run`: a run directory written by `train_run`.
    - `trajectories`: the number of initial states.
    - `t_end`: the rollout horizon (the run's `t_end` by default), sampled 10 times per unit.
    - `seed`: the seed of the initial states.

    **Returns:** the evaluation (also written to `run/evaluation.json`), its `"metrics"` being
    the number of failed rollouts (non-finite, or an energy error above the scale: see
    `lagrangian_zoo.metrics.failed_rollouts`), and over the others the rollout MSE, energy MSE
    and energy discrepancy in percent; the valid prediction time is the mean over all rollouts,
    a failed one scoring the time it left the truth.
    """
    positive_int("", "trajectories", trajectories, expected="a positive integer")
    config, system, model = _load_run(run)
    t_end = _check_horizon(config.t_end if t_end is None else t_end)
    ts = jnp.linspace(0.0, t_end, max(int(t_end * 10), 2) + 1)
    keys = jax.random.split(jax.random.key(seed), trajectories)
    y0 = jax.vmap(system.sample_initial_state)(keys)
    true_ys = rollout(system, y0, ts, solver="dopri8", rtol=1e-10, atol=1e-10)
    # Without checks, a rollout that fails (an under-trained model) comes back non-finite
    # instead of stopping the evaluation: it is counted and the others are scored.
    predicted = rollout(
        model, y0, ts, rtol=1e-7, atol=1e-9, checks=False, lagrangian=system.lagrangian
    )
    scale = energy_scale(system, true_ys)
    periodic = tuple(system.periodic)
    scores = metrics.score_rollouts(
        true_ys, predicted, energy=system.energy, scale=scale, periodic=periodic
    )
    values = {
        "failed_rollouts": int(scores.failed),
        "rollout_mse": float(scores.rollout_mse),
        "energy_mse": float(scores.energy_mse),
        "energy_discrepancy_percent": 100 * float(scores.energy_discrepancy),
        "valid_prediction_time": float(
            jnp.mean(metrics.valid_prediction_time(ts, true_ys, predicted, periodic=periodic))
        ),
    }
    result = {
        "run": str(run),
        "system": config.system,
        "model": config.model,
        "trajectories": trajectories,
        "t_end": t_end,
        "seed": seed,
        "metrics": values,
    }
    write_json(Path(run) / "evaluation.json", result)
    return result


def _planar_positions(ys: np.ndarray, dof: int) -> np.ndarray:
    """The positions of `ys[..., 2n]` as planar points `(x1, y1, x2, y2, ...)`.

    Coordinates are paired into points; an odd one out (a spring, a ball falling in one
    dimension) moves along the horizontal axis.
    """
    q = ys[..., :dof]
    if dof % 2:
        q = np.concatenate([q, np.zeros_like(q[..., :1])], axis=-1)
    return q


def animate_run(run: Path, *, out: Path | None = None, t_end: float = 10.0, seed: int = 7) -> Path:
    """A GIF of the true and the learned motion from one initial state.

    Pendulums (every coordinate an angle) are drawn as swinging chains; other systems as
    points in the plane, their coordinates taken in pairs.

    **Returns:** the path of the GIF (`run/animation.gif` by default).
    """
    t_end = _check_horizon(t_end)
    config, system, model = _load_run(run)
    out = Path(run) / "animation.gif" if out is None else Path(out)
    if out.suffix.lower() != ".gif":
        raise ValueError(f"--out must name a .gif file, got {str(out)!r}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    ts = jnp.linspace(0.0, t_end, int(t_end * 15) + 1)
    y0 = system.sample_initial_state(jax.random.key(seed))
    true_ys = rollout(system, y0, ts, solver="dopri8", rtol=1e-10, atol=1e-10)
    predicted = rollout(model, y0, ts, rtol=1e-7, atol=1e-9, lagrangian=system.lagrangian)
    series = {"true": np.asarray(true_ys), config.model: np.asarray(predicted)}
    if all(system.periodic):
        lengths = getattr(system, "lengths", None)
        if lengths is None:
            lengths = (getattr(system, "length", 1.0),) * system.dof
        # Parameters are arrays (0-d or one per link); the plot takes plain numbers.
        lengths = tuple(float(length) for length in np.ravel(np.asarray(lengths)))
        plots.animate_pendulum(series, lengths=lengths, ts=np.asarray(ts), path=out)
    else:
        planar = {k: _planar_positions(v, system.dof) for k, v in series.items()}
        bodies = planar["true"].shape[-1] // 2
        plots.animate_orbits(planar, bodies=bodies, ts=np.asarray(ts), path=out)
    return out
