"""The HNN paper's pixel pendulum: dynamics learned from 28 x 28 frames by a latent HNN or LNN.

Data (`lz.pixel_pendulum_dataset`, the paper's settings): 200 trials of a pendulum released
at |q0| < pi/6, each seen only as frames drawn by `lz.render_pendulum` (our own renderer: a rod
and a disc, anti-aliased, on a black background), 100 training rows per trial; the last 20% of
the trials are the test set. A model sees two consecutive frames (1568 numbers) at a time.

Models (`lz.models.PixelDynamics`: the paper's autoencoder, 200 wide, ReLU, residual layers,
latent of 2), one per latent dynamics:

- `baseline`: an MLP (200 x 2, tanh) that outputs the latent time derivative (the paper's);
- `hnn`: an HNN (200 x 2, tanh): the latent is (q, p) (the paper's PixelHNN);
- `lnn`: an LNN (200 x 2, softplus): the latent is (q, q_t), beyond the paper.

All are trained alike on the paper's loss (reconstruction + latent-coordinate consistency
+ 0.1 x latent step, `lz.pixel_dynamics_loss`), batch 200, Adam 1e-3 with weight decay 1e-5,
10 000 steps (see `TRAINING`), float32. Recipes: `paper`, the paper's latent step z + f(z)
(Euler), for the three models; `rk4`, one classic Runge-Kutta step of a frame instead, for the
baseline and the HNN (an HNN's field is divergence-free, so its Euler step cannot be the
frame-to-frame rotation that the baseline's can fit; the RK4 step is the flow itself). An LNN
with the RK4 step diverged in its first steps for 3 of 8 initialisations in our trials (its
learned mass matrix starts near zero somewhere), so it is not run.

Metrics, on the test trials:

- `test_loss`: the paper's loss on all test rows (the paper's test loss of this task), with
  its three terms beside it;
- `energy_mse`: the true energy along a latent rollout vs along the truth. The first input of
  every test trial is encoded, the latent ODE is integrated (`lz.rollout`, RK4, a quarter
  frame per step: the paper's integrator) over the trial's frames (time unit: one frame), and
  each latent is mapped to a pendulum state (q, q_t) by a cubic polynomial probe fitted by least
  squares to the encoded training inputs and their true states (the model never sees them in
  training); the probe's state gives the energy
  E = m l^2 q_t^2 / 2 + m g l (1 - cos q). The paper's code does not say how it read energies
  from its latents, so this protocol is ours; `energy_mse_probe_floor` is the same error with
  the true latents (the encoded test inputs) instead of the rollout: what the probe alone
  costs;
- `rollout_frame_mse`: the squared error of the decoded rollout against the true inputs;
- `failed_rollouts`: rollouts that went non-finite (counted, excluded from the means), and
  `failed_trainings`: runs whose loss went non-finite (counted, no metrics).

Figures: `pixel_pendulum_rollout.gif` (true vs predicted frames over a rollout three times
the training trials' length), `pixel_pendulum_latent.png` (the latent phase space: encoded
test trials and rollouts, with the learned energy's contours) and
`pixel_pendulum_add_energy.png` (the paper's experiment: half-way through a rollout, energy is
added by moving the latent up the gradient of the learned energy, and the pendulum swings
higher).

Full runs write `pixel_pendulum.json` after every (model, recipe, seed), marked
`"partial": true` until the last; training checkpoints go to `runs/pixel_pendulum/` (or
`--checkpoints`), so `--max-minutes M` stops even inside a training run, with a checkpoint
(the evaluation and figures under way may add a minute), and `--resume` continues from there,
bit for bit. `--train-steps`, `--trials` and `--seeds` override the settings for a trial run
(with `--out` and `--checkpoints` elsewhere).
"""

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax


sys.path.insert(0, str(Path(__file__).resolve().parent))
import lagrangian_zoo as lz  # noqa: E402

import _common  # noqa: E402


