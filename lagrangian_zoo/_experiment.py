"""Runs on disk: train a named model on a named system, evaluate it, animate it.

The command line calls these; they are plain functions so scripts can call them too. A run
directory holds `config.json`, `model.eqx`, `history.json`, `summary.json`, `checkpoints/` and,
after `evaluate_run`, `evaluation.json`.
"""

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from . import metrics, plots, systems
from ._checkpoint import load_model, save_model
from ._data import Dataset, generate_dataset, StateStream
from ._mechanics import energy_along, momenta, split_state, velocities
from ._rollout import rollout
from ._training import fit
from .models import get as get_model, names as model_names


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; stored as `config.json` in the run directory.

    `data` is `"stream"` (fresh random states with exact derivatives for every batch, the LNN
    paper's setting; needs a system that can sample states), `"trajectories"` (a fixed dataset of
    trajectories, the HNN paper's setting) or the path of a dataset saved with `Dataset.save`.
    """

    system: str = "double_pendulum"
    model: str = "lnn"
    steps: int = 2000
    seed: int = 0
    batch_size: int = 256
    learning_rate: float = 1e-3
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
        systems.system_class(self.system)
        if self.model not in model_names():
            raise ValueError(
                f"unknown model {self.model!r}; known models: {', '.join(model_names())}."
            )
        for name in ("steps", "batch_size", "trajectories", "samples", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
        for name in ("learning_rate", "t_end"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
        if self.noise_std < 0:
            raise ValueError(f"`noise_std` must be >= 0, got {self.noise_std!r}.")

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> "TrainConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(
                f"unknown setting(s) {', '.join(map(repr, unknown))}; known settings: "
                f"{', '.join(sorted(known))}."
            )
        return cls(**settings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class CanonicalStream(eqx.Module):
    """Random states of a system in canonical coordinates `[q, p]` with `[q_t, p_t]`.

    An HNN's symplectic gradient is only right in canonical coordinates; this converts a
    stream of `[q, q_t]` states with the system's own Legendre map `p = dL/dq_t`, and
    `p_t = dL/dq` (the Euler-Lagrange equation).
    """

    stream: StateStream

    def sample(self, key: PRNGKeyArray, batch_size: int):
        y, dy = self.stream.sample(key, batch_size)
        return jax.vmap(lambda a, b: to_canonical(self.stream.system, a, b))(y, dy)


def to_canonical(system, y: Float[Array, " state"], dy: Float[Array, " state"]):
    """`[q, q_t], [q_t, q_tt]` -> `[q, p], [q_t, p_t]` by the system's Legendre map."""
    q, q_t = split_state(y)
    p = momenta(system.lagrangian)(q, q_t)
    p_t = jax.grad(system.lagrangian, argnums=0)(q, q_t)
    return jnp.concatenate([q, p]), jnp.concatenate([q_t, p_t])


def uses_canonical(model_name: str) -> bool:
    return model_name == "hnn"


def build_data(config: TrainConfig, system, key: PRNGKeyArray):
    """The training data a config asks for (a Dataset or a stream)."""
    canonical = uses_canonical(config.model)
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
    path = Path(config.data)
    if not path.exists():
        raise FileNotFoundError(
            f"`data` must be 'stream', 'trajectories' or an existing dataset file; "
            f"{config.data!r} does not exist."
        )
    return Dataset.load(path)


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, (np.ndarray, jax.Array)):
        return np.asarray(value).tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _history_dict(history) -> dict[str, list]:
    if dataclasses.is_dataclass(history):
        history = dataclasses.asdict(history)
    return {k: np.asarray(v).tolist() for k, v in dict(history).items()}


