"""Explicit symplectic compositions and Gauss-Legendre collocation: their orders against
closed forms and fine reference solutions, bounded energy errors over long runs, symplectic
one-step maps, failures, and their use in rollouts and rollout-window training."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
import scipy.integrate
import scipy.special
from lagrangian_zoo._gauss_legendre import gauss_legendre_tableau
from lagrangian_zoo._rollout import _resolve_solver, SOLVER_NAMES
from lagrangian_zoo._windows import RolloutWindows


EXPLICIT = {
    "verlet": (lz.StormerVerlet, 2),
    "yoshida4": (lz.Yoshida4, 4),
    "yoshida6": (lz.Yoshida6, 6),
    "forest_ruth": (lz.ForestRuth, 4),
    "blanes_moan4": (lz.BlanesMoan4, 4),
}
IMPLICIT = {"gl4": 2, "gl6": 3}


def pendulum(t, y, args):
    """A separable pendulum, y = [q, v], with g / l = 1."""
    return jnp.stack([y[1], -jnp.sin(y[0])])


Y_PENDULUM = jnp.array([1.5, 0.0])
Y_SWING = jnp.array([2.0, 0.0])  # a large swing, far from the linear regime


def pendulum_energy(y):
    return 0.5 * y[..., 1] ** 2 - jnp.cos(y[..., 0])


def exact_pendulum(q0: float, ts: np.ndarray) -> np.ndarray:
    """The pendulum released at rest from `q0`: q = 2 asin(k sn(K - t | k^2)), v = -2k cn."""
    k = np.sin(q0 / 2)
    quarter = scipy.special.ellipk(k**2)
    sn, cn, _, _ = scipy.special.ellipj(quarter - ts, k**2)
    return np.stack([2 * np.arcsin(k * sn), -2 * k * cn], axis=-1)


def hamiltonian(q, p):
    """A non-separable Hamiltonian of two degrees of freedom: the mass depends on q."""
    return 0.5 * (p @ p) * (1 + q @ q) + 0.25 * p[0] * p[1] * q[1] + 0.5 * q @ q + 0.1 * q[0] ** 4


def canonical(t, y, args):
    q, p = y[:2], y[2:]
    dq, dp = jax.grad(hamiltonian, argnums=(0, 1))(q, p)
    return jnp.concatenate([dp, -dq])


def energy(y):
    return hamiltonian(y[:2], y[2:])


Y_CANONICAL = jnp.array([0.6, -0.3, 0.2, 0.5])


def simulate(solver, field, energy_of, y0, h, steps):
    """`steps` steps of length `h` by `solver` through the Diffrax solver interface: the last
    state, and the largest energy errors over the first and last tenths of the run. One
    compilation per solver and field, for every `h` and `steps`."""
    y, early, late = _simulate(solver, field, energy_of, y0, jnp.asarray(h), jnp.asarray(steps))
    return y, float(early), float(late)


@eqx.filter_jit
def _simulate(solver, field, energy_of, y0, h, steps):
    term = diffrax.ODETerm(field)
    h = jnp.asarray(h, y0.dtype)
    start = energy_of(y0)
    tenth = steps // 10

    def body(index, carry):
        y, state, early, late = carry
        t0 = index.astype(h.dtype) * h
        y, _, _, state, _ = solver.step(term, t0, t0 + h, y, None, state, False)
        error = jnp.abs(energy_of(y) - start)
        early = jnp.where(index < tenth, jnp.maximum(early, error), early)
        late = jnp.where(index >= steps - tenth, jnp.maximum(late, error), late)
        return y, state, early, late

    zero = jnp.zeros((), y0.dtype)
    state = solver.init(term, 0.0 * h, h, y0, None)
    y, _, early, late = jax.lax.fori_loop(0, steps, body, (y0, state, zero, zero))
    return y, early, late


def test_names_give_fixed_step_solvers():
    for name, (cls, order) in EXPLICIT.items():
        solver, adaptive = _resolve_solver(name)
        assert name in SOLVER_NAMES and isinstance(solver, cls) and not adaptive
        assert solver.order(None) == order
        assert sum(cls.drifts) == pytest.approx(1, abs=1e-14)
        assert sum(cls.kicks) == pytest.approx(1, abs=1e-14)
    for name, stages in IMPLICIT.items():
        solver, adaptive = _resolve_solver(name)
        assert isinstance(solver, lz.GaussLegendre) and not adaptive
        assert solver.stages == stages and solver.order(None) == 2 * stages
    assert not _resolve_solver(lz.GaussLegendre(stages=3, rtol=1e-10))[1]
    assert not _resolve_solver(lz.Yoshida6())[1]


def test_gauss_legendre_tableaus_match_their_closed_forms():
    a, b, c, d = gauss_legendre_tableau(2)
    r3 = np.sqrt(3)
    np.testing.assert_allclose(a, [[1 / 4, 1 / 4 - r3 / 6], [1 / 4 + r3 / 6, 1 / 4]], atol=1e-15)
    np.testing.assert_allclose(b, [0.5, 0.5], atol=1e-15)
    np.testing.assert_allclose(c, [0.5 - r3 / 6, 0.5 + r3 / 6], atol=1e-15)
    np.testing.assert_allclose(d, [-r3, r3], atol=1e-14)
    a, b, c, _ = gauss_legendre_tableau(3)
    r15 = np.sqrt(15)
    expected = [
        [5 / 36, 2 / 9 - r15 / 15, 5 / 36 - r15 / 30],
        [5 / 36 + r15 / 24, 2 / 9, 5 / 36 - r15 / 24],
        [5 / 36 + r15 / 30, 2 / 9 + r15 / 15, 5 / 36],
    ]
    np.testing.assert_allclose(a, expected, atol=1e-15)
    np.testing.assert_allclose(b, [5 / 18, 4 / 9, 5 / 18], atol=1e-15)
    np.testing.assert_allclose(c, [0.5 - r15 / 10, 0.5, 0.5 + r15 / 10], atol=1e-15)


@pytest.mark.parametrize("name", sorted(EXPLICIT))
def test_explicit_order_on_the_pendulum(name):
    cls, order = EXPLICIT[name]
    exact = exact_pendulum(1.5, np.array(4.0))
    errors = [
        float(
            jnp.max(
                jnp.abs(simulate(cls(), pendulum, pendulum_energy, Y_PENDULUM, h, n)[0] - exact)
            )
        )
        for h, n in ((0.1, 40), (0.05, 80))
    ]
    assert abs(np.log2(errors[0] / errors[1]) - order) < 0.25, errors
    assert errors[1] > 1e-12  # above rounding, so the ratio measures the method


def reference_canonical(y0, ts):
    """The non-separable system by SciPy's DOP853 at tolerances near rounding."""
    field = jax.jit(lambda y: canonical(0.0, y, None))
    solution = scipy.integrate.solve_ivp(
        lambda t, y: np.asarray(field(jnp.asarray(y))),
        (float(ts[0]), float(ts[-1])),
        np.asarray(y0),
        method="DOP853",
        t_eval=np.asarray(ts),
        rtol=1e-13,
        atol=1e-13,
    )
    return solution.y.T


