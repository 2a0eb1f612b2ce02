"""A Lagrangian graph network learns a string and runs on a grid ten times longer than it saw.

System: the linear string with fixed ends (`lz.systems.get("wave", points=n)`: wave speed 1,
spacing 0.1, density 1). Training grid: `train_points` moving points (`train_points + 1`
segments). Test grids: the training grid itself and one with `scale` times as many segments
(`scale * (train_points + 1) - 1` points): a longer string, never seen in training.

Data (the same for both models): `lz.StateStream` on the training grid with exact
accelerations as targets, fresh states every batch, in float32. The states are those of the
string in thermal equilibrium (`thermal_state`): every point's velocity N(0, v^2), every
segment's stretch N(0, (v dx / c)^2) given that the stretches add up to zero (fixed ends), so
that every mode holds the same mean energy. Every wavelength the grid can hold is in the
data: with the system's own `sample_initial_state` (its first four standing modes) nothing
would constrain the learned dynamics of the shorter ones. Both models are trained with the
same batches (one key).

Models, the same width and depth, steps, batch, optimizer (Adam, cosine decay from
`learning_rate`, gradient clipped to global norm `gradient_clip`) and input statistics (one
mean and scale for positions and one for velocities, pooled over the points):

- `lgn`: `lz.models.LGN` (neighbourhood 1, fixed ends: a density on every edge, ghosts at
  rest beyond the ends, and one per point; accelerations by the banded Euler-Lagrange solve);
- `baseline`: a shared MLP from the (q, q_t) of a point and its two neighbours (ghosts at
  rest beyond the ends) to the point's acceleration (`LocalAcceleration` below): the same
  locality and the same size transfer, without a Lagrangian;
- `exact`: the true system, not trained, integrated by the same solver: the floor that the
  integrator alone sets.

Test: `initial_states` states per test grid, drawn once (the same for every model and seed):
superpositions of four standing modes (`initial_states`: on the training grid its first four,
as `Wave.sample_initial_state` draws them; on the long string the modes `scale * k`,
k = 1..4, which have the same wavelengths in grid points), so locally the long string moves
as the short one does while globally it is a string the models never saw. Every model is
rolled out for `rollout_steps` steps of `dt` by `lz.rollout` (Tsit5, adaptive, in float64, at
`rtol`/`atol`, saved every `save_every` steps) and compared with the exact solution (the
string's normal modes in closed form: no integration error):

- `energy_drift`: max over the rollout of |E(y_t) - E(y_0)| / E(y_0), E the true energy;
  median over rollouts (and seeds), `energy_drift_max` the largest;
- `learned_energy_drift` (LGN): the same for the LGN's own energy, in units of the true
  E(y_0): what the integrator does to the quantity the model conserves;
- `state_rmse_step_<k>`: the root mean square error of the state [q, q_t] after k steps,
  over every point and rollout (`true_state_rms` is the size of the true state);
- `failed_rollouts`: rollouts that went non-finite or stopped, or whose true energy error
  exceeded 1 (more than doubled: they left the physical range); counted, never dropped. The
  errors above are over the others, and the median energy drift takes a failed rollout as the
  worst value; `energy_drift_max` is over the rollouts that did not fail;
- `acceleration_rmse`: the error of q_tt on the test initial states;
- `train_seconds`, `rollout_seconds`: wall-clock time on the machine in `machine`.

Figures: `lgn_wave.png` (energy error and state error over time on the long string) and
`lgn_wave.gif` (the long string at the end of one rollout: true, LGN and baseline), also
copied to `docs/figures/` by a full run.

Full runs write `lgn_wave.json` after every (model, seed), marked `"partial": true` until the
last; training checkpoints go to `runs/lgn_wave/` (or `--checkpoints`), so `--resume`
continues an interrupted training run, and `--max-minutes M` stops between runs.

    python benchmarks/lgn_wave.py --quick           # smoke run (about 30 s), a temporary folder
    python benchmarks/lgn_wave.py --full            # writes benchmarks/results/
    python benchmarks/lgn_wave.py --full --resume --max-minutes 20
"""