NAME = "pixel_pendulum"
ROOT = Path(__file__).resolve().parents[1]
# Greydanus et al. 2019, Table 1 (PAPERS.md).
PUBLISHED = {
    "baseline": {"test_loss": 4.3923e-04, "energy_mse": 9.3841e-03},
    "hnn": {"test_loss": 3.5081e-04, "energy_mse": 1.0049e-04},
}
MODELS = ("baseline", "hnn", "lnn")
# (model, recipe) pairs. Every model with the paper's loss; the baseline and the HNN also
# with an RK4 latent step (see `INTEGRATORS`). Runs go recipe by recipe, seed by seed, so that
# an interrupted run has whole rows of the paper's recipe first.
VARIANTS = (
    ("baseline", "paper"),
    ("hnn", "paper"),
    ("lnn", "paper"),
    ("baseline", "rk4"),
    ("hnn", "rk4"),
)
# At quick sizes compiling a model's training costs more than training it (seconds each), so
# the smoke run trains one; every other variant is built, so that none is left untried.
QUICK_VARIANTS = (("hnn", "paper"),)


@dataclasses.dataclass(frozen=True)
class Config:
    trials: int
    steps: int  # training rows per trial
    size: int
    train_steps: int
    batch_size: int
    seeds: int
    width: int
    log_every: int
    long_frames: int  # frames of the long rollout of the figures
    variants: tuple[tuple[str, str], ...] = VARIANTS
    figure_models: tuple[str, ...] = MODELS
    test_fraction: float = 0.2
    data_seed: int = 0


FULL = Config(
    trials=200,
    steps=100,
    size=28,
    train_steps=10_000,
    batch_size=200,
    seeds=3,
    width=200,
    log_every=200,
    long_frames=300,
)
QUICK = Config(
    trials=10,
    steps=12,
    size=28,
    train_steps=20,
    batch_size=32,
    seeds=1,
    width=16,
    log_every=10,
    long_frames=13,  # a test trial's inputs: the truth needs no rollout of its own
    variants=QUICK_VARIANTS,
    figure_models=("hnn",),
)
# The paper's optimiser and loss for every model; the recipes differ in the latent step of the
# loss only: "paper" is its Euler step z + f(z), "rk4" one classic Runge-Kutta step of one
# frame, whose map is the flow of the latent ODE that the rollouts integrate. (An HNN's field
# is divergence-free, so z + f(z) cannot be the rotation from one frame to the next, which the
# baseline's unconstrained f can fit exactly.)
TRAINING = {
    "optimizer": "Adam, constant learning rate 1e-3, weight decay 1e-5 added to the gradient "
    "(PyTorch's), for every model and recipe",
    "weights": [1.0, 1.0, 0.1],
    "autoencoder": "MLP 1568 -> 200 -> 200 -> 200 -> 2 and back, the hidden layers after the "
    "first residual, ReLU, orthogonal weights (the paper's)",
    "latent_models": "baseline and hnn: 200 x 2 tanh (the paper's); lnn: 200 x 2 softplus, "
    "the LNN paper's initialisation, checks off (a singular mass matrix gives non-finite "
    "values, counted as failures)",
}
INTEGRATORS = {"paper": "euler", "rk4": "rk4"}
ROLLOUT_STEP = 0.25  # frames per RK4 step of the evaluation rollouts
# The probe that reads a pendulum state from a latent: a polynomial of this degree. On the
# encoded test inputs, degree 3 errs about five times less in energy than an affine map.
PROBE_DEGREE = 3
# One object, so that every run of an architecture reuses one compiled training program.
OPTIMIZER = optax.chain(optax.add_decayed_weights(1e-5), optax.adam(1e-3))


def build_model(name: str, recipe: str, config: Config, key) -> lz.models.PixelDynamics:
    autoencoder_key, dynamics_key = jax.random.split(key)
    autoencoder = lz.models.Autoencoder(
        2 * config.size**2, width=config.width, key=autoencoder_key
    )
    width = config.width
    if name == "baseline":
        dynamics = lz.models.Baseline(1, width=width, activation="tanh", key=dynamics_key)
    elif name == "hnn":
        dynamics = lz.models.HNN(1, width=width, activation="tanh", key=dynamics_key)
    elif name == "lnn":
        # checks=False: a singular learned mass matrix gives non-finite values, counted as
        # failures, instead of an error that would stop the benchmark.
        dynamics = lz.models.LNN(1, width=width, depth=2, checks=False, key=dynamics_key)
    else:
        raise ValueError(f"unknown model {name!r}")
    return lz.models.PixelDynamics(autoencoder, dynamics, integrator=INTEGRATORS[recipe])


