import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st


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


@st.composite
def damaged(draw, content: bytes, header: tuple[int, int]) -> bytes:
    """`content` damaged once: truncated, bit-flipped, grown by inserted bytes, or with a
    character of its header (the byte range `header`) replaced."""
    size = len(content)
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "edit header"]))
    if kind == "truncate":
        return content[: draw(st.integers(0, size - 1))]
    if kind == "flip":
        out = bytearray(content)
        for _ in range(draw(st.integers(1, 3))):
            out[draw(st.integers(0, size - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(out)
    if kind == "insert":
        at = draw(st.integers(0, size))
        return content[:at] + draw(st.binary(min_size=1, max_size=16)) + content[at:]
    start, end = header
    at = draw(st.integers(start, end - 1))
    character = draw(st.sampled_from(b'0123456789{}[]":,.-+eE ntfalsruxyz\\'))
    return content[:at] + bytes([character]) + content[at + 1 :]


def run_benchmark(script, out, *options: str, compilation_cache: bool = False, timeout=900):
    """Runs `python benchmarks/<script>.py --quick --out <out> [options]` on the CPU, in the
    benchmarks folder, and fails with the end of its stderr if it fails.

    With `compilation_cache=True` the script keeps its compiled programs in the persistent
    cache, as a user's run does (the test session turns it off for its own process).
    """
    environment = dict(os.environ, JAX_PLATFORMS="cpu")
    if compilation_cache:
        environment.pop("LAGRANGIAN_ZOO_NO_COMPILATION_CACHE", None)
    script = pathlib.Path(script)
    completed = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(out), *options],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=script.parent,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
