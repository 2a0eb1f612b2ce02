"""The implicit midpoint rule against closed forms, and Störmer-Verlet's limits."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import pytest
from lagrangian_zoo._rollout import _resolve_solver, SOLVER_NAMES


OMEGA = 1.3
FIELD = 0.8  # the magnetic field B


def oscillator(t, y, args):
    n = y.shape[0] // 2
    return jnp.concatenate([y[n:], -(OMEGA**2) * y[:n]])


def exact_oscillator(y0, ts):
    n = y0.shape[-1] // 2
    q0, v0 = y0[..., None, :n], y0[..., None, n:]
    c, s = jnp.cos(OMEGA * ts)[:, None], jnp.sin(OMEGA * ts)[:, None]
    return jnp.concatenate([q0 * c + v0 / OMEGA * s, -q0 * OMEGA * s + v0 * c], axis=-1)


def magnetic_lagrangian(q, q_t):
    """A unit charge in the plane under a uniform field B along z, vector potential B/2 (-y, x)."""
    return 0.5 * q_t @ q_t + 0.5 * FIELD * (q[0] * q_t[1] - q[1] * q_t[0])


def exact_cyclotron(y0, ts):
    """Circular motion at the angular frequency B, clockwise for B > 0."""
    q0, v0 = y0[:2], y0[2:]
    c, s = jnp.cos(FIELD * ts), jnp.sin(FIELD * ts)
    v = jnp.stack([v0[0] * c + v0[1] * s, v0[1] * c - v0[0] * s], axis=-1)
    # q = center + (z x v) / B with a fixed center
    center = q0 - jnp.stack([-v0[1], v0[0]]) / FIELD
    q = center[None] + jnp.stack([-v[:, 1], v[:, 0]], axis=-1) / FIELD
    return jnp.concatenate([q, v], axis=-1)


Y0 = jnp.array([1.0, -0.5, 0.3, 0.8])


def test_midpoint_is_a_fixed_step_solver_by_name():
    assert "midpoint" in SOLVER_NAMES
    solver, adaptive = _resolve_solver("midpoint")
    assert isinstance(solver, lz.ImplicitMidpoint) and not adaptive
    assert not _resolve_solver(lz.ImplicitMidpoint(rtol=1e-8))[1]


@pytest.mark.parametrize(
    "options",
    [dict(rtol=0.0), dict(atol=-1.0), dict(root_find_max_steps=0), dict(rtol=float("nan"))],
)
def test_midpoint_refuses_bad_settings(options):
    with pytest.raises(ValueError, match="ImplicitMidpoint"):
        lz.ImplicitMidpoint(**options)


def test_midpoint_is_second_order_and_keeps_quadratic_energy():
    ts = jnp.linspace(0.0, 20.0, 21)
    # dt0 traced: one compilation for both step sizes
    roll = jax.jit(lambda dt0: lz.rollout(oscillator, Y0, ts, solver="midpoint", dt0=dt0))
    exact = exact_oscillator(Y0, ts)
    errors = [float(jnp.max(jnp.abs(roll(dt) - exact))) for dt in (0.1, 0.05)]
    assert 3.8 < errors[0] / errors[1] < 4.2
    # the oscillator's energy is a quadratic invariant, which the midpoint rule keeps exactly
    ys = roll(0.1)
    energy = 0.5 * jnp.sum(ys[:, 2:] ** 2, -1) + 0.5 * OMEGA**2 * jnp.sum(ys[:, :2] ** 2, -1)
    assert float(jnp.max(jnp.abs(energy - energy[0]))) < 1e-12


def test_midpoint_pendulum_energy_is_bounded_without_drift():
    system = lz.systems.get("pendulum")
    ts = jnp.linspace(0.0, 200.0, 401)
    y0 = jnp.array([2.0, 0.0])  # a large swing, far from the linear regime
    ys = lz.rollout(system, y0, ts, solver="midpoint", dt0=0.1)
    energy = jax.vmap(lambda y: system.energy(y[:1], y[1:]))(ys)
    error = jnp.abs(energy - system.energy(y0[:1], y0[1:]))
    quarter = ts.shape[0] // 4
    assert float(jnp.max(error[-quarter:])) < 1.1 * float(jnp.max(error[:quarter]))
    assert float(jnp.max(error)) < 1e-2 * float(system.mass * system.gravity * system.length)


def test_midpoint_keeps_the_kinetic_energy_of_a_charge_in_a_magnetic_field():
    field = lz.lagrangian_vector_field(magnetic_lagrangian)
    ts = jnp.linspace(0.0, 500.0, 101)
    y0 = jnp.array([1.0, 0.0, 0.3, 1.0])
    ys = lz.rollout(field, y0, ts, solver="midpoint", dt0=0.5)
    kinetic = 0.5 * jnp.sum(ys[:, 2:] ** 2, -1)
    assert float(jnp.max(jnp.abs(kinetic - 0.5 * y0[2:] @ y0[2:]))) < 1e-12
    # the orbit's radius |v| / B is kept with it; only the phase is off, by O(dt^2)
    exact = exact_cyclotron(y0, ts)
    center = y0[:2] - jnp.stack([-y0[3], y0[2]]) / FIELD
    radius = jnp.sqrt(jnp.sum((ys[:, :2] - center[None]) ** 2, -1))
    assert float(jnp.max(jnp.abs(radius - jnp.sqrt(y0[2:] @ y0[2:]) / FIELD))) < 1e-10
    early = jnp.max(jnp.abs(ys[:3] - exact[:3]))
    assert float(early) < 0.2  # the phase error h^2 B^3 t / 12 times the radius


def test_verlet_drifts_where_midpoint_does_not():
    field = lz.lagrangian_vector_field(magnetic_lagrangian)
    ts = jnp.linspace(0.0, 50.0, 11)
    y0 = jnp.array([1.0, 0.0, 0.3, 1.0])
    ys = lz.rollout(field, y0, ts, solver="verlet", dt0=0.5)
    kinetic = 0.5 * jnp.sum(ys[:, 2:] ** 2, -1)
    assert float(jnp.max(jnp.abs(kinetic - 0.5 * y0[2:] @ y0[2:]))) > 1e-2


@pytest.mark.parametrize("speed", [0.0, 0.6, -0.9])
def test_midpoint_relativistic_particle_against_exact_solution(speed):
    system = lz.systems.get("relativistic_particle")
    field = lz.lagrangian_vector_field(system.lagrangian)
    ts = jnp.linspace(0.0, 10.0, 11)
    y0 = jnp.array([0.0, speed])
    exact = jax.vmap(lambda t: system.exact_solution(y0[:1], y0[1:], t))(ts)
    errors = []
    for dt0 in (0.1, 0.05):
        ys = lz.rollout(field, y0, ts, solver="midpoint", dt0=dt0)
        errors.append(float(jnp.max(jnp.abs(ys - exact))))
        assert float(jnp.max(jnp.abs(ys[:, 1]))) < 1.0  # never reaches c
        energy = jax.vmap(lambda y: system.energy(y[:1], y[1:]))(ys)
        assert float(jnp.max(jnp.abs(energy - energy[0]))) < 0.02
    assert errors[0] < 1e-2
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_midpoint_takes_steps_where_verlet_leaves_the_light_cone():
    system = lz.systems.get("relativistic_particle")
    field = lz.lagrangian_vector_field(system.lagrangian)
    ts = jnp.linspace(0.0, 10.0, 11)
    y0 = jnp.array([0.0, 0.0])
    ys = lz.rollout(field, y0, ts, solver="midpoint", dt0=1.0)
    exact = jax.vmap(lambda t: system.exact_solution(y0[:1], y0[1:], t))(ts)
    assert float(jnp.max(jnp.abs(ys - exact))) < 0.1
    with pytest.raises(eqx.EquinoxRuntimeError) as info:
        lz.rollout(field, y0, ts, solver="verlet", dt0=1.0)
    message = str(info.value)
    assert "positions only" in message and "solver='midpoint'" in message
    assert "depends on every velocity" not in message


def test_verlet_keeps_the_dynamics_error_when_the_initial_state_is_at_fault():
    system = lz.systems.get("relativistic_particle")
    field = lz.lagrangian_vector_field(system.lagrangian)
    ts = jnp.linspace(0.0, 1.0, 3)
    with pytest.raises(eqx.EquinoxRuntimeError, match="mass matrix d2L/dq_t2 is singular"):
        lz.rollout(field, jnp.array([0.0, 1.0]), ts, solver="verlet", dt0=0.1)


def test_verlet_blow_up_names_its_scope():
    field = lz.lagrangian_vector_field(magnetic_lagrangian)
    ts = jnp.linspace(0.0, 3000.0, 11)
    with pytest.raises(
        eqx.EquinoxRuntimeError, match=r"non-finite states.*positions only.*solver='midpoint'"
    ):
        lz.rollout(field, jnp.array([1.0, 0.0, 0.0, 1.0]), ts, solver="verlet", dt0=2.5)


def test_midpoint_reports_newton_failure():
    ts = jnp.linspace(0.0, 1.0, 3)
    solver = lz.ImplicitMidpoint(root_find_max_steps=1)
    with pytest.raises(eqx.EquinoxRuntimeError, match="Newton iteration.*did not converge"):
        lz.rollout(oscillator, Y0, ts, solver=solver, dt0=0.1)


def test_midpoint_under_jit_and_vmap():
    ts = jnp.linspace(0.0, 5.0, 6)
    y0s = jnp.stack([Y0, -Y0, 2 * Y0])

    @jax.jit
    def roll(y0):
        return lz.rollout(oscillator, y0, ts, solver="midpoint", dt0=0.01)

    batched = jax.vmap(roll)(y0s)
    assert batched.shape == (3, 6, 4)
    exact = jnp.stack([exact_oscillator(y, ts) for y in y0s])
    assert float(jnp.max(jnp.abs(batched - exact))) < 1e-3
    # a batch given to rollout takes the same path
    direct = lz.rollout(oscillator, y0s, ts, solver="midpoint", dt0=0.01)
    assert float(jnp.max(jnp.abs(direct - exact))) < 1e-3


def test_midpoint_in_float32():
    ts = jnp.linspace(0.0, 10.0, 11, dtype=jnp.float32)
    ys = lz.rollout(oscillator, Y0.astype(jnp.float32), ts, solver="midpoint", dt0=0.01)
    assert ys.dtype == jnp.float32
    exact = exact_oscillator(Y0, ts.astype(jnp.float64))
    assert float(jnp.max(jnp.abs(ys.astype(jnp.float64) - exact))) < 1e-3

    system = lz.systems.get("relativistic_particle")
    field = lz.lagrangian_vector_field(system.lagrangian)
    y0 = jnp.array([0.0, 0.6])
    ys = lz.rollout(field, y0.astype(jnp.float32), ts, solver="midpoint", dt0=0.1)
    assert ys.dtype == jnp.float32
    exact = jax.vmap(lambda t: system.exact_solution(y0[:1], y0[1:], t))(ts.astype(jnp.float64))
    assert float(jnp.max(jnp.abs(ys.astype(jnp.float64) - exact))) < 1e-3
