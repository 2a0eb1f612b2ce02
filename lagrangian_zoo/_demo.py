"""The demo: a baseline, an HNN and an LNN learn the double pendulum; the LNN conserves energy.

The LNN paper's experiment at laptop scale: random states with exact accelerations as data
(drawn afresh for every batch), then initial conditions nearly at rest rolled out for 100
time units, scored by the energy discrepancy |E_true - E_pred| / (3 m g l).

One deliberate difference from the paper: the training states are drawn with energies up to
the evaluation's maximum, 3 m g l (angles uniform, kinetic energy uniform in what is left,
directions uniform in the metric of the mass matrix), instead of velocities uniform in
[-10, 10), most of which lie far above any energy the evaluation reaches. On a CPU budget of
minutes this is what lets the models learn the states they are scored on. Every model gets the
same data, and the same compute budget (step counts that take about the same training time;
the table shows the seconds each took).

The recipe is the benchmarks' `ours` at demo scale: 64 x 3 softplus networks, batch 256, Adam
3e-3 with a cosine decay and the gradient clipped to norm 1, inputs scaled by the data; the
LNN with the paper's initialisation and the mass prior. Training runs in float32; the
rollouts and their scores in float64.
"""

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import metrics, plots, systems
from ._canonical_stream import CanonicalStream
from ._data import StateStream
from ._experiment import write_json
from ._io import atomic_path
from ._mechanics import energy_along, mass_matrix
from ._rollout import cast_floating, rollout
from ._training import fit
from .models import Baseline, HNN, LNN


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo; `quick()` is a smoke test that runs in seconds."""

    width: int = 64
    depth: int = 3
    batch_size: int = 256
    # The same compute budget for every model: step counts that take about the same training
    # time in float32, sized so that the whole demo fits in 5 minutes on a laptop CPU. An LNN
    # step (Hessian-vector products of the network) costs several times a baseline's or an
    # HNN's, hence its fewer steps; the demo's table reports the seconds each model took.
    lnn_steps: int = 27000
    baseline_steps: int = 165000
    hnn_steps: int = 135000
    learning_rate: float = 3e-3
    gradient_clip: float = 1.0
    # The LNN's mass prior (`LNN(mass_prior=True)`), as in the benchmarks' `ours` recipe.
    lnn_mass_prior: bool = True
    initial_states: int = 40
    max_rollout_steps: int = 25_000
    t_end: float = 100.0
    samples_per_unit_time: int = 10
    animation_seconds: float = 10.0
    training_dtype: str = "float32"

    @classmethod
    def quick(cls) -> "DemoSettings":
        return cls(
            width=16,
            depth=2,
            batch_size=32,
            lnn_steps=40,
            baseline_steps=40,
            hnn_steps=40,
            initial_states=2,
            t_end=1.0,
            max_rollout_steps=2_000,
            animation_seconds=1.0,
        )


def energy_bounded_sampler(system, max_energy: float):
    """Random states of a system with energy at most `max_energy` (see the module docstring).

    Angles are uniform; the kinetic energy is uniform in `[0, max_energy - V(q)]`; the velocity
    direction is uniform on the ellipse `q_t^T M(q) q_t = 2 T`.
    """
    masses = mass_matrix(system.lagrangian)

    def sample(key):
        angle_key, energy_key, direction_key = jax.random.split(key, 3)
        q = jax.random.uniform(angle_key, (system.dof,), minval=0.0, maxval=2 * jnp.pi)
        potential = system.energy(q, jnp.zeros_like(q))
        kinetic = jax.random.uniform(energy_key) * jnp.maximum(max_energy - potential, 0.0)
        direction = jax.random.normal(direction_key, (system.dof,))
        direction = direction / jnp.linalg.norm(direction)
        cholesky = jnp.linalg.cholesky(masses(q, jnp.zeros_like(q)))
        # q_t = sqrt(2 T) L^{-T} u has q_t^T M q_t = 2 T for a unit u.
        q_t = jnp.sqrt(2 * kinetic) * jax.scipy.linalg.solve_triangular(
            cholesky.T, direction, lower=False
        )
        return jnp.concatenate([q, q_t])

    return sample


def _held_out_loss(model, y, dy) -> float:
    """Mean absolute error of the second half of `dy`: the accelerations (the LNN paper's L1
    loss), or for an HNN in canonical coordinates the momentum derivatives `p_t`."""
    predicted = jax.vmap(lambda state: model(0.0, state, None))(y)
    n = y.shape[-1] // 2
    return float(jnp.mean(jnp.abs(predicted[:, n:] - dy[:, n:])))


def energy_figure(ts, true_energy, energies: dict, *, path: Path):
    """The energy figure, with each model's curve clipped where it leaves the band around the
    true energy (a diverged rollout would otherwise set the axis to 1e200) and marked with an
    x where it leaves; the legend says when."""
    low, high = float(np.min(true_energy)), float(np.max(true_energy))
    margin = max(high - low, 0.02 * max(abs(high), abs(low)), 1e-3)
    limits = (low - 5 * margin, high + 5 * margin)
    shown, exits = {"true": true_energy}, {}
    for name, values in energies.items():
        values = np.asarray(values, dtype=float)
        outside = ~np.isfinite(values) | (values < limits[0]) | (values > limits[1])
        if outside.any():
            first = int(np.argmax(outside))
            exits[f"{name} (leaves the axis at t = {ts[first]:.3g})"] = (ts[first], values[first])
            values = np.where(np.arange(values.size) < first, values, np.nan)
            name = next(reversed(exits))
        shown[name] = values
    figure = plots.energy_over_time(
        ts,
        shown,
        relative_error=True,
        title="Energy of the true system along each rollout",
    )
    top = figure.axes[0]
    top.set_ylim(*limits)
    for label, (t, value) in exits.items():
        line = next(line for line in top.get_lines() if line.get_label() == label)
        clipped = float(np.clip(np.nan_to_num(value, nan=limits[1]), *limits))
        top.plot([t], [clipped], "x", color=line.get_color(), markersize=10)
    with atomic_path(path, make_folder=True) as temporary:
        figure.savefig(temporary, dpi=120, format=Path(path).suffix[1:] or "png")
    return figure


def _train_models(system, stream, settings: "DemoSettings", keys, *, quick: bool, console):
    """The baseline, HNN and LNN trained on `stream`: models, histories and seconds each."""
    common = dict(width=settings.width, depth=settings.depth, periodic=system.periodic)
    candidates = {
        "baseline": (
            Baseline(
                system.dof, key=keys[0], predict="acceleration", activation="softplus", **common
            ),
            stream,
            settings.baseline_steps,
        ),
        "hnn": (
            HNN(system.dof, key=keys[1], **common),
            CanonicalStream(stream),
            settings.hnn_steps,
        ),
        "lnn": (
            LNN(system.dof, key=keys[2], mass_prior=settings.lnn_mass_prior, **common),
            stream,
            settings.lnn_steps,
        ),
    }
    trained, histories, seconds = {}, {}, {}
    for name, (model, data, steps) in candidates.items():
        console.print(f"[bold]training {name}[/] ({steps} steps, batch {settings.batch_size})")
        start = time.perf_counter()
        model, history = fit(
            model,
            data,
            steps=steps,
            batch_size=settings.batch_size,
            optimizer=optax.chain(
                optax.clip_by_global_norm(settings.gradient_clip),
                optax.adam(optax.cosine_decay_schedule(settings.learning_rate, steps)),
            ),
            loss="l1",
            key=keys[3],
            progress=not quick,
        )
        seconds[name] = time.perf_counter() - start
        trained[name] = model
        histories[name] = {k: np.asarray(v) for k, v in history.as_dict().items()}
    return trained, histories, seconds


def _held_out_losses(trained: dict, stream, key) -> dict[str, float]:
    """Each model's L1 acceleration loss on held-out states of the training distribution."""
    held_y, held_dy = stream.sample(key, 2048)
    losses = {}
    for name, model in trained.items():
        if model.coordinates == "canonical":
            canonical_y, canonical_dy = CanonicalStream(stream).sample(key, 2048)
            losses[name] = _held_out_loss(model, canonical_y, canonical_dy)
        else:
            losses[name] = _held_out_loss(model, held_y, held_dy)
    return losses


