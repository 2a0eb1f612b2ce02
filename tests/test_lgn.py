"""Structured Euler-Lagrange solves against dense ones, the structure check, and the LGN."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


def dense_reference(lagrangian, q, q_t):
    """The accelerations from the full Hessians (jax.hessian) and NumPy's solve.

    The derivatives are compiled as one program: evaluated eagerly, op by op, they would
    dominate the suite's time.
    """

    @jax.jit
    def terms(q, q_t):
        mass = jax.hessian(lagrangian, argnums=1)(q, q_t)
        mixed = jax.jacfwd(jax.grad(lagrangian, argnums=1), argnums=0)(q, q_t)
        return mass, jax.grad(lagrangian, argnums=0)(q, q_t) - mixed @ q_t

    mass, rhs = terms(q, q_t)
    return np.linalg.solve(np.asarray(mass), np.asarray(rhs))


def local_lagrangian(n, k, rng, *, periodic):
    """A random nonlinear Lagrangian whose velocities couple exactly up to `k` points apart."""
    weights = rng.normal(size=(k + 1, 2)) * 0.3

    def shift(x, d):
        return jnp.roll(x, -d) if periodic else x[d:]

    def head(x, d):
        return x if periodic else x[: n - d]

    def lagrangian(q, q_t):
        value = jnp.sum((1.0 + 0.2 * jnp.cos(q)) * q_t**2) - jnp.sum(jnp.cosh(0.5 * q))
        value += 0.05 * jnp.sum(q_t**4)
        for d in range(1, k + 1):
            a, b = weights[d]
            qi, qj, vi, vj = head(q, d), shift(q, d), head(q_t, d), shift(q_t, d)
            value += a * jnp.sum(vi * vj * (1 + 0.3 * jnp.sin(qi - qj)))
            value += 0.1 * b * jnp.sum(vi**2 * vj**2) - jnp.sum((qi - qj) ** 2)
        return value

    return lagrangian


# Each case compiles its own solve, so the cases are chosen rather than crossed: a band of
# one on the smallest chain, each width with and without the wrap, and a periodic band wider
# than half the ring (whose wrapped diagonals overlap).
@pytest.mark.parametrize(
    "n, k, periodic",
    [(2, 1, False), (9, 1, True), (12, 2, False), (17, 3, True), (6, 4, True)],
)
def test_banded_and_periodic_solves_equal_the_dense_one(getkey, n, k, periodic):
    rng = np.random.default_rng(10 * n + k)
    lagrangian = local_lagrangian(n, k, rng, periodic=periodic)
    q, q_t = jax.random.normal(getkey(), (n,)), 0.5 * jax.random.normal(getkey(), (n,))
    expected = dense_reference(lagrangian, q, q_t)
    acc = lz.euler_lagrange(lagrangian, mass_bandwidth=k, mass_periodic=periodic)(q, q_t)
    np.testing.assert_allclose(acc, expected, rtol=0, atol=1e-10 * np.max(np.abs(expected)))
    lz.check_mass_structure(lagrangian, q, q_t, mass_bandwidth=k, mass_periodic=periodic)


def graph_lagrangian(edges, rng):
    weights = jnp.asarray(rng.uniform(0.1, 0.4, size=len(edges)))
    i, j = edges[:, 0], edges[:, 1]

    def lagrangian(q, q_t):
        kinetic = jnp.sum((2.0 + 0.3 * jnp.sin(q)) * q_t**2)
        coupling = jnp.sum(weights * q_t[i] * q_t[j] * jnp.cos(q[i] - q[j]))
        return kinetic + coupling - jnp.sum((q[i] - q[j]) ** 2) - 0.1 * jnp.sum(q**4)

    return lagrangian


@pytest.mark.parametrize("n, extra", [(5, 2), (30, 25)])
def test_graph_solve_equals_the_dense_one(getkey, n, extra):
    rng = np.random.default_rng(n)
    chain = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)
    edges = np.concatenate([chain, rng.integers(0, n, size=(extra, 2))])
    edges = edges[edges[:, 0] != edges[:, 1]]
    lagrangian = graph_lagrangian(edges, rng)
    q, q_t = jax.random.normal(getkey(), (n,)), 0.5 * jax.random.normal(getkey(), (n,))
    expected = dense_reference(lagrangian, q, q_t)
    graph = lz.MassGraph(edges, size=n)
    acc = lz.euler_lagrange(lagrangian, mass_graph=graph)(q, q_t)
    np.testing.assert_allclose(acc, expected, rtol=0, atol=1e-10 * np.max(np.abs(expected)))
    field = lz.lagrangian_vector_field(lagrangian, mass_graph=edges)
    np.testing.assert_allclose(field(q, q_t)[1], expected, rtol=0, atol=1e-9)
    assert graph.colours <= 1 + np.bincount(edges.ravel()).max() ** 2


def test_structure_check_names_the_coupling_a_declared_bandwidth_misses(getkey):
    lagrangian = local_lagrangian(10, 2, np.random.default_rng(0), periodic=False)
    q, q_t = jax.random.normal(getkey(), (10,)), jax.random.normal(getkey(), (10,))
    with pytest.raises(
        ValueError, match=r"couples velocities \d and \d.*outside the declared mass_bandwidth=1"
    ) as info:
        lz.check_mass_structure(lagrangian, q, q_t, mass_bandwidth=1)
    assert "Declare mass_bandwidth=2 or more" in str(info.value)
    # A ring declared as a plain band: the wrapped coupling is named.
    ring = local_lagrangian(10, 1, np.random.default_rng(1), periodic=True)
    with pytest.raises(ValueError, match="wraps around the ends: declare mass_periodic=True"):
        lz.check_mass_structure(ring, q, q_t, mass_bandwidth=1)
    lz.check_mass_structure(ring, q, q_t, mass_bandwidth=1, mass_periodic=True)
    # A graph that misses an edge.
    edges = np.array([[0, 1], [1, 2], [2, 3], [0, 3]])
    coupled = graph_lagrangian(edges, np.random.default_rng(2))
    with pytest.raises(ValueError, match=r"no edge \(0, 3\).*Add the edge"):
        lz.check_mass_structure(coupled, q[:4], q_t[:4], mass_graph=edges[:3])


def test_wrong_bandwidth_gives_wrong_accelerations_silently(getkey):
    # Why the check exists: the structured solve trusts the declaration.
    lagrangian = local_lagrangian(10, 2, np.random.default_rng(0), periodic=False)
    q, q_t = jax.random.normal(getkey(), (10,)), jax.random.normal(getkey(), (10,))
    right = lz.euler_lagrange(lagrangian)(q, q_t)
    wrong = lz.euler_lagrange(lagrangian, mass_bandwidth=1, checks=False)(q, q_t)
    assert float(jnp.max(jnp.abs(right - wrong))) > 1e-3


def test_structure_options_are_validated():
    def lagrangian(q, q_t):
        return 0.5 * q_t @ q_t

    with pytest.raises(ValueError, match="`mass_periodic=True` needs `mass_bandwidth=k`"):
        lz.euler_lagrange(lagrangian, mass_periodic=True)
    with pytest.raises(ValueError, match="either `mass_bandwidth`.*or `mass_graph`"):
        lz.euler_lagrange(lagrangian, mass_bandwidth=1, mass_graph=np.array([[0, 1]]))
    with pytest.raises(TypeError, match="mass_periodic"):
        lz.euler_lagrange(lagrangian, mass_bandwidth=1, mass_periodic="yes")
    acc = lz.euler_lagrange(lagrangian, mass_graph=np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"`mass_graph` has 2 coordinates but `q` has shape"):
        acc(jnp.zeros(3), jnp.zeros(3))


def test_graph_solve_reports_a_singular_mass_matrix():
    def lagrangian(q, q_t):  # M = [[1, 1, 0], [1, 1, 0], [0, 0, 1]]: no solution
        return 0.5 * (q_t[0] + q_t[1]) ** 2 + 0.5 * q_t[2] ** 2 - q[0] ** 2

    acc = lz.euler_lagrange(lagrangian, mass_graph=np.array([[0, 1], [1, 2]]))
    with pytest.raises(Exception, match="conjugate-gradient solve .* did not converge"):
        acc(jnp.ones(3), jnp.ones(3))


# The model -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "boundary, neighbourhood", [("fixed", 1), ("free", 2), ("periodic", 1), ("periodic", 2)]
)
def test_lgn_accelerations_equal_the_dense_solve(getkey, boundary, neighbourhood):
    n = 11
    model = lz.models.LGN(
        n, key=getkey(), neighbourhood=neighbourhood, boundary=boundary, width=16
    )
    y = jax.random.normal(getkey(), (2 * n,))
    dy = model(0.0, y, None)
    assert dy.shape == (2 * n,)
    np.testing.assert_array_equal(dy[:n], y[n:])
    q, q_t = y[:n], y[n:]
    expected = dense_reference(model.lagrangian, q, q_t)
    np.testing.assert_allclose(dy[n:], expected, rtol=0, atol=1e-10 * np.max(np.abs(expected)))
    lz.check_mass_structure(
        model.lagrangian,
        q,
        q_t,
        mass_bandwidth=neighbourhood,
        mass_periodic=boundary == "periodic",
        columns=n,
    )


def test_lgn_on_a_graph(getkey):
    edges = np.array([[0, 1], [1, 2], [2, 0], [2, 3], [3, 4]])
    model = lz.models.LGN(5, key=getkey(), edges=edges, width=8)
    # Start from a positive-definite kinetic energy so that CG applies: add 1/2 q_t^2 per point.
    model = eqx.tree_at(lambda m: m.node_density.layers[-1].bias, model, jnp.zeros(()))
    q, q_t = jax.random.normal(getkey(), (5,)), jax.random.normal(getkey(), (5,))

    def lagrangian(q, q_t):
        return model.lagrangian(q, q_t) + 50.0 * q_t @ q_t

    expected = lz.euler_lagrange(lagrangian)(q, q_t)
    acc = lz.euler_lagrange(lagrangian, mass_graph=model.graph)(q, q_t)
    np.testing.assert_allclose(acc, expected, rtol=0, atol=1e-10 * np.max(np.abs(expected)))
    lz.check_mass_structure(model.lagrangian, q, q_t, mass_graph=edges)
    with pytest.raises(ValueError, match="cannot be resized"):
        model.resized(7)


def test_resized_lgn_is_the_same_density(getkey):
    # On a ring, a state repeated twice has twice the Lagrangian and the same accelerations.
    n = 7
    model = lz.models.LGN(n, key=getkey(), boundary="periodic", neighbourhood=2, width=16)
    states = jax.random.normal(getkey(), (50, 2 * n))
    model = model.adapt(states)
    # A trained prior mass goes with the densities.
    model = eqx.tree_at(lambda m: m.log_prior_mass, model, jnp.asarray(0.3))
    bigger = model.resized(2 * n)
    assert bigger.log_prior_mass == model.log_prior_mass
    assert bigger.dof == 2 * n and bigger.config()["dof"] == 2 * n
    q, q_t = states[0, :n], states[0, n:]
    doubled_q, doubled_v = jnp.tile(q, 2), jnp.tile(q_t, 2)
    np.testing.assert_allclose(
        bigger.lagrangian(doubled_q, doubled_v), 2 * model.lagrangian(q, q_t), rtol=1e-12
    )
    small = model(0.0, states[0], None)[n:]
    large = bigger(0.0, jnp.concatenate([doubled_q, doubled_v]), None)[2 * n :]
    np.testing.assert_allclose(large, jnp.tile(small, 2), rtol=1e-9, atol=1e-9)
    # A fixed-end model runs on other sizes too.
    fixed = lz.models.LGN(5, key=getkey(), width=8).resized(40)
    assert fixed(0.0, jnp.zeros(80), None).shape == (80,)


def test_adapt_pools_statistics_over_points(getkey):
    n = 6
    model = lz.models.LGN(n, key=getkey(), width=8)
    states = jax.random.normal(getkey(), (100, 2 * n)) * jnp.arange(1.0, 2 * n + 1)[None, :]
    adapted = model.adapt(states)
    mean, scale = np.asarray(adapted.normaliser.mean), np.asarray(adapted.normaliser.scale)
    np.testing.assert_allclose(mean[:n], np.mean(np.asarray(states[:, :n])), rtol=1e-12)
    np.testing.assert_allclose(scale[n:], np.std(np.asarray(states[:, n:])), rtol=1e-12)
    assert np.ptp(mean[:n]) == 0 and np.ptp(scale[n:]) == 0


def test_lgn_save_and_load(getkey, tmp_path):
    edges = np.array([[0, 1], [1, 2], [2, 3]])
    for model in (
        lz.models.LGN(6, key=getkey(), neighbourhood=2, boundary="free", width=8),
        lz.models.LGN(4, key=getkey(), edges=edges, width=8, depth=1),
    ):
        model = model.adapt(jax.random.normal(getkey(), (20, 2 * model.dof)))
        path = tmp_path / "lgn.eqx"
        lz.save_model(path, model)
        loaded = lz.load_model(path)
        assert isinstance(loaded, lz.models.LGN) and loaded.config() == model.config()
        y = jax.random.normal(getkey(), (2 * model.dof,))
        np.testing.assert_array_equal(
            loaded.lagrangian(y[: model.dof], y[model.dof :]),
            model.lagrangian(y[: model.dof], y[model.dof :]),
        )
    assert lz.models.MODELS["lgn"] is lz.models.LGN


@eqx.filter_jit
def derivative_loss(model, y, dy):
    """The mean squared error of `model(y)` against `dy` over every row: `fit`'s "l2"."""
    prediction = jax.vmap(model, in_axes=(None, 0, None))(0.0, y, None)
    return jnp.mean((prediction - dy) ** 2)


