"""The Hamiltonian Neural Networks paper's tasks, rerun and compared with published numbers.

Tasks (generated as Greydanus et al. 2019 and the HNN repository's data scripts generate them;
see the `TASKS` settings below): `spring`, `pendulum` (50 noisy trajectories, first half
train, second half test), `real_pendulum` (the measured Schmidt & Lipson pendulum, the last
20% of the record is the test set), `two_body` (the repository's `experiment-2body`: 1000
orbits x 50 samples over t in [0, 20]) and `three_body` (its `experiment-3body`: 5000
near-circular configurations x 20 samples over t in [0, 5]); for both, the first 20% of the
samples are the test set, which is the first 20% of the orbits, whole.

Models: the paper's `baseline` (an MLP for dy/dt) and `hnn` on canonical states (q, p), and,
on velocity states (q, q_t) of the same data (q_t = p / m, the noise converted with it),
`baseline_acceleration` (a second-order neural ODE: the MLP predicts only q_tt), `lnn`,
`delan`, and on the damped real pendulum `lnn_dissipative` and `delan_dissipative`.
On two and three bodies also the pairwise models (`PAIRWISE_MODELS`): `pairwise_hnn`
(`lz.models.PairwiseHamiltonian`, on canonical states) and `pairwise_lnn`
(`lz.models.PairwiseLagrangian`, on velocity states), a kinetic energy per body and one
learned potential of the distance shared by every pair, with their own sizes (64 x 2,
softplus) and the `ours` recipe only.

Recipes:

- `paper`: the HNN repository's training scripts: two hidden layers of 200 (tanh for the
  baseline and the HNN, softplus for the Lagrangian models, which need curvature), orthogonal
  weights and no output bias (baseline, HNN), Adam with a constant learning rate 1e-3 and
  torch-style weight decay 1e-4 (added to the gradient), the paper's steps and batch, no input
  normalisation, float32.
  The two-body script alone uses no weight decay (`TASK_RECIPES`).
  Its width of 200 is the plain networks' (the MLPs of the baseline, HNN, LNN and DeLaN);
  the pairwise models keep their own 64 (`MODELS`).
- `ours`: the two changes the spring investigation (`--investigate`, written to
  `hnn_spring_investigation.json`) found to lower the energy MSE most, a cosine decay of the
  learning rate and training states denoised with the exact derivatives; see `OURS` below.
  On two and three bodies also `lz.fit`'s defaults: inputs standardised by the training
  states, Equinox's initialisation and no weight decay (measured: see `TASK_RECIPES`).

Metrics, all on the fixed test set of each task (the seeds change only the initialisation and
the minibatches):

- `test_loss`: the MSE of the predicted time derivatives (q_t, p_t) on the noisy test states,
  in canonical coordinates for every model (a velocity model's q_tt is converted to p_t = m q_tt);
- `energy_mse`: `lz.metrics.energy_mse_test_trajectories`, RK4 from the first CLEAN state of
  every test trajectory over its times, true energy along truth and prediction (the paper's);
- `energy_mse_long`: `lz.metrics.energy_mse_long_horizon`, 15 starts over t in [0, 20] at 100
  points, Dopri8 at rtol 1e-12 (float64) or 10 eps (float32); the spring starts are the
  notebook's (|q|, |p| in (0.2, 1)), the pendulum draws from its own initial distribution; no
  time stretch; none on the real pendulum, which has no true dynamics, nor on the tasks that
  have the notebooks' protocol below;
- `energy_mse_notebook` (two and three bodies): the protocol of the repository's
  `analyze-2body.ipynb` and `analyze-3body.ipynb`, whose numbers its README prints today: 15
  starts from the task's own sampler, the i-th with `jax.random.key(i)` for i = 0..14 (the
  notebooks seed NumPy with i; the library's keys draw other states from the same law), truth
  (float64) and model both integrated by Dopri5 (SciPy's RK45) at rtol = atol = 1e-9 (or 10
  eps of the model's precision) at 500 points over t in [0, 25] (two bodies) or [0, 3] (three
  bodies), the true energy along both compared;
- `valid_prediction_time`: `lz.metrics.valid_prediction_time` (threshold 0.4, rms scale) of an
  RK4 rollout over the same long horizon (on the real pendulum: over its test segment; on the
  tasks with the notebooks' protocol: of its rollouts);
- `failures`: failed rollouts (over seeds and all three rollout metrics) and failed
  trainings. A rollout failed when it is non-finite or, for the energy metrics, when the root
  mean square of its energy error exceeds the task's `energy_scale` (the root mean square true
  energy along the clean test trajectories): it left the physical range. The means average
  the other rollouts only, so a row with failures says so. Rows scored before that rule
  (runs without `energy_failure_rule`) whose mean exceeds the squared scale are marked
  `energy_mse_diverged`: they hold at least one such rollout, and their mean is no score.
  `<metric>_failures` count them per protocol (a goal on one protocol is judged by its own);
- `energy_mse_exact` (with `energy_mse_exact_failures`): the exact dynamics under the
  test-trajectory protocol, what its RK4 can resolve. On three bodies it is no floor of zero:
  RK4 at a tenth of the sample gap cannot follow the close encounters of some test orbits, so
  the exact field itself fails on some of them (12 of the 1000): a model's failures there
  need not be its own.

Full runs write `hnn_tasks.json` after every (task, model, recipe, seed), marked
`"partial": true` until the last one; `--resume` continues from it, keeping only the runs made
with the current settings of their task and recipe (and `--steps`), so that a task or recipe
changed since is run again.
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
# The repository's README today (PAPERS.md, "The HNN repository today"): the test loss of its
# training scripts run again, and the energy MSE its `analyze-*.ipynb` notebooks print.
PUBLISHED_TODAY = {
    ("spring", "baseline"): {"test_loss": 3.6656e-02, "energy_mse": 1.7077e-01},
    ("spring", "hnn"): {"test_loss": 3.5928e-02, "energy_mse": 3.8416e-04},
    ("pendulum", "baseline"): {"test_loss": 3.5273e-02, "energy_mse": 4.1519e-02},
    ("pendulum", "hnn"): {"test_loss": 3.5586e-02, "energy_mse": 2.4852e-02},
    ("real_pendulum", "baseline"): {"test_loss": 2.1864e-03, "energy_mse": 3.8564e-01},
    ("real_pendulum", "hnn"): {"test_loss": 5.9584e-03, "energy_mse": 1.4477e-02},
    ("two_body", "baseline"): {"test_loss": 2.9575e-05, "energy_mse": 6.3276e-02},
    ("two_body", "hnn"): {"test_loss": 2.8218e-06, "energy_mse": 3.8751e-05},
    ("three_body", "baseline"): {"test_loss": 3.8000e-01, "energy_mse": 1.0906e02},
    ("three_body", "hnn"): {"test_loss": 4.8809e-01, "energy_mse": 4.1926e-02},
}
# Our metric under the protocol of each notebook that printed today's energy MSE; the pendulum
# notebooks' protocols are not rerun here (their published numbers are shown for reference).
TODAY_PROTOCOL = {
    "spring": "energy_mse_long",
    "two_body": "energy_mse_notebook",
    "three_body": "energy_mse_notebook",
}

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
    # The pairwise models with their own defaults: a width or depth given here is the model's
    # own, not the recipe's (the recipe's 200 sizes a network of all the coordinates; these
    # learn one function of one distance). `checks=False` as for the LNN.
    "pairwise_hnn": (
        "pairwise_hnn",
        {"activation": "softplus", "width": 64, "depth": 2},
        "canonical",
    ),
    "pairwise_lnn": (
        "pairwise_lnn",
        {"activation": "softplus", "width": 64, "depth": 2, "checks": False},
        "velocity",
    ),
}
CONSERVATIVE = ("baseline", "hnn", "baseline_acceleration", "lnn", "delan")
STAGES = (
    ("baseline", "hnn"),
    ("baseline_acceleration",),
    ("delan", "delan_dissipative"),
    ("lnn", "lnn_dissipative"),
    ("pairwise_hnn", "pairwise_lnn"),
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
    # The repository's experiment-2body/data.py and experiment-3body/data.py: orbits of its
    # samplers (the systems' own), integrated by SciPy's RK45 at rtol 1e-9; states (q, p) with
    # unit masses, so p = q_t; the first 20% of the samples, whole orbits, are the test set.
    "two_body": {
        "system": "two_body",
        "trajectories": 1000,
        "t_end": 20.0,
        "samples": 50,
        "noise_std": 0.0,
        "test": "first 20% of the orbits",
        "integration": {"solver": "dopri5", "rtol": 1e-9, "atol": 1e-9},
        "notebook": {"t_end": 25.0, "times": 500},
        "steps": 10000,
        "batch_size": 200,
        "models": CONSERVATIVE,
    },
    "three_body": {
        "system": "three_body",
        "trajectories": 5000,
        "t_end": 5.0,
        "samples": 20,
        "noise_std": 0.0,
        "test": "first 20% of the orbits",
        "integration": {"solver": "dopri5", "rtol": 1e-9, "atol": 1e-9},
        "notebook": {"t_end": 3.0, "times": 500},
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

# What a task's own training script changes in the paper's recipe, and what our recipe
# changes for a task.
#
# `ours` on two and three bodies: `lz.fit`'s defaults where they differ from the above, that is
# inputs standardised by the training states (`adapt=True`), Equinox's default initialisation
# (with an output bias) and no weight decay, kept in float32 (float64 gave the same numbers at
# twice the time). The bodies' coordinates and momenta are not of order one (the three-body
# momenta reach 10 and more near close encounters), and on these tasks the scaling is what
# lets the HNN and the LNN fit. Measured on an AMD EPYC (2 shared cores), 10000 steps, the
# tasks' batches, seed 0 (seed 1 where given), the notebooks' energy protocol:
# - three bodies, HNN: the earlier `ours` (orthogonal, decay 1e-4, raw inputs) test loss 0.402,
#   energy 1.05e-3; with `adapt` 0.334, 4.7e-4; `adapt` and no decay 0.338, 8.0e-4; `adapt` and
#   the default init 0.294 / 0.321, 2.5e-4 / 4.3e-4; all three (this recipe) 0.283 / 0.323,
#   2.9e-4 / 2.7e-4. The paper's recipe at 2000 steps: 0.641, 1.5e-2.
# - two bodies, HNN: the paper's recipe test loss 1.46e-5, energy 6.6e-6 (test trajectories
#   6.6e-6); this recipe 1.87e-5, 1.8e-7 (5.4e-7). Its test loss is one test orbit's: the
#   median orbit's is 1.3e-6 and the worst 3.5e-3, an orbit that comes closer than the
#   training orbits do (train loss 3.3e-6).
# - two bodies, LNN: the earlier `ours` test loss 3.2e-4, 174 of 215 rollouts failed; this
#   recipe 5.5e-6, energy 1.5e-5 (1.6e-5), none failed.
# - three bodies, LNN: no setting tried trains it: this recipe's test loss is 0.91, 1.66 and
#   2.88 after 2000, 4000 and 7000 steps, with most rollouts failing; with gradient clipping
#   (1.0) 1.79 at 4000 steps, in float64 with clipping 2.19 at 2000, at a learning rate of
#   3e-4 0.86 at 2000. Its rows say so.
TASK_RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    # experiment-2body/train.py builds Adam with weight_decay=0; the other scripts with 1e-4.
    ("two_body", "paper"): {"weight_decay": 0.0},
    **{
        (task, "ours"): {"adapt": True, "init": "default", "weight_decay": 0.0}
        for task in ("two_body", "three_body")
    },
}
RECIPES = {"paper": PAPER, "ours": OURS}


def recipe_for(task_name: str, recipe_name: str) -> dict[str, Any]:
    """The recipe `recipe_name` as it trains on the task `task_name`."""
    return {**RECIPES[recipe_name], **TASK_RECIPES.get((task_name, recipe_name), {})}


# Models run beside a task's own, on some tasks and recipes only. They are kept out of
# `TASKS[...]["models"]`, which the settings digest covers, so that adding them leaves every
# stored run valid on `--resume`. The pairwise models need bodies in the plane (the many-body
# tasks), and only `ours` trains them: the paper's recipe is its own models' settings.
# Measured with `ours` on seed 0 at 2000 steps (a fifth of the tasks' own), the tasks' batches,
# on 2 cores shared with another run: three bodies, pairwise HNN and LNN test loss 7.0e-7 and
# 2.0e-7, notebook energy MSE 6.3e-8 and 1.7e-8 with no failed rollout (the plain HNN's 10000
# steps: 0.28 and 2.9e-4), test-trajectory energy MSE 1.8e-3 and 3.6e-3 with 9 and 5 failed
# rollouts of 1000 (the exact field: 2.1e-3, 12 failed), 8 s and 17 s of training; two
# bodies, test loss 2.0e-8 and 2.6e-9, notebook energy MSE 2.3e-9 and 3.7e-10, 9 s each.
PAIRWISE_MODELS = ("pairwise_hnn", "pairwise_lnn")
EXTRA_MODELS: dict[tuple[str, str], tuple[str, ...]] = {
    (task, "ours"): PAIRWISE_MODELS for task in ("two_body", "three_body")
}


def task_models(task_name: str, recipe_name: str) -> tuple[str, ...]:
    """The models a full run trains on the task `task_name` with the recipe `recipe_name`."""
    return TASKS[task_name]["models"] + EXTRA_MODELS.get((task_name, recipe_name), ())


def schedule(task_names, recipe_names, model_names, seeds: int) -> list[tuple[str, str, str, int]]:
    """The (task, model, recipe, seed) to run, in the order they run: stage by stage (the
    paper's two models first on every task, the costlier Lagrangian ones, then the pairwise
    ones, last), so that an interrupted run has the comparison with the published numbers."""
    return [
        (task_name, model_name, recipe_name, seed)
        for stage in STAGES
        for task_name in task_names
        for recipe_name in recipe_names
        for model_name in stage
        if model_name in model_names and model_name in task_models(task_name, recipe_name)
        for seed in range(seeds)
    ]


# The quick mode is the smoke test `make test` runs: one task runs every stage of the script
# (data, training, each protocol, the figures); the pendulum adds only time.
QUICK = {"tasks": ("spring",), "models": ("baseline", "hnn"), "seeds": 1}
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
    # The notebooks' energy protocol (two and three bodies): times, canonical starts and the
    # true rollouts from them (float64), or None.
    notebook_ts: np.ndarray | None = None
    notebook_starts: np.ndarray | None = None
    notebook_truth: np.ndarray | None = None

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
    return jnp.concatenate(
        [y[..., :n], y[..., n:] / jnp.broadcast_to(mass, (*y.shape[:-1], n))], axis=-1
    )


def to_canonical(y, mass, coordinates):
    if coordinates == "canonical":
        return y
    n = y.shape[-1] // 2
    return jnp.concatenate(
        [y[..., :n], y[..., n:] * jnp.broadcast_to(mass, (*y.shape[:-1], n))], axis=-1
    )


def derivative_to_canonical(dy, mass, coordinates):
    """(q_t, q_tt) -> (q_t, p_t = mass * q_tt); canonical derivatives unchanged."""
    return to_canonical(dy, mass, coordinates)


def make_task(name: str, steps: int | None = None, trajectories: int | None = None) -> Task:
    """The task's data, test set and evaluation states; `trajectories` overrides the
    number of trajectories of a simulated task (for tests and smoke runs)."""
    settings = TASKS[name]
    if trajectories is not None:
        settings = {**settings, "trajectories": trajectories}
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
        system,
        data_key,
        trajectories=settings["trajectories"],
        ts=ts,
        coordinates="canonical",
        **settings.get("integration", {}),
    )
    y_clean, dy = np.asarray(clean.y), np.asarray(clean.dy)
    noise = settings["noise_std"] * np.asarray(jax.random.normal(noise_key, y_clean.shape))
    y = y_clean + noise
    trajectories = settings["trajectories"]
    if settings["test"] == "second half":
        train, test = slice(None, trajectories // 2), slice(trajectories // 2, None)
    else:
        # The repository's split: the first 20% of the samples, which are whole orbits.
        train, test = slice(trajectories // 5, None), slice(None, trajectories // 5)
    n = system.dof
    mass = np.broadcast_to(np.asarray(getattr(system, "mass", 1.0), float), (n,)).copy()
    if name == "pendulum":
        mass = np.full(n, float(system.mass * system.length**2))

    def energy(q, p):
        return system.energy(q, p / mass)

    field = _canonical_field(system, mass)
    long_starts = notebook_ts = notebook_starts = notebook_truth = None
    if "notebook" in settings:
        notebook_ts, notebook_starts, notebook_truth = notebook_protocol(
            system, field, mass, **settings["notebook"]
        )
    elif name == "spring":
        long_starts = np.asarray(lz.metrics.long_horizon_initial_states(long_key, starts=15))
    else:
        starts = jax.vmap(system.sample_initial_state)(jax.random.split(long_key, 15))
        long_starts = np.asarray(to_canonical(starts, mass, "velocity"))
    test_y = y[test]
    exact = jax.vmap(jax.vmap(lambda s: field(0.0, s, None)))(jnp.asarray(test_y))
    # Without noise the floor is zero (not the rounding of an exact field).
    floor = float(lz.metrics.derivative_mse(exact, dy[test])) if settings["noise_std"] else 0.0
    return Task(
        name=name,
        mass=mass,
        periodic=system.periodic,
        energy=energy,
        train_ts=ts,
        train_y=y[train],
        train_dy=dy[train],
        test_ts=ts,
        test_y=test_y,
        test_dy=dy[test],
        test_clean=y_clean[test],
        system=system,
        long_starts=long_starts,
        noise_floor=floor,
        steps=steps,
        batch_size=settings["batch_size"],
        notebook_ts=notebook_ts,
        notebook_starts=notebook_starts,
        notebook_truth=notebook_truth,
    )


# The notebooks' energy protocol -------------------------------------------------------------

NOTEBOOK_STARTS = 15
NOTEBOOK_TOLERANCE = 1e-9


def notebook_protocol(system, field, mass, *, t_end: float, times: int):
    """The times, canonical starts and true rollouts of the repository's analysis notebooks.

    The i-th start is the system's sampler with `jax.random.key(i)`, i = 0..14 (the notebooks
    seed NumPy with i); the truth is integrated in float64 by Dopri5, SciPy's RK45, at
    rtol = atol = 1e-9 (the notebooks' rtol; SciPy's default atol is 1e-6).
    """
    with jax.enable_x64(True):
        keys = jnp.stack([jax.random.key(i) for i in range(NOTEBOOK_STARTS)])
        starts = to_canonical(jax.vmap(system.sample_initial_state)(keys), mass, "velocity")
        ts = jnp.linspace(0.0, t_end, times)
        truth = lz.rollout(
            field, starts, ts, solver="dopri5", rtol=NOTEBOOK_TOLERANCE, atol=NOTEBOOK_TOLERANCE
        )
    return np.asarray(ts), np.asarray(starts), np.asarray(truth)


def notebook_rollouts(model, task: Task, dtype, coordinates: str):
    """The model's rollouts of the notebooks' protocol, in canonical float64 states: Dopri5 at
    rtol = atol = 1e-9, or ten machine epsilons of `dtype` where those are larger."""
    mass = jnp.asarray(task.mass, dtype)
    starts = to_coordinates(jnp.asarray(task.notebook_starts, dtype), mass, coordinates)
    tolerance = max(NOTEBOOK_TOLERANCE, 10 * float(jnp.finfo(dtype).eps))
    predicted = lz.rollout(
        model,
        starts,
        jnp.asarray(task.notebook_ts, dtype),
        solver="dopri5",
        rtol=tolerance,
        atol=tolerance,
        checks=False,
    )
    return np.asarray(to_canonical(predicted, mass, coordinates), np.float64)


def notebook_energy_mse(task: Task, predicted: np.ndarray) -> np.ndarray:
    """Per start, the mean over the times of the squared difference of the true energy along
    the truth and along `predicted` (canonical states); non-finite where a rollout failed."""
    with jax.enable_x64(True):
        return np.asarray(
            lz.metrics.energy_mse(
                task.energy,
                jnp.asarray(task.notebook_truth),
                jnp.asarray(predicted),
                reduction="none",
            )
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
    """The model `model_name` (`MODELS`) for the task, initialised and cast as `recipe`
    says, and the coordinates it reads (`"canonical"` or `"velocity"`)."""
    kind, kwargs, coordinates = MODELS[model_name]
    init_key, model_key = jax.random.split(key)
    # The recipe sizes the networks of models that give no size of their own.
    kwargs = {"width": recipe["width"], "depth": recipe["depth"], **kwargs}
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
    return lz.cast_floating(model, jnp.dtype(recipe["dtype"])), coordinates


_OPTIMIZERS: dict[tuple, optax.GradientTransformation] = {}


def optimizer(recipe: dict[str, Any], steps: int) -> optax.GradientTransformation:
    """One optimizer object per setting, so that `fit` reuses its compiled loop."""
    clip = recipe.get("gradient_clip")
    key = (recipe["learning_rate"], recipe["schedule"], recipe["weight_decay"], clip, steps)
    if key not in _OPTIMIZERS:
        if recipe["schedule"] == "constant":
            rate = recipe["learning_rate"]
        else:
            rate = optax.cosine_decay_schedule(recipe["learning_rate"], steps)
        adam = optax.adam(rate)
        if recipe["weight_decay"]:
            adam = optax.chain(optax.add_decayed_weights(recipe["weight_decay"]), adam)
        if clip:
            adam = optax.chain(optax.clip_by_global_norm(clip), adam)
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


def exact_energy_mse(task: Task) -> tuple[float, int] | tuple[None, None]:
    """The test-trajectory energy MSE of the exact dynamics under the same RK4 rollouts and
    failure rule: what the protocol's integrator itself can resolve, and how many of its
    rollouts fail (on three bodies, RK4 at a tenth of the sample gap cannot follow the close
    encounters). None on the real pendulum, which has no exact dynamics."""
    if task.system is None:
        return None, None
    with jax.enable_x64(True):
        field = _canonical_field(task.system, task.mass)
        values = lz.metrics.energy_mse_test_trajectories(
            field,
            task.energy,
            jnp.asarray(task.test_ts),
            jnp.asarray(task.test_clean),
            reduction="none",
        )
    return _finite_mean(values, energy_scale(task) ** 2)


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
            energy_mse_notebook=math.nan,
            valid_prediction_time=math.nan,
            failures=1,
            # A failed training fails every protocol.
            **{f"{metric}_failures": 1 for metric in ENERGY_METRICS},
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
    # Failed rollouts per energy protocol, beside the total: a goal on one protocol is not
    # void because another protocol's rollouts failed.
    protocol_failures = {"energy_mse": failures}

    figure_rollout = None
    energy_mse_long = energy_mse_notebook = math.nan
    if task.notebook_ts is not None:
        # One set of rollouts for the notebooks' energy MSE and the valid prediction time.
        predicted = notebook_rollouts(model, task, dtype, coordinates)
        energy_mse_notebook, notebook_failures = _finite_mean(
            notebook_energy_mse(task, predicted), bound
        )
        failures += notebook_failures
        protocol_failures["energy_mse_notebook"] = notebook_failures
        vpt_ts = task.notebook_ts
        vpt_true, vpt_guess = task.notebook_truth, predicted
    elif task.system is not None:
        true_field = (
            task.system if coordinates == "velocity" else _canonical_field(task.system, mass)
        )
        starts = convert(task.long_starts)
        long = lz.metrics.energy_mse_long_horizon(
            model, true_field, energy, starts, reduction="none"
        )
        energy_mse_long, long_failures = _finite_mean(long, bound)
        failures += long_failures
        protocol_failures["energy_mse_long"] = long_failures
        ts_long = jnp.linspace(0.0, 20.0, 100, dtype=dtype)
        truth = lz.rollout(
            true_field, starts, ts_long, solver="dopri8", rtol=1e-10, atol=1e-10, checks=False
        )
        guess = lz.rollout(model, starts, ts_long, solver="rk4", checks=False)
        vpt_ts = ts_long
        vpt_true = to_canonical(truth, mass, coordinates)
        vpt_guess = to_canonical(guess, mass, coordinates)
        failures += int(np.sum(~np.isfinite(np.asarray(guess)).all(axis=(-1, -2))))
    else:
        vpt_ts = jnp.asarray(task.test_ts, dtype)
        vpt_true = to_canonical(clean, mass, coordinates)
        guess = lz.rollout(model, clean[:, 0], vpt_ts, solver="rk4", checks=False)
        vpt_guess = to_canonical(guess, mass, coordinates)
        failures += int(np.sum(~np.isfinite(np.asarray(guess)).all(axis=(-1, -2))))
    vpt = lz.metrics.valid_prediction_time(vpt_ts, vpt_true, vpt_guess)
    # A non-finite rollout counts as exceeding the threshold at once (no nan here).
    vpt_mean, _ = _finite_mean(vpt - vpt_ts[0])
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
        energy_mse_notebook=energy_mse_notebook,
        valid_prediction_time=vpt_mean,
        failures=failures,
        **{f"{metric}_failures": count for metric, count in protocol_failures.items()},
        figure_rollout=figure_rollout,
    )
    return result


# Aggregation, results and figures -----------------------------------------------------------

ENERGY_METRICS = ("energy_mse", "energy_mse_long", "energy_mse_notebook")
METRICS = (
    "test_loss",
    "energy_mse",
    "energy_mse_long",
    "energy_mse_notebook",
    "valid_prediction_time",
)
COLUMNS = (
    "task",
    "model",
    "recipe",
    "seeds",
    "test_loss",
    "test_loss_std",
    "published_test_loss",
    "published_test_loss_today",
    "noise_floor",
    "energy_mse",
    "energy_mse_std",
    "published_energy_mse",
    "energy_mse_long",
    "energy_mse_long_std",
    "published_energy_mse_long",
    "energy_mse_notebook",
    "energy_mse_notebook_std",
    "published_energy_mse_today",
    "valid_prediction_time",
    "valid_prediction_time_std",
    "failures",
    "test_loss_failures",
    "energy_mse_failures",
    "energy_mse_long_failures",
    "energy_mse_notebook_failures",
    "energy_scale",
    "energy_mse_exact",
    "energy_mse_exact_failures",
    "energy_mse_diverged",
    "goal_test_loss",
    "goal_energy_mse",
    "goal_energy_mse_notebook",
    "seconds",
)

# The goals for the many-body tasks (issue 23): (task, model) -> {metric: (factor,
# reference)}, the target being factor x the reference, which is the old README's number
# (`published`), today's README's (`today`), or the HNN's mean with the same recipe (`hnn`).
GOALS: dict[tuple[str, str], dict[str, tuple[float, str]]] = {
    ("two_body", "hnn"): {
        "test_loss": (1.0, "today"),
        "energy_mse": (0.1, "published"),
        "energy_mse_notebook": (0.1, "today"),
    },
    ("three_body", "hnn"): {"test_loss": (1.0, "today"), "energy_mse_notebook": (0.01, "today")},
    **{
        (task, "lnn"): {
            metric: (2.0, "hnn") for metric in ("test_loss", "energy_mse", "energy_mse_notebook")
        }
        for task in ("two_body", "three_body")
    },
    # The goal for the pairwise models: under the notebook's protocol, 10x below the
    # plain HNN of the same recipe.
    **{("three_body", model): {"energy_mse_notebook": (0.1, "hnn")} for model in PAIRWISE_MODELS},
}


def _goal(row: dict[str, Any], rows: list[dict], metric: str) -> float | None:
    """The issue's target for `row`'s `metric`, or None (no goal, or no reference yet)."""
    goal = GOALS.get((row["task"], row["model"]), {}).get(metric)
    if goal is None:
        return None
    factor, reference = goal
    if reference == "hnn":
        hnn = next(
            (r for r in rows if (r["task"], r["model"], r["recipe"]) == (
                row["task"], "hnn", row["recipe"])),
            None,
        )  # fmt: skip
        value = None if hnn is None else hnn[metric]
    elif reference == "published":
        value = PUBLISHED.get((row["task"], row["model"]), {}).get(metric)
    else:
        published = PUBLISHED_TODAY.get((row["task"], row["model"]), {})
        value = published.get("energy_mse" if metric.startswith("energy") else metric)
    return factor * value if value is not None and math.isfinite(value) else None


def aggregate(
    runs: list[dict[str, Any]],
    floors: dict[str, float | None],
    scales: dict[str, float],
    exact: dict[str, tuple[float, int]] | None = None,
) -> list[dict]:
    """One row per (task, model, recipe): means and stds over the seeds, failures, the
    published numbers and the goals. `exact` holds each task's `exact_energy_mse`."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["task"], run["model"], run["recipe"]), []).append(run)
    rows = []
    for (task, model, recipe), group in groups.items():
        row: dict[str, Any] = {"task": task, "model": model, "recipe": recipe, "seeds": len(group)}
        for metric in METRICS:
            # Runs made before a metric existed have none (nan).
            values = np.asarray([run.get(metric, math.nan) for run in group], dtype=np.float64)
            finite = values[np.isfinite(values)]
            row[metric] = float(np.mean(finite)) if finite.size else math.nan
            row[f"{metric}_std"] = float(np.std(finite)) if finite.size else math.nan
        row["failures"] = int(sum(run["failures"] for run in group))
        row["test_loss_failures"] = int(sum(bool(run.get("training_failed")) for run in group))
        for metric in ENERGY_METRICS:
            # None where no run scored the protocol (or the runs predate these counts).
            counts = [run[f"{metric}_failures"] for run in group if f"{metric}_failures" in run]
            row[f"{metric}_failures"] = int(sum(counts)) if counts else None
        row["energy_mse_exact"], row["energy_mse_exact_failures"] = (exact or {}).get(
            task, (None, None)
        )
        row["seconds"] = float(np.mean([run["seconds"] for run in group]))
        published = PUBLISHED.get((task, model), {})
        row["published_test_loss"] = published.get("test_loss")
        row["published_energy_mse"] = published.get("energy_mse")
        row["published_energy_mse_long"] = PUBLISHED_LONG.get((task, model))
        today = PUBLISHED_TODAY.get((task, model), {})
        row["published_test_loss_today"] = today.get("test_loss")
        row["published_energy_mse_today"] = today.get("energy_mse")
        row["noise_floor"] = floors.get(task)
        row["energy_scale"] = scales.get(task)
        # Runs scored before the energy failure rule averaged every finite rollout: a mean
        # above the squared scale holds at least one rollout that left the physical range,
        # so it is no score (the README shows it as diverged).
        row["energy_mse_diverged"] = any(
            not run.get("energy_failure_rule") for run in group
        ) and any(
            row[metric] > (scales.get(task) or math.inf) ** 2
            for metric in ("energy_mse", "energy_mse_long")
            if math.isfinite(row[metric])
        )
        rows.append(row)
    for row in rows:
        for metric in ("test_loss", "energy_mse", "energy_mse_notebook"):
            row[f"goal_{metric}"] = _goal(row, rows, metric)
    order = {name: i for i, name in enumerate(TASKS)}
    models = {name: i for i, name in enumerate(MODELS)}
    rows.sort(key=lambda r: (order[r["task"]], r["recipe"] != "paper", models[r["model"]]))
    return [{c: row.get(c) for c in COLUMNS} for row in rows]


