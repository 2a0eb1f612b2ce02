"""Symplectic and classic fixed-step solvers on exact systems: energy error and seconds.

Each row rolls one exact system (the pendulum, the Kepler problem, the double pendulum) out
from a fixed initial state by one solver with one step size over many periods, in float64,
and reports the largest energy error over the whole run and over its first and last tenths
(a symplectic method's error stays bounded: the two tenths agree; a drifting one grows), and
the median seconds per rollout after a compiling call. The explicit compositions need a
separable system, whose acceleration depends on positions only; the double pendulum's does
not, so it is rolled out by the implicit and the classic methods only, on canonical states
`[q, p]` of its Hamiltonian, where Gauss-Legendre and the midpoint rule are symplectic. Its
chaotic motion visits fast swings where a step's error is larger, so its energy error
fluctuates more than a regular orbit's, without growing.
"""

import statistics
import time

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np

from _common import block, output_dir, parse_args, write_results


NAME = "solvers"
EXPLICIT = ("verlet", "yoshida4", "forest_ruth", "blanes_moan4", "yoshida6")
IMPLICIT = ("midpoint", "gl4", "gl6")
CLASSIC = ("rk4",)
# The velocity state each system starts from, fixed so that runs compare, and whether it is
# rolled out on canonical states.
SYSTEMS = {
    "pendulum": ([2.0, 0.0], False),
    "kepler": ([1.0, 0.0, 0.0, 1.2], False),  # an ellipse of eccentricity 0.44 for GM = 1
    "double_pendulum": ([1.0, 1.5, 0.0, 0.0], True),
}
SETTINGS = {
    "quick": {
        "cases": {"pendulum": ("blanes_moan4", "rk4")},
        "steps": {"pendulum": (0.1,)},
        "t_end": 50.0,
        "repeats": 1,
    },
    "full": {
        "cases": {
            "pendulum": EXPLICIT + IMPLICIT + CLASSIC,
            "kepler": EXPLICIT + IMPLICIT + CLASSIC,
            "double_pendulum": IMPLICIT + CLASSIC,
        },
        "steps": {
            "pendulum": (0.1, 0.05, 0.025),
            "kepler": (0.05, 0.025, 0.0125),
            "double_pendulum": (0.025, 0.0125),
        },
        "t_end": 2000.0,
        "repeats": 2,
    },
}


def measure(dynamics, energy, solver: str, y0, ts, h: float, repeats: int) -> dict:
    """One row: the energy errors of a rollout and its seconds per call."""
    steps = int(round(float(ts[-1] - ts[0]) / h))
    # `dt0` is traced: one compilation per system and solver, for every step size; the
    # outputs are step ends, as every output time is a whole number of steps.
    roll = jax.jit(
        lambda dt0: lz.rollout(dynamics, y0, ts, solver=solver, dt0=dt0, max_steps=steps + 16)
    )
    dt0 = jnp.asarray(h)
    started = time.perf_counter()
    ys = block(roll(dt0))
    first = time.perf_counter() - started
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        block(roll(dt0))
        times.append(time.perf_counter() - started)
    n = y0.shape[-1] // 2
    energies = np.asarray(jax.vmap(lambda y: energy(y[:n], y[n:]))(ys))
    error = np.abs(energies - energies[0])
    tenth = max(1, error.shape[0] // 10)
    return {
        "energy_error_max": float(error.max()),
        "energy_error_first_tenth": float(error[:tenth].max()),
        "energy_error_last_tenth": float(error[-tenth:].max()),
        "finite": bool(np.all(np.isfinite(np.asarray(ys)))),
        "seconds": statistics.median(times),
        "first_call_seconds": first,
    }


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = SETTINGS[args.mode]
    directory = output_dir(args, NAME)
    start = time.perf_counter()
    rows = []
    with jax.enable_x64(True):
        for name, solvers in settings["cases"].items():
            state, canonical = SYSTEMS[name]
            system = lz.systems.get(name)
            y0 = jnp.asarray(state, dtype=jnp.float64)
            dynamics, energy = system, system.energy
            if canonical:
                energy = lz.hamiltonian_from_lagrangian(system.lagrangian)
                dynamics = lz.hamiltonian_vector_field(energy)
                y0 = lz.to_canonical(system.lagrangian, y0)
            # An output every time unit: every step size divides it.
            ts = jnp.linspace(0.0, settings["t_end"], int(settings["t_end"]) + 1)
            for solver in solvers:
                for h in settings["steps"][name]:
                    row = {
                        "system": name,
                        "states": "[q, p]" if canonical else "[q, q_t]",
                        "solver": solver,
                        "dt": h,
                    }
                    row.update(measure(dynamics, energy, solver, y0, ts, h, settings["repeats"]))
                    rows.append(row)
                    print(
                        f"{name:16s} {solver:13s} dt={h:<6g} energy error "
                        f"{row['energy_error_max']:.2e} (first tenth "
                        f"{row['energy_error_first_tenth']:.2e}, last "
                        f"{row['energy_error_last_tenth']:.2e}) {row['seconds']:.3g} s"
                    )
    config = {
        "t_end": settings["t_end"],
        "steps": {name: list(steps) for name, steps in settings["steps"].items()},
        "initial_states": {name: SYSTEMS[name][0] for name in settings["cases"]},
        "timing": "median seconds per rollout after the first (compiling) call",
        "dtype": "float64",
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    write_results(
        directory,
        NAME,
        args.mode,
        config,
        rows,
        columns=[
            "system",
            "states",
            "solver",
            "dt",
            "energy_error_max",
            "energy_error_first_tenth",
            "energy_error_last_tenth",
            "seconds",
        ],
        title="Fixed-step solvers on exact systems",
        notes=[
            "Energy errors are absolute, over outputs every time unit up to `t_end`; a "
            "bounded error has the same first and last tenth, a drifting one grows.",
            "The explicit compositions (verlet, yoshida4, forest_ruth, blanes_moan4, yoshida6) "
            "need a separable system, so the double pendulum has none.",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
