"""Robustness on the double pendulum: how noise and less data change LNN, baseline and HNN.

A grid of training sets made by `lz.generate_dataset` (not the stream): trajectories from the
double pendulum's initial states (angles U[0, 2pi), angular velocities U[0, 0.1), the LNN
paper's energy-test states), with Gaussian noise of standard deviation `noise_std` in
{0, 0.01, 0.1} added to the states (q, q_t) and exact derivatives at the clean states, of which
a quarter, a half or all of the trajectories are trained on (nested: the quarter is the first
quarter of the half). Models, each with the same network size, loss, optimizer, minibatch
keys and number of steps (see `config` in the results file):

- `lnn`: `lz.models.LNN` as it comes (the paper's initialisation, no prior), angles embedded
  as (cos q, sin q);
- `lnn_prior`: the same with Equinox's initialisation and the mass prior
  (`LNN(init="default", mass_prior=True)`): on this grid it fails fewer rollouts than `lnn`,
  and drifts more in energy;
- `baseline`: the LNN paper's baseline, an MLP that predicts q_tt
  (`lz.models.Baseline(predict="acceleration")`);
- `hnn`: `lz.models.HNN` in canonical coordinates, trained on the same noisy states mapped by
  the true Legendre map p = dL/dq_t (the noise enters through the measured q and q_t, as for
  the others), with the exact canonical derivatives as targets.

Metrics, on held-out clean data (other initial states of the same distribution):

- `test_loss`: the MSE of (q_t, q_tt) on the states of the held-out trajectories, in velocity
  coordinates for every model (the HNN's p_t is converted by the true mass matrix);
- `test_loss_l1_acceleration`: the mean absolute error of q_tt there (the LNN paper's loss);
- `energy_discrepancy_percent`: the LNN paper's metric (`lz.metrics.energy_discrepancy`),
  |E_true - E_pred| / (3 m g l) at the last time, over the held-out initial states rolled out
  to `t_end_rollout` (shorter than the paper's t = 100, to fit the grid in the budget); the
  truth by Dopri8 at tolerance 1e-10, the models (trained in float32) by Tsit5 at rtol 1e-7,
  atol 1e-9, both in float64, averaged over the rollouts that did not fail;
  `energy_discrepancy_median_percent` is the median over every rollout of every seed, a
  failed one counting as the worst value, and `energy_discrepancy_mean_percent` averages over
  time;
- `failed_rollouts`: rollouts that failed, summed over seeds: non-finite (stopped at
  `max_rollout_steps` or blown up), or with an energy error above 100 % of 3 m g l at any time
  (`lz.metrics.failed_rollouts`). Runs scored before that rule kept only the final energy
  error, so for them the rule reads it at the last time; their time average is unknown (nan)
  where the rule fails a rollout it had kept.

`--lnn-variants` trains only the LNN on one cell (no noise, all the data, seed 0), with and
without the mass prior and with either initialisation (`robustness_lnn_variants.md`).

Full runs write `robustness.json` after every (noise, fraction, model, seed), marked
`"partial": true` until the last one: these results are the checkpoints. `--resume` continues
from them, and `--max-minutes` stops a run between two results, so that a run can be sliced.
"""

import dataclasses
import functools
import math
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax


sys.path.insert(0, str(Path(__file__).resolve().parent))
import lagrangian_zoo as lz  # noqa: E402

import _common  # noqa: E402
from _coordinates import velocity_derivatives  # noqa: E402


NAME = "robustness"
SYSTEM = "double_pendulum"
MODELS = ("lnn", "lnn_prior", "baseline", "hnn")
COLOURS = {"lnn": "tab:blue", "lnn_prior": "tab:purple", "baseline": "tab:red", "hnn": "tab:green"}
# Each model's initial parameters come from the seed's key folded with this number; both LNNs
# share theirs.
KEY_INDEX = {"lnn": 0, "lnn_prior": 0, "baseline": 1, "hnn": 2}


