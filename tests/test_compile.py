"""Compile once: repeated calls, new parameter values and shifted times reuse compiled programs.

Each test warms a computation up, then counts XLA compilations (JAX's monitoring events) over
the calls that must not compile again. Inputs are built before counting, so that the test's own
eager operations are not counted.
"""

import contextlib
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from lagrangian_zoo._rollout import _step_grid


_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compilations():
    """Counts the XLA compilations in the block: `with count_compilations() as count: ...`,
    then `count[0]`."""
    count = [0]

    def listener(event, duration, **kwargs):
        del duration, kwargs
        if event == _COMPILE_EVENT:
            count[0] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield count
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def _ready(tree):
    return jax.block_until_ready(tree)


def test_counter_sees_a_compilation():
    # The counter itself must be able to fail: a fresh program is counted.
    x = jnp.arange(3.0)
    with count_compilations() as count:
        _ready(jax.jit(lambda v: jnp.sin(v) * 3.25)(x))
    assert count[0] >= 1


MODELS = [
    (lz.models.LNN, {}),
    (lz.models.LNN, {"dissipation": True}),
    (lz.models.HNN, {}),
    (lz.models.Baseline, {}),
    (lz.models.Baseline, {"predict": "acceleration"}),
    (lz.models.DeLaN, {}),
]


