"""Speed of the Euler-Lagrange engine against the LNN paper's formulation.

For two Lagrangians, timed in one process as jitted, vmapped accelerations over a batch:

- an LNN-like MLP `L(q, q_t)` (random weights, softplus, the paper's initialisation; 3 hidden
  layers of 500 units for small `n`, 256 for `n >= 32`: narrower still and a random
  network's mass matrix gets too ill-conditioned for float32);
- a banded pendulum chain of `n` links written as a sum of local terms (each link couples only
  to its neighbours), so its mass matrix is tridiagonal.

Methods: our default `"jvp"` (one vmapped forward-over-reverse product per mass-matrix column
plus ONE product for the mixed term, LU solve), the paper's `method="paper"` (full Hessian,
Jacobian of a Jacobian, pseudo-inverse), and for the chain `mass_bandwidth=1` (three coloured
products and a banded solve). Timings are float32, the median of repeats after a warm-up call
that compiles; the accelerations are checked against the paper's in float64 on a few states.

    python benchmarks/mechanics_speed.py --quick          # smoke run, writes to a temp folder
    python benchmarks/mechanics_speed.py --full           # writes benchmarks/results/
"""

import math
import sys
import time

import jax


# float64 is only used for the agreement check; the timings run on float32 arrays.
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import lagrangian_zoo as lz  # noqa: E402

from _common import output_dir, parse_args, time_call, write_results  # noqa: E402


NAME = "mechanics_speed"

SETTINGS = {
    "quick": {
        "sizes": [2, 8],
        "widths": {2: 64, 8: 64},
        "batch": 32,
        "repeats": 3,
        "time_budget_seconds": 120,
    },
    "full": {
        "sizes": [2, 8, 32, 128],
        "widths": {2: 500, 8: 500, 32: 256, 128: 256},
        "batch": 128,
        "repeats": 5,
        "time_budget_seconds": 270,
    },
}
HIDDEN_LAYERS = 3
CHECK_STATES = 8
AGREEMENT_TOLERANCE = 1e-6  # relative, in float64


def mlp_lagrangian(key, n: int, width: int, dtype):
    """An LNN-like MLP `L(q, q_t)` with the LNN paper's initialisation (softplus)."""
    sizes = [2 * n] + [width] * HIDDEN_LAYERS + [1]
    params = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        key, subkey = jr.split(key)
        if i == 0:
            scale = 2.2
        elif i == len(sizes) - 2:
            scale = float(fan_in)
        else:
            scale = 0.58 * i
        weight = jr.normal(subkey, (fan_in, fan_out)) * (scale / math.sqrt(fan_in))
        params.append((weight.astype(dtype), jnp.zeros(fan_out, dtype)))

    def lagrangian(q, q_t):
        x = jnp.concatenate([q, q_t])
        for weight, bias in params[:-1]:
            x = jax.nn.softplus(x @ weight + bias)
        weight, bias = params[-1]
        return (x @ weight + bias)[0]

    return lagrangian


def chain_lagrangian(n: int, dtype):
    """A pendulum chain as a sum of local terms: each link couples only to its neighbours.

    $$L = \\sum_i \\tfrac12 \\dot q_i^2 + g\\cos q_i
    + \\sum_i \\alpha\\cos(q_i - q_{i+1})\\,\\dot q_i\\dot q_{i+1}
    - \\tfrac{\\kappa}{2}(q_{i+1} - q_i)^2,$$
    the double pendulum's kinetic coupling between neighbouring links only, so the mass matrix
    is tridiagonal (and positive definite for `alpha < 1/2`).
    """
    g, alpha, kappa = (jnp.asarray(x, dtype) for x in (9.8, 0.3, 2.0))

    def lagrangian(q, q_t):
        site = 0.5 * q_t**2 + g * jnp.cos(q)
        bond = (
            alpha * jnp.cos(q[:-1] - q[1:]) * q_t[:-1] * q_t[1:]
            - 0.5 * kappa * (q[1:] - q[:-1]) ** 2
        )
        return jnp.sum(site) + jnp.sum(bond)

    return lagrangian


def _methods(kind: str, n: int) -> dict[str, dict]:
    methods = {"paper": {"method": "paper"}, "jvp": {}}
    if kind == "pendulum_chain" and n > 2:  # for n <= 2 the band is the whole matrix
        methods["banded"] = {"mass_bandwidth": 1}
    return methods


def _relative_difference(a, b) -> float:
    a, b = jnp.asarray(a, jnp.float64), jnp.asarray(b, jnp.float64)
    return float(jnp.max(jnp.abs(a - b)) / jnp.maximum(1.0, jnp.max(jnp.abs(b))))