def _score_rollouts(system, trained: dict, y0, ts, true_ys, settings: "DemoSettings", scale):
    """Each model's rollouts against the truth: a row of metrics per model, the rollouts, the
    true energy along each, and which initial states no model failed on. A failed rollout
    (non-finite, or an energy error above the scale: `metrics.failed_rollouts`) is counted,
    never averaged in."""
    rows, predictions, energies = {}, {}, {}
    all_finite = np.ones(settings.initial_states, bool)
    for name, model in trained.items():
        start = time.perf_counter()
        # A learned field can be stiff somewhere; such a trajectory stops at max_steps (its states
        # become inf) and is counted, instead of ending the demo.
        predicted = rollout(
            model,
            y0,
            ts,
            rtol=1e-7,
            atol=1e-9,
            checks=False,
            max_steps=settings.max_rollout_steps,
            lagrangian=system.lagrangian,
        )
        rollout_seconds = time.perf_counter() - start
        kept = ~np.asarray(
            metrics.failed_rollouts(true_ys, predicted, energy=system.energy, scale=scale)
        )
        predictions[name] = np.asarray(predicted)
        energies[name] = np.asarray(energy_along(system.energy, predicted))
        all_finite &= kept
        rows[name] = {"failed_rollouts": int((~kept).sum())}
        if not kept.any():
            continue
        predicted, truth = predicted[kept], true_ys[kept]
        rows[name].update(
            {
                "energy_discrepancy_final_percent": 100
                * float(metrics.energy_discrepancy(system.energy, truth, predicted, scale=scale)),
                "energy_discrepancy_mean_percent": 100
                * float(
                    metrics.energy_discrepancy(
                        system.energy, truth, predicted, scale=scale, at="mean"
                    )
                ),
                "valid_prediction_time": float(
                    jnp.mean(
                        metrics.valid_prediction_time(
                            ts, truth, predicted, periodic=system.periodic
                        )
                    )
                ),
                "rollout_seconds": rollout_seconds,
            }
        )
    return rows, predictions, energies, all_finite


