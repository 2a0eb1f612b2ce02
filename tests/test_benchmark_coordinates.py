"""`benchmarks/_coordinates.py`: canonical models scored on velocity states.

An HNN whose network is a system's true Hamiltonian must give, through the conversion, the
system's hand-derived accelerations.
"""

import pathlib
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
from _coordinates import velocity_derivatives  # noqa: E402


def exact_hnn(system, key):
    """A canonical HNN whose network is the system's true H(q, p) (raw inputs, no angles)."""
    n = system.dof
    model = lz.models.HNN(n, key=key, coordinates="canonical")
    hamiltonian = lz.hamiltonian_from_lagrangian(system.lagrangian)
    return eqx.tree_at(
        lambda m: m.network, model, lambda features: hamiltonian(features[:n], features[n:])
    )


def relativistic_states(key, count):
    q_key, v_key = jax.random.split(key)
    q = jax.random.uniform(q_key, (count, 1), minval=-1.0, maxval=1.0)
    v = jax.random.uniform(v_key, (count, 1), minval=-0.95, maxval=0.95)
    return jnp.concatenate([q, v], axis=1)


def pendulum_states(key, count):
    q_key, v_key = jax.random.split(key)
    q = jax.random.uniform(q_key, (count, 2), minval=-np.pi, maxval=np.pi)
    v = jax.random.uniform(v_key, (count, 2), minval=-5.0, maxval=5.0)
    return jnp.concatenate([q, v], axis=1)


@pytest.mark.parametrize(
    "name, states",
    [("relativistic_particle", relativistic_states), ("double_pendulum", pendulum_states)],
)
def test_canonical_model_gives_the_true_accelerations(name, states, getkey):
    system = lz.systems.get(name)
    y = states(getkey(), 16)
    got = velocity_derivatives(exact_hnn(system, getkey()), system, y)
    expected = jax.vmap(lambda state: system(0.0, state, None))(y)  # closed form
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8)


def test_velocity_model_is_called_on_the_states(getkey):
    system = lz.systems.get("double_pendulum")
    model = lz.models.Baseline(2, key=getkey(), predict="acceleration")
    y = pendulum_states(getkey(), 8)
    expected = jnp.stack([model(0.0, state, None) for state in y])
    np.testing.assert_allclose(velocity_derivatives(model, system, y), expected, rtol=1e-12)