def short_fit_losses(getkey):
    """The loss over all rows of the string's data before (adapted) and after a short fit, and
    the targets' mean square."""
    system = lz.systems.get("wave", points=8, spacing=0.2)
    data = lz.generate_dataset(system, getkey(), trajectories=8, ts=jnp.linspace(0.0, 2.0, 20))
    y, dy = data.states()
    model = lz.models.LGN(8, key=getkey(), width=16)
    first = derivative_loss(model.adapt(y), y, dy)
    trained, _ = lz.fit(
        model, data, steps=200, key=getkey(), batch_size=64, learning_rate=3e-3, progress=False
    )
    assert isinstance(trained, lz.models.LGN)
    assert trained.normaliser.mean.dtype == y.dtype
    last = derivative_loss(trained, y, dy)
    return float(first), float(last), float(jnp.mean(dy**2))


def test_a_short_fit_lowers_the_loss_from_every_seed(getkey):
    # Issue 22: with the LNN paper's initialisation and no mass prior (the defaults before),
    # this fit's loss started 20 to 10^5 times above the targets' mean square, and whether
    # 200 steps lowered it depended on the seed and the CPU. The reference scale is the loss of
    # predicting no acceleration: a model that starts well starts near it, whatever the seed.
    for _ in range(3):
        first, last, scale = short_fit_losses(getkey)
        assert 0.1 * scale < first < 10 * scale, (first, scale)
        # Measured on 24 seeds: at most 0.12.
        assert last < 0.5 * first, (first, last)


