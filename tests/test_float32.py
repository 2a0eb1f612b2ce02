"""The float32 pass: the engine, rollouts, models, data and training with 64-bit types off.

The rest of the suite runs in float64. Here every test runs under `jax.enable_x64(False)`, as a
user on a GPU would, and checks dtypes (nothing silently promoted to float64) and accuracy
against closed forms computed in NumPy float64, with tolerances of float32.
"""

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def float32_only():
    with jax.enable_x64(False):
        yield


def _f32(*values):
    return tuple(jnp.asarray(v, dtype=jnp.float32) for v in values)


def test_euler_lagrange_pendulum_and_magnetic_field():
    def pendulum(q, q_t):
        return 0.5 * 2.0 * 1.5**2 * q_t[0] ** 2 + 2.0 * 9.81 * 1.5 * jnp.cos(q[0])

    q, q_t = _f32([0.7], [0.3])
    acc = lz.euler_lagrange(pendulum)(q, q_t)
    assert acc.dtype == jnp.float32
    np.testing.assert_allclose(acc, -9.81 / 1.5 * np.sin(0.7), rtol=1e-5)

    # A charge in a uniform magnetic field B along z: L = |v|^2/2 + B (x v_y - y v_x) / 2,
    # so a = B (v_y, -v_x).
    def charge(q, q_t):
        return 0.5 * q_t @ q_t + 0.5 * 1.3 * (q[0] * q_t[1] - q[1] * q_t[0])

    q, q_t = _f32([0.2, -0.4], [0.5, 0.8])
    acc = lz.euler_lagrange(charge)(q, q_t)
    assert acc.dtype == jnp.float32
    np.testing.assert_allclose(acc, 1.3 * np.array([0.8, -0.5]), rtol=1e-5)


def test_relativistic_acceleration_matches_the_closed_form():
    system = lz.systems.get("relativistic_particle")
    q, q_t = _f32([0.1, 0.2], [0.3, 0.5])
    acc = lz.euler_lagrange(system.lagrangian)(q, q_t)
    assert acc.dtype == jnp.float32
    v = np.array([0.3, 0.5])
    inverse_gamma = np.sqrt(1 - v @ v)
    expected = inverse_gamma * (np.array([0.0, 1.0]) - v[-1] * v)
    np.testing.assert_allclose(acc, expected, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("scale", [1e6, 1.0, 1e-8])
def test_banded_solve_with_large_and_small_masses(scale):
    # A spring chain with masses of any scale: the padded banded solve (n = 7, k = 2 pads one
    # row) must not call a healthy float32 mass matrix singular.
    n = 7
    masses = scale * (1.0 + 0.1 * np.arange(n))

    def lagrangian(q, q_t):
        kinetic = 0.5 * jnp.sum(jnp.asarray(masses, jnp.float32) * q_t**2)
        coupling = 0.05 * scale * jnp.sum(q_t[:-2] * q_t[2:])
        return kinetic + coupling - 0.5 * scale * jnp.sum(jnp.diff(q) ** 2) - 0.5 * scale * q @ q

    q, q_t = _f32(np.linspace(-0.5, 0.5, n), np.linspace(0.2, -0.1, n))
    banded = lz.euler_lagrange(lagrangian, mass_bandwidth=2)(q, q_t)
    assert banded.dtype == jnp.float32 and np.all(np.isfinite(banded))
    # The reference, in NumPy float64 from the same quadratic form written out by hand.
    mass = np.diag(masses) + 0.05 * scale * (np.eye(n, k=2) + np.eye(n, k=-2))
    laplacian = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    laplacian[0, 0] = laplacian[-1, -1] = 1
    force = -scale * laplacian @ np.asarray(q, np.float64) - scale * np.asarray(q, np.float64)
    np.testing.assert_allclose(banded, np.linalg.solve(mass, force), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("solver", ["tsit5", "rk4", "verlet"])
def test_spring_rollout_in_float32(solver):
    system = lz.systems.get("spring", mass=0.5, stiffness=2.0)
    ts = jnp.linspace(0.0, 10.0, 101, dtype=jnp.float32)
    ys = lz.rollout(system, jnp.array([0.5, 0.0], jnp.float32), ts, solver=solver)
    assert ys.dtype == jnp.float32
    expected = 0.5 * np.cos(2.0 * np.asarray(ts, np.float64))
    np.testing.assert_allclose(ys[:, 0], expected, atol=2e-4)


def test_double_pendulum_energy_in_float32():
    system = lz.systems.get("double_pendulum")
    y0 = jnp.array([1.0, 2.0, 0.0, 0.0], jnp.float32)
    ts = jnp.linspace(0.0, 10.0, 201, dtype=jnp.float32)
    ys = lz.rollout(system, y0, ts, rtol=1e-6, atol=1e-6)
    assert ys.dtype == jnp.float32
    energy = lz.energy_along(system.energy, ys)
    assert energy.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(energy - energy[0]))) < 1e-3 * system.max_potential_energy


@pytest.mark.parametrize(
    "cls, options",
    [
        (lz.models.LNN, {}),
        (lz.models.LNN, {"dissipation": True}),
        (lz.models.HNN, {}),
        (lz.models.Baseline, {}),
        (lz.models.DeLaN, {}),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_models_stay_in_float32_and_agree_with_float64(cls, options):
    model = cls(2, key=jax.random.key(0), width=32, depth=2, **options)
    leaves = [x for x in jax.tree.leaves(model) if eqx_is_float_array(x)]
    assert leaves and all(x.dtype == jnp.float32 for x in leaves)
    y = jnp.array([0.3, -0.2, 0.5, 0.1], jnp.float32)
    out = model(jnp.zeros((), jnp.float32), y, None)
    assert out.dtype == jnp.float32 and np.all(np.isfinite(out))
    with jax.enable_x64(True):
        model64 = jax.tree.map(
            lambda x: x.astype(jnp.float64) if eqx_is_float_array(x) else x, model
        )
        reference = model64(jnp.zeros(()), y.astype(jnp.float64), None)
    np.testing.assert_allclose(out, reference, rtol=2e-3, atol=2e-4)


def eqx_is_float_array(x) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)


def test_dataset_and_training_in_float32():
    system = lz.systems.get("spring")
    ts = jnp.linspace(0.0, 3.0, 31, dtype=jnp.float32)
    data = lz.generate_dataset(system, jax.random.key(1), trajectories=16, ts=ts)
    assert data.y.dtype == jnp.float32 and data.dy.dtype == jnp.float32
    model = lz.models.HNN(1, key=jax.random.key(2), width=32)
    trained, history = lz.fit(
        model, data, steps=300, key=jax.random.key(3), batch_size=64, progress=False
    )
    leaves = [x for x in jax.tree.leaves(trained) if eqx_is_float_array(x)]
    assert all(x.dtype == jnp.float32 for x in leaves)
    assert np.all(np.isfinite(history.train_loss))
    assert history.train_loss[-1] < 0.2 * history.train_loss[0]
    # The trained model's rollout stays in float32.
    ys = lz.rollout(trained, data.y[0, 0], ts)
    assert ys.dtype == jnp.float32