@dataclasses.dataclass(frozen=True)
class Config:
    noise_levels: tuple[float, ...]
    fractions: tuple[float, ...]
    width: int
    depth: int
    steps: int
    batch_size: int
    learning_rate: float
    gradient_clip: float
    seeds: int
    train_trajectories: int  # all of the training data; the fractions take the first ones
    test_trajectories: int
    t_end: float  # of the training and held-out trajectories
    samples: int
    t_end_rollout: float
    rollout_samples_per_unit_time: int
    max_rollout_steps: int
    activation: str = "softplus"
    loss: str = "l1"  # the LNN paper's


FULL = Config(
    noise_levels=(0.0, 0.01, 0.1),
    fractions=(0.25, 0.5, 1.0),
    width=128,
    depth=3,
    steps=5000,
    batch_size=256,
    # On the cell (noise 0, all data) at 5000 steps, 3e-3 gave the baseline an L1 error of q_tt
    # of 0.63 against 2.67 at 1e-3, and the LNN 2.2 against 3.5; every model gets it.
    learning_rate=3e-3,
    gradient_clip=1.0,
    seeds=2,
    train_trajectories=64,
    test_trajectories=16,
    t_end=5.0,
    samples=50,
    t_end_rollout=10.0,
    rollout_samples_per_unit_time=10,
    max_rollout_steps=10_000,
)
QUICK = dataclasses.replace(
    FULL,
    noise_levels=(0.0, 0.1),
    fractions=(0.5,),
    seeds=1,
    width=16,
    depth=1,
    steps=30,
    train_trajectories=8,
    test_trajectories=2,
    t_end=1.0,
    samples=10,
    t_end_rollout=1.0,
    max_rollout_steps=2000,
)


# Data ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Data:
    """Float32 training sets per noise level (all trajectories), clean held-out data and the
    held-out rollouts' truth."""

    train: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]]  # noise -> kind -> (y, dy)
    ts: np.ndarray
    test_y: np.ndarray  # (B, T, 4), clean, velocity coordinates
    test_dy: np.ndarray
    rollout_ts: np.ndarray
    rollout_truth: np.ndarray  # (B, T', 4)


def make_data(config: Config) -> Data:
    """One draw of trajectories (one compiled solve): the first ones train, the last ones,
    clean, are held out."""
    ts = np.linspace(0.0, config.t_end, config.samples)
    count = round(config.t_end_rollout * config.rollout_samples_per_unit_time) + 1
    rollout_ts = np.linspace(0.0, config.t_end_rollout, count)
    total = config.train_trajectories + config.test_trajectories
    train_rows = slice(None, config.train_trajectories)
    train = {}
    with jax.enable_x64(True):
        system = lz.systems.get(SYSTEM)
        times = jnp.asarray(ts, jnp.float64)

        def draw(**kwargs):
            # One key for every call: the same trajectories and the same normal draws.
            return lz.generate_dataset(
                system, jax.random.key(0), trajectories=total, ts=times, **kwargs
            )

        clean = draw()
        # The exact canonical derivatives at the clean states.
        canonical_dy = np.asarray(draw(coordinates="canonical").dy)[train_rows]
        for noise in config.noise_levels:
            velocity = draw(noise_std=noise) if noise else clean
            y = velocity.y[train_rows]
            train[noise] = {
                "velocity": (np.asarray(y), np.asarray(velocity.dy)[train_rows]),
                "canonical": (np.asarray(lz.to_canonical(system.lagrangian, y)), canonical_dy),
            }
        test_y = clean.y[config.train_trajectories :]
        truth = lz.rollout(
            system,
            test_y[:, 0],
            jnp.asarray(rollout_ts, jnp.float64),
            solver="dopri8",
            rtol=1e-10,
            atol=1e-10,
            max_steps=1_000_000,
        )
        return Data(
            train=train,
            ts=ts,
            test_y=np.asarray(test_y),
            test_dy=np.asarray(clean.dy[config.train_trajectories :]),
            rollout_ts=rollout_ts,
            rollout_truth=np.asarray(truth),
        )