@pytest.mark.parametrize("name", sorted(IMPLICIT))
def test_gauss_legendre_order_on_a_non_separable_system(name):
    stages = IMPLICIT[name]
    exact = reference_canonical(Y_CANONICAL, np.array([0.0, 3.0]))[-1]
    runs = ((0.2, 15), (0.1, 30)) if stages == 2 else ((0.25, 12), (0.125, 24))
    solver = lz.GaussLegendre(stages=stages)
    errors = [
        float(jnp.max(jnp.abs(simulate(solver, canonical, energy, Y_CANONICAL, h, n)[0] - exact)))
        for h, n in runs
    ]
    assert abs(np.log2(errors[0] / errors[1]) - 2 * stages) < 0.3, errors
    assert errors[1] > 1e-11


@pytest.mark.parametrize("name", sorted(EXPLICIT))
def test_explicit_energy_error_is_bounded_over_1e5_steps(name):
    cls, order = EXPLICIT[name]
    _, early, late = simulate(cls(), pendulum, pendulum_energy, Y_SWING, 0.1, 100_000)
    assert late < 1.2 * early  # no drift over 10^4 time units, about 1500 swings
    assert early < 10 * 0.1**order


def test_rk4_energy_drifts_where_the_symplectic_methods_do_not():
    # The control for the test above: the same run with a non-symplectic method of order 4.
    _, early, late = simulate(lz.ClassicRK4(), pendulum, pendulum_energy, Y_SWING, 0.1, 100_000)
    assert late > 5 * early