@pytest.mark.parametrize("width, x64", [(16, True), (64, False)])
def test_default_lgn_starts_as_free_particles(getkey, width, x64):
    # The prior's mass matrix, 0.1 / s_v^2 at every point, dominates the densities' own
    # share at the start, for any width and in float32 too: the dense Hessian of the
    # Lagrangian is that diagonal to a few percent at every state, so the first solves are
    # well conditioned. (The LNN paper's initialisation without the prior gives eigenvalues
    # of +-10 to +-40 times s_v^-2 here.)
    n = 8
    with jax.enable_x64(x64):
        states = jax.random.normal(getkey(), (64, 2 * n)) * jnp.asarray([[0.2] * n + [0.7] * n])
        model = lz.models.LGN(n, key=getkey(), width=width).adapt(states)
        hessian = jax.hessian(model.lagrangian, argnums=1)
        mass = jax.jit(jax.vmap(lambda y: hessian(y[:n], y[n:])))(states[:4])
        assert mass.dtype == (jnp.float64 if x64 else jnp.float32)
        scaled = np.asarray(mass * model.normaliser.scale[n] ** 2, dtype=np.float64)
    eigenvalues = np.linalg.eigvalsh(scaled) / 0.1
    assert 0.95 < eigenvalues.min() and eigenvalues.max() < 1.05, eigenvalues


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"boundary": "open"}, "`boundary` must be one of 'fixed', 'free', 'periodic'"),
        ({"neighbourhood": 0}, "`neighbourhood` must be an int >= 1"),
        ({"periodic": (True, False, True, True)}, "must mark every point alike"),
        ({"boundary": "periodic", "neighbourhood": 2}, r"needs dof >= 5 .* got dof=4"),
        ({"activation": "relu"}, "relu"),
        ({"edges": np.array([[0, 9]])}, r"index coordinates 0 .. 3"),
        ({"mass_prior": 1}, r"(?s)mass_prior.*bool"),
    ],
)
def test_lgn_refuses_bad_settings(getkey, kwargs, words):
    with pytest.raises((ValueError, TypeError), match=words):
        lz.models.LGN(4, key=getkey(), **kwargs)


def test_lgn_refuses_a_singular_learned_mass_matrix(getkey):
    # Zero output weights and no prior: L is a constant, its mass matrix zero; the grid path
    # must say so.
    model = lz.models.LGN(8, key=getkey(), width=8, mass_prior=False)
    model = eqx.tree_at(
        lambda m: (m.edge_density.layers[-1].weight, m.node_density.layers[-1].weight),
        model,
        replace_fn=jnp.zeros_like,
    )
    with pytest.raises(Exception, match="singular"):
        jax.block_until_ready(model(0.0, jnp.ones(16), None))
