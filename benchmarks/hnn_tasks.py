"""The Hamiltonian Neural Networks paper's tasks, rerun and compared with published numbers.

Tasks (generated as Greydanus et al. 2019 describe them; see the `TASKS` settings below):
`spring`, `pendulum` (50 noisy trajectories, first half train, second half test),
`real_pendulum` (the measured Schmidt & Lipson pendulum, the last 20% of the record is the test
set), `two_body` and `three_body` (1000 orbits, 20% of them test).

Models: the paper's `baseline` (an MLP for dy/dt) and `hnn` on canonical states (q, p), and,
on velocity states (q, q_t) of the same data (q_t = p / m, the noise converted with it),
`baseline_acceleration` (a second-order neural ODE: the MLP predicts only q_tt), `lnn`,
`delan`, and on the damped real pendulum `lnn_dissipative` and `delan_dissipative`.

Recipes:

- `paper`: the HNN repository's training scripts: two hidden layers of 200 (tanh for the
  baseline and the HNN, softplus for the Lagrangian models, which need curvature), orthogonal
  weights and no output bias (baseline, HNN), Adam with a constant learning rate 1e-3 and
  torch-style weight decay 1e-4 (added to the gradient), the paper's steps and batch, no input
  normalisation, float32.
- `ours`: the two changes the spring investigation (`--investigate`, written to
  `hnn_spring_investigation.json`) found to lower the energy MSE most, a cosine decay of the
  learning rate and training states denoised with the exact derivatives; see `OURS` below.

Metrics, all on the fixed test set of each task (the seeds change only the initialisation and
the minibatches):

- `test_loss`: the MSE of the predicted time derivatives (q_t, p_t) on the noisy test states,
  in canonical coordinates for every model (a velocity model's q_tt is converted to p_t = m q_tt);
- `energy_mse`: `lz.metrics.energy_mse_test_trajectories`, RK4 from the first CLEAN state of
  every test trajectory over its times, true energy along truth and prediction (the paper's);
- `energy_mse_long`: `lz.metrics.energy_mse_long_horizon`, 15 starts over t in [0, 20] at 100
  points, Dopri8 at rtol 1e-12 (float64) or 10 eps (float32); the spring starts are the
  notebook's (|q|, |p| in (0.2, 1)), the other simulated tasks draw from their own initial
  distribution; no time stretch; none on the real pendulum, which has no true dynamics;
- `valid_prediction_time`: `lz.metrics.valid_prediction_time` (threshold 0.4, rms scale) of an
  RK4 rollout over the same long horizon (on the real pendulum: over its test segment);
- `failures`: failed rollouts (over seeds and all three rollout metrics) and failed
  trainings. A rollout failed when it is non-finite or, for the energy metrics, when the root
  mean square of its energy error exceeds the task's `energy_scale` (the root mean square true
  energy along the clean test trajectories): it left the physical range. The means average
  the other rollouts only, so a row with failures says so. Rows scored before that rule
  (runs without `energy_failure_rule`) whose mean exceeds the squared scale are marked
  `energy_mse_diverged`: they hold at least one such rollout, and their mean is no score.

Full runs write `hnn_tasks.json` after every (task, model, recipe, seed), marked
`"partial": true` until the last one; `--resume` continues from it.
"""

import argparse
import dataclasses
import json
import math
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax


jax.config.update("jax_enable_x64", True)

import lagrangian_zoo as lz  # noqa: E402
from lagrangian_zoo._experiment import cast_floating  # noqa: E402

from _common import output_dir, parse_args, write_results  # noqa: E402


lz.enable_compilation_cache()

NAME = "hnn_tasks"
INVESTIGATION = "hnn_spring_investigation"

# Published numbers (PAPERS.md): the HNN README's table, and the spring notebook's long horizon.
PUBLISHED = {
    ("spring", "baseline"): {"test_loss": 0.07585, "energy_mse": 3.1165e-02},
    ("spring", "hnn"): {"test_loss": 0.07574, "energy_mse": 2.5662e-05},
    ("pendulum", "baseline"): {"test_loss": 7.2438e-02, "energy_mse": 3.4347e-03},
    ("pendulum", "hnn"): {"test_loss": 7.2059e-02, "energy_mse": 2.8672e-05},
    ("real_pendulum", "baseline"): {"test_loss": 0.32514, "energy_mse": 3.7138e-01},
    ("real_pendulum", "hnn"): {"test_loss": 0.3240, "energy_mse": 1.1031e-02},
    ("two_body", "baseline"): {"test_loss": 2.9605e-05, "energy_mse": 5.954e-02},
    ("two_body", "hnn"): {"test_loss": 2.8218e-06, "energy_mse": 3.738e-05},
}
PUBLISHED_LONG = {("spring", "baseline"): 1.7077e-01, ("spring", "hnn"): 3.8416e-04}

# name -> (model class name, keyword arguments, coordinates)
MODELS: dict[str, tuple[str, dict[str, Any], str]] = {
    "baseline": ("baseline", {"activation": "tanh"}, "canonical"),
    "hnn": ("hnn", {"activation": "tanh"}, "canonical"),
    "baseline_acceleration": (
        "baseline",
        {"activation": "tanh", "predict": "acceleration"},
        "velocity",
    ),
    # Without the runtime checks a singular learned mass matrix gives non-finite values, which
    # count as failures, instead of stopping the benchmark.
    "lnn": ("lnn", {"activation": "softplus", "depth": 2, "checks": False}, "velocity"),
    "delan": ("delan", {"activation": "softplus"}, "velocity"),
    "lnn_dissipative": (
        "lnn",
        {"activation": "softplus", "depth": 2, "dissipation": True, "checks": False},
        "velocity",
    ),
    "delan_dissipative": ("delan", {"activation": "softplus", "dissipation": True}, "velocity"),
}
CONSERVATIVE = ("baseline", "hnn", "baseline_acceleration", "lnn", "delan")
STAGES = (
    ("baseline", "hnn"),
    ("baseline_acceleration",),
    ("delan", "delan_dissipative"),
    ("lnn", "lnn_dissipative"),
)