def _verdict(value: float, target: float) -> str:
    return "met" if math.isfinite(value) and value <= target else "MISSED"


def goal_notes(rows: list[dict]) -> list[str]:
    """The goals, checked against the rows: the HNN at or below the published numbers on every
    protocol (both README versions); test loss within 10% of the noise floor; HNN and LNN 100x
    below the baseline's energy MSE; and the issue's goals for two and three bodies
    (`goal_*`). A row with failed rollouts meets no goal: its means leave them out."""
    notes = []
    for row in rows:
        checks = []
        if row["model"] == "hnn":
            today_metric = TODAY_PROTOCOL.get(row["task"])
            for metric, published, label in (
                ("energy_mse", row["published_energy_mse"], "old README"),
                ("energy_mse_long", row["published_energy_mse_long"], "spring notebook"),
                (today_metric, row["published_energy_mse_today"], "README today"),
                ("test_loss", row["published_test_loss_today"], "README today"),
            ):
                if metric is None or published is None or not math.isfinite(row[metric]):
                    continue
                if metric == "test_loss" and row["noise_floor"]:
                    continue  # at the noise floor, judged by the floor below
                checks.append(
                    f"{metric} {row[metric]:.3e} vs {published:.3e} ({label}): "
                    f"{_verdict(row[metric], published)}"
                )
            if row["noise_floor"]:
                ratio = row["test_loss"] / row["noise_floor"]
                checks.append(
                    f"test loss {ratio:.3f} x the noise floor: "
                    f"{'met' if ratio <= 1.1 else 'MISSED'}"
                )
            elif row["published_test_loss"] is not None:
                checks.append(
                    "test loss vs published (old README): "
                    f"{_verdict(row['test_loss'], row['published_test_loss'])}"
                )
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
                        checks.append(
                            f"{name} energy {factor:.3g}x below the baseline's: {verdict}"
                        )
        for metric in ("test_loss", "energy_mse", "energy_mse_notebook"):
            target = row[f"goal_{metric}"]
            failed = row[f"{metric}_failures"]
            if failed is None:
                failed = row["failures"]
            if target is not None:
                verdict = _verdict(row[metric], target)
                if failed and verdict == "met":
                    verdict = f"MISSED ({failed} failed)"
                checks.append(f"issue goal {metric} {row[metric]:.3e} <= {target:.3e}: {verdict}")
        if checks:
            notes.append(
                f"- **{row['task']}, {row['model']}, {row['recipe']}**: " + "; ".join(checks) + "."
            )
    return notes


