"""Holonomic constraints: distance constraints against an autodiff reference, the multiplier
solve against the defining equations and closed forms, projection, drift and errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


# A rigid triangle of bodies 1, 2, 3 hung by body 1 from body 0, which is tied to a pivot: a
# graph that is not a chain (its constraints share bodies three ways).
GRAPH = {
    "edges": [(0, 1), (1, 2), (2, 3), (3, 1)],
    "lengths": [0.9, 1.1, 0.8, 1.2],
    "anchors": [0],
    "points": [[0.3, -0.1]],
    "anchor_lengths": [1.3],
}


def reference_phi(x, pairs, points, lengths):
    """Phi written out pair by pair: ends are body indices, or ("point", a) for anchor a."""
    values = []
    for (a, b), length in zip(pairs, lengths):
        end = points[b[1]] if isinstance(b, tuple) else x[b]
        d = x[a] - end
        values.append((jnp.sum(d * d) - length**2) / (2 * length))
    return jnp.stack(values)


@jax.jit
def graph_reference(x):
    pairs = [(0, ("point", 0)), *GRAPH["edges"]]
    lengths = [*GRAPH["anchor_lengths"], *GRAPH["lengths"]]
    return reference_phi(x, pairs, jnp.asarray(GRAPH["points"]), lengths)


def random_state(key, shape):
    x_key, v_key = jax.random.split(key)
    return jax.random.normal(x_key, shape), jax.random.normal(v_key, shape)


def test_distance_constraints_match_an_autodiff_reference(getkey):
    constraints = lz.DistanceConstraints(4, **GRAPH)
    assert constraints.bandwidth == 3 and constraints.anchors == 1
    x, v = random_state(getkey(), (4, 2))
    multipliers = jax.random.normal(getkey(), (5,))
    jacobian = jax.jacfwd(graph_reference)(x)
    np.testing.assert_allclose(constraints(x), graph_reference(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(constraints.jacobian(x), jacobian, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(
        constraints.rate(x, v), jnp.einsum("cnd,nd->c", jacobian, v), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        constraints.reaction(x, multipliers),
        jnp.einsum("cnd,c->nd", jacobian, multipliers),
        rtol=1e-12,
        atol=1e-12,
    )
    second = jax.jvp(lambda y: jax.jvp(graph_reference, (y,), (v,))[1], (x,), (v,))[1]
    np.testing.assert_allclose(constraints.curvature(x, v), second, rtol=1e-12, atol=1e-12)
    # The same constraints given as a plain function, differentiated automatically.
    function = lz.FunctionConstraints(graph_reference, 4)
    np.testing.assert_allclose(function.curvature(x, v), second, rtol=1e-12, atol=1e-12)
    # config() rebuilds the constraints.
    rebuilt = lz.DistanceConstraints(**constraints.config())
    np.testing.assert_array_equal(rebuilt(x), constraints(x))


def check_equations(constraints, x, v, masses, force, a):
    """The defining equations, with the reference Jacobian: D Phi a = -(d/dt D Phi) v, and
    M a - f is a combination D Phi^T lambda of the constraint normals."""
    jacobian = np.asarray(constraints.jacobian(x)).reshape(len(constraints(x)), -1)
    curvature = np.asarray(constraints.curvature(x, v))
    a = np.asarray(a)
    np.testing.assert_allclose(jacobian @ a.reshape(-1), -curvature, rtol=0, atol=1e-11)
    masses = np.asarray(masses)
    full = np.diag(masses) if masses.ndim == 1 else masses
    residual = np.kron(full, np.eye(x.shape[1])) @ a.reshape(-1) - np.asarray(force).reshape(-1)
    multipliers, *_ = np.linalg.lstsq(jacobian.T, residual, rcond=None)
    np.testing.assert_allclose(jacobian.T @ multipliers, residual, rtol=0, atol=1e-11)


@pytest.mark.parametrize("full_mass", [False, True])
def test_accelerations_solve_the_constrained_equations(getkey, full_mass):
    # The banded solve on a graph that is not a chain, where the dense one would be chosen.
    constraints = lz.DistanceConstraints(4, **GRAPH, solver="dense" if full_mass else "banded")
    x, v = random_state(getkey(), (4, 2))
    if full_mass:
        # A symmetric positive-definite body mass matrix (as bars with inertia give).
        root = jax.random.normal(getkey(), (4, 4))
        masses = root @ root.T + 4 * jnp.eye(4)
    else:
        masses = jnp.array([1.0, 2.0, 0.5, 1.5])

    def potential(y):
        return jnp.sum(y[:, 1] * jnp.arange(1.0, 5.0)) + 0.3 * jnp.sum(y[:, 0] ** 4)

    a = lz.constrained_acceleration(constraints, x, v, masses, potential=potential)
    check_equations(constraints, x, v, masses, -jax.grad(potential)(x), a)
    # The Hamiltonian form at p = M v: x_t = v and p_t = M a.
    momenta = jnp.einsum("ij,jd->id", masses, v) if full_mass else masses[:, None] * v
    x_t, p_t = lz.constrained_hamiltonian_field(
        constraints, x, momenta, masses, potential=potential
    )
    expected = jnp.einsum("ij,jd->id", masses, a) if full_mass else masses[:, None] * a
    np.testing.assert_allclose(x_t, v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p_t, expected, rtol=1e-10, atol=1e-10)


def test_banded_dense_and_autodiff_solves_agree_on_a_long_chain(getkey):
    lengths = jnp.array([1.0, 0.7, 1.3, 0.9, 1.1, 0.8, 1.2])
    banded = lz.DistanceConstraints.chain(lengths, pivot=jnp.array([0.5, 2.0]))
    assert banded.bandwidth == 1
    dense = lz.DistanceConstraints.chain(lengths, pivot=jnp.array([0.5, 2.0]), solver="dense")
    x, v = random_state(getkey(), (7, 2))
    masses = jnp.linspace(0.5, 2.0, 7)
    force = jax.random.normal(getkey(), (7, 2))
    a = lz.constrained_acceleration(banded, x, v, masses, force=force)
    check_equations(dense, x, v, masses, force, a)
    b = lz.constrained_acceleration(dense, x, v, masses, force=force)
    function = lz.FunctionConstraints(dense, 7)
    c = lz.constrained_acceleration(function, x, v, masses, force=force)
    np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(a, c, rtol=1e-11, atol=1e-11)


def test_a_single_pendulum_and_a_bead_on_an_incline_match_closed_forms():
    # A bob on a rod of length l from the origin, at angle theta from the downward vertical:
    # tangential g sin(theta) back towards the bottom, centripetal |v|^2 / l.
    l, g, theta, speed = 1.5, 9.8, 0.7, 1.3
    radial = jnp.array([jnp.sin(theta), -jnp.cos(theta)])
    tangent = jnp.array([jnp.cos(theta), jnp.sin(theta)])
    x, v = (l * radial)[None], (speed * tangent)[None]
    chain = lz.DistanceConstraints.chain([l])
    a = lz.constrained_acceleration(
        chain, x, v, jnp.array([2.0]), potential=lambda y: 2.0 * g * y[0, 1]
    )
    expected = -g * jnp.sin(theta) * tangent - speed**2 / l * radial
    np.testing.assert_allclose(a[0], expected, rtol=1e-13, atol=1e-13)
    # A bead on the line y = k x under gravity slides down with g sin(alpha) along it.
    k = 0.5
    line = lz.FunctionConstraints(lambda y: y[:, 1] - k * y[:, 0], 1)
    alpha = jnp.arctan(k)
    along = jnp.array([jnp.cos(alpha), jnp.sin(alpha)])
    a = lz.constrained_acceleration(
        line, jnp.array([[2.0, 1.0]]), 0.4 * along[None], jnp.ones(1), force=jnp.array([[0, -g]])
    )
    np.testing.assert_allclose(a[0], -g * jnp.sin(alpha) * along, rtol=1e-13, atol=1e-13)


def test_projection_lands_on_the_constraints_and_keeps_states_there(getkey):
    constraints = lz.DistanceConstraints(4, **GRAPH)
    # A state near the manifold: a point on it (found by projecting once) moved a little.
    x, v = random_state(getkey(), (4, 2))
    x, v = lz.project_onto_constraints(constraints, 0.5 * x, v, jnp.arange(1.0, 5.0))
    np.testing.assert_allclose(graph_reference(x), 0, atol=1e-12)
    np.testing.assert_allclose(jnp.einsum("cnd,nd->c", constraints.jacobian(x), v), 0, atol=1e-12)
    again = lz.project_onto_constraints(constraints, x, v)
    np.testing.assert_allclose(again[0], x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(again[1], v, rtol=0, atol=1e-12)
    # The drift of a batch of states: zero for these, the rod error and stretching rate for a
    # state moved off them.
    ys = jnp.stack([jnp.concatenate([x.reshape(-1), v.reshape(-1)])] * 2)
    moved = ys.at[1, 0].add(1e-3).at[1, 8].add(2e-3)
    position, velocity = lz.constraint_drift(constraints, moved)
    assert position.shape == velocity.shape == (2,)
    assert position[0] < 1e-12 and velocity[0] < 1e-12
    assert 5e-4 < position[1] < 5e-3 and 1e-3 < velocity[1] < 1e-2


def test_a_rank_deficient_jacobian_raises_also_under_jit():
    # The same rod given twice: the multipliers are not unique.
    twice = lz.DistanceConstraints(2, edges=[(0, 1), (1, 0)], lengths=[1.0, 1.0])
    x = jnp.array([[0.0, 0.0], [1.0, 0.0]])

    @eqx.filter_jit
    def acceleration(constraints, x):
        return lz.constrained_acceleration(constraints, x, jnp.zeros_like(x), jnp.ones(len(x)))

    with pytest.raises(Exception, match="rank-deficient"):
        acceleration(twice, x)
    # A chain's banded solve refuses a rod of zero length between coinciding bodies too.
    chain = lz.DistanceConstraints.chain([1.0, 1.0, 1.0, 1.0], solver="banded")
    x = jnp.array([[0.0, -1.0], [0.0, -2.0], [0.0, -2.0], [0.0, -3.0]])
    with pytest.raises(Exception, match="rank-deficient"):
        acceleration(chain, x)


def test_bad_input_is_refused_with_clear_errors():
    chain = lz.DistanceConstraints.chain([1.0, 1.0])
    x = jnp.zeros((2, 2))
    with pytest.raises(ValueError, match=r"`x` must have shape \(bodies, dimension\) = \(2, 2\)"):
        lz.constrained_acceleration(chain, jnp.zeros(4), x, jnp.ones(2))
    with pytest.raises(ValueError, match=r"`masses` must have shape \(2,\).*got shape \(3,\)"):
        lz.constrained_acceleration(chain, x, x, jnp.ones(3))
    with pytest.raises(ValueError, match="`masses` must be positive"):
        lz.constrained_acceleration(chain, x, x, jnp.array([1.0, -1.0]))
    with pytest.raises(TypeError):
        lz.constrained_acceleration(lambda y: y, x, x, jnp.ones(2))
    with pytest.raises(ValueError, match="must return a scalar"):
        lz.constrained_acceleration(chain, x, x, jnp.ones(2), potential=lambda y: y)
    with pytest.raises(ValueError, match=r"`force` must have the shape of the positions"):
        lz.constrained_acceleration(chain, x, x, jnp.ones(2), force=jnp.zeros(4))
    with pytest.raises(ValueError, match="refers to body 2, but there are 2 bodies"):
        lz.DistanceConstraints(2, edges=[(0, 2)], lengths=[1.0])
    with pytest.raises(ValueError, match="ties a body to itself"):
        lz.DistanceConstraints(2, edges=[(1, 1)], lengths=[1.0])
    with pytest.raises(ValueError, match=r"`lengths` must hold one length per constraint"):
        lz.DistanceConstraints(2, edges=[(0, 1)], lengths=[1.0, 2.0])
    with pytest.raises(ValueError, match="`anchor_lengths` must be positive"):
        lz.DistanceConstraints(2, anchors=[0], anchor_lengths=[0.0])
    with pytest.raises(ValueError, match="`solver` must be one of"):
        lz.DistanceConstraints.chain([1.0], solver="sparse")
    with pytest.raises(ValueError, match="solver='banded' needs one mass per body"):
        lz.constrained_acceleration(
            lz.DistanceConstraints.chain([1.0, 1.0], solver="banded"), x, x, jnp.eye(2)
        )
    with pytest.raises(ValueError, match=r"`ys` must have shape \(\.\.\., 2 \* bodies"):
        lz.constraint_drift(chain, jnp.zeros((3, 6)))