TASKS: dict[str, dict[str, Any]] = {
    "spring": {
        "system": "spring",
        "trajectories": 50,
        "t_end": 3.0,
        "samples_per_unit_time": 10,
        "noise_std": 0.1,
        "test": "second half",
        "steps": 2000,
        "batch_size": None,
        "models": CONSERVATIVE,
    },
    "pendulum": {
        "system": "pendulum",
        "trajectories": 50,
        "t_end": 3.0,
        "samples_per_unit_time": 15,
        "noise_std": 0.1,
        "test": "second half",
        "steps": 2000,
        "batch_size": None,
        "models": CONSERVATIVE,
    },
    "real_pendulum": {
        "system": None,
        "test": "last 20% in time",
        "steps": 2000,
        "batch_size": None,
        "models": CONSERVATIVE + ("lnn_dissipative", "delan_dissipative"),
    },
    "two_body": {
        "system": "two_body",
        "trajectories": 1000,
        "t_end": 20.0,
        "samples": 50,
        "noise_std": 0.0,
        "test": "20% of the orbits",
        "steps": 10000,
        "batch_size": 200,
        "models": CONSERVATIVE,
    },
    "three_body": {
        "system": "three_body",
        "trajectories": 1000,
        "t_end": 20.0,
        "samples": 50,
        "noise_std": 0.0,
        "test": "20% of the orbits",
        "steps": 10000,
        "batch_size": 600,
        "models": CONSERVATIVE,
    },
}

PAPER = {
    "width": 200,
    "depth": 2,
    "learning_rate": 1e-3,
    "schedule": "constant",
    "weight_decay": 1e-4,
    "init": "orthogonal weights, no output bias (baseline, HNN); the model's own otherwise",
    "adapt": False,
    "dtype": "float32",
}
# `ours`: the two changes the investigation found to move the energy MSE (see
# `hnn_spring_investigation.md` and the pendulum notes in `hnn_tasks.md`):
# - `schedule="cosine"`: Adam's learning rate decayed to zero over the run. At a constant 1e-3
#   Adam keeps moving the parameters at the end of training, and the HNN keeps fitting the
#   noise of the 750 training states: the learned level sets of H wobble off the true circles.
#   Annealing halves the spring energy MSE, the test loss staying at the noise floor.
# - `denoise=True`: the paper's data add noise to the states only, with exact derivatives, so
#   each training trajectory is rebuilt as the integral of its derivatives plus one constant
#   fitted to the noisy samples (`denoised_states`); the states' noise drops by the square
#   root of the samples per trajectory. Applied to the spring and the pendulum (the tasks with
#   noise); the test set is not touched.
# - `mass_prior=True` (the LNN only): a free particle's kinetic energy with learned masses added
#   to the network's Lagrangian (`lz.models.LNN(mass_prior=True)`), so that its mass matrix
#   starts positive definite; see `lnn_double_pendulum.py`.
# - `lnn_init="default"` (the LNN only): Equinox's default initialisation instead of the LNN
#   paper's. The paper's scales (output weights of standard deviation sqrt(width)) make the
#   network's own mass matrix large and indefinite, and the prior cannot steady it: with them
#   the LNN stays far above the noise floor after 2000 steps (spring test loss 0.59, pendulum
#   11.5, rollouts diverging); with the default scales it reaches the floor (0.041, 0.037).
#   Measured on seed 0 of both tasks with this recipe; on the pendulum the prior is needed
#   too (without it, test loss 4.6).
# Everything else is the paper's recipe.
OURS = {
    **PAPER,
    "schedule": "cosine",
    "denoise": True,
    "mass_prior": True,
    "lnn_init": "default",
}

QUICK = {"tasks": ("spring", "pendulum"), "models": ("baseline", "hnn"), "seeds": 1}
QUICK_STEPS = 400
FULL_SEEDS = 3
REAL_PENDULUM_ENERGY = "H = 2.4 (1 - cos q) + p^2 (the paper's fit), with p the measured q_t"


# Data ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Task:
    """A task's data in canonical coordinates (q, p), with what converts them to (q, q_t)."""

    name: str
    mass: np.ndarray  # p = mass * q_t, per coordinate
    periodic: tuple[bool, ...]
    energy: Callable  # true energy of canonical (q, p)
    train_ts: np.ndarray
    train_y: np.ndarray  # (B, T, 2n), noisy
    train_dy: np.ndarray  # exact derivatives at the clean states
    test_ts: np.ndarray
    test_y: np.ndarray  # noisy
    test_dy: np.ndarray
    test_clean: np.ndarray  # the true test trajectories (measured ones on the real pendulum)
    system: Any  # the analytic system in velocity coordinates, or None
    long_starts: np.ndarray | None  # canonical initial states of the long-horizon protocol
    noise_floor: float | None  # test loss of the exact field at the noisy test states
    steps: int
    batch_size: int | None

    @property
    def exact_derivatives(self) -> bool:
        """Noisy states with exact derivatives (the simulated noisy tasks), so denoisable."""
        return self.system is not None and bool(self.noise_floor)

    @property
    def dof(self) -> int:
        return self.train_y.shape[-1] // 2


def _canonical_field(system, mass):
    """The system's vector field on canonical states (q, p), p = mass * q_t."""

    def field(t, y, args):
        n = y.shape[-1] // 2
        q, p = y[:n], y[n:]
        q_t = p / mass
        return jnp.concatenate([q_t, mass * system.acceleration(q, q_t)])

    return field


def to_coordinates(y, mass, coordinates):
    """Canonical states (q, p) as the model reads them: unchanged, or (q, q_t = p / mass)."""
    if coordinates == "canonical":
        return y
    n = y.shape[-1] // 2
    return jnp.concatenate([y[..., :n], y[..., n:] / mass], axis=-1)


def to_canonical(y, mass, coordinates):
    if coordinates == "canonical":
        return y
    n = y.shape[-1] // 2
    return jnp.concatenate([y[..., :n], y[..., n:] * mass], axis=-1)


def derivative_to_canonical(dy, mass, coordinates):
    """(q_t, q_tt) -> (q_t, p_t = mass * q_tt); canonical derivatives unchanged."""
    return to_canonical(dy, mass, coordinates)


