r"""Fixed-step solvers over 10^4 periods: energy error and seconds, on exact and learned systems.

Each row rolls one system out from a fixed initial state by one solver with one step size, in
float64, over `PERIODS` periods (issue 26): the exact pendulum released from `q = 2` at rest
(its period from the complete elliptic integral), the Kepler problem on an ellipse of
eccentricity 0.44 (its period from its energy) and the double pendulum released from
`q = (1, 1.5)` at rest. The double pendulum is chaotic and has no period: its horizon is
`PERIODS` times the period of its slow small-oscillation mode, $2\pi/\omega_{\min}$ from the
mass and stiffness matrices at rest. Two trained models of the pendulum follow: an HNN on
canonical states `[q, p]` and an LNN on `[q, q_t]` (small networks, trained here with `lz.fit`
from a fixed seed), over `PERIODS` periods of the true pendulum.

The energy is sampled every `SAMPLE` time units, inside one compiled program that rolls the
system out window after window (`lz.rollout`, one window per block) and keeps only the largest
energy error of each of `BLOCKS` blocks, so that a run of millions of steps holds one window in
memory. A row reports the largest error over the whole run and over its first and last tenths
(a symplectic method's error stays bounded: the two agree; a drifting one grows) and the seconds
of the run after compiling it. A learned model's energy error is measured in its own energy (the
conserved quantity of the learned system: the HNN's `H`, the LNN's `q_t dL/dq_t - L`) and in the
true pendulum's.

The explicit compositions need a separable system, whose acceleration depends on positions only:
the pendulum and Kepler, not the double pendulum nor the learned models, which are rolled out by
the implicit methods (symplectic on canonical states for any Hamiltonian: the double pendulum on
`[q, p]` of its Hamiltonian, the HNN) and classic RK4. The LNN is rolled out on its velocity
states `[q, q_t]` through its own Euler-Lagrange vector field, where Gauss-Legendre is not
symplectic: the flow keeps the area `d2L/dq_t2 dq dq_t`, not `dq dq_t`. On canonical states of the
Hamiltonian of its learned Lagrangian (`lz.hamiltonian_from_lagrangian`, `"lnn_canonical"`) it
is, but there a Legendre map is inverted inside every Newton iteration (about 1.6 ms per GL6
step on one core), so that system has only a goal row. The goal rows (`"goal"`) run exactly
10^5 steps: Gauss-Legendre 6 against RK4 on the HNN, and Gauss-Legendre 6 on the LNN's
canonical states.

Full runs write `solvers.json` after every row, `"partial": true` until every row is done;
`--resume` continues one. Timings are on whatever machine runs it; each row records the load
average when it started, as the machine may be shared.
"""

import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np

import _common


NAME = "solvers"
DOCS_FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"
EXPLICIT = ("verlet", "yoshida4", "forest_ruth", "blanes_moan4", "yoshida6")
IMPLICIT = ("midpoint", "gl4", "gl6")
CLASSIC = ("rk4",)
# Every step size below divides the sampling interval, so every sample is a step end.
SAMPLE = 0.5
# The initial state of each exact system, and whether it is rolled out on canonical states.
EXACT = {
    "pendulum": ([2.0, 0.0], False),
    "kepler": ([1.0, 0.0, 0.0, 1.2], False),  # an ellipse of eccentricity 0.44 for GM = 1
    "double_pendulum": ([1.0, 1.5, 0.0, 0.0], True),
}
# The trained models start where the exact pendulum does: inside their training distribution
# (the HNN paper's, radius 1.3 to 2.3 in the (q, p) plane).
LEARNED_START = [2.0, 0.0]
TRAINING = {
    "quick": {"steps": 50, "trajectories": 8, "width": 16},
    "full": {"steps": 3000, "trajectories": 50, "width": 64},
}
SETTINGS = {
    "quick": {
        "periods": 15,
        "blocks": 10,
        "cases": {"pendulum": ("blanes_moan4", "rk4")},
        "steps": {"pendulum": (0.1,)},
        "goal_steps": None,
    },
    "full": {
        "periods": 10_000,
        "blocks": 100,
        "cases": {
            "pendulum": EXPLICIT + IMPLICIT + CLASSIC,
            "hnn": IMPLICIT + CLASSIC,
            "lnn": IMPLICIT + CLASSIC,
            "double_pendulum": IMPLICIT + CLASSIC,
            "kepler": EXPLICIT + IMPLICIT + CLASSIC,
        },
        "steps": {
            "pendulum": (0.1, 0.05, 0.025),
            "hnn": (0.1, 0.05),
            "lnn": (0.1, 0.05),
            "double_pendulum": (0.05, 0.025),
            "kepler": (0.1, 0.05, 0.025),
        },
        "goal_steps": 100_000,
    },
}
# The goal rows: (system, solver) over exactly `goal_steps` steps of `GOAL_DT`.
GOALS = (("hnn", "gl6"), ("hnn", "rk4"), ("lnn_canonical", "gl6"))
GOAL_DT = 0.1