import argparse
import dataclasses
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import jax


jax.config.update("jax_enable_x64", True)  # rollouts and truth in float64

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jaxtyping import Array, Float, PRNGKeyArray  # noqa: E402


sys.path.insert(0, str(Path(__file__).resolve().parent))
import lagrangian_zoo as lz  # noqa: E402

import _common  # noqa: E402


NAME = "lgn_wave"
ROOT = Path(__file__).resolve().parents[1]
DOCS_FIGURES = ROOT / "docs" / "figures"
MODELS = ("lgn", "baseline")
# A rollout whose true energy left [0, 2 E(0)] has failed: counted, never averaged in.
DIVERGED = 1.0
TEST_MODES = 4  # standing modes per test state, as in `Wave.sample_initial_state`


@dataclasses.dataclass(frozen=True)
class Config:
    train_points: int
    scale: int  # the long test grid has `scale` times the training grid's segments
    test_on_train_grid: bool
    width: int
    depth: int
    train_steps: int
    batch_size: int
    learning_rate: float
    gradient_clip: float
    velocity_std: float  # of the thermal training states
    seeds: int
    initial_states: int
    rollout_steps: int
    dt: float
    save_every: int
    horizons: tuple[int, ...]
    rtol: float
    atol: float
    max_solver_steps: int
    gif_frames: int
    curve_points: int  # samples of the error curves kept in the results file


FULL = Config(
    train_points=16,
    scale=10,
    test_on_train_grid=True,
    width=32,
    depth=2,
    train_steps=6000,
    batch_size=64,
    learning_rate=3e-3,
    gradient_clip=1.0,
    velocity_std=1.0,
    seeds=3,
    initial_states=4,
    rollout_steps=10_000,
    dt=0.01,
    save_every=10,
    horizons=(100, 1000, 10_000),
    rtol=1e-6,
    atol=1e-8,
    max_solver_steps=50_000,
    gif_frames=60,
    curve_points=201,
)
QUICK = Config(
    train_points=4,
    scale=10,
    test_on_train_grid=False,
    width=16,
    depth=2,
    train_steps=150,
    batch_size=32,
    learning_rate=3e-3,
    gradient_clip=1.0,
    velocity_std=1.0,
    seeds=1,
    initial_states=2,
    rollout_steps=200,
    dt=0.01,
    save_every=10,
    horizons=(10, 100, 200),
    rtol=1e-6,
    atol=1e-8,
    max_solver_steps=20_000,
    gif_frames=10,
    curve_points=21,
)


# The baseline ---------------------------------------------------------------------------------


class LocalAcceleration(eqx.Module):
    r"""The baseline: one MLP, shared by every point, from a neighbourhood to an acceleration.

    $$\ddot q_i = f_\theta(x_{i-r}, \dots, x_{i+r}), \qquad x_j = \big((q_j - \mu_q)/s_q,\
    (\dot q_j - \mu_{\dot q})/s_{\dot q}\big),$$
    with ghost points at rest beyond fixed ends; $\dot q$ passes through exactly. It is as
    local as the LGN and runs on any grid size, but nothing ties it to an energy.
    """

    network: lz.models.MLP
    normaliser: lz.models.Normaliser  # one site's (q, q_t) statistics; not trained
    dof: int = eqx.field(static=True)
    neighbourhood: int = eqx.field(static=True)

    @classmethod
    def build(
        cls, dof: int, *, key: PRNGKeyArray, width: int, depth: int, neighbourhood: int = 1
    ) -> "LocalAcceleration":
        network = lz.models.MLP(
            2 * (2 * neighbourhood + 1), 1, (width,) * depth, activation="softplus", key=key
        )
        normaliser = lz.models.Normaliser.identity((False,))
        return cls(network, normaliser, dof, neighbourhood)

    def adapt(self, states: Float[Array, "batch state"]) -> "LocalAcceleration":
        """A copy holding the position and velocity statistics of `states`, pooled over the
        points (as `LGN.adapt` pools them)."""
        n = self.dof
        sites = jnp.stack([states[:, :n].reshape(-1), states[:, n:].reshape(-1)], axis=1)
        return eqx.tree_at(lambda m: m.normaliser, self, self.normaliser.adapt(sites))

    def resized(self, dof: int) -> "LocalAcceleration":
        """The same network on a grid of `dof` points."""
        return dataclasses.replace(self, dof=dof)

    def __call__(self, t, y: Float[Array, " state"], args) -> Float[Array, " state"]:
        del t, args
        n, r = self.dof, self.neighbourhood
        if y.shape != (2 * n,):
            raise ValueError(
                f"LocalAcceleration with dof={n} expects a state of shape ({2 * n},), got "
                f"{y.shape}; use model.resized(m) for a grid of m points."
            )
        q, q_t = y[:n], y[n:]
        mean, scale = self.normaliser.mean, self.normaliser.scale
        sites = (jnp.stack([q, q_t], axis=1) - mean[None]) / scale[None]
        ghosts = jnp.broadcast_to(-mean / scale, (r, 2))
        padded = jnp.concatenate([ghosts, sites, ghosts])
        windows = jnp.concatenate([padded[k : k + n] for k in range(2 * r + 1)], axis=1)
        acceleration = jax.vmap(self.network)(windows)[:, 0]
        return jnp.concatenate([q_t, acceleration])


