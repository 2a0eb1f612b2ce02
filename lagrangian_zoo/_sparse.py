"""Banded mass matrices: colouring, assembly from compressed products, and a linear-time solve.

A Lagrangian that is a sum of local densities (a chain, a grid) couples each velocity only to
its neighbours, so `d2L/dq_t2` is banded with some half-bandwidth `k`. Columns further than `2k`
apart never share a row, so `2k + 1` Hessian-vector products with "coloured" tangents recover
the whole band, whatever `n` is, and a block-tridiagonal solve costs `O(n k^2)`.

Band storage: `band[d, i] = M[i, i + d - k]` for `d = 0, ..., 2k` (zero outside the matrix).
"""

import operator

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, DTypeLike, Float


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
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"`{name}` must be an int, got {value!r}.") from None
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")
    return value


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


def solve_banded_with_pivots(
    band: Float[Array, "colours n"], rhs: Float[Array, " n"]
) -> tuple[Float[Array, " n"], Float[Array, " m"]]:
    """As `solve_banded`, and also the pivots of the elimination.

    The pivots are the diagonals of the `U` factors of every block step (for `k = 0`, the
    diagonal itself). A pivot that is zero relative to the largest one means `M` is singular
    (or too ill-conditioned for an elimination without pivoting across blocks).

    **Returns:** `(x, pivots)`, with `pivots` of shape `(n,)`: those of the real rows only.
    The padding rows' unit pivots are dropped, so that they never set the scale against
    which a pivot counts as zero (a healthy matrix with entries of 1e6 in float32, or of
    1e-8, would otherwise look singular).
    """
    band, rhs = jnp.asarray(band), jnp.asarray(rhs)
    k, n = _check_band(band)
    if rhs.shape != (n,):
        raise ValueError(f"`rhs` must have shape ({n},) to match `band`, got shape {rhs.shape}.")
    if k == 0:
        return rhs / band[0], band[0]
    if k == 1:
        return _solve_tridiagonal(band, rhs)
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
    return xs.reshape(-1)[:n], pivots.reshape(-1)[:n]


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
