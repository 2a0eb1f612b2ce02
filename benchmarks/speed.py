"""Speed against what users of the papers' code run: SciPy, PyTorch and the papers' formulation.

Each row times one operation of the library and its reference, in the same process (or, for
whole-process rows, as subprocesses of the same parent, one after the other), and says what
bounds our number. The operations:

- **data generation**: 1000 double-pendulum trajectories, t in [0, 10] at 10 samples per unit
  time, rtol = atol = 1e-10: `lz.generate_dataset` (one vmapped Diffrax solve, `dopri8`)
  against SciPy `solve_ivp` (`DOP853`, the same order) called once per trajectory on a
  closed-form right-hand side. The first call, compile included, is the row with the goal.
- **rollouts**: a trained HNN (200 x 2 tanh) and LNN (3 x 128 softplus) of the double
  pendulum rolled out from 256 states, 1000 saved times over t in [0, 10] (rtol 1e-6,
  atol 1e-8): `lz.rollout` (`tsit5`) against SciPy `solve_ivp` (`RK45`, the same order)
  calling the jitted model at each evaluation, one trajectory at a time, as the HNN paper's
  repository integrates its models. SciPy runs on a subset of the states and is scaled to all
  of them. Steady rows are repeated calls; first-call rows run in a fresh process with an
  empty (cold) and then a filled (warm) persistent compilation cache.
- **training**, as whole processes (interpreter start to exit, import, data and compile
  included): the HNN paper's spring task (2000 full-batch Adam steps, 200 x 2 tanh) against a
  PyTorch script written the way that paper's repository trains; the LNN double-pendulum step
  (3 x 128 softplus, batch 256, L1) against a Python loop over a per-step `jax.jit` of the
  LNN paper's formulation (Hessian and pseudo-inverse). See `_speed_cases.py`.
- **LNN accelerations**: our Euler-Lagrange engine against the paper's formulation
  (`mechanics_speed.py`'s cases, folded in).

Every row has the stages it was profiled by (import, trace and compile, steady run), the peak
resident memory, the goal of issue 8 where one is set, and a `bound` note.

    python benchmarks/speed.py --quick     # about a minute, writes to a temporary folder
    python benchmarks/speed.py --full      # benchmarks/results/speed.{json,md}, docs/figures
"""

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _speed_cases import (  # noqa: E402
    CompileClock,
    double_pendulum_field,
    rollout_case,
    ROLLOUT_MODELS,
)


NAME = "speed"
FIGURES = HERE.parent / "docs" / "figures"
MODELS_DIR = HERE / "results" / "speed_models"

SETTINGS = {
    "quick": {
        "generate": {"trajectories": 16, "t_end": 10.0, "samples": 101, "reference": 16},
        "rollout": {
            "kinds": ["lnn"],
            "batch": 4,
            "t_end": 0.5,
            "samples": 50,
            "reference_states": 1,
            "repeats": 1,
            "first_call_repeats": 0,
            "train_steps": 200,
        },
        "training": {"hnn_steps": 100, "hnn_eval_every": 50, "lnn_steps": 20, "repeats": 1},
        "accelerations": [("mlp", 2, 32, 64)],
        "acceleration_repeats": 3,
        "reference_budget_seconds": 15.0,
    },
    "full": {
        "generate": {
            "trajectories": 1000,
            "t_end": 10.0,
            "samples": 101,
            "reference": 250,
            "fresh_process": True,
        },
        "rollout": {
            "kinds": ["hnn", "lnn"],
            "batch": 256,
            "t_end": 10.0,
            "samples": 1000,
            "reference_states": 16,
            "repeats": 2,
            "first_call_repeats": 1,
            "train_steps": None,
        },
        "training": {"hnn_steps": 2000, "hnn_eval_every": 200, "lnn_steps": 1000, "repeats": 2},
        "accelerations": [
            ("mlp", 2, 128, 256),
            ("mlp", 8, 500, 128),
            ("pendulum_chain", 32, 0, 128),
        ],
        "acceleration_repeats": 5,
        "reference_budget_seconds": 600.0,
    },
}
ROLLOUT_TOLERANCES = {"rtol": 1e-6, "atol": 1e-8}
GENERATE_TOLERANCES = {"rtol": 1e-10, "atol": 1e-10}

COLUMNS = [
    "operation",
    "size",
    "stage",
    "ours_seconds",
    "reference",
    "reference_seconds",
    "ratio",
    "compile_seconds",
    "peak_memory_mb",
    "goal",
    "goal_met",
    "bound",
]


# ---------------------------------------------------------------------------------------------
# Measuring: peak memory, subprocesses, a SciPy budget.