def make_task(name: str, steps: int | None = None) -> Task:
    settings = TASKS[name]
    steps = settings["steps"] if steps is None else steps
    if name == "real_pendulum":
        train, test = lz.real_pendulum_dataset(test_fraction=0.2)

        def energy(q, p):
            return 2.4 * (1 - jnp.cos(q[0])) + p[0] ** 2

        test_y = np.asarray(test.y)
        return Task(
            name=name,
            mass=np.ones(1),
            periodic=(True,),
            energy=energy,
            train_ts=np.asarray(train.ts),
            train_y=np.asarray(train.y),
            train_dy=np.asarray(train.dy),
            test_ts=np.asarray(test.ts),
            test_y=test_y,
            test_dy=np.asarray(test.dy),
            test_clean=test_y,
            system=None,
            long_starts=None,
            noise_floor=None,
            steps=steps,
            batch_size=settings["batch_size"],
        )
    system = lz.systems.get(settings["system"])
    if name in ("spring", "pendulum"):
        count = round(settings["samples_per_unit_time"] * settings["t_end"])
    else:
        count = settings["samples"]
    ts = np.linspace(0.0, settings["t_end"], count)
    data_key, noise_key, long_key = jax.random.split(jax.random.key(0), 3)
    clean = lz.generate_dataset(
        system, data_key, trajectories=settings["trajectories"], ts=ts, coordinates="canonical"
    )
    y_clean, dy = np.asarray(clean.y), np.asarray(clean.dy)
    noise = settings["noise_std"] * np.asarray(jax.random.normal(noise_key, y_clean.shape))
    y = y_clean + noise
    split = settings["trajectories"] // 2 if settings["test"] == "second half" else 800
    n = system.dof
    mass = np.broadcast_to(np.asarray(getattr(system, "mass", 1.0), float), (n,)).copy()
    if name == "pendulum":
        mass = np.full(n, float(system.mass * system.length**2))

    def energy(q, p):
        return system.energy(q, p / mass)

    if name == "spring":
        long_starts = np.asarray(lz.metrics.long_horizon_initial_states(long_key, starts=15))
    else:
        starts = jax.vmap(system.sample_initial_state)(jax.random.split(long_key, 15))
        long_starts = np.asarray(to_canonical(starts, mass, "velocity"))
    field = _canonical_field(system, mass)
    test_y = y[split:]
    exact = jax.vmap(jax.vmap(lambda s: field(0.0, s, None)))(jnp.asarray(test_y))
    # Without noise the floor is zero (not the rounding of an exact field).
    floor = float(lz.metrics.derivative_mse(exact, dy[split:])) if settings["noise_std"] else 0.0
    return Task(
        name=name,
        mass=mass,
        periodic=system.periodic,
        energy=energy,
        train_ts=ts,
        train_y=y[:split],
        train_dy=dy[:split],
        test_ts=ts,
        test_y=test_y,
        test_dy=dy[split:],
        test_clean=y_clean[split:],
        system=system,
        long_starts=long_starts,
        noise_floor=floor,
        steps=steps,
        batch_size=settings["batch_size"],
    )


# Models and training ------------------------------------------------------------------------


def _orthogonal_without_output_bias(mlp: lz.models.MLP, key) -> lz.models.MLP:
    """The HNN repository's MLP: orthogonal weights, default biases, no bias at the output."""
    keys = jax.random.split(key, len(mlp.layers))
    orthogonal = jax.nn.initializers.orthogonal()
    layers = []
    for i, (layer, layer_key) in enumerate(zip(mlp.layers, keys)):
        weight = orthogonal(layer_key, layer.weight.shape, layer.weight.dtype)
        if i == len(mlp.layers) - 1:
            out = "scalar" if layer.out_features == "scalar" else layer.out_features
            layer = eqx.nn.Linear(layer.in_features, out, use_bias=False, key=layer_key)
        layers.append(eqx.tree_at(lambda lin: lin.weight, layer, weight))
    return eqx.tree_at(lambda m: m.layers, mlp, tuple(layers))


def build_model(model_name: str, task: Task, recipe: dict[str, Any], key):
    kind, kwargs, coordinates = MODELS[model_name]
    init_key, model_key = jax.random.split(key)
    kwargs = dict(kwargs, width=recipe["width"], depth=recipe["depth"])
    if recipe.get("periodic"):
        kwargs["periodic"] = task.periodic
    if kind == "lnn" and recipe.get("mass_prior"):
        kwargs["mass_prior"] = True
    if kind == "lnn" and recipe.get("lnn_init"):
        kwargs["init"] = recipe["lnn_init"]
    model = lz.models.get(kind, task.dof, key=model_key, **kwargs)
    if kind in ("baseline", "hnn") and recipe["init"].startswith("orthogonal"):
        model = eqx.tree_at(
            lambda m: m.network, model, _orthogonal_without_output_bias(model.network, init_key)
        )
    return cast_floating(model, jnp.dtype(recipe["dtype"])), coordinates


_OPTIMIZERS: dict[tuple, optax.GradientTransformation] = {}


def optimizer(recipe: dict[str, Any], steps: int) -> optax.GradientTransformation:
    """One optimizer object per setting, so that `fit` reuses its compiled loop."""
    key = (recipe["learning_rate"], recipe["schedule"], recipe["weight_decay"], steps)
    if key not in _OPTIMIZERS:
        if recipe["schedule"] == "constant":
            rate = recipe["learning_rate"]
        else:
            rate = optax.cosine_decay_schedule(recipe["learning_rate"], steps)
        adam = optax.adam(rate)
        if recipe["weight_decay"]:
            adam = optax.chain(optax.add_decayed_weights(recipe["weight_decay"]), adam)
        _OPTIMIZERS[key] = adam
    return _OPTIMIZERS[key]


def _dataset(ts, y, dy, dtype):
    return lz.Dataset(
        jnp.asarray(ts, dtype), jnp.asarray(y, dtype), jnp.asarray(dy, dtype), {"benchmark": NAME}
    )


