"""The Euler-Lagrange engine, Hamilton's equations and the Legendre maps against closed forms.

Every expected value here is derived by hand in the test, never computed by the code under test.
"""

import math
import typing

import jax
import jax.numpy as jnp
import jaxtyping
import lagrangian_zoo as lz
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from helpers import relative_error


SETTINGS = settings(max_examples=12, deadline=None)
finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


def vectors(n, elements=finite):
    return st.lists(elements, min_size=n, max_size=n).map(lambda x: jnp.asarray(x, float))


# --- Lagrangians and their hand-derived accelerations ---------------------------------------

OMEGA, DAMPING = 1.7, 0.3
G, LENGTH, MASS = 9.81, 1.3, 0.7
SPRING, REST = 5.0, 1.1
CHARGE = 1.5


def oscillator(q, q_t):
    return 0.5 * MASS * q_t @ q_t - 0.5 * MASS * OMEGA**2 * q @ q


def oscillator_acc(q, q_t):
    return -(OMEGA**2) * q


def pendulum(q, q_t):  # one angle, from the downward vertical
    return 0.5 * MASS * LENGTH**2 * q_t[0] ** 2 + MASS * G * LENGTH * jnp.cos(q[0])


def pendulum_acc(q, q_t):
    return jnp.array([-G / LENGTH * jnp.sin(q[0])])


def spring_pendulum_polar(q, q_t):  # q = (r, theta): a bob on a spring, in polar coordinates
    r, theta = q
    r_t, theta_t = q_t
    kinetic = 0.5 * MASS * (r_t**2 + r**2 * theta_t**2)
    return kinetic + MASS * G * r * jnp.cos(theta) - 0.5 * SPRING * (r - REST) ** 2


def spring_pendulum_polar_acc(q, q_t):
    r, theta = q
    r_t, theta_t = q_t
    r_tt = r * theta_t**2 + G * jnp.cos(theta) - SPRING / MASS * (r - REST)
    theta_tt = (-G * jnp.sin(theta) - 2 * r_t * theta_t) / r
    return jnp.stack([r_tt, theta_tt])


def spring_pendulum_cartesian(q, q_t):  # q = (x, y), y up: no constraint, no angle
    stretch = jnp.sqrt(q @ q) - REST
    return 0.5 * MASS * q_t @ q_t - MASS * G * q[1] - 0.5 * SPRING * stretch**2


def spring_pendulum_cartesian_acc(q, q_t):
    radius = jnp.sqrt(q @ q)
    pull = -SPRING / MASS * (1 - REST / radius) * q
    return pull - jnp.array([0.0, G])


def vector_potential(x):
    return jnp.stack([-x[1] * x[2] ** 2, x[0] ** 2, jnp.sin(x[0]) * x[1]])


def magnetic_field(x):  # curl of the vector potential above, by hand
    return jnp.stack(
        [
            jnp.sin(x[0]),
            -2 * x[1] * x[2] - x[1] * jnp.cos(x[0]),
            2 * x[0] + x[2] ** 2,
        ]
    )


def charged_particle(x, v):  # L = m|v|^2/2 + q v.A(x) - q phi(x), phi = |x|^2/2
    return 0.5 * MASS * v @ v + CHARGE * v @ vector_potential(x) - CHARGE * 0.5 * x @ x


def charged_particle_acc(x, v):  # Lorentz force: m a = q (E + v x B), E = -x
    return CHARGE / MASS * (-x + jnp.cross(v, magnetic_field(x)))


def quartic(q, q_t):  # not quadratic in the velocity
    return jnp.sum(q_t**4 / 12 + q_t**2 / 2 - q**2 / 2)


def quartic_acc(q, q_t):  # (q_t^2 + 1) q_tt = -q
    return -q / (q_t**2 + 1)


def relativistic(x, v):  # L = -sqrt(1 - |v|^2) - k |x|^2 / 2 (m = c = 1)
    return -jnp.sqrt(1 - v @ v) - 0.5 * SPRING * x @ x


def relativistic_acc(x, v):  # d(gamma v)/dt = F  =>  a = (F - (v.F) v) / gamma
    force = -SPRING * x
    return jnp.sqrt(1 - v @ v) * (force - (v @ force) * v)


CASES = {
    "oscillator": (oscillator, oscillator_acc, 3),
    "pendulum": (pendulum, pendulum_acc, 1),
    "spring_pendulum_polar": (spring_pendulum_polar, spring_pendulum_polar_acc, 2),
    "spring_pendulum_cartesian": (spring_pendulum_cartesian, spring_pendulum_cartesian_acc, 2),
    "charged_particle": (charged_particle, charged_particle_acc, 3),
    "quartic": (quartic, quartic_acc, 2),
    "relativistic": (relativistic, relativistic_acc, 3),
}


def _state_for(name, q, q_t):
    """Moves a raw state into the domain of a case (positive radius, |v| < 1)."""
    if name == "spring_pendulum_polar":
        q = q.at[0].set(0.5 + jnp.abs(q[0]))
    if name == "spring_pendulum_cartesian":
        q = q + jnp.array([0.0, 2.5])  # keeps the bob away from the pivot
    if name == "relativistic":
        q_t = 0.95 * q_t / (1 + jnp.sqrt(q_t @ q_t))
    return q, q_t


