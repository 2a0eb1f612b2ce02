"""The lowest layer: atomic file writes, the library's version, PRNG-key serialisation.

Nothing here imports the rest of the package, so every module may import it.
"""

import contextlib
import importlib.metadata
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any, IO


def library_version() -> str:
    """The installed version of lagrangian_zoo, recorded in every file it writes."""
    try:
        return importlib.metadata.version("lagrangian_zoo")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0.1.0"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, make_folder: bool = False) -> Iterator[str]:
    """A temporary path beside `path` that replaces `path` only if the block succeeds.

    For writers that want a file name (matplotlib, Pillow): the temporary name keeps the
    suffix, from which they infer the format. On success the file is synced to disk and renamed
    over `path` (a rename within one file system is atomic), so readers see either the old or
    the new content, never a part; on failure the temporary file is removed and `path` is left
    as it was.

    **Arguments:**

    - `path`: the file to write.
    - `make_folder`: create missing parent folders; otherwise a missing folder is an error.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if make_folder:
        os.makedirs(folder, exist_ok=True)
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"cannot write '{path}': the folder '{folder}' does not exist; create it first."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write '{path}': it is a folder, not a file.")
    stem, suffix = os.path.splitext(os.path.basename(path))
    temporary = os.path.join(folder, f".{stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")
    try:
        yield temporary
        # A writer that closed its own file has flushed it; the sync makes it durable.
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    # The rename itself is durable only once the folder entry is on disk (POSIX).
    try:
        folder_descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder_descriptor)
    except OSError:
        pass
    finally:
        os.close(folder_descriptor)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Writes a file so that readers see either its old or its new content, never a part.

    `write(file)` fills a temporary binary file in the same folder (see `atomic_path`).
    """
    with atomic_path(path) as temporary:
        # os.open with 0o666 lets the umask decide the permissions, as for any new file
        # (tempfile.mkstemp's private 0600 would survive the rename).
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as file:
            write(file)


def is_prng_key(key: Any) -> bool:
    """Whether `key` is a JAX PRNG key: a new-style key array, or a raw `uint32` one of shape
    `(2,)`-like (1-D)."""
    import jax
    import jax.numpy as jnp

    return isinstance(key, jax.Array) and (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
        or (key.dtype == jnp.uint32 and key.ndim == 1)
    )


def key_data(key: Any) -> list[int]:
    """A PRNG key (new-style or raw `uint32`) as a list of ints, for JSON files."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    key = jnp.asarray(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.asarray(key).ravel().tolist()


__all__ = ["atomic_path", "atomic_write", "is_prng_key", "key_data", "library_version"]