def write(
    directory: Path,
    mode: str,
    config: dict,
    runs: list[dict],
    partial: bool,
    floors,
    scales,
    exact=None,
):
    rows = aggregate(runs, floors, scales, exact)
    notes = [
        "Published numbers, from PAPERS.md: the HNN README's older table "
        "(`published_test_loss`, `published_energy_mse`), the spring notebook "
        "(`published_energy_mse_long`), and the README today (`published_test_loss_today`, "
        "`published_energy_mse_today`: the energy MSE of each analysis notebook, our "
        "`energy_mse_long` on the spring and `energy_mse_notebook` on two and three bodies; "
        "the pendulum notebooks' protocols are not rerun). `test_loss` is the derivative MSE "
        "on the noisy test states in canonical coordinates; `noise_floor` is that of the "
        "exact dynamics. `energy_mse`: RK4 along the clean test trajectories; "
        "`energy_mse_long`: 15 starts over t in [0, 20]; `energy_mse_notebook`: the "
        "notebooks' 15 starts, 500 points over t in [0, 25] (two bodies) or [0, 3] (three "
        "bodies), Dopri5 at rtol 1e-9; `valid_prediction_time` in time units (threshold 0.4). "
        "Means and stds over seeds, of finite values only; `failures` counts failed rollouts "
        "and trainings. `goal_*`: the issue's targets (two bodies: the HNN at or below the "
        "published test loss and 10x below both published energy MSEs; three bodies: the HNN "
        "at or below the published test loss and 100x below today's energy MSE; the LNN "
        "within 2x of the HNN; on three bodies the pairwise models' notebook energy MSE 10x "
        "below the HNN's). See the script's docstring.",
    ]
    if partial:
        notes.insert(0, "**Partial run**: not every (task, model, recipe, seed) has finished.")
    notes += ["Goals:", "\n".join(goal_notes(rows))]
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
    # A misspelt name is refused with the known ones, rather than selecting nothing.
    parser.add_argument(
        "--tasks", nargs="*", default=None, choices=tuple(TASKS), help="a subset of the tasks"
    )
    parser.add_argument(
        "--models", nargs="*", default=None, choices=tuple(MODELS), help="a subset of the models"
    )
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds")
    parser.add_argument(
        "--recipes", nargs="*", default=None, choices=tuple(RECIPES), help="paper and/or ours"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps instead of each task's own"
    )
    parser.add_argument(
        "--investigate", action="store_true", help="run the spring investigation instead"
    )
    parser.add_argument(
        "--orbits", action="store_true", help="run the two-body one-orbit experiment instead"
    )
    parser.add_argument(
        "--figures-only", action="store_true", help="draw the figures of an existing run"
    )