def _both_methods(lagrangian):
    """One compiled function per Lagrangian: the default and the paper's accelerations."""
    default = lz.euler_lagrange(lagrangian)
    paper = lz.euler_lagrange(lagrangian, method="paper")
    return jax.jit(jax.vmap(lambda q, q_t: (default(q, q_t), paper(q, q_t))))


_BOTH = {name: _both_methods(case[0]) for name, case in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=8, deadline=None)
@given(raw=st.data())
def test_closed_forms_and_paper_method(name, raw):
    _, expected_acc, n = CASES[name]
    q = jnp.stack([raw.draw(vectors(n), label="q") for _ in range(3)])
    q_t = jnp.stack([raw.draw(vectors(n), label="q_t") for _ in range(3)])
    q, q_t = jax.vmap(lambda a, b: _state_for(name, a, b))(q, q_t)
    default, paper = _BOTH[name](q, q_t)
    expected = jax.vmap(expected_acc)(q, q_t)
    assert default.shape == paper.shape == (3, n)
    assert relative_error(default, expected) < 1e-9
    assert relative_error(paper, expected) < 1e-9
    assert relative_error(default, paper) < 1e-9


@SETTINGS
@given(q=vectors(1), q_t=vectors(1), c=st.floats(0.0, 3.0))
def test_damping_force(q, q_t, c):
    acc = _damped(q, q_t, jnp.asarray(c))
    assert relative_error(acc, -(OMEGA**2) * q - c / MASS * q_t) < 1e-12


@jax.jit
def _damped(q, q_t, c):
    return lz.euler_lagrange(oscillator, force=lambda q, q_t: -c * q_t)(q, q_t)


def test_force_is_added_with_paper_method_and_is_cast():
    drive = lambda q, q_t: jnp.array([2.0], dtype=jnp.float32)  # noqa: E731
    q, q_t = jnp.array([0.4]), jnp.array([-0.1])
    for method in ("jvp", "paper"):
        acc = lz.euler_lagrange(pendulum, force=drive, method=method)(q, q_t)
        assert acc.dtype == jnp.float64
        expected = -G / LENGTH * jnp.sin(0.4) + 2.0 / (MASS * LENGTH**2)
        assert relative_error(acc, jnp.array([expected])) < 1e-12


# --- Banded mass matrices ------------------------------------------------------------------

COUPLINGS = (0.15, 0.08, 0.04)


def chain(bandwidth):
    """Coupled oscillators whose velocities couple up to `bandwidth` neighbours away."""

    def lagrangian(q, q_t):
        kinetic = 0.5 * jnp.sum((1 + 0.1 * q**2) * q_t**2)
        for d in range(1, bandwidth + 1):
            kinetic += COUPLINGS[d - 1] * jnp.sum(jnp.cos(q[:-d] - q[d:]) * q_t[:-d] * q_t[d:])
        springs = 0.5 * jnp.sum((q[1:] - q[:-1]) ** 2) + 0.5 * jnp.sum(jnp.sin(q) ** 2)
        return kinetic - springs

    return lagrangian


@pytest.mark.parametrize("n, k", [(5, 0), (7, 3), (13, 1), (3, 2)])
def test_banded_matches_dense(n, k, getkey):
    lagrangian = chain(k)
    q = jax.random.normal(getkey(), (n,))
    q_t = jax.random.normal(getkey(), (n,))
    # A band wider than needed is still exact (n = 7 > 2 * 4 + 1 keeps it on the banded path).
    wider = k + 1 if n == 7 else None

    @jax.jit
    def both_paths(q, q_t):
        dense = lz.euler_lagrange(lagrangian)(q, q_t)
        banded = lz.euler_lagrange(lagrangian, mass_bandwidth=k)(q, q_t)
        extra = lz.euler_lagrange(lagrangian, mass_bandwidth=wider)(q, q_t)
        return dense, banded, extra

    dense, banded, extra = both_paths(q, q_t)
    assert banded.shape == (n,)
    assert relative_error(banded, dense) < 1e-11
    assert relative_error(extra, dense) < 1e-11


def test_banded_chain_closed_form():
    # Bandwidth-1 chain with a constant tridiagonal mass matrix: M q_tt = -K q, solved here
    # with a dense inverse of the hand-written matrices.
    n, c = 6, 0.3

    def lagrangian(q, q_t):
        kinetic = 0.5 * q_t @ q_t + c * jnp.sum(q_t[:-1] * q_t[1:])
        return kinetic - 0.5 * jnp.sum((q[1:] - q[:-1]) ** 2) - 0.5 * q @ q

    mass = np.eye(n) + c * (np.eye(n, k=1) + np.eye(n, k=-1))
    stiffness = 3 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    stiffness[0, 0] = stiffness[-1, -1] = 2
    q = np.linspace(-1, 1, n)
    expected = -np.linalg.solve(mass, stiffness @ q)
    acc = lz.euler_lagrange(lagrangian, mass_bandwidth=1)(jnp.asarray(q), jnp.zeros(n))
    assert relative_error(acc, expected) < 1e-12


# --- Transformations and dtypes ------------------------------------------------------------


