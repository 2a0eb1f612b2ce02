"""Energy-shaping swing-up of the cart-pole with a learned DeLaN against the true model.

The control experiment of Lutter, Listmann and Peters (IROS 2019), "Deep Lagrangian Networks
for end-to-end learning of energy-based control for under-actuated systems", on the simulated
cart-pole (`lz.systems.CartPole`, the classic parameters m_c = 1, m_p = 0.1, l = 1):

1. Data: independent random states and inputs of the true cart-pole (x ~ U[-2, 2],
   theta ~ U[-pi, pi), x_t ~ U[-4, 4], theta_t ~ U[-10, 10], force F ~ U[-15, 15]), their
   accelerations by the closed-form forward dynamics, and the generalised forces (F, 0): rows
   ([q, q_t, q_tt], tau), no noise.
2. A structured DeLaN (`lz.models.DeLaN(2, periodic=(False, True))`) learns the torques through
   `lz.fit` on a small data source of torque rows (`TorqueRows`, defined here), with the DeLaN
   repository's loss (squared error divided by the variance of the force, summed over the two
   coordinates).
3. The controller `lz.EnergyShapingSwingUp` (Åström-Furuta energy pumping with a cart term,
   an LQR near the top, every part from the model's mass matrix and potential) is built from
   (a) the true cart-pole and (b) each learned DeLaN, and drives the TRUE cart-pole from 20
   random starts near hanging down (theta = pi + U[-0.3, 0.3], x, x_t, theta_t ~ U[-0.3, 0.3]),
   the same starts for every controller, for T = 15 s (fixed-step RK4, dt = 5 ms).

Success: the pole within 0.1 rad of the upright (angle wrapped) at every sample of the last
3 s. Time to swing up: the first time after which the pole stays within 0.1 rad until T.
Reported beside the success counts: the largest |force| and |x| of each rollout. Failures are
counted and listed by start.

Full runs write `swing_up.json` after each seed, marked `"partial": true` until the last;
`--resume` continues from them. A finished full run copies its figure and GIF to
`docs/figures/`.
"""

import dataclasses
import functools
import math
import shutil
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


NAME = "swing_up"
DOCS_FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"
# Sampling box of the training data: (x, theta, x_t, theta_t) half-widths, theta over a turn.
STATE_BOX = (2.0, math.pi, 4.0, 10.0)
MAX_DATA_FORCE = 15.0
START_SPREAD = 0.3
TOLERANCE = 0.1  # rad, around the upright
HOLD = 3.0  # s, the pole stays within TOLERANCE over the last HOLD seconds
SEED0_MODEL = "swing_up_delan_seed0.lzm"


@dataclasses.dataclass(frozen=True)
class Config:
    width: int
    depth: int
    steps: int
    batch_size: int
    learning_rate: float
    train_rows: int
    test_rows: int
    seeds: int
    starts: int
    horizon: float
    dt: float = 0.005
    sample_every: int = 4  # states stored every 4 RK4 steps (20 ms)


FULL = Config(
    width=64,
    depth=2,
    steps=10_000,
    batch_size=512,
    learning_rate=3e-3,
    train_rows=20_000,
    test_rows=2_000,
    seeds=3,
    starts=20,
    horizon=15.0,
)
QUICK = dataclasses.replace(
    FULL,
    width=16,
    depth=1,
    steps=300,
    train_rows=2_000,
    test_rows=200,
    seeds=1,
    starts=2,
    horizon=10.0,
)


# Data ---------------------------------------------------------------------------------------


@eqx.filter_jit
def torque_data(system: lz.systems.CartPole, key, count: int) -> tuple[jax.Array, jax.Array]:
    """`count` rows `([q, q_t, q_tt], tau)` of independent random states and forces."""
    state_key, force_key = jax.random.split(key)
    box = jnp.asarray(STATE_BOX)
    states = jax.random.uniform(state_key, (count, 4), minval=-box, maxval=box)
    limit = MAX_DATA_FORCE
    forces = jax.random.uniform(force_key, (count, 1), minval=-limit, maxval=limit)
    q, q_t = states[:, :2], states[:, 2:]
    q_tt = jax.vmap(system.forward_dynamics)(q, q_t, forces)
    tau = jnp.concatenate([forces, jnp.zeros_like(forces)], axis=-1)
    return jnp.concatenate([q, q_t, q_tt], axis=-1), tau