# The string and its exact solution -----------------------------------------------------------


def string(points: int):
    return lz.systems.get("wave", points=points, boundary="fixed")


def test_points(config: Config) -> list[int]:
    long = config.scale * (config.train_points + 1) - 1
    return [config.train_points, long] if config.test_on_train_grid else [long]


def initial_states(system, factor: int, count: int, key: PRNGKeyArray) -> Array:
    """Superpositions of the modes `factor * k`, k = 1..4, amplitudes N(0, 0.1^2) and rates
    N(0, (0.1 omega)^2): on a grid of `factor` times the short string's segments, these
    modes have the wavelengths (in grid points) of the short string's first four."""
    shapes, omegas = system.modes(factor * TEST_MODES)
    chosen = factor * np.arange(1, TEST_MODES + 1) - 1
    shapes, omegas = shapes[chosen], omegas[chosen]
    position_key, velocity_key = jax.random.split(key)
    amplitudes = 0.1 * jax.random.normal(position_key, (count, TEST_MODES))
    rates = 0.1 * omegas[None, :] * jax.random.normal(velocity_key, (count, TEST_MODES))
    return jnp.concatenate([amplitudes @ shapes, rates @ shapes], axis=1)


@jax.jit
def exact_solution(shapes, omegas, y0, ts):
    """The fixed-ends linear string in closed form: each normal mode oscillates at its own
    frequency. `shapes` are all n modes (orthogonal, squared norm (n + 1) / 2)."""
    n = shapes.shape[0]
    a = y0[:, :n] @ shapes.T * (2 / (n + 1))
    b = y0[:, n:] @ shapes.T * (2 / (n + 1))
    phase = omegas[None, None, :] * ts[None, :, None]
    cos, sin = jnp.cos(phase), jnp.sin(phase)
    q = (a[:, None] * cos + (b / omegas[None])[:, None] * sin) @ shapes
    q_t = (-(a * omegas[None])[:, None] * sin + b[:, None] * cos) @ shapes
    return jnp.concatenate([q, q_t], axis=-1)


def truth(system, y0, ts):
    shapes, omegas = system.modes(system.points)
    return exact_solution(shapes, omegas, y0, ts)


# Training ------------------------------------------------------------------------------------


@eqx.filter_jit
def draw(stream: lz.StateStream, key: PRNGKeyArray, count: int) -> Float[Array, "count state"]:
    return stream.sample(key, count)[0]


@eqx.filter_jit
def adapted(model, states: Float[Array, "batch state"]):
    return model.adapt(states)


