"""Shared pieces of the benchmark scripts: command line, machine and versions, results files.

Every script writes `<name>.json` (the format in the design notes: benchmark, mode, created,
machine, versions, config, rows) and a Markdown table `<name>.md` beside it. Full runs write to
`benchmarks/results/`; quick runs write to a fresh temporary folder unless `--out` is given, so
that a smoke run never overwrites committed results. Files are written atomically (a temporary
file in the same folder, then `os.replace`), so a reader never sees half a file.
"""

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import optax


RESULTS_DIR = Path(__file__).resolve().parent / "results"

_PACKAGES = ("lagrangian_zoo", "jax", "jaxlib", "equinox", "diffrax", "optax", "numpy")


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """`--quick` (the default, a smoke run) or `--full` (the papers' scale), and `--out DIR`.

    `extra(parser)`, when given, adds a script's own options.
    """
    parser = argparse.ArgumentParser(description=description)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a smoke run (default)")
    mode.add_argument("--full", action="store_true", help="the full, committed run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the results (default: benchmarks/results for --full, a temporary "
        "folder for --quick)",
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    args.mode = "full" if args.full else "quick"
    return args


def output_dir(args: argparse.Namespace, name: str) -> Path:
    """Where a run writes: `--out`, else `benchmarks/results` (full) or a temporary folder."""
    if args.out is not None:
        directory = Path(args.out)
    elif args.mode == "full":
        directory = RESULTS_DIR
    else:
        directory = Path(tempfile.mkdtemp(prefix=f"lagrangian_zoo_{name}_"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """`--resume`, `--max-minutes`, `--seeds` and `--steps`: the options of a sliced full run."""
    parser.add_argument("--resume", action="store_true", help="continue a partial full run")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="start no new training after this many minutes (resume later with --resume)",
    )
    parser.add_argument("--seeds", type=int, default=None, help="override the number of seeds")
    parser.add_argument("--steps", type=int, default=None, help="override the training steps")


def previous_runs(args: argparse.Namespace, results_path: Path, *, steps: int) -> list[dict]:
    """With `--resume`, the runs of the same mode and step count already in `results_path`."""
    if not (args.resume and results_path.exists()):
        return []
    document = json.loads(results_path.read_text())
    runs = []
    if document.get("mode") == args.mode:
        runs = [r for r in document.get("runs", []) if r["steps"] == steps]
    print(f"resuming: {len(runs)} results already in {results_path}", flush=True)
    return runs


_Config = TypeVar("_Config")


def with_overrides(config: _Config, **overrides: Any) -> _Config:
    """`config` (a dataclass) with the fields a command-line option set; `None` keeps one."""
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def out_of_time(max_minutes: float | None, started: float) -> bool:
    """Whether `--max-minutes` have passed since `started` (a `time.perf_counter()` reading):
    a sliced full run then starts nothing new."""
    return max_minutes is not None and (time.perf_counter() - started) / 60 > max_minutes


def clipped_adam(
    learning_rate: float, steps: int, gradient_clip: float | None = None
) -> optax.GradientTransformation:
    """Adam with a cosine decay of the learning rate to 0 over `steps`, after clipping the
    gradient to the global norm `gradient_clip` (no clipping when `None`)."""
    adam = optax.adam(optax.cosine_decay_schedule(learning_rate, steps))
    if gradient_clip is None:
        return adam
    return optax.chain(optax.clip_by_global_norm(gradient_clip), adam)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """The CPU, the JAX devices, the core count and the load when the run started."""
    import jax

    info: dict[str, Any] = {
        "cpu": _cpu_name(),
        "devices": [f"{d.platform}:{d.id}" for d in jax.devices()],
        "device_kinds": sorted({d.device_kind for d in jax.devices()}),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    return info


def versions() -> dict[str, str]:
    """Installed versions of the library and the stack it runs on."""
    found = {}
    for package in _PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def atomic_write_text(path: Path, text: str) -> None:
    """Writes `text` to `path` through a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table of `rows`; the columns default to every key, in order of appearance."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_format(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(
    directory: Path,
    name: str,
    mode: str,
    config: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    notes: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Writes `<name>.json` and `<name>.md` into `directory`; returns both paths.

    `extra` adds top-level entries to the JSON document (for example `"partial": true` and the
    per-seed results a resumed run continues from); the Markdown file shows only the rows.
    """
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {
        "benchmark": name,
        "mode": mode,
        "created": created,
        "machine": machine_info(),
        "versions": versions(),
        "config": dict(config),
        "rows": [dict(row) for row in rows],
        **dict(extra or {}),
    }
    json_path = Path(directory) / f"{name}.json"
    markdown_path = Path(directory) / f"{name}.md"
    atomic_write_text(json_path, json.dumps(document, indent=2, allow_nan=True) + "\n")
    machine = document["machine"]
    header = [
        f"# {title or name}",
        "",
        f"Mode `{mode}`, created {created} on {machine['cpu']} ({machine['cores']} cores, "
        f"devices {', '.join(machine['devices'])}); jax {document['versions']['jax']}.",
        "",
    ]
    header += [f"{note}\n" for note in notes]
    atomic_write_text(markdown_path, "\n".join(header) + "\n" + markdown_table(rows, columns))
    return json_path, markdown_path


def write_run_results(
    directory: Path,
    name: str,
    mode: str,
    config: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    runs: Sequence[Mapping[str, Any]],
    *,
    partial: bool,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    notes: Iterable[str] = (),
) -> tuple[Path, Path]:
    """`write_results` for a benchmark of many trainings that `--resume` continues: the
    per-run results (`runs`) and `partial` are stored beside the rows, and a partial run's
    notes start with how to continue it."""
    if partial:
        notes = [
            f"**Partial**: continue with `python benchmarks/{name}.py --full --resume`.",
            *notes,
        ]
    return write_results(
        directory,
        name,
        mode,
        config,
        rows,
        columns=columns,
        title=title,
        notes=notes,
        extra={"partial": partial, "runs": runs},
    )


def block(tree: Any) -> Any:
    """Waits for every array in a pytree (JAX dispatch is asynchronous)."""
    import jax

    return jax.block_until_ready(tree)


def time_call(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Times `fn()` once to compile and warm up, then `repeats` times; seconds per call."""
    start = time.perf_counter()
    block(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        block(fn())
        times.append(time.perf_counter() - start)
    return {
        "seconds": statistics.median(times),
        "seconds_min": min(times),
        "first_call_seconds": first,
    }