def denoised_states(ts: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Noisy states of each trajectory rebuilt from its exact derivatives.

    The paper's data add noise to the states only; the derivatives are exact. Along one
    trajectory the states are then the integral of the derivatives (trapezoid rule over the
    sample times) plus one constant per trajectory, fitted to the noisy samples by least
    squares (their mean offset): the noise of that constant is the states' noise over the
    square root of the number of samples.
    """
    steps = np.diff(ts)[None, :, None]
    increments = 0.5 * steps * (dy[:, 1:] + dy[:, :-1])
    integral = np.concatenate([np.zeros_like(y[:, :1]), np.cumsum(increments, axis=1)], axis=1)
    offset = np.mean(y - integral, axis=1, keepdims=True)
    return integral + offset


def _finite_mean(values, bound: float = math.inf) -> tuple[float, int]:
    """The mean of the values at or below `bound`, and how many others (non-finite or above
    the bound: failed rollouts, counted and never averaged in)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    kept = values <= bound  # False for nan
    mean = float(np.mean(values[kept])) if kept.any() else math.nan
    return mean, int(np.sum(~kept))


def energy_scale(task: Task) -> float:
    """The task's energy scale: the root mean square true energy along its clean test
    trajectories. A rollout whose energy error has a larger root mean square has left the
    physical range: a failed rollout (its energy MSE is above this squared)."""
    q, p = np.split(np.asarray(task.test_clean, np.float64), 2, axis=-1)
    with jax.enable_x64(True):
        energies = jax.vmap(task.energy)(jnp.asarray(q.reshape(-1, task.dof)),
                                         jnp.asarray(p.reshape(-1, task.dof)))  # fmt: skip
    return float(np.sqrt(np.mean(np.asarray(energies) ** 2)))


def run_one(task: Task, model_name: str, recipe: dict[str, Any], seed: int) -> dict[str, Any]:
    """Trains one model with one seed and measures it; a failed training is a result too."""
    dtype = jnp.dtype(recipe["dtype"])
    # A stable digest (Python's `hash` of a string changes from one process to the next).
    digest = zlib.crc32(f"{task.name}/{model_name}".encode()) % 2**31
    key = jax.random.fold_in(jax.random.key(seed), digest)
    build_key, fit_key = jax.random.split(key)
    model, coordinates = build_model(model_name, task, recipe, build_key)
    mass = jnp.asarray(task.mass, dtype)

    def convert(y):
        return to_coordinates(jnp.asarray(y, dtype), mass, coordinates)

    train_y = task.train_y
    if recipe.get("denoise") and task.exact_derivatives:
        train_y = denoised_states(task.train_ts, task.train_y, task.train_dy)
    # Derivatives convert as states do: (q_t, p_t) -> (q_t, q_tt = p_t / mass).
    train = _dataset(task.train_ts, convert(train_y), convert(task.train_dy), dtype)
    result: dict[str, Any] = {"task": task.name, "model": model_name, "seed": seed}
    start = time.perf_counter()
    try:
        model, _ = lz.fit(
            model,
            train,
            steps=task.steps,
            key=fit_key,
            batch_size=task.batch_size,
            optimizer=optimizer(recipe, task.steps),
            adapt=recipe["adapt"],
            progress=False,
            log_every=min(500, task.steps),
        )
    except FloatingPointError as error:
        result.update(
            seconds=time.perf_counter() - start,
            training_failed=True,
            error=str(error)[:200],
            test_loss=math.nan,
            energy_mse=math.nan,
            energy_mse_long=math.nan,
            valid_prediction_time=math.nan,
            failures=1,
        )
        return result
    seconds = time.perf_counter() - start

    # Test loss, in canonical derivatives for every model.
    test_y = convert(task.test_y).reshape(-1, 2 * task.dof)
    predicted = jax.vmap(lambda y: model(0.0, y, None))(test_y)
    predicted = derivative_to_canonical(predicted, mass, coordinates)
    test_loss = float(
        lz.metrics.derivative_mse(
            predicted, jnp.asarray(task.test_dy, dtype).reshape(-1, 2 * task.dof)
        )
    )

    def energy(q, v):
        p = v if coordinates == "canonical" else v * mass
        return task.energy(q, p)

    clean = convert(task.test_clean)
    per_trajectory = lz.metrics.energy_mse_test_trajectories(
        model, energy, jnp.asarray(task.test_ts, dtype), clean, reduction="none"
    )
    bound = energy_scale(task) ** 2
    energy_mse, failures = _finite_mean(per_trajectory, bound)

    figure_rollout = None
    if task.system is not None:
        true_field = (
            task.system if coordinates == "velocity" else _canonical_field(task.system, mass)
        )
        starts = convert(task.long_starts)
        long = lz.metrics.energy_mse_long_horizon(
            model, true_field, energy, starts, reduction="none"
        )
        energy_mse_long, long_failures = _finite_mean(long, bound)
        failures += long_failures
        ts_long = jnp.linspace(0.0, 20.0, 100, dtype=dtype)
        truth = lz.rollout(
            true_field, starts, ts_long, solver="dopri8", rtol=1e-10, atol=1e-10, checks=False
        )
        guess = lz.rollout(model, starts, ts_long, solver="rk4", checks=False)
        vpt_ts, vpt_true, vpt_guess = ts_long, truth, guess
    else:
        energy_mse_long = math.nan
        vpt_ts = jnp.asarray(task.test_ts, dtype)
        vpt_true = clean
        vpt_guess = lz.rollout(model, clean[:, 0], vpt_ts, solver="rk4", checks=False)
    vpt = lz.metrics.valid_prediction_time(
        vpt_ts,
        to_canonical(vpt_true, mass, coordinates),
        to_canonical(vpt_guess, mass, coordinates),
    )
    # A non-finite rollout counts as exceeding the threshold at once (no nan here).
    vpt_mean, _ = _finite_mean(vpt - vpt_ts[0])
    failures += int(np.sum(~np.isfinite(np.asarray(vpt_guess)).all(axis=(-1, -2))))
    if seed == 0:
        # The first test trajectory, for the figures (canonical coordinates).
        first = clean[:1]
        rolled = lz.rollout(
            model, first[:, 0], jnp.asarray(task.test_ts, dtype), solver="rk4", checks=False
        )
        figure_rollout = np.asarray(
            to_canonical(rolled[0], mass, coordinates), np.float64
        ).tolist()
    result.update(
        # Failures of the energy metrics include finite rollouts beyond the energy scale.
        energy_failure_rule=True,
        seconds=seconds,
        training_failed=False,
        test_loss=test_loss,
        energy_mse=energy_mse,
        energy_mse_long=energy_mse_long,
        valid_prediction_time=vpt_mean,
        failures=failures,
        figure_rollout=figure_rollout,
    )
    return result


# Aggregation, results and figures -----------------------------------------------------------

METRICS = ("test_loss", "energy_mse", "energy_mse_long", "valid_prediction_time")
COLUMNS = (
    "task",
    "model",
    "recipe",
    "seeds",
    "test_loss",
    "test_loss_std",
    "published_test_loss",
    "noise_floor",
    "energy_mse",
    "energy_mse_std",
    "published_energy_mse",
    "energy_mse_long",
    "energy_mse_long_std",
    "published_energy_mse_long",
    "valid_prediction_time",
    "valid_prediction_time_std",
    "failures",
    "energy_scale",
    "energy_mse_diverged",
    "seconds",
)


def aggregate(
    runs: list[dict[str, Any]], floors: dict[str, float | None], scales: dict[str, float]
) -> list[dict]:
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["task"], run["model"], run["recipe"]), []).append(run)
    rows = []
    for (task, model, recipe), group in groups.items():
        row: dict[str, Any] = {"task": task, "model": model, "recipe": recipe, "seeds": len(group)}
        for metric in METRICS:
            values = np.asarray([run[metric] for run in group], dtype=np.float64)
            finite = values[np.isfinite(values)]
            row[metric] = float(np.mean(finite)) if finite.size else math.nan
            row[f"{metric}_std"] = float(np.std(finite)) if finite.size else math.nan
        row["failures"] = int(sum(run["failures"] for run in group))
        row["seconds"] = float(np.mean([run["seconds"] for run in group]))
        published = PUBLISHED.get((task, model), {})
        row["published_test_loss"] = published.get("test_loss")
        row["published_energy_mse"] = published.get("energy_mse")
        row["published_energy_mse_long"] = PUBLISHED_LONG.get((task, model))
        row["noise_floor"] = floors.get(task)
        row["energy_scale"] = scales.get(task)
        # Runs scored before the energy failure rule averaged every finite rollout: a mean
        # above the squared scale holds at least one rollout that left the physical range,
        # so it is no score (the README shows it as diverged).
        row["energy_mse_diverged"] = any(
            not run.get("energy_failure_rule") for run in group
        ) and any(
            row[metric] > scales.get(task, math.inf) ** 2
            for metric in ("energy_mse", "energy_mse_long")
            if math.isfinite(row[metric])
        )
        rows.append(row)
    order = {name: i for i, name in enumerate(TASKS)}
    models = {name: i for i, name in enumerate(MODELS)}
    rows.sort(key=lambda r: (order[r["task"]], r["recipe"] != "paper", models[r["model"]]))
    return [{c: row.get(c) for c in COLUMNS} for row in rows]