def build_model(name: str, config: Config, key: PRNGKeyArray, states):
    n = config.train_points
    if name == "lgn":
        model = lz.models.LGN(
            n, key=key, width=config.width, depth=config.depth, init="default", checks=False
        )
    else:
        model = LocalAcceleration.build(n, key=key, width=config.width, depth=config.depth)
    return lz.cast_floating(adapted(model, states), jnp.float32)


def thermal_state(system, velocity_std: float, key: PRNGKeyArray) -> Float[Array, " state"]:
    """A state of the fixed-ends string drawn from its thermal equilibrium: velocities
    N(0, velocity_std^2), stretches of the n + 1 segments N(0, (velocity_std dx / c)^2) given
    that they add up to zero (both ends at rest), so every mode has the same mean energy."""
    n = system.points
    velocity_key, stretch_key = jax.random.split(key)
    stretch_std = velocity_std * system.spacing / system.wave_speed
    stretches = stretch_std * jax.random.normal(stretch_key, (n + 1,))
    # For independent Gaussians, removing the mean gives them conditioned on their sum.
    q = jnp.cumsum(stretches - jnp.mean(stretches))[:n]
    q_t = velocity_std * jax.random.normal(velocity_key, (n,))
    return jnp.concatenate([q, q_t])


def training_stream(system, velocity_std: float) -> lz.StateStream:
    def sampler(key):
        return thermal_state(system, velocity_std, key).astype(jnp.float32)

    return lz.StateStream(lz.cast_floating(system, jnp.float32), sampler=sampler)


def optimizer(config: Config) -> optax.GradientTransformation:
    return _common.clipped_adam(config.learning_rate, config.train_steps, config.gradient_clip)