def training_set(data: Data, noise: float, fraction: float, kind: str) -> lz.Dataset:
    y, dy = data.train[noise][kind]
    count = max(1, round(fraction * y.shape[0]))
    return lz.Dataset(
        jnp.asarray(data.ts, jnp.float32),
        jnp.asarray(y[:count], jnp.float32),
        jnp.asarray(dy[:count], jnp.float32),
        # The noise level stays out of the metadata (static in the pytree): one compiled
        # training loop serves every level.
        {"system": SYSTEM, "coordinates": kind, "benchmark": NAME},
    )


# Models and training ------------------------------------------------------------------------


# The two LNNs' construction options; `--lnn-variants` trains each of `LNN_VARIANTS`.
LNN_OPTIONS = {
    "lnn": {"init": "lnn", "mass_prior": False},  # the library's default `LNN()`
    "lnn_prior": {"init": "default", "mass_prior": True},
}
LNN_VARIANTS = {
    "Equinox's initialisation, mass prior (lnn_prior)": LNN_OPTIONS["lnn_prior"],
    "Equinox's initialisation, no prior": {"init": "default", "mass_prior": False},
    "the paper's initialisation, mass prior": {"init": "lnn", "mass_prior": True},
    "the paper's initialisation, no prior (lnn, the default)": LNN_OPTIONS["lnn"],
}


def build_model(model_name: str, config: Config, system, key, lnn_options=None):
    sizes: dict[str, Any] = dict(
        width=config.width, depth=config.depth, activation=config.activation
    )
    periodic = system.periodic
    if model_name in LNN_OPTIONS:
        # Without checks a singular learned mass matrix gives a failed rollout, counted. Two
        # LNNs: the default one (the paper's initialisation) and one with Equinox's
        # initialisation and the mass prior (a free particle's kinetic energy added to the
        # network's Lagrangian); `--lnn-variants` measures the other two combinations.
        options = LNN_OPTIONS[model_name] if lnn_options is None else lnn_options
        return lz.models.LNN(2, key=key, checks=False, periodic=periodic, **options, **sizes)
    if model_name == "baseline":
        return lz.models.Baseline(2, key=key, predict="acceleration", periodic=periodic, **sizes)
    if model_name == "hnn":
        return lz.models.HNN(2, key=key, coordinates="canonical", periodic=periodic, **sizes)
    raise ValueError(f"unknown model {model_name!r}; known: {', '.join(MODELS)}")


@functools.cache  # one optimizer object per config: `fit` reuses its compiled loop
def optimizer(config: Config) -> optax.GradientTransformation:
    return _common.clipped_adam(config.learning_rate, config.steps, config.gradient_clip)


def evaluate(model, system, data: Data, config: Config) -> dict[str, Any]:
    n = system.dof
    y = jnp.asarray(data.test_y.reshape(-1, 2 * n), jnp.float32)
    dy = jnp.asarray(data.test_dy.reshape(-1, 2 * n), jnp.float32)
    predicted = velocity_derivatives(model, system, y)
    test_loss = float(lz.metrics.derivative_mse(predicted, dy))
    l1 = float(jnp.mean(jnp.abs(predicted[:, n:] - dy[:, n:])))

    with jax.enable_x64(True):
        system64 = lz.systems.get(SYSTEM)
        start = time.perf_counter()
        # The model trained in float32, rolled out in float64 (at rtol 1e-7 a float32 solve
        # sits at its rounding floor), from velocity states whatever states it takes.
        rolled = np.asarray(
            lz.rollout(
                model,
                data.rollout_truth[:, 0],
                data.rollout_ts,
                rtol=1e-7,
                atol=1e-9,
                checks=False,
                max_steps=config.max_rollout_steps,
                dtype=jnp.float64,
                lagrangian=system64.lagrangian,
            )
        )
        rollout_seconds = time.perf_counter() - start
        truth = jnp.asarray(data.rollout_truth, jnp.float64)
        predicted = jnp.asarray(rolled)
        scale = float(system64.max_potential_energy)
        # Failed: non-finite, or an energy error above 100 % of the scale at any time.
        failed = np.asarray(
            lz.metrics.failed_rollouts(truth, predicted, energy=system64.energy, scale=scale)
        )
        # Per rollout at the last time (nan where non-finite); their mean is the paper's metric.
        final = 100 * np.asarray(
            lz.metrics.energy_discrepancy(
                system64.energy, truth, predicted, scale=scale, reduction="none"
            )
        )
        over_time = 100 * np.asarray(
            lz.metrics.energy_discrepancy(
                system64.energy, truth, predicted, scale=scale, at="mean", reduction="none"
            )
        )
    kept = ~failed
    return {
        "test_loss": test_loss,
        "test_loss_l1_acceleration": l1,
        "failed_rollouts": int(failed.sum()),
        "rollouts": int(failed.size),
        "rollout_seconds": rollout_seconds,
        "energy_discrepancy_percent": float(final[kept].mean()) if kept.any() else math.nan,
        "energy_discrepancy_mean_percent": (
            float(over_time[kept].mean()) if kept.any() else math.nan
        ),
        # Per rollout, failed ones included: the summary pools them over seeds.
        "energy_discrepancy_percent_per_rollout": final.tolist(),
        "failed_per_rollout": failed.tolist(),
    }


