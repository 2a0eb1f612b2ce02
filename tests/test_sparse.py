"""Colouring, band assembly and banded solves against dense matrices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from lagrangian_zoo._sparse import (
    band_to_dense,
    colour_tangents,
    decompress_band,
    decompress_periodic_band,
    distance2_colouring,
    MassGraph,
    periodic_band_to_dense,
    periodic_colour_tangents,
    periodic_colours,
    solve_banded,
    solve_banded_with_pivots,
    solve_graph,
    solve_periodic_banded_with_pivots,
)


def random_banded(rng, n, k, *, symmetric=True):
    """A random matrix of half-bandwidth `k`, made diagonally dominant (SPD if symmetric)."""
    matrix = rng.normal(size=(n, n))
    rows, columns = np.indices((n, n))
    matrix[np.abs(rows - columns) > k] = 0
    if symmetric:
        matrix = matrix + matrix.T
    np.fill_diagonal(matrix, np.abs(matrix).sum(axis=1) + 1.0)
    return matrix


def dense_to_band(matrix, k):
    """Band storage written out by definition: band[d, i] = M[i, i + d - k]."""
    n = matrix.shape[0]
    band = np.zeros((2 * k + 1, n))
    for d in range(2 * k + 1):
        for i in range(n):
            j = i + d - k
            if 0 <= j < n:
                band[d, i] = matrix[i, j]
    return band


@pytest.mark.parametrize("n, k", [(1, 0), (6, 0), (4, 1), (7, 2), (10, 3), (3, 4)])
def test_colour_tangents(n, k):
    tangents = np.asarray(colour_tangents(n, k))
    assert tangents.shape == (2 * k + 1, n)
    assert np.array_equal(tangents.sum(axis=0), np.ones(n))  # each column in one colour
    for c in range(2 * k + 1):
        columns = np.flatnonzero(tangents[c])
        assert np.all(columns % (2 * k + 1) == c)
        assert np.all(np.diff(columns) > 2 * k)  # never two columns in one row's band
    assert colour_tangents(n, k, jnp.float32).dtype == jnp.float32


@jax.jit
def _assemble_and_solve(matrix, tangents, rhs):
    k = tangents.shape[0] // 2
    band = decompress_band((matrix @ tangents.T).T, k)
    x, pivots, _ = solve_banded_with_pivots(band, rhs)
    return band, band_to_dense(band), x, pivots


# n = 7, 11 and 13 are not multiples of k = 2, 4 and 5: the last block is padded. k = 1 is
# the scalar Thomas sweep, k <= 4 unrolled block eliminations, k = 5 LAPACK block LUs.
@pytest.mark.parametrize("n, k", [(1, 0), (6, 0), (9, 1), (7, 2), (11, 4), (3, 4)])
def test_assembly_and_solve_against_dense(n, k):
    rng = np.random.default_rng(n * 10 + k)
    matrix = random_banded(rng, n, k)
    rhs = rng.normal(size=n)
    band, dense, x, pivots = _assemble_and_solve(
        jnp.asarray(matrix), colour_tangents(n, k), jnp.asarray(rhs)
    )
    assert band.shape == (2 * k + 1, n)
    assert np.allclose(band, dense_to_band(matrix, k), rtol=1e-14, atol=1e-14)
    assert np.allclose(dense, matrix, rtol=1e-14, atol=1e-14)
    assert np.allclose(x, np.linalg.solve(matrix, rhs), rtol=1e-11, atol=1e-12)
    assert pivots.shape[0] >= n and np.all(np.abs(pivots) > 0.5)  # diagonally dominant


@pytest.mark.parametrize("n, k", [(8, 1), (10, 3)])
def test_solve_nonsymmetric_and_batched(n, k):
    rng = np.random.default_rng(3)
    matrices = np.stack([random_banded(rng, n, k, symmetric=False) for _ in range(3)])
    rhs = rng.normal(size=(3, n))
    bands = jnp.asarray(np.stack([dense_to_band(m, k) for m in matrices]))
    x = jax.jit(jax.vmap(solve_banded))(bands, jnp.asarray(rhs))
    assert x.shape == (3, n)
    assert np.allclose(x, np.linalg.solve(matrices, rhs[..., None])[..., 0], rtol=1e-11)


def test_solve_gradient_is_the_adjoint_solve():
    # d/d rhs of w . M^-1 rhs is M^-T w
    rng = np.random.default_rng(7)
    matrix = random_banded(rng, 7, 2, symmetric=False)
    w = rng.normal(size=7)
    band = jnp.asarray(dense_to_band(matrix, 2))
    grad = jax.jit(jax.grad(lambda r: jnp.asarray(w) @ solve_banded(band, r)))(jnp.zeros(7))
    assert np.allclose(grad, np.linalg.solve(matrix.T, w), rtol=1e-11)


def test_padding_ignores_entries_outside_the_matrix():
    # Band storage has slots for columns past the edge; garbage there must not leak in.
    rng = np.random.default_rng(11)
    matrix = random_banded(rng, 7, 2)
    band = dense_to_band(matrix, 2)
    band[3, 6] = band[4, 5] = band[4, 6] = 99.0  # M[6, 7], M[5, 7], M[6, 8] do not exist
    rhs = rng.normal(size=7)
    x = jax.jit(solve_banded)(jnp.asarray(band), jnp.asarray(rhs))
    assert np.allclose(x, np.linalg.solve(matrix, rhs), rtol=1e-11)


@pytest.mark.parametrize("k", [1, 2])
def test_singular_matrix_shows_in_the_pivots(k):
    # The free-ends chain Laplacian annihilates constants: singular, tridiagonal.
    n = 6
    matrix = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    matrix[0, 0] = matrix[-1, -1] = 1.0
    _, pivots, scales = jax.jit(solve_banded_with_pivots)(
        jnp.asarray(dense_to_band(matrix, k)), jnp.ones(n)
    )
    assert float(jnp.min(jnp.abs(pivots) / scales)) < 1e-12


# k = 0 is the diagonal, k = 1 the Thomas sweep, k = 2 the block sweep (n = 7 pads a row).
@pytest.mark.parametrize("n, k", [(5, 0), (6, 1), (7, 2)])
def test_pivots_come_with_the_largest_entry_of_their_column(n, k):
    # Columns scaled by 1e-7 .. 1e3 in a non-symmetric matrix, so that a column's largest
    # entry is neither its row's nor its diagonal's; garbage in the slots outside the matrix.
    rng = np.random.default_rng(5 + k)
    matrix = random_banded(rng, n, k, symmetric=False) * np.logspace(-7, 3, n)[None, :]
    band = dense_to_band(matrix, k)
    band[np.asarray(dense_to_band(np.ones((n, n)), k)) == 0] = 1e9
    x, pivots, scales = jax.jit(solve_banded_with_pivots)(jnp.asarray(band), jnp.ones(n))
    np.testing.assert_allclose(scales, np.max(np.abs(matrix), axis=0), rtol=1e-15)
    np.testing.assert_allclose(x, np.linalg.solve(matrix, np.ones(n)), rtol=1e-10)
    # The matrix is diagonally dominant by rows, so every pivot is a good share of its column.
    assert np.all(np.abs(pivots) / scales > 1e-2)


def test_errors():
    with pytest.raises(ValueError, match="`bandwidth` must be >= 0"):
        colour_tangents(4, -1)
    with pytest.raises(TypeError, match="`?n`? must be an int|parameter .n."):
        colour_tangents(4.0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`compressed` must have shape \(3, n\)"):
        decompress_band(jnp.zeros((5, 4)), 1)
    with pytest.raises(ValueError, match=r"`band` must have shape \(2k \+ 1, n\).*\(2, 4\)"):
        solve_banded(jnp.zeros((2, 4)), jnp.zeros(4))
    # Caught by the shape annotation under the runtime type checker, by our check without it.
    with pytest.raises((TypeError, ValueError), match=r"rhs"):
        solve_banded(jnp.ones((3, 4)), jnp.zeros(5))


# Periodic bands and graphs -------------------------------------------------------------------


def random_periodic_banded(rng, n, k):
    """A random symmetric matrix coupling i to (i ± 1..k) mod n, diagonally dominant."""
    matrix = rng.normal(size=(n, n))
    rows, columns = np.indices((n, n))
    distance = np.minimum(np.abs(rows - columns), n - np.abs(rows - columns))
    matrix[distance > k] = 0
    matrix = matrix + matrix.T
    np.fill_diagonal(matrix, np.abs(matrix).sum(axis=1) + 1.0)
    return matrix


@pytest.mark.parametrize("n, k", [(3, 1), (5, 2), (7, 1), (10, 2), (11, 3), (30, 4), (9, 0)])
def test_periodic_colours_never_meet_in_a_row(n, k):
    colours = periodic_colours(n, k)
    assert colours.max() + 1 <= 4 * k + 1  # a constant count, whatever n
    for c in range(colours.max() + 1):
        members = np.flatnonzero(colours == c)
        gaps = np.abs(members[:, None] - members[None, :])
        cyclic = np.minimum(gaps, n - gaps)
        assert np.all(cyclic[~np.eye(len(members), dtype=bool)] > 2 * k)


@pytest.mark.parametrize("n, k", [(3, 1), (5, 2), (8, 1), (10, 2), (13, 3), (17, 5), (9, 0)])
def test_periodic_assembly_and_woodbury_solve_against_dense(n, k):
    rng = np.random.default_rng(100 * n + k)
    matrix = random_periodic_banded(rng, n, k)
    rhs = rng.normal(size=n)
    tangents = np.asarray(periodic_colour_tangents(n, k))
    band = decompress_periodic_band(jnp.asarray((matrix @ tangents.T).T), k)
    assert np.array_equal(np.asarray(periodic_band_to_dense(band)), matrix)
    x, pivots, scales = jax.jit(solve_periodic_banded_with_pivots)(band, jnp.asarray(rhs))
    np.testing.assert_allclose(x, np.linalg.solve(matrix, rhs), rtol=1e-11, atol=1e-12)
    assert np.all(np.abs(pivots) > 1e-3)
    # The band's pivots count against the columns of the band without its corners.
    distance = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    plain = np.where(distance <= k, matrix, 0.0)
    np.testing.assert_allclose(scales[:n], np.max(np.abs(plain), axis=0), rtol=1e-15)
    assert scales.shape == pivots.shape


def test_periodic_band_needs_2k_plus_1_points():
    with pytest.raises(ValueError, match=r"needs n >= 5 .* got n = 4"):
        decompress_periodic_band(jnp.zeros((5, 4)), 2)


def _random_graph(rng, n, extra):
    chain = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)
    random = rng.integers(0, n, size=(extra, 2))
    return np.concatenate([chain, random])


@pytest.mark.parametrize("n, extra", [(1, 0), (6, 3), (25, 20), (60, 80)])
def test_distance2_colouring_separates_columns_of_every_row(n, extra):
    rng = np.random.default_rng(n)
    edges = _random_graph(rng, n, extra) if n > 1 else np.zeros((0, 2), int)
    colours = distance2_colouring(edges, n)
    pattern = np.eye(n, dtype=bool)
    pattern[edges[:, 0], edges[:, 1]] = pattern[edges[:, 1], edges[:, 0]] = True
    for row in pattern:
        seen = colours[np.flatnonzero(row)]
        assert len(np.unique(seen)) == len(seen)


@pytest.mark.parametrize("n, extra", [(6, 3), (40, 30)])
def test_graph_assembly_and_cg_solve_against_dense(n, extra):
    rng = np.random.default_rng(7 + n)
    edges = _random_graph(rng, n, extra)
    graph = MassGraph(edges, size=n)
    matrix = np.zeros((n, n))
    weights = rng.normal(size=len(edges))
    for (i, j), w in zip(edges, weights):
        if i != j:
            matrix[i, j] = matrix[j, i] = w
    np.fill_diagonal(matrix, np.abs(matrix).sum(axis=1) + 1.0)
    compressed = (matrix @ np.asarray(graph.tangents()).T).T
    values = graph.entries(jnp.asarray(compressed))
    assert np.array_equal(np.asarray(graph.to_dense(values)), matrix)
    rhs = rng.normal(size=n)
    x, residual = jax.jit(solve_graph)(graph, values, jnp.asarray(rhs))
    np.testing.assert_allclose(x, np.linalg.solve(matrix, rhs), rtol=1e-10, atol=1e-11)
    assert float(residual) < 1e-11


def test_graph_refuses_bad_edges():
    with pytest.raises(ValueError, match=r"shape \(E, 2\)"):
        MassGraph(np.zeros((3, 3), int))
    with pytest.raises(TypeError, match="integer indices"):
        MassGraph(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"index coordinates 0 .. 3"):
        MassGraph(np.array([[0, 5]]), size=4)
