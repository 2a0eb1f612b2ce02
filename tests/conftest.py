import os


# XLA's LLVM optimisations make a CPU program faster to run and slower to compile. The suite's
# programs are small and each runs a few times, so compiling is most of its time; without the
# optimisations it runs about a quarter faster and computes the same numbers to rounding. Set
# before JAX starts its backend; subprocesses of the tests inherit it.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
).strip()

import jax  # noqa: E402
import jax.random as jr
import pytest


# The command line turns on JAX's persistent compilation cache; the suite runs without it (a
# test of its own gives it a temporary folder), so no test reads programs another one wrote.
os.environ.setdefault("LAGRANGIAN_ZOO_NO_COMPILATION_CACHE", "1")
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """A fresh PRNG key on every call, from a fixed seed per test."""
    key = jr.key(5678)

    def _getkey():
        nonlocal key
        key, subkey = jr.split(key)
        return subkey

    return _getkey
