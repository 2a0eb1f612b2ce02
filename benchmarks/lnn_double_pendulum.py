"""The Lagrangian Neural Networks paper's double pendulum, on the paper's training distribution.

Every model learns from the LNN paper's stream (`lz.StateStream(system)`): fresh random states
for every batch, angles U[0, 2pi), angular velocities U[-10, 10), exact accelerations as targets,
an L1 loss. Models:

- `lnn`: `lz.models.LNN`, angles embedded as (cos q, sin q);
- `baseline`: the paper's baseline, an MLP of the state that predicts the accelerations
  (`lz.models.Baseline(predict="acceleration")`);
- `hnn`: an HNN in canonical coordinates (q, p), trained on the same states converted by the
  true Legendre map (its q_tt for the test loss comes from the true mass matrix);
- `delan`: `lz.models.DeLaN` (kinetic energy quadratic in q_t with a learned M(q)).

Recipes:

- `paper`: the LNN paper's network, 500 x 4 softplus with its initialisation, batch 32, Adam
  1e-3 with a cosine decay, no input scaling and no gradient clipping;
- `ours`: 128 x 3 softplus, batch 256, inputs scaled by the data's standard deviation
  (`lz.fit(adapt=True)`: velocities / 5.8 on this stream, momenta for the HNN), Adam 3e-3
  with a cosine decay and the gradient clipped to global norm 1, 150000 steps; Equinox's
  default initialisation, except for the LNN, which keeps the paper's (`init="lnn"`) and adds
  the mass prior (`LNN(mass_prior=True)`: a free particle's kinetic energy with learned masses
  added to the network's Lagrangian). At initialisation the network's own mass matrix is small
  and indefinite at most states, so its accelerations and their gradients are huge where it is
  nearly singular: without the prior the LNN sits on a plateau (L1 near 10) for tens of
  thousands of steps. `--ablation` measures each choice (one change at a time, 4000 steps).
- `ours_10000_steps`, `ours_30000_steps`, `ours_width_64`, `ours_width_256` (LNN, seed 0
  only): the budget curves, `ours` with fewer steps and, at 30000 steps, other widths;
- `paper_long` (LNN, seed 0 only): the paper's recipe for 120000 steps, about the training
  time of `ours`, so that the two recipes compare at the same budget;
- `paper_scaled` (LNN, seed 0 only): the same with the inputs scaled by the data
  (`adapt=True`). Without scaling, velocities of order 10 enter the network raw and the
  paper's LNN stays on its plateau (held-out L1 near 20, the size of q_tt itself) however
  long it trains; with it, 3000 steps reach L1 4.3.

Each training run gets the same number of optimizer steps within a recipe (`config.steps`), in
float32 (about 1.5x faster than float64 on a CPU); the `seconds` column says what that cost.
The `ours` models of seed 0 (LNN and baseline) are saved in `lnn_double_pendulum_models/` for
the GIF of the paper's figure 2 (`lnn_double_pendulum.gif`).

Metrics:

- `test_loss`: the mean absolute error of the accelerations q_tt on 4096 held-out states of the
  training distribution (the paper's L1 loss);
- `energy_discrepancy_percent`: the authors' metric, |E_true - E_pred| / (3 m g l) at t = 100
  averaged over 40 initial states nearly at rest (angles U[0, 2pi), velocities U[0, 0.1)),
  sampled at 10 per unit time; the truth is integrated in float64 by Dopri8 at tolerance
  1e-10, the models (trained in float32) by Tsit5 at rtol 1e-7, atol 1e-9 in float64;
- `energy_discrepancy_mean_percent`: the same averaged over time;
- `valid_prediction_time`: `lz.metrics.valid_prediction_time` (threshold 0.4), mean over the
  initial states;
- `failed_rollouts`: rollouts that failed, summed over seeds: non-finite (stopped at
  `max_steps` or blown up), or with an energy error above 100 % of 3 m g l at any time
  (`lz.metrics.failed_rollouts`). The energy means average the other rollouts only; the
  median takes a failed rollout as the worst value; a row with failures says so.

`--rescore` applies the failure rule to a results file written before it: each run that may
hold a finite rollout with an energy error above 100 % is evaluated again from its saved model,
or trained again when none was kept; the run then continues as with `--resume`.

`--timing` measures the training time per step of each recipe (`lnn_double_pendulum_timing`)
and projects the full run's cost from it; run it on an otherwise idle machine.

Full runs write `lnn_double_pendulum.json` after every (model, recipe, seed), marked
`"partial": true` until the last one; `--resume` continues from it, and `--max-minutes` stops
a run between results so that each invocation stays short. `--figures` redraws the figures,
the GIF and the budget table (`lnn_double_pendulum_budget.md`) from the results file and the
saved models, training nothing.
"""

import dataclasses
import json
import math
import os
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