def _print_table(console, rows: dict) -> None:
    from rich.table import Table

    table = Table(
        title="double pendulum: baseline vs HNN vs LNN, the same training time for each, on "
        "states with energy at most 3 m g l (not the paper's velocities in [-10, 10))"
    )
    columns = {
        "L1 acc. loss": "held_out_l1_acceleration_loss",
        "energy discr. % (final)": "energy_discrepancy_final_percent",
        "(time-mean)": "energy_discrepancy_mean_percent",
        "valid time": "valid_prediction_time",
        "train s": "training_seconds",
        "failed rollouts": "failed_rollouts",
    }
    table.add_column("model")
    for column in columns:
        table.add_column(column, justify="right", overflow="fold")
    for name, row in rows.items():
        cells = [f"{row[key]:.3g}" if key in row else "-" for key in columns.values()]
        table.add_row(name, *cells)
    console.print(table)
    console.print("The LNN paper reports 8% (baseline) and 0.4% (LNN) energy discrepancy.")


def run_demo(out: Path, *, seed: int = 0, quick: bool = False, console=None) -> dict:
    """Runs the demo and writes `results.json`, plots and a GIF into `out`."""
    from rich.console import Console

    console = console or Console()
    settings = DemoSettings.quick() if quick else DemoSettings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = jax.random.split(jax.random.key(seed), 8)
    # Training in float32 (on a CPU an LNN step is much cheaper than in float64), then
    # every rollout, the truth's and the models', in float64: the truth at tolerance 1e-10,
    # and the models' at 1e-7, where a float32 solve would sit at its rounding floor.
    with jax.enable_x64(settings.training_dtype == "float64"):
        system = systems.get("double_pendulum")
        scale = float(system.max_potential_energy)
        stream = StateStream(system, sampler=energy_bounded_sampler(system, scale))
        trained, histories, seconds = _train_models(
            system, stream, settings, keys, quick=quick, console=console
        )
        losses = _held_out_losses(trained, stream, keys[4])
    with jax.enable_x64(True):
        rows, scale = _evaluate(out, settings, keys, trained, histories, seconds, losses, console)
    result = {
        "demo": "double_pendulum",
        "seed": seed,
        "quick": quick,
        "settings": dataclasses.asdict(settings),
        "energy_scale": scale,
        "rows": rows,
    }
    write_json(out / "results.json", result)
    console.print(f"wrote {out}/: results.json, energy.png, loss_curves.png, pendulum.gif")
    return result


def _evaluate(out: Path, settings, keys, trained, histories, seconds, losses, console):
    """Rolls the trained models out in float64 and scores them: a row of metrics per model,
    and the energy scale; prints the table and writes the figures and the GIF."""
    system = systems.get("double_pendulum")
    scale = float(system.max_potential_energy)
    trained = {name: cast_floating(model, jnp.float64) for name, model in trained.items()}
    console.print("[bold]rolling out[/] from initial states nearly at rest")
    y0 = jax.vmap(system.sample_initial_state)(jax.random.split(keys[5], settings.initial_states))
    ts = jnp.linspace(
        0.0, settings.t_end, int(settings.t_end * settings.samples_per_unit_time) + 1
    )
    true_ys = rollout(system, y0, ts, solver="dopri8", rtol=1e-10, atol=1e-10)
    true_energy = energy_along(system.energy, true_ys)
    rows, predictions, energies, all_finite = _score_rollouts(
        system, trained, y0, ts, true_ys, settings, scale
    )
    for name, row in rows.items():
        row["held_out_l1_acceleration_loss"] = losses[name]
        row["training_seconds"] = seconds[name]
    _print_table(console, rows)

    # One initial state that every model could roll out to the end, so the panels compare alike.
    shown = int(np.argmax(all_finite)) if all_finite.any() else 0
    energy_figure(
        np.asarray(ts),
        np.asarray(true_energy[shown]),
        {name: values[shown] for name, values in energies.items()},
        path=out / "energy.png",
    )
    plots.loss_curves(histories, path=out / "loss_curves.png")
    # The GIF shows the first seconds of the scored rollouts themselves, one frame per sample.
    frames = min(int(settings.animation_seconds * settings.samples_per_unit_time) + 1, len(ts))
    series = {"true": np.asarray(true_ys[shown, :frames])}
    series |= {name: predictions[name][shown, :frames] for name in ("baseline", "lnn")}
    plots.animate_pendulum(
        series,
        lengths=tuple(float(length) for length in system.lengths),
        ts=np.asarray(ts[:frames]),
        fps=settings.samples_per_unit_time,
        path=out / "pendulum.gif",
    )
    return rows, scale