def test_jit_vmap_grad_agree(getkey):
    acc = lz.euler_lagrange(quartic)
    qs = jax.random.normal(getkey(), (4, 2))
    vs = jax.random.normal(getkey(), (4, 2))

    @jax.jit
    def batched_and_gradients(qs, vs):
        grads = jax.vmap(jax.grad(lambda q, v: jnp.sum(acc(q, v)), (0, 1)))(qs, vs)
        return jax.vmap(acc)(qs, vs), grads

    batched, (d_q, d_qt) = batched_and_gradients(qs, vs)
    looped = jnp.stack([acc(q, v) for q, v in zip(qs, vs)])
    assert relative_error(batched, looped) < 1e-14
    assert relative_error(batched, quartic_acc(qs, vs)) < 1e-12
    # d q_tt / d q = -1 / (q_t^2 + 1), d q_tt / d q_t = 2 q q_t / (q_t^2 + 1)^2 (per component)
    assert relative_error(d_q, -1 / (vs**2 + 1)) < 1e-10
    assert relative_error(d_qt, 2 * qs * vs / (vs**2 + 1) ** 2) < 1e-10


@pytest.mark.parametrize("bandwidth", [None, 1])
def test_grad_through_parameters(bandwidth):
    # q_tt = -1.5 w^2 q, so d/dw sum(q_tt) = -3 w sum(q)
    def acc_sum(w, q, q_t):
        def lagrangian(q, q_t):
            return 0.5 * q_t @ q_t - 0.5 * w**2 * q @ q * 1.5

        return jnp.sum(lz.euler_lagrange(lagrangian, mass_bandwidth=bandwidth)(q, q_t))

    q, q_t = jnp.array([0.3, -1.2, 0.5, 0.8]), jnp.array([0.1, 0.2, 0.3, 0.4])
    grad = jax.jit(jax.grad(acc_sum))(2.0, q, q_t)
    assert math.isclose(float(grad), -3 * 2.0 * float(jnp.sum(q)), rel_tol=1e-12)


def _mixed_coupling(q, q_t):  # built from the inputs' dtype, as a float32 model would be
    return quartic(q, q_t) + jnp.sum(q_t[:-1] * q_t[1:]) * jnp.asarray(0.1, q.dtype)


@jax.jit
def _every_path(q, q_t):
    return (
        lz.euler_lagrange(_mixed_coupling)(q, q_t),
        lz.euler_lagrange(_mixed_coupling, method="paper")(q, q_t),
        lz.euler_lagrange(_mixed_coupling, mass_bandwidth=1)(q, q_t),
        lz.lagrangian_energy(_mixed_coupling)(q, q_t),
        lz.momenta(_mixed_coupling)(q, q_t),
    )


def test_dtype_is_preserved():
    q = jnp.array([0.3, -0.4, 0.2, 0.7])
    q_t = jnp.array([0.1, 0.5, -0.2, 0.3])
    reference = _every_path(q, q_t)
    assert all(x.dtype == jnp.float64 for x in reference)
    low = _every_path(q.astype(jnp.float32), q_t.astype(jnp.float32))
    assert all(x.dtype == jnp.float32 for x in low)
    for a, b in zip(low, reference):
        assert relative_error(a.astype(jnp.float64), b) < 1e-5
    # the three accelerations agree with each other in float64
    assert relative_error(reference[1], reference[0]) < 1e-12
    assert relative_error(reference[2], reference[0]) < 1e-12


# --- Errors --------------------------------------------------------------------------------


def test_shape_errors_name_both_shapes():
    acc = lz.euler_lagrange(oscillator)
    with pytest.raises(ValueError, match=r"q of shape \(2,\) and q_t of shape \(3,\)"):
        acc(jnp.zeros(2), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"q of shape \(2, 2\) and q_t of shape \(2, 2\).*vmap"):
        acc(jnp.zeros((2, 2)), jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"q of shape \(\) and q_t of shape \(\)"):
        acc(jnp.zeros(()), jnp.zeros(()))


def test_integer_dtype_error():
    acc = lz.euler_lagrange(oscillator)
    with pytest.raises(TypeError, match="`q` must be a real floating-point array.*int"):
        acc(jnp.arange(2), jnp.zeros(2))
    with pytest.raises(TypeError, match="`q_t` must be a real floating-point array"):
        acc(jnp.zeros(2), jnp.arange(2))


def test_vector_lagrangian_error():
    def vector_valued(q, q_t):
        return q_t**2 - q**2

    with pytest.raises(ValueError, match=r"Lagrangian `.*vector_valued` .*shape \(2,\)"):
        lz.euler_lagrange(vector_valued)(jnp.zeros(2), jnp.ones(2))
    with pytest.raises(ValueError, match=r"Lagrangian `.*vector_valued`"):
        lz.lagrangian_energy(vector_valued)(jnp.zeros(2), jnp.ones(2))


def _no_kinetic_term(q, q_t):  # q_1 has no velocity term: d2L/dq_t2 = diag(2, 0)
    return q_t[0] ** 2 + q[1]