def train(name, seed, config, stream, states, folder: Path, *, resume: bool, quick: bool):
    """Trains one model; `states` give both models the same input statistics."""
    model_key, train_key = jax.random.split(jax.random.key(seed))
    model = build_model(name, config, model_key, states)
    model, history = lz.fit(
        model,
        stream,
        steps=config.train_steps,
        batch_size=config.batch_size,
        optimizer=optimizer(config),
        # The same key for both models: they see the same batches.
        key=train_key,
        adapt=False,
        checkpoint_dir=None if quick else folder,
        resume=resume and not quick,
        progress=False,
        log_every=max(config.train_steps // 20, 1),
    )
    return lz.cast_floating(model, jnp.float64), history


def resized(model, points: int):
    return model if model.dof == points else model.resized(points)


# Evaluation ----------------------------------------------------------------------------------


def times(config: Config) -> np.ndarray:
    saved = np.arange(0, config.rollout_steps + 1, config.save_every)
    return saved * config.dt


@eqx.filter_jit
def energies(dynamics, system, y0, ys, true_ys):
    """The true energy at the start and along `ys`, the LGN's own energy along `ys` (`None`
    for other models), and the mean squared error of the accelerations at `y0`."""
    states = jnp.where(jnp.isfinite(ys), ys, 0.0)
    initial = lz.energy_along(system.energy, true_ys[:, :1])
    energy = lz.energy_along(system.energy, states)
    learned = None
    if isinstance(dynamics, lz.models.LGN):
        learned = lz.energy_along(dynamics.energy, states)
    n = system.points
    rates = jax.vmap(lambda y: dynamics(0.0, y, None))(y0)
    true_rates = jax.vmap(lambda y: system(0.0, y, None))(y0)
    return initial, energy, learned, jnp.mean((rates[:, n:] - true_rates[:, n:]) ** 2)


def score(dynamics, system, y0, true_ys, config: Config) -> tuple[dict[str, Any], Any]:
    """Rolls `dynamics` out from `y0` and compares with the exact `true_ys`."""
    ts = jnp.asarray(times(config))
    start = time.perf_counter()
    ys = lz.rollout(
        dynamics,
        y0,
        ts,
        solver="tsit5",
        rtol=config.rtol,
        atol=config.atol,
        max_steps=config.max_solver_steps,
        checks=False,
    )
    ys = np.asarray(jax.block_until_ready(ys))
    rollout_seconds = time.perf_counter() - start
    initial, energy, learned, acceleration_error = energies(dynamics, system, y0, ys, true_ys)
    true_ys, initial, energy = np.asarray(true_ys), np.asarray(initial), np.asarray(energy)
    energy_error = np.abs(energy - initial) / initial  # (rollouts, times)
    # Failed: non-finite, or the energy error passed DIVERGED (written so nan counts).
    finite = np.all(np.isfinite(ys), axis=(1, 2)) & (energy_error.max(axis=1) <= DIVERGED)
    error = ys - true_ys
    row: dict[str, Any] = {
        "rollouts": int(ys.shape[0]),
        "failed_rollouts": int((~finite).sum()),
        "rollout_seconds": rollout_seconds,
        "true_state_rms": float(np.sqrt(np.mean(true_ys**2))),
        "energy_drifts": energy_error[finite].max(axis=1).tolist(),
    }
    for k in config.horizons:
        index = k // config.save_every
        row[f"squared_error_step_{k}"] = (
            float(np.mean(error[finite, index] ** 2)) if finite.any() else None
        )
    if learned is not None and finite.any():
        learned = np.asarray(learned)[finite]
        drift = np.abs(learned - learned[:, :1]) / initial[finite]
        row["learned_energy_drifts"] = drift.max(axis=1).tolist()
    row["acceleration_squared_error"] = float(acceleration_error)
    # Curves for the figure: the median over finite rollouts, at `curve_points` times.
    keep = np.linspace(0, ys.shape[1] - 1, config.curve_points).round().astype(int)
    if finite.any():
        state_error = np.sqrt(np.mean(error[finite] ** 2, axis=2))
        row["curves"] = {
            "step": (keep * config.save_every).tolist(),
            "energy_error": np.median(energy_error[finite][:, keep], axis=0).tolist(),
            "state_rmse": np.median(state_error[:, keep], axis=0).tolist(),
        }
    return row, ys


def animation_data(ys, true_ys, config: Config) -> dict[str, np.ndarray]:
    """What the GIF shows of the first rollout: its last `gif_frames` saved states."""
    return {
        "model": np.asarray(ys[0, -config.gif_frames :]),
        "truth": true_ys[0, -config.gif_frames :],
    }


# Runs ----------------------------------------------------------------------------------------


def run_one(name, seed, config, stream, states, tests, folder: Path, *, resume, quick) -> dict:
    if name == "exact":
        models = {points: test["system"] for points, test in tests.items()}
        seconds, final_loss, parameters = None, None, None
    else:
        model, history = train(
            name, seed, config, stream, states, folder, resume=resume, quick=quick
        )
        models = {points: resized(model, points) for points in tests}
        seconds = float(history.seconds[-1])
        final_loss = float(history.train_loss[-1])
        parameters = sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))
        parameters -= model.normaliser.mean.size + model.normaliser.scale.size
    run: dict[str, Any] = {
        "model": name,
        "seed": seed,
        "train_points": config.train_points,
        "train_steps": None if name == "exact" else config.train_steps,
        "train_seconds": seconds,
        "final_train_loss": final_loss,
        "parameters": parameters,
        "tests": {},
    }
    for points, test in tests.items():
        row, ys = score(models[points], test["system"], test["y0"], test["truth"], config)
        run["tests"][str(points)] = row
        if name != "exact" and seed == 0 and points == max(tests):
            folder.mkdir(parents=True, exist_ok=True)
            frames = animation_data(ys, np.asarray(test["truth"]), config)
            lz.atomic_write(folder / "animation.npz", lambda file: np.savez(file, **frames))
    return run


