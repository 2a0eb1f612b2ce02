"""Validation of tuple-valued physical parameters (masses, lengths of several bodies)."""

import jax
import numpy as np
from jaxtyping import ArrayLike

from ._base import check_positive


def check_entries(system: str, size: int | None = None, **values: ArrayLike) -> None:
    """Refuses a per-body parameter of the wrong length, or with a non-positive entry.

    The parameter is a 1-D array (converted from a tuple by `as_parameter`) or, when it could
    not be converted, what the user gave. Each entry is checked on its own, so the error names
    it (`masses[1]`).
    """
    for name, value in values.items():
        shape = np.shape(value) if isinstance(value, (jax.Array, np.ndarray)) else None
        if shape is None or len(shape) != 1 or (size is not None and shape[0] != size):
            expected = "a tuple of numbers" if size is None else f"a tuple of {size} numbers"
            shown = tuple(np.asarray(value).tolist()) if shape is not None else value
            raise ValueError(f"{system}: parameter `{name}` must be {expected}, got {shown!r}.")
        check_positive(system, **{f"{name}[{i}]": value[i] for i in range(shape[0])})
