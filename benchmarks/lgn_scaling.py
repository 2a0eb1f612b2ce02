"""How the accelerations of a Lagrangian graph network scale with the number of grid points.

One small LGN (`lz.models.LGN`, neighbourhood 1, fixed ends, random weights) on strings of
`n` points, timed as one jitted acceleration `q_tt(q, q_t)` per `n` in float32:

- `banded`: the model's own path: each edge's and point's derivatives (the gradient and two
  mass-matrix columns of a small function), a block of edges at a time, assembled into the
  band, and a tridiagonal solve, for n = 10^2 ... 10^6;
- `engine`: what a user's own field Lagrangian gets, `euler_lagrange(model.lagrangian,
  mass_bandwidth=1)`: 3 coloured products of the whole Lagrangian and the same solve, for the
  same sizes (linear in n too, but its intermediates grow with n and leave the cache);
- `dense`: `euler_lagrange(model.lagrangian)`, one product per column and an LU solve;
- `paper`: `method="paper"`, the LNN paper's full Hessians and pseudo-inverse.

Dense and paper run only up to the sizes in `dense_sizes` (their memory grows as n^2 and
time as n^3); beyond, the paper's time is extrapolated from the log-log slope of its last two
measured sizes, and the rows say so (`extrapolated: true`). Slopes and ratios use the fastest
repeat (`seconds_min`): on a shared machine contention only adds time. Memory is XLA's compiled
estimate (arguments + outputs + temporaries) of each program. Agreement of the three paths
is checked in float64 at the smallest size.

    python benchmarks/lgn_scaling.py --quick          # smoke run (< 1 min), a temp folder
    python benchmarks/lgn_scaling.py --full           # writes benchmarks/results/
"""

import math
import time

import jax


jax.config.update("jax_enable_x64", True)  # for the agreement check only

import jax.numpy as jnp  # noqa: E402
import lagrangian_zoo as lz  # noqa: E402
import numpy as np  # noqa: E402

from _common import output_dir, parse_args, time_call, write_results  # noqa: E402


NAME = "lgn_scaling"

SETTINGS = {
    "quick": {
        "sizes": [100, 1000, 10_000],
        "dense_sizes": [100, 200],
        "repeats": 2,
    },
    "full": {
        "sizes": [100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000],
        "dense_sizes": [100, 200, 400, 800],
        "repeats": 3,
    },
}
MODEL = {"width": 32, "depth": 2, "neighbourhood": 1, "boundary": "fixed"}
SLOPE_RANGE = (1000, 1_000_000)
RATIO_AT = 10_000


def build(n: int, dtype):
    model = lz.models.LGN(n, key=jax.random.key(0), **MODEL)
    model = jax.tree.map(lambda x: x.astype(dtype) if eqx_inexact(x) else x, model)
    key_q, key_v = jax.random.split(jax.random.key(n))
    q = 0.1 * jax.random.normal(key_q, (n,), dtype)
    q_t = 0.1 * jax.random.normal(key_v, (n,), dtype)
    return model, q, q_t


def eqx_inexact(x) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.inexact)


def solver(method: str):
    def acceleration(model, q, q_t):
        if method == "banded":
            return model.acceleration(q, q_t)
        if method == "engine":
            return lz.euler_lagrange(model.lagrangian, mass_bandwidth=model.neighbourhood)(q, q_t)
        if method == "dense":
            return lz.euler_lagrange(model.lagrangian)(q, q_t)
        return lz.euler_lagrange(model.lagrangian, method="paper")(q, q_t)

    return jax.jit(acceleration)


def memory_bytes(compiled) -> int | None:
    try:
        analysis = compiled.memory_analysis()
        return int(
            analysis.argument_size_in_bytes
            + analysis.output_size_in_bytes
            + analysis.temp_size_in_bytes
        )
    except Exception:  # not every backend reports it
        return None


def measure(method: str, n: int, repeats: int) -> dict:
    model, q, q_t = build(n, jnp.float32)
    fn = solver(method)
    compiled = fn.lower(model, q, q_t).compile()
    timing = time_call(lambda: compiled(model, q, q_t), repeats)
    return {
        "method": method,
        "n": n,
        "seconds": timing["seconds"],
        "seconds_min": timing["seconds_min"],
        "compile_and_first_seconds": timing["first_call_seconds"],
        "memory_bytes": memory_bytes(compiled),
        "extrapolated": False,
    }


def agreement(n: int) -> float:
    model, q, q_t = build(n, jnp.float64)
    methods = ("banded", "engine", "dense", "paper")
    results = {m: np.asarray(solver(m)(model, q, q_t)) for m in methods}
    scale = np.max(np.abs(results["dense"]))
    return float(max(np.max(np.abs(results[m] - results["dense"])) for m in methods) / scale)


def loglog_slope(ns, seconds) -> float:
    return float(np.polyfit(np.log(ns), np.log(seconds), 1)[0])