def _reset_peak_memory() -> None:
    """Resets the kernel's peak-RSS mark of this process (Linux), so the next peak is fresh."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        pass


def _peak_memory_mb() -> float:
    """The peak resident memory of this process since the last reset, in MiB."""
    try:
        with open("/proc/self/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_process(case: str, options: dict, env: dict | None = None, timeout: float = 900.0):
    """Runs `_speed_cases.py CASE OPTIONS` as a whole process: its wall time, its own stage
    timings and peak resident memory (the `RESULT` line)."""
    command = [sys.executable, str(HERE / "_speed_cases.py"), case, json.dumps(options)]
    environment = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=environment)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    result = None
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    if process.returncode != 0 or result is None:
        raise RuntimeError(f"{case} failed with exit code {process.returncode}:\n{stderr[-3000:]}")
    result["wall_seconds"] = wall
    # The child's own high-water mark: wait4's ru_maxrss can carry the parent's from the fork.
    result["peak_memory_mb"] = result.get("own_peak_memory_mb") or usage.ru_maxrss / 1024
    return result


class _OverBudget(Exception):
    pass


def _budgeted(fun, deadline: float):
    """`fun`, raising `_OverBudget` once `time.perf_counter()` passes `deadline`."""

    def wrapped(t, y):
        if time.perf_counter() > deadline:
            raise _OverBudget
        return fun(t, y)

    return wrapped


def _round(value, digits: int = 4):
    if value is None or isinstance(value, bool) or not isinstance(value, float):
        return value
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def _row(operation, size, ours, reference, *, goal=None, minimum=None, **values) -> dict:
    """A results row; `ratio` is the reference's time over ours (higher is better)."""
    ours_seconds, reference_seconds = values.pop("ours_seconds"), values.pop("reference_seconds")
    ratio = (
        reference_seconds / ours_seconds
        if reference_seconds is not None and ours_seconds
        else None
    )
    row = {
        "operation": operation,
        "size": size,
        "ours": ours,
        "ours_seconds": ours_seconds,
        "reference": reference,
        "reference_seconds": reference_seconds,
        "ratio": ratio,
        "compile_seconds": values.pop("compile_seconds", None),
        "peak_memory_mb": values.pop("peak_memory_mb", None),
        "reference_peak_memory_mb": values.pop("reference_peak_memory_mb", None),
        "goal": goal,
        "goal_met": (ratio >= minimum) if (minimum is not None and ratio is not None) else None,
        "bound": values.pop("bound", ""),
    }
    row.update(values)
    if hasattr(os, "getloadavg"):
        # The machine may be shared: the load when the row was measured says how much.
        row["load_average_1min"] = os.getloadavg()[0]
    return {key: _round(value) for key, value in row.items()}


# Where the host callbacks that keep a program out of JAX's persistent cache come from.
_CALLBACK_SOURCES = {
    "jit__solve": (
        "diffrax's own check that SaveAt's ts are increasing and inside [t0, t1] (an "
        "equinox.error_if, in every diffeqsolve that saves at given times), and a model's "
        "own checks (an LNN's singular mass-matrix check)"
    ),
    "jit__run_chunk": (
        "the model's checks inside the training step (an LNN's singular mass-matrix check is "
        "an equinox.error_if)"
    ),
}


def _unpersisted_note(uncached: dict[str, str]) -> str:
    """Which programs JAX declined to persist, why, and where their host callbacks are."""
    parts = []
    for name, why in uncached.items():
        source = _CALLBACK_SOURCES.get(name)
        parts.append(f"{name}, which {why}" + (f": {source}" if source else ""))
    return "JAX does not persist " + "; ".join(parts)


def _warm_bound(result: dict, stages: dict) -> str:
    """What a warm persistent cache leaves of a first call, from a fresh process's result."""
    uncached = result.get("uncached_programs") or {}
    if uncached:
        return (
            f"compile: {_unpersisted_note(uncached)}; a warm cache still compiles it "
            f"({_stages_note(stages)})"
        )
    return (
        "tracing and lowering: the persistent cache skips XLA's compile, but Python still "
        f"traces the program ({_stages_note(stages)})"
    )


def _stages_note(stages: dict) -> str:
    parts = [f"{name} {seconds:.2f} s" for name, seconds in stages.items()]
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# (a) Data generation.