def run_case(kind: str, n: int, settings: dict, key) -> list[dict]:
    width = settings["widths"][n] if kind == "mlp" else None
    batch, repeats = settings["batch"], settings["repeats"]
    model_key, q_key, v_key = jr.split(key, 3)
    if kind == "mlp":
        lagrangians = {
            d: mlp_lagrangian(model_key, n, width, d) for d in (jnp.float32, jnp.float64)
        }
        q = jr.normal(q_key, (batch, n))
    else:
        lagrangians = {d: chain_lagrangian(n, d) for d in (jnp.float32, jnp.float64)}
        q = jr.uniform(q_key, (batch, n), minval=-math.pi, maxval=math.pi)
    q_t = jr.normal(v_key, (batch, n))
    q32, v32 = q.astype(jnp.float32), q_t.astype(jnp.float32)
    q64, v64 = q[:CHECK_STATES], q_t[:CHECK_STATES]

    results, outputs32, outputs64 = {}, {}, {}
    for method, options in _methods(kind, n).items():
        acc32 = jax.jit(jax.vmap(lz.euler_lagrange(lagrangians[jnp.float32], **options)))
        timing = time_call(lambda: acc32(q32, v32), repeats)
        outputs32[method] = acc32(q32, v32)
        acc64 = jax.jit(jax.vmap(lz.euler_lagrange(lagrangians[jnp.float64], **options)))
        outputs64[method] = acc64(q64, v64)
        results[method] = timing

    rows = []
    for method, timing in results.items():
        row = {
            "lagrangian": kind,
            "n": n,
            "width": width,
            "method": method,
            "batch": batch,
            "seconds": timing["seconds"],
            "speedup_vs_paper": results["paper"]["seconds"] / timing["seconds"],
            "speedup_vs_dense": (
                results["jvp"]["seconds"] / timing["seconds"] if method == "banded" else None
            ),
            "max_rel_diff_vs_paper_f64": _relative_difference(
                outputs64[method], outputs64["paper"]
            ),
            "max_rel_diff_vs_paper_f32": _relative_difference(
                outputs32[method], outputs32["paper"]
            ),
            "seconds_min": timing["seconds_min"],
            "first_call_seconds": timing["first_call_seconds"],
        }
        row["agrees"] = row["max_rel_diff_vs_paper_f64"] < AGREEMENT_TOLERANCE
        rows.append(row)
    return rows


def _config(settings: dict, skipped: list[str], wall_seconds: float) -> dict:
    return {
        "sizes": settings["sizes"],
        "mlp_widths": {str(k): v for k, v in settings["widths"].items()},
        "mlp_hidden_layers": HIDDEN_LAYERS,
        "mlp_activation": "softplus",
        "mlp_init": "LNN paper: N(0, s^2/fan_in), s = 2.2 (first), 0.58 i (hidden i), fan_in "
        "(output)",
        "chain": "sum of local terms: q_t^2/2 + g cos q per link, alpha cos(q_i - q_i+1) "
        "q_t_i q_t_i+1 - kappa/2 (q_i+1 - q_i)^2 per bond; g=9.8, alpha=0.3, kappa=2",
        "batch": settings["batch"],
        "repeats": settings["repeats"],
        "timing": "median seconds per jitted, vmapped batch after one warm-up (compiling) call",
        "dtype_timed": "float32",
        "agreement": f"float64 on {CHECK_STATES} states, relative max difference vs the "
        f"paper's formulation, tolerance {AGREEMENT_TOLERANCE}",
        "methods": {
            "paper": "jax.hessian + jacobian(jacobian) + pinv (Cranmer et al. 2020)",
            "jvp": "default: vmapped forward-over-reverse columns, one jvp for the mixed term, "
            "LU with a singularity check",
            "banded": "mass_bandwidth=1: 3 coloured products + tridiagonal (Thomas) solve",
        },
        "time_budget_seconds": settings["time_budget_seconds"],
        "skipped_for_time": skipped,
        "wall_seconds": round(wall_seconds, 1),
    }


COLUMNS = [
    "lagrangian",
    "n",
    "width",
    "method",
    "batch",
    "seconds",
    "speedup_vs_paper",
    "speedup_vs_dense",
    "max_rel_diff_vs_paper_f64",
    "agrees",
]
NOTE = (
    "Seconds per jitted, vmapped batch of accelerations (float32, median of repeats); "
    "`speedup_vs_paper` is the paper's time over ours (higher is better), `speedup_vs_dense` "
    "the dense default's time over the banded path's."
)


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = SETTINGS[args.mode]
    directory = output_dir(args, NAME)
    key = jr.key(0)
    rows, skipped = [], []
    start = time.perf_counter()

    def save(skipped):
        # Written after every case, so a run stopped early still leaves its results.
        return write_results(
            directory,
            NAME,
            args.mode,
            _config(settings, skipped, time.perf_counter() - start),
            rows,
            columns=COLUMNS,
            title="Euler-Lagrange speed: ours vs the LNN paper's formulation",
            notes=[NOTE],
        )

    cases = [(n, kind) for n in settings["sizes"] for kind in ("pendulum_chain", "mlp")]
    for index, (n, kind) in enumerate(cases):
        if time.perf_counter() - start > settings["time_budget_seconds"]:
            skipped = [f"{k} n={m}" for m, k in cases[index:]]
            break
        key, subkey = jr.split(key)
        case_rows = run_case(kind, n, settings, subkey)
        rows += case_rows
        for row in case_rows:
            print(
                f"{kind:15s} n={n:4d} {row['method']:7s} {row['seconds'] * 1e3:10.3f} ms"
                f"  x{row['speedup_vs_paper']:.2f} vs paper"
                f"  rel diff {row['max_rel_diff_vs_paper_f64']:.1e}",
                flush=True,
            )
        remaining = [f"{k} n={m}" for m, k in cases[index + 1 :]]
        save(remaining)
    json_path, markdown_path = save(skipped)
    print(f"wrote {json_path} and {markdown_path}")
    disagreeing = [r for r in rows if not r["agrees"]]
    if disagreeing:
        print(f"accelerations disagree with the paper's formulation: {disagreeing}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