@pytest.mark.parametrize("bandwidth", [None, 0])
def test_singular_mass_matrix_raises(bandwidth):
    acc = lz.euler_lagrange(_no_kinetic_term, mass_bandwidth=bandwidth)
    q, q_t = jnp.ones(3), jnp.ones(3)
    q2, q2_t = jnp.ones(2), jnp.ones(2)
    with pytest.raises(Exception, match="mass matrix d2L/dq_t2 is singular"):
        acc(q2, q2_t).block_until_ready()
    with pytest.raises(Exception, match="mass matrix d2L/dq_t2 is singular"):
        jax.jit(acc)(q, q_t).block_until_ready()
    # Without checks, the caller gets the raw (non-finite) solve; the paper's pseudo-inverse
    # gives the least-squares answer: q_tt_0 = 0 (no force on q_0), q_tt_1 = 0.
    unchecked = lz.euler_lagrange(_no_kinetic_term, mass_bandwidth=bandwidth, checks=False)
    assert not bool(jnp.all(jnp.isfinite(unchecked(q2, q2_t))))
    paper = lz.euler_lagrange(_no_kinetic_term, method="paper")(q2, q2_t)
    assert np.allclose(paper, 0.0)


# Masses 1e-7 and 1 alternate: a light coordinate beside a heavy one. Coupling 0.3 between
# neighbours in the potential, V = |q|^2 / 2 + 0.3 sum_i q_i q_(i+1), so q_tt = -K q / m with
# K = I + 0.3 (sub- and super-diagonal).
LIGHT, COUPLING = 1e-7, 0.3


def _light_and_heavy(q, q_t):
    masses = jnp.where(jnp.arange(q.shape[0]) % 2 == 0, LIGHT, 1.0).astype(q_t.dtype)
    return 0.5 * q_t @ (masses * q_t) - 0.5 * q @ q - COUPLING * q[:-1] @ q[1:]