# Evaluation ----------------------------------------------------------------------------------


def _rollout(model, z0, frames: int):
    """The latent ODE integrated from `z0` (batch, 2) over `frames` frames (time unit: one),
    by RK4 (the paper's integrator) in steps of a quarter frame."""
    ts = np.arange(frames, dtype=z0.dtype)
    return lz.rollout(model, z0, ts, solver="rk4", dt0=ROLLOUT_STEP, checks=False)


@eqx.filter_jit
def _encode_all(model, x):
    return jax.vmap(model.encode)(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)


@eqx.filter_jit
def _evaluation_arrays(model, x, x_next, train_inputs, test_inputs):
    """Everything the metrics need from one model, as one compiled program."""
    terms = jax.lax.map(lambda row: model.loss_terms(*row), (x, x_next), batch_size=512)
    z_train = jax.vmap(model.encode)(train_inputs)
    trials, frames, pixels = test_inputs.shape
    z_true = jax.vmap(model.encode)(test_inputs.reshape(-1, pixels)).reshape(trials, frames, -1)
    z_pred = _rollout(model, z_true[:, 0], frames)
    decoded = jax.vmap(model.decode)(z_pred.reshape(trials * frames, -1))
    frame_error = jnp.mean((decoded.reshape(test_inputs.shape) - test_inputs) ** 2, axis=(1, 2))
    return jnp.mean(terms, axis=0), z_train, z_true, z_pred, frame_error


def _monomials(z: np.ndarray) -> np.ndarray:
    """The monomials of the two latents up to degree `PROBE_DEGREE`, constant included."""
    z = np.asarray(z, np.float64)
    a, b = z[..., 0], z[..., 1]
    columns = [a ** (d - i) * b**i for d in range(PROBE_DEGREE + 1) for i in range(d + 1)]
    with np.errstate(over="ignore", invalid="ignore"):
        return np.stack(columns, axis=-1)


def fit_probe(z: np.ndarray, states: np.ndarray) -> np.ndarray:
    """The polynomial map z -> (q, q_t) of least squares over the rows of `z` and `states`."""
    coefficients, *_ = np.linalg.lstsq(
        _monomials(np.reshape(z, (-1, 2))),
        np.asarray(states, np.float64).reshape(-1, 2),
        rcond=None,
    )
    return coefficients


