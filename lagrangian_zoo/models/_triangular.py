"""Lower-triangular matrices from the flat outputs of a network."""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def triangular_size(n: int) -> int:
    """The number of entries of an `n x n` lower-triangular matrix, `n (n + 1) / 2`."""
    return n * (n + 1) // 2


def lower_triangular(entries: Float[Array, " entries"], n: int) -> Float[Array, "n n"]:
    """Fills an `n x n` lower-triangular matrix row by row from `n (n + 1) / 2` entries."""
    if entries.shape != (triangular_size(n),):
        raise ValueError(
            f"an {n} x {n} lower-triangular matrix needs {triangular_size(n)} entries, got shape "
            f"{entries.shape}."
        )
    rows, cols = np.tril_indices(n)
    return jnp.zeros((n, n), entries.dtype).at[rows, cols].set(entries)
