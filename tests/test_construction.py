"""The shared construction of models (config from the constructor) and the rewordings of the
argument validators, checked against hand-written expectations."""

import re

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import pytest
from lagrangian_zoo._data import split_rows
from lagrangian_zoo._validation import (
    ArgumentTypeError,
    non_negative_number,
    one_of,
    positive_int,
    prng_key,
)
from lagrangian_zoo._windows import RolloutWindows
from lagrangian_zoo.models._construction import constructor_config


KEY = jax.random.key(0)


def test_config_is_every_constructor_argument_in_order():
    model = lz.models.LNN(
        2,
        key=KEY,
        width=3,
        depth=1,
        init="default",
        periodic=[True, False],
        mass_prior=True,
        dissipation=True,
        dissipation_width=4,
        method="paper",
        checks=False,
    )
    expected = {
        "dof": 2,
        "width": 3,
        "depth": 1,
        "activation": "softplus",
        "init": "default",
        "periodic": [True, False],
        "mass_prior": True,
        "dissipation": True,
        "dissipation_width": 4,
        "dissipation_depth": 2,
        "method": "paper",
        "checks": False,
    }
    config = model.config()
    assert list(config) == list(expected) and config == expected
    # The option only one pairwise model takes comes where its signature has it.
    pairwise = lz.models.PairwiseHamiltonian(4, key=KEY, width=2, depth=1, coordinates="velocity")
    assert list(pairwise.config()) == [
        "dof",
        "dimension",
        "width",
        "depth",
        "activation",
        "init",
        "masses_per_body",
        "form",
        "coordinates",
        "periodic",
        "checks",
    ]
    assert pairwise.config()["coordinates"] == "velocity"
    with pytest.raises(TypeError, match=r"LNN\.config: \['masses'\] are not arguments"):
        constructor_config(model, masses=1)


def test_validator_rewordings():
    with pytest.raises(ValueError, match=r"^`w` must be an int in \[2, 4\], got 5\.$"):
        positive_int("", "w", 5, minimum=2, maximum=4)
    assert positive_int("", "w", 4, minimum=2, maximum=4) == 4
    with pytest.raises(ValueError, match=r"^`k` must be >= 0, got -1\.$"):
        positive_int("", "k", -1, minimum=0, expected="an int", expected_value=">= 0")
    with pytest.raises(ArgumentTypeError, match=r"^`k` must be an int, got 1\.5\.$"):
        positive_int("", "k", 1.5, minimum=0, expected="an int", expected_value=">= 0")
    with pytest.raises(ValueError, match=r"^`c` must be a number >= 0 \(0: off\), got -1\.0\.$"):
        non_negative_number("", "c", -1.0, expected_value="a number >= 0 (0: off)")
    with pytest.raises(ValueError, match=r"^X: `d` must be the int 2 or 3, got 2\.0\.$"):
        one_of("X:", "d", 2.0, (2, 3), expected="the int 2 or 3")
    assert prng_key("", "key", KEY) is KEY
    raw = jax.random.PRNGKey(0)
    assert prng_key("", "key", raw) is raw
    with pytest.raises(TypeError, match=r"^`key` must be a JAX PRNG key such as .*, got 0\.$"):
        prng_key("", "key", 0)


def test_call_sites_keep_their_messages():
    def lagrangian(q, q_t):
        return 0.5 * q_t @ q_t

    with pytest.raises(ValueError, match=r"^`max_steps` must be a positive int, got 0\.$"):
        lz.velocities(lagrangian, max_steps=0)
    with pytest.raises(
        ValueError, match=r"^`rtol` must be a positive number or None, got -1\.0\.$"
    ):
        lz.velocities(lagrangian, rtol=-1.0)
    ts = jnp.linspace(0.0, 1.0, 3)
    dataset = lz.Dataset(ts=ts, y=jnp.zeros((2, 3, 2)), dy=jnp.zeros((2, 3, 2)))
    words = "`rollout_window` must be an int in [2, 3] (the dataset has 3 times per trajectory)"
    for bad in (4, 1, True):
        with pytest.raises(ValueError, match=re.escape(f"{words}, got {bad!r}.")):
            RolloutWindows(dataset, bad)
    with pytest.raises(TypeError, match=r"^`key` must be a JAX PRNG key \(jax\.random\.key"):
        split_rows(0.5, 7, 4, "trajectory")