def probe_states(coefficients: np.ndarray, z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return _monomials(z) @ coefficients


def energies(system, states: np.ndarray) -> np.ndarray:
    mass, length, gravity = (float(system.mass), float(system.length), float(system.gravity))
    q, q_t = states[..., 0], states[..., 1]
    with np.errstate(invalid="ignore", over="ignore"):
        return 0.5 * mass * length**2 * q_t**2 + mass * gravity * length * (1 - np.cos(q))


def evaluate(model, train, test, system) -> tuple[dict[str, Any], np.ndarray]:
    """The metrics of one trained model, and its probe's coefficients."""
    x, x_next = test.rows()
    train_inputs = train.inputs()
    terms, z_train, z_true, z_pred, frame_error = (
        np.asarray(a, np.float64)
        for a in _evaluation_arrays(
            model, x, x_next, train_inputs.reshape(-1, x.shape[-1]), test.inputs()
        )
    )
    coefficients = fit_probe(z_train, train.states[:, :-1])
    finite = np.all(np.isfinite(z_pred), axis=(1, 2))
    true_energy = energies(system, np.asarray(test.states[:, :-1], np.float64))
    predicted_energy = energies(system, probe_states(coefficients, z_pred))
    floor_energy = energies(system, probe_states(coefficients, z_true))
    row: dict[str, Any] = {
        "test_loss": float(terms @ np.asarray(TRAINING["weights"])),
        "reconstruction": float(terms[0]),
        "consistency": float(terms[1]),
        "latent_step": float(terms[2]),
        "energy_mse_probe_floor": float(np.mean((floor_energy - true_energy) ** 2)),
        "failed_rollouts": int((~finite).sum()),
        "rollouts": int(finite.size),
    }
    if finite.any():
        per_trial = np.mean((predicted_energy - true_energy)[finite] ** 2, axis=1)
        row["energy_mse"] = float(np.mean(per_trial))
        # One runaway rollout can hold the mean; the median says what is typical.
        row["energy_mse_median"] = float(np.median(per_trial))
        row["rollout_frame_mse"] = float(np.mean(frame_error[finite]))
    return row, coefficients


# Runs ----------------------------------------------------------------------------------------


def run_one(variant, seed, config, train, test, system, folder, *, resume, max_seconds, quick):
    """Trains (or continues) one model; `None` if stopped by the time limit."""
    name, recipe = variant
    model_key, train_key = jax.random.split(jax.random.key(seed))
    model = build_model(name, recipe, config, model_key)
    identity = {"model": name, "recipe": recipe, "seed": seed, "steps": config.train_steps}
    try:
        model, history = lz.fit_pixel_dynamics(
            model,
            train,
            steps=config.train_steps,
            key=train_key,
            batch_size=config.batch_size,
            optimizer=OPTIMIZER,
            weights=TRAINING["weights"],
            # The test loss during training only in full runs: in quick ones its compilation
            # would cost more than the training.
            eval_data=None if quick else test,
            log_every=config.log_every,
            checkpoint_dir=folder,
            resume=resume,
            max_seconds=max_seconds,
            progress=not quick,
        )
    except FloatingPointError as error:
        # A diverged training is a result: counted in the table, never dropped.
        print(f"  training failed: {error}", flush=True)
        return {**identity, "failed_training": True, "error": str(error)}
    if int(history.step[-1]) < config.train_steps:
        return None
    row, _ = evaluate(model, train, test, system)
    return {
        **identity,
        "failed_training": False,
        "seconds": float(history.seconds[-1]),
        "final_train_loss": float(history.train_loss[-1]),
        **row,
    }


def summarise(runs: list[dict], config: Config) -> list[dict]:
    rows = []
    for name, recipe in config.variants:
        attempted = [r for r in runs if (r["model"], r["recipe"]) == (name, recipe)]
        if not attempted:
            continue
        done = [r for r in attempted if not r.get("failed_training")]
        row: dict[str, Any] = {
            "task": "pixel_pendulum",
            "model": name,
            "recipe": recipe,
            "steps": attempted[0]["steps"],
            "seeds": len(attempted),
            "failed_trainings": len(attempted) - len(done),
        }
        for metric in (
            "test_loss",
            "energy_mse",
            "energy_mse_median",
            "energy_mse_probe_floor",
            "rollout_frame_mse",
            "reconstruction",
            "consistency",
            "latent_step",
            "seconds",
        ):
            values = [r[metric] for r in done if r.get(metric) is not None]
            values = [v for v in values if math.isfinite(v)]
            row[metric] = float(np.mean(values)) if values else None
            if metric in ("test_loss", "energy_mse"):
                row[f"{metric}_std"] = float(np.std(values)) if values else None
        row["failed_rollouts"] = sum(r["failed_rollouts"] for r in done)
        row["rollouts"] = sum(r["rollouts"] for r in done)
        published = PUBLISHED.get(name, {})
        row["published_test_loss"] = published.get("test_loss")
        row["published_energy_mse"] = published.get("energy_mse")
        rows.append(row)
    return rows


COLUMNS = [
    "task",
    "model",
    "recipe",
    "steps",
    "seeds",
    "test_loss",
    "test_loss_std",
    "published_test_loss",
    "energy_mse",
    "energy_mse_std",
    "published_energy_mse",
    "energy_mse_median",
    "energy_mse_probe_floor",
    "rollout_frame_mse",
    "failed_rollouts",
    "rollouts",
    "failed_trainings",
    "seconds",
]
NOTES = [
    "Frames from `lz.render_pendulum` (a white rod and disc on black, anti-aliased over one "
    "pixel, drawn from exact angles of an exact solution), not the paper's: those were Gym's "
    "`Pendulum-v0` renderings (a shaded capsule with an axle), cropped and downsampled to "
    "28 x 28 (red minus green channel), of Gym's semi-implicit Euler dynamics at dt = 0.05 s. "
    "The reconstruction term of the loss, and with it `test_loss`, depends on the images, so "
    "it compares with the paper's in order of magnitude only.",
    "`energy_mse` is our protocol (the paper does not say how it read energies from its "
    "latents): the true energy of the state that a cubic polynomial probe reads from the latent "
    "rollout, against the true energy, over every frame of the test trials; "
    "`energy_mse_probe_floor` is the probe's own error on the true latents. Units: the "
    "pendulum's energy (m = 1/2, l = 1, g = 6), up to about 0.5 in these data; the published "
    "numbers are in the paper's own units.",
    "Recipes: `paper` trains with the paper's loss, whose latent step is Euler's z + f(z); "
    "`rk4` with the same loss but a classic Runge-Kutta step of one frame. Rollouts integrate "
    "the latent ODE (RK4, a quarter frame per step) for both. `seconds`: training time per "
    "run on a shared 2-core CPU.",
]


def write(directory: Path, mode: str, config: Config, runs, *, partial: bool, command: str):
    settings = {
        **dataclasses.asdict(config),
        "training": TRAINING,
        "integrators": INTEGRATORS,
        "system": "pendulum (m = 1/2, l = 1, g = 6: H = 3 (1 - cos q) + p^2), frames every "
        "dt = 0.08 (about 32 frames per small swing, as Gym's pendulum at dt = 0.05)",
        "initial_states": "|q0| ~ U(0, pi/6) with a random sign, q_t0 ~ U(-0.63, 0.63)",
        "renderer": "lz.render_pendulum defaults (pivot 0.5, rod 1.05 x 0.1, bob radius 0.2)",
        "energy_mse": "polynomial probe z -> (q, q_t) of degree 3 (least squares on the encoded "
        "training inputs and their true states); "
        "latent rollouts by lz.rollout (RK4, steps of a quarter frame), one time unit per "
        "frame",
        "dtype": "float32",
        "published": PUBLISHED,
        "published_source": "Greydanus et al. 2019, Hamiltonian Neural Networks, Table 1",
        "command": command,
    }
    notes = list(NOTES)
    _common.write_run_results(
        directory,
        NAME,
        mode,
        settings,
        summarise(runs, config),
        runs,
        partial=partial,
        columns=COLUMNS,
        title="HNN paper: pixel pendulum",
        notes=notes,
    )


# Figures -------------------------------------------------------------------------------------


def _energy_function(model):
    """The model's own scalar of a latent (None for the baseline)."""
    dynamics = model.dynamics
    if isinstance(dynamics, (lz.models.HNN, lz.models.LNN)):
        return lambda z: dynamics.energy(z[:1], z[1:])
    return None


@eqx.filter_jit
def _predict(model, z0, frames: int):
    """Latent rollouts from `z0` (batch, 2) and the first frame of each decoded input."""
    z = _rollout(model, z0, frames)
    decoded = jax.vmap(jax.vmap(model.decode))(z)
    size = math.isqrt(decoded.shape[-1] // 2)
    return z, decoded[..., : size * size].reshape(*z.shape[:2], size, size)


@eqx.filter_jit
def _add_energy(model, z, amount, substeps: int = 20):
    """`z` moved along grad E / |grad E|^2 until the model's energy E rose by `amount`."""
    gradient = jax.grad(_energy_function(model))

    def field(z):
        g = gradient(z)
        return g / jnp.sum(g**2)

    def one(z, _):
        h = amount / substeps
        k1 = field(z)
        k2 = field(z + 0.5 * h * k1)
        k3 = field(z + 0.5 * h * k2)
        k4 = field(z + h * k3)
        return z + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6, None

    return jax.lax.scan(one, z, None, length=substeps)[0]


@eqx.filter_jit
def _energy_on(model, z):
    return jax.vmap(_energy_function(model))(z)


def figures(directory: Path, models: dict, train, test, system, config: Config) -> list[str]:
    """The rollout GIF, the latent phase space and the added-energy experiment."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    written = []
    n = config.long_frames
    if n + 1 <= test.frames.shape[1]:
        true_frames = test.frames[0, : n + 1]
    else:
        dt = float(test.ts[1] - test.ts[0])
        ts = dt * jnp.arange(n + 1, dtype=test.ts.dtype)
        truth = lz.rollout(system, test.states[0, 0], ts, rtol=1e-6, atol=1e-6)
        true_frames = lz.render_pendulum(truth[:, 0], size=config.size)
    first_input = true_frames[:2].reshape(1, -1)
    latents, predicted = {}, {}
    for name, model in models.items():
        z, frames = _predict(model, _encode_all(model, first_input), n)
        latents[name] = np.asarray(z[0])
        predicted[name] = np.clip(np.nan_to_num(np.asarray(frames[0])), 0, 1)
    gif = directory / f"{NAME}_rollout.gif"
    lz.plots.animate_frames(
        {"truth": np.asarray(true_frames[:n]), **predicted},
        path=gif,
        stride=2 if n > 100 else 1,
        fps=12,
        title=f"{n} frames from one test state (training trials: {config.steps + 2})",
        dpi=60,
    )
    written.append(str(gif))

    test_inputs = test.inputs()
    shown = min(8, test_inputs.shape[0])
    fig = Figure(figsize=(4.0 * len(models), 3.8), layout="constrained")
    for ax, (name, model) in zip(np.atleast_1d(fig.subplots(1, len(models))), models.items()):
        z_true = np.asarray(_encode_all(model, test_inputs[:shown]))
        for k in range(shown):
            label = "encoded test trials" if k == 0 else None
            ax.plot(z_true[k, :, 0], z_true[k, :, 1], color="0.6", linewidth=0.8, label=label)
        z = latents[name]
        ax.plot(z[:, 0], z[:, 1], color="C3", linewidth=1.0, label=f"rollout, {n} frames")
        ax.plot(z[:1, 0], z[:1, 1], "o", color="C3")
        low, high = z_true.reshape(-1, 2).min(0), z_true.reshape(-1, 2).max(0)
        pad = 0.3 * (high - low) + 1e-6
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        if _energy_function(model) is not None:
            grid = np.meshgrid(
                np.linspace(low[0] - pad[0], high[0] + pad[0], 60),
                np.linspace(low[1] - pad[1], high[1] + pad[1], 60),
            )
            points = jnp.asarray(np.stack(grid, -1).reshape(-1, 2), test_inputs.dtype)
            values = np.asarray(_energy_on(model, points)).reshape(60, 60)
            if np.all(np.isfinite(values)):
                ax.contour(*grid, values, levels=12, linewidths=0.5, cmap="viridis")
        ax.set_title(f"{name}: latent phase space")
        ax.set_xlabel("z1 (q)")
        ax.set_ylabel("z2 (p, or q_t)")
        ax.legend(fontsize="small", loc="upper right")
    path = directory / f"{NAME}_latent.png"
    fig.savefig(path, dpi=100)
    written.append(str(path))

    with_energy = {k: m for k, m in models.items() if _energy_function(m) is not None}
    if with_energy:
        path = directory / f"{NAME}_add_energy.png"
        _add_energy_figure(path, with_energy, latents, predicted, train, system, Figure, n)
        written.append(str(path))
    return written


def _add_energy_figure(path, models, latents, predicted, train, system, Figure, n) -> None:
    """Half-way through the long rollout, energy is added along the learned energy's gradient
    (the paper's experiment); the pendulum then swings higher."""
    half = n // 2
    fig = Figure(figsize=(12.0, 3.3 * len(models)), layout="constrained")
    grid_axes = np.atleast_2d(fig.subplots(len(models), 3))
    train_inputs = train.inputs()
    for row_axes, (name, model) in zip(grid_axes, models.items()):
        ax_latent, ax_energy, ax_frames = row_axes
        z_train = _encode_all(model, train_inputs)
        coefficients = fit_probe(np.asarray(z_train), train.states[:, :-1])
        first = latents[name][: half + 1]
        start = jnp.asarray(first[-1], train_inputs.dtype)
        # The energy to add: as much again as the state has above the lowest training state.
        values = np.asarray(
            _energy_on(model, jnp.concatenate([start[None], z_train.reshape(-1, 2)]))
        )
        amount = float(values[0] - values[1:].min())
        if not (np.all(np.isfinite(first)) and math.isfinite(amount) and amount > 0):
            ax_energy.set_title(f"{name}: the rollout failed before half-way")
            continue
        moved = _add_energy(model, start, jnp.asarray(amount, start.dtype))
        z_after, frames_after = _predict(model, moved[None], n)
        second = np.asarray(z_after[0, : n - half])
        path_z = np.concatenate([first, second], axis=0)
        model_energy = np.asarray(_energy_on(model, jnp.asarray(path_z, start.dtype)))
        true_energy = energies(system, probe_states(coefficients, path_z))
        ax_latent.plot(first[:, 0], first[:, 1], color="C0", label="before")
        ax_latent.plot(second[:, 0], second[:, 1], color="C1", label="after adding energy")
        ax_latent.set_title(f"{name}: latent path")
        ax_latent.legend(fontsize="small")
        steps = np.arange(path_z.shape[0])
        ax_energy.plot(steps, model_energy, color="C2", label="learned energy")
        ax_energy.set_xlabel("frame")
        ax_energy.set_ylabel("learned energy")
        twin = ax_energy.twinx()
        twin.plot(steps, true_energy, color="C3", linewidth=0.8, label="true (probe)")
        twin.set_ylabel("true energy of the probe's state")
        ax_energy.axvline(half, color="0.5", linestyle=":")
        ax_energy.set_title("energy added at the dotted line")
        ax_energy.legend(loc="upper left", fontsize="small")
        twin.legend(loc="lower right", fontsize="small")
        after = np.clip(np.nan_to_num(np.asarray(frames_after[0, : n - half])), 0, 1)
        frames = np.concatenate([predicted[name][: half + 1], after])
        shown = np.linspace(0, frames.shape[0] - 1, 8).astype(int)
        strip = np.concatenate([frames[k] for k in shown], axis=1)
        size = frames.shape[-1]
        ax_frames.imshow(strip, cmap="gray", vmin=0, vmax=1)
        ax_frames.set_xticks((np.arange(len(shown)) + 0.5) * size, [str(k) for k in shown])
        ax_frames.set_yticks([])
        ax_frames.set_title("decoded frames (frame number)")
    fig.savefig(path, dpi=100)


# Entry point ---------------------------------------------------------------------------------


def _extra_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue a partial full run")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop (with checkpoints) after this many minutes; continue with --resume",
    )
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=None,
        help="folder of the training checkpoints (default runs/pixel_pendulum for --full, "
        "inside the output folder for --quick)",
    )
    parser.add_argument("--train-steps", type=int, default=None, help="override the steps")
    parser.add_argument("--trials", type=int, default=None, help="override the trials")
    parser.add_argument("--seeds", type=int, default=None, help="override the seeds")


def _folder(checkpoints: Path, variant: tuple[str, str], seed: int) -> Path:
    name, recipe = variant
    return checkpoints / f"{name}_{recipe}_seed{seed}"


def _figure_variants(config: Config) -> dict[str, tuple[str, str]]:
    """The variant of each model the figures show: the paper's recipe where there is one."""
    chosen: dict[str, tuple[str, str]] = {}
    for name, recipe in sorted(config.variants, key=lambda v: v[1] != "paper"):
        if name in config.figure_models:
            chosen.setdefault(name, (name, recipe))
    return chosen


def _figure_models(config: Config, checkpoints: Path) -> dict:
    """The trained model of each figure variant, from the first seed whose training finished."""
    models = {}
    for name, variant in _figure_variants(config).items():
        if name not in config.figure_models:
            continue
        for seed in range(config.seeds):
            path = _folder(checkpoints, variant, seed) / "model.lzm"
            if path.exists():
                models[name] = lz.load_model(path)
                break
    return models


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__.splitlines()[0], argv, extra=_extra_arguments)
    quick = args.mode == "quick"
    config = QUICK if quick else FULL
    config = _common.with_overrides(
        config, train_steps=args.train_steps, trials=args.trials, seeds=args.seeds
    )
    lz.enable_compilation_cache()
    started = time.perf_counter()
    deadline = None if args.max_minutes is None else started + 60 * args.max_minutes
    directory = _common.output_dir(args, NAME)
    checkpoints = args.checkpoints or (
        directory / "checkpoints" if quick else ROOT / "runs" / NAME
    )
    command = "python benchmarks/pixel_pendulum.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    results_path = directory / f"{NAME}.json"

    data = lz.pixel_pendulum_dataset(
        jax.random.key(config.data_seed),
        trials=config.trials,
        steps=config.steps,
        size=config.size,
        dtype=jnp.float32,
    )
    train, test = data.split(config.test_fraction)
    system = lz.systems.get("pendulum")
    for name, recipe in VARIANTS:  # every variant builds (abstractly: nothing is compiled)
        eqx.filter_eval_shape(build_model, name, recipe, config, jax.random.key(0))

    runs: list[dict] = []
    if args.resume and results_path.exists():
        runs = json.loads(results_path.read_text()).get("runs", [])
        print(f"resuming: {len(runs)} results already in {results_path}", flush=True)
    recipes = dict.fromkeys(recipe for _, recipe in config.variants)
    plan = [
        (variant, seed)
        for recipe in recipes
        for seed in range(config.seeds)
        for variant in config.variants
        if variant[1] == recipe
    ]
    stopped = False
    for variant, seed in plan:
        if any((r["model"], r["recipe"], r["seed"]) == (*variant, seed) for r in runs):
            continue
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            stopped = True
            break
        print(f"{variant[0]} / {variant[1]} / seed {seed} ...", flush=True)
        try:
            run = run_one(
                variant,
                seed,
                config,
                train,
                test,
                system,
                _folder(checkpoints, variant, seed),
                resume=args.resume,
                max_seconds=left,
                quick=quick,
            )
        except FileExistsError as error:
            print(
                f"{error}\nContinue that run with --resume, or delete {checkpoints} to start "
                "afresh.",
                file=sys.stderr,
            )
            return 2
        if run is None:
            stopped = True
            print(f"  stopped by --max-minutes; checkpoints in {checkpoints}", flush=True)
            break
        runs.append(run)
        if run["failed_training"]:
            if not quick:
                write(directory, args.mode, config, runs, partial=True, command=command)
            continue
        print(
            f"  test_loss {run['test_loss']:.4g}  energy_mse "
            f"{run.get('energy_mse', float('nan')):.4g} (probe floor "
            f"{run['energy_mse_probe_floor']:.3g})  failed {run['failed_rollouts']}/"
            f"{run['rollouts']}  {run['seconds']:.0f} s",
            flush=True,
        )
        if not quick:
            write(directory, args.mode, config, runs, partial=True, command=command)
    finished = not stopped
    write(directory, args.mode, config, runs, partial=not finished, command=command)
    # The figures once every model of the first seed has run (again at the end).
    first_seed = {(r["model"], r["recipe"]) for r in runs if r["seed"] == 0}
    drawn = (directory / f"{NAME}_latent.png").exists()
    if finished or (set(_figure_variants(config).values()) <= first_seed and not drawn):
        models = _figure_models(config, checkpoints)
        for path in figures(directory, models, train, test, system, config) if models else ():
            print(f"wrote {path}")
    print(f"wrote {results_path} ({'complete' if finished else 'partial'}, {len(runs)} results)")
    if not finished:
        again = command if args.resume else f"{command} --resume"
        print(f"continue with: {again}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