def pendulum_period(system, amplitude: float) -> float:
    r"""$4 K(\sin(q_0/2)) / \sqrt{g/l}$, the complete elliptic integral by the
    arithmetic-geometric mean: $K(k) = \pi / (2\,\mathrm{AGM}(1, \sqrt{1 - k^2}))$."""
    a, b = 1.0, math.sqrt(1.0 - math.sin(amplitude / 2) ** 2)
    while abs(a - b) > 1e-15:
        a, b = (a + b) / 2, math.sqrt(a * b)
    return 4 * (math.pi / (2 * a)) / math.sqrt(float(system.gravity / system.length))


@eqx.filter_jit
def _mass_and_stiffness(system):
    """`d2L/dq_t2` and `-d2L/dq2` at rest, compiled (eager Hessians take seconds)."""
    zero = jnp.zeros(system.dof)
    mass = jax.hessian(system.lagrangian, argnums=1)(zero, zero)
    return mass, -jax.hessian(system.lagrangian, argnums=0)(zero, zero)


def small_oscillation_period(system) -> float:
    r"""$2\pi/\omega_{\min}$ of the linearised motion about rest, $M \ddot q = -K q$."""
    mass, stiffness = _mass_and_stiffness(system)
    squares = np.linalg.eigvals(np.linalg.solve(np.asarray(mass), np.asarray(stiffness)))
    return float(2 * np.pi / np.sqrt(np.min(squares.real)))


@eqx.filter_jit
def block_energy_errors(dynamics, energies, y0, *, solver, dt, window, blocks):
    """Rolls `dynamics` out from `y0` over `blocks` windows of `window` time units and returns
    the final state and the largest absolute error of each energy in each block `(blocks, k)`.

    The windows restart at `t = 0` (every system here is autonomous); `ts` is a NumPy array so
    that the outputs are step ends, not interpolations.
    """
    ts = np.linspace(0.0, window, int(round(window / SAMPLE)) + 1)
    steps = int(round(window / dt))
    n = y0.shape[-1] // 2
    references = [energy(y0[:n], y0[n:]) for energy in energies]

    def one_block(y, _):
        ys = lz.rollout(dynamics, y, ts, solver=solver, dt0=dt, max_steps=steps + 16, checks=False)
        errors = [
            jnp.max(jnp.abs(lz.energy_along(energy, ys[1:]) - reference))
            for energy, reference in zip(energies, references)
        ]
        return ys[-1], jnp.stack(errors)

    return jax.lax.scan(one_block, y0, None, length=blocks)


def learned_models(mode: str) -> dict:
    """An HNN on canonical states and an LNN on velocity states, trained on the pendulum."""
    training = TRAINING[mode]
    system = lz.systems.get("pendulum")
    ts = jnp.linspace(0.0, 5.0, 51)  # one and a half periods of the swings sampled
    hnn_key, lnn_key, data_key, fit_key = jax.random.split(jax.random.key(0), 4)
    models = {}
    for name, coordinates in (("hnn", "canonical"), ("lnn", "velocity")):
        data = lz.generate_dataset(
            system,
            data_key,
            trajectories=training["trajectories"],
            ts=ts,
            coordinates=coordinates,
        )
        if name == "hnn":
            model = lz.models.HNN(1, key=hnn_key, width=training["width"])
            options = {}
        else:
            model = lz.models.LNN(
                1,
                key=lnn_key,
                width=training["width"],
                depth=2,
                init="default",
                mass_prior=True,
            )
            # `hnn_tasks.py`'s recipe for the pendulum's LNN (its `ours`): with the LNN
            # paper's initialisation, or without the mass prior, it stays far from the data.
            options = {"gradient_clip": 1.0}
        started = time.perf_counter()
        model, history = lz.fit(
            model, data, steps=training["steps"], key=fit_key, progress=False, **options
        )
        models[name] = {
            "model": model,
            "training_seconds": time.perf_counter() - started,
            "final_loss": float(np.asarray(history.train_loss)[-1]),
        }
        print(f"trained {name}: loss {models[name]['final_loss']:.2e}", flush=True)
    return models


