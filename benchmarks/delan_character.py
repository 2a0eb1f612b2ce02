"""Deep Lagrangian Networks' character benchmark: inverse dynamics of a two-link arm from torques.

A simulated two-link arm traces 20 letters (`lz.delan_character_dataset`); models learn the
torques tau(q, q_t, q_tt) on 17 letters and are scored on the letters "e", "q" and "v" (the
split of the DeLaN repository, milutter/deep_lagrangian_networks). Models:

- `delan_structured`: `lz.models.DeLaN`, a learned mass matrix H(q) and potential V(q);
  its torques H q_tt + c + g by `DeLaN.inverse_dynamics`;
- `delan_black_box`: the repository's "black-box" Lagrangian, one network L(q, q_t), which is
  an LNN (`lz.models.LNN`); its torques by automatic differentiation of the Euler-Lagrange
  expression (`lz.inverse_dynamics`): this is the "LNN with torques";
- `feed_forward`: a feed-forward network (cos q, sin q, q_t, q_tt) -> tau with no physics, the
  repository's black-box network model.

Every model has the repository's network (64 x 2 tanh, angles embedded as (cos q, sin q)) and
its training loss, the squared torque error of each joint divided by the variance of that
joint's training torques, summed over the joints and averaged over a minibatch of 512 rows;
it trains through `lz.fit` on the library's inverse-dynamics source
(`lz.InverseDynamicsSource(..., normalise=True)`), which computes the torques of each model as
`torques` below does.

Metrics on the test letters, as the repository computes them: the parts of the torques are
read off the learned inverse dynamics f(q, q_t, q_tt) as g = f(q, 0, 0), c = f(q, q_t, 0) - g
and H q_tt = f(q, 0, q_tt) - g (for any model, the black-box ones too), and each MSE is the
squared error summed over the two joints, averaged over the samples. The power conservation
MSE compares the learned dE/dt = q_t . tau_hat with the true q_t . tau. The time per sample is
that of the batched inverse dynamics (compiled, warm, the whole test set in one call, the
median of repeats). The true arm (`lz.systems.TwoLinkArm` with DeLaN's parameters) is scored
by the same code, as a check of it: its errors are rounding.

Full runs write `delan_character.json` after every (model, seed), marked `"partial": true`
until the last one; `--resume` continues from them and `--max-minutes` slices a run. A finished
full run copies its figure to `docs/figures/`.
"""

import dataclasses
import functools
import math
import shutil
import sys
import time
from collections.abc import Callable
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


NAME = "delan_character"
DOCS_FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"
MODELS = ("delan_structured", "delan_black_box", "feed_forward")
LABELS = {
    "delan_structured": "DeLaN (structured)",
    "delan_black_box": "DeLaN black-box Lagrangian (LNN)",
    "feed_forward": "feed-forward network",
}
COMPONENTS = ("torque", "inertial", "coriolis", "gravity", "power")
# The DeLaN repository's README (structured DeLaN on the same split, AMD 3950 CPU).
PUBLISHED = {
    "torque": 4.327e-04,
    "inertial": 7.338e-04,
    "coriolis": 2.227e-04,
    "gravity": 7.338e-04,
    "power": 4.456e-05,
    "seconds_per_sample": 6.59e-4,
    "samples_per_second": 1517.0,
}
# The arm of the data set (DeLaN's): a = 1.37272916, b = 0.5, d = 0.51761458, gravity terms
# 2.625 cos q1 and 1.5 cos(q1 + q2).
TRUE_ARM = dict(
    masses=(0.75, 0.5),
    lengths=(1.0, 1.0),
    centres=(0.5, 1.0),
    inertias=(0.16761458333333333, 0.017614583333333333),
    gravity=3.0,
)


@dataclasses.dataclass(frozen=True)
class Config:
    width: int
    depth: int
    steps: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    schedule: str  # "constant" (the repository's AdamW) or "cosine" (decay to 0 over `steps`)
    seeds: int
    activation: str = "tanh"
    timing_repeats: int = 50


