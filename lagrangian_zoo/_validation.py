"""Checks of plain Python arguments (counts, scales, fractions, flags, choices, PRNG keys) at
the public entry points, with one wording for each kind of mistake.

Each check names the argument, the value that came and what was expected, and returns the
value in its plain type. `owner` is what the message starts with, such as `"DeLaN:"` or
`"wave: parameter"`, or `""` for a function's own argument. A `bool` is never taken for a
number, although Python counts it as an `int`.
"""

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ._io import is_prng_key


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type.

    A `TypeError`, and a `ValueError` too: the checks these validators replaced raised
    `ValueError` for every bad value, and code that catches that keeps working.
    """


def _label(owner: str, name: str) -> str:
    return f"{owner} `{name}`" if owner else f"`{name}`"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(
    owner: str,
    name: str,
    value: Any,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    expected: str | None = None,
    expected_value: str | None = None,
) -> int:
    """`value` as an `int`, if it is an integer of at least `minimum` (and at most `maximum`).

    `expected` rewords what the message asks for (default: "a positive int", or
    "an int >= minimum", or "an int in [minimum, maximum]"); `expected_value`, if given, what
    an integer out of range is told instead.
    """
    if expected is None:
        if maximum is not None:
            expected = f"an int in [{minimum}, {maximum}]"
        else:
            expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{_label(owner, name)} must be {expected}, got {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        wanted = expected if expected_value is None else expected_value
        raise ValueError(f"{_label(owner, name)} must be {wanted}, got {value!r}.")
    return int(value)


def positive_number(
    owner: str,
    name: str,
    value: Any,
    *,
    expected: str = "a positive number",
    expected_value: str = "positive and finite",
) -> float:
    """`value` as a `float`, if it is a finite real number above 0.

    `expected` rewords what a value of the wrong type is told, `expected_value` what a number
    out of range is told.
    """
    if not _is_number(value):
        raise ArgumentTypeError(f"{_label(owner, name)} must be {expected}, got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{_label(owner, name)} must be {expected_value}, got {value!r}.")
    return float(value)


def non_negative_number(
    owner: str,
    name: str,
    value: Any,
    *,
    expected: str = "a number >= 0",
    expected_value: str = "finite and >= 0",
) -> float:
    """`value` as a `float`, if it is a finite real number of at least 0.

    `expected` and `expected_value` reword the messages, as for `positive_number`.
    """
    if not _is_number(value):
        raise ArgumentTypeError(f"{_label(owner, name)} must be {expected}, got {value!r}.")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{_label(owner, name)} must be {expected_value}, got {value!r}.")
    return float(value)


def fraction(owner: str, name: str, value: Any) -> float:
    """`value` as a `float`, if it lies strictly between 0 and 1."""
    if not _is_number(value):
        raise ArgumentTypeError(
            f"{_label(owner, name)} must be a number in (0, 1), got {value!r}."
        )
    if not 0 < value < 1:
        raise ValueError(f"{_label(owner, name)} must lie strictly between 0 and 1, got {value}.")
    return float(value)


def flag(owner: str, name: str, value: Any) -> bool:
    """`value`, if it is `True` or `False` (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{_label(owner, name)} must be a bool, got {value!r}.")
    return value


def one_of(
    owner: str, name: str, value: Any, choices: Sequence[Any], *, expected: str | None = None
) -> Any:
    """`value`, if it is one of `choices`.

    `expected` rewords what the message asks for (default: "one of " and the choices).
    """
    # By type as well as value: `True in (1, 3)` holds, and an array compared with a string
    # gives an array, not an answer.
    if isinstance(value, bool) or not any(
        isinstance(value, type(choice)) and value == choice for choice in choices
    ):
        if expected is None:
            expected = "one of " + ", ".join(map(repr, choices))
        raise ValueError(f"{_label(owner, name)} must be {expected}, got {value!r}.")
    return value


def prng_key(
    owner: str,
    name: str,
    value: Any,
    *,
    expected: str = "a JAX PRNG key such as jax.random.key(0)",
) -> Any:
    """`value`, if it is a JAX PRNG key (a new-style key, or a raw `uint32` one).

    `expected` rewords what the message asks for.
    """
    if not is_prng_key(value):
        raise ArgumentTypeError(f"{_label(owner, name)} must be {expected}, got {value!r}.")
    return value