class EnergyOnMomenta(eqx.Module):
    """`energy(q, q_t)` on canonical states `(q, p)`, with `q_t = velocities(q, p)`."""

    velocities: Callable
    energy: Callable

    def __call__(self, q, p):
        return self.energy(q, self.velocities(q, p))


def problem(name: str, models: dict) -> dict:
    """The dynamics, initial state, energies (own first) and period of one system row."""
    pendulum = lz.systems.get("pendulum")
    if name in EXACT:
        state, canonical = EXACT[name]
        system = lz.systems.get(name)
        y0 = jnp.asarray(state, dtype=jnp.float64)
        if name == "pendulum":
            period = pendulum_period(system, state[0])
        elif name == "kepler":
            period = float(system.period(y0[:2], y0[2:]))
        else:
            period = small_oscillation_period(system)
        dynamics, energies = system, (system.energy,)
        if canonical:
            hamiltonian = lz.hamiltonian_from_lagrangian(system.lagrangian)
            dynamics, energies = lz.hamiltonian_vector_field(hamiltonian), (hamiltonian,)
            y0 = lz.to_canonical(system.lagrangian, y0)
        return {"dynamics": dynamics, "y0": y0, "energies": energies, "period": period}
    start = jnp.asarray(LEARNED_START, dtype=jnp.float64)
    period = pendulum_period(pendulum, LEARNED_START[0])
    if name == "hnn":
        hnn = models["hnn"]["model"]
        true_energy = lz.hamiltonian_from_lagrangian(pendulum.lagrangian)
        y0 = lz.to_canonical(pendulum.lagrangian, start)
        return {"dynamics": hnn, "y0": y0, "energies": (hnn.energy, true_energy), "period": period}
    lnn = models["lnn"]["model"]
    if name == "lnn":
        energies = (lnn.energy, pendulum.energy)
        return {"dynamics": lnn, "y0": start, "energies": energies, "period": period}
    hamiltonian = lz.hamiltonian_from_lagrangian(lnn.lagrangian)
    # The learned momenta are not the pendulum's (a Lagrangian times a constant has the same
    # motion), so the true energy is taken at the velocities the learned Legendre map gives.
    true_energy = EnergyOnMomenta(lz.velocities(lnn.lagrangian), pendulum.energy)
    return {
        "dynamics": lz.hamiltonian_vector_field(hamiltonian),
        "y0": lz.to_canonical(lnn.lagrangian, start),
        "energies": (hamiltonian, true_energy),
        "period": period,
    }