# The repository trains 5000 epochs of minibatches of 512 from 2459 rows (about 25 000 steps)
# with AdamW at a constant 1e-4; FULL keeps its network, batch and weight decay, and takes
# fewer steps at a higher learning rate decayed to zero, to fit 30 trainings on a shared CPU
# (`--repository-settings` runs the repository's own schedule for the structured DeLaN).
FULL = Config(
    width=64,
    depth=2,
    steps=10_000,
    batch_size=512,
    learning_rate=3e-3,
    weight_decay=1e-5,
    schedule="cosine",
    seeds=10,
)
REPOSITORY = dataclasses.replace(
    FULL, steps=25_000, learning_rate=1e-4, schedule="constant", seeds=3
)
QUICK = dataclasses.replace(FULL, width=16, depth=1, steps=100, seeds=2, timing_repeats=3)


# Data ---------------------------------------------------------------------------------------


def rows(samples: lz.TorqueSamples, dtype) -> tuple[jax.Array, jax.Array]:
    """`([q, q_t, q_tt], tau)` of every sample."""
    y = np.concatenate([samples.q, samples.q_t, samples.q_tt], axis=-1)
    return jnp.asarray(y, dtype), jnp.asarray(samples.tau, dtype)


def torque_rows(samples: lz.TorqueSamples, dtype) -> lz.InverseDynamicsSource:
    """The library's inverse-dynamics source with the DeLaN repository's loss (each joint's
    squared torque error over the variance of its training torques)."""
    return lz.InverseDynamicsSource(
        samples.q, samples.q_t, samples.q_tt, samples.tau, normalise=True, dtype=dtype
    )


# Models -------------------------------------------------------------------------------------


class TorqueNetwork(eqx.Module):
    """A feed-forward network of (cos q, sin q, q_t, q_tt) that predicts the torques."""

    network: lz.models.MLP

    def __init__(self, dof: int, width: int, depth: int, activation: str, *, key):
        self.network = lz.models.MLP(
            4 * dof, dof, (width,) * depth, activation=activation, key=key
        )

    def __call__(self, q: jax.Array, q_t: jax.Array, q_tt: jax.Array) -> jax.Array:
        return self.network(jnp.concatenate([jnp.cos(q), jnp.sin(q), q_t, q_tt]))


def build_model(model_name: str, config: Config, key):
    sizes = dict(width=config.width, depth=config.depth, activation=config.activation)
    if model_name == "delan_structured":
        return lz.models.DeLaN(2, key=key, periodic=(True, True), **sizes)
    if model_name == "delan_black_box":
        return lz.models.LNN(2, key=key, periodic=(True, True), init="default", **sizes)
    if model_name == "feed_forward":
        return TorqueNetwork(2, config.width, config.depth, config.activation, key=key)
    raise ValueError(f"unknown model {model_name!r}; known: {', '.join(MODELS)}")


def torques(model, q: jax.Array, q_t: jax.Array, q_tt: jax.Array) -> jax.Array:
    """The model's inverse dynamics on a batch of rows `(batch, 2)`."""
    if isinstance(model, lz.models.DeLaN):
        return jax.vmap(model.inverse_dynamics)(q, q_t, q_tt)
    if isinstance(model, TorqueNetwork):
        return jax.vmap(model)(q, q_t, q_tt)
    # A Lagrangian (a model or a function L(q, q_t)): the Euler-Lagrange expression by autodiff.
    return lz.inverse_dynamics(model, q, q_t, q_tt)


compiled_torques = eqx.filter_jit(torques)


@functools.cache  # one optimizer object per config: `fit` reuses its compiled loop
def optimizer(config: Config) -> optax.GradientTransformation:
    if config.schedule == "constant":
        learning_rate: Any = config.learning_rate
    else:
        learning_rate = optax.cosine_decay_schedule(config.learning_rate, config.steps)
    return optax.adamw(learning_rate, weight_decay=config.weight_decay)


# Metrics ------------------------------------------------------------------------------------


@eqx.filter_jit
def decomposition(model, q, q_t, q_tt) -> dict[str, jax.Array]:
    """The parts of the torques as the DeLaN repository reads them off any inverse model."""
    zeros = jnp.zeros_like(q)
    gravity = torques(model, q, zeros, zeros)
    return {
        "torque": torques(model, q, q_t, q_tt),
        "inertial": torques(model, q, zeros, q_tt) - gravity,
        "coriolis": torques(model, q, q_t, zeros) - gravity,
        "gravity": gravity,
    }