def plot(rows, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {
        "banded": ("C0", "o"),
        "engine": ("C2", "D"),
        "dense": ("C1", "s"),
        "paper": ("C3", "^"),
    }
    for method, (colour, marker) in styles.items():
        measured = [r for r in rows if r["method"] == method and not r["extrapolated"]]
        guessed = [r for r in rows if r["method"] == method and r["extrapolated"]]
        if measured:
            ax.loglog(
                [r["n"] for r in measured],
                [r["seconds_min"] for r in measured],
                marker=marker,
                color=colour,
                label=method,
            )
        if guessed:
            last = measured[-1:] + guessed
            ax.loglog(
                [r["n"] for r in last],
                [r["seconds_min"] for r in last],
                linestyle=":",
                color=colour,
                label=f"{method} (extrapolated)",
            )
    ax.set_xlabel("grid points n")
    ax.set_ylabel("seconds per acceleration (fastest repeat)")
    ax.set_title("LGN accelerations against grid size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = SETTINGS[args.mode]
    directory = output_dir(args, NAME)
    start = time.perf_counter()
    error = agreement(min(settings["dense_sizes"]))
    rows = []
    for method in ("banded", "engine"):
        for n in settings["sizes"]:
            rows.append(measure(method, n, settings["repeats"]))
            print(f"{method} n={n}: {rows[-1]['seconds']:.3e} s", flush=True)
    for method in ("dense", "paper"):
        for n in settings["dense_sizes"]:
            rows.append(measure(method, n, settings["repeats"]))
            print(f"{method} n={n}: {rows[-1]['seconds']:.3e} s", flush=True)
    # The paper's form beyond what was measured: the slope of its last two measured sizes.
    paper = [r for r in rows if r["method"] == "paper"]
    (n0, t0), (n1, t1) = [(r["n"], r["seconds_min"]) for r in paper[-2:]]
    paper_slope = math.log(t1 / t0) / math.log(n1 / n0)
    for n in settings["sizes"]:
        if n > n1:
            rows.append(
                {
                    "method": "paper",
                    "n": n,
                    "seconds": t1 * (n / n1) ** paper_slope,
                    "seconds_min": t1 * (n / n1) ** paper_slope,
                    "extrapolated": True,
                }
            )
    # The fastest repeat: on a shared machine, contention only ever adds time.
    banded = {r["n"]: r["seconds_min"] for r in rows if r["method"] == "banded"}
    low, high = SLOPE_RANGE
    in_range = sorted(n for n in banded if low <= n <= high)
    slope = loglog_slope(in_range, [banded[n] for n in in_range]) if len(in_range) > 1 else None
    engine = {r["n"]: r["seconds_min"] for r in rows if r["method"] == "engine"}
    engine_slope = (
        loglog_slope(in_range, [engine[n] for n in in_range]) if len(in_range) > 1 else None
    )
    paper_at = {r["n"]: r for r in rows if r["method"] == "paper"}
    ratio_n = RATIO_AT if RATIO_AT in banded else max(n for n in banded if n in paper_at)
    ratio = paper_at[ratio_n]["seconds_min"] / banded[ratio_n]
    summary = {
        "banded_loglog_slope": slope,
        "engine_loglog_slope": engine_slope,
        "slope_range": [in_range[0], in_range[-1]] if in_range else None,
        "paper_loglog_slope_last_two": paper_slope,
        "paper_over_banded_ratio": ratio,
        "ratio_at_n": ratio_n,
        "ratio_uses_extrapolated_paper_time": paper_at[ratio_n]["extrapolated"],
        "agreement_float64_relative": error,
        "wall_seconds": time.perf_counter() - start,
    }
    print(summary, flush=True)
    config = {
        **settings,
        "model": MODEL,
        "dtype": "float32",
        "slope_range": list(SLOPE_RANGE),
        "ratio_at": RATIO_AT,
        "summary": summary,
    }
    notes = [
        f"Log-log slope over n = {summary['slope_range']}: banded {slope:.3f}, engine "
        f"{engine_slope:.3f}. Paper's form over "
        f"banded at n = {ratio_n}: {ratio:.4g}x"
        + (
            f" (paper time extrapolated with slope {paper_slope:.3g} from n = {n0}, {n1})."
            if paper_at[ratio_n]["extrapolated"]
            else "."
        ),
        f"Agreement of banded, engine, dense and paper in float64 at n = "
        f"{min(settings['dense_sizes'])}: {error:.2e} relative.",
    ]
    write_results(
        directory,
        NAME,
        args.mode,
        config,
        rows,
        columns=["method", "n", "seconds", "seconds_min", "memory_bytes", "extrapolated"],
        title="LGN accelerations: time against grid size",
        notes=notes,
    )
    plot(rows, directory / f"{NAME}.png")
    print(f"wrote {directory}", flush=True)


if __name__ == "__main__":
    main()
