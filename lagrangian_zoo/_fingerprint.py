"""Fingerprints of what a resumed training run must share with the interrupted one."""

import functools
import hashlib
import types
from typing import Any

import jax
import numpy as np


def data_fingerprint(data: Any) -> str:
    """A hash of a data source's arrays: their values, shapes and dtypes.

    A wrapper around the same arrays (a source that only slows its draws down, say) has the
    same fingerprint; changed values, or other arrays, do not.
    """
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(data):
        if isinstance(leaf, (jax.Array, np.ndarray)) or np.isscalar(leaf):
            array = np.ascontiguousarray(np.asarray(leaf))
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        else:
            digest.update(repr(leaf).encode())
    return digest.hexdigest()[:16]


def _numbers(value: Any, seen: set[int], depth: int = 0) -> list[str]:
    """The numbers a transformation is built from, found in its closures and defaults.

    optax builds optimizers as closures over their hyperparameters (learning rates,
    betas, schedules); a walk through `__closure__` and `__defaults__` reads them back.
    """
    if depth > 12 or id(value) in seen:
        return []
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return [repr(value)]
    if isinstance(value, (int, float, complex, np.number)):
        return [repr(float(value)) if not isinstance(value, complex) else repr(value)]
    if isinstance(value, (jax.Array, np.ndarray)):
        array = np.asarray(value)
        if array.size > 64:
            return [f"array{array.shape}{array.dtype}"]
        return [f"{array.dtype}{array.tolist()}"]
    seen.add(id(value))
    found: list[str] = []
    if isinstance(value, functools.partial):
        parts = [value.func, *value.args, *value.keywords.values()]
    elif isinstance(value, types.FunctionType):
        cells = [cell.cell_contents for cell in value.__closure__ or () if _filled(cell)]
        parts = [*cells, *(value.__defaults__ or ()), *(value.__kwdefaults__ or {}).values()]
        found.append(value.__qualname__)
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    elif isinstance(value, dict):
        parts = [
            item for pair in sorted(value.items(), key=lambda kv: repr(kv[0])) for item in pair
        ]
    else:
        return [type(value).__qualname__]
    for part in parts:
        found.extend(_numbers(part, seen, depth + 1))
    return found


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


def optimizer_fingerprint(optimizer: Any) -> str | None:
    """A hash of an optax optimizer's kind and hyperparameters, or `None` if none were found.

    Read from the closures of its `init` and `update` functions (where optax keeps them);
    an optimizer written some other way may hide its numbers, and then `None` says that
    this cannot tell two such optimizers apart.
    """
    return _hash_of_numbers(
        _numbers(getattr(optimizer, "update", None), set())
        + _numbers(getattr(optimizer, "init", None), set())
    )


def function_fingerprint(function: Any) -> str | None:
    """A hash of a function's name and the numbers it closes over (as for optimizers)."""
    return _hash_of_numbers(_numbers(function, set()), require_numbers=False)


def _hash_of_numbers(found: list[str], *, require_numbers: bool = True) -> str | None:
    if require_numbers and not any(_is_number(entry) for entry in found):
        return None
    return hashlib.sha256("|".join(found).encode()).hexdigest()[:16]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


__all__ = ["data_fingerprint", "function_fingerprint", "optimizer_fingerprint"]