@pytest.mark.parametrize(
    "dtype, n, bandwidth, periodic",
    [
        (jnp.float32, 2, None, False),
        (jnp.float32, 2, 0, False),
        (jnp.float32, 2, 1, False),
        (jnp.float32, 4, 1, True),
        (jnp.float64, 2, None, False),
    ],
)
def test_light_and_heavy_masses_are_not_singular(dtype, n, bandwidth, periodic):
    # A pivot of 1e-7 is at most 2 ulps of float32 against the largest pivot, 1, but it is its
    # whole column: the matrix is as regular as the identity once each column is scaled.
    q = np.linspace(0.4, -0.7, n)
    masses = np.where(np.arange(n) % 2 == 0, LIGHT, 1.0)
    stiffness = np.eye(n) + COUPLING * (np.eye(n, k=1) + np.eye(n, k=-1))
    expected = -(stiffness @ q) / masses
    acc = lz.euler_lagrange(_light_and_heavy, mass_bandwidth=bandwidth, mass_periodic=periodic)
    got = acc(jnp.asarray(q, dtype), jnp.asarray(np.linspace(0.2, 0.5, n), dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == jnp.float32 else 1e-12)


def _sum_of_velocities(q, q_t):  # M = [[1, 1], [1, 1]]: singular at any scale
    return 0.5 * (q_t[0] + q_t[1]) ** 2 - 0.5 * q @ q


def _no_velocities(q, q_t):  # M = 0
    return -0.5 * q @ q


@pytest.mark.parametrize("bandwidth", [None, 1])
def test_singular_mass_matrices_are_refused_per_column(bandwidth):
    # In float32, where ulps are coarsest; the float64 cases are test_singular_mass_matrix_raises.
    q, q_t = jnp.asarray([0.3, -0.2], jnp.float32), jnp.asarray([0.1, 0.4], jnp.float32)
    for lagrangian in (_sum_of_velocities, _no_velocities):
        acc = lz.euler_lagrange(lagrangian, mass_bandwidth=bandwidth)
        with pytest.raises(Exception, match="mass matrix d2L/dq_t2 is singular"):
            acc(q, q_t).block_until_ready()


def test_force_shape_error():
    acc = lz.euler_lagrange(oscillator, force=lambda q, q_t: jnp.zeros(3))
    with pytest.raises(ValueError, match=r"generalized force .* shape \(2,\).*shape \(3,\)"):
        acc(jnp.zeros(2), jnp.ones(2))


def test_argument_errors():
    # Under the test suite's runtime type checker these are caught (as TypeError) before our
    # own check; either way the message names the argument.
    with pytest.raises(TypeError, match="lagrangian"):
        lz.euler_lagrange(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="force"):
        lz.euler_lagrange(oscillator, force=jnp.zeros(2))  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError), match="method"):
        lz.euler_lagrange(oscillator, method="pinv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`mass_bandwidth` must be >= 0"):
        lz.euler_lagrange(oscillator, mass_bandwidth=-1)
    with pytest.raises(TypeError, match="mass_bandwidth"):
        lz.euler_lagrange(oscillator, mass_bandwidth=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be combined"):
        lz.euler_lagrange(oscillator, mass_bandwidth=1, method="paper")
    # numpy integers are integers
    acc = lz.euler_lagrange(oscillator, mass_bandwidth=np.int64(0))
    assert relative_error(acc(jnp.ones(2), jnp.ones(2)), -(OMEGA**2) * jnp.ones(2)) < 1e-12


# --- Legendre maps, energy, Hamiltonians ---------------------------------------------------

_momenta = {name: jax.jit(lz.momenta(CASES[name][0])) for name in CASES}
_velocities = {name: jax.jit(lz.velocities(CASES[name][0])) for name in CASES}


@pytest.mark.parametrize("name", ["spring_pendulum_polar", "charged_particle", "quartic"])
@SETTINGS
@given(raw=st.data())
def test_legendre_round_trip(name, raw):
    n = CASES[name][2]
    q, q_t = _state_for(name, raw.draw(vectors(n)), raw.draw(vectors(n)))
    p = _momenta[name](q, q_t)
    assert relative_error(_velocities[name](q, p), q_t) < 1e-10


def test_momenta_closed_forms():
    x, v = jnp.array([0.3, -0.2, 0.9]), jnp.array([0.1, 0.4, -0.3])
    expected = MASS * v + CHARGE * vector_potential(x)
    assert relative_error(_momenta["charged_particle"](x, v), expected) < 1e-14
    q, q_t = jnp.array([0.5, 1.0]), jnp.array([2.0, -1.0])
    assert relative_error(_momenta["quartic"](q, q_t), q_t**3 / 3 + q_t) < 1e-14


@SETTINGS
@given(p=vectors(3, st.floats(-20.0, 20.0)))
def test_relativistic_inverse_legendre(p):
    # p = gamma v  =>  v = p / sqrt(1 + |p|^2), reachable for any p, including |p| > 1
    v = _velocities["relativistic"](jnp.zeros(3), p)
    assert relative_error(v, p / jnp.sqrt(1 + p @ p)) < 1e-10
    assert float(v @ v) < 1


def test_relativistic_large_momentum_and_round_trip():
    x = jnp.array([0.2, 0.1, -0.3])
    p = jnp.array([3.0, -2.0, 0.5])  # |p| > 1: the first Newton step leaves |v| < 1
    v = _velocities["relativistic"](x, p)
    assert relative_error(v, p / jnp.sqrt(1 + p @ p)) < 1e-12
    assert relative_error(_momenta["relativistic"](x, v), p) < 1e-12


def test_inverse_legendre_reports_unreachable_momentum():
    def bounded(q, q_t):  # p = tanh(q_t) can never reach 2
        return jnp.sum(jnp.log(jnp.cosh(q_t)))

    with pytest.raises(Exception, match="inverse Legendre map did not converge"):
        jax.jit(lz.velocities(bounded, max_steps=20))(jnp.zeros(1), jnp.array([2.0]))


@pytest.mark.parametrize(
    "name, energy",
    [
        (
            "spring_pendulum_polar",
            lambda q, v: (
                0.5 * MASS * (v[0] ** 2 + q[0] ** 2 * v[1] ** 2)
                - MASS * G * q[0] * jnp.cos(q[1])
                + 0.5 * SPRING * (q[0] - REST) ** 2
            ),
        ),
        ("charged_particle", lambda x, v: 0.5 * MASS * v @ v + CHARGE * 0.5 * x @ x),
        ("quartic", lambda q, v: jnp.sum(v**4 / 4 + v**2 / 2 + q**2 / 2)),
        ("relativistic", lambda x, v: 1 / jnp.sqrt(1 - v @ v) + 0.5 * SPRING * x @ x),
    ],
)
def test_lagrangian_energy(name, energy, getkey):
    lagrangian, _, n = CASES[name]
    fn = jax.jit(jax.vmap(lz.lagrangian_energy(lagrangian)))
    raw_q = jax.random.uniform(getkey(), (6, n), minval=-1.5, maxval=1.5)
    raw_v = jax.random.uniform(getkey(), (6, n), minval=-1.5, maxval=1.5)
    q, q_t = jax.vmap(lambda a, b: _state_for(name, a, b))(raw_q, raw_v)
    assert relative_error(fn(q, q_t), jax.vmap(energy)(q, q_t)) < 1e-12


def test_hamiltonian_vector_field_closed_forms(getkey):
    def pendulum_h(q, p):
        return p @ p / (2 * MASS * LENGTH**2) - MASS * G * LENGTH * jnp.sum(jnp.cos(q))

    def non_separable(q, p):
        return 0.5 * (p @ p) * (1 + q @ q)

    q = jax.random.normal(getkey(), (3,))
    p = jax.random.normal(getkey(), (3,))
    q_t, p_t = jax.jit(lz.hamiltonian_vector_field(pendulum_h))(q, p)
    assert relative_error(q_t, p / (MASS * LENGTH**2)) < 1e-14
    assert relative_error(p_t, -MASS * G * LENGTH * jnp.sin(q)) < 1e-14
    q_t, p_t = lz.hamiltonian_vector_field(non_separable)(q, p)
    assert relative_error(q_t, p * (1 + q @ q)) < 1e-14
    assert relative_error(p_t, -(p @ p) * q) < 1e-14
    with pytest.raises(ValueError, match=r"`q` and `p` must both be 1-D"):
        lz.hamiltonian_vector_field(non_separable)(q, p[:2])
    with pytest.raises(TypeError, match="hamiltonian"):
        lz.hamiltonian_vector_field(None)  # type: ignore[arg-type]


def _double_pendulum_mass(q):  # unit masses and lengths
    c = jnp.cos(q[0] - q[1])
    return jnp.array([[2.0, c], [c, 1.0]])


def _double_pendulum(q, q_t):
    potential = -G * (2 * jnp.cos(q[0]) + jnp.cos(q[1]))
    return 0.5 * q_t @ _double_pendulum_mass(q) @ q_t - potential


def test_hamiltonian_from_quadratic_lagrangian(getkey):
    hamiltonian = jax.jit(lz.hamiltonian_from_lagrangian(_double_pendulum))
    for _ in range(3):
        q = jax.random.uniform(getkey(), (2,), minval=-3, maxval=3)
        p = jax.random.normal(getkey(), (2,)) * 3
        a, b, c = 2.0, jnp.cos(q[0] - q[1]), 1.0  # textbook: H = p^T M^-1 p / 2 + V
        inverse = jnp.array([[c, -b], [-b, a]]) / (a * c - b * b)
        potential = -G * (2 * jnp.cos(q[0]) + jnp.cos(q[1]))
        expected = 0.5 * p @ inverse @ p + potential
        assert relative_error(hamiltonian(q, p), expected) < 1e-12


def test_hamilton_equations_of_relativistic_lagrangian():
    # H = sqrt(1 + |p|^2) + k|x|^2/2: q_t = p / sqrt(1 + |p|^2), p_t = -k x. The gradients go
    # through the inverse Legendre map (implicit differentiation).
    field = jax.jit(lz.hamiltonian_vector_field(lz.hamiltonian_from_lagrangian(relativistic)))
    x, p = jnp.array([0.4, -0.1, 0.2]), jnp.array([2.5, 0.3, -1.0])
    q_t, p_t = field(x, p)
    assert relative_error(q_t, p / jnp.sqrt(1 + p @ p)) < 1e-10
    assert relative_error(p_t, -SPRING * x) < 1e-10
    # Second derivatives too: d2H/dp2 = (I (1 + |p|^2) - p p^T) / (1 + |p|^2)^(3/2)
    hessian = jax.jit(jax.hessian(lz.hamiltonian_from_lagrangian(relativistic), argnums=1))(x, p)
    s = 1 + p @ p
    assert relative_error(hessian, (jnp.eye(3) * s - jnp.outer(p, p)) / s**1.5) < 1e-9


def test_mass_matrix_and_helpers():
    q, q_t = jnp.array([0.7, -0.4]), jnp.array([0.3, 0.1])
    mass = lz.mass_matrix(_double_pendulum)(q, q_t)
    assert relative_error(mass, _double_pendulum_mass(q)) < 1e-14
    first, second = lz.split_state(jnp.arange(4.0))
    assert np.array_equal(first, [0.0, 1.0]) and np.array_equal(second, [2.0, 3.0])
    with pytest.raises(ValueError, match=r"even length 2n.*shape \(3,\)"):
        lz.split_state(jnp.arange(3.0))
    ys = jnp.stack([jnp.concatenate([q, q_t]), jnp.concatenate([q_t, q])])[None]
    energies = lz.energy_along(lz.lagrangian_energy(_double_pendulum), ys)
    assert energies.shape == (1, 2)
    expected = 0.5 * q_t @ mass @ q_t - G * (2 * jnp.cos(q[0]) + jnp.cos(q[1]))
    assert math.isclose(float(energies[0, 0]), float(expected), rel_tol=1e-12)


def test_both_vector_fields_take_both_call_forms():
    # The oscillator L = (q_t^2 - q^2)/2 and its Hamiltonian H = (p^2 + q^2)/2: a = -q.
    def lagrangian(q, q_t):
        return 0.5 * (q_t @ q_t - q @ q)

    def hamiltonian(q, p):
        return 0.5 * (p @ p + q @ q)

    q, v = jnp.array([0.3, -0.7]), jnp.array([1.1, 0.4])
    y = jnp.concatenate([q, v])
    lagrangian_field = lz.lagrangian_vector_field(lagrangian)
    hamiltonian_field = lz.hamiltonian_vector_field(hamiltonian)
    expected = np.concatenate([np.asarray(v), -np.asarray(q)])
    for field in (lagrangian_field, hamiltonian_field):
        np.testing.assert_allclose(field(0.0, y, None), expected, rtol=1e-14)
        first, second = field(q, v)
        np.testing.assert_allclose(np.concatenate([first, second]), expected, rtol=1e-14)
        with pytest.raises(TypeError, match=r"field\(t, y, args\)"):
            field(q)
    # The Hamiltonian field rolls out directly: q(t) = q0 cos t + p0 sin t.
    ts = jnp.linspace(0.0, 3.0, 7)
    ys = lz.rollout(hamiltonian_field, y, ts, rtol=1e-10, atol=1e-12)
    exact = np.cos(ts)[:, None] * np.asarray(q) + np.sin(ts)[:, None] * np.asarray(v)
    np.testing.assert_allclose(ys[:, :2], exact, atol=1e-8)


# Coordinates of states: velocity [q, q_t] and canonical [q, p] ----------------------------


def test_to_canonical_gives_the_momenta_and_their_rates_in_closed_form(getkey):
    # Unit double pendulum: p = M(q) q_t, and p_t = M q_tt + dM/dt q_t, where only the
    # off-diagonal cos(q1 - q2) of M moves: d/dt cos(q1 - q2) = -sin(q1 - q2) (q1_t - q2_t).
    q = jax.random.uniform(getkey(), (3, 4, 2), minval=-2, maxval=2)
    q_t = jax.random.normal(getkey(), (3, 4, 2))
    q_tt = jax.random.normal(getkey(), (3, 4, 2))
    y, dy = jnp.concatenate([q, q_t], -1), jnp.concatenate([q_t, q_tt], -1)
    canonical, rates = lz.to_canonical(_double_pendulum, y, dy)
    assert canonical.shape == rates.shape == y.shape
    for index in np.ndindex(3, 4):
        qi, vi, ai = q[index], q_t[index], q_tt[index]
        mass = _double_pendulum_mass(qi)
        rate = -jnp.sin(qi[0] - qi[1]) * (vi[0] - vi[1])
        mass_rate = jnp.array([[0.0, rate], [rate, 0.0]])
        np.testing.assert_allclose(canonical[index], np.r_[qi, mass @ vi], rtol=1e-13)
        np.testing.assert_allclose(rates[index], np.r_[vi, mass @ ai + mass_rate @ vi], rtol=1e-12)
    # Without derivatives, the states alone, and the same momenta.
    np.testing.assert_array_equal(lz.to_canonical(_double_pendulum, y), canonical)


def _relativistic_particle_states(key, count):  # |q_t| < c = 1
    q_key, v_key = jax.random.split(key)
    q = jax.random.uniform(q_key, (count, 1), minval=-1.0, maxval=1.0)
    v = jax.random.uniform(v_key, (count, 1), minval=-0.95, maxval=0.95)
    return jnp.concatenate([q, v], axis=1)


def _pendulum_states(key, count):
    q_key, v_key = jax.random.split(key)
    q = jax.random.uniform(q_key, (count, 2), minval=-np.pi, maxval=np.pi)
    v = jax.random.uniform(v_key, (count, 2), minval=-5.0, maxval=5.0)
    return jnp.concatenate([q, v], axis=1)


def test_to_canonical_gives_the_closed_form_momenta_of_systems(getkey):
    relativistic = lz.systems.get("relativistic_particle")
    y = _relativistic_particle_states(getkey(), 16)
    gamma = 1 / np.sqrt(1 - np.asarray(y[:, 1]) ** 2)
    np.testing.assert_allclose(lz.to_canonical(relativistic.lagrangian, y)[:, 1], gamma * y[:, 1])

    # Unit masses and lengths: p = M(q) q_t with M = [[2, cos(q1 - q2)], [cos(q1 - q2), 1]].
    pendulum = lz.systems.get("double_pendulum")
    y = np.asarray(_pendulum_states(getkey(), 16)).reshape(4, 4, 4)
    q, v = y[..., :2], y[..., 2:]
    cosine = np.cos(q[..., 0] - q[..., 1])
    p = np.stack([2 * v[..., 0] + cosine * v[..., 1], cosine * v[..., 0] + v[..., 1]], axis=-1)
    got = np.asarray(lz.to_canonical(pendulum.lagrangian, jnp.asarray(y)))
    np.testing.assert_allclose(got[..., :2], q)
    np.testing.assert_allclose(got[..., 2:], p, rtol=1e-12, atol=1e-12)


def test_to_velocity_inverts_the_relativistic_momenta():
    # L = -sqrt(1 - |v|^2) - ...: p = gamma v, so v = p / sqrt(1 + |p|^2) (m = c = 1).
    p = jnp.array([[0.0, 0.0, 0.0], [3.0, -4.0, 1.0], [40.0, 0.5, -2.0]])
    q = jnp.array([[0.1, 0.2, 0.3], [-1.0, 0.0, 2.0], [0.5, 0.5, 0.5]])
    velocity = lz.to_velocity(relativistic, jnp.concatenate([q, p], -1))
    expected = p / jnp.sqrt(1 + jnp.sum(p**2, -1, keepdims=True))
    np.testing.assert_allclose(velocity[:, :3], q, rtol=0, atol=0)
    np.testing.assert_allclose(velocity[:, 3:], expected, rtol=1e-12, atol=1e-14)
    # And back: the momenta of those velocities are p again.
    np.testing.assert_allclose(lz.to_canonical(relativistic, velocity)[:, 3:], p, rtol=1e-10)


def test_to_velocity_keeps_failed_states_non_finite():
    y = jnp.array([[0.2, 1.5], [jnp.inf, 0.0], [0.1, jnp.nan]])
    velocity = lz.to_velocity(oscillator, y)
    np.testing.assert_allclose(velocity[0], [0.2, 1.5 / MASS], rtol=1e-14)  # q_t = p / m
    assert np.all(np.isnan(velocity[1:]))


def test_coordinate_maps_refuse_bad_states():
    with pytest.raises(ValueError, match=r"`y` must hold states of shape \(..., 2n\).*\(3,\)"):
        lz.to_canonical(oscillator, jnp.zeros(3))
    with pytest.raises(TypeError, match="`y` must be a real floating-point array.*int"):
        lz.to_velocity(oscillator, jnp.zeros(4, int))
    # (jaxtyping's check, where it runs, names `dy` first.)
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match=r"\bdy\b"):
        lz.to_canonical(oscillator, jnp.zeros((2, 4)), jnp.zeros(4))
    with pytest.raises((TypeError, jaxtyping.TypeCheckError), match="lagrangian"):
        lz.to_canonical("spring", jnp.zeros(2))