class TorqueRows(lz.AbstractFiniteSource):
    """Rows `([q, q_t, q_tt], tau)` and the DeLaN repository's loss, the squared error of the
    generalised forces divided by the variance of the force, summed over the coordinates (the
    pole's is always 0, so it shares the force's scale)."""

    y: jax.Array
    tau: jax.Array
    weight: jax.Array

    def sample(self, key, batch_size: int) -> tuple[jax.Array, jax.Array]:
        chosen = jax.random.permutation(key, self.y.shape[0])[:batch_size]
        return self.y[chosen], self.tau[chosen]

    def states(self) -> tuple[jax.Array, jax.Array]:
        return self.y, self.tau

    def per_row(self, model, y: jax.Array, tau: jax.Array) -> jax.Array:
        return jax.vmap(model.inverse_dynamics)(*jnp.split(y, 3, axis=-1))

    def loss(self, values: jax.Array, tau: jax.Array, compare) -> jax.Array:
        return jnp.mean(jnp.sum((values - tau) ** 2, axis=-1)) * self.weight


@functools.cache  # one optimizer per config: `fit` reuses its compiled loop
def optimizer(config: Config) -> optax.GradientTransformation:
    return optax.adamw(optax.cosine_decay_schedule(config.learning_rate, config.steps), 1e-5)


def cast(tree, dtype):
    return jax.tree_util.tree_map(
        lambda leaf: leaf.astype(dtype) if eqx.is_inexact_array(leaf) else leaf, tree
    )