@pytest.fixture(scope="module")
def rk4_canonical_energy():
    return simulate(lz.ClassicRK4(), canonical, energy, Y_CANONICAL, 0.2, 10_000)[1:]


@pytest.mark.parametrize("name", sorted(IMPLICIT))
def test_gauss_legendre_energy_error_is_bounded_on_a_non_separable_system(
    name, rk4_canonical_energy
):
    solver = lz.GaussLegendre(stages=IMPLICIT[name])
    _, early, late = simulate(solver, canonical, energy, Y_CANONICAL, 0.2, 10_000)
    rk4_early, rk4_late = rk4_canonical_energy
    assert late < 1.5 * early
    assert rk4_late > 3 * rk4_early  # RK4 drifts over the same run
    assert late < 0.01 * rk4_late


def symplectic_defect(solver, field, y, h, jacobian=jax.jacrev):
    """max |M^T J M - J| of the Jacobian M of one step of length `h` from `y`."""
    term = diffrax.ODETerm(field)

    def one_step(y):
        state = solver.init(term, 0.0, h, y, None)
        return solver.step(term, 0.0, h, y, None, state, False)[0]

    # Reverse mode for an implicit step: Optimistix differentiates its Newton solve by the
    # implicit function theorem, as a custom VJP.
    jacobian = jax.jit(jacobian(one_step))(y)
    n = y.shape[0] // 2
    identity, zero = jnp.eye(n), jnp.zeros((n, n))
    j = jnp.block([[zero, identity], [-identity, zero]])
    return float(jnp.max(jnp.abs(jacobian.T @ j @ jacobian - j)))


def separable(t, y, args):
    """H = p^4 / 4 + |p|^2 / 2 + V(q) on two degrees of freedom: dq/dt is not p."""
    q, p = y[:2], y[2:]
    potential = jax.grad(lambda q: jnp.cos(q[0]) * q[1] ** 2 + q @ q)(q)
    return jnp.concatenate([p**3 + p, -potential])


@pytest.mark.parametrize("name", ["forest_ruth", "blanes_moan4"])  # drift first; kick first
def test_explicit_step_is_symplectic_for_a_separable_hamiltonian(name):
    cls, _ = EXPLICIT[name]
    assert symplectic_defect(cls(), separable, Y_CANONICAL, 0.3, jax.jacfwd) < 1e-12
    if name == "forest_ruth":
        # The same method on the non-separable system is not: the test can tell.
        assert symplectic_defect(cls(), canonical, Y_CANONICAL, 0.3, jax.jacfwd) > 1e-5


def test_gauss_legendre_step_is_symplectic_for_a_non_separable_hamiltonian():
    solver = lz.GaussLegendre(stages=2)
    assert symplectic_defect(solver, canonical, Y_CANONICAL, 0.3) < 1e-10
    # Every tableau meets the algebraic condition of symplectic Runge-Kutta methods.
    for stages in range(1, 7):
        a, b, _, _ = gauss_legendre_tableau(stages)
        condition = b[:, None] * a + (b[:, None] * a).T - np.outer(b, b)
        assert np.max(np.abs(condition)) < 1e-14, stages


def test_gauss_legendre_reports_newton_failure():
    ts = jnp.linspace(0.0, 1.0, 3)
    solver = lz.GaussLegendre(root_find_max_steps=1)
    with pytest.raises(
        eqx.EquinoxRuntimeError, match=r"Newton iteration of lz.GaussLegendre\(stages=2\).*did not"
    ):
        lz.rollout(pendulum, jnp.array([1.0, 0.0]), ts, solver=solver, dt0=0.1)