def component_errors(predicted: dict[str, Any], test: lz.TorqueSamples) -> dict[str, float]:
    """Each part's squared error summed over the joints, averaged over the samples, and the
    same for the power q_t . tau (the rate of change of the energy)."""
    truth = {
        "torque": test.tau,
        "inertial": test.inertial,
        "coriolis": test.coriolis,
        "gravity": test.gravity,
    }
    errors = {
        part: float(np.mean(np.sum((np.asarray(predicted[part]) - truth[part]) ** 2, axis=-1)))
        for part in truth
    }
    power = np.sum(test.q_t * np.asarray(predicted["torque"]), axis=-1)
    errors["power"] = float(np.mean((power - np.sum(test.q_t * test.tau, axis=-1)) ** 2))
    return errors


def timing(model, test_rows: jax.Array, repeats: int) -> dict[str, float]:
    """Batched inverse dynamics of the whole test set: compiled once, then timed."""
    q, q_t, q_tt = jnp.split(test_rows, 3, axis=-1)
    measured = _common.time_call(lambda: compiled_torques(model, q, q_t, q_tt), repeats)
    seconds_per_sample = measured["seconds"] / q.shape[0]
    return {
        "seconds_per_sample": seconds_per_sample,
        "samples_per_second": 1.0 / seconds_per_sample,
    }


def evaluate(model, test: lz.TorqueSamples, dtype, repeats: int) -> tuple[dict, dict]:
    test_rows, _ = rows(test, dtype)
    parts = decomposition(model, *jnp.split(test_rows, 3, axis=-1))
    parts = {name: np.asarray(value, np.float64) for name, value in parts.items()}
    return {**component_errors(parts, test), **timing(model, test_rows, repeats)}, parts


def true_arm() -> Callable:
    """The Lagrangian of the data set's arm."""
    return lz.systems.TwoLinkArm(**TRUE_ARM).lagrangian


# Runs ---------------------------------------------------------------------------------------


