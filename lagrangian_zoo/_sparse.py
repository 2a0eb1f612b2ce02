"""Banded mass matrices: colouring, assembly from compressed products, and a linear-time solve.

A Lagrangian that is a sum of local densities (a chain, a grid) couples each velocity only to
its neighbours, so `d2L/dq_t2` is banded with some half-bandwidth `k`. Columns further than `2k`
apart never share a row, so `2k + 1` Hessian-vector products with "coloured" tangents recover
the whole band, whatever `n` is, and a block-tridiagonal solve costs `O(n k^2)`.

Band storage: `band[d, i] = M[i, i + d - k]` for `d = 0, ..., 2k` (zero outside the matrix).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def colour_tangents(n: int, bandwidth: int, dtype=float) -> Float[Array, "colours n"]:
    """Tangents that colour the columns of an `n x n` matrix of half-bandwidth `bandwidth`.

    Tangent `c` has ones at the columns `j` with `j mod (2k + 1) == c`.
    """
    colours = 2 * bandwidth + 1
    columns = np.arange(n)
    return jnp.asarray(columns[None, :] % colours == np.arange(colours)[:, None], dtype=dtype)


def decompress_band(
    compressed: Float[Array, "colours n"], bandwidth: int
) -> Float[Array, "colours n"]:
    """Band storage of `M` from the products `compressed[c] = M @ colour_tangents(...)[c]`."""
    colours, n = compressed.shape
    k = bandwidth
    rows = np.arange(n)[None, :]
    columns = rows + np.arange(colours)[:, None] - k
    inside = (columns >= 0) & (columns < n)
    gathered = compressed[columns % colours, np.broadcast_to(rows, columns.shape)]
    return jnp.where(jnp.asarray(inside), gathered, 0)


def band_to_dense(band: Float[Array, "colours n"]) -> Float[Array, "n n"]:
    """The full matrix of a band-stored one (for tests and small problems)."""
    colours, n = band.shape
    k = colours // 2
    rows = np.arange(n)[:, None]
    columns = np.arange(n)[None, :]
    offset = columns - rows + k
    inside = (offset >= 0) & (offset < colours)
    values = band[np.clip(offset, 0, colours - 1), np.broadcast_to(rows, offset.shape)]
    return jnp.where(jnp.asarray(inside), values, 0)


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
        inside = (
            (offset >= 0) & (offset < colours) & (block_columns >= 0) & (block_columns < padded_n)
        )
        values = band[np.clip(offset, 0, colours - 1), np.broadcast_to(block_rows, offset.shape)]
        return jnp.where(jnp.asarray(inside), values, 0)

    return block(-1), block(0), block(1)


def solve_banded(band: Float[Array, "colours n"], rhs: Float[Array, " n"]) -> Float[Array, " n"]:
    """Solves `M x = rhs` for a band-stored `M` in `O(n k^2)` (block Thomas algorithm).

    Blocks of size `max(k, 1)` make the matrix block-tridiagonal; each block step is a small
    pivoted LU, and the sweep over blocks is a `lax.scan`. Like any block elimination without
    pivoting across blocks it needs the leading blocks to be non-singular, which holds for the
    symmetric positive-definite mass matrices of physical Lagrangians.
    """
    colours, n = band.shape
    k = colours // 2
    if k == 0:
        return rhs / band[0]
    size = k
    count = -(-n // size)
    lower, diagonal, upper = _blocks(band, size, count)
    padded_rhs = jnp.concatenate([rhs, jnp.zeros(size * count - n, rhs.dtype)]).reshape(
        count, size
    )

    def forward(carry, block):
        upper_prev, rhs_prev = carry
        a, b, c, d = block
        pivot = b - a @ upper_prev
        solved = jnp.linalg.solve(pivot, jnp.concatenate([c, (d - a @ rhs_prev)[:, None]], 1))
        upper_new, rhs_new = solved[:, :-1], solved[:, -1]
        return (upper_new, rhs_new), (upper_new, rhs_new)

    init = (jnp.zeros((size, size), band.dtype), jnp.zeros(size, band.dtype))
    _, (uppers, rhss) = jax.lax.scan(forward, init, (lower, diagonal, upper, padded_rhs))

    def backward(x_next, block):
        upper_i, rhs_i = block
        x = rhs_i - upper_i @ x_next
        return x, x

    _, xs = jax.lax.scan(backward, jnp.zeros(size, band.dtype), (uppers, rhss), reverse=True)
    return xs.reshape(-1)[:n]