def measure(setup: dict, solver: str, dt: float, horizon: float, blocks: int) -> dict:
    """One row: the blocks' energy errors over `horizon` time units, and the seconds."""
    window = horizon / blocks
    arguments = (setup["dynamics"], setup["energies"], setup["y0"])
    options = {"solver": solver, "dt": dt, "window": window, "blocks": blocks}
    load = os.getloadavg()[0]
    started = time.perf_counter()
    compiled = block_energy_errors.lower(*arguments, **options).compile()
    compile_seconds = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    y_end, errors = _common.block(compiled(*arguments, **options))
    seconds = time.perf_counter() - started
    # The processor time of this process: on a shared machine the wall time also counts the
    # time other processes held the cores.
    cpu_seconds = time.process_time() - cpu_started
    errors = np.asarray(errors)
    tenth = max(1, blocks // 10)
    row = {
        "steps": int(round(horizon / dt)),
        "horizon": horizon,
        "finite": bool(np.all(np.isfinite(np.asarray(y_end))) and np.all(np.isfinite(errors))),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "compile_seconds": compile_seconds,
        "load_average_1min": round(load, 2),
    }
    for index, label in enumerate(("energy_error", "true_energy_error")[: errors.shape[1]]):
        column = errors[:, index]
        row[f"{label}_max"] = float(np.max(column))
        row[f"{label}_first_tenth"] = float(np.max(column[:tenth]))
        row[f"{label}_last_tenth"] = float(np.max(column[-tenth:]))
        row[f"{label}_blocks"] = [float(x) for x in column]
    return row


def plan(settings: dict) -> list[tuple[str, str, str, float]]:
    """(experiment, system, solver, step size) of every row, cheapest systems first."""
    rows = []
    for name, solvers in settings["cases"].items():
        rows += [("table", name, s, dt) for dt in settings["steps"][name] for s in solvers]
        if name == "hnn" and settings["goal_steps"] is not None:
            rows += [("goal", *goal, GOAL_DT) for goal in GOALS if goal[0] == name]
    if settings["goal_steps"] is not None:
        rows += [("goal", *goal, GOAL_DT) for goal in GOALS if goal[0] == "lnn_canonical"]
    return rows


TITLES = {
    "hnn": "trained HNN, [q, p] (its own H)",
    "lnn_canonical": "trained LNN, [q, p] (its own H)",
    "lnn": "trained LNN, [q, q_t] (its own energy)",
    "double_pendulum": "double pendulum, [q, p]",
}


def figure(rows: list[dict], path: Path) -> Path | None:
    """Largest energy error against processor seconds, one panel per system, one line per
    solver through its step sizes; and the goal rows' block errors along the run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    table = [r for r in rows if r["experiment"] == "table" and r["finite"]]
    systems = list(dict.fromkeys(r["system"] for r in table))
    if not systems:
        return None
    solvers = EXPLICIT + IMPLICIT + CLASSIC
    colours = dict(zip(solvers, [f"C{i}" for i in range(len(solvers))]))
    markers = dict(zip(solvers, "oosD^v*pP"))
    goals = [r for r in rows if r["experiment"] == "goal" and r["finite"]]
    panels = len(systems) + bool(goals)
    columns = min(3, panels)
    lines = math.ceil(panels / columns)
    fig = Figure(figsize=(4.4 * columns, 3.8 * lines + 0.4), layout="constrained")
    axes = fig.subplots(lines, columns, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.set_visible(False)
    for ax, system in zip(axes, systems):
        for solver in solvers:
            points = sorted(
                (
                    (r["dt"], r["cpu_seconds"], r["energy_error_max"])
                    for r in table
                    if r["system"] == system and r["solver"] == solver
                ),
                reverse=True,
            )
            if not points:
                continue
            _, seconds, errors = zip(*points)
            ax.loglog(
                seconds,
                errors,
                marker=markers[solver],
                color=colours[solver],
                fillstyle="none" if solver in EXPLICIT[:2] else "full",
                label=solver,
            )
        ax.set_title(TITLES.get(system, system.replace("_", " ")), fontsize="medium")
        ax.xaxis.set_minor_formatter(NullFormatter())  # log ticks between decades overlap
        ax.set_xlabel("processor seconds")
        ax.set_ylabel("largest energy error")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    if goals:
        ax = axes[len(systems)]
        for row in goals:
            errors = np.asarray(row["energy_error_blocks"])
            ends = row["horizon"] * np.arange(1, errors.size + 1) / errors.size
            ax.semilogy(ends, errors, label=f"{row['system']}, {row['solver']}")
        ax.set_title(f"goal: {goals[0]['steps']} steps of {goals[0]['dt']}", fontsize="medium")
        ax.set_xlabel("time (end of each hundredth of the run)")
        ax.set_ylabel("largest energy error in the block")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="x-small")
    fig.suptitle(
        "Energy error against cost over $10^4$ periods:\none line per solver, its points "
        "the step sizes (largest first)",
        fontsize="medium",
    )
    fig.savefig(path, dpi=100)
    return path


COLUMNS = [
    "experiment",
    "system",
    "solver",
    "dt",
    "steps",
    "energy_error_max",
    "energy_error_first_tenth",
    "energy_error_last_tenth",
    "true_energy_error_max",
    "cpu_seconds",
    "seconds",
]


def write(directory: Path, mode: str, config: dict, rows: list[dict], *, partial: bool) -> None:
    notes = [
        "`energy_error_*`: the largest absolute error of the system's own energy (a learned "
        "model's learned energy), sampled every "
        f"{SAMPLE} time units, over the run and its first and last tenths; bounded when the "
        "tenths agree. `true_energy_error_max`: the true pendulum's energy along a learned "
        "model's rollout. `cpu_seconds` and `seconds`: the processor and wall seconds of the "
        "compiled run, once, after compiling it, on a machine that may be shared (each row in "
        "the JSON records the load average when it started); the processor time is the "
        "fairer measure of cost there.",
        "The explicit compositions (verlet, yoshida4, forest_ruth, blanes_moan4, yoshida6) "
        "need a separable system, so the double pendulum and the learned models have none.",
        "`goal`: exactly 10^5 steps; Gauss-Legendre 6 and RK4 on the trained HNN, and "
        "Gauss-Legendre 6 on the trained LNN's canonical states (`lnn_canonical`).",
    ]
    if partial:
        notes.insert(
            0, f"**Partial**: continue with `python benchmarks/{NAME}.py --full --resume`."
        )
    _common.write_results(
        directory,
        NAME,
        mode,
        config,
        rows,
        columns=COLUMNS,
        title="Fixed-step solvers over 10^4 periods, exact and learned systems",
        notes=notes,
        extra={"partial": partial},
    )


def _options(parser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue a partial full run")
    parser.add_argument(
        "--systems",
        nargs="+",
        default=None,
        help="run only the rows of these systems (the results stay partial until every row "
        "of the mode is in them): a slice of the run for another process",
    )


def main(argv=None) -> int:
    args = _common.parse_args(__doc__.splitlines()[0], argv, extra=_options)
    settings = SETTINGS[args.mode]
    directory = _common.output_dir(args, NAME)
    results_path = directory / f"{NAME}.json"
    started = time.perf_counter()
    rows: list[dict] = []
    trained = None
    if args.resume and results_path.exists():
        import json

        document = json.loads(results_path.read_text())
        if document.get("mode") == args.mode:
            rows = document["rows"]
            trained = document["config"].get("trained")
        print(f"resuming: {len(rows)} rows already in {results_path}", flush=True)
    done = {(r["experiment"], r["system"], r["solver"], r["dt"]) for r in rows}
    todo = [row for row in plan(settings) if row not in done]
    if args.systems is not None:
        known = list(dict.fromkeys(row[1] for row in plan(settings)))
        unknown = sorted(set(args.systems) - set(known))
        if unknown:
            raise SystemExit(f"--systems: unknown {unknown}; the {args.mode} run has {known}")
        todo = [row for row in todo if row[1] in args.systems]
    config: dict = {
        "periods": settings["periods"],
        "sample_every": SAMPLE,
        "blocks": settings["blocks"],
        "steps": {name: list(steps) for name, steps in settings["steps"].items()},
        "initial_states": {name: EXACT[name][0] for name in EXACT if name in settings["cases"]},
        "learned_start": LEARNED_START,
        "training": TRAINING[args.mode],
        "goals": {"rows": GOALS, "dt": GOAL_DT, "steps": settings["goal_steps"]},
        "timing": "processor and wall seconds of one compiled run after compiling it",
        "dtype": "float64",
    }
    with jax.enable_x64(True):
        learned = {"hnn", "lnn", "lnn_canonical"}
        models = learned_models(args.mode) if any(r[1] in learned for r in todo) else {}
        if trained is not None:
            config["trained"] = trained
        if models:
            config["trained"] = {
                name: {k: v for k, v in entry.items() if k != "model"}
                for name, entry in models.items()
            }
        for experiment, name, solver, dt in todo:
            setup = problem(name, models)
            horizon = settings["periods"] * setup["period"]
            if experiment == "goal":
                horizon = settings["goal_steps"] * dt
            # A whole number of samples per block keeps every sample a step end.
            blocks = settings["blocks"]
            horizon = math.ceil(horizon / (blocks * SAMPLE)) * blocks * SAMPLE
            row = {"experiment": experiment, "system": name, "solver": solver, "dt": dt}
            row["period"] = setup["period"]
            row.update(measure(setup, solver, dt, horizon, blocks))
            rows.append(row)
            print(
                f"{experiment} {name:15s} {solver:13s} dt={dt:<6g} {row['steps']:>8d} steps: "
                f"energy error {row['energy_error_max']:.2e} (first tenth "
                f"{row['energy_error_first_tenth']:.2e}, last "
                f"{row['energy_error_last_tenth']:.2e}) {row['seconds']:.3g} s",
                flush=True,
            )
            config["wall_seconds"] = round(time.perf_counter() - started, 1)
            write(directory, args.mode, config, rows, partial=True)
    order = {key: index for index, key in enumerate(plan(settings))}
    # Rows merged from slices run by other processes (`--systems`) take the plan's order.
    rows.sort(key=lambda r: order.get((r["experiment"], r["system"], r["solver"], r["dt"]), 1e9))
    finished = {(r["experiment"], r["system"], r["solver"], r["dt"]) for r in rows} >= set(order)
    write(directory, args.mode, config, rows, partial=not finished)
    drawn = figure(rows, directory / f"{NAME}.png")
    if drawn is not None and args.mode == "full" and args.out is None:
        with lz.atomic_path(DOCS_FIGURES / f"{NAME}_cost.png") as temporary:
            shutil.copyfile(drawn, temporary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