def train_run(
    config: TrainConfig, out: Path, *, resume: bool = False, progress: bool = True, console=None
) -> dict[str, Any]:
    """Trains `config.model` on `config.system` and writes the run directory `out`."""
    out = Path(out)
    config_path = out / "config.json"
    if resume:
        if not config_path.exists():
            raise FileNotFoundError(
                f"--resume: no run to resume in {str(out)!r} (no config.json there)."
            )
        stored = json.loads(config_path.read_text())
        if stored != json.loads(json.dumps(config.to_dict(), default=_json_default)):
            raise ValueError(
                f"--resume: the settings differ from the run in {str(out)!r}; resume with the "
                "same settings (or none: they are read from its config.json)."
            )
    elif (out / "model.eqx").exists() or (out / "checkpoints").exists():
        raise ValueError(
            f"the run directory {str(out)!r} already holds a run: pass --resume to continue it "
            "or choose another --out."
        )
    out.mkdir(parents=True, exist_ok=True)
    _write_json(config_path, config.to_dict())

    system = systems.get(config.system, **config.system_params)
    model_key, data_key, train_key = jax.random.split(jax.random.key(config.seed), 3)
    kwargs = dict(config.model_kwargs)
    kwargs.setdefault("periodic", tuple(system.periodic))
    model = get_model(config.model, system.dof, key=model_key, **kwargs)
    data = build_data(config, system, data_key)

    start = time.perf_counter()
    model, history = fit(
        model,
        data,
        steps=config.steps,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        loss=config.loss,
        key=train_key,
        checkpoint_dir=out / "checkpoints",
        checkpoint_every=config.checkpoint_every,
        resume=resume,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    save_model(out / "model.eqx", model)
    history = _history_dict(history)
    _write_json(out / "history.json", history)
    summary = {
        "system": config.system,
        "model": config.model,
        "steps": config.steps,
        "final_train_loss": history["train_loss"][-1] if history.get("train_loss") else None,
        "seconds": seconds,
        "run": str(out),
    }
    _write_json(out / "summary.json", summary)
    return summary


def _load_run(run: Path):
    run = Path(run)
    config_path = run / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{str(run)!r} is not a run directory (no config.json).")
    config = TrainConfig.from_dict(json.loads(config_path.read_text()))
    system = systems.get(config.system, **config.system_params)
    model = load_model(run / "model.eqx")
    return config, system, model


def model_rollout(model, model_name: str, system, y0, ts, **kwargs) -> Float[Array, "*batch times state"]:
    """Rolls a model out from velocity states `y0`, converting through `[q, p]` for an HNN."""
    if not uses_canonical(model_name):
        return rollout(model, y0, ts, **kwargs)
    to_momenta = jax.vmap(lambda y: jnp.concatenate([split_state(y)[0], momenta(system.lagrangian)(*split_state(y))]))
    to_velocities = jax.vmap(
        lambda y: jnp.concatenate([split_state(y)[0], velocities(system.lagrangian)(*split_state(y))])
    )
    flat = y0.reshape(-1, y0.shape[-1])
    ys = rollout(model, to_momenta(flat), ts, **kwargs)
    ys = to_velocities(ys.reshape(-1, ys.shape[-1])).reshape(ys.shape)
    return ys.reshape(*y0.shape[:-1], *ys.shape[-2:])


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
    """Rolls out a trained model from fresh initial states against the truth; writes metrics."""
    config, system, model = _load_run(run)
    t_end = config.t_end if t_end is None else t_end
    ts = jnp.linspace(0.0, t_end, max(int(t_end * 10), 2) + 1)
    keys = jax.random.split(jax.random.key(seed), trajectories)
    y0 = jax.vmap(system.sample_initial_state)(keys)
    true_ys = rollout(system, y0, ts, solver="dopri8", rtol=1e-10, atol=1e-10)
    predicted = model_rollout(model, config.model, system, y0, ts, rtol=1e-7, atol=1e-9)
    scale = energy_scale(system, true_ys)
    values = {
        "rollout_mse": float(metrics.rollout_mse(predicted, true_ys)),
        "energy_mse": float(metrics.energy_mse(system.energy, true_ys, predicted)),
        "energy_discrepancy_percent": 100
        * float(metrics.energy_discrepancy(system.energy, true_ys, predicted, scale=scale)),
        "valid_prediction_time": float(
            jnp.mean(metrics.valid_prediction_time(ts, true_ys, predicted))
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
    _write_json(Path(run) / "evaluation.json", result)
    return result


def animate_run(run: Path, *, out: Path | None = None, t_end: float = 10.0, seed: int = 7) -> Path:
    """A GIF of the true and the learned motion from one initial state."""
    config, system, model = _load_run(run)
    out = Path(run) / "animation.gif" if out is None else Path(out)
    ts = jnp.linspace(0.0, t_end, int(t_end * 15) + 1)
    y0 = system.sample_initial_state(jax.random.key(seed))
    true_ys = rollout(system, y0, ts, solver="dopri8", rtol=1e-10, atol=1e-10)
    predicted = model_rollout(model, config.model, system, y0, ts, rtol=1e-7, atol=1e-9)
    series = {"true": np.asarray(true_ys), config.model: np.asarray(predicted)}
    if all(system.periodic):
        lengths = getattr(system, "lengths", None)
        if lengths is None:
            lengths = (getattr(system, "length", 1.0),) * system.dof
        plots.animate_pendulum(series, lengths=tuple(lengths), path=out)
    else:
        bodies = system.dof // 2
        plots.animate_orbits(series, bodies=bodies, path=out)
    return out