def summarise(runs: list[dict], config: Config) -> list[dict]:
    rows = []
    for points in test_points(config):
        for name in ("exact", *MODELS):
            done = [r for r in runs if r["model"] == name]
            if not done:
                continue
            tests = [r["tests"][str(points)] for r in done]
            drifts = [d for t in tests for d in t["energy_drifts"]]
            failed = sum(t["failed_rollouts"] for t in tests)
            row: dict[str, Any] = {
                "model": name,
                "train_points": None if name == "exact" else config.train_points,
                "test_points": points,
                "steps": config.rollout_steps,
                "dt": config.dt,
                "seeds": None if name == "exact" else len(done),
                "parameters": done[0]["parameters"],
                "rollouts": sum(t["rollouts"] for t in tests),
                "failed_rollouts": failed,
                # The median over every rollout, a failed one counting as the worst.
                "energy_drift": float(np.median(drifts + [math.inf] * failed)),
                "energy_drift_max": float(np.max(drifts)) if drifts else None,
            }
            learned = [d for t in tests for d in t.get("learned_energy_drifts", [])]
            row["learned_energy_drift"] = float(np.median(learned)) if learned else None
            for k in config.horizons:
                # Pooled over rollouts: the mean squared error of every seed, weighted by its
                # finite rollouts.
                pairs = [
                    (t[f"squared_error_step_{k}"], t["rollouts"] - t["failed_rollouts"])
                    for t in tests
                    if t[f"squared_error_step_{k}"] is not None
                ]
                weight = sum(w for _, w in pairs)
                row[f"state_rmse_step_{k}"] = (
                    math.sqrt(sum(v * w for v, w in pairs) / weight) if weight else None
                )
            row["true_state_rms"] = tests[0]["true_state_rms"]
            row["acceleration_rmse"] = math.sqrt(
                float(np.mean([t["acceleration_squared_error"] for t in tests]))
            )
            train_seconds = [r["train_seconds"] for r in done if r["train_seconds"] is not None]
            row["train_seconds"] = float(np.mean(train_seconds)) if train_seconds else None
            row["rollout_seconds"] = float(np.mean([t["rollout_seconds"] for t in tests]))
            rows.append(row)
    return rows


def columns(config: Config) -> list[str]:
    return [
        "model",
        "train_points",
        "test_points",
        "steps",
        "seeds",
        "rollouts",
        "failed_rollouts",
        "energy_drift",
        "energy_drift_max",
        "learned_energy_drift",
        *(f"state_rmse_step_{k}" for k in config.horizons),
        "true_state_rms",
        "acceleration_rmse",
        "parameters",
        "train_seconds",
        "rollout_seconds",
    ]


def write(directory: Path, mode: str, config: Config, runs, *, partial: bool, command: str):
    rows = summarise(runs, config)
    settings = {
        "system": "wave: linear string, fixed ends, wave speed 1, spacing 0.1, density 1",
        "training_data": "lz.StateStream on the training grid: thermal states (velocities "
        "N(0, velocity_std^2), stretches N(0, (velocity_std dx / c)^2) adding up to zero), "
        "exact accelerations, float32; the same batches for both models",
        "test_states": "superpositions of modes scale*k, k = 1..4, of the test grid (the "
        "training modes' wavelengths in grid points), the training amplitudes; drawn once",
        "truth": "closed-form normal-mode solution of the discrete string",
        "solver": "lz.rollout, tsit5, float64",
        "optimizer": "optax.chain(clip_by_global_norm(gradient_clip), adam(cosine decay "
        "from learning_rate to 0))",
        "loss": "l2 on (q_t, q_tt) (fit's default)",
        "test_points": test_points(config),
        **dataclasses.asdict(config),
        "command": command,
    }
    notes = [
        f"A string of {config.train_points} points (fixed ends) in training; rollouts of "
        f"{config.rollout_steps} steps of dt = {config.dt} on the training grid and on one "
        f"with {config.scale}x the segments, against the exact solution. `energy_drift`: "
        "max over the rollout of |E(t) - E(0)| / E(0) (true energy), median over rollouts "
        "and seeds (a failed rollout as the worst); `learned_energy_drift`: the LGN's own "
        "energy, in units of E(0); `state_rmse_step_k`: RMS error of [q, q_t] after k steps "
        "(`true_state_rms` for scale); `failed_rollouts` went non-finite or more than doubled "
        "their energy (left the physical range), and are left out of the other columns; "
        "seconds on a shared 2-core CPU. `exact` is the true system through the same solver.",
    ]
    _common.write_run_results(
        directory,
        NAME,
        mode,
        settings,
        rows,
        runs,
        partial=partial,
        columns=columns(config),
        title="LGN on the wave equation: a string ten times longer than in training",
        notes=notes,
    )