def run_one(model_name: str, seed: int, config: Config, train, test, dtype) -> dict[str, Any]:
    model_key, fit_key = jax.random.split(jax.random.key(seed))
    model_key = jax.random.fold_in(model_key, MODELS.index(model_name))
    model = build_model(model_name, config, model_key)
    model = jax.tree_util.tree_map(
        lambda leaf: leaf.astype(dtype) if eqx.is_inexact_array(leaf) else leaf, model
    )
    start = time.perf_counter()
    model, history = lz.fit(
        model,
        torque_rows(train, dtype),
        steps=config.steps,
        batch_size=config.batch_size,
        optimizer=optimizer(config),
        key=fit_key,
        adapt=False,
        progress=False,
        log_every=max(config.steps // 20, 1),
    )
    seconds = time.perf_counter() - start
    errors, parts = evaluate(model, test, dtype, config.timing_repeats)
    return {
        "model": model_name,
        "seed": seed,
        "steps": config.steps,
        "training_seconds": seconds,
        "final_train_loss": float(history.train_loss[-1]),
        **errors,
        # seed 0's learned parts on the test letters, for the figure
        "figure_parts": {k: v.tolist() for k, v in parts.items()} if seed == 0 else None,
    }


def summarise(runs: list[dict], truth_row: dict) -> list[dict]:
    rows_out = [
        {
            "model": "published DeLaN (repository README)",
            "seeds": None,
            **{part: PUBLISHED[part] for part in COMPONENTS},
            "seconds_per_sample": PUBLISHED["seconds_per_sample"],
            "samples_per_second": PUBLISHED["samples_per_second"],
        }
    ]
    for model_name in MODELS:
        done = [r for r in runs if r["model"] == model_name]
        if not done:
            continue
        row: dict[str, Any] = {"model": model_name, "seeds": len(done), "steps": done[0]["steps"]}
        for metric in (
            *COMPONENTS,
            "seconds_per_sample",
            "samples_per_second",
            "training_seconds",
        ):
            values = np.asarray([r[metric] for r in done], dtype=np.float64)
            finite = values[np.isfinite(values)]
            row[metric] = float(np.mean(finite)) if finite.size else math.nan
            row[f"{metric}_std"] = float(np.std(finite)) if finite.size > 1 else None
            if metric in COMPONENTS:
                row[f"{metric}_median"] = float(np.median(finite)) if finite.size else math.nan
        row["beats_published_torque"] = row["torque"] <= PUBLISHED["torque"]
        rows_out.append(row)
    rows_out.append({"model": "true arm (check of the metric code)", "seeds": None, **truth_row})
    return rows_out


COLUMNS = (
    "model",
    "seeds",
    "steps",
    "torque",
    "torque_std",
    "inertial",
    "coriolis",
    "gravity",
    "power",
    "seconds_per_sample",
    "samples_per_second",
    "training_seconds",
)


def figure(runs: list[dict], test: lz.TorqueSamples, path: Path) -> Path | None:
    """The repository's figure: each part of the torques over the test letters, the truth
    against each model's (seed 0), one row per joint."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = [r for name in MODELS for r in runs if r["model"] == name and r["figure_parts"]]
    if not shown:
        return None
    truth = {
        "torque": test.tau,
        "inertial": test.inertial,
        "coriolis": test.coriolis,
        "gravity": test.gravity,
    }
    titles = {
        "torque": r"$\tau$",
        "inertial": r"$H(q)\,\ddot q$",
        "coriolis": r"$c(q, \dot q)$",
        "gravity": r"$g(q)$",
    }
    letters = test.letters
    bounds = [0] + [int(np.max(np.flatnonzero(test.letter == x))) + 1 for x in letters]
    colours = {"delan_structured": "tab:red", "delan_black_box": "tab:blue"}
    colours["feed_forward"] = "tab:green"
    fig = Figure(figsize=(14, 5.5), layout="constrained")
    axes = fig.subplots(2, 4, squeeze=False)
    steps = np.arange(test.q.shape[0])
    for column, part in enumerate(truth):
        for joint in range(2):
            ax = axes[joint, column]
            ax.plot(steps, truth[part][:, joint], color="black", lw=2.0, label="truth")
            for run in shown:
                learned = np.asarray(run["figure_parts"][part])[:, joint]
                ax.plot(
                    steps,
                    learned,
                    color=colours[run["model"]],
                    lw=1.0,
                    alpha=0.85,
                    label=LABELS[run["model"]],
                )
            for bound in bounds[1:-1]:
                ax.axvline(bound, color="grey", ls="--", lw=0.6)
            ax.set_xticks([(a + b) / 2 for a, b in zip(bounds[:-1], bounds[1:])])
            ax.set_xticklabels(letters)
            ax.set_xlim(0, bounds[-1])
            ax.grid(alpha=0.3)
            if joint == 0:
                ax.set_title(titles[part])
            if column == 0:
                ax.set_ylabel(f"joint {joint + 1}: torque [Nm]")
    axes[0, 0].legend(fontsize="small", loc="upper left")
    fig.suptitle(
        "DeLaN character data: the parts of the torques on the test letters, truth (black) "
        "against each model (seed 0)",
        fontsize="medium",
    )
    fig.savefig(path, dpi=100)
    return path


def write(
    directory: Path,
    name: str,
    mode: str,
    config: Config,
    runs: list[dict],
    truth_row: dict,
    partial: bool,
) -> None:
    rows_out = summarise(runs, truth_row)
    settings = {
        "data": "lz.delan_character_dataset(): 17 letters train (2459 samples), 'e', 'q', 'v' "
        "test (454 samples), float64 data, models trained and timed in float32",
        "models": {
            "delan_structured": "lz.models.DeLaN(2, periodic=(True, True)), torques by "
            "DeLaN.inverse_dynamics",
            "delan_black_box": "lz.models.LNN(2, periodic=(True, True), init='default'), "
            "torques by lz.inverse_dynamics (the repository's black-box Lagrangian)",
            "feed_forward": "MLP of (cos q, sin q, q_t, q_tt) -> tau",
        },
        "loss": "the repository's: sum over joints of (tau_hat - tau)^2 / var(tau_train), "
        "mean over the minibatch",
        "training": "lz.fit on lz.InverseDynamicsSource(normalise=True), optax.adamw "
        "(decoupled weight decay)",
        **dataclasses.asdict(config),
        "repository_settings": dataclasses.asdict(REPOSITORY),
        "budget_note": "The repository trains about 25 000 steps (5000 epochs) at a constant "
        "learning rate 1e-4; the default full run keeps its network, minibatch and weight "
        "decay and takes 10 000 steps from 3e-3 decayed to 0 by a cosine, to fit 10 seeds x 3 "
        "models in about half an hour of a shared 2-core CPU (this file: "
        f"{config.steps} steps, learning rate {config.learning_rate:g}, {config.schedule} "
        "schedule).",
        "metrics": "as the repository: g = f(q, 0, 0), c = f(q, q_t, 0) - g, H q_tt = "
        "f(q, 0, q_tt) - g; MSE = squared error summed over the joints, mean over samples; "
        "power = mean((q_t . tau_hat - q_t . tau)^2); time per sample: the compiled batched "
        "inverse dynamics of the 454 test samples in one call, median of repeats",
        "published": PUBLISHED,
        "source": "Lutter, Ritter, Peters (ICLR 2019), Deep Lagrangian Networks; "
        "milutter/deep_lagrangian_networks (MIT)",
    }
    notes = [
        f"Every model: {config.width} x {config.depth} {config.activation} networks, "
        f"{config.steps} AdamW steps of {config.batch_size} rows (learning rate "
        f"{config.learning_rate:g}, {config.schedule} schedule, weight decay "
        f"{config.weight_decay:g}) on the normalised torque loss; means over seeds of the test "
        "MSEs (sum over the two joints, mean over the 454 test samples). The components are "
        "read off each model's inverse dynamics as the DeLaN repository does (g = f(q, 0, 0), "
        "...); `samples_per_second`: batched inverse dynamics on this shared 2-core CPU "
        f"(the published 1517 Hz is on an AMD 3950). Figure: `{name}.png`.",
    ]
    _common.write_run_results(
        directory,
        name,
        mode,
        settings,
        rows_out,
        runs,
        partial=partial,
        columns=COLUMNS,
        title="Deep Lagrangian Networks: the character data set",
        notes=notes,
    )


def truth_check(test: lz.TorqueSamples) -> dict[str, float]:
    """The true arm's errors through the same metric code (float64)."""
    with jax.enable_x64(True):
        test_rows, _ = rows(test, jnp.float64)
        parts = decomposition(true_arm(), *jnp.split(test_rows, 3, axis=-1))
        return component_errors({k: np.asarray(v) for k, v in parts.items()}, test)


def options(parser) -> None:
    _common.add_run_arguments(parser)
    parser.add_argument(
        "--repository-settings",
        action="store_true",
        help="train the structured DeLaN only, with the repository's schedule (25 000 steps "
        "of AdamW at 1e-4), writing delan_character_repository.json",
    )


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__.splitlines()[0], argv, extra=options)
    quick = args.mode == "quick"
    config = QUICK if quick else FULL
    name, models = NAME, MODELS
    if args.repository_settings:
        config = QUICK if quick else REPOSITORY
        config = dataclasses.replace(config, learning_rate=1e-4, schedule="constant")
        name, models = f"{NAME}_repository", ("delan_structured",)
    config = _common.with_overrides(config, seeds=args.seeds, steps=args.steps)
    lz.enable_compilation_cache()
    directory = _common.output_dir(args, name)
    results_path = directory / f"{name}.json"
    started = time.perf_counter()
    dtype = jnp.float32
    train, test = lz.delan_character_dataset()
    truth_row = truth_check(test)
    print("true arm: " + ", ".join(f"{k} {v:.1e}" for k, v in truth_row.items()), flush=True)

    runs = _common.previous_runs(args, results_path, steps=config.steps)
    plan = [(model, seed) for seed in range(config.seeds) for model in models]
    done = {(r["model"], r["seed"]) for r in runs}
    stopped = False
    for model_name, seed in plan:
        if (model_name, seed) in done:
            continue
        if _common.out_of_time(args.max_minutes, started):
            stopped = True
            break
        print(f"{model_name} / seed {seed} ...", flush=True)
        run = run_one(model_name, seed, config, train, test, dtype)
        runs.append(run)
        print(
            "  "
            + ", ".join(f"{k} {run[k]:.3e}" for k in COMPONENTS)
            + f", {run['samples_per_second']:.0f} samples/s, {run['training_seconds']:.0f} s",
            flush=True,
        )
        if not quick:
            write(directory, name, args.mode, config, runs, truth_row, partial=True)
    finished = not stopped and {(r["model"], r["seed"]) for r in runs} >= set(plan)
    write(directory, name, args.mode, config, runs, truth_row, partial=not finished)
    drawn = figure(runs, test, directory / f"{name}.png")
    if drawn is not None and finished and not quick and args.out is None and name == NAME:
        with lz.atomic_path(DOCS_FIGURES / f"{name}.png") as temporary:
            shutil.copyfile(drawn, temporary)
    print(f"wrote {results_path} ({'complete' if finished else 'partial'}, {len(runs)} results)")
    if not finished:
        flag = " --repository-settings" if args.repository_settings else ""
        print(f"continue with: python benchmarks/{NAME}.py --full --resume{flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
