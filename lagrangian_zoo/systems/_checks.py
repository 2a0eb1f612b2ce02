"""Validation of tuple-valued physical parameters (masses, lengths of several bodies)."""

from jaxtyping import ArrayLike

from ._base import check_positive


def check_entries(
    system: str, size: int | None = None, **values: tuple[float | ArrayLike, ...]
) -> None:
    """Refuses a tuple parameter of the wrong length, or with a non-positive entry.

    Each entry is checked on its own, so the error names it (`masses[1]`).
    """
    for name, value in values.items():
        if not isinstance(value, tuple) or (size is not None and len(value) != size):
            expected = "a tuple" if size is None else f"a tuple of {size} numbers"
            raise ValueError(f"{system}: parameter `{name}` must be {expected}, got {value!r}.")
        check_positive(system, **{f"{name}[{i}]": entry for i, entry in enumerate(value)})