def goal_notes(rows: list[dict]) -> list[str]:
    """The issue's goals, checked against the rows (HNN energy at or below the published on
    both protocols; test loss within 10% of the noise floor; HNN and LNN 100x below the
    baseline's energy MSE)."""
    notes = []
    for row in rows:
        if row["model"] != "hnn":
            continue
        checks = []
        for metric, published in (
            ("energy_mse", row["published_energy_mse"]),
            ("energy_mse_long", row["published_energy_mse_long"]),
        ):
            if published is not None and math.isfinite(row[metric]):
                verdict = "met" if row[metric] <= published else "MISSED"
                checks.append(f"{metric} {row[metric]:.3e} vs {published:.3e}: {verdict}")
        if row["noise_floor"]:
            ratio = row["test_loss"] / row["noise_floor"]
            checks.append(
                f"test loss {ratio:.3f} x the noise floor: {'met' if ratio <= 1.1 else 'MISSED'}"
            )
        elif row["published_test_loss"] is not None:
            verdict = "met" if row["test_loss"] <= row["published_test_loss"] else "MISSED"
            checks.append(f"test loss vs published: {verdict}")
        baseline = next(
            (
                r
                for r in rows
                if r["task"] == row["task"] and r["recipe"] == row["recipe"]
                if r["model"] == "baseline"
            ),
            None,
        )
        if baseline is not None:
            for name in ("hnn", "lnn"):
                other = next(
                    (
                        r
                        for r in rows
                        if (r["task"], r["recipe"], r["model"])
                        == (row["task"], row["recipe"], name)
                    ),
                    None,
                )
                if other is not None and other["energy_mse"] > 0:
                    factor = baseline["energy_mse"] / other["energy_mse"]
                    verdict = "met" if factor >= 100 else "MISSED"
                    checks.append(f"{name} energy {factor:.3g}x below the baseline's: {verdict}")
        if checks:
            notes.append(f"- **{row['task']}, {row['recipe']}**: " + "; ".join(checks) + ".")
    return notes


def write(
    directory: Path, mode: str, config: dict, runs: list[dict], partial: bool, floors, scales
):
    rows = aggregate(runs, floors, scales)
    notes = [
        "Published numbers: the HNN README (`published_test_loss`, `published_energy_mse`) and "
        "the spring notebook (`published_energy_mse_long`), from PAPERS.md. `test_loss` is "
        "the derivative MSE on the noisy test states in canonical coordinates; `noise_floor` "
        "is that of the exact dynamics. `energy_mse`: RK4 along the clean test trajectories; "
        "`energy_mse_long`: 15 starts over t in [0, 20]; `valid_prediction_time` in time "
        "units (threshold 0.4). Means and stds over seeds, of finite values only; `failures` "
        "counts non-finite rollouts and failed trainings. See the script's docstring.",
    ]
    if partial:
        notes.insert(0, "**Partial run**: not every (task, model, recipe, seed) has finished.")
    notes += ["Goals (HNN rows):", "\n".join(goal_notes(rows))]
    write_results(
        directory,
        NAME,
        mode,
        config,
        rows,
        columns=COLUMNS,
        title="HNN paper tasks: ours beside the published numbers",
        notes=notes,
        extra={"partial": partial, "runs": runs},
    )
    return rows


