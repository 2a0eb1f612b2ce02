"""Banded mass matrices: colouring, assembly from compressed products, and a linear-time solve.

A Lagrangian that is a sum of local densities (a chain, a grid) couples each velocity only to
its neighbours, so `d2L/dq_t2` is banded with some half-bandwidth `k`. Columns further than `2k`
apart never share a row, so `2k + 1` Hessian-vector products with "coloured" tangents recover
the whole band, whatever `n` is, and a block-tridiagonal solve costs `O(n k^2)`.

Band storage: `band[d, i] = M[i, i + d - k]` for `d = 0, ..., 2k` (zero outside the matrix).
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, DTypeLike, Float, Int

from ._validation import positive_int


def lu_solve(
    matrix: Float[Array, "m m"], rhs: Float[Array, "m r"]
) -> tuple[Float[Array, "m r"], Float[Array, " m"]]:
    """Solves `matrix @ x = rhs` by a partially pivoted LU; also returns the diagonal of `U`.

    `lax.linalg.lu` hands back the row permutation directly, which keeps the compiled program
    smaller than `jax.scipy.linalg.lu_solve` (which rebuilds it from the pivots in a loop).
    """
    lu, _, permutation = jax.lax.linalg.lu(matrix)
    lower = jax.lax.linalg.triangular_solve(
        lu, rhs[permutation], left_side=True, lower=True, unit_diagonal=True
    )
    x = jax.lax.linalg.triangular_solve(lu, lower, left_side=True, lower=False)
    return x, jnp.diagonal(lu)


_UNROLLED_MAX = 4


def _unrolled_lu_solve(
    matrix: Float[Array, "m m"], rhs: Float[Array, "m r"]
) -> tuple[Float[Array, "m r"], Float[Array, " m"]]:
    """`lu_solve` for tiny blocks: Gaussian elimination with partial pivoting, unrolled.

    A LAPACK call per block step of a banded sweep costs more than the arithmetic itself when
    the blocks are `2 x 2` or `3 x 3`; written out, the sweep fuses into a few vector ops.
    """
    m = matrix.shape[0]
    augmented = jnp.concatenate([matrix, rhs], axis=1)
    pivots = []
    for j in range(m):
        p = j + jnp.argmax(jnp.abs(augmented[j:, j]))
        row_j, row_p = augmented[j], augmented[p]
        augmented = augmented.at[p].set(row_j).at[j].set(row_p)
        pivot = augmented[j, j]
        pivots.append(pivot)
        factors = augmented[j + 1 :, j] / pivot
        augmented = augmented.at[j + 1 :].add(-factors[:, None] * augmented[j][None, :])
    x = augmented[:, m:]
    for j in reversed(range(m)):
        x = x.at[j].set((x[j] - augmented[j, j + 1 : m] @ x[j + 1 :]) / augmented[j, j])
    return x, jnp.stack(pivots)


def _check_size(name: str, value: int, minimum: int) -> int:
    expected_value = f">= {minimum}"
    return positive_int(
        "", name, value, minimum=minimum, expected="an int", expected_value=expected_value
    )


def _check_band(band: Array) -> tuple[int, int]:
    if band.ndim != 2 or band.shape[0] % 2 != 1:
        raise ValueError(
            "`band` must have shape (2k + 1, n) (band storage, an odd number of rows), got "
            f"shape {band.shape}."
        )
    return band.shape[0] // 2, band.shape[1]


def colour_tangents(n: int, bandwidth: int, dtype: DTypeLike = float) -> Float[Array, "colours n"]:
    """Tangents that colour the columns of an `n x n` matrix of half-bandwidth `k`.

    Tangent `c` has ones at the columns `j` with `j mod (2k + 1) == c`; two such columns are
    more than `2k` apart, so no row of a banded matrix sees both, and `M @ tangent_c` holds
    each of those columns' band entries unmixed.

    **Arguments:**

    - `n`: the matrix size.
    - `bandwidth`: the half-bandwidth `k >= 0`.
    - `dtype`: the dtype of the tangents.

    **Returns:** an array of shape `(2k + 1, n)` of zeros and ones.
    """
    n = _check_size("n", n, 1)
    bandwidth = _check_size("bandwidth", bandwidth, 0)
    colours = 2 * bandwidth + 1
    columns = np.arange(n)
    return jnp.asarray(columns[None, :] % colours == np.arange(colours)[:, None], dtype=dtype)


def decompress_band(
    compressed: Float[Array, "colours n"], bandwidth: int
) -> Float[Array, "colours n"]:
    """Band storage of `M` from the products `compressed[c] = M @ colour_tangents(n, k)[c]`.

    **Arguments:**

    - `compressed`: the `2k + 1` products, shape `(2k + 1, n)`.
    - `bandwidth`: the half-bandwidth `k`.

    **Returns:** `band` of shape `(2k + 1, n)` with `band[d, i] = M[i, i + d - k]`.
    """
    bandwidth = _check_size("bandwidth", bandwidth, 0)
    compressed = jnp.asarray(compressed)
    colours = 2 * bandwidth + 1
    if compressed.ndim != 2 or compressed.shape[0] != colours:
        raise ValueError(
            f"`compressed` must have shape ({colours}, n) for bandwidth {bandwidth}, got shape "
            f"{compressed.shape}."
        )
    n = compressed.shape[1]
    rows = np.arange(n)[None, :]
    columns = rows + np.arange(colours)[:, None] - bandwidth
    inside = (columns >= 0) & (columns < n)
    # Row i of product c is M[i, j] for the one column j of colour c within the band of row i.
    gathered = compressed[columns % colours, np.broadcast_to(rows, columns.shape)]
    return jnp.where(jnp.asarray(inside), gathered, jnp.zeros((), compressed.dtype))


def band_to_dense(band: Float[Array, "colours n"]) -> Float[Array, "n n"]:
    """The full matrix of a band-stored one (for tests and small problems)."""
    band = jnp.asarray(band)
    k, n = _check_band(band)
    colours = 2 * k + 1
    rows = np.arange(n)[:, None]
    columns = np.arange(n)[None, :]
    offset = columns - rows + k
    inside = (offset >= 0) & (offset < colours)
    values = band[np.clip(offset, 0, colours - 1), np.broadcast_to(rows, offset.shape)]
    return jnp.where(jnp.asarray(inside), values, jnp.zeros((), band.dtype))


def _blocks(band: Float[Array, "colours n"], size: int, count: int):
    """Sub-diagonal, diagonal and super-diagonal `size x size` blocks of a padded band matrix."""
    colours, n = band.shape
    k = colours // 2
    padded_n = size * count
    # Padding rows get a unit diagonal so that the padded system stays non-singular.
    padding = jnp.zeros((colours, padded_n - n), band.dtype).at[k].set(1)
    band = jnp.concatenate([band, padding], axis=1)

    block_rows = np.arange(count)[:, None, None] * size + np.arange(size)[None, :, None]

    def block(shift: int):
        block_columns = (np.arange(count)[:, None, None] + shift) * size + np.arange(size)[
            None, None, :
        ]
        offset = block_columns - block_rows + k
        # Entries of real rows in padding columns are ignored, whatever a caller's band holds
        # outside the matrix, so that the padded unknowns decouple.
        inside = (
            (offset >= 0)
            & (offset < colours)
            & (block_columns >= 0)
            & (block_columns < padded_n)
            & ((block_columns < n) | (block_rows >= n))
        )
        values = band[np.clip(offset, 0, colours - 1), np.broadcast_to(block_rows, offset.shape)]
        return jnp.where(jnp.asarray(inside), values, jnp.zeros((), band.dtype))

    return block(-1), block(0), block(1)


def _solve_tridiagonal(
    band: Float[Array, "3 n"], rhs: Float[Array, " n"]
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """The Thomas algorithm: the block sweep with `1 x 1` blocks, on scalars (no LU calls)."""
    zero = jnp.zeros((), band.dtype)
    lower = band[0].at[0].set(zero)
    upper = band[2].at[-1].set(zero)

    def forward(carry, row):
        upper_prev, rhs_prev = carry
        a, b, c, d = row
        pivot = b - a * upper_prev
        upper_new, rhs_new = c / pivot, (d - a * rhs_prev) / pivot
        return (upper_new, rhs_new), (upper_new, rhs_new, pivot)

    _, (uppers, rhss, pivots) = jax.lax.scan(forward, (zero, zero), (lower, band[1], upper, rhs))

    def backward(x_next, row):
        upper_i, rhs_i = row
        x = rhs_i - upper_i * x_next
        return x, x

    _, xs = jax.lax.scan(backward, zero, (uppers, rhss), reverse=True)
    return xs, pivots


def band_column_scales(band: Float[Array, "colours n"]) -> Float[Array, " n"]:
    """The largest magnitude in each column of a band-stored matrix.

    Column `j` of `M` is `band[d, j + k - d]` over the rows `j + k - d` inside the matrix; a
    pivot of column `j` counts as zero against this size, so scaling a column (a light
    coordinate beside a heavy one) scales its pivot and its tolerance together.
    """
    band = jnp.asarray(band)
    k, n = _check_band(band)
    offsets = np.arange(2 * k + 1)[:, None]
    rows = np.arange(n)[None, :] + k - offsets
    inside = (rows >= 0) & (rows < n)
    values = jnp.abs(band[offsets, np.clip(rows, 0, n - 1)])
    return jnp.max(jnp.where(jnp.asarray(inside), values, jnp.zeros((), band.dtype)), axis=0)


def solve_banded_with_pivots(
    band: Float[Array, "colours n"], rhs: Float[Array, " n"]
) -> tuple[Float[Array, " n"], Float[Array, " n"], Float[Array, " n"]]:
    """As `solve_banded`, and also the pivots of the elimination and the sizes they count against.

    The pivots are the diagonals of the `U` factors of every block step (for `k = 0`, the
    diagonal itself); pivot `j` eliminates column `j` (partial pivoting swaps rows within a
    block, never columns). A pivot that is zero relative to the largest entry of its own
    column means `M` is singular (or too ill-conditioned for an elimination without pivoting
    across blocks).

    **Returns:** `(x, pivots, scales)`, each of shape `(n,)`: the solution, the pivots of the
    real rows (the padding rows' unit pivots are dropped), and `scales[j]`, the largest
    magnitude in column `j` of `M` (`band_column_scales`).
    """
    band, rhs = jnp.asarray(band), jnp.asarray(rhs)
    k, n = _check_band(band)
    if rhs.shape != (n,):
        raise ValueError(f"`rhs` must have shape ({n},) to match `band`, got shape {rhs.shape}.")
    scales = band_column_scales(band)
    if k == 0:
        return rhs / band[0], band[0], scales
    if k == 1:
        return (*_solve_tridiagonal(band, rhs), scales)
    size = k
    count = -(-n // size)
    lower, diagonal, upper = _blocks(band, size, count)
    padded_rhs = jnp.concatenate([rhs, jnp.zeros(size * count - n, rhs.dtype)]).reshape(
        count, size
    )

    def forward(carry, block):
        upper_prev, rhs_prev = carry
        a, b, c, d = block
        stacked = jnp.concatenate([c, (d - a @ rhs_prev)[:, None]], axis=1)
        block_solve = _unrolled_lu_solve if size <= _UNROLLED_MAX else lu_solve
        solved, pivots = block_solve(b - a @ upper_prev, stacked)
        upper_new, rhs_new = solved[:, :-1], solved[:, -1]
        return (upper_new, rhs_new), (upper_new, rhs_new, pivots)

    init = (jnp.zeros((size, size), band.dtype), jnp.zeros(size, band.dtype))
    _, (uppers, rhss, pivots) = jax.lax.scan(forward, init, (lower, diagonal, upper, padded_rhs))

    def backward(x_next, block):
        upper_i, rhs_i = block
        x = rhs_i - upper_i @ x_next
        return x, x

    _, xs = jax.lax.scan(backward, jnp.zeros(size, band.dtype), (uppers, rhss), reverse=True)
    # Padding rows are decoupled from the real ones (`_blocks`), so partial pivoting never
    # swaps them in: the pivots of the real columns come first, in order.
    return xs.reshape(-1)[:n], pivots.reshape(-1)[:n], scales


def solve_banded(band: Float[Array, "colours n"], rhs: Float[Array, " n"]) -> Float[Array, " n"]:
    """Solves `M x = rhs` for a band-stored `M` in `O(n k^2)` (block Thomas algorithm).

    Blocks of size `max(k, 1)` make the matrix block-tridiagonal; each block step is a small
    pivoted LU, and the sweep over blocks is a `lax.scan`. Like any block elimination without
    pivoting across blocks it needs the leading blocks to be non-singular, which holds for the
    symmetric positive-definite mass matrices of physical Lagrangians.

    **Arguments:**

    - `band`: `M` in band storage, shape `(2k + 1, n)`, `band[d, i] = M[i, i + d - k]`.
    - `rhs`: the right-hand side, shape `(n,)`.

    **Returns:** `x` of shape `(n,)`.
    """
    return solve_banded_with_pivots(band, rhs)[0]


# Periodic bands -------------------------------------------------------------------------------
#
# On a ring (periodic boundary) row `i` couples to the columns `(i + d - k) mod n`, so the matrix
# is a band plus two `k x k` corner blocks. Periodic band storage keeps the same shape as band
# storage: `band[d, i] = M[i, (i + d - k) mod n]`, for `n >= 2k + 1` (where the `2k + 1` columns
# of a row are distinct).


def periodic_colours(n: int, bandwidth: int) -> np.ndarray:
    """The colour of each column of an `n x n` periodic band matrix of half-bandwidth `k`.

    Columns of one colour are more than `2k` apart also across the wrap, so no row sees two of
    them. Columns `j < q (2k + 1)`, with `q = n // (2k + 1)`, take colour `j mod (2k + 1)`; the
    last `n mod (2k + 1)` columns each take a colour of their own. At most `4k + 1` colours,
    whatever `n` is.

    **Returns:** a NumPy int array of shape `(n,)`.
    """
    n = _check_size("n", n, 1)
    bandwidth = _check_size("bandwidth", bandwidth, 0)
    period = 2 * bandwidth + 1
    whole = (n // period) * period
    columns = np.arange(n)
    first_extra = period if whole > 0 else 0
    return np.where(columns < whole, columns % period, first_extra + columns - whole)


def periodic_colour_tangents(
    n: int, bandwidth: int, dtype: DTypeLike = float
) -> Float[Array, "colours n"]:
    """Tangents that colour an `n x n` periodic band matrix (see `periodic_colours`).

    **Returns:** an array of shape `(colours, n)` of zeros and ones, `colours <= 4k + 1`.
    """
    colours = periodic_colours(n, bandwidth)
    count = int(colours.max()) + 1
    return jnp.asarray(colours[None, :] == np.arange(count)[:, None], dtype=dtype)


def _check_periodic(n: int, bandwidth: int) -> None:
    if n < 2 * bandwidth + 1:
        raise ValueError(
            f"a periodic band of half-bandwidth {bandwidth} needs n >= {2 * bandwidth + 1} "
            f"(2k + 1 distinct columns per row), got n = {n}; use the dense path."
        )


def decompress_periodic_band(
    compressed: Float[Array, "colours n"], bandwidth: int
) -> Float[Array, "band n"]:
    """Periodic band storage of `M` from `compressed[c] = M @ periodic_colour_tangents(n, k)[c]`.

    **Returns:** `band` of shape `(2k + 1, n)` with `band[d, i] = M[i, (i + d - k) mod n]`.
    """
    bandwidth = _check_size("bandwidth", bandwidth, 0)
    compressed = jnp.asarray(compressed)
    n = compressed.shape[-1]
    _check_periodic(n, bandwidth)
    colours = periodic_colours(n, bandwidth)
    if compressed.ndim != 2 or compressed.shape[0] != colours.max() + 1:
        raise ValueError(
            f"`compressed` must have shape ({colours.max() + 1}, {n}) for a periodic band of "
            f"half-bandwidth {bandwidth}, got shape {compressed.shape}."
        )
    rows = np.arange(n)[None, :]
    columns = (rows + np.arange(2 * bandwidth + 1)[:, None] - bandwidth) % n
    return compressed[colours[columns], np.broadcast_to(rows, columns.shape)]


def periodic_band_to_dense(band: Float[Array, "band n"]) -> Float[Array, "n n"]:
    """The full matrix of a periodic-band-stored one (for tests and small problems)."""
    band = jnp.asarray(band)
    k, n = _check_band(band)
    _check_periodic(n, k)
    rows = np.broadcast_to(np.arange(n)[None, :], band.shape)
    columns = (rows + np.arange(2 * k + 1)[:, None] - k) % n
    return jnp.zeros((n, n), band.dtype).at[rows, columns].set(band)


def solve_periodic_banded_with_pivots(
    band: Float[Array, "band n"], rhs: Float[Array, " n"]
) -> tuple[Float[Array, " n"], Float[Array, " m"], Float[Array, " m"]]:
    r"""Solves `M x = rhs` for a periodic band matrix by the Woodbury identity, in `O(n k^3)`.

    `M = B + E W E^T`: `B` is the plain band (no wrap), `E` selects the first and last `k`
    coordinates and `W` holds the two corner blocks. With `Z = B^{-1} E` (`2k` banded solves),
    $$x = B^{-1} r - Z\,(I + W E^\top Z)^{-1}\, W E^\top B^{-1} r.$$
    Like `solve_banded`, it needs `B`'s leading blocks non-singular, which holds for the
    diagonally dominant mass matrices of local densities.

    **Returns:** `(x, pivots, scales)`: the pivots of the band's elimination, then those of
    the `2k x 2k` capacitance matrix, and beside each the largest magnitude in the column it
    eliminates (of the band without its corners, then of the capacitance matrix).
    """
    band, rhs = jnp.asarray(band), jnp.asarray(rhs)
    k, n = _check_band(band)
    _check_periodic(n, k)
    if rhs.shape != (n,):
        raise ValueError(f"`rhs` must have shape ({n},) to match `band`, got shape {rhs.shape}.")
    if k == 0:
        return solve_banded_with_pivots(band, rhs)
    rows = np.arange(n)[None, :]
    offsets = rows + np.arange(2 * k + 1)[:, None] - k
    wraps = (offsets < 0) | (offsets >= n)
    plain = jnp.where(jnp.asarray(wraps), jnp.zeros((), band.dtype), band)
    ends = np.concatenate([np.arange(k), np.arange(n - k, n)])
    # W[a, b] = M[ends[a], ends[b]] for the wrapped entries only: rows 0..k-1 reach back to the
    # last columns, rows n-k..n-1 forward to the first.
    wrap_d, wrap_i = np.nonzero(wraps)
    wrap_j = offsets[wrap_d, wrap_i] % n
    position = np.full(n, -1)
    position[ends] = np.arange(2 * k)
    corners = (
        jnp.zeros((2 * k, 2 * k), band.dtype)
        .at[position[wrap_i], position[wrap_j]]
        .set(band[wrap_d, wrap_i])
    )
    selection = jnp.zeros((2 * k, n), band.dtype).at[np.arange(2 * k), ends].set(1)
    right = jnp.concatenate([rhs[None], selection])
    solved, pivots, scales = jax.vmap(solve_banded_with_pivots, in_axes=(None, 0))(plain, right)
    y, z = solved[0], solved[1:].T
    capacitance = jnp.eye(2 * k, dtype=band.dtype) + corners @ z[ends]
    correction, capacitance_pivots = lu_solve(capacitance, (corners @ y[ends])[:, None])
    x = y - z @ correction[:, 0]
    capacitance_scales = jnp.max(jnp.abs(capacitance), axis=0)
    return (
        x,
        jnp.concatenate([pivots[0], capacitance_pivots]),
        jnp.concatenate([scales[0], capacitance_scales]),
    )


def solve_periodic_banded(
    band: Float[Array, "band n"], rhs: Float[Array, " n"]
) -> Float[Array, " n"]:
    """Solves `M x = rhs` for a periodic-band-stored `M` (see the `_with_pivots` form)."""
    return solve_periodic_banded_with_pivots(band, rhs)[0]


# Graphs ---------------------------------------------------------------------------------------


def _as_edges(
    edges: ArrayLike | Sequence[Sequence[int]], size: int | None
) -> tuple[np.ndarray, int]:
    array = np.asarray(edges)
    if array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(
            f"`edges` must be an int array of shape (E, 2), one coupled pair per row, got shape "
            f"{array.shape}."
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"`edges` must hold integer indices, got dtype {array.dtype}.")
    needed = int(array.max()) + 1 if array.size else 1
    if size is None:
        size = needed
    size = _check_size("size", size, 1)
    if array.size and (array.min() < 0 or needed > size):
        raise ValueError(
            f"`edges` must index coordinates 0 .. {size - 1}, got indices from {array.min()} "
            f"to {array.max()}."
        )
    return array.astype(np.int64), size


def distance2_colouring(
    edges: ArrayLike | Sequence[Sequence[int]], size: int | None = None
) -> np.ndarray:
    """A greedy colouring of a graph in which no two vertices within distance 2 share a colour.

    Columns `i` and `j` of a matrix whose sparsity is the graph (plus the diagonal) meet in a
    row exactly when `i` and `j` are at most two edges apart, so each colour class is a set of
    columns that one product recovers unmixed. Vertices are coloured in order, each with the
    smallest colour unused within distance 2; at most `D^2 + 1` colours for a largest degree
    `D`. It runs on the host in NumPy, in `O(n D^2)`.

    **Returns:** a NumPy int array of shape `(size,)`.
    """
    edges, size = _as_edges(edges, size)
    neighbours: list[set[int]] = [set() for _ in range(size)]
    for i, j in edges.tolist():
        if i != j:
            neighbours[i].add(j)
            neighbours[j].add(i)
    colours = np.full(size, -1, dtype=np.int64)
    for vertex in range(size):
        taken = set()
        for neighbour in neighbours[vertex]:
            taken.add(colours[neighbour])
            for second in neighbours[neighbour]:
                taken.add(colours[second])
        colour = 0
        while colour in taken:
            colour += 1
        colours[vertex] = colour
    return colours


class MassGraph(eqx.Module):
    """The sparsity of a mass matrix given by the coupled pairs of a graph, and its colouring.

    Built once, on the host: the entries `M[i, j]` that may be non-zero (the diagonal and both
    directions of every edge) and a distance-2 colouring of their columns
    (`distance2_colouring`), which [`lagrangian_zoo.euler_lagrange`][] turns into one product
    per colour. The index arrays are leaves, the sizes static, so a model can hold one.

    **Arguments:**

    - `edges`: an int array of shape `(E, 2)`, the pairs of coordinates whose velocities the
        Lagrangian couples (each pair once, in either order; self-loops are ignored).
    - `size`: the number of coordinates `n` (default: the largest index plus one).
    """

    colour: Int[Array, " n"]
    rows: Int[Array, " entries"]
    columns: Int[Array, " entries"]
    size: int = eqx.field(static=True)
    colours: int = eqx.field(static=True)

    def __init__(self, edges: ArrayLike | Sequence[Sequence[int]], size: int | None = None):
        edges, size = _as_edges(edges, size)
        colour = distance2_colouring(edges, size)
        pairs = edges[edges[:, 0] != edges[:, 1]]
        pairs = np.unique(np.sort(pairs, axis=1), axis=0)
        diagonal = np.arange(size)
        self.rows = jnp.asarray(np.concatenate([diagonal, pairs[:, 0], pairs[:, 1]]))
        self.columns = jnp.asarray(np.concatenate([diagonal, pairs[:, 1], pairs[:, 0]]))
        self.colour = jnp.asarray(colour)
        self.size = size
        self.colours = int(colour.max()) + 1

    def tangents(self, dtype: DTypeLike = float) -> Float[Array, "colours n"]:
        """One tangent per colour: ones at the columns of that colour."""
        return (self.colour[None, :] == jnp.arange(self.colours)[:, None]).astype(dtype)

    def entries(self, compressed: Float[Array, "colours n"]) -> Float[Array, " entries"]:
        """The values `M[rows, columns]` from `compressed[c] = M @ tangents[c]`."""
        return compressed[self.colour[self.columns], self.rows]

    def matvec(
        self, values: Float[Array, " entries"], x: Float[Array, " n"]
    ) -> Float[Array, " n"]:
        """`M @ x` from the entries, by a segment sum over the rows: `O(n + E)`."""
        return jax.ops.segment_sum(
            values * x[self.columns], self.rows, num_segments=self.size, indices_are_sorted=False
        )

    def to_dense(self, values: Float[Array, " entries"]) -> Float[Array, "n n"]:
        """The full matrix (for tests and small problems)."""
        return (
            jnp.zeros((self.size, self.size), values.dtype).at[self.rows, self.columns].set(values)
        )


def solve_graph(
    graph: MassGraph,
    values: Float[Array, " entries"],
    rhs: Float[Array, " n"],
    *,
    rtol: float | None = None,
    max_steps: int | None = None,
) -> tuple[Float[Array, " n"], Float[Array, ""]]:
    """Solves `M x = rhs` for a symmetric positive-definite graph-sparse `M` by CG.

    Jacobi-preconditioned CG (`jax.scipy.sparse.linalg.cg`) on the segment-sum product: each
    step costs `O(n + E)`, and the number of steps grows with the condition number of `M` (for
    the diagonally dominant mass matrices of local densities, a few tens), not with `n`.

    **Arguments:**

    - `graph`: the sparsity.
    - `values`: the entries `M[graph.rows, graph.columns]`.
    - `rhs`: the right-hand side, shape `(n,)`.
    - `rtol`: the relative residual to reach; default `eps ** 0.75` of the dtype (about
        `2e-12` in float64, `6e-6` in float32).
    - `max_steps`: the most CG steps; default `10 n + 100`.

    **Returns:** `(x, residual)`: the solution and its relative residual `|M x - rhs| / |rhs|`.
    """
    rhs = jnp.asarray(rhs)
    if rhs.shape != (graph.size,):
        raise ValueError(
            f"`rhs` must have shape ({graph.size},) to match the graph, got shape {rhs.shape}."
        )
    if rtol is None:
        rtol = float(jnp.finfo(rhs.dtype).eps) ** 0.75
    if max_steps is None:
        max_steps = 10 * graph.size + 100
    diagonal = values[: graph.size]  # the diagonal entries come first (`MassGraph`)

    def operator_(x):
        return graph.matvec(values, x)

    def preconditioner(x):
        return x / diagonal

    x, _ = jax.scipy.sparse.linalg.cg(
        operator_, rhs, tol=rtol, atol=0.0, maxiter=max_steps, M=preconditioner
    )
    scale = jnp.maximum(jnp.linalg.norm(rhs), jnp.finfo(rhs.dtype).tiny)
    residual = jnp.linalg.norm(operator_(x) - rhs) / scale
    return x, residual
