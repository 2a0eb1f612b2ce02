"""The compiled solve holds no host callback, so JAX's persistent cache keeps it across
processes, while a check that fires inside it still raises its own message."""

import json
import os
import subprocess
import sys
import textwrap

import equinox as eqx
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from scipy.integrate import solve_ivp


# A fresh process: counts JAX's persistent-cache events for a rollout (through a Lagrangian,
# so the engine's mass-matrix check is in the program) and for a dataset.
_SCRIPT = textwrap.dedent(
    """
    import json, logging
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.monitoring
    import jax.numpy as jnp
    import lagrangian_zoo as lz

    counts = {"hits": 0, "misses": 0}
    names = {"/jax/compilation_cache/cache_hits": "hits",
             "/jax/compilation_cache/cache_misses": "misses"}

    def listen(event, **kwargs):
        if event in names:
            counts[names[event]] += 1

    jax.monitoring.register_event_listener(listen)
    solve_hits, refused = [], []

    class Handler(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if "cache hit for 'jit__solve'" in message:
                solve_hits.append(message)
            if "Not writing persistent cache entry" in message and "took <" not in message:
                refused.append(message)

    logger = logging.getLogger("jax._src.compiler")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Handler(logging.DEBUG))
    logger.propagate = False

    def lagrangian(q, q_t):
        return 0.5 * (q[0] - 5.0) ** 2 * q_t @ q_t - 0.5 * q @ q

    field = lz.lagrangian_vector_field(lagrangian)
    y0 = jnp.array([[1.0, 0.0], [0.5, 0.1], [-0.5, 0.0]])
    ys = lz.rollout(field, y0, jnp.linspace(0.0, 1.0, 11))
    data = lz.generate_dataset(
        lz.systems.get("pendulum"), jax.random.key(0), trajectories=3,
        ts=jnp.linspace(0.0, 1.0, 6),
    )
    jax.block_until_ready((ys, data))
    print("COUNTS " + json.dumps(
        {**counts, "solve_hits": len(solve_hits), "refused": refused}))
    """
)


def _run(cache_dir) -> dict:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "JAX_COMPILATION_CACHE_DIR": str(cache_dir),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("COUNTS "))
    return json.loads(line.removeprefix("COUNTS "))


def test_a_second_process_compiles_nothing(tmp_path):
    first = _run(tmp_path)
    # The first process compiles (a cache miss per program) and writes every program, the
    # two solves included; none is refused for holding a host callback.
    assert first["misses"] > 0
    assert first["refused"] == []
    second = _run(tmp_path)
    assert second["misses"] == 0, second
    assert second["hits"] == first["hits"] + first["misses"]
    # The rollout's solve and the dataset's solve (two programs) both came from the cache.
    assert second["solve_hits"] == 2


def _lagrangian(q, q_t):
    # Mass (q - 5)^2: regular for |q| <= 1, where the trap keeps a state that starts at rest
    # there, and singular at q = 5.
    return 0.5 * (q[0] - 5.0) ** 2 * q_t @ q_t - 0.5 * q @ q


def test_programs_traced_with_deferred_checks_do_not_serve_direct_calls():
    # The rollout traces the engine's jitted acceleration with its check compiled to NaNs; a
    # direct call at a singular state afterwards (same shapes) must still raise.
    acceleration = lz.euler_lagrange(_lagrangian)
    field = lz.lagrangian_vector_field(_lagrangian)
    ts = jnp.linspace(0.0, 2.0, 5)
    ys = lz.rollout(field, jnp.array([1.0, 0.0]), ts)
    # The oscillator q'' = -q / (q - 5)^2 - q'^2 / (q - 5), started at rest, stays in [-1, 1].
    assert bool(jnp.all(jnp.abs(ys[:, 0]) <= 1.0 + 1e-9))
    with pytest.raises(eqx.EquinoxRuntimeError, match="mass matrix d2L/dq_t2 is singular"):
        acceleration(jnp.array([5.0]), jnp.array([0.0]))


def test_a_check_that_fires_inside_the_solve_still_raises_its_message():
    # Mass 5 - q, zero from q = 5 on, and a constant force +1: the equation of motion is
    # q'' = (1 + q'^2 / 2) / (5 - q). From q = 4 moving at 1, a fixed step of 0.5 puts a stage
    # at q > 5, where the engine's check fires inside the solve.
    def lagrangian(q, q_t):
        return 0.5 * jnp.maximum(5.0 - q[0], 0.0) * q_t @ q_t + q[0]

    field = lz.lagrangian_vector_field(lagrangian)
    ts = jnp.linspace(0.0, 1.0, 3)
    with pytest.raises(eqx.EquinoxRuntimeError, match="mass matrix d2L/dq_t2 is singular"):
        lz.rollout(field, jnp.array([[1.0, 0.0], [4.0, 1.0]]), ts, solver="rk4", dt0=0.5)
    # States that stay clear of it roll out (the same compiled solve), as SciPy integrates the
    # equation above; a fixed step of 0.5 leaves the classic Runge-Kutta error near 1e-4.
    ys = lz.rollout(field, jnp.array([[1.0, 0.0], [0.0, 0.5]]), ts, solver="rk4", dt0=0.5)
    for y, y0 in zip(ys, ([1.0, 0.0], [0.0, 0.5])):
        reference = solve_ivp(
            lambda t, y: [y[1], (1.0 + 0.5 * y[1] ** 2) / (5.0 - y[0])],
            (0.0, 1.0),
            y0,
            t_eval=np.linspace(0.0, 1.0, 3),
            rtol=1e-11,
            atol=1e-11,
        )
        np.testing.assert_allclose(np.asarray(y), reference.y.T, rtol=0, atol=1e-3)
