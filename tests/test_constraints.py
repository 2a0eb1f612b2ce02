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


def random_state(seed, shape):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=shape)), jnp.asarray(rng.normal(size=shape))


@eqx.filter_jit
def geometry(constraints, x, v, multipliers):
    return (
        constraints(x),
        constraints.jacobian(x),
        constraints.rate(x, v),
        constraints.reaction(x, multipliers),
        constraints.curvature(x, v),
    )


@jax.jit
def reference_geometry(x, v):
    jacobian = jax.jacfwd(graph_reference)(x)
    second = jax.jvp(lambda y: jax.jvp(graph_reference, (y,), (v,))[1], (x,), (v,))[1]
    return graph_reference(x), jacobian, second


def test_distance_constraints_match_an_autodiff_reference():
    constraints = lz.DistanceConstraints(4, **GRAPH)
    assert constraints.bandwidth == 3 and constraints.anchors == 1
    x, v = random_state(0, (4, 2))
    multipliers = np.random.default_rng(1).normal(size=5)
    values, jacobian, second = map(np.asarray, reference_geometry(x, v))
    phi, ours, rate, reaction, curvature = geometry(constraints, x, v, jnp.asarray(multipliers))
    np.testing.assert_allclose(phi, values, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ours, jacobian, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(rate, np.einsum("cnd,nd->c", jacobian, v), atol=1e-12)
    np.testing.assert_allclose(reaction, np.einsum("cnd,c->nd", jacobian, multipliers),
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(curvature, second, rtol=1e-12, atol=1e-12)
    # The same constraints given as a plain function, differentiated automatically.
    function = lz.FunctionConstraints(graph_reference, 4)
    _, ours, _, _, curvature = geometry(function, x, v, jnp.asarray(multipliers))
    np.testing.assert_allclose(ours, jacobian, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(curvature, second, rtol=1e-12, atol=1e-12)
    # config() rebuilds the constraints.
    rebuilt = lz.DistanceConstraints(**constraints.config())
    assert rebuilt.config() == constraints.config()
    np.testing.assert_array_equal(rebuilt.lengths, constraints.lengths)


def check_equations(constraints, x, v, masses, force, a):
    """The defining equations, with the reference Jacobian: D Phi a = -(d/dt D Phi) v, and
    M a - f is a combination D Phi^T lambda of the constraint normals."""
    phi, jacobian, _, _, curvature = geometry(
        constraints, x, v, jnp.zeros(len(constraints.lengths))
    )
    jacobian, curvature, a = (
        np.asarray(jacobian).reshape(len(phi), -1),
        np.asarray(curvature),
        np.asarray(a),
    )
    np.testing.assert_allclose(jacobian @ a.reshape(-1), -curvature, rtol=0, atol=1e-11)
    masses = np.asarray(masses)
    full = np.diag(masses) if masses.ndim == 1 else masses
    residual = np.kron(full, np.eye(x.shape[1])) @ a.reshape(-1) - np.asarray(force).reshape(-1)
    multipliers, *_ = np.linalg.lstsq(jacobian.T, residual, rcond=None)
    np.testing.assert_allclose(jacobian.T @ multipliers, residual, rtol=0, atol=1e-11)


@pytest.mark.parametrize("full_mass", [False, True])
def test_accelerations_solve_the_constrained_equations(full_mass):
    # The banded solve on a graph that is not a chain, where the dense one would be chosen.
    constraints = lz.DistanceConstraints(4, **GRAPH, solver="dense" if full_mass else "banded")
    x, v = random_state(2, (4, 2))
    if full_mass:
        # A symmetric positive-definite body mass matrix (as bars with inertia give).
        root = np.random.default_rng(3).normal(size=(4, 4))
        masses = root @ root.T + 4 * np.eye(4)
    else:
        masses = np.array([1.0, 2.0, 0.5, 1.5])

    def potential(y):
        return jnp.sum(y[:, 1] * jnp.arange(1.0, 5.0)) + 0.3 * jnp.sum(y[:, 0] ** 4)

    force = np.stack([-1.2 * np.asarray(x[:, 0]) ** 3, -np.arange(1.0, 5.0)], axis=1)
    a = np.asarray(lz.constrained_acceleration(constraints, x, v, masses, potential=potential))
    check_equations(constraints, x, v, masses, force, a)
    # The Hamiltonian form at p = M v: x_t = v and p_t = M a.
    full = masses if full_mass else np.diag(masses)
    x_t, p_t = lz.constrained_hamiltonian_field(
        constraints, x, full @ np.asarray(v), masses, potential=potential
    )
    expected = full @ a
    np.testing.assert_allclose(x_t, v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p_t, expected, rtol=1e-10, atol=1e-10)


def test_banded_dense_and_autodiff_solves_agree_on_a_long_chain():
    lengths = [1.0, 0.7, 1.3, 0.9, 1.1, 0.8, 1.2]
    banded = lz.DistanceConstraints.chain(lengths, pivot=[0.5, 2.0])
    assert banded.bandwidth == 1
    dense = lz.DistanceConstraints.chain(lengths, pivot=[0.5, 2.0], solver="dense")
    x, v = random_state(4, (7, 2))
    masses = np.linspace(0.5, 2.0, 7)
    force = np.random.default_rng(5).normal(size=(7, 2))
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
    radial = np.array([np.sin(theta), -np.cos(theta)])
    tangent = np.array([np.cos(theta), np.sin(theta)])
    x, v = (l * radial)[None], (speed * tangent)[None]
    chain = lz.DistanceConstraints.chain([l])
    a = lz.constrained_acceleration(
        chain, x, v, np.array([2.0]), force=np.array([[0.0, -2.0 * g]])
    )
    expected = -g * np.sin(theta) * tangent - speed**2 / l * radial
    np.testing.assert_allclose(a[0], expected, rtol=1e-13, atol=1e-13)
    # A bead on the line y = k x under gravity slides down with g sin(alpha) along it.
    k = 0.5
    line = lz.FunctionConstraints(lambda y: y[:, 1] - k * y[:, 0], 1)
    alpha = np.arctan(k)
    along = np.array([np.cos(alpha), np.sin(alpha)])
    a = lz.constrained_acceleration(
        line, np.array([[2.0, 1.0]]), 0.4 * along[None], np.ones(1), force=np.array([[0.0, -g]])
    )
    np.testing.assert_allclose(a[0], -g * np.sin(alpha) * along, rtol=1e-13, atol=1e-13)


def test_projection_lands_on_the_constraints_and_keeps_states_there():
    constraints = lz.DistanceConstraints(4, **GRAPH)
    x, v = random_state(6, (4, 2))
    x, v = lz.project_onto_constraints(constraints, 0.5 * x, v, np.arange(1.0, 5.0))
    values, jacobian, _ = map(np.asarray, reference_geometry(x, v))
    np.testing.assert_allclose(values, 0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("cnd,nd->c", jacobian, v), 0, atol=1e-12)
    again = lz.project_onto_constraints(constraints, x, v)
    np.testing.assert_allclose(again[0], x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(again[1], v, rtol=0, atol=1e-12)
    # The drift of a batch of states: zero for these, the rod error and stretching rate for a
    # state moved off them.
    ys = np.stack([np.concatenate([np.ravel(x), np.ravel(v)])] * 2)
    ys[1, 0] += 1e-3
    ys[1, 8] += 2e-3
    position, velocity = lz.constraint_drift(constraints, ys)
    assert position.shape == velocity.shape == (2,)
    assert position[0] < 1e-12 and velocity[0] < 1e-12
    moved_x, moved_v = jnp.asarray(ys[1, :8].reshape(4, 2)), jnp.asarray(ys[1, 8:].reshape(4, 2))
    values, jacobian, _ = map(np.asarray, reference_geometry(moved_x, moved_v))
    rates = np.einsum("cnd,nd->c", jacobian, moved_v)
    np.testing.assert_allclose(position[1], np.max(np.abs(values)), rtol=1e-10)
    np.testing.assert_allclose(velocity[1], np.max(np.abs(rates)), rtol=1e-10)
    assert position[1] > 1e-4 and velocity[1] > 1e-4


def test_a_rank_deficient_jacobian_raises_also_under_jit():
    # The same rod given twice: the multipliers are not unique.
    twice = lz.DistanceConstraints(2, edges=[(0, 1), (1, 0)], lengths=[1.0, 1.0])
    x = np.array([[0.0, 0.0], [1.0, 0.0]])

    # The public function runs as one compiled program, so the check works under `jit`.
    def acceleration(constraints, x):
        return lz.constrained_acceleration(constraints, x, np.zeros_like(x), np.ones(len(x)))

    with pytest.raises(Exception, match="rank-deficient"):
        acceleration(twice, x)
    # A chain's banded solve refuses a rod of zero length between coinciding bodies too.
    chain = lz.DistanceConstraints.chain([1.0, 1.0, 1.0, 1.0], solver="banded")
    x = np.array([[0.0, -1.0], [0.0, -2.0], [0.0, -2.0], [0.0, -3.0]])
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