NAME = "lnn_double_pendulum"
SYSTEM = "double_pendulum"
PUBLISHED = {
    # Cranmer et al. 2020, the double pendulum: final L1 losses and energy discrepancies.
    "lnn": {"test_loss": 7.3e-2, "energy_discrepancy_percent": 0.4},
    "baseline": {"test_loss": 7.4e-2, "energy_discrepancy_percent": 8.0},
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    width: int
    depth: int
    batch_size: int
    init: str
    velocity_scale: float | None  # inputs q_t / scale; None: raw velocities (or `adapt`)
    gradient_clip: float | None
    learning_rate: float = 1e-3
    mass_prior: bool = False  # LNN only: a free particle's kinetic energy added to L
    adapt: bool = False  # `lz.fit(adapt=True)`: inputs scaled by the data's standard deviation
    lnn_init: str | None = None  # the LNN's initialisation where it differs from `init`


RECIPES = {
    "paper": Recipe(
        width=500, depth=4, batch_size=32, init="lnn", velocity_scale=None, gradient_clip=None
    ),
    "ours": Recipe(
        width=128,
        depth=3,
        batch_size=256,
        init="default",
        lnn_init="lnn",
        velocity_scale=None,
        adapt=True,
        gradient_clip=1.0,
        learning_rate=3e-3,
        mass_prior=True,
    ),
}
# The LNN's budget curves (seed 0 only): `ours` with fewer steps, and other widths; and the
# paper's recipe given about the training time of `ours` (its 150000 steps), as published
# and with its inputs scaled by the data (`adapt`).
BUDGET_RECIPES = {
    "paper_long": RECIPES["paper"],
    "paper_scaled": dataclasses.replace(RECIPES["paper"], adapt=True),
    "ours_10000_steps": RECIPES["ours"],
    "ours_30000_steps": RECIPES["ours"],
    "ours_width_64": dataclasses.replace(RECIPES["ours"], width=64),
    "ours_width_256": dataclasses.replace(RECIPES["ours"], width=256),
}
RECIPES.update(BUDGET_RECIPES)


@dataclasses.dataclass(frozen=True)
class Config:
    models: tuple[str, ...]
    recipes: dict[str, tuple[str, ...]]  # model -> recipes it is trained with
    steps: dict[str, int]  # recipe -> optimizer steps per training run
    seeds: int
    seed_zero_only: tuple[str, ...]  # recipes trained with seed 0 only (the budget curves)
    initial_states: int
    t_end: float
    samples_per_unit_time: int
    test_states: int
    max_rollout_steps: int
    animation_seconds: float


FULL = Config(
    models=("lnn", "baseline", "hnn", "delan"),
    recipes={
        "lnn": ("ours", "paper", *BUDGET_RECIPES),
        "baseline": ("ours",),
        "hnn": ("ours",),
        "delan": ("ours",),
    },
    steps={
        "ours": 150_000,
        "paper": 3_000,
        # A step of the paper's 500 x 4 LNN at batch 32 takes about 1.2x one of `ours`.
        "paper_long": 120_000,
        "paper_scaled": 120_000,
        "ours_10000_steps": 10_000,
        "ours_30000_steps": 30_000,
        "ours_width_64": 30_000,
        "ours_width_256": 30_000,
    },
    seeds=3,
    seed_zero_only=tuple(BUDGET_RECIPES),
    initial_states=40,
    t_end=100.0,
    samples_per_unit_time=10,
    test_states=4096,
    max_rollout_steps=25_000,
    animation_seconds=20.0,
)
QUICK = Config(
    models=("lnn", "baseline", "hnn", "delan"),
    recipes={
        "lnn": ("ours", "paper"),
        "baseline": ("ours",),
        "hnn": ("ours",),
        "delan": ("ours",),
    },
    steps={"ours": 30, "paper": 10},
    seeds=1,
    seed_zero_only=(),
    initial_states=2,
    t_end=1.0,
    samples_per_unit_time=10,
    test_states=256,
    max_rollout_steps=2_000,
    animation_seconds=1.0,
)
ABLATION_STEPS = 4000  # per variant of `--ablation`
TIMING_STEPS = 2000  # `--timing` times this many steps (and twice as many) per recipe
QUICK_RECIPES = {
    name: dataclasses.replace(recipe, width=16, depth=2) for name, recipe in RECIPES.items()
}


def build_model(name: str, recipe: Recipe, system, key):
    sizes: dict[str, Any] = dict(
        width=recipe.width, depth=recipe.depth, init=recipe.init, periodic=system.periodic
    )
    if name == "lnn":
        sizes["init"] = recipe.lnn_init or recipe.init
        # Rollouts stop (as failures) rather than raise where a learned mass matrix is singular.
        return lz.models.LNN(
            system.dof, key=key, checks=False, mass_prior=recipe.mass_prior, **sizes
        )
    if name == "baseline":
        return lz.models.Baseline(
            system.dof, key=key, predict="acceleration", activation="softplus", **sizes
        )
    if name == "hnn":
        return lz.models.HNN(system.dof, key=key, activation="softplus", **sizes)
    if name == "delan":
        return lz.models.DeLaN(system.dof, key=key, **sizes)
    raise ValueError(f"unknown model {name!r}")


def optimizer(recipe: Recipe, steps: int) -> optax.GradientTransformation:
    return _common.clipped_adam(recipe.learning_rate, steps, recipe.gradient_clip)


def accelerations(model, system, y: jax.Array) -> jax.Array:
    """The model's q_tt at velocity states `y`; a canonical HNN's p_t is converted with the
    true mass matrix, q_tt = M^-1 (p_t - dM/dt q_t)."""
    n = system.dof
    if model.coordinates != "canonical":
        return jax.vmap(lambda state: model(0.0, state, None))(y)[:, n:]
    masses = lz.mass_matrix(system.lagrangian)
    momentum = lz.momenta(system.lagrangian)

    def one(state):
        q, q_t = state[:n], state[n:]
        p_t = model(0.0, jnp.concatenate([q, momentum(q, q_t)]), None)[n:]
        mass, mass_rate = jax.jvp(lambda x: masses(x, q_t), (q,), (q_t,))
        return jnp.linalg.solve(mass, p_t - mass_rate @ q_t)

    return jax.vmap(one)(y)


def true_rollouts(system_name: str, y0, ts) -> np.ndarray:
    """The truth, in float64 at tolerance 1e-10 (the authors' setting)."""
    with jax.enable_x64(True):
        system64 = lz.systems.get(system_name)
        ys = lz.rollout(
            system64,
            jnp.asarray(np.asarray(y0), jnp.float64),
            jnp.asarray(np.asarray(ts), jnp.float64),
            solver="dopri8",
            rtol=1e-10,
            atol=1e-10,
            max_steps=1_000_000,
        )
        return np.asarray(ys)


def rollout_in_float64(model, y0, ts, max_steps: int | None = None) -> np.ndarray:
    """The model (trained in float32) rolled out from `y0` in float64, by Tsit5 at rtol 1e-7,
    atol 1e-9; a rollout that stops early (`max_steps`) leaves non-finite states. A model
    that takes canonical states is rolled out in `[q, p]` and mapped back with the system's
    Lagrangian, in float64 too."""
    with jax.enable_x64(True):
        system64 = lz.systems.get(SYSTEM)
        ys = lz.rollout(
            model,
            y0,
            ts,
            rtol=1e-7,
            atol=1e-9,
            checks=False,
            max_steps=max_steps,
            dtype=jnp.float64,
            lagrangian=system64.lagrangian,
        )
        return np.asarray(ys)


def evaluate(model, system, stream, y0, ts, truth, config: Config, seed: int) -> dict[str, Any]:
    y, dy = stream.sample(jax.random.key(10_000 + seed), config.test_states)
    test_loss = float(jnp.mean(jnp.abs(accelerations(model, system, y) - dy[:, system.dof :])))
    start = time.perf_counter()
    predicted = rollout_in_float64(model, y0, ts, config.max_rollout_steps)
    rollout_seconds = time.perf_counter() - start
    with jax.enable_x64(True):
        system64 = lz.systems.get(SYSTEM)
        scale = float(system64.max_potential_energy)
        truth64, predicted64 = jnp.asarray(truth), jnp.asarray(predicted)
        # Failed: non-finite, or an energy error above 100 % of the scale at any time (a
        # rollout that left the physical range); counted, never averaged into a mean.
        failed = np.asarray(
            lz.metrics.failed_rollouts(truth64, predicted64, energy=system64.energy, scale=scale)
        )
        true_energy = np.asarray(lz.energy_along(system64.energy, truth64))
        predicted_energy = np.asarray(lz.energy_along(system64.energy, predicted64))
        # A failed rollout's valid time is the time it first left the truth's neighbourhood
        # (non-finite states count as exceeding), so every rollout enters this mean.
        valid_time = lz.metrics.valid_prediction_time(
            jnp.asarray(np.asarray(ts), jnp.float64), truth64, predicted64,
            periodic=system64.periodic,
        ).mean()  # fmt: skip
    kept = ~failed
    gap = np.abs(predicted_energy - true_energy) / scale  # (states, times), nan if non-finite
    final = gap[:, -1]
    row: dict[str, Any] = {
        "test_loss": test_loss,
        "failed_rollouts": int(failed.sum()),
        "rollout_seconds": rollout_seconds,
        "valid_prediction_time": float(valid_time),
        # Per initial state, failed ones included, so that a table can be re-aggregated.
        "energy_discrepancy_percent_per_rollout": (100 * final).tolist(),
        "failed_per_rollout": failed.tolist(),
        # The median takes a failed rollout as the worst value.
        "energy_discrepancy_median_percent": 100 * float(np.median(np.where(kept, final, np.inf))),
    }
    if kept.any():
        row["energy_discrepancy_percent"] = 100 * float(final[kept].mean())
        row["energy_discrepancy_mean_percent"] = 100 * float(gap[kept].mean())
    # For the figure: one initial state's energy and the per-time mean discrepancy.
    row["curves"] = {
        "energy_first_state": predicted_energy[0].tolist(),
        "discrepancy_percent_mean": (100 * gap[kept].mean(axis=0)).tolist()
        if kept.any()
        else None,
    }
    return row


def train(model_name, recipe, seed, steps, system, stream):
    """One training run of `model_name` with `recipe`: the model, its history, the seconds."""
    key = jax.random.key(seed)
    model_key, train_key = jax.random.split(key)
    model = build_model(model_name, recipe, system, model_key)
    data = lz.CanonicalStream(stream) if model.coordinates == "canonical" else stream
    # A fixed velocity scale (momenta, for the HNN, by their standard deviation: `adapt`).
    adapt = recipe.adapt or (model_name == "hnn" and recipe.velocity_scale is not None)
    if model_name != "hnn" and recipe.velocity_scale is not None:
        n = system.dof
        scale = jnp.concatenate([jnp.ones(n), jnp.full(n, recipe.velocity_scale)])
        normaliser = lz.models.Normaliser(
            mean=jnp.zeros(2 * n), scale=scale, periodic=system.periodic
        )
        model = eqx.tree_at(lambda m: m.normaliser, model, normaliser)
    start = time.perf_counter()
    model, history = lz.fit(
        model,
        data,
        steps=steps,
        batch_size=recipe.batch_size,
        optimizer=optimizer(recipe, steps),
        loss="l1",
        key=train_key,
        adapt=adapt,
        progress=False,
        log_every=max(steps // 20, 1),
    )
    return model, history, time.perf_counter() - start


def run_one(
    model_name, recipe_name, recipe, seed, config, system, stream, y0, ts, truth, models_dir=None
):
    steps = config.steps[recipe_name]
    model, history, seconds = train(model_name, recipe, seed, steps, system, stream)
    if models_dir is not None:
        # Kept for the GIF of the paper's figure 2 (seed 0 of `ours` only).
        models_dir.mkdir(parents=True, exist_ok=True)
        lz.save_model(models_dir / f"{model_name}_{recipe_name}_seed{seed}.eqx", model)
    row = evaluate(model, system, stream, y0, ts, truth, config, seed)
    return {
        "model": model_name,
        "recipe": recipe_name,
        "seed": seed,
        "steps": steps,
        "seconds": seconds,
        "final_train_loss": float(history.train_loss[-1]),
        **row,
    }


def may_hide_a_failure(run: dict, rollouts: int) -> bool:
    """Whether a run scored before the failure rule (a finite rollout whose energy error
    passed 100 % of the scale is failed) could hold such a rollout: its per-time mean
    discrepancy over the finite rollouts bounds each one by `mean x count`."""
    if "failed_per_rollout" in run:
        return False
    curve = run["curves"].get("discrepancy_percent_mean")
    finite = rollouts - run["failed_rollouts"]
    return curve is not None and max(curve) * finite >= 100


def rescored(runs, system, stream, y0, ts, truth, config, models_dir: Path) -> list[dict]:
    """The runs under the current failure rule: a run that may hide a failed rollout is
    evaluated again from its saved model, or dropped (so that `--resume` trains it again)."""
    kept = []
    for run in runs:
        if not may_hide_a_failure(run, config.initial_states):
            kept.append(run)
            continue
        path = models_dir / f"{run['model']}_{run['recipe']}_seed{run['seed']}.eqx"
        if not path.exists():
            print(f"rescore: {run['model']} / {run['recipe']} / seed {run['seed']}: no saved "
                  "model, trained again")  # fmt: skip
            continue
        row = evaluate(lz.load_model(path), system, stream, y0, ts, truth, config, run["seed"])
        print(f"rescore: {path.name}: {row['failed_rollouts']} failed rollouts")
        earlier = {k: v for k, v in run.items() if not k.startswith("energy_discrepancy")}
        kept.append({**earlier, **row})
    return kept


def ablation_recipes(ours: Recipe) -> dict[str, Recipe]:
    """`ours` and `ours` with one choice undone (the last: every change at once)."""
    return {
        "ours": ours,
        "without the mass prior": dataclasses.replace(ours, mass_prior=False),
        "Equinox's default initialisation": dataclasses.replace(ours, lnn_init="default"),
        "learning rate 1e-3": dataclasses.replace(ours, learning_rate=1e-3),
        "velocities / 2.5 instead of adapt": dataclasses.replace(
            ours, adapt=False, velocity_scale=2.5
        ),
        "no gradient clipping": dataclasses.replace(ours, gradient_clip=None),
        "batch 128": dataclasses.replace(ours, batch_size=128),
        "the earlier `ours` (default init, velocities / 2.5, learning rate 1e-3)": (
            dataclasses.replace(
                ours, lnn_init="default", adapt=False, velocity_scale=2.5, learning_rate=1e-3
            )
        ),
    }


def ablation(args, quick: bool) -> None:
    """The LNN's recipe, one change at a time: the L1 error of q_tt after a short run."""
    steps = 20 if quick else ABLATION_STEPS
    ours = (QUICK_RECIPES if quick else RECIPES)["ours"]
    variants = ablation_recipes(ours)
    if quick:
        variants = dict(list(variants.items())[:2])
    system = lz.systems.get(SYSTEM)
    stream = lz.StateStream(system)
    test_states = QUICK.test_states if quick else FULL.test_states
    y, dy = stream.sample(jax.random.key(10_000), test_states)
    rows = []
    for name, recipe in variants.items():
        model, history, seconds = train("lnn", recipe, 0, steps, system, stream)
        error = jnp.abs(accelerations(model, system, y) - dy[:, system.dof :])
        rows.append(
            {
                "variant": name,
                "steps": steps,
                "batch_size": recipe.batch_size,
                "final_train_loss": float(history.train_loss[-1]),
                "test_loss": float(jnp.mean(error)),
                "seconds": seconds,
            }
        )
        print(f"{name}: test_loss {rows[-1]['test_loss']:.4g}  {seconds:.0f} s", flush=True)
    directory = _common.output_dir(args, NAME)
    _common.write_results(
        directory,
        f"{NAME}_ablation",
        args.mode,
        {
            "system": SYSTEM,
            "model": "lz.models.LNN, 128 x 3 softplus, seed 0, float32",
            "training_distribution": "the paper's (lz.StateStream(system)), L1 loss",
            "ours": dataclasses.asdict(ours),
            "steps": steps,
            "schedule": "cosine decay to 0 over the steps",
        },
        rows,
        columns=["variant", "steps", "batch_size", "final_train_loss", "test_loss", "seconds"],
        title="LNN paper: double pendulum, the LNN's recipe one change at a time",
        notes=[
            f"Each row trains `lz.models.LNN` for {steps} steps on the paper's stream with "
            "`ours` changed in one way; `test_loss` is the L1 error of q_tt on held-out states "
            "of the training distribution (the same states for every row); `seconds` is "
            "training time on a shared 2-core CPU.",
        ],
    )


def summarise(runs: list[dict], config: Config) -> list[dict]:
    rows = []
    for model_name in config.models:
        for recipe_name in config.recipes[model_name]:
            done = [r for r in runs if (r["model"], r["recipe"]) == (model_name, recipe_name)]
            if not done:
                continue
            recipe = (QUICK_RECIPES if config is QUICK else RECIPES)[recipe_name]
            row: dict[str, Any] = {
                "model": model_name,
                "recipe": recipe_name,
                "width": recipe.width,
                "depth": recipe.depth,
                "mass_prior": recipe.mass_prior and model_name == "lnn",
                "steps": done[0]["steps"],
                "seeds": len(done),
            }
            for metric in (
                "test_loss",
                "energy_discrepancy_percent",
                "energy_discrepancy_median_percent",
                "energy_discrepancy_mean_percent",
                "valid_prediction_time",
                "seconds",
            ):
                values = [r[metric] for r in done if r.get(metric) is not None]
                values = [v for v in values if math.isfinite(v)]
                row[metric] = float(np.mean(values)) if values else None
                if metric in ("test_loss", "energy_discrepancy_percent") and len(values) > 1:
                    row[f"{metric}_std"] = float(np.std(values))
            row["failed_rollouts"] = sum(r["failed_rollouts"] for r in done)
            row["rollouts"] = config.initial_states * len(done)
            published = PUBLISHED.get(model_name, {})
            row["published_test_loss"] = published.get("test_loss")
            row["published_energy_discrepancy_percent"] = published.get(
                "energy_discrepancy_percent"
            )
            rows.append(row)
    return rows


def figure(runs: list[dict], ts: np.ndarray, true_energy: np.ndarray, path: Path) -> None:
    """Energy along one rollout (true / baseline / LNN) and the mean discrepancy over time;
    curves leaving the axes are clipped and a diverged rollout is marked where it leaves."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    chosen = {}
    for model_name in ("baseline", "lnn"):
        for r in runs:
            if (r["model"], r["recipe"], r["seed"]) == (model_name, "ours", 0):
                chosen[model_name] = r
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(ts, true_energy, color="black", label="true", linewidth=1.5)
    low, high = true_energy.min(), true_energy.max()
    span = max(high - low, 0.05 * abs(high) + 1e-3)
    limits = (low - 2 * span, high + 2 * span)
    colours = {"baseline": "tab:red", "lnn": "tab:blue"}
    for model_name, r in chosen.items():
        energy = np.asarray(r["curves"]["energy_first_state"], dtype=float)
        outside = ~np.isfinite(energy) | (energy < limits[0]) | (energy > limits[1])
        label = model_name
        if outside.any():
            first = int(np.argmax(outside))
            label += f" (leaves the axis at t = {ts[first]:.1f})"
            top.plot(
                ts[first],
                np.clip(np.nan_to_num(energy[first], nan=limits[1]), *limits),
                "x",
                color=colours[model_name],
                markersize=10,
            )
            energy = np.where(np.arange(len(energy)) < first, energy, np.nan)
        top.plot(ts, energy, color=colours[model_name], label=label, linewidth=1.0)
    top.set_ylim(*limits)
    top.set_ylabel("true energy of the state")
    top.set_title("Double pendulum, one initial state nearly at rest (seed 0)")
    top.legend(fontsize="small")
    top.grid(alpha=0.3)
    for model_name, r in chosen.items():
        mean = r["curves"]["discrepancy_percent_mean"]
        failed = r["failed_rollouts"]
        if mean is None:
            continue
        label = f"{model_name}, mean of finite rollouts ({failed} failed)"
        values = np.clip(np.asarray(mean, dtype=float), 1e-6, 1e3)
        bottom.plot(ts, values, color=colours[model_name], label=label, linewidth=1.0)
    bottom.axhline(8.0, color="tab:red", linestyle=":", label="paper: baseline 8 %")
    bottom.axhline(0.4, color="tab:blue", linestyle=":", label="paper: LNN 0.4 %")
    bottom.set_yscale("log")
    bottom.set_ylim(1e-4, 1e3)
    bottom.set_ylabel("|E_pred - E_true| / 3mgl, %")
    bottom.set_xlabel("t")
    bottom.legend(fontsize="small")
    bottom.grid(alpha=0.3, which="both")
    fig.savefig(path, dpi=120)


def budget_figure(runs: list[dict], path: Path) -> None:
    """The LNN's energy discrepancy against training time (128 x 3) and against width (30000
    steps), seed 0, with the other models' `ours` runs for scale."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    seed0 = {(r["model"], r["recipe"]): r for r in runs if r["seed"] == 0}
    fig = Figure(figsize=(10.0, 5.6), layout="constrained")
    by_time, by_width = fig.subplots(1, 2)
    marks = {"lnn": "o-", "delan": "s", "baseline": "^", "hnn": "v"}
    timed = [seed0.get(("lnn", name)) for name in ("ours_10000_steps", "ours_30000_steps", "ours")]
    timed = [r for r in timed if r is not None and r.get("energy_discrepancy_percent")]
    if timed:
        by_time.plot(
            [r["seconds"] / 60 for r in timed],
            [r["energy_discrepancy_percent"] for r in timed],
            marks["lnn"],
            label="LNN, 10000 / 30000 / 150000 steps",
        )
    # The paper's recipe as published (3000 and 120000 steps) and with its inputs scaled.
    paper_lines = (
        ("the paper's recipe", ("paper", "paper_long"), "D--", "tab:purple"),
        ("the paper's recipe, inputs scaled", ("paper_scaled",), "D", "tab:pink"),
    )
    for label, names, mark, colour in paper_lines:
        paper = [seed0.get(("lnn", name)) for name in names]
        paper = [r for r in paper if r is not None and r.get("energy_discrepancy_percent")]
        if paper:
            steps = " / ".join(str(r["steps"]) for r in paper)
            by_time.plot(
                [r["seconds"] / 60 for r in paper],
                [r["energy_discrepancy_percent"] for r in paper],
                mark,
                color=colour,
                label=f"LNN, {label} (500 x 4, batch 32), {steps} steps",
            )
    top = 1e2  # a mean set by one blown-up rollout is drawn at the top, with its numbers
    for name in ("delan", "baseline", "hnn"):
        r = seed0.get((name, "ours"))
        if r is not None and r.get("energy_discrepancy_percent"):
            mean = r["energy_discrepancy_percent"]
            label = name if mean <= top else f"{name}: mean {mean:.2g} % (off the axis)"
            if mean > top:
                label += f", median {r['energy_discrepancy_median_percent']:.2g} %"
            by_time.plot(r["seconds"] / 60, min(mean, top), marks[name], label=label)
    by_time.axhline(0.4, color="tab:blue", linestyle=":", label="paper: LNN 0.4 %")
    by_time.axhline(0.05, color="tab:green", linestyle=":", label="goal: 0.05 %")
    by_time.set_xlabel("training wall time, minutes (2 cores, shared)")
    by_time.set_ylabel("energy discrepancy at t = 100, %")
    by_time.set_yscale("log")
    by_time.set_ylim(1e-3, 2 * top)
    # Below both panels: inside, the legend would hide the curves.
    fig.legend(
        *by_time.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small"
    )
    by_time.grid(alpha=0.3, which="both")
    sized = [
        seed0.get(("lnn", name))
        for name in ("ours_width_64", "ours_30000_steps", "ours_width_256")
    ]
    sized = [r for r in sized if r is not None and r.get("energy_discrepancy_percent")]
    widths = {"ours_width_64": 64, "ours_30000_steps": 128, "ours_width_256": 256}
    if sized:
        by_width.plot(
            [widths[r["recipe"]] for r in sized],
            [r["energy_discrepancy_percent"] for r in sized],
            "o-",
            label="LNN, 3 layers, 30000 steps",
        )
        for r in sized:
            by_width.annotate(
                f"{r['seconds'] / 60:.1f} min",
                (widths[r["recipe"]], r["energy_discrepancy_percent"]),
                fontsize="small",
            )
    by_width.set_xscale("log", base=2)
    by_width.set_yscale("log")
    by_width.set_xlabel("hidden width")
    by_width.legend(fontsize="small")
    by_width.grid(alpha=0.3, which="both")
    fig.suptitle("Double pendulum: accuracy against budget (seed 0)")
    fig.savefig(path, dpi=120)


def animation(system, y0, directory: Path, *, seconds: float) -> None:
    """The GIF of the paper's figure 2: the truth, the baseline and the LNN (seed 0 of `ours`,
    from the saved models) from the first initial state nearly at rest."""
    models_dir = directory / f"{NAME}_models"
    paths = {name: models_dir / f"{name}_ours_seed0.eqx" for name in ("baseline", "lnn")}
    if not all(path.exists() for path in paths.values()):
        return
    frames_per_second = 10
    ts = np.linspace(0.0, seconds, int(seconds * frames_per_second) + 1)
    series = {"true": true_rollouts(SYSTEM, y0[0], ts)}
    for name, path in paths.items():
        series[name] = rollout_in_float64(lz.load_model(path), y0[0], ts)
    lz.plots.animate_pendulum(
        series,
        lengths=tuple(float(length) for length in system.lengths),
        ts=ts,
        fps=frames_per_second,
        path=directory / f"{NAME}.gif",
        title="double pendulum from rest: truth, baseline, LNN (seed 0)",
    )


def draw(runs, system, y0, ts, truth, directory: Path, config: Config) -> None:
    """The energy figure, the budget figure and the GIF, from the runs and the saved models."""
    true_energy = np.asarray(lz.energy_along(system.energy, jnp.asarray(truth[0], jnp.float32)))
    figure(runs, np.asarray(ts), true_energy, directory / f"{NAME}_energy.png")
    if config.seed_zero_only:
        budget_figure(runs, directory / f"{NAME}_budget.png")
    animation(system, y0, directory, seconds=config.animation_seconds)


def timing(args, quick: bool) -> None:
    """Training time per step of each model's `ours` (and the LNN's `paper`) recipe, and what
    the full run's steps cost at that rate: the budget figure's times were measured beside
    other jobs, these on whatever the machine runs now (run it alone).

    Two runs of `k` and `2 k` steps; their difference is `k` steps without compilation."""
    k = 10 if quick else TIMING_STEPS
    recipes = QUICK_RECIPES if quick else RECIPES
    config = QUICK if quick else FULL
    system = lz.systems.get(SYSTEM)
    stream = lz.StateStream(system)
    cores = os.cpu_count() or 1
    rows = []
    cases = [("lnn", "ours"), ("baseline", "ours"), ("lnn", "paper"), ("hnn", "ours")]
    cases.append(("delan", "ours"))
    if quick:
        cases = cases[:2]  # a smoke run: two compilations per case
    for model_name, recipe_name in cases:
        seconds = [
            train(model_name, recipes[recipe_name], 0, steps, system, stream)[2]
            for steps in (k, 2 * k)
        ]
        per_step = max(seconds[1] - seconds[0], 0.0) / k
        compile_seconds = max(seconds[0] - k * per_step, 0.0)
        steps = config.steps[recipe_name]
        projected = compile_seconds + steps * per_step
        rows.append(
            {
                "model": model_name,
                "recipe": recipe_name,
                "batch_size": recipes[recipe_name].batch_size,
                "ms_per_step": 1e3 * per_step,
                "compile_seconds": compile_seconds,
                "steps": steps,
                "projected_minutes": projected / 60,
                "projected_cpu_minutes": cores * projected / 60,
            }
        )
        print(
            f"{model_name} / {recipe_name}: {1e3 * per_step:.3g} ms per step, {steps} steps "
            f"in {projected / 60:.3g} min ({cores} cores)",
            flush=True,
        )
    directory = _common.output_dir(args, NAME)
    _common.write_results(
        directory,
        f"{NAME}_timing",
        args.mode,
        {"system": SYSTEM, "timed_steps": [k, 2 * k], "cores": cores, "dtype": "float32"},
        rows,
        columns=list(rows[0]),
        title="LNN paper: double pendulum, training time per step",
        notes=[
            f"Each recipe trains {k} and then {2 * k} steps on the paper's stream; the "
            f"difference is {k} steps without compilation. `projected_minutes`: the full "
            "run's steps at that rate plus one compilation; `projected_cpu_minutes`: the same "
            f"times the machine's {cores} cores (the training uses all of them). Measured "
            "with nothing else running.",
        ],
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    resume = "--resume" in argv
    max_minutes = None
    if "--max-minutes" in argv:
        index = argv.index("--max-minutes")
        max_minutes = float(argv[index + 1])
        del argv[index : index + 2]
    run_ablation = "--ablation" in argv
    run_timing = "--timing" in argv
    figures_only = "--figures" in argv
    rescore = "--rescore" in argv
    resume = resume or rescore
    flags = ("--resume", "--ablation", "--timing", "--figures", "--rescore")
    argv = [a for a in argv if a not in flags]
    args = _common.parse_args(__doc__.splitlines()[0], argv)
    quick = args.mode == "quick"
    if run_ablation:
        return ablation(args, quick)
    if run_timing:
        return timing(args, quick)
    config = QUICK if quick else FULL
    recipes = QUICK_RECIPES if quick else RECIPES
    lz.enable_compilation_cache()
    directory = _common.output_dir(args, NAME)
    results_path = directory / f"{NAME}.json"
    started = time.perf_counter()

    system = lz.systems.get(SYSTEM)
    stream = lz.StateStream(system)
    y0 = jax.vmap(system.sample_initial_state)(
        jax.random.split(jax.random.key(2020), config.initial_states)
    )
    ts = jnp.linspace(0.0, config.t_end, int(config.t_end * config.samples_per_unit_time) + 1)
    truth = true_rollouts(SYSTEM, y0, ts)

    runs: list[dict] = []
    if (resume or figures_only) and results_path.exists():
        runs = json.loads(results_path.read_text()).get("runs", [])
        print(f"resuming: {len(runs)} results already in {results_path}")
    if rescore:
        runs = rescored(runs, system, stream, y0, ts, truth, config, directory / f"{NAME}_models")
    if figures_only:
        # Redraws the figures, the GIF and the budget table from the results and the saved
        # models, training nothing.
        draw(runs, system, y0, ts, truth, directory, config)
        if config.seed_zero_only:
            write_budget_table(directory, runs)
        return
    plan = [
        (model_name, recipe_name, seed)
        for seed in range(config.seeds)
        for model_name in config.models
        for recipe_name in config.recipes[model_name]
        if seed == 0 or recipe_name not in config.seed_zero_only
    ]
    done = {(r["model"], r["recipe"], r["seed"]) for r in runs}
    stopped = False
    for model_name, recipe_name, seed in plan:
        if (model_name, recipe_name, seed) in done:
            continue
        if _common.out_of_time(max_minutes, started):
            stopped = True
            break
        print(f"{model_name} / {recipe_name} / seed {seed} ...", flush=True)
        run = run_one(
            model_name,
            recipe_name,
            recipes[recipe_name],
            seed,
            config,
            system,
            stream,
            y0,
            ts,
            truth,
            models_dir=(
                directory / f"{NAME}_models"
                if (recipe_name, seed) == ("ours", 0) and model_name in ("lnn", "baseline")
                else None
            ),
        )
        runs.append(run)
        print(
            f"  test_loss {run['test_loss']:.4g}  energy "
            f"{run.get('energy_discrepancy_percent', float('nan')):.4g} %  failed "
            f"{run['failed_rollouts']}  {run['seconds']:.0f} s",
            flush=True,
        )
        if not quick:
            write(directory, args.mode, config, recipes, runs, partial=True)
    finished = not stopped and len(runs) >= len(plan)
    write(directory, args.mode, config, recipes, runs, partial=not finished)
    draw(runs, system, y0, ts, truth, directory, config)
    print(f"wrote {results_path} ({'complete' if finished else 'partial'}, {len(runs)} results)")
    if not finished:
        print(f"continue with: python benchmarks/{NAME}.py --full --resume")


# The budget table's rows, in order; each label gains the recipe's steps (`FULL.steps`).
BUDGET_LABELS = {
    "ours_10000_steps": "ours",
    "ours_30000_steps": "ours",
    "ours": "ours",
    "ours_width_64": "ours, width 64",
    "ours_width_256": "ours, width 256",
    "paper": "the paper's recipe (500 x 4, batch 32)",
    "paper_long": "the paper's recipe (500 x 4, batch 32)",
    "paper_scaled": "the paper's recipe with inputs scaled (adapt)",
}


def write_budget_table(directory: Path, runs: list[dict]) -> None:
    """`lnn_double_pendulum_budget.md`: what a budget buys, the LNN's seed-0 runs of every
    recipe side by side (the LNN page shows it)."""
    seed0 = {r["recipe"]: r for r in runs if r["model"] == "lnn" and r["seed"] == 0}
    rows = [
        {
            "LNN recipe": f"{label}, {FULL.steps[name]} steps",
            "training minutes": seed0[name]["seconds"] / 60,
            "held-out L1 of q_tt": seed0[name]["test_loss"],
            "energy discrepancy at t = 100, %": seed0[name].get("energy_discrepancy_percent"),
            "failed rollouts": seed0[name]["failed_rollouts"],
        }
        for name, label in BUDGET_LABELS.items()
        if name in seed0
    ]
    if not rows:
        return
    text = (
        "# LNN paper: double pendulum, what a budget buys\n\n"
        "The LNN's seed-0 runs of `lnn_double_pendulum.json` (float32 training on the paper's "
        "stream; energy discrepancy over 40 rollouts in float64). The minutes were measured "
        "on 2 CPU cores that other jobs shared for most runs, so they are pessimistic; "
        "`lnn_double_pendulum_timing.md` has times per step measured alone.\n\n"
    )
    _common.atomic_write_text(directory / f"{NAME}_budget.md", text + _common.markdown_table(rows))


def write(directory, mode, config: Config, recipes, runs, *, partial: bool) -> None:
    rows = summarise(runs, config)
    settings = {
        "system": "double_pendulum (unit masses and lengths, g = 9.8)",
        "training_distribution": "the paper's: angles U[0, 2pi), velocities U[-10, 10), fresh "
        "states every batch (lz.StateStream(system)), exact accelerations",
        "loss": "l1",
        "dtype": "float32 (truth float64)",
        "recipes": {name: dataclasses.asdict(recipe) for name, recipe in recipes.items()},
        **{k: v for k, v in dataclasses.asdict(config).items()},
        "schedule": "cosine decay to 0 over the steps",
        "published": PUBLISHED,
        "published_source": "Cranmer et al. 2020, Lagrangian Neural Networks (double pendulum)",
    }
    columns = [
        "model",
        "recipe",
        "width",
        "depth",
        "mass_prior",
        "steps",
        "seeds",
        "test_loss",
        "published_test_loss",
        "energy_discrepancy_percent",
        "published_energy_discrepancy_percent",
        "energy_discrepancy_median_percent",
        "energy_discrepancy_mean_percent",
        "valid_prediction_time",
        "failed_rollouts",
        "rollouts",
        "seconds",
    ]
    notes = [
        "Trained on the LNN paper's distribution (angles U[0, 2pi), angular velocities "
        "U[-10, 10)); `test_loss` is the L1 error of q_tt on held-out states of it; "
        "`energy_discrepancy_percent` is the paper's metric at t = 100 over 40 initial "
        "states nearly at rest (mean over finite rollouts; `failed_rollouts` counts the "
        "others); `seconds` is training time per run on a shared 2-core CPU.",
    ]
    _common.write_run_results(
        directory,
        NAME,
        mode,
        settings,
        rows,
        runs,
        partial=partial,
        columns=columns,
        title="LNN paper: double pendulum",
        notes=notes,
    )
    if config.seed_zero_only:
        write_budget_table(directory, runs)


if __name__ == "__main__":
    main()