@pytest.mark.parametrize("cls, options", MODELS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_second_eager_call_of_a_model_does_not_compile(cls, options, getkey):
    model = cls(2, key=getkey(), width=16, depth=2, **options)
    other = cls(2, key=getkey(), width=16, depth=2, **options)
    t, y, y_next = jnp.zeros(()), jnp.array([0.3, -0.2, 0.5, 0.1]), jnp.array([1.0, 2, 3, 4])
    first = _ready(model(t, y, None))
    with count_compilations() as count:
        again = _ready(model(t, y, None))
        _ready(model(t, y_next, None))
        # Other parameters of the same architecture: inputs of the same program.
        _ready(other(t, y, None))
    assert count[0] == 0
    np.testing.assert_array_equal(first, again)


def test_euler_lagrange_result_compiles_once():
    def lagrangian(q, q_t):
        return 0.5 * q_t @ q_t - 0.5 * q @ q + 0.1 * jnp.sum(q**4)

    q, q_t, q_other = jnp.array([0.3, -0.1]), jnp.array([0.2, 0.4]), jnp.array([1.0, 2.0])
    y, y_other = jnp.concatenate([q, q_t]), jnp.concatenate([q_other, q_t])
    acc = lz.euler_lagrange(lagrangian)
    _ready(acc(q, q_t))
    with count_compilations() as count:
        _ready(acc(q_other, q_t))
        # A second factory call on the same function builds an equal module: same program.
        _ready(lz.euler_lagrange(lagrangian)(q, q_t))
    assert count[0] == 0
    _ready(lz.lagrangian_vector_field(lagrangian)(0.0, y, None))
    with count_compilations() as count:
        _ready(lz.lagrangian_vector_field(lagrangian)(0.0, y_other, None))
    assert count[0] == 0


def test_model_lagrangian_parameters_are_inputs_not_constants(getkey):
    model = lz.models.LNN(2, key=getkey(), width=16, depth=2)
    other = lz.models.LNN(2, key=getkey(), width=16, depth=2)
    q, q_t = jnp.array([0.3, -0.1]), jnp.array([0.2, 0.4])
    expected = _ready(model.acceleration(q, q_t))
    with count_compilations() as count:
        for fn in (model.lagrangian, other.lagrangian):
            _ready(lz.euler_lagrange(fn)(q, q_t))
            _ready(lz.lagrangian_energy(fn)(q, q_t))
            _ready(lz.momenta(fn)(q, q_t))
    # The first of each factory compiles once (energy, momenta); the other model reuses all.
    assert count[0] <= 2
    np.testing.assert_allclose(lz.euler_lagrange(model.lagrangian)(q, q_t), expected)
    jaxpr = jax.make_jaxpr(lambda m: lz.euler_lagrange(m.lagrangian)(q, q_t))(model)
    # The weights enter as inputs: no constant of the size of a weight matrix.
    assert all(np.size(c) < 16 * 16 for c in jaxpr.consts)


@pytest.mark.parametrize(
    "name, values",
    [
        ("pendulum", [{"mass": 1.0}, {"mass": 1.1}, {"mass": 1.2, "length": 0.7}]),
        ("double_pendulum", [{"masses": (1.0, 1.0)}, {"masses": (1.0, 2.0), "gravity": 3.0}]),
        ("spring", [{"stiffness": 2.0}, {"stiffness": 5.0}]),
    ],
)
def test_rollout_with_new_parameter_values_does_not_compile(name, values):
    systems = [lz.systems.get(name, **v) for v in values]
    y0 = _ready(jnp.zeros(2 * systems[0].dof).at[0].set(0.5))
    ts = _ready(jnp.linspace(0.0, 2.0, 21))
    first = _ready(lz.rollout(systems[0], y0, ts))
    with count_compilations() as count:
        later = [_ready(lz.rollout(system, y0, ts)) for system in systems[1:]]
    assert count[0] == 0
    # Different parameters really give different motions (not a stale constant).
    assert not np.allclose(first, later[-1])


def test_new_parameters_give_the_closed_form_motion():
    # The compiled program reused for a new mass is still right: small-angle spring motion.
    ts = _ready(jnp.linspace(0.0, 3.0, 31))
    y0 = _ready(jnp.array([0.4, 0.0]))
    for stiffness in (2.0, 4.5):
        system = lz.systems.get("spring", stiffness=stiffness, mass=0.5)
        ys = lz.rollout(system, y0, ts, rtol=1e-10, atol=1e-12)
        omega = np.sqrt(stiffness / 0.5)
        np.testing.assert_allclose(ys[:, 0], 0.4 * np.cos(omega * np.asarray(ts)), atol=1e-8)


@pytest.mark.parametrize("solver", ["tsit5", "rk4", "verlet"])
def test_shifted_times_of_the_same_shape_do_not_compile(solver):
    system = lz.systems.get("pendulum")
    y0 = _ready(jnp.array([1.0, 0.0]))
    ts = _ready(jnp.linspace(0.0, 5.0, 51))
    shifted = _ready(jnp.linspace(2.5, 7.5, 51))
    _ready(lz.rollout(system, y0, ts, solver=solver))
    with count_compilations() as count:
        _ready(lz.rollout(system, y0, shifted, solver=solver))
    assert count[0] == 0


def test_new_tolerances_do_not_compile():
    system = lz.systems.get("pendulum")
    y0, ts = _ready(jnp.array([1.0, 0.0])), _ready(jnp.linspace(0.0, 5.0, 51))
    _ready(lz.rollout(system, y0, ts, rtol=1e-6, atol=1e-8))
    with count_compilations() as count:
        _ready(lz.rollout(system, y0, ts, rtol=1e-9, atol=1e-11))
    assert count[0] == 0


def test_generate_dataset_with_new_parameters_does_not_compile():
    ts = _ready(jnp.linspace(0.0, 1.0, 11))
    key = _ready(jax.random.key(3))
    lz.generate_dataset(lz.systems.get("spring"), key, trajectories=4, ts=ts)
    with count_compilations() as count:
        data = lz.generate_dataset(lz.systems.get("spring", mass=2.0), key, trajectories=4, ts=ts)
        _ready(data.y)
    assert count[0] == 0


def test_fit_twice_with_the_same_shapes_does_not_compile(getkey):
    ts = _ready(jnp.linspace(0.0, 2.0, 21))
    data = lz.generate_dataset(lz.systems.get("spring"), getkey(), trajectories=4, ts=ts)
    models = [lz.models.HNN(1, key=getkey(), width=16) for _ in range(2)]
    keys = [_ready(getkey()) for _ in range(2)]
    options = dict(steps=20, batch_size=16, progress=False, eval_data=data, log_every=10)
    _, first = lz.fit(models[0], data, key=keys[0], **options)
    with count_compilations() as count:
        _, second = lz.fit(models[1], data, key=keys[1], **options)
    assert count[0] == 0
    assert np.all(np.isfinite(second.train_loss)) and second.train_loss[-1] != first.train_loss[-1]


def test_fit_on_another_dataset_of_the_same_shapes_does_not_compile(getkey):
    # A dataset's metadata (seed, system parameters) is static in its pytree; the training
    # loop must not be specialised on it, or every new dataset compiles the loop again.
    ts = _ready(jnp.linspace(0.0, 2.0, 21))
    first_data = lz.generate_dataset(lz.systems.get("spring"), getkey(), trajectories=4, ts=ts)
    second_data = lz.generate_dataset(
        lz.systems.get("spring", mass=2.0), getkey(), trajectories=4, ts=ts, noise_std=0.01
    )
    _ready(second_data.y)
    assert first_data.metadata != second_data.metadata
    models = [lz.models.HNN(1, key=getkey(), width=16) for _ in range(2)]
    keys = [_ready(getkey()) for _ in range(2)]
    options = dict(steps=20, batch_size=16, progress=False, log_every=10)
    lz.fit(models[0], first_data, key=keys[0], eval_data=first_data, **options)
    with count_compilations() as count:
        _, history = lz.fit(models[1], second_data, key=keys[1], eval_data=second_data, **options)
    assert count[0] == 0
    assert np.all(np.isfinite(history.train_loss))


def test_float32_step_grid_counts_whole_steps():
    # float32 linspace gaps differ by a few ulps; each must still get exactly 10 steps.
    ts = np.asarray(jnp.linspace(0.0, 10.0, 101, dtype=jnp.float32))
    dt0 = float(np.min(np.diff(ts.astype(np.float64)))) / 10
    grid = _step_grid(ts, dt0, np.float32)
    assert grid.shape == (1001,)
    np.testing.assert_allclose(grid[::10], ts.astype(np.float64), rtol=0, atol=0)
    # A step limit that really is shorter still cuts each gap into ceil(10 / 0.9) = 12.
    assert _step_grid(ts, dt0 * 0.9, np.float32).shape == (1201,)


def test_float32_fixed_step_rollouts_share_one_program():
    system = lz.systems.get("pendulum")
    y0 = _ready(jnp.array([1.0, 0.0], dtype=jnp.float32))
    ts = _ready(jnp.linspace(0.0, 10.0, 101, dtype=jnp.float32))
    shifted = _ready(jnp.linspace(1.0, 11.0, 101, dtype=jnp.float32))
    ys = _ready(lz.rollout(system, y0, ts, solver="rk4"))
    assert ys.dtype == jnp.float32
    with count_compilations() as count:
        _ready(lz.rollout(system, y0, shifted, solver="rk4"))
    assert count[0] == 0


def test_import_loads_neither_jax_nor_plotting():
    # What keeps `import lagrangian_zoo` and `lagrangian-zoo --help` quick (the times are
    # measured in benchmarks/speed.py, not here).
    code = (
        "import sys; import lagrangian_zoo, lagrangian_zoo.cli; "
        "print(*(name in sys.modules for name in ('jax', 'matplotlib', 'equinox')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_lazy_exports_match_the_type_checking_imports():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(lz))
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    names = {
        alias.asname or alias.name
        for node in ast.walk(guarded)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert names == set(lz._EXPORTS)
    for name in lz._EXPORTS:
        assert getattr(lz, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'euler_lagrang'"):
        lz.euler_lagrang  # noqa: B018


_CACHE_SCRIPT = """
import sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import lagrangian_zoo as lz
events = {"/jax/compilation_cache/cache_hits": 0, "/jax/compilation_cache/cache_misses": 0}
def listener(event, **kwargs):
    if event in events:
        events[event] += 1
jax.monitoring.register_event_listener(listener)
print(lz.enable_compilation_cache(sys.argv[1]))
model = lz.models.LNN(2, key=jax.random.key(0), width=16, depth=2)
ys = lz.rollout(model, jnp.array([0.1, 0.2, 0.0, 0.0]), jnp.linspace(0.0, 1.0, 11))
jax.block_until_ready(ys)
print(*events.values())
"""


def test_persistent_cache_serves_a_new_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LAGRANGIAN_ZOO_NO_COMPILATION_CACHE"}
    folder = tmp_path / "cache"

    def run():
        out = subprocess.run(
            [sys.executable, "-c", _CACHE_SCRIPT, str(folder)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        where, counts = out.stdout.strip().splitlines()[-2:]
        assert where == str(folder)
        return tuple(int(c) for c in counts.split())

    cold_hits, cold_misses = run()
    # A cold run may already hit its own entries (two jit wrappers of one program).
    assert cold_misses >= 1
    assert any(folder.iterdir())
    warm_hits, warm_misses = run()
    # Programs compiled in a new process now come from the folder. (Programs holding host
    # callbacks, such as equinox.error_if checks, are not cached by JAX: see the notes of
    # benchmarks/speed.py.)
    assert warm_hits > cold_hits
    assert warm_misses < cold_misses


def test_compilation_cache_opt_out(tmp_path, monkeypatch):
    monkeypatch.setenv("LAGRANGIAN_ZOO_NO_COMPILATION_CACHE", "1")
    assert lz.enable_compilation_cache(tmp_path / "unused") is None
    assert not (tmp_path / "unused").exists()