def data_generation_rows(settings: dict, budget: float) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import lagrangian_zoo as lz
    import numpy as np
    from scipy.integrate import solve_ivp

    config = settings["generate"]
    system = lz.systems.get("double_pendulum")
    ts = jnp.linspace(0.0, config["t_end"], int(config["t_end"] * 10) + 1)
    trajectories = config["trajectories"]

    def generate(seed):
        return lz.generate_dataset(
            system,
            jax.random.key(seed),
            trajectories=trajectories,
            ts=ts,
            solver="dopri8",
            **GENERATE_TOLERANCES,
        )

    _reset_peak_memory()
    backend_before = CompileClock.backend_seconds()
    start = time.perf_counter()
    data = jax.block_until_ready(generate(0))
    first = time.perf_counter() - start
    backend_seconds = CompileClock.backend_seconds() - backend_before
    peak = _peak_memory_mb()
    steady_times = []
    for seed in (1, 2):
        start = time.perf_counter()
        jax.block_until_ready(generate(seed))
        steady_times.append(time.perf_counter() - start)
    steady = min(steady_times)
    compile_seconds = max(first - steady, 0.0)

    # The same initial states, one SciPy solve each (generate_dataset draws them this way).
    initial_key, _ = jax.random.split(jax.random.key(0))
    y0 = np.asarray(
        jax.vmap(system.sample_initial_state)(jax.random.split(initial_key, trajectories))
    )
    count = min(config["reference"], trajectories)
    t_eval = np.asarray(ts)
    _reset_peak_memory()
    evaluations, solved, final_difference = 0, 0, 0.0
    deadline = time.perf_counter() + budget
    start = time.perf_counter()
    try:
        for index in range(count):
            solution = solve_ivp(
                _budgeted(double_pendulum_field, deadline),
                (0.0, float(t_eval[-1])),
                y0[index],
                method="DOP853",
                t_eval=t_eval,
                **GENERATE_TOLERANCES,
            )
            evaluations += solution.nfev
            solved += 1
            final_difference = max(
                final_difference,
                float(np.max(np.abs(solution.y.T - np.asarray(data.y[index])))),
            )
    except _OverBudget:
        pass
    elapsed = time.perf_counter() - start
    reference_peak = _peak_memory_mb()
    reference_seconds = elapsed / solved * trajectories if solved else None
    scaled = solved < trajectories

    steps = evaluations / max(solved, 1) / 12  # DOP853: 12 evaluations a step
    per_step_us = steady / steps * 1e6 if steps else float("nan")
    size = (
        f"{trajectories} trajectories x {len(t_eval)} samples, t in [0, {config['t_end']:g}], "
        "rtol=atol=1e-10, float64"
    )
    common = {
        "ours": "lz.generate_dataset(solver='dopri8'): one vmapped Diffrax solve",
        "reference": "SciPy solve_ivp(DOP853), one trajectory at a time"
        + (f" ({solved} solved, scaled to {trajectories})" if scaled else ""),
        "reference_peak_memory_mb": reference_peak,
        "max_abs_difference_vs_reference": final_difference,
        "reference_evaluations_per_trajectory": evaluations / max(solved, 1),
    }
    compile_share = compile_seconds / first if first else 0.0
    first_bound = (
        f"compile: tracing and compiling take {compile_seconds:.2f} s of {first:.2f} s "
        f"({compile_share:.0%}; XLA's compile alone {backend_seconds:.2f} s); the solve "
        f"itself takes {steady:.2f} s"
        if compile_share > 0.5
        else f"steady solve {steady:.2f} s of {first:.2f} s; compile {compile_seconds:.2f} s"
    )
    steady_bound = (
        f"solver loop: about {steps:.0f} steps in lock-step for the whole batch, "
        f"{per_step_us:.0f} us per step for {trajectories} trajectories "
        f"({per_step_us / trajectories * 1e3:.0f} ns per trajectory-step): small element-wise "
        "kernels on a (batch, 4) state, memory and loop bound, not FLOPs"
    )
    rows = [
        _row(
            "data_generation",
            size,
            goal=">= 20x, first call, cold cache",
            minimum=20.0,
            ours_seconds=first,
            reference_seconds=reference_seconds,
            compile_seconds=compile_seconds,
            peak_memory_mb=peak,
            bound=first_bound,
            stage="first call in process (cold compile)",
            **common,
        ),
        _row(
            "data_generation",
            size,
            ours_seconds=steady,
            reference_seconds=reference_seconds,
            compile_seconds=0.0,
            peak_memory_mb=peak,
            bound=steady_bound,
            stage="steady (compiled)",
            **common,
        ),
    ]
    if config.get("fresh_process"):
        options = {
            "trajectories": trajectories,
            "t_end": config["t_end"],
            "samples": len(t_eval),
            **GENERATE_TOLERANCES,
        }
        with tempfile.TemporaryDirectory(prefix="lagrangian_zoo_speed_cache_") as cache:
            run_process("first_generate", options, env={"SPEED_CACHE_DIR": cache})
            warm = run_process("first_generate", options, env={"SPEED_CACHE_DIR": cache})
        first_warm = warm["first_call_seconds"]
        stages = {
            "import": warm["import_seconds"],
            "first call": first_warm,
            "second call": warm["second_call_seconds"],
            "XLA compile in the first call": warm["backend_compile_seconds"],
        }
        rows.append(
            _row(
                "data_generation",
                size,
                goal=">= 50x, first call in a fresh process, warm cache",
                minimum=50.0,
                ours_seconds=first_warm,
                reference_seconds=reference_seconds,
                compile_seconds=warm["compile_seconds"],
                peak_memory_mb=warm["peak_memory_mb"],
                bound=_warm_bound(warm, stages),
                stage="first call in a fresh process, warm persistent cache",
                **common,
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# (b) Rollouts of trained models.


def ensure_rollout_models(models_dir: Path, kinds, steps: int | None) -> dict:
    """Trains the rollout rows' models into `models_dir` where missing; returns what it did."""
    done = {}
    models_dir.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        path = models_dir / f"{kind}.lzm"
        if path.exists():
            done[kind] = "loaded"
            continue
        options = {"kind": kind, "path": str(path)}
        if steps is not None:
            options["steps"] = steps
        start = time.perf_counter()
        run_process("train_rollout_model", options)
        done[kind] = f"trained in {time.perf_counter() - start:.0f} s"
    return done


def rollout_rows(settings: dict, models_dir: Path, budget: float) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import lagrangian_zoo as lz
    import numpy as np
    from scipy.integrate import solve_ivp

    config = settings["rollout"]
    ts = jnp.linspace(0.0, config["t_end"], config["samples"])
    batch = config["batch"]
    size = (
        f"{batch} states x {config['samples']} saved times, t in [0, {config['t_end']:g}], "
        "rtol=1e-6, atol=1e-8, float64"
    )
    rows = []
    for kind in config["kinds"]:
        model, y0 = rollout_case(kind, batch, str(models_dir))
        shape = {"hnn": "HNN 200x2 tanh", "lnn": "LNN 3x128 softplus"}[kind]

        def ours(model=model, y0=y0):
            return lz.rollout(model, y0, ts, **ROLLOUT_TOLERANCES)

        _reset_peak_memory()
        backend_before = CompileClock.backend_seconds()
        start = time.perf_counter()
        jax.block_until_ready(ours())
        first = time.perf_counter() - start
        backend_seconds = CompileClock.backend_seconds() - backend_before
        times = []
        for _ in range(config["repeats"]):
            start = time.perf_counter()
            jax.block_until_ready(ours())
            times.append(time.perf_counter() - start)
        steady = statistics.median(times)
        peak = _peak_memory_mb()

        # One model evaluation on the whole batch, to see how much of a step is the model.
        batched = jax.jit(jax.vmap(lambda y, m=model: m(0.0, y, None)))
        batch_evaluation = _seconds_per_call(lambda: batched(y0))
        floor = _acceleration_floor(kind, model, y0)

        # Each state's own steps (the vmapped solve gives each state its own step size, but
        # its loop runs until the slowest state is done), and the same batch in lock-step: one
        # solve of the stacked states, one step size for all.
        study = _sorting_study(model, y0, ts)
        steps_mean, steps_max = study["steps_per_state_mean"], study["steps_per_state_max"]

        def stacked_rollout(model=model, y0=y0):
            stacked = lambda t, y, args: jax.vmap(lambda s: model(t, s, None))(  # noqa: E731
                y.reshape(y0.shape)
            ).reshape(-1)
            return lz.rollout(stacked, y0.reshape(-1), ts, **ROLLOUT_TOLERANCES)

        jax.block_until_ready(stacked_rollout())
        start = time.perf_counter()
        jax.block_until_ready(stacked_rollout())
        lockstep_seconds = time.perf_counter() - start

        # The reference: solve_ivp calling the jitted model (compiled before timing).
        single = jax.jit(lambda t, y, m=model: m(t, y, None))
        y0_host = np.asarray(y0)
        # Compiled for the argument types SciPy passes (a NumPy float64 time and state).
        jax.block_until_ready(single(np.float64(0.0), y0_host[0]))

        def field(t, y, single=single):
            return np.asarray(single(t, y))

        count = min(config["reference_states"], batch)
        _reset_peak_memory()
        evaluations, solved, per_state = 0, 0, []
        deadline = time.perf_counter() + budget
        start = time.perf_counter()
        try:
            for index in range(count):
                solution = solve_ivp(
                    _budgeted(field, deadline),
                    (0.0, float(ts[-1])),
                    y0_host[index],
                    method="RK45",
                    t_eval=np.asarray(ts),
                    **ROLLOUT_TOLERANCES,
                )
                evaluations += solution.nfev
                per_state.append(solution.nfev)
                solved += 1
        except _OverBudget:
            pass
        elapsed = time.perf_counter() - start
        reference_peak = _peak_memory_mb()
        reference_seconds = elapsed / solved * batch if solved else None
        lockstep = max(per_state) / statistics.mean(per_state) if per_state else float("nan")
        per_evaluation = elapsed / max(evaluations, 1)
        # RK45 (Dormand-Prince) takes 6 evaluations a step; the batch steps as its slowest state.
        steps = max(per_state, default=0) / 6
        model_share = steps * 6 * batch_evaluation / steady if steady else float("nan")
        reference = "SciPy solve_ivp(RK45) per state, calling the jitted model" + (
            f" ({solved} of {batch} states, scaled)" if solved < batch else ""
        )
        common = {
            "ours": f"lz.rollout (tsit5) of the {shape}, one vmapped Diffrax solve",
            "reference": reference,
            "reference_seconds": reference_seconds,
            "reference_peak_memory_mb": reference_peak,
            "reference_evaluations_per_state": evaluations / max(solved, 1),
            "reference_seconds_per_evaluation": per_evaluation,
            "batch_evaluation_seconds": batch_evaluation,
            **floor,
        }
        if model_share > 0.5:
            steady_bound = (
                f"FLOPs of the model: about {steps:.0f} steps x 6 evaluations of the model on "
                f"the batch ({batch_evaluation * 1e3:.2f} ms each) account for "
                f"{min(model_share, 1.0):.0%} of the time"
            )
        else:
            steady_bound = (
                f"solver loop: the model's evaluations (about {steps:.0f} steps x 6, "
                f"{batch_evaluation * 1e3:.2f} ms each on the batch) are {model_share:.0%} of "
                "the time; the rest is the batched adaptive loop"
            )
        steady_bound += (
            f"; each state steps with its own step size ({steps_mean:.0f} steps on average, "
            f"{steps_max} for the slowest), but the vmapped loop runs until the slowest is "
            f"done: {steps_max / steps_mean:.1f}x the steps of the average state (one solve "
            f"of the stacked batch, one step size for all, takes {lockstep_seconds:.2f} s)"
        )
        if floor:
            steady_bound += (
                f"; an evaluation costs {batch_evaluation / floor['floor_evaluation_seconds']:.2f}"
                "x the autodiff floor (3 forward-over-reverse products and a 2x2 solve a state, "
                f"{floor['floor_evaluation_seconds'] * 1e3:.2f} ms on the batch)"
            )
        steady_bound += (
            f". The reference is dispatch bound: {per_evaluation * 1e6:.0f} us per evaluation "
            "of one state, Python and JAX call overhead"
        )
        goal = {"hnn": 100.0, "lnn": 20.0}[kind]
        rows.append(
            _row(
                f"rollout_{kind}",
                size,
                goal=f">= {goal:.0f}x steady",
                minimum=goal,
                ours_seconds=steady,
                compile_seconds=first - steady,
                peak_memory_mb=peak,
                bound=steady_bound,
                stage="steady (compiled)",
                first_call_in_process_seconds=first,
                xla_compile_seconds=backend_seconds,
                **study,
                reference_slowest_over_mean_evaluations=lockstep,
                lockstep_seconds=lockstep_seconds,
                **common,
            )
        )
        rows += first_call_rows(kind, config, models_dir, size, common)
    return rows


def _seconds_per_call(call, repeats: int = 20) -> float:
    """The median seconds of `call()` (compiled by a first call that is not timed)."""
    import jax

    jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _acceleration_floor(kind: str, model, y0) -> dict:
    """For the LNN: the seconds of the autodiff floor of its accelerations on the batch.

    The floor for n = 2, written by hand: one shared gradient of the Lagrangian and three
    forward-over-reverse products through it (the mixed term along `q_t` and the two columns of
    the mass matrix), then a 2 x 2 solve. Its accelerations must equal the model's.
    """
    if kind != "lnn":
        return {}
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    @eqx.filter_jit
    def floor(model, y0):
        def one(y):
            q, q_t = y[:2], y[2:]
            gradient = jax.grad(model.lagrangian, argnums=(0, 1))
            zeros = jnp.zeros(2, y.dtype)
            along_q = jnp.stack([q_t, zeros, zeros])
            along_q_t = jnp.stack([zeros, *jnp.eye(2, dtype=y.dtype)])
            (dl_dq, _), (_, products) = jax.vmap(lambda a, b: jax.jvp(gradient, (q, q_t), (a, b)))(
                along_q, along_q_t
            )
            return jnp.linalg.solve(products[1:].T, dl_dq[0] - products[0])

        return jax.vmap(one)(y0)

    ours = eqx.filter_jit(jax.vmap(lambda y: model(0.0, y, None)[2:]))
    difference = float(np.max(np.abs(np.asarray(floor(model, y0)) - np.asarray(ours(y0)))))
    return {
        "floor_evaluation_seconds": _seconds_per_call(lambda: floor(model, y0)),
        "floor_max_abs_difference": difference,
    }


def _steps_per_state(model, y0, ts, rtol: float, atol: float):
    """The number of steps (accepted and rejected) of each state's own solve, and its seconds."""
    import diffrax
    import equinox as eqx
    import jax
    import numpy as np

    @eqx.filter_jit
    def steps(model, y0):
        def one(y):
            solution = diffrax.diffeqsolve(
                diffrax.ODETerm(lambda t, y, args: model(t, y, args)),
                diffrax.Tsit5(),
                ts[0],
                ts[-1],
                None,
                y,
                saveat=diffrax.SaveAt(t1=True),
                stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                max_steps=16_384,
                throw=False,
            )
            return solution.stats["num_steps"]

        return jax.vmap(one)(y0)

    np.asarray(steps(model, y0))
    start = time.perf_counter()
    counts = np.asarray(steps(model, y0))
    return counts, time.perf_counter() - start


def _chunk_work(counts, order, chunk: int) -> float | None:
    """Model evaluations of chunks of `chunk` states taken in `order`, each chunk running to its
    slowest state, over the evaluations each state needs alone (1 is ideal)."""
    import numpy as np

    if len(counts) % chunk:
        return None
    ordered = np.asarray(counts)[order].reshape(-1, chunk)
    return float(ordered.max(axis=1).sum() * chunk / np.sum(counts))


def _sorting_study(model, y0, ts) -> dict:
    """How much sorting the batch into chunks by steps would save, and what predicts them."""
    import numpy as np

    counts, _ = _steps_per_state(model, y0, ts, **ROLLOUT_TOLERANCES)
    study = {
        "steps_per_state_mean": float(counts.mean()),
        "steps_per_state_max": int(counts.max()),
        "lockstep_work_over_ideal": float(counts.max() / counts.mean()),
    }
    exact = np.argsort(counts)
    for chunk in (32, 64):
        study[f"sorted_chunks_{chunk}_work_over_ideal"] = _chunk_work(counts, exact, chunk)
    try:
        loose, loose_seconds = _steps_per_state(model, y0, ts, rtol=1e-3, atol=1e-5)
    except Exception as error:  # a loose solve of a learned model may leave its domain
        study["loose_predictor_error"] = str(error).splitlines()[0][:200]
        return study

    def ranks(x):
        return np.argsort(np.argsort(x))

    study["loose_predictor_spearman"] = float(np.corrcoef(ranks(loose), ranks(counts))[0, 1])
    study["loose_predictor_seconds"] = loose_seconds
    for chunk in (32, 64):
        study[f"loose_sorted_chunks_{chunk}_work_over_ideal"] = _chunk_work(
            counts, np.argsort(loose, kind="stable"), chunk
        )
    return study


def first_call_rows(kind, config, models_dir, size, common) -> list[dict]:
    """The first `lz.rollout` in a fresh process: cold, then warm persistent cache."""
    options = {
        "kind": kind,
        "batch": config["batch"],
        "t_end": config["t_end"],
        "samples": config["samples"],
        "models_dir": str(models_dir),
        **ROLLOUT_TOLERANCES,
    }
    if not config["first_call_repeats"]:
        return []
    results = {"cold": [], "warm": []}
    for _ in range(config["first_call_repeats"]):
        with tempfile.TemporaryDirectory(prefix="lagrangian_zoo_speed_cache_") as cache:
            for state in ("cold", "warm"):
                results[state].append(
                    run_process("first_rollout", options, env={"SPEED_CACHE_DIR": cache})
                )
    rows = []
    goals = {
        "cold": (">= 20x, first call, cold cache", 20.0),
        "warm": (">= 20x, first call, warm cache", 20.0),
    }
    for state, runs in results.items():
        best = min(runs, key=lambda r: r["first_call_seconds"])
        first = best["first_call_seconds"]
        share = best["compile_seconds"] / first if first else 0.0
        stages = {
            "import": best["import_seconds"],
            "load model": best["build_seconds"],
            "first call": first,
            "second call": best["second_call_seconds"],
            "XLA compile in the first call": best["backend_compile_seconds"],
        }
        if state == "cold":
            bound = (
                f"compile: tracing and compiling are {share:.0%} of the first call "
                f"({_stages_note(stages)})"
            )
        else:
            bound = _warm_bound(best, stages)
        rows.append(
            _row(
                f"rollout_{kind}",
                size,
                goal=goals[state][0],
                minimum=goals[state][1],
                ours_seconds=first,
                compile_seconds=best["compile_seconds"],
                peak_memory_mb=best["peak_memory_mb"],
                bound=bound,
                stage=f"first call in a fresh process, {state} persistent cache",
                import_seconds=best["import_seconds"],
                process_seconds=best["wall_seconds"],
                **{**common, "ours": common["ours"] + f" (best of {len(runs)} processes)"},
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# (c) Training, as whole processes.


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _process_bound(best: dict) -> tuple[str, dict]:
    compile_seconds = best["compile_seconds"]
    if not math.isfinite(compile_seconds):
        compile_seconds = 0.0
    stages = {
        "import": best["import_seconds"],
        "data (with its compile)": best["data_seconds"],
        "training start-up+compile": compile_seconds,
        "training run": max(best["train_seconds"] - compile_seconds, 0.0),
        "interpreter start and exit": max(
            best["wall_seconds"]
            - best["import_seconds"]
            - best["data_seconds"]
            - best["train_seconds"],
            0.0,
        ),
    }
    largest = max(stages, key=stages.get)
    uncached = best.get("uncached_programs") or {}
    if uncached:
        largest += f"; a warm cache would not help all of it: {_unpersisted_note(uncached)}"
    return largest, stages


def training_rows(settings: dict) -> list[dict]:
    config = settings["training"]
    repeats = config["repeats"]
    rows = []

    def best_of(case, options, env=None):
        runs = [run_process(case, options, env) for _ in range(repeats)]
        return min(runs, key=lambda r: r["wall_seconds"])

    # The HNN spring task against PyTorch.
    hnn_options = {"steps": config["hnn_steps"], "eval_every": config["hnn_eval_every"]}
    size = (
        f"spring, {config['hnn_steps']} full-batch Adam steps, 200x2 tanh, 25 trajectories x "
        "30 samples, float32"
    )
    with tempfile.TemporaryDirectory(prefix="lagrangian_zoo_speed_cache_") as cache:
        ours_cold = best_of("hnn_spring_ours", hnn_options, {"SPEED_CACHE_DIR": cache})
    ours_line = "lz.generate_dataset + lz.fit(batch_size=None), whole process"
    if _torch_available():
        reference = best_of("hnn_spring_torch", hnn_options)
        reference_seconds = reference["wall_seconds"]
        reference_line = (
            "PyTorch as the HNN paper's repository trains (SciPy data, autograd.grad, "
            f"Adam with weight decay), whole process, {reference['torch_threads']} thread "
            "(torch's default of one per core was many times slower on this shared CPU)"
        )
        reference_extra = {
            "reference_peak_memory_mb": reference["peak_memory_mb"],
            "reference_stages": _process_bound(reference)[1],
            "reference_test_loss": reference["test_loss"],
        }
    else:
        reference_seconds, reference_line, reference_extra = (
            None,
            "PyTorch: skipped, torch is not installed (pip install -e '.[bench]')",
            {},
        )
    largest, stages = _process_bound(ours_cold)
    rows.append(
        _row(
            "training_hnn_spring",
            size,
            ours_line,
            reference_line,
            goal=">= 2x, whole process",
            minimum=2.0,
            ours_seconds=ours_cold["wall_seconds"],
            reference_seconds=reference_seconds,
            compile_seconds=ours_cold["compile_seconds"],
            peak_memory_mb=ours_cold["peak_memory_mb"],
            bound=f"{largest}: {_stages_note(stages)}",
            stage=f"whole process, cold compilation cache, best of {repeats}",
            stages=stages,
            test_loss=ours_cold["test_loss"],
            **reference_extra,
        )
    )

    # The LNN double-pendulum step against a Python loop over a per-step jit of the paper's.
    lnn_options = {"steps": config["lnn_steps"], "log_every": max(config["lnn_steps"] // 10, 1)}
    size = f"double pendulum, {config['lnn_steps']} steps, 3x128 softplus, batch 256, L1, float32"
    with tempfile.TemporaryDirectory(prefix="lagrangian_zoo_speed_cache_") as cache:
        ours = best_of("lnn_ours", lnn_options, {"SPEED_CACHE_DIR": cache})
    reference = best_of("lnn_paper", lnn_options)
    largest, stages = _process_bound(ours)
    reference_largest, reference_stages = _process_bound(reference)
    rows.append(
        _row(
            "training_lnn_double_pendulum",
            size,
            "lz.fit(LNN, StateStream): lax.scan over compiled steps, whole process",
            "Python loop over one jax.jit step with the paper's hessian + pinv, whole process",
            goal=">= 2x, whole process",
            minimum=2.0,
            ours_seconds=ours["wall_seconds"],
            reference_seconds=reference["wall_seconds"],
            compile_seconds=ours["compile_seconds"],
            peak_memory_mb=ours["peak_memory_mb"],
            reference_peak_memory_mb=reference["peak_memory_mb"],
            bound=(
                f"{largest}: {_stages_note(stages)}; reference: {_stages_note(reference_stages)}"
            ),
            stage=f"whole process, cold compilation cache, best of {repeats}",
            stages=stages,
            reference_stages=reference_stages,
            final_loss=ours["final_loss"],
            reference_final_loss=reference["final_loss"],
        )
    )
    return rows


# ---------------------------------------------------------------------------------------------
# (d) LNN accelerations against the paper's formulation (mechanics_speed's cases).


def _matmul_gflops() -> float:
    """This machine's float32 matrix-multiply rate, a ceiling for the FLOP-bound rows."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((1024, 1024), jnp.float32)
    product = jax.jit(lambda x: x @ x)
    jax.block_until_ready(product(a))
    best = math.inf
    for _ in range(5):  # the best of several: on a shared CPU, others' load only slows it
        start = time.perf_counter()
        for _ in range(5):
            jax.block_until_ready(product(a))
        best = min(best, time.perf_counter() - start)
    return 2 * 1024**3 * 5 / best / 1e9


def acceleration_rows(settings: dict) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import lagrangian_zoo as lz

    import mechanics_speed

    peak_rate = _matmul_gflops()
    rows = []
    key = jr.key(0)
    for kind, n, width, batch in settings["accelerations"]:
        key, subkey = jr.split(key)
        case = {
            "widths": {n: width},
            "batch": batch,
            "repeats": settings["acceleration_repeats"],
        }
        _reset_peak_memory()
        case_rows = mechanics_speed.run_case(kind, n, case, subkey)
        peak = _peak_memory_mb()
        paper = next(r for r in case_rows if r["method"] == "paper")
        if kind == "mlp":
            lagrangian = mechanics_speed.mlp_lagrangian(subkey, n, width, jnp.float32)
        else:
            lagrangian = mechanics_speed.chain_lagrangian(n, jnp.float32)
        q = jnp.zeros((batch, n), jnp.float32)
        for row in case_rows:
            if row["method"] == "paper":
                continue
            options = {"mass_bandwidth": 1} if row["method"] == "banded" else {}
            compiled = (
                jax.jit(jax.vmap(lz.euler_lagrange(lagrangian, **options))).lower(q, q).compile()
            )
            analysis = compiled.cost_analysis()
            if isinstance(analysis, list):
                analysis = analysis[0]
            flops = float((analysis or {}).get("flops", float("nan")))
            rate = flops / row["seconds"] / 1e9
            share = rate / peak_rate
            if share > 0.3:
                bound = (
                    f"FLOPs: {rate:.1f} GFLOP/s (XLA's count), {share:.0%} of the float32 "
                    f"matmul rate measured in this run ({peak_rate:.0f} GFLOP/s); "
                    f"{n + 1} forward-over-reverse products a state"
                )
            else:
                bound = (
                    f"memory and kernel overhead: {rate:.1f} GFLOP/s (XLA's count), {share:.0%} "
                    f"of the float32 matmul rate measured in this run ({peak_rate:.0f} GFLOP/s); "
                    f"small matrices: batch {batch} x n {n}"
                )
            size = (
                f"n={n}, "
                + (f"MLP 3x{width} softplus" if kind == "mlp" else "pendulum chain")
                + f", batch {batch}, float32"
            )
            method = {"jvp": "dense jvp + LU", "banded": "coloured jvp + banded solve"}
            rows.append(
                _row(
                    "lnn_accelerations" if kind == "mlp" else "chain_accelerations",
                    size,
                    f"lz.euler_lagrange ({method[row['method']]}), jit+vmap",
                    "the LNN paper's formulation: jax.hessian, jacobian of jacobian, pinv",
                    goal="> 1x (faster than the paper's formulation)",
                    minimum=1.0,
                    ours_seconds=row["seconds"],
                    reference_seconds=paper["seconds"],
                    compile_seconds=row["first_call_seconds"] - row["seconds"],
                    peak_memory_mb=peak,
                    bound=bound,
                    stage=f"steady, {method[row['method']]}",
                    gflops_per_second=rate,
                    agrees_with_paper_f64=row["agrees"],
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------
# Plots and the run.


def plot(rows: list[dict], directory: Path) -> list[Path]:
    """Two PNGs: the ratio of every row against its goal, and whole-process stages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    measured = [r for r in rows if r["ratio"] is not None]
    labels = [
        f"{r['operation']} ({r['size'].split(',')[0]})\n{r.get('stage', '')}" for r in measured
    ]
    figure, axis = plt.subplots(figsize=(9, 0.45 * len(measured) + 1.5))
    colours = [
        "tab:green" if r["goal_met"] else ("tab:red" if r["goal_met"] is False else "tab:gray")
        for r in measured
    ]
    positions = range(len(measured))
    axis.barh(positions, [r["ratio"] for r in measured], color=colours)
    for position, row in zip(positions, measured):
        goal = row.get("goal") or ""
        digits = "".join(c if (c.isdigit() or c == ".") else " " for c in goal.split("x")[0])
        if digits.strip():
            target = float(digits.split()[-1])
            axis.plot([target, target], [position - 0.4, position + 0.4], color="black")
    axis.set_yticks(list(positions), labels, fontsize=7)
    axis.set_xscale("log")
    axis.axvline(1.0, color="gray", linewidth=0.8, linestyle=":")
    axis.set_xlabel("speed-up over the reference (reference seconds / ours), log scale")
    axis.set_title("lagrangian_zoo vs references; black ticks are the goals")
    axis.invert_yaxis()
    figure.tight_layout()
    path = directory / "speed_ratios.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    paths.append(path)

    staged = [r for r in rows if r.get("stages")]
    if staged:
        figure, axis = plt.subplots(figsize=(9, 1.2 * len(staged) + 1.5))
        names = [
            "import",
            "data (with its compile)",
            "training start-up+compile",
            "training run",
            "interpreter start and exit",
        ]
        bars = []
        for row in staged:
            bars.append((f"{row['operation']} (ours)", row["stages"]))
            if row.get("reference_stages"):
                bars.append((f"{row['operation']} (reference)", row["reference_stages"]))
        for index, (label, stages) in enumerate(bars):
            left = 0.0
            for colour, name in zip(
                ("tab:blue", "tab:orange", "tab:red", "tab:green", "tab:gray"), names
            ):
                width = stages.get(name, 0.0)
                axis.barh(
                    index,
                    width,
                    left=left,
                    color=colour,
                    label=name if index == 0 else None,
                )
                left += width
        axis.set_yticks(range(len(bars)), [label for label, _ in bars], fontsize=8)
        axis.set_xlabel("seconds of the whole process")
        axis.set_title("training as a whole process, by stage")
        axis.invert_yaxis()
        axis.legend(fontsize=8, loc="lower right")
        figure.tight_layout()
        path = directory / "speed_stages.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        paths.append(path)
    return paths


def main(argv=None) -> int:
    from _common import output_dir, parse_args, write_results

    args = parse_args(__doc__.splitlines()[0], argv)
    settings = SETTINGS[args.mode]
    directory = output_dir(args, NAME)
    start = time.perf_counter()

    import jax

    jax.config.update("jax_enable_x64", True)
    # A fresh, empty persistent cache: first calls in this process compile for real.
    cache = tempfile.mkdtemp(prefix="lagrangian_zoo_speed_cache_")
    jax.config.update("jax_compilation_cache_dir", cache)
    CompileClock.install()

    models_dir = MODELS_DIR if args.mode == "full" else directory / "speed_models"
    if args.mode == "quick" and (MODELS_DIR / "lnn.lzm").exists():
        models_dir = MODELS_DIR
    budget = settings["reference_budget_seconds"]
    rows: list[dict] = []
    stages: dict[str, float] = {}
    figures_dir = FIGURES if args.mode == "full" and args.out is None else directory

    def save() -> None:
        config = {
            "settings": settings,
            "rollout_tolerances": ROLLOUT_TOLERANCES,
            "generate_tolerances": GENERATE_TOLERANCES,
            "rollout_models": {k: list(v) for k, v in ROLLOUT_MODELS.items()},
            "models": str(models_dir.relative_to(HERE.parent))
            if models_dir.is_relative_to(HERE.parent)
            else str(models_dir),
            "ratio": "reference seconds / our seconds (higher is better)",
            "compile_seconds": "first call minus steady call, or JAX's own trace, lowering "
            "and XLA compile durations (jax.monitoring) for first calls and whole processes",
            "peak_memory_mb": "peak resident memory of the process while the row ran (VmHWM, "
            "reset before the row in this process; a subprocess's own VmHWM at its exit)",
            "main_process_cache": "a fresh, empty persistent compilation cache",
            "float": "float64 for data generation and rollouts (SciPy's precision), float32 "
            "for training (the papers') and accelerations",
            "wall_seconds": round(time.perf_counter() - start, 1),
            "section_seconds": stages,
            "partial": len(stages) < 4,
        }
        write_results(
            directory,
            NAME,
            args.mode,
            config,
            rows,
            columns=COLUMNS,
            title="Speed: ours vs SciPy, PyTorch and the papers' formulations",
            notes=[
                "`ratio` is the reference's seconds over ours (higher is better). Whole-process "
                "rows time the interpreter from start to exit; first-call rows a fresh process. "
                "`bound` says what limits our number, from the stage timings."
            ],
        )

    sections = [
        ("accelerations", lambda: acceleration_rows(settings)),
        ("data_generation", lambda: data_generation_rows(settings, budget)),
        (
            "rollouts",
            lambda: (
                ensure_rollout_models(
                    models_dir, settings["rollout"]["kinds"], settings["rollout"]["train_steps"]
                ),
                rollout_rows(settings, models_dir, budget),
            )[1],
        ),
        ("training", lambda: training_rows(settings)),
    ]
    for name, section in sections:
        section_start = time.perf_counter()
        new_rows = section()
        stages[name] = round(time.perf_counter() - section_start, 1)
        rows += new_rows
        for row in new_rows:
            ratio = f"x{row['ratio']:.1f}" if row["ratio"] is not None else "skipped"
            print(
                f"{row['operation']:30s} {row.get('stage', ''):45.45s} "
                f"ours {row['ours_seconds']:.4g} s  {ratio:>8s}  goal {row['goal']}: "
                f"{row['goal_met']}",
                flush=True,
            )
        save()
    figures = plot(rows, figures_dir)
    save()
    print(f"wrote {directory / (NAME + '.json')} and figures {[str(p) for p in figures]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
