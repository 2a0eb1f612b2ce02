"""The argument validators: what each accepts, what it returns and the words of its errors."""

import math
import re

import numpy as np
import pytest
from lagrangian_zoo._validation import (
    ArgumentTypeError,
    flag,
    fraction,
    non_negative_number,
    one_of,
    positive_int,
    positive_number,
)


def test_positive_int_takes_integers_and_refuses_the_rest():
    assert positive_int("", "steps", 3) == 3
    value = positive_int("", "steps", np.int64(7))
    assert value == 7 and type(value) is int  # a plain int, fit for a static field
    assert positive_int("", "size", 4, minimum=4) == 4
    with pytest.raises(ValueError, match=r"^`steps` must be a positive int, got 0\.$"):
        positive_int("", "steps", 0)
    with pytest.raises(ValueError, match=r"^Baseline: `width` must be an int >= 2, got 1\.$"):
        positive_int("Baseline:", "width", 1, minimum=2)
    for bad in (True, 2.0, "3", None):
        # A wrong type is a TypeError, and a ValueError as the hand-written checks raised.
        with pytest.raises(ArgumentTypeError, match=rf"got {re.escape(repr(bad))}\.$") as caught:
            positive_int("wave: parameter", "points", bad)
        assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
        assert str(caught.value).startswith("wave: parameter `points` must be a positive int")
    with pytest.raises(ValueError, match=r"`bodies` must be an int of at least 2, got 1"):
        positive_int("n_body: parameter", "bodies", 1, minimum=2, expected="an int of at least 2")


@pytest.mark.parametrize("good", [0.5, 3, np.float32(2.0), 1e300])
def test_positive_number_returns_a_float(good):
    value = positive_number("", "scale", good)
    assert value == float(good) and type(value) is float


@pytest.mark.parametrize(
    "bad, error, words",
    [
        (0.0, ValueError, "`scale` must be positive and finite, got 0.0."),
        (-1.0, ValueError, "`scale` must be positive and finite, got -1.0."),
        (math.inf, ValueError, "`scale` must be positive and finite, got inf."),
        (math.nan, ValueError, "`scale` must be positive and finite, got nan."),
        (True, ArgumentTypeError, "`scale` must be a positive number, got True."),
        ("1", ArgumentTypeError, "`scale` must be a positive number, got '1'."),
    ],
)
def test_positive_number_refuses(bad, error, words):
    with pytest.raises(error) as caught:
        positive_number("", "scale", bad)
    assert str(caught.value) == words


def test_positive_number_rewords_the_type_and_the_range():
    with pytest.raises(TypeError, match=r"^DeLaN: `epsilon` must be a float, got 'small'\.$"):
        positive_number("DeLaN:", "epsilon", "small", expected="a float")
    with pytest.raises(ValueError, match=r"^`dt` must be a positive, finite number, got 0\.$"):
        positive_number("", "dt", 0, expected_value="a positive, finite number")


def test_non_negative_number_and_fraction():
    assert non_negative_number("", "noise_std", 0) == 0.0
    with pytest.raises(ValueError, match=r"^`noise_std` must be finite and >= 0, got -0\.1\.$"):
        non_negative_number("", "noise_std", -0.1)
    with pytest.raises(TypeError, match=r"^`noise_std` must be a number >= 0, got False\.$"):
        non_negative_number("", "noise_std", False)
    assert fraction("", "fraction", 0.25) == 0.25
    for edge in (0, 1, 1.5, -0.5, math.nan):
        with pytest.raises(ValueError, match="`fraction` must lie strictly between 0 and 1"):
            fraction("", "fraction", edge)
    with pytest.raises(TypeError, match=r"`fraction` must be a number in \(0, 1\), got True"):
        fraction("", "fraction", True)


def test_flag_and_one_of():
    assert flag("LNN:", "dissipation", False) is False
    for bad in (0, 1, "yes", None):
        with pytest.raises(TypeError, match=r"^LNN: `dissipation` must be a bool, got"):
            flag("LNN:", "dissipation", bad)
    assert one_of("", "coordinates", "canonical", ("velocity", "canonical")) == "canonical"
    with pytest.raises(
        ValueError, match=r"^`coordinates` must be one of 'velocity', 'canonical', got 'polar'\.$"
    ):
        one_of("", "coordinates", "polar", ("velocity", "canonical"))
    with pytest.raises(ValueError, match="got True"):  # True == 1, but is not the choice 1
        one_of("", "dimensions", True, (1, 3))


def test_one_of_compares_by_type_too():
    # An array compared with the choices would give an array, not an answer.
    with pytest.raises(ValueError, match=r"^`scheme` must be one of 'central', got array"):
        one_of("", "scheme", np.array(["central"]), ("central",))
    with pytest.raises(ValueError, match=r"got 1\.0\.$"):
        one_of("", "dimensions", 1.0, (1, 3))
