"""Systems by name: `names()` and `get(name, **params)`."""

import dataclasses
import difflib

from ._base import AbstractSystem


_REGISTRY: dict[str, type[AbstractSystem]] = {}


def register(cls: type[AbstractSystem]) -> type[AbstractSystem]:
    """Adds a system class to the registry under its `name`."""
    _REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    """The names of the analytic systems, sorted."""
    return sorted(_REGISTRY)


def system_class(name: str) -> type[AbstractSystem]:
    """The class registered under `name`, with a helpful error for unknown names."""
    if not isinstance(name, str):
        raise TypeError(f"a system name must be a string, got {type(name).__name__}.")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown system {name!r}.{hint} Known systems: {', '.join(names())}.")
    return _REGISTRY[name]


def parameters(name: str) -> dict[str, object]:
    """The parameters of a system and their defaults."""
    cls = system_class(name)
    out = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if field.default is not dataclasses.MISSING:
            out[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            out[field.name] = field.default_factory()
    return out


def get(name: str, **params) -> AbstractSystem:
    """Builds the system `name`; keyword arguments set its parameters.

    **Arguments:**

    - `name`: one of [`lagrangian_zoo.systems.names`][]`()`.
    - `**params`: parameter values, e.g. `get("pendulum_chain", links=4)`.

    **Returns:** the system, an [`lagrangian_zoo.systems.AbstractSystem`][].

    Unknown names and parameters raise a `ValueError` that lists the known ones; invalid values
    (a negative length or mass) are refused by the system itself.
    """
    cls = system_class(name)
    known = [field.name for field in dataclasses.fields(cls) if field.init]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for system {name!r}; its "
            f"parameters are: {', '.join(known) or '(none)'}."
        )
    return cls(**params)
