"""JAX's persistent compilation cache, in a per-user folder: compile once across processes."""

import os
from pathlib import Path


_DISABLE_VARIABLE = "LAGRANGIAN_ZOO_NO_COMPILATION_CACHE"
_FOLDER_VARIABLE = "LAGRANGIAN_ZOO_CACHE_DIR"


def default_cache_dir() -> Path:
    """`$LAGRANGIAN_ZOO_CACHE_DIR`, else `$XDG_CACHE_HOME/lagrangian_zoo/jax`, else
    `~/.cache/lagrangian_zoo/jax`."""
    if os.environ.get(_FOLDER_VARIABLE):
        return Path(os.environ[_FOLDER_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base).expanduser() / "lagrangian_zoo" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turns on JAX's persistent compilation cache, so a new process reuses compiled programs.

    The command line and the benchmarks call this at start; a library user may call it once,
    before the first computation. Compiled programs are written to `path` (default:
    `default_cache_dir()`) and read back by any later process that builds the same program
    with the same JAX version and hardware, which then skips XLA's compilation (tracing still
    runs). Set the environment variable `LAGRANGIAN_ZOO_NO_COMPILATION_CACHE=1` to opt out
    everywhere; stale entries are harmless, and deleting the folder is always safe.

    **Arguments:**

    - `path`: the cache folder; created if missing.

    **Returns:** the folder in use, or `None` when the opt-out variable is set.
    """
    if os.environ.get(_DISABLE_VARIABLE, "").strip() not in ("", "0"):
        return None
    import jax

    folder = Path(path).expanduser() if path is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # JAX caches only programs that took a second or more to compile by default; most of ours
    # take less, and together they are most of a short run's start-up.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


__all__ = ["default_cache_dir", "enable_compilation_cache"]
