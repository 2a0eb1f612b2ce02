"""The Lagrangian Neural Networks paper's relativistic particle: which model learns it from what.

A particle of unit mass under a uniform force, at speeds up to c = 1 (`relativistic_particle`,
one dimension, g = 1). Its momentum p = gamma q_t is not q_t, and its kinetic energy is not
quadratic in q_t, so the LNN paper expects (Cranmer et al. 2020):

- `hnn_velocity`: an HNN given (q, q_t) fails: Hamilton's equations with q_t in the place of p
  cannot give q_tt = g (1 - q_t^2)^(3/2) (`lz.models.HNN(coordinates="velocity")`);
- `hnn_canonical`: an HNN given canonical (q, p) succeeds (`coordinates="canonical"`);
- `lnn`: an LNN given (q, q_t) succeeds (`lz.models.LNN`);
- `delan`: DeLaN struggles: its kinetic energy is quadratic in q_t, so its q_tt is
  -(V'(q) + M'(q) q_t^2 / 2) / M(q), not the relativistic g / gamma^3;
- `baseline`: the LNN paper's baseline, an MLP of (q, q_t) that predicts q_tt
  (`lz.models.Baseline(predict="acceleration")`), with no conservation law built in.

Data: `lz.generate_dataset` trajectories (initial states from the system: q U(-1, 1), speed
U(0, 0.9) c with a random sign), noise-free, truth in float64, trained in float32. Every model
trains on the same trajectories: the velocity models on (q, q_t) with targets (q_t, q_tt),
the canonical HNN on the same trajectories mapped by the true Legendre map p = dL/dq_t (the
same call of `lz.generate_dataset` with `coordinates="canonical"`), targets (q_t, p_t). Every
model has the same network size, the same loss (the LNN paper's L1 on the derivatives), the
same optimizer, the same minibatches (one training key per seed) and the same number of
steps: see `config` in the results file.

Metrics, on held-out test trajectories (initial states not trained on), means and stds over seeds:

- `test_loss`: the MSE of (q_t, q_tt) on the test states, for every model in velocity
  coordinates (the canonical HNN's p_t is converted with the true mass matrix,
  q_tt = M^-1 (p_t - (dp/dq) q_t));
- `test_loss_native`: the same in the coordinates the model trained in (its own loss);
- `energy_mse`: `lz.metrics.energy_mse_test_trajectories`, the HNN paper's protocol: RK4 (a
  tenth of the sample gap) from the first state of each test trajectory over its times, the
  true energy along the truth and along the rollout (for the canonical HNN the energy of
  (q, p) is the true Hamiltonian, `lz.hamiltonian_from_lagrangian`); the mean over rollouts
  that stayed finite;
- `rollout_mse`: the state MSE of the same rollouts in (q, q_t), finite rollouts only;
- `failed_rollouts`: rollouts whose energy is not finite (the state blew up, or a velocity
  model pushed |q_t| to c or beyond, where the true energy is not defined), summed over seeds;
  `superluminal_rollouts` counts the second kind alone.

Full runs write `relativistic.json` after every (model, seed), marked `"partial": true` until
the last one: these results are the checkpoints. `--resume` continues from them, and
`--max-minutes` stops a run between two results, so that a run can be sliced.
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


NAME = "relativistic"
SYSTEM = "relativistic_particle"
MODELS = ("hnn_velocity", "hnn_canonical", "lnn", "delan", "baseline")
LABELS = {
    "hnn_velocity": "HNN on (q, q_t)",
    "hnn_canonical": "HNN on (q, p)",
    "lnn": "LNN on (q, q_t)",
    "delan": "DeLaN on (q, q_t)",
    "baseline": "baseline (MLP for q_tt)",
}
EXPECTED = {
    "hnn_velocity": "fails",
    "hnn_canonical": "succeeds",
    "lnn": "succeeds",
    "delan": "struggles",
    "baseline": "(not in the paper's figure)",
}


@dataclasses.dataclass(frozen=True)
class Config:
    width: int
    depth: int
    steps: int
    batch_size: int
    learning_rate: float
    gradient_clip: float
    seeds: int
    train_trajectories: int
    test_trajectories: int
    t_end: float
    samples: int
    activation: str = "softplus"
    loss: str = "l1"  # the LNN paper's


FULL = Config(
    width=128,
    depth=3,
    steps=10_000,
    batch_size=256,
    learning_rate=1e-3,
    gradient_clip=1.0,
    seeds=3,
    train_trajectories=100,
    test_trajectories=25,
    t_end=3.0,
    samples=30,
)
QUICK = dataclasses.replace(
    FULL,
    width=16,
    depth=1,
    steps=40,
    seeds=1,
    train_trajectories=10,
    test_trajectories=4,
    samples=10,
)


def coordinates(model_name: str) -> str:
    return "canonical" if model_name == "hnn_canonical" else "velocity"


# Data ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Data:
    """Training and test trajectories in both coordinate systems, float32."""

    ts: jax.Array
    train: dict[str, lz.Dataset]  # "velocity" / "canonical"
    test: dict[str, lz.Dataset]


def make_data(config: Config) -> Data:
    """One batch of trajectories (one compiled solve), split into training and test ones."""
    ts = np.linspace(0.0, config.t_end, config.samples)
    total = config.train_trajectories + config.test_trajectories
    with jax.enable_x64(True):
        system64 = lz.systems.get(SYSTEM)
        # The same key gives the same trajectories; "canonical" maps them by p = dL/dq_t.
        made = {
            kind: lz.generate_dataset(
                system64,
                jax.random.key(0),
                trajectories=total,
                ts=jnp.asarray(ts, jnp.float64),
                coordinates=kind,
            )
            for kind in ("velocity", "canonical")
        }
        made = {kind: (np.asarray(d.y), np.asarray(d.dy)) for kind, d in made.items()}

    def part(rows: slice) -> dict[str, lz.Dataset]:
        return {
            kind: lz.Dataset(
                jnp.asarray(ts, jnp.float32),
                jnp.asarray(y[rows], jnp.float32),
                jnp.asarray(dy[rows], jnp.float32),
                {"system": SYSTEM, "coordinates": kind, "benchmark": NAME},
            )
            for kind, (y, dy) in made.items()
        }

    split = config.train_trajectories
    return Data(
        ts=jnp.asarray(ts, jnp.float32),
        train=part(slice(None, split)),
        test=part(slice(split, None)),
    )


# Models and training ------------------------------------------------------------------------


def build_model(model_name: str, config: Config, key):
    sizes: dict[str, Any] = dict(width=config.width, depth=config.depth)
    if model_name in ("hnn_velocity", "hnn_canonical"):
        return lz.models.HNN(
            1,
            key=key,
            activation=config.activation,
            coordinates=coordinates(model_name),
            **sizes,
        )
    if model_name == "lnn":
        # No runtime checks: a singular learned mass matrix gives non-finite rollouts, which
        # are counted as failures instead of stopping the benchmark.
        return lz.models.LNN(
            1, key=key, activation=config.activation, init="default", checks=False, **sizes
        )
    if model_name == "delan":
        return lz.models.DeLaN(1, key=key, activation=config.activation, **sizes)
    if model_name == "baseline":
        return lz.models.Baseline(
            1, key=key, predict="acceleration", activation=config.activation, **sizes
        )
    raise ValueError(f"unknown model {model_name!r}; known: {', '.join(MODELS)}")


@functools.cache  # one optimizer object per config: `fit` reuses its compiled loop
def optimizer(config: Config) -> optax.GradientTransformation:
    # Clipping keeps the LNN's first steps finite where its learned mass matrix is nearly
    # singular; every model gets the same optimizer.
    return _common.clipped_adam(config.learning_rate, config.steps, config.gradient_clip)


# Evaluation ---------------------------------------------------------------------------------


def finite_mean(values) -> tuple[float, int]:
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(values)
    return (float(values[finite].mean()) if finite.any() else math.nan), int((~finite).sum())


def evaluate(model, model_name: str, system, data: Data, figure_trajectories: int) -> dict:
    kind = model.coordinates
    test, native = data.test["velocity"], data.test[kind]
    width = 2 * system.dof
    y, dy = test.y.reshape(-1, width), test.dy.reshape(-1, width)
    test_loss = float(lz.metrics.derivative_mse(velocity_derivatives(model, system, y), dy))
    native_y, native_dy = native.y.reshape(-1, width), native.dy.reshape(-1, width)
    predicted_native = jax.vmap(lambda state: model(0.0, state, None))(native_y)
    test_loss_native = float(lz.metrics.derivative_mse(predicted_native, native_dy))

    energy = (
        system.energy if kind == "velocity" else lz.hamiltonian_from_lagrangian(system.lagrangian)
    )
    per_trajectory = lz.metrics.energy_mse_test_trajectories(
        model, energy, data.ts, native.y, reduction="none"
    )
    energy_mse, failed = finite_mean(per_trajectory)

    # The same rollouts (RK4, a tenth of the sample gap) in (q, q_t) for every model.
    dt0 = float(data.ts[1] - data.ts[0]) / 10
    predicted = np.asarray(
        lz.rollout(
            model,
            test.y[:, 0],
            data.ts,
            solver="rk4",
            dt0=dt0,
            checks=False,
            lagrangian=system.lagrangian,
        )
    )
    truth = np.asarray(test.y)
    finite = np.all(np.isfinite(predicted), axis=(-2, -1))
    speeds = np.abs(predicted[..., system.dof :])
    superluminal = finite & np.any(speeds >= float(system.speed_of_light), axis=(-2, -1))
    state_error = np.mean((predicted - truth) ** 2, axis=(-2, -1))
    rollout_mse, _ = finite_mean(np.where(finite, state_error, np.nan))
    return {
        "test_loss": test_loss,
        "test_loss_native": test_loss_native,
        "energy_mse": energy_mse,
        "rollout_mse": rollout_mse,
        "failed_rollouts": failed,
        "superluminal_rollouts": int(superluminal.sum()),
        "rollouts": int(per_trajectory.shape[0]),
        "figure_rollouts": predicted[:figure_trajectories].tolist(),
    }


def run_one(model_name: str, seed: int, config: Config, system, data: Data) -> dict[str, Any]:
    model_key, fit_key = jax.random.split(jax.random.key(seed))
    # The model's key differs by name; the minibatches (fit_key) are the same for every model.
    model_key = jax.random.fold_in(model_key, MODELS.index(model_name))
    model = build_model(model_name, config, model_key)
    start = time.perf_counter()
    model, history = lz.fit(
        model,
        data.train[coordinates(model_name)],
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
    row = evaluate(model, model_name, system, data, figure_trajectories=3 if seed == 0 else 0)
    return {
        "model": model_name,
        "seed": seed,
        "steps": config.steps,
        "seconds": seconds,
        "final_train_loss": float(history.train_loss[-1]),
        **row,
    }


# Results and figure -------------------------------------------------------------------------

METRICS = ("test_loss", "test_loss_native", "energy_mse", "rollout_mse", "seconds")
COLUMNS = (
    "model",
    "coordinates",
    "paper_expects",
    "seeds",
    "steps",
    "test_loss",
    "test_loss_std",
    "test_loss_native",
    "energy_mse",
    "energy_mse_std",
    "rollout_mse",
    "rollout_mse_std",
    "failed_rollouts",
    "superluminal_rollouts",
    "rollouts",
    "seconds",
)


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for model_name in MODELS:
        done = [r for r in runs if r["model"] == model_name]
        if not done:
            continue
        row: dict[str, Any] = {
            "model": model_name,
            "coordinates": "(q, p)" if coordinates(model_name) == "canonical" else "(q, q_t)",
            "paper_expects": EXPECTED[model_name],
            "seeds": len(done),
            "steps": done[0]["steps"],
        }
        for metric in METRICS:
            values = np.asarray([r[metric] for r in done], dtype=np.float64)
            values = values[np.isfinite(values)]
            row[metric] = float(values.mean()) if values.size else math.nan
            row[f"{metric}_std"] = float(values.std()) if values.size > 1 else None
        for count in ("failed_rollouts", "superluminal_rollouts", "rollouts"):
            row[count] = int(sum(r[count] for r in done))
        rows.append(row)
    return rows


def figure(runs: list[dict], system, data: Data, path: Path) -> Path | None:
    """The paper's panels per model: phase space (q, q_t) of three test trajectories, and the
    true energy along each rollout against the truth (seed 0)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    shown = [
        name
        for name in MODELS
        for r in runs
        if r["model"] == name and r["seed"] == 0 and r["figure_rollouts"]
    ]
    if not shown:
        return None
    ts = np.asarray(data.ts)
    truth = np.asarray(data.test["velocity"].y[:3])
    true_energy = np.asarray(lz.energy_along(system.energy, jnp.asarray(truth)))
    fig = Figure(figsize=(3.2 * len(shown), 6.2), layout="constrained")
    axes = fig.subplots(2, len(shown), squeeze=False)
    colours = ("tab:blue", "tab:orange", "tab:green")
    c = float(system.speed_of_light)
    for column, name in enumerate(shown):
        run = next(r for r in runs if r["model"] == name and r["seed"] == 0)
        predicted = np.asarray(run["figure_rollouts"], dtype=float)
        top, bottom = axes[0, column], axes[1, column]
        energy = np.asarray(lz.energy_along(system.energy, jnp.asarray(predicted)))
        for i in range(len(predicted)):
            label = "truth" if i == 0 else None
            top.plot(
                truth[i, :, 0], truth[i, :, 1], color="black", lw=2.2, alpha=0.35, label=label
            )
            top.plot(predicted[i, :, 0], predicted[i, :, 1], color=colours[i], lw=1.2)
            bottom.plot(ts, true_energy[i], color="black", lw=2.2, alpha=0.35, label=label)
            bottom.plot(ts, energy[i], color=colours[i], lw=1.2)
            beyond = ~np.isfinite(energy[i])
            if beyond.any():
                first = int(np.argmax(beyond))
                bottom.axvline(ts[first], color=colours[i], ls=":", lw=1)
        for speed in (-c, c):
            top.axhline(speed, color="grey", ls="--", lw=0.8)
        top.set_ylim(-1.15 * c, 1.15 * c)
        top.set_title(LABELS[name], fontsize="medium")
        top.set_xlabel("q")
        bottom.set_xlabel("t")
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
        if column == 0:
            top.set_ylabel("q_t (dashed: the speed of light)")
            bottom.set_ylabel("true energy of the state")
            top.legend(fontsize="small")
    fig.suptitle(
        "Relativistic particle: three test trajectories (grey: truth) and each model's RK4 "
        "rollout; dotted: where |q_t| reached c",
        fontsize="medium",
    )
    fig.savefig(path, dpi=110)
    return path