def failed_per_rollout(run: dict) -> np.ndarray:
    """Which rollouts of a run failed. Runs scored before the energy rule hold only the final
    discrepancy: for them a rollout failed when that is non-finite or above 100 %."""
    if "failed_per_rollout" in run:
        return np.asarray(run["failed_per_rollout"], bool)
    final = np.asarray(run["energy_discrepancy_percent_per_rollout"], float)
    return ~(final <= 100)


def under_the_failure_rule(run: dict) -> dict:
    """The run's energy scores and failures with every failed rollout set aside. The time
    average of a run scored before the energy rule cannot drop a rollout it newly fails, so
    it becomes unknown (nan) there."""
    if "failed_per_rollout" in run:
        return run
    failed = failed_per_rollout(run)
    final = np.asarray(run["energy_discrepancy_percent_per_rollout"], float)
    newly = int(failed.sum()) - run["failed_rollouts"]
    return {
        **run,
        "failed_rollouts": int(failed.sum()),
        "energy_discrepancy_percent": float(final[~failed].mean())
        if (~failed).any()
        else math.nan,
        "energy_discrepancy_mean_percent": (
            run["energy_discrepancy_mean_percent"] if newly == 0 else math.nan
        ),
    }


def run_one(
    model_name: str,
    noise: float,
    fraction: float,
    seed: int,
    config: Config,
    system,
    data,
    lnn_options=None,
) -> dict[str, Any]:
    model_key, fit_key = jax.random.split(jax.random.key(seed))
    model_key = jax.random.fold_in(model_key, KEY_INDEX[model_name])
    model = build_model(model_name, config, system, model_key, lnn_options)
    kind = "canonical" if model_name == "hnn" else "velocity"
    train = training_set(data, noise, fraction, kind)
    start = time.perf_counter()
    model, history = lz.fit(
        model,
        train,
        steps=config.steps,
        batch_size=config.batch_size,
        optimizer=optimizer(config),
        loss=config.loss,
        key=fit_key,
        adapt=True,
        progress=False,
        log_every=max(config.steps // 20, 1),
    )
    seconds = time.perf_counter() - start
    return {
        "model": model_name,
        "noise_std": noise,
        "fraction": fraction,
        "trajectories": train.num_trajectories,
        "train_states": int(np.prod(train.y.shape[:-1])),
        "seed": seed,
        "steps": config.steps,
        "seconds": seconds,
        "final_train_loss": float(history.train_loss[-1]),
        **evaluate(model, system, data, config),
    }


# Results and figure -------------------------------------------------------------------------

METRICS = (
    "test_loss",
    "test_loss_l1_acceleration",
    "energy_discrepancy_percent",
    "energy_discrepancy_mean_percent",
    "seconds",
)
COLUMNS = (
    "model",
    "noise_std",
    "fraction",
    "trajectories",
    "train_states",
    "seeds",
    "steps",
    "test_loss",
    "test_loss_std",
    "test_loss_l1_acceleration",
    "energy_discrepancy_percent",
    "energy_discrepancy_percent_std",
    "energy_discrepancy_median_percent",
    "energy_discrepancy_mean_percent",
    "failed_rollouts",
    "rollouts",
    "seconds",
)


def summarise(runs: list[dict], config: Config) -> list[dict]:
    rows = []
    for noise in config.noise_levels:
        for fraction in config.fractions:
            for model_name in MODELS:
                done = [
                    r
                    for r in runs
                    if (r["model"], r["noise_std"], r["fraction"]) == (model_name, noise, fraction)
                ]
                if not done:
                    continue
                done = [under_the_failure_rule(r) for r in done]
                row: dict[str, Any] = {
                    "model": model_name,
                    "noise_std": noise,
                    "fraction": fraction,
                    "trajectories": done[0]["trajectories"],
                    "train_states": done[0]["train_states"],
                    "seeds": len(done),
                    "steps": done[0]["steps"],
                }
                for metric in METRICS:
                    values = np.asarray([r[metric] for r in done], dtype=np.float64)
                    values = values[np.isfinite(values)]
                    row[metric] = float(values.mean()) if values.size else math.nan
                    row[f"{metric}_std"] = float(values.std()) if values.size > 1 else None
                # The median of every rollout of every seed, a failed one as the worst value.
                pooled = np.concatenate(
                    [
                        np.where(
                            failed_per_rollout(r),
                            np.inf,
                            np.asarray(r["energy_discrepancy_percent_per_rollout"], float),
                        )
                        for r in done
                    ]
                )
                row["energy_discrepancy_median_percent"] = float(np.median(pooled))
                row["failed_rollouts"] = int(sum(r["failed_rollouts"] for r in done))
                row["rollouts"] = int(sum(r["rollouts"] for r in done))
                rows.append(row)
    return rows


def figure(rows: list[dict], config: Config, path: Path) -> Path | None:
    """Held-out loss, median energy discrepancy and failed rollouts against the amount of
    training data, one line per (model, noise level)."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    styles = ("-", "--", ":")
    markers = ("o", "s", "^")
    fig = Figure(figsize=(14.0, 5.6), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = (
        ("test_loss", "held-out MSE of (q_t, q_tt)", True),
        (
            "energy_discrepancy_median_percent",
            f"energy discrepancy at t = {config.t_end_rollout:g}, % of 3mgl\n"
            "(median over the rollouts, a failed one as the worst)",
            True,
        ),
        ("failed_rollouts", f"failed rollouts (of {max(r['rollouts'] for r in rows)})", False),
    )
    sizes = sorted({r["train_states"] for r in rows})
    for axis, (metric, label, log) in zip(axes, panels):
        for model_name in MODELS:
            for index, noise in enumerate(config.noise_levels):
                line = [r for r in rows if (r["model"], r["noise_std"]) == (model_name, noise)]
                if not line:
                    continue
                # Models side by side around each size, so that equal values stay visible.
                shift = 1 + 0.04 * (MODELS.index(model_name) - 1.5)
                axis.plot(
                    [r["train_states"] * shift for r in line],
                    [r[metric] for r in line],
                    linestyle=styles[index % len(styles)],
                    marker=markers[index % len(markers)],
                    color=COLOURS[model_name],
                    label=f"{model_name}, noise {noise:g}",
                )
        axis.set_xscale("log")
        axis.set_xticks(sizes, [str(size) for size in sizes])
        axis.minorticks_off()
        if log:
            axis.set_yscale("log")
        else:
            axis.set_ylim(-0.5, max(r["rollouts"] for r in rows) + 0.5)
        axis.set_xlabel("training states (a quarter, a half, all)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3, which="both")
    # Below the panels: inside, the legend would hide the curves.
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=len(MODELS),
        fontsize="small",
    )
    fig.suptitle(
        f"Double pendulum, trajectories with noisy states: {config.steps} steps per model, "
        f"{config.seeds} seed(s); a point missing in the middle panel: every rollout failed",
        fontsize="medium",
    )
    fig.savefig(path, dpi=110)
    return path


def write(directory: Path, mode: str, config: Config, runs: list[dict], partial: bool) -> list:
    rows = summarise(runs, config)
    settings = {
        "system": f"{SYSTEM} (unit masses and lengths, g = 9.8)",
        "data": "lz.generate_dataset from system.sample_initial_state (angles U[0, 2pi), "
        "velocities U[0, 0.1)), truth in float64 (tsit5, tolerance 1e-10), trained in "
        "float32; one draw (key 0, the same trajectories and normal draws at every noise "
        "level): the first trajectories train, the last ones (clean) are held out; the "
        "HNN's states are the noisy (q, q_t) mapped by p = dL/dq_t, its targets the exact "
        "(q_t, p_t)",
        "models": {
            **{
                name: "lz.models.LNN("
                + "".join(f"{key}={value!r}, " for key, value in options.items())
                + "checks=False, periodic=(True, True))"
                for name, options in LNN_OPTIONS.items()
            },
            "baseline": "lz.models.Baseline(predict='acceleration', periodic=(True, True))",
            "hnn": "lz.models.HNN(coordinates='canonical', periodic=(True, True))",
        },
        "training": "lz.fit, inputs normalised by the training states (adapt=True), Adam with "
        "a cosine decay to 0, gradient clipped to global norm, the same minibatch keys for "
        "every model",
        **dataclasses.asdict(config),
        "energy_discrepancy": "lz.metrics.energy_discrepancy, scale 3 m g l = 29.4; truth "
        "dopri8 at 1e-10, models (trained in float32) tsit5 at rtol 1e-7, atol 1e-9, both "
        "in float64",
        "source": "Cranmer et al. 2020, Lagrangian Neural Networks (double pendulum metric)",
    }
    notes = [
        f"Every model: {config.width} x {config.depth} {config.activation} network, "
        f"{config.steps} Adam steps of {config.batch_size} states ({config.loss} loss, "
        f"learning rate {config.learning_rate:g} with a cosine decay, gradients clipped to "
        f"norm {config.gradient_clip:g}), {config.seeds} seed(s). Training data: "
        f"{config.train_trajectories} trajectories (t in [0, {config.t_end:g}], "
        f"{config.samples} samples) from states nearly at rest, noise of std `noise_std` on "
        "(q, q_t), of which the first `fraction` are used. `test_loss`: MSE of (q_t, q_tt) on "
        f"{config.test_trajectories} clean held-out trajectories; "
        "`energy_discrepancy_percent`: the LNN paper's metric at "
        f"t = {config.t_end_rollout:g} (not its t = 100) from their initial states, mean over "
        "the rollouts that did not fail (`energy_discrepancy_median_percent`: the median over "
        "all, a failed one counting as the worst); `failed_rollouts` counts the non-finite "
        "ones and those whose energy error passed 100 % of 3 m g l; "
        "`seconds`: training time per run on a shared 2-core CPU. Plot: `robustness.png`.",
    ]
    if config.seeds == 1:
        notes.append(
            "One seed per cell: differences smaller than the spread between seeds (not "
            "measured here) are not findings; add seeds with `--seeds N --resume`."
        )
    _common.write_run_results(
        directory,
        NAME,
        mode,
        settings,
        rows,
        runs,
        partial=partial,
        columns=COLUMNS,
        title="Robustness: noise and data size on the double pendulum",
        notes=notes,
    )
    return rows


VARIANT_KEYS = (
    "test_loss_l1_acceleration",
    "failed_rollouts",
    "rollouts",
    "energy_discrepancy_percent",
    "energy_discrepancy_median_percent",
    "seconds",
)


def lnn_variants(args, config: Config, system, data: Data) -> None:
    """The LNN alone on one cell (no noise, all the data, seed 0), built each way of
    `LNN_VARIANTS`: what the mass prior and the initialisation do on trajectory data."""
    noise, fraction = config.noise_levels[0], config.fractions[-1]
    variants = LNN_VARIANTS
    if args.mode == "quick":
        variants = dict(list(variants.items())[:2])  # a smoke run: with and without the prior
    rows = []
    for name, options in variants.items():
        run = run_one("lnn", noise, fraction, 0, config, system, data, lnn_options=options)
        # The grid's summary of this one run: its failures, and its median with each failed
        # rollout as the worst value.
        (summary,) = summarise([run], config)
        rows.append({"variant": name, **options, **{key: summary[key] for key in VARIANT_KEYS}})
        print(
            f"{name}: L1 {run['test_loss_l1_acceleration']:.3g}, failed "
            f"{run['failed_rollouts']}/{run['rollouts']}",
            flush=True,
        )
    _common.write_results(
        _common.output_dir(args, NAME),
        f"{NAME}_lnn_variants",
        args.mode,
        {"noise_std": noise, "fraction": fraction, "seed": 0, **dataclasses.asdict(config)},
        rows,
        title="Robustness: the LNN's construction on trajectory data",
        notes=[
            f"The LNN of `robustness.py` on one cell (noise {noise:g}, fraction {fraction:g}, "
            f"seed 0), {config.steps} steps, built each way; the metrics are those of "
            "`robustness.md` (held-out L1 of q_tt, failed rollouts, energy discrepancy at "
            f"t = {config.t_end_rollout:g}: mean over the rollouts that did not fail, median "
            "over all with a failed one as the worst).",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    def arguments(parser) -> None:
        _common.add_run_arguments(parser)
        parser.add_argument(
            "--lnn-variants",
            action="store_true",
            help="train only the LNN, each way of LNN_VARIANTS, on one cell",
        )

    args = _common.parse_args(__doc__.splitlines()[0], argv, extra=arguments)
    quick = args.mode == "quick"
    config = QUICK if quick else FULL
    config = _common.with_overrides(config, seeds=args.seeds, steps=args.steps)
    lz.enable_compilation_cache()
    directory = _common.output_dir(args, NAME)
    results_path = directory / f"{NAME}.json"
    started = time.perf_counter()
    system = lz.systems.get(SYSTEM)
    data = make_data(config)
    if args.lnn_variants:
        lnn_variants(args, config, system, data)
        return 0

    runs = _common.previous_runs(args, results_path, steps=config.steps)
    # Seed by seed, so that a sliced run has every cell once before any twice.
    plan = [
        (model_name, noise, fraction, seed)
        for seed in range(config.seeds)
        for noise in config.noise_levels
        for fraction in config.fractions
        for model_name in MODELS
    ]
    done = {(r["model"], r["noise_std"], r["fraction"], r["seed"]) for r in runs}
    stopped = False
    for model_name, noise, fraction, seed in plan:
        if (model_name, noise, fraction, seed) in done:
            continue
        if _common.out_of_time(args.max_minutes, started):
            stopped = True
            break
        print(
            f"{model_name} / noise {noise:g} / fraction {fraction:g} / seed {seed} ...", flush=True
        )
        run = run_one(model_name, noise, fraction, seed, config, system, data)
        runs.append(run)
        print(
            f"  test_loss {run['test_loss']:.4g}  energy "
            f"{run['energy_discrepancy_percent']:.4g} %  failed "
            f"{run['failed_rollouts']}/{run['rollouts']}  {run['seconds']:.0f} s "
            f"(+ rollouts {run['rollout_seconds']:.0f} s)",
            flush=True,
        )
        if not quick:
            write(directory, args.mode, config, runs, partial=True)
    done = {(r["model"], r["noise_std"], r["fraction"], r["seed"]) for r in runs}
    finished = not stopped and done >= set(plan)
    rows = write(directory, args.mode, config, runs, partial=not finished)
    figure(rows, config, directory / f"{NAME}.png")
    print(f"wrote {results_path} ({'complete' if finished else 'partial'}, {len(runs)} results)")
    if not finished:
        print(f"continue with: python benchmarks/{NAME}.py --full --resume")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
