import jax
import jax.numpy as jnp
import numpy as np


def tree_allclose(x, y, *, rtol=1e-5, atol=1e-8) -> bool:
    """Whether two pytrees have the same structure and all leaves close."""
    if jax.tree.structure(x) != jax.tree.structure(y):
        return False
    return all(
        np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)
        for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y))
    )


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max(1, max |expected|)."""
    actual, expected = jnp.asarray(actual), jnp.asarray(expected)
    return float(
        jnp.max(jnp.abs(actual - expected)) / jnp.maximum(1.0, jnp.max(jnp.abs(expected)))
    )
