import atexit
import os
import shutil
import tempfile


# XLA's LLVM optimisations make a CPU program faster to run and slower to compile. The suite's
# programs are small and each runs a few times, so compiling is most of its time; without the
# optimisations it runs about a quarter faster and computes the same numbers to rounding. Set
# before JAX starts its backend; subprocesses of the tests inherit it.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
).strip()

# One persistent compilation cache for the whole run, in a fresh folder: both workers and every
# benchmark subprocess read the programs another one compiled (the quick modes and the docs'
# examples build many of the same programs), and no run reads a program of an earlier run. The
# process that makes the folder removes it at exit; xdist's workers inherit its name. The
# compile-counting tests still count a program loaded from it (JAX times a cache hit under the
# same compile event).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache_dir = tempfile.mkdtemp(prefix="lagrangian-zoo-test-cache-")
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache_dir
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import jax  # noqa: E402
import jax.random as jr
import pytest


# The library's own switch (`lz.enable_compilation_cache`, which the command line calls) stays
# off, so that it leaves the run's folder in place; a test of its own gives it a temporary one.
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


# The longest test files first (the sums of their tests' durations on 2 cores, measured on a
# clean clone, longest first). `make test` hands whole files to its two workers in collection
# order (`--dist loadfile`); when a long file came late, it ran on alone at the end while the
# other worker sat idle. Other files keep their alphabetical order after these.
LONGEST_FILES = (
    "test_docs.py",
    "test_benchmark_hnn_tasks.py",
    "test_benchmark_quick_modes.py",
    "test_lgn.py",
    "test_benchmark_lnn_double_pendulum.py",
    "test_training.py",
    "test_benchmark_n_body.py",
    "test_benchmark_constrained.py",
    "test_benchmark_robustness.py",
    "test_benchmark_delan_character.py",
    "test_benchmark_swing_up.py",
    "test_pair_prior.py",
    "test_rollout_cache.py",
    "test_inputs_training.py",
    "test_energy_shaping.py",
    "test_metrics.py",
    "test_demo.py",
    "test_models.py",
    "test_compile.py",
    "test_rollout.py",
    "test_implicit_midpoint.py",
    "test_benchmark_speed.py",
    "test_cli.py",
    "test_mechanics.py",
    "test_float32.py",
    "test_windows.py",
    "test_benchmark_lgn_wave.py",
    "test_n_body_system.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