@pytest.mark.parametrize(
    "options",
    [
        dict(stages=0),
        dict(stages=7),
        dict(stages=True),
        dict(rtol=0.0),
        dict(atol=float("nan")),
        dict(root_find_max_steps=0),
    ],
)
def test_gauss_legendre_refuses_bad_settings(options):
    with pytest.raises(ValueError, match="GaussLegendre: `"):
        lz.GaussLegendre(**options)


def test_composition_errors():
    class Uneven(lz.AbstractSymplecticComposition):
        drifts = (0.5, 0.5)
        kicks = (0.5, 0.5)
        convergence_order = 1

    with pytest.raises(ValueError, match="Uneven: `drifts` must have one coefficient more"):
        Uneven()
    term = diffrax.ODETerm(lambda t, y, args: -y)
    with pytest.raises(ValueError, match=r"Yoshida4.*even length 2n, got shape \(3,\)"):
        lz.Yoshida4().init(term, 0.0, 0.1, jnp.zeros(3), None)


def test_explicit_composition_blow_up_names_its_scope():
    def runaway(t, y, args):  # q'' = q^3 reaches infinity in finite time
        return jnp.stack([y[1], y[0] ** 3])

    ts = jnp.linspace(0.0, 10.0, 3)
    with pytest.raises(
        eqx.EquinoxRuntimeError, match=r"non-finite states.*Yoshida4.*positions only.*'gl4'"
    ):
        lz.rollout(runaway, jnp.array([1.0, 1.0]), ts, solver="yoshida4", dt0=0.1)


def test_gauss_legendre_rollouts_of_models():
    ts = jnp.linspace(0.0, 5.0, 11)
    hnn = lz.models.HNN(1, key=jax.random.key(0), width=16)
    lnn = lz.models.LNN(1, key=jax.random.key(1), width=8, depth=1, mass_prior=True)
    for model in (hnn, lnn):  # on [q, p] and on [q, q_t]
        y0 = jnp.array([0.5, 0.2])
        ys = lz.rollout(model, y0, ts, solver="gl4", dt0=0.05)
        energy = jax.vmap(lambda y: model.energy(y[:1], y[1:]))(ys)
        assert bool(jnp.all(jnp.isfinite(ys))) and float(jnp.max(jnp.abs(ys - y0[None]))) > 1e-2
        assert float(jnp.max(jnp.abs(energy - energy[0]))) < 1e-6 * float(jnp.abs(energy[0]))


class Oscillator(eqx.Module):
    """A harmonic oscillator whose angular frequency is a parameter to learn."""

    omega: jax.Array

    def __call__(self, t, y, args):
        return jnp.concatenate([y[1:], -(self.omega**2) * y[:1]])


def test_rollout_windows_take_these_solvers():
    assert isinstance(_windows("gl4").solver, lz.GaussLegendre)
    windows = _windows(lz.Yoshida4())
    y0, target = windows.states()

    @eqx.filter_jit
    def loss_and_grad(model):
        return eqx.filter_value_and_grad(
            lambda m: jnp.mean((windows.predict(m, y0) - target) ** 2)
        )(model)

    # The true frequency reproduces the windows (unit oscillations in closed form).
    assert float(loss_and_grad(Oscillator(jnp.array(1.0)))[0]) < 1e-12
    # A few gradient steps of the window loss through Yoshida4's steps move a wrong one.
    model, losses = Oscillator(jnp.array(0.8)), []
    for _ in range(3):
        loss, grads = loss_and_grad(model)
        losses.append(float(loss))
        model = eqx.apply_updates(model, jax.tree.map(lambda g: -20.0 * g, grads))
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]
    assert 0.8 < float(model.omega) < 1.05


def _windows(solver):
    """Windows of three samples of unit oscillations, from their closed form."""
    ts = np.linspace(0.0, 1.0, 11)
    phases = ts[None, :] + np.array([0.0, 1.0, 2.0])[:, None]
    y = np.stack([np.cos(phases), -np.sin(phases)], axis=-1)
    dy = np.stack([-np.sin(phases), -np.cos(phases)], axis=-1)
    return RolloutWindows(lz.Dataset(ts, y, dy), 3, solver=solver, substeps=2)