def test_canonical_stream_draws_canonical_states_with_exact_rates(getkey):
    # The spring (m = 1/2, k = 2): p = q_t / 2, and p_t = m q_tt = -k q.
    system = lz.systems.get("spring")
    stream = lz.StateStream(system)
    y, dy = lz.CanonicalStream(stream).sample(key := getkey(), 16)
    velocity_y, _ = stream.sample(key, 16)  # the same states in velocity coordinates
    np.testing.assert_array_equal(y[:, 0], velocity_y[:, 0])
    np.testing.assert_allclose(y[:, 1], 0.5 * velocity_y[:, 1], rtol=1e-15)
    np.testing.assert_allclose(dy[:, 0], velocity_y[:, 1], rtol=1e-15)
    np.testing.assert_allclose(dy[:, 1], -2.0 * velocity_y[:, 0], rtol=1e-14)


def test_canonical_stream_needs_a_stream_with_a_lagrangian():
    with pytest.raises((TypeError, jaxtyping.TypeCheckError), match="stream"):
        lz.CanonicalStream(lz.systems.get("spring"))
    stream = lz.StateStream(lambda t, y, args: y, sampler=lambda key: jnp.zeros(2))
    with pytest.raises(TypeError, match="has no lagrangian"):
        lz.CanonicalStream(stream)