# Figures -------------------------------------------------------------------------------------


COLOURS = {"exact": "tab:gray", "lgn": "tab:blue", "baseline": "tab:red"}


def figure(runs: list[dict], config: Config, path: Path) -> None:
    """Energy error and state error over the rollout on the long grid, per model and seed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    points = str(max(test_points(config)))
    fig = Figure(figsize=(7.0, 5.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    labelled = set()
    for run in runs:
        curves = run["tests"][points].get("curves")
        if curves is None:
            continue
        name = run["model"]
        label = None
        if name not in labelled:
            tests = [r["tests"][points] for r in runs if r["model"] == name]
            failed = sum(t["failed_rollouts"] for t in tests)
            rollouts = sum(t["rollouts"] for t in tests)
            label = f"{name}: {failed} failed of {rollouts}"
        labelled.add(name)
        t = np.asarray(curves["step"]) * config.dt
        style = dict(color=COLOURS[name], linewidth=1.0, alpha=0.8, label=label)
        top.plot(t, np.maximum(curves["energy_error"], 1e-12), **style)
        bottom.plot(t, np.maximum(curves["state_rmse"], 1e-12), **{**style, "label": None})
    top.set_yscale("log")
    top.set_ylim(1e-6, 1e2)  # a diverged rollout leaves the axes
    top.set_ylabel("|E(t) - E(0)| / E(0)")
    top.set_title(
        f"String of {points} points (trained on {config.train_points}); median over "
        f"{config.initial_states} rollouts, one line per seed"
    )
    top.legend(fontsize="small")
    top.grid(alpha=0.3, which="both")
    size = runs[0]["tests"][points]["true_state_rms"]
    bottom.axhline(
        size, color="black", linestyle=":", linewidth=1.0, label="RMS of the true state"
    )
    bottom.legend(fontsize="small", loc="lower right")
    bottom.set_yscale("log")
    bottom.set_ylim(1e-7, 1e2)
    bottom.set_ylabel("state RMSE")
    bottom.set_xlabel("t")
    bottom.grid(alpha=0.3, which="both")
    with lz.atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=110)


def animation(folders: dict[str, Path], config: Config, path: Path) -> None:
    """The long string at the end of the first rollout: true, LGN and baseline (seed 0)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    frames = {name: np.load(folder / "animation.npz") for name, folder in folders.items()}
    truth = next(iter(frames.values()))["truth"]
    count, width = truth.shape
    n = width // 2
    x = np.arange(1, n + 1) * 0.1
    ts = times(config)[-count:]
    span = 1.3 * np.max(np.abs(truth[:, :n]))
    fig = Figure(figsize=(6.4, 2.6), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0, (n + 1) * 0.1)
    ax.set_ylim(-span, span)
    ax.set_xlabel("x")
    ax.set_ylabel("q")
    # Lines without anti-aliasing keep the GIF's palette small (half the file size).
    (true_line,) = ax.plot([], [], color="black", linewidth=2.5, label="true", antialiased=False)
    lines = {}
    for name in frames:
        (lines[name],) = ax.plot(
            [], [], color=COLOURS[name], linewidth=1.2, label=name, antialiased=False
        )
    fig.legend(loc="outside right center", frameon=False)
    title = ax.set_title("", fontsize="medium")

    def draw(i):
        true_line.set_data(x, truth[i, :n])
        for name, data in frames.items():
            q = data["model"][i, :n]
            lines[name].set_data(x, np.where(np.isfinite(q), np.clip(q, -span, span), np.nan))
        step = int(round(ts[i] / config.dt))
        title.set_text(
            f"{n} points (trained on {config.train_points}): t = {ts[i]:.1f}, step {step} of "
            f"{config.rollout_steps}"
        )
        return [true_line, *lines.values(), title]

    movie = FuncAnimation(fig, draw, frames=count, blit=False)
    with lz.atomic_path(path) as temporary:
        movie.save(temporary, writer=PillowWriter(fps=12), dpi=70)