def write(directory: Path, mode: str, config: Config, runs: list[dict], partial: bool) -> None:
    rows = summarise(runs)
    settings = {
        "system": f"{SYSTEM}, 1 dimension, m = c = 1, g = 1",
        "data": "lz.generate_dataset, noise-free, truth in float64 (tsit5, tolerance 1e-10), "
        "trained in float32; one draw (key 0): the first trajectories train, the others test; "
        "the canonical HNN's data are the same trajectories with p = dL/dq_t",
        "models": {
            "hnn_velocity": "lz.models.HNN(coordinates='velocity')",
            "hnn_canonical": "lz.models.HNN(coordinates='canonical')",
            "lnn": "lz.models.LNN(init='default', checks=False)",
            "delan": "lz.models.DeLaN()",
            "baseline": "lz.models.Baseline(predict='acceleration')",
        },
        "training": "lz.fit, inputs normalised by the training states (adapt=True), Adam with "
        "a cosine decay to 0, gradient clipped to global norm, the same minibatches for every "
        "model of a seed",
        **dataclasses.asdict(config),
        "energy_mse": "lz.metrics.energy_mse_test_trajectories (RK4, dt = gap / 10)",
        "source": "Cranmer et al. 2020, Lagrangian Neural Networks (relativistic particle)",
    }
    notes = [
        f"Every model: {config.width} x {config.depth} {config.activation} network, "
        f"{config.steps} Adam steps of {config.batch_size} states ({config.loss} loss, "
        f"learning rate {config.learning_rate:g} with a cosine decay, gradients clipped to "
        f"norm {config.gradient_clip:g}) on the same {config.train_trajectories} trajectories "
        f"(t in [0, {config.t_end:g}], {config.samples} samples); scored on "
        f"{config.test_trajectories} held-out trajectories per seed. `test_loss`: MSE of "
        "(q_t, q_tt) in velocity coordinates for every model; `test_loss_native`: in the "
        "model's own coordinates; `energy_mse`: the HNN paper's RK4 protocol (mean of finite "
        "rollouts); `failed_rollouts`: non-finite energy (blown up, or |q_t| >= c), "
        "`superluminal_rollouts` the second kind; `seconds`: training time per run on a shared "
        "2-core CPU. Figure: `relativistic_panels.png`.",
        "Reading the energy column: the true energy E = gamma - 1 - g q grows steeply with the "
        "speed near c (dE/dq_t = gamma^3 q_t), so the energy MSE of a model in velocity "
        "coordinates is set by its small velocity errors close to c; in canonical coordinates "
        "E = sqrt(1 + p^2) - 1 - g q is smooth and p_t = g is constant.",
    ]
    _common.write_run_results(
        directory,
        NAME,
        mode,
        settings,
        rows,
        runs,
        partial=partial,
        columns=COLUMNS,
        title="LNN paper: relativistic particle",
        notes=notes,
    )


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__.splitlines()[0], argv, extra=_common.add_run_arguments)
    quick = args.mode == "quick"
    config = QUICK if quick else FULL
    config = _common.with_overrides(config, seeds=args.seeds, steps=args.steps)
    lz.enable_compilation_cache()
    directory = _common.output_dir(args, NAME)
    results_path = directory / f"{NAME}.json"
    started = time.perf_counter()
    system = lz.systems.get(SYSTEM)
    data = make_data(config)

    runs = _common.previous_runs(args, results_path, steps=config.steps)
    plan = [(name, seed) for seed in range(config.seeds) for name in MODELS]
    done = {(r["model"], r["seed"]) for r in runs}
    stopped = False
    for model_name, seed in plan:
        if (model_name, seed) in done:
            continue
        if _common.out_of_time(args.max_minutes, started):
            stopped = True
            break
        print(f"{model_name} / seed {seed} ...", flush=True)
        run = run_one(model_name, seed, config, system, data)
        runs.append(run)
        print(
            f"  test_loss {run['test_loss']:.3e}  energy_mse {run['energy_mse']:.3e}  "
            f"failed {run['failed_rollouts']}/{run['rollouts']}  {run['seconds']:.0f} s",
            flush=True,
        )
        if not quick:
            write(directory, args.mode, config, runs, partial=True)
    finished = not stopped and {(r["model"], r["seed"]) for r in runs} >= set(plan)
    write(directory, args.mode, config, runs, partial=not finished)
    figure(runs, system, data, directory / f"{NAME}_panels.png")
    print(f"wrote {results_path} ({'complete' if finished else 'partial'}, {len(runs)} results)")
    if not finished:
        print(f"continue with: python benchmarks/{NAME}.py --full --resume")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
