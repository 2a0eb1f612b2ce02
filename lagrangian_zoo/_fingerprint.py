"""Fingerprints of what a resumed training run must share with the interrupted one."""

import functools
import hashlib
import re
import types
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np


def data_fingerprint(data: Any) -> str:
    """A hash of a data source's arrays (their values, shapes and dtypes) and of the functions
    it holds (a `StateStream`'s sampler, say: see `callable_description`).

    A wrapper around the same arrays (a source that only slows its draws down, say) has the
    same fingerprint; changed values, other arrays or a changed function do not. The hash is
    the same in every process, so that a run can be resumed by another one.
    """
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(data):
        if isinstance(leaf, (jax.Array, np.ndarray)) or np.isscalar(leaf):
            array = np.ascontiguousarray(np.asarray(leaf))
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        elif callable(leaf):
            digest.update("|".join(callable_description(leaf)).encode())
        else:
            digest.update(_stable_repr(leaf).encode())
    return digest.hexdigest()[:16]


# `<function f at 0x7f...>`: an address differs from one process to the next.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_DEPTH = 12


def _stable_repr(value: Any) -> str:
    return _ADDRESS.sub("", repr(value))


def _qualified_name(value: Any) -> str:
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if name is None:
        return f"{type(value).__module__}.{type(value).__qualname__}"
    return f"{getattr(value, '__module__', None)}.{name}"


def callable_description(function: Callable) -> list[str]:
    """What a function computes, as text that is the same in every process.

    A Python function is described by its module and qualified name, its bytecode and
    constants (nested functions included), the values it closes over, its defaults, and the
    globals its code reads: numbers and arrays by value, functions of its own module
    recursively. `functools.partial`, bound methods and wrappers (`functools.wraps`,
    `jax.jit`) are described by their function and arguments. Functions of other modules
    (JAX's, say) are described by name only, so that upgrading a library does not change
    the description. Its `repr` would not do: it holds the function's memory address.
    """
    root = _defining_module(function)
    return _describe(function, root, set(), 0)


def _defining_module(value: Any) -> str | None:
    for _ in range(_MAX_DEPTH):
        if isinstance(value, functools.partial):
            value = value.func
        elif isinstance(value, types.MethodType):
            value = value.__func__
        elif getattr(value, "__wrapped__", None) is not None:
            value = value.__wrapped__
        else:
            break
    return getattr(value, "__module__", None)


def _describe(value: Any, root: str | None, seen: set[int], depth: int) -> list[str]:
    """`value` as text: numbers, strings and arrays by value, containers and functions by
    their parts, anything else by its type and a `repr` without memory addresses."""
    if depth > _MAX_DEPTH or id(value) in seen:
        return ["..."]
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.number)):
        return [repr(value)]
    if isinstance(value, (jax.Array, np.ndarray)):
        array = np.ascontiguousarray(np.asarray(value))
        return [f"{array.dtype}{array.shape}:{hashlib.sha256(array.tobytes()).hexdigest()}"]
    seen = seen | {id(value)}
    depth += 1
    if isinstance(value, (tuple, list)):
        return [type(value).__name__, *_describe_all(value, root, seen, depth)]
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: repr(item[0]))
        return ["dict", *_describe_all([v for item in items for v in item], root, seen, depth)]
    if isinstance(value, functools.partial):
        keywords = sorted(value.keywords.items())
        return [
            "partial",
            *_describe(value.func, root, seen, depth),
            *_describe_all(value.args, root, seen, depth),
            *_describe_all([v for item in keywords for v in item], root, seen, depth),
        ]
    if isinstance(value, types.MethodType):
        return [
            "method",
            *_describe(value.__func__, root, seen, depth),
            *_describe(value.__self__, root, seen, depth),
        ]
    if isinstance(value, types.FunctionType):
        return _describe_function(value, root, seen, depth)
    if isinstance(value, (types.ModuleType, type)):
        return [_qualified_name(value)]
    wrapped = getattr(value, "__wrapped__", None)
    if wrapped is not None:
        return [type(value).__qualname__, *_describe(wrapped, root, seen, depth)]
    if isinstance(value, eqx.Module):
        # Its arrays and functions, as `data_fingerprint` reads a data source.
        leaves = jax.tree.leaves(value)
        return [_qualified_name(type(value)), *_describe_all(leaves, root, seen, depth)]
    if callable(value) and hasattr(value, "__qualname__"):
        return [_qualified_name(value)]  # a builtin, a ufunc
    return [_qualified_name(type(value)), _stable_repr(value)]


def _describe_all(values, root, seen, depth) -> list[str]:
    return [part for value in values for part in _describe(value, root, seen, depth)]


def _describe_function(
    function: types.FunctionType, root: str | None, seen: set[int], depth: int
) -> list[str]:
    name = _qualified_name(function)
    if function.__module__ != root:
        # Another module's function (a library's): its name says what it is.
        return [name]
    cells = [cell.cell_contents for cell in function.__closure__ or () if _filled(cell)]
    kwdefaults = sorted((function.__kwdefaults__ or {}).items())
    parts = [name, *_describe_code(function.__code__)]
    parts += ["closure", *_describe_all(cells, root, seen, depth)]
    parts += ["defaults", *_describe_all(function.__defaults__ or (), root, seen, depth)]
    parts += _describe_all([v for item in kwdefaults for v in item], root, seen, depth)
    for global_name in sorted(_global_names(function.__code__)):
        if global_name not in function.__globals__:
            continue  # a builtin, or an attribute's name
        value = function.__globals__[global_name]
        if isinstance(value, types.ModuleType):
            continue
        parts += [f"global {global_name}", *_describe(value, root, seen, depth)]
    return parts


def _describe_code(code: types.CodeType) -> list[str]:
    """Bytecode, constants and names: the same for the same source in every process."""
    parts = [hashlib.sha256(code.co_code).hexdigest(), repr(code.co_names)]
    for constant in code.co_consts:
        parts.extend(_describe_constant(constant))
    return parts


def _describe_constant(constant: Any) -> list[str]:
    if isinstance(constant, types.CodeType):
        return ["code", *_describe_code(constant)]
    if isinstance(constant, (tuple, frozenset)):
        # A frozenset's order follows string hashes, which differ between processes.
        inner = [_describe_constant(c) for c in constant]
        if isinstance(constant, frozenset):
            inner.sort()
        return [type(constant).__name__, *(part for item in inner for part in item)]
    return [repr(constant)]


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


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


__all__ = [
    "callable_description",
    "data_fingerprint",
    "function_fingerprint",
    "optimizer_fingerprint",
]