# Entry point ---------------------------------------------------------------------------------


def _extra_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue a partial full run")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop between runs after this many minutes; continue with --resume",
    )
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=None,
        help="folder of the training checkpoints (default runs/lgn_wave for --full, inside "
        "the output folder for --quick)",
    )


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__.splitlines()[0], argv, extra=_extra_arguments)
    quick = args.mode == "quick"
    config = QUICK if quick else FULL
    lz.enable_compilation_cache()
    started = time.perf_counter()
    directory = _common.output_dir(args, NAME)
    checkpoints = args.checkpoints or (directory / "runs" if quick else ROOT / "runs" / NAME)
    command = "python benchmarks/lgn_wave.py " + " ".join(sys.argv[1:] if argv is None else argv)
    results_path = directory / f"{NAME}.json"

    stream = training_stream(string(config.train_points), config.velocity_std)
    # Input statistics from one large sample of the stream, the same for both models.
    statistics = draw(stream, jax.random.key(10_000), 8192)
    tests = {}
    for points in test_points(config):
        system = string(points)
        factor = (points + 1) // (config.train_points + 1)
        y0 = initial_states(system, factor, config.initial_states, jax.random.key(2024))
        tests[points] = {
            "system": system,
            "y0": y0,
            "truth": truth(system, y0, jnp.asarray(times(config))),
        }

    runs: list[dict] = []
    if args.resume and results_path.exists():
        runs = json.loads(results_path.read_text()).get("runs", [])
        print(f"resuming: {len(runs)} results already in {results_path}", flush=True)
    plan = [("exact", 0)] + [(name, seed) for seed in range(config.seeds) for name in MODELS]
    stopped = False
    for name, seed in plan:
        if any((r["model"], r["seed"]) == (name, seed) for r in runs):
            continue
        if _common.out_of_time(args.max_minutes, started):
            stopped = True
            break
        print(f"{name} / seed {seed} ...", flush=True)
        try:
            run = run_one(
                name,
                seed,
                config,
                stream,
                statistics,
                tests,
                checkpoints / f"{name}_seed{seed}",
                resume=args.resume,
                quick=quick,
            )
        except FileExistsError as error:
            print(
                f"{error}\nContinue that run with --resume, or delete {checkpoints} to start "
                "afresh.",
                file=sys.stderr,
            )
            return 2
        runs.append(run)
        for points, row in run["tests"].items():
            drift = np.median(row["energy_drifts"]) if row["energy_drifts"] else float("nan")
            print(
                f"  {points} points: energy drift {drift:.3g}, failed "
                f"{row['failed_rollouts']}/{row['rollouts']}, rollout "
                f"{row['rollout_seconds']:.1f} s",
                flush=True,
            )
        if not quick:
            write(directory, args.mode, config, runs, partial=True, command=command)
    finished = not stopped and all(
        any((r["model"], r["seed"]) == step for r in runs) for step in plan
    )
    write(directory, args.mode, config, runs, partial=not finished, command=command)
    if finished:
        figure(runs, config, directory / f"{NAME}.png")
        animation(
            {name: checkpoints / f"{name}_seed0" for name in MODELS},
            config,
            directory / f"{NAME}.gif",
        )
        if not quick and args.out is None:
            for suffix in (".png", ".gif"):
                with lz.atomic_path(DOCS_FIGURES / f"{NAME}{suffix}") as temporary:
                    shutil.copyfile(directory / f"{NAME}{suffix}", temporary)
    elapsed = time.perf_counter() - started
    state = "complete" if finished else "partial"
    print(f"wrote {results_path} ({state}, {len(runs)} results) in {elapsed:.0f} s")
    if not finished:
        print("continue with: python benchmarks/lgn_wave.py --full --resume")
    return 0


if __name__ == "__main__":
    sys.exit(main())