def train_delan(seed: int, config: Config, system) -> tuple[lz.models.DeLaN, dict[str, Any]]:
    """A DeLaN trained on the torques of `system`, returned in float64, and its test errors."""
    data_key, test_key, model_key, fit_key = jax.random.split(jax.random.key(seed), 4)
    y, tau = torque_data(system, data_key, config.train_rows)
    rows = TorqueRows(y.astype(jnp.float32), tau.astype(jnp.float32), 1.0 / jnp.var(tau[:, 0]))
    model = lz.models.DeLaN(
        2,
        key=model_key,
        width=config.width,
        depth=config.depth,
        periodic=(False, True),
    )
    model = cast(model, jnp.float32)
    start = time.perf_counter()
    model, history = lz.fit(
        model,
        rows,
        steps=config.steps,
        batch_size=config.batch_size,
        optimizer=optimizer(config),
        key=fit_key,
        adapt=False,
        progress=False,
        log_every=max(config.steps // 10, 1),
    )
    seconds = time.perf_counter() - start
    model = cast(model, jnp.float64)
    errors = test_errors(model, system, *torque_data(system, test_key, config.test_rows))
    return model, {
        "training_seconds": seconds,
        "final_train_loss": float(history.train_loss[-1]),
        **{name: float(value) for name, value in errors.items()},
    }


@eqx.filter_jit
def test_errors(model, system, y, tau) -> dict[str, jax.Array]:
    """The force's and the pole's torque MSE on held-out rows, and the mass matrix' mean
    Frobenius error relative to the true one's mean norm."""
    predicted = jax.vmap(model.inverse_dynamics)(*jnp.split(y, 3, axis=-1))
    true_mass = jax.vmap(system.mass_matrix)(y[:, :2])
    mass_error = jax.vmap(model.mass_matrix)(y[:, :2]) - true_mass
    return {
        "test_force_mse": jnp.mean((predicted[:, 0] - tau[:, 0]) ** 2),
        "test_pole_torque_mse": jnp.mean(predicted[:, 1] ** 2),
        "mass_matrix_relative_error": jnp.mean(jnp.linalg.norm(mass_error, axis=(1, 2)))
        / jnp.mean(jnp.linalg.norm(true_mass, axis=(1, 2))),
    }


# Swing-up -----------------------------------------------------------------------------------


def starts(count: int) -> jax.Array:
    """The same `count` starts near hanging down for every controller."""
    key = jax.random.key(20190101)
    offsets = jax.random.uniform(key, (count, 4), minval=-START_SPREAD, maxval=START_SPREAD)
    return offsets + jnp.asarray([0.0, math.pi, 0.0, 0.0])


@eqx.filter_jit
def closed_loop(system, controller, y0, ts, dt):
    """The true system under `controller` from each start, and the force along the way."""
    ys = lz.rollout(system.driven(controller), y0, ts, solver="rk4", dt0=dt, checks=False)
    forces = jax.vmap(jax.vmap(lambda y: controller(0.0, y)))(ys)[..., 0]
    return ys, forces


def wrapped(angle):
    return np.arctan2(np.sin(angle), np.cos(angle))


def score(ts: np.ndarray, ys: np.ndarray, forces: np.ndarray) -> dict[str, Any]:
    """Success, time to swing up, largest |force| and |x| of each rollout."""
    finite = np.all(np.isfinite(ys), axis=(-1, -2))
    inside = np.abs(wrapped(ys[..., 1])) < TOLERANCE
    inside &= finite[:, None]
    held = inside[:, ts >= ts[-1] - HOLD - 1e-9].all(axis=-1)
    # Stays inside from this sample to the end.
    stays = np.flip(np.cumprod(np.flip(inside, -1), axis=-1), -1).astype(bool)
    first = np.where(stays.any(-1), np.argmax(stays, axis=-1), -1)
    swing_times = [float(ts[i]) if ok else None for i, ok in zip(first, held)]
    return {
        "successes": int(held.sum()),
        "starts": int(len(held)),
        "failed_starts": [int(i) for i in np.flatnonzero(~held)],
        "swing_up_times": swing_times,
        "max_force": [float(f) for f in np.nanmax(np.abs(forces), axis=-1)],
        "max_cart_position": [float(x) for x in np.nanmax(np.abs(ys[..., 0]), axis=-1)],
    }


def swing_up(system, model, config: Config) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    controller = lz.EnergyShapingSwingUp(model)
    samples = int(round(config.horizon / (config.dt * config.sample_every)))
    ts = jnp.linspace(0.0, config.horizon, samples + 1)
    ys, forces = closed_loop(system, controller, starts(config.starts), ts, config.dt)
    ys, forces = np.asarray(ys), np.asarray(forces)
    result = score(np.asarray(ts), ys, forces)
    result["lqr_gain"] = np.asarray(controller.lqr_gain).ravel().tolist()
    return result, np.asarray(ts), ys


def summary_row(label: str, results: list[dict]) -> dict[str, Any]:
    times = [t for r in results for t in r["swing_up_times"] if t is not None]
    return {
        "controller model": label,
        "runs": len(results),
        "successes": sum(r["successes"] for r in results),
        "starts": sum(r["starts"] for r in results),
        "per seed": " / ".join(str(r["successes"]) for r in results),
        "median swing-up time [s]": float(np.median(times)) if times else math.nan,
        "slowest swing-up [s]": float(np.max(times)) if times else math.nan,
        "max force [N]": float(max(max(r["max_force"]) for r in results)),
        "max cart offset [m]": float(max(max(r["max_cart_position"]) for r in results)),
    }


COLUMNS = (
    "controller model",
    "runs",
    "successes",
    "starts",
    "per seed",
    "median swing-up time [s]",
    "slowest swing-up [s]",
    "max force [N]",
    "max cart offset [m]",
    "test force MSE",
    "mass matrix rel. error",
)


# Figures ------------------------------------------------------------------------------------


def figure(ts, curves: dict[str, np.ndarray], path: Path) -> Path:
    """The pole's angle from the upright against time, every start, one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * len(curves), 3.6), layout="constrained")
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, (label, ys) in zip(axes, curves.items()):
        for trajectory in ys:
            ax.plot(ts, np.abs(wrapped(trajectory[:, 1])), lw=0.9, alpha=0.8)
        ax.axhline(TOLERANCE, color="black", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 4.0)
        ax.set_xlabel("t [s]")
        ax.set_title(label, fontsize="medium")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"$|\theta|$ from the upright [rad]")
    fig.suptitle(
        f"Cart-pole swing-up on the true dynamics, {len(next(iter(curves.values())))} starts "
        f"(dashed: the {TOLERANCE} rad tolerance)",
        fontsize="medium",
    )
    with lz.atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=100)
    return path


def animation(ts, curves: dict[str, np.ndarray], path: Path, stride: int = 3) -> Path:
    """A GIF of one start, the true-model controller beside the learned one."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(curves), 2.8), layout="constrained")
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    artists = []
    for ax, label in zip(axes, curves):
        ax.set_xlim(-2.0, 2.0)
        ax.set_ylim(-1.3, 1.3)
        ax.set_aspect("equal")
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_title(label, fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        (cart,) = ax.plot([], [], color="tab:blue", lw=8, solid_capstyle="butt")
        (pole,) = ax.plot([], [], color="tab:red", lw=3)
        clock = ax.text(0.02, 0.92, "", transform=ax.transAxes, fontsize="small")
        artists.append((cart, pole, clock))
    frames = list(range(0, len(ts), stride))

    def draw(k: int):
        for (cart, pole, clock), ys in zip(artists, curves.values()):
            x, theta = ys[k, 0], ys[k, 1]
            cart.set_data([x - 0.2, x + 0.2], [0.0, 0.0])
            pole.set_data([x, x + np.sin(theta)], [0.0, np.cos(theta)])
            clock.set_text(f"t = {ts[k]:.1f} s")
        return []

    fps = max(1, int(round(1.0 / (ts[1] - ts[0]) / stride)))
    with lz.atomic_path(path) as temporary:
        FuncAnimation(fig, draw, frames=frames).save(temporary, writer=PillowWriter(fps=fps))
    return path


# Runs ---------------------------------------------------------------------------------------


def write(directory, mode, config, truth, runs, partial) -> None:
    rows = [{**summary_row("true cart-pole", [truth]), "details": truth}]
    if runs:
        row = summary_row("learned DeLaN", [r["swing_up"] for r in runs])
        row["test force MSE"] = float(np.mean([r["test_force_mse"] for r in runs]))
        row["mass matrix rel. error"] = float(
            np.mean([r["mass_matrix_relative_error"] for r in runs])
        )
        # Below or at 0 when the learned model's controller succeeds as often as the true
        # model's (the goal); a fraction of the starts.
        row["success_rate_gap"] = rows[0]["successes"] / rows[0]["starts"] - (
            row["successes"] / row["starts"]
        )
        rows.append(row)
    settings = {
        "system": "lz.systems.CartPole() (m_c = 1, m_p = 0.1, l = 1, g = 9.8), q = (x, theta), "
        "theta = 0 upright",
        "data": f"{config.train_rows} independent random rows of the true cart-pole: "
        f"(x, theta, x_t, theta_t) ~ U[-{STATE_BOX[0]}, {STATE_BOX[0]}] x U[-pi, pi) x "
        f"U[-{STATE_BOX[2]}, {STATE_BOX[2]}] x U[-{STATE_BOX[3]}, {STATE_BOX[3]}], force "
        f"F ~ U[-{MAX_DATA_FORCE}, {MAX_DATA_FORCE}], q_tt by the closed-form forward "
        "dynamics, tau = (F, 0); no noise; test rows drawn the same way with another key",
        "model": "lz.models.DeLaN(2, periodic=(False, True)), softplus, trained in float32, "
        "controlled in float64",
        "loss": "sum over the coordinates of (tau_hat - tau)^2 / var(F), mean over the batch",
        "training": "lz.fit, optax.adamw (weight decay 1e-5), cosine decay to 0",
        "controller": "lz.EnergyShapingSwingUp(model) with its defaults (energy gain 50, "
        "pumping acceleration <= 8 m/s^2, cart gains 1 and 1.5, |F| <= 15 N, LQR within "
        "0.4 rad of the top, Q = diag(1, 10, 1, 1), R = 0.1, dt 0.01)",
        "starts": f"{config.starts} starts: theta = pi + U[-{START_SPREAD}, {START_SPREAD}], "
        f"x, x_t, theta_t ~ U[-{START_SPREAD}, {START_SPREAD}] (fixed key, the same for every "
        "controller)",
        "simulation": f"the true CartPole's dynamics under the controller, fixed-step RK4 "
        f"dt = {config.dt}, T = {config.horizon} s",
        "success": f"|theta| (wrapped) < {TOLERANCE} rad at every sample of the last {HOLD} s; "
        f"swing-up time: first time after which |theta| < {TOLERANCE} until T",
        **dataclasses.asdict(config),
        "source": "Lutter, Listmann, Peters (IROS 2019), Deep Lagrangian Networks for "
        "end-to-end learning of energy-based control for under-actuated systems; Åström and "
        "Furuta (Automatica 2000), Swinging up a pendulum by energy control",
    }
    notes = [
        f"The true cart-pole driven from {config.starts} starts near hanging down by the same "
        "controller built from (a) the true model and (b) each learned DeLaN "
        f"({config.width} x {config.depth}, {config.steps} steps); success: within "
        f"{TOLERANCE} rad of the upright over the last {HOLD} s of {config.horizon} s. "
        "Figure `swing_up.png`, animation `swing_up.gif`.",
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
        title="Energy-shaping swing-up of the cart-pole with a learned DeLaN",
        notes=notes,
    )


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__.splitlines()[0], argv, extra=_common.add_run_arguments)
    quick = args.mode == "quick"
    config = _common.with_overrides(QUICK if quick else FULL, seeds=args.seeds, steps=args.steps)
    jax.config.update("jax_enable_x64", True)
    lz.enable_compilation_cache()
    directory = _common.output_dir(args, NAME)
    results_path = directory / f"{NAME}.json"
    started = time.perf_counter()
    system = lz.systems.CartPole()

    truth, ts, truth_ys = swing_up(system, system, config)
    print(f"true model: {truth['successes']} / {truth['starts']} swung up", flush=True)

    runs = _common.previous_runs(args, results_path, steps=config.steps)
    done = {r["seed"] for r in runs}
    stopped = False
    learned_ys = None
    for seed in range(config.seeds):
        if seed in done:
            continue
        if _common.out_of_time(args.max_minutes, started):
            stopped = True
            break
        print(f"DeLaN seed {seed} ...", flush=True)
        model, errors = train_delan(seed, config, system)
        result, _, ys = swing_up(system, model, config)
        if seed == 0:
            learned_ys = ys
            if not quick:  # kept, so that a resumed run can draw the figures
                lz.save_model(directory / SEED0_MODEL, model)
        runs.append({"seed": seed, "steps": config.steps, **errors, "swing_up": result})
        print(
            f"  {result['successes']} / {result['starts']} swung up, test force MSE "
            f"{errors['test_force_mse']:.2e}, {errors['training_seconds']:.0f} s",
            flush=True,
        )
        if not quick:
            write(directory, args.mode, config, truth, runs, partial=True)
    if learned_ys is None and (directory / SEED0_MODEL).exists():
        _, _, learned_ys = swing_up(system, lz.load_model(directory / SEED0_MODEL), config)
    finished = not stopped and {r["seed"] for r in runs} >= set(range(config.seeds))
    write(directory, args.mode, config, truth, runs, partial=not finished)
    curves = {"controller from the true model": truth_ys}
    if learned_ys is not None:
        curves["controller from the learned DeLaN (seed 0)"] = learned_ys
    png = figure(ts, curves, directory / f"{NAME}.png")
    stride = len(ts) // 2 if quick else 5  # a quick run draws 3 frames only
    gif = animation(ts, {k: v[0] for k, v in curves.items()}, directory / f"{NAME}.gif", stride)
    if finished and not quick and args.out is None and learned_ys is not None:
        for drawn in (png, gif):
            with lz.atomic_path(DOCS_FIGURES / drawn.name) as temporary:
                shutil.copyfile(drawn, temporary)
    print(f"wrote {results_path} ({'complete' if finished else 'partial'}, {len(runs)} seeds)")
    if not finished:
        print(f"continue with: python benchmarks/{NAME}.py --full --resume")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