# --- One name per concept: the functions, and the modules they return -----------------------


# The oscillator in canonical coordinates, by hand: H = |p|^2 / 2m + m omega^2 |q|^2 / 2.
def oscillator_hamiltonian(q, p):
    return 0.5 * p @ p / MASS + 0.5 * MASS * OMEGA**2 * q @ q


FUNCTIONS = [
    "euler_lagrange",
    "lagrangian_vector_field",
    "hamiltonian_vector_field",
    "mass_matrix",
    "momenta",
    "velocities",
    "lagrangian_energy",
    "hamiltonian_from_lagrangian",
]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_returns_the_module_its_signature_names(function):
    factory = getattr(lz, function)
    scalar = oscillator_hamiltonian if function == "hamiltonian_vector_field" else oscillator
    returned = typing.get_type_hints(factory)["return"]
    assert isinstance(factory(scalar), returned)
    # Named after the function, so a repr or an error message points back to it.
    camel = "".join(word.capitalize() for word in function.split("_"))
    assert returned.__name__ == camel
    assert repr(factory(scalar)).startswith(f"{camel}(")
    # One public form: the module is not a second entry of the namespace.
    assert camel not in lz.__all__ and camel not in dir(lz)


# Old name -> (the function to use now, a call through the old class, its closed form).
_q, _q_t, _p = jnp.array([0.4, -1.1]), jnp.array([0.9, 0.2]), jnp.array([-0.3, 0.8])
_acc = -(OMEGA**2) * _q
DEPRECATED = {
    "EulerLagrange": (
        "euler_lagrange",
        lambda cls: cls(oscillator, None, None, None, False, "jvp", True)(_q, _q_t),
        _acc,
    ),
    "LagrangianVectorField": (
        "lagrangian_vector_field",
        lambda cls: cls(lz.euler_lagrange(oscillator))(0.0, jnp.concatenate([_q, _q_t]), None),
        jnp.concatenate([_q_t, _acc]),
    ),
    "HamiltonianVectorField": (
        "hamiltonian_vector_field",
        lambda cls: jnp.concatenate(cls(oscillator_hamiltonian)(_q, _p)),
        jnp.concatenate([_p / MASS, -MASS * OMEGA**2 * _q]),
    ),
    "MassMatrix": ("mass_matrix", lambda cls: cls(oscillator)(_q, _q_t), MASS * jnp.eye(2)),
    "Momentum": ("momenta", lambda cls: cls(oscillator)(_q, _q_t), MASS * _q_t),
    "InverseLegendre": ("velocities", lambda cls: cls(oscillator, 100, None)(_q, _p), _p / MASS),
    "LagrangianEnergy": (
        "lagrangian_energy",
        lambda cls: cls(oscillator)(_q, _q_t),
        0.5 * MASS * _q_t @ _q_t + 0.5 * MASS * OMEGA**2 * _q @ _q,
    ),
    "LegendreHamiltonian": (
        "hamiltonian_from_lagrangian",
        lambda cls: cls(lz.velocities(oscillator))(_q, _p),
        oscillator_hamiltonian(_q, _p),
    ),
}


@pytest.mark.parametrize("old", sorted(DEPRECATED))
def test_old_class_names_warn_naming_the_function_and_still_work(old):
    function, call, expected = DEPRECATED[old]
    with pytest.warns(
        DeprecationWarning,
        match=rf"lagrangian_zoo\.{old}` is deprecated.*"
        rf"`lagrangian_zoo\.{function}\(\.\.\.\)`",
    ):
        cls = getattr(lz, old)
    # The very class the function returns, so old isinstance checks keep holding.
    scalar = oscillator_hamiltonian if function == "hamiltonian_vector_field" else oscillator
    assert cls is type(getattr(lz, function)(scalar))
    np.testing.assert_allclose(call(cls), expected, rtol=1e-12)
    assert old not in lz.__all__ and old not in dir(lz)
    # Every use warns again (the alias is not cached), and the import form warns too.
    with pytest.warns(DeprecationWarning, match=function):
        exec(f"from lagrangian_zoo import {old}", {})
