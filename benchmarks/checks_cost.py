"""What the runtime checks cost: `checks=True` against `checks=False`, side by side.

The checks (a singular or non-finite mass matrix, solver failures and non-finite states, all
through `equinox.error_if`) are on by default. This measures, in one process, the time of
jitted, vmapped LNN accelerations and of a batched rollout with and without them, and reports
the ratio.
"""

import time

import jax
import jax.numpy as jnp
import jax.random as jr
import lagrangian_zoo as lz

from _common import output_dir, parse_args, time_call, write_results


NAME = "checks_cost"
SETTINGS = {
    "quick": {"batch": 64, "width": 64, "repeats": 5, "rollout_batch": 4, "t_end": 2.0},
    "full": {"batch": 1024, "width": 128, "repeats": 20, "rollout_batch": 32, "t_end": 20.0},
}


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = SETTINGS[args.mode]
    directory = output_dir(args, NAME)
    start = time.perf_counter()
    system = lz.systems.get("double_pendulum")
    keys = jr.split(jr.key(0), 3)
    states = jax.vmap(system.sample_training_state)(jr.split(keys[0], settings["batch"]))
    rows = []

    # A trained-looking model is not needed to time the checks: the work is the same.
    for checks in (False, True):
        model = lz.models.LNN(
            system.dof,
            key=keys[1],
            width=settings["width"],
            depth=3,
            periodic=system.periodic,
            checks=checks,
        )
        model = model.adapt(states)
        field = jax.jit(jax.vmap(lambda y, m=model: m(0.0, y, None)))
        timing = time_call(lambda f=field: f(states), settings["repeats"])
        rows.append({"work": "lnn_accelerations", "checks": checks, **timing})

    y0 = jax.vmap(system.sample_initial_state)(jr.split(keys[2], settings["rollout_batch"]))
    ts = jnp.linspace(0.0, settings["t_end"], 11)
    for checks in (False, True):
        timing = time_call(
            lambda c=checks: lz.rollout(system, y0, ts, rtol=1e-8, atol=1e-8, checks=c),
            settings["repeats"],
        )
        rows.append({"work": "rollout_double_pendulum", "checks": checks, **timing})

    for row in rows:
        baseline = next(r for r in rows if r["work"] == row["work"] and not r["checks"])
        row["ratio_vs_unchecked"] = row["seconds"] / baseline["seconds"]
        print(
            f"{row['work']:25s} checks={row['checks']!s:5s} {row['seconds'] * 1e3:9.3f} ms "
            f"x{row['ratio_vs_unchecked']:.3f}"
        )

    config = {
        **settings,
        "timing": "median seconds per call after one warm-up (compiling) call",
        "dtype": "float32" if not jax.config.read("jax_enable_x64") else "float64",
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    write_results(
        directory,
        NAME,
        args.mode,
        config,
        rows,
        columns=["work", "checks", "seconds", "ratio_vs_unchecked"],
        title="Cost of the runtime checks",
        notes=["`ratio_vs_unchecked` is the time with checks over the time without (1.0 = free)."],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