def figures(directory: Path, tasks: dict[str, Task], runs: list[dict]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    # The paper's two models with its recipe, and the LNN with ours (with the paper's recipe
    # it diverges on every task; those rows are in the table).
    shown = (("baseline", "paper"), ("hnn", "paper"), ("lnn", "ours"))
    for name, task in tasks.items():
        rollouts = {
            f"{run['model']} ({run['recipe']})": np.asarray(run["figure_rollout"])
            for run in runs
            if run["task"] == name
            and (run["model"], run["recipe"]) in shown
            and run.get("seed") == 0
            and run.get("figure_rollout") is not None
        }
        if not rollouts:
            continue
        truth = np.asarray(task.test_clean[0])
        ts = task.test_ts
        n = task.dof
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        curves = {"truth": truth, **rollouts}
        for index, (label, ys) in enumerate(curves.items()):
            # One colour per model in both panels (each body is a curve of its own).
            style = {"color": "k", "lw": 2} if label == "truth" else {"color": f"C{index - 1}"}
            if n == 1:
                left.plot(ys[:, 0], ys[:, 1], label=label, **style)
                left.set_xlabel("q")
                left.set_ylabel("p")
            else:
                for body in range(n // 2):
                    left.plot(
                        ys[:, 2 * body],
                        ys[:, 2 * body + 1],
                        label=label if body == 0 else None,
                        **style,
                    )
                left.set_xlabel("x")
                left.set_ylabel("y")
                left.set_aspect("equal", adjustable="box")
            energies = np.asarray(jax.vmap(lambda y: task.energy(y[:n], y[n:]))(jnp.asarray(ys)))
            right.plot(ts[: len(energies)], energies, label=label, **style)
            if label == "truth":
                true_energy = energies
        # A diverged rollout would stretch the axis until the others are one flat line.
        low, high = float(true_energy.min()), float(true_energy.max())
        margin = max(high - low, 0.5 * abs(high), 1e-3)
        right.set_ylim(low - margin, high + margin)
        if n == 1:
            xs, ys_ = truth[:, 0], truth[:, 1]
        else:
            xs, ys_ = truth[:, 0:n:2], truth[:, 1:n:2]
        for limits, values in ((left.set_xlim, xs), (left.set_ylim, ys_)):
            spread = float(np.max(values) - np.min(values))
            limits(float(np.min(values)) - 0.5 * spread, float(np.max(values)) + 0.5 * spread)
        left.set_title(f"{name}: first test trajectory")
        right.set_title("true energy along each rollout (clipped)")
        right.set_xlabel("t")
        left.legend()
        fig.tight_layout()
        path = Path(directory) / f"hnn_tasks_{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(str(path))
    return written


# Entry point --------------------------------------------------------------------------------


def _extra_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue a partial full run")
    parser.add_argument("--tasks", nargs="*", default=None, help="a subset of the tasks")
    parser.add_argument("--models", nargs="*", default=None, help="a subset of the models")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds")
    parser.add_argument("--recipes", nargs="*", default=None, help="paper and/or ours")
    parser.add_argument(
        "--investigate", action="store_true", help="run the spring investigation instead"
    )
    parser.add_argument(
        "--orbits", action="store_true", help="run the two-body one-orbit experiment instead"
    )
    parser.add_argument(
        "--figures-only", action="store_true", help="draw the figures of an existing run"
    )


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv, extra=_extra_arguments)
    if args.investigate:
        return investigate(args)
    if args.orbits:
        return orbits(args)
    if args.figures_only:
        directory = output_dir(args, NAME)
        runs = json.loads((directory / f"{NAME}.json").read_text())["runs"]
        names = [name for name in TASKS if any(run["task"] == name for run in runs)]
        print(figures(directory, {name: make_task(name) for name in names}, runs))
        return 0
    quick = args.mode == "quick"
    directory = output_dir(args, NAME)
    task_names = args.tasks or (QUICK["tasks"] if quick else tuple(TASKS))
    seeds = args.seeds or (QUICK["seeds"] if quick else FULL_SEEDS)
    recipes = {"paper": PAPER, "ours": OURS}
    recipe_names = args.recipes or (("paper",) if quick else ("paper", "ours"))
    runs: list[dict] = []
    results_path = directory / f"{NAME}.json"
    if args.resume and results_path.exists():
        runs = json.loads(results_path.read_text())["runs"]
        print(f"resuming: {len(runs)} results already in {results_path}")
    done = {(r["task"], r["model"], r["recipe"], r["seed"]) for r in runs}
    config = {
        "tasks": {name: TASKS[name] for name in task_names},
        "recipes": {name: recipes[name] for name in recipe_names},
        "seeds": seeds,
        "quick_steps": QUICK_STEPS if quick else None,
        "models": {
            name: {"class": m[0], **m[1], "coordinates": m[2]} for name, m in MODELS.items()
        },
        "data_seed": 0,
        "real_pendulum_energy": REAL_PENDULUM_ENERGY,
        "energy_mse": "lz.metrics.energy_mse_test_trajectories (RK4, dt = gap / 10)",
        "energy_mse_long": "lz.metrics.energy_mse_long_horizon (dopri8, rtol 1e-12, no stretch)",
        "valid_prediction_time": "RK4 over t in [0, 20] (real pendulum: its test segment)",
        "command": "python benchmarks/hnn_tasks.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }
    tasks: dict[str, Task] = {}
    floors: dict[str, float | None] = {}
    scales: dict[str, float] = {}
    started = time.perf_counter()
    for task_name in task_names:
        tasks[task_name] = make_task(task_name, QUICK_STEPS if quick else None)
        floors[task_name] = tasks[task_name].noise_floor
        scales[task_name] = energy_scale(tasks[task_name])
    # The paper's two models first on every task, the costlier Lagrangian ones last, so that an
    # interrupted run has the comparison with the published numbers.
    for stage in STAGES:
        for task_name in task_names:
            task = tasks[task_name]
            models = args.models or (QUICK["models"] if quick else TASKS[task_name]["models"])
            for recipe_name in recipe_names:
                for model_name in stage:
                    if model_name not in models or model_name not in TASKS[task_name]["models"]:
                        continue
                    for seed in range(seeds):
                        if (task_name, model_name, recipe_name, seed) in done:
                            continue
                        result = run_one(task, model_name, recipes[recipe_name], seed)
                        result["recipe"] = recipe_name
                        runs.append(result)
                        print(
                            f"{task_name:13s} {model_name:22s} {recipe_name:5s} seed {seed} "
                            f"test {result['test_loss']:.4g} "
                            f"energy {result['energy_mse']:.3e} "
                            f"long {result['energy_mse_long']:.3e} "
                            f"vpt {result['valid_prediction_time']:.3g} "
                            f"fail {result['failures']} {result['seconds']:.0f}s",
                            flush=True,
                        )
                        if not quick:
                            write(directory, args.mode, config, runs, True, floors, scales)
    config["wall_seconds"] = round(time.perf_counter() - started, 1)
    finished = all(
        (t, m, r, s) in {(x["task"], x["model"], x["recipe"], x["seed"]) for x in runs}
        for t in TASKS
        for m in TASKS[t]["models"]
        for r in ("paper", "ours")
        for s in range(FULL_SEEDS)
    )
    partial = not quick and not finished
    config["figures"] = [Path(path).name for path in figures(directory, tasks, runs)]
    rows = write(directory, args.mode, config, runs, partial, floors, scales)
    print(f"wrote {results_path} ({'partial' if partial else 'complete'}, {len(runs)} results)")
    if quick:
        for task_name in task_names:
            by_model = {r["model"]: r for r in rows if r["task"] == task_name}
            finite = all(math.isfinite(by_model[m]["energy_mse"]) for m in by_model)
            print(
                f"check {task_name}: finite={finite} hnn energy "
                f"{by_model['hnn']['energy_mse']:.3e} < baseline "
                f"{by_model['baseline']['energy_mse']:.3e}"
            )
    return 0


# One change at a time from the paper's recipe, on the spring HNN (name, description, recipe
# changes, steps).
VARIANTS: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("paper", "the HNN repository's recipe", {}, 2000),
    ("adapt", "input normalisation by training statistics", {"adapt": True}, 2000),
    ("cosine", "cosine decay of the learning rate", {"schedule": "cosine"}, 2000),
    ("float64", "float64 parameters and data", {"dtype": "float64"}, 2000),
    ("no_weight_decay", "weight decay 0", {"weight_decay": 0.0}, 2000),
    ("default_init", "Equinox's uniform init, output bias", {"init": "default"}, 2000),
    ("steps_500", "500 steps (early stop)", {}, 500),
    ("steps_1000", "1000 steps", {}, 1000),
    ("denoise", "training states rebuilt from the exact derivatives", {"denoise": True}, 2000),
    (
        "cosine_denoise",
        "cosine decay and denoised training states",
        {"schedule": "cosine", "denoise": True},
        2000,
    ),
    ("cosine_1000", "cosine decay over 1000 steps", {"schedule": "cosine"}, 1000),
    (
        "library_defaults",
        "lz.fit's defaults: cosine, adapt, default init, no decay, float64",
        {
            "schedule": "cosine",
            "adapt": True,
            "init": "default",
            "weight_decay": 0.0,
            "dtype": "float64",
        },
        2000,
    ),
)


def investigate(args) -> int:
    """Why our spring HNN energy MSE differs from the published one: one factor at a time."""
    directory = output_dir(args, INVESTIGATION)
    seeds = args.seeds or (1 if args.mode == "quick" else 5)
    task = make_task("spring")
    rows = []
    runs = []
    path = directory / f"{INVESTIGATION}.json"
    previous = json.loads(path.read_text())["runs"] if args.resume and path.exists() else []
    for name, description, changes, steps in VARIANTS:
        recipe = {**PAPER, **changes}
        variant_task = dataclasses.replace(task, steps=steps)
        results = [dict(r) for r in previous if r.get("variant") == name and r["seed"] < seeds]
        if len(results) < seeds:
            results = [run_one(variant_task, "hnn", recipe, seed) for seed in range(seeds)]
        for result in results:
            result.pop("figure_rollout", None)
            result.pop("variant", None)
            runs.append({"variant": name, **result})
        row: dict[str, Any] = {"variant": name, "change": description, "seeds": seeds}
        for metric in ("test_loss", "energy_mse", "energy_mse_long"):
            values = np.asarray([r[metric] for r in results], dtype=np.float64)
            row[metric] = float(np.mean(values))
            row[f"{metric}_std"] = float(np.std(values))
            row[f"{metric}_median"] = float(np.median(values))
        row["seconds"] = float(np.mean([r["seconds"] for r in results]))
        print(
            f"{name:18s} test {row['test_loss']:.4g} energy {row['energy_mse']:.3e} "
            f"(+- {row['energy_mse_std']:.1e}, median {row['energy_mse_median']:.2e}) "
            f"long {row['energy_mse_long']:.3e}",
            flush=True,
        )
        rows.append(row)
        _write_investigation(directory, args.mode, seeds, rows, runs)
    return 0


def _write_investigation(directory, mode, seeds, rows, runs) -> None:
    write_results(
        directory,
        INVESTIGATION,
        mode,
        {"task": "spring", "model": "hnn", "paper_recipe": PAPER, "seeds": seeds},
        rows,
        title="Spring HNN energy MSE: what moves it",
        notes=[
            "One change at a time from the paper's recipe (HNN, spring, the same data and test "
            "set as `hnn_tasks`). Published: energy MSE 2.5662e-05 (README), long horizon "
            "3.8416e-04 (notebook).",
            "Findings. (1) The integration is not the cause: the metric's RK4 (a tenth of the "
            "sample gap) gives below 1e-16 on the exact spring (tests/test_metrics.py), and "
            "float64 changes little. (2) Input normalisation (`adapt`, on in `lz.fit` by "
            "default) hurts here: the spring's inputs are already of order one, and one seed "
            "in four trained badly. (3) The constant learning rate is the main cause: at a "
            "constant 1e-3 Adam keeps fitting the noise of the 750 noisy training states, and "
            "the learned level sets of H wobble off the circles; a cosine decay, or stopping "
            "at 1000 steps, halves the energy MSE and cuts the long-horizon one by five. "
            "(4) The noise itself: the states carry noise, the derivatives are exact, so the "
            "training trajectories can be rebuilt from their derivatives up to one constant "
            "each (`denoise`); with the cosine decay this gives 4.30e-05 with a spread of "
            "4e-07 over seeds: what remains is set by the data (the noise of those constants, "
            "0.1 / sqrt(30)), not by training. The published 2.57e-05 (one run on another "
            "draw of the data) is not reached on this draw; the notebook's long-horizon "
            "3.84e-04 is beaten by five times. The `lz.fit` defaults (cosine, adapt, default "
            "init, no decay, float64) give 1.5e-04, the 1.0e-04 of the issue's harness being "
            "the paper recipe.",
        ],
        extra={"runs": runs},
    )


# The two-body "one orbit" finding ------------------------------------------------------------

ORBITS = "hnn_two_body_orbits"
ORBIT_SETTINGS = {
    "model": "lnn (200 x 2 softplus, Equinox's default initialisation, inputs normalised by "
    "the training states, the mass prior), float64, Adam 1e-3 with cosine decay, weight decay "
    "1e-4",
    "steps": 3000,
    "batch_size": 200,
    "train_one_orbit": "the first training orbit of the two_body task (50 samples, full batch)",
    "train_distribution": "the 800 training orbits of the two_body task",
    "held_out": "20 new orbits: positions U(0.5, 1.5) as in training, velocity factor "
    "1 + 0.1 N(0, 1) (twice the training spread: more eccentric orbits)",
    "times": "t in [0, 20], 50 samples; RK4 rollouts from the first state",
}


def _perturbed_orbits(system, key, count: int) -> np.ndarray:
    """Initial states of the task's distribution with twice its velocity perturbation."""
    position_key, noise_key = jax.random.split(key)
    first = jax.random.uniform(position_key, (count, 2), minval=0.5, maxval=1.5)
    radius = jnp.linalg.norm(first, axis=1, keepdims=True)
    # Circular-orbit speed 1 / (2 sqrt(r)) for unit masses and G = 1 (PAPERS.md), along the
    # perpendicular of the radius, scaled by one factor per orbit.
    speed = 1 / (2 * jnp.sqrt(radius))
    direction = jnp.stack([-first[:, 1], first[:, 0]], axis=1) / radius
    scale = 1 + 0.1 * jax.random.normal(noise_key, (count, 1))
    velocity = scale * speed * direction
    return np.asarray(jnp.concatenate([first, -first, velocity, -velocity], axis=1))


def _reinitialised(model, key):
    """The LNN with Equinox's default initialisation of its network (the same architecture)."""
    network = lz.models.MLP(
        model.network.in_size,
        "scalar",
        (model.width,) * model.depth,
        activation=model.activation,
        key=key,
    )
    return eqx.tree_at(lambda m: m.network, model, cast_floating(network, jnp.float64))


def orbits(args) -> int:
    """An LNN trained on one orbit against one trained on a distribution of orbits."""
    directory = output_dir(args, ORBITS)
    quick = args.mode == "quick"
    steps = 100 if quick else ORBIT_SETTINGS["steps"]
    task = make_task("two_body")
    system = task.system
    ts = jnp.asarray(np.linspace(0.0, 20.0, 50))
    starts = _perturbed_orbits(system, jax.random.key(7), 20)
    truth = lz.rollout(system, jnp.asarray(starts), ts, solver="dopri8", rtol=1e-12, atol=1e-12)
    # The paper-recipe LNN (its own initialisation, raw inputs, constant rate) diverged from
    # the first step on every held-out orbit, whatever it was trained on; these settings train.
    recipe = {**PAPER, "dtype": "float64", "schedule": "cosine", "adapt": True, "mass_prior": True}
    rows, curves = [], {}
    seeds = args.seeds or (1 if quick else 3)
    for training, count in (("one_orbit", 1), ("distribution", task.train_y.shape[0])):
        results = []
        for seed in range(seeds):
            key = jax.random.fold_in(jax.random.key(seed), count)
            model, _ = build_model("lnn", task, recipe, key)
            model = _reinitialised(model, key)
            data = _dataset(task.train_ts, task.train_y[:count], task.train_dy[:count], "float64")
            start = time.perf_counter()
            model, _ = lz.fit(
                model,
                data,
                steps=steps,
                key=key,
                batch_size=None if count == 1 else ORBIT_SETTINGS["batch_size"],
                optimizer=optimizer(recipe, steps),
                adapt=recipe["adapt"],
                progress=False,
                log_every=min(500, steps),
            )
            seconds = time.perf_counter() - start
            energy = lz.metrics.energy_mse_test_trajectories(
                model, system.energy, ts, truth, reduction="none"
            )
            predicted = lz.rollout(model, truth[:, 0], ts, solver="rk4", checks=False)
            positions = lz.metrics.rollout_mse(
                predicted[..., :4], truth[..., :4], reduction="none"
            )
            vpt = lz.metrics.valid_prediction_time(ts, truth, predicted)
            energy_mean, energy_failures = _finite_mean(energy)
            orbit_mean, orbit_failures = _finite_mean(positions)
            results.append(
                {
                    "energy_mse": energy_mean,
                    "orbit_mse": orbit_mean,
                    "valid_prediction_time": float(np.mean(vpt)),
                    "failures": max(energy_failures, orbit_failures),
                    "seconds": seconds,
                }
            )
            if seed == 0:
                curves[training] = np.asarray(predicted[:3])
        row: dict[str, Any] = {"model": "lnn", "training": training, "orbits": count}
        row["seeds"] = seeds
        for metric in ("energy_mse", "orbit_mse", "valid_prediction_time"):
            values = np.asarray([r[metric] for r in results])
            row[metric] = float(np.nanmean(values))
            row[f"{metric}_std"] = float(np.nanstd(values))
        row["failures"] = int(sum(r["failures"] for r in results))
        row["seconds"] = float(np.mean([r["seconds"] for r in results]))
        print(row, flush=True)
        rows.append(row)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for i, axis in enumerate(axes):
        axis.plot(truth[i, :, 0], truth[i, :, 1], "k", lw=2, label="truth")
        axis.plot(truth[i, :, 2], truth[i, :, 3], "k", lw=2)
        for training, ys in curves.items():
            line = axis.plot(ys[i, :, 0], ys[i, :, 1], label=f"LNN, {training}")
            axis.plot(ys[i, :, 2], ys[i, :, 3], color=line[0].get_color())
        axis.set_aspect("equal", adjustable="datalim")
        axis.set_title(f"held-out orbit {i}")
    axes[0].legend()
    fig.tight_layout()
    figure = Path(directory) / f"{ORBITS}.png"
    fig.savefig(figure, dpi=90)
    plt.close(fig)
    write_results(
        directory,
        ORBITS,
        args.mode,
        {**ORBIT_SETTINGS, "steps": steps, "seeds": seeds, "figure": figure.name},
        rows,
        title="Two-body: an LNN trained on one orbit or on a distribution of orbits",
        notes=[
            "Scored on 20 held-out orbits more eccentric than any training orbit: "
            "`energy_mse` is `lz.metrics.energy_mse_test_trajectories`, `orbit_mse` the mean "
            "squared error of the positions, `valid_prediction_time` in time units.",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