def settings_digest(task_settings: dict, recipe: dict, steps: int) -> int:
    """A digest of what a run was trained and scored on, to tell a run of the current task
    and recipe from one of an earlier definition (`--resume` keeps only the former)."""
    text = json.dumps({"task": task_settings, "recipe": recipe, "steps": steps}, sort_keys=True)
    return zlib.crc32(text.encode())


def _still_valid(run: dict, previous_config: dict, steps: int | None) -> bool:
    """Whether a stored run was made with the current settings of its task and recipe, and
    with the steps this run trains for (`steps`, or the task's own when None).

    Runs written before the digests were stored are checked against the settings their file's
    config recorded for the task and the recipe, at the task's own steps (they had no other).
    """
    task, recipe = run["task"], run["recipe"]
    if task not in TASKS or recipe not in RECIPES:
        return False
    current = recipe_for(task, recipe)
    expected = settings_digest(TASKS[task], current, steps or TASKS[task]["steps"])
    if "settings_digest" in run:
        return run["settings_digest"] == expected
    stored_task = previous_config.get("tasks", {}).get(task)
    stored_recipe = previous_config.get("recipes", {}).get(recipe)
    if steps is not None or stored_task is None or stored_recipe is None:
        return False
    return settings_digest(stored_task, stored_recipe, stored_task["steps"]) == expected


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
    recipe_names = args.recipes or (("paper",) if quick else ("paper", "ours"))
    steps = args.steps or (QUICK_STEPS if quick else None)
    runs: list[dict] = []
    previous_figures: list[str] = []
    floors: dict[str, float | None] = {}
    scales: dict[str, float] = {}
    exact: dict[str, tuple[float, int]] = {}
    results_path = directory / f"{NAME}.json"
    if args.resume and results_path.exists():
        previous = json.loads(results_path.read_text())
        runs = [r for r in previous["runs"] if _still_valid(r, previous["config"], args.steps)]
        previous_figures = previous["config"].get("figures", [])
        print(
            f"resuming: {len(runs)} results still valid in {results_path} (of "
            f"{len(previous['runs'])}; the others were run with other task or recipe settings)"
        )
        # The tasks not rebuilt in this run keep their floors and scales.
        for row in previous["rows"]:
            floors.setdefault(row["task"], row.get("noise_floor"))
            if row.get("energy_scale") is not None:
                scales.setdefault(row["task"], row["energy_scale"])
            if row.get("energy_mse_exact") is not None:
                exact.setdefault(
                    row["task"], (row["energy_mse_exact"], row["energy_mse_exact_failures"])
                )
    done = {(r["task"], r["model"], r["recipe"], r["seed"]) for r in runs}
    config = {
        "tasks": TASKS,
        "recipes": RECIPES,
        "task_recipes": {
            task: {recipe: recipe_for(task, recipe) for recipe in RECIPES} for task in TASKS
        },
        "seeds": seeds,
        "quick_steps": QUICK_STEPS if quick else None,
        "steps": args.steps,
        "models": {
            name: {"class": m[0], **m[1], "coordinates": m[2]} for name, m in MODELS.items()
        },
        # What a full run trains, per task and recipe (the pairwise models on some only).
        "task_models": {
            task: {recipe: list(task_models(task, recipe)) for recipe in RECIPES} for task in TASKS
        },
        "data_seed": 0,
        "real_pendulum_energy": REAL_PENDULUM_ENERGY,
        "energy_mse": "lz.metrics.energy_mse_test_trajectories (RK4, dt = gap / 10)",
        "energy_mse_long": "lz.metrics.energy_mse_long_horizon (dopri8, rtol 1e-12, no stretch)",
        "energy_mse_notebook": "15 starts of the task's sampler with jax.random.key(i), "
        "i = 0..14; truth (float64) and model by dopri5 at rtol = atol = 1e-9 (or 10 eps of "
        "the model's dtype), 500 points; t in [0, 25] (two_body), [0, 3] (three_body)",
        "published_today_protocol": TODAY_PROTOCOL,
        "valid_prediction_time": "RK4 over t in [0, 20] (real pendulum: its test segment; "
        "two_body, three_body: the notebook protocol's rollouts)",
        "command": "python benchmarks/hnn_tasks.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
    }
    tasks: dict[str, Task] = {}
    started = time.perf_counter()
    for task_name in task_names:
        tasks[task_name] = make_task(task_name, steps)
        floors[task_name] = tasks[task_name].noise_floor
        scales[task_name] = energy_scale(tasks[task_name])
        exact[task_name] = exact_energy_mse(tasks[task_name])
    models = args.models or (QUICK["models"] if quick else tuple(MODELS))
    for task_name, model_name, recipe_name, seed in schedule(
        task_names, recipe_names, models, seeds
    ):
        if (task_name, model_name, recipe_name, seed) in done:
            continue
        task = tasks[task_name]
        recipe = recipe_for(task_name, recipe_name)
        result = run_one(task, model_name, recipe, seed)
        result["recipe"] = recipe_name
        result["settings_digest"] = settings_digest(TASKS[task_name], recipe, task.steps)
        runs.append(result)
        print(
            f"{task_name:13s} {model_name:22s} {recipe_name:5s} seed {seed} "
            f"test {result['test_loss']:.4g} "
            f"energy {result['energy_mse']:.3e} "
            f"long {result['energy_mse_long']:.3e} "
            f"notebook {result['energy_mse_notebook']:.3e} "
            f"vpt {result['valid_prediction_time']:.3g} "
            f"fail {result['failures']} {result['seconds']:.0f}s",
            flush=True,
        )
        if not quick:
            write(directory, args.mode, config, runs, True, floors, scales, exact)
    config["wall_seconds"] = round(time.perf_counter() - started, 1)
    stored = {(x["task"], x["model"], x["recipe"], x["seed"]) for x in runs}
    finished = set(schedule(TASKS, RECIPES, MODELS, FULL_SEEDS)) <= stored
    partial = not quick and not finished
    drawn = [Path(path).name for path in figures(directory, tasks, runs)]
    # A run of some tasks (`--tasks`) leaves the other tasks' figures as they were.
    config["figures"] = sorted(set(previous_figures) | set(drawn))
    rows = write(directory, args.mode, config, runs, partial, floors, scales, exact)
    print(f"wrote {results_path} ({'partial' if partial else 'complete'}, {len(runs)} results)")
    if quick:
        for task_name in task_names:
            by_model = {r["model"]: r for r in rows if r["task"] == task_name}
            if not {"hnn", "baseline"} <= set(by_model):
                continue
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
    return eqx.tree_at(lambda m: m.network, model, lz.cast_floating(network, jnp.float64))


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
