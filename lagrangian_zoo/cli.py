"""The `lagrangian-zoo` command line: a thin layer over the library.

Every mistake a user can make (an unknown system, model or setting, a missing file, a value out
of range) ends the command with exit code 2 and one line on standard error that starts with
`error:`, never a traceback. A computation that fails on valid input (a diverging training, a
solver that gives up) ends with exit code 1, the same way.
"""

import functools
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import tomllib
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup


console = Console()
err_console = Console(stderr=True)

# Mistakes in what the user asked for: exit code 2, like a usage error.
_USER_ERRORS = (ValueError, TypeError, KeyError, OSError)
# Failures of a computation that was asked for correctly: exit code 1.
_RUN_ERRORS = (FloatingPointError, RuntimeError)
_EQUINOX_MESSAGE = re.compile(r"EquinoxRuntimeError: (.+)")


def _error(message: str, code: int):
    # soft_wrap: one line whatever the terminal width, so scripts can read it.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    if isinstance(error, RuntimeError):
        # Errors raised inside compiled code (equinox.error_if) carry the library's message
        # after the name of the error, below a note about the JIT stack.
        found = _EQUINOX_MESSAGE.search(text)
        if found:
            return found.group(1).strip()
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename!r}."
    return text.splitlines()[0] if text else type(error).__name__


class _OneLineErrors(TyperGroup):
    """Reports usage errors (a missing option, a value out of range) in one `error:` line."""

    def main(
        self,
        args=None,
        prog_name=None,
        complete_var=None,
        standalone_mode=True,
        windows_expand_args=True,
        **extra,
    ):
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        arguments = sys.argv[1:] if args is None else list(args)
        if not arguments:
            # `lagrangian-zoo` alone shows the help (no_args_is_help), as Typer does it.
            return super().main(arguments, prog_name, complete_var, True, **extra)
        try:
            code = super().main(
                arguments, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except Exception as error:
            # Click's usage errors (vendored by recent Typer, so matched by their interface):
            # a missing option, an unknown option, a value Click itself refused.
            exit_code = getattr(error, "exit_code", None)
            format_message = getattr(error, "format_message", None)
            if not (callable(format_message) and isinstance(exit_code, int)):
                if type(error).__name__ == "Abort":
                    err_console.print("aborted.")
                    sys.exit(1)
                raise
            message = str(format_message())
            ctx = getattr(error, "ctx", None)
            if exit_code == 2 and ctx is not None:
                message = f"{message} (see `{ctx.command_path} --help`)"
            _error(message, exit_code)
            sys.exit(exit_code)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="lagrangian-zoo",
    help="Learn the dynamics of physical systems with networks that respect physics.",
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _friendly(command):
    """Turns the library's clear errors into one line and an exit code, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except tomllib.TOMLDecodeError as error:
            raise _error(f"the --config file is not valid TOML: {error}", 2) from None
        except _USER_ERRORS as error:
            raise _error(_first_line(error), 2) from None
        except _RUN_ERRORS as error:
            raise _error(_first_line(error), 1) from None
        except KeyboardInterrupt:
            note = (
                ": the last checkpoint is kept; continue with --resume"
                if command.__name__ == "train"
                else ""
            )
            err_console.print(f"interrupted{note}.", soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


# Set by the `--no-compilation-cache` option before a command runs.
_settings = {"compilation_cache": True}


@app.callback()
def _options(
    compilation_cache: Annotated[
        bool,
        typer.Option(
            "--compilation-cache/--no-compilation-cache",
            help="Reuse compiled programs across runs (cache: ~/.cache/lagrangian_zoo).",
        ),
    ] = True,
) -> None:
    """Learn the dynamics of physical systems with networks that respect physics."""
    _settings["compilation_cache"] = compilation_cache


def _setup_precision(float64: bool) -> None:
    # JAX is imported here, by the commands that compute, so that `--help` stays quick.
    import jax

    from ._cache import enable_compilation_cache

    jax.config.update("jax_enable_x64", bool(float64))
    if _settings["compilation_cache"]:
        enable_compilation_cache()


def _parse_params(params: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in params or []:
        name, separator, raw = item.partition("=")
        if not separator or not name.strip():
            raise ValueError(f"--param must look like NAME=VALUE, got {item!r}.")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
        # Physical parameters are numbers or lists of numbers (masses, lengths).
        entries = value if isinstance(value, list) else [value]
        if not entries or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in entries
        ):
            raise ValueError(
                f"--param {item!r}: the value must be a number or a list of numbers such as "
                "[1.0, 2.0]."
            )
        out[name.strip()] = tuple(value) if isinstance(value, list) else value
    return out


def _load_config(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not config.is_file():
        raise FileNotFoundError(f"--config file {str(config)!r} does not exist.")
    with open(config, "rb") as f:
        return tomllib.load(f)


def _positive(option: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{option} must be a positive number, got {value}.")


@app.command()
@_friendly
def systems() -> None:
    """List the analytic systems, their degrees of freedom and parameters."""
    from . import systems as zoo_systems

    table = Table(title="lagrangian_zoo systems")
    table.add_column("name", style="bold")
    table.add_column("dof", justify="right")
    table.add_column("parameters (defaults)")
    for name in zoo_systems.names():
        system = zoo_systems.get(name)
        params = ", ".join(f"{k}={v}" for k, v in zoo_systems.parameters(name).items())
        table.add_row(name, str(system.dof), params)
    console.print(table)


@app.command()
@_friendly
def generate(
    system: Annotated[str, typer.Option(help="System name (see `lagrangian-zoo systems`).")],
    out: Annotated[Path, typer.Option(help="Output .npz file.")],
    trajectories: Annotated[int, typer.Option(min=1)] = 100,
    t_end: Annotated[float, typer.Option(help="Final time of each trajectory.")] = 3.0,
    samples: Annotated[int, typer.Option(min=2, help="Samples per trajectory.")] = 30,
    noise_std: Annotated[float, typer.Option(min=0.0)] = 0.0,
    coordinates: Annotated[
        str, typer.Option(help="'velocity' ([q, q_t]) or 'canonical' ([q, p], for an HNN).")
    ] = "velocity",
    seed: int = 0,
    param: Annotated[list[str] | None, typer.Option(help="System parameter NAME=VALUE.")] = None,
) -> None:
    """Generate trajectories of a system and save them as a dataset (.npz)."""
    _positive("--t-end", t_end)
    _setup_precision(True)
    import jax
    import jax.numpy as jnp

    from . import systems as zoo_systems
    from ._data import generate_dataset
    from ._experiment import system_parameters

    zoo_systems.parameters(system)  # an unknown name fails here, with the known ones
    sys_obj = zoo_systems.get(system, **system_parameters(system, _parse_params(param)))
    if out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a folder; give the path of an .npz file.")
    ts = jnp.linspace(0.0, t_end, samples)
    with console.status(f"integrating {trajectories} trajectories of {system}"):
        data = generate_dataset(
            sys_obj,
            jax.random.key(seed),
            trajectories=trajectories,
            ts=ts,
            noise_std=noise_std,
            coordinates=coordinates,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    data.save(out)
    console.print(f"wrote {out}: y {tuple(data.y.shape)}, dy {tuple(data.dy.shape)}")


@app.command()
@_friendly
def train(
    system: Annotated[str | None, typer.Option(help="System to learn.")] = None,
    model: Annotated[str | None, typer.Option(help="baseline, hnn, lnn or delan.")] = None,
    steps: Annotated[int | None, typer.Option(min=1)] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/train"),
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in OUT from its last checkpoint, with its own settings "
            "(a finished run is left as it is)."
        ),
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="TOML file with any of these settings.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(min=0.0)] = None,
    data: Annotated[
        str | None, typer.Option(help="'stream', 'trajectories' or a dataset .npz file.")
    ] = None,
    progress: bool = True,
) -> None:
    """Train a model on a system; writes the model, history and config to OUT.

    With `--data FILE`, the dataset's system, parameters, trajectories, noise and times are the
    run's: a setting that contradicts the file is refused.
    """
    from ._experiment import resume_config, settings_from_dataset, train_run, TrainConfig

    settings = _load_config(config)
    overrides = dict(
        system=system,
        model=model,
        steps=steps,
        seed=seed,
        batch_size=batch_size,
        learning_rate=learning_rate,
        data=data,
    )
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if resume:
        run_config = resume_config(out, settings)
    else:
        # The settings are checked, and the precision set, before a dataset file is read.
        _setup_precision(TrainConfig.from_dict(settings).float64)
        run_config = TrainConfig.from_dict(settings_from_dataset(settings))
    _setup_precision(run_config.float64)
    summary = train_run(run_config, out, resume=resume, progress=progress, console=console)
    console.print_json(json.dumps(summary, default=float))


@app.command()
@_friendly
def evaluate(
    run: Annotated[Path, typer.Option(help="A run directory written by `train`.")],
    trajectories: Annotated[int, typer.Option(min=1)] = 16,
    t_end: Annotated[float | None, typer.Option(help="Rollout horizon.")] = None,
    seed: int = 123,
) -> None:
    """Roll out a trained model against the truth and report the metrics (JSON)."""
    from ._experiment import evaluate_run

    _setup_precision(True)
    result = evaluate_run(run, trajectories=trajectories, t_end=t_end, seed=seed)
    table = Table(title=f"evaluation of {run}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result["metrics"].items():
        table.add_row(key, f"{value:.4g}")
    console.print(table)
    console.print(f"wrote {run / 'evaluation.json'}")


@app.command()
@_friendly
def animate(
    run: Annotated[Path, typer.Option(help="A run directory written by `train`.")],
    out: Annotated[Path | None, typer.Option(help="GIF path (default RUN/animation.gif).")] = None,
    t_end: float = 10.0,
    seed: int = 7,
) -> None:
    """Animate the true and the learned motion side by side (GIF)."""
    from ._experiment import animate_run

    _setup_precision(True)
    path = animate_run(run, out=out, t_end=t_end, seed=seed)
    console.print(f"wrote {path}")


@app.command()
@_friendly
def benchmark(
    name: Annotated[
        str | None, typer.Argument(help="Benchmark script name; empty lists them.")
    ] = None,
    full: Annotated[bool, typer.Option(help="The papers' scale instead of a quick run.")] = False,
    directory: Annotated[Path, typer.Option(help="Folder of benchmark scripts.")] = Path(
        "benchmarks"
    ),
) -> None:
    """Run a benchmark script from the repository's benchmarks/ folder."""
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no benchmarks folder at {str(directory)!r}: run from a clone of the repository or "
            "pass --directory."
        )
    scripts = sorted(p.stem for p in directory.glob("*.py") if not p.name.startswith("_"))
    if name is None:
        console.print("benchmarks: " + ", ".join(scripts))
        return
    if name not in scripts:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(scripts)}.")
    mode = "--full" if full else "--quick"
    code = subprocess.call([sys.executable, str(directory / f"{name}.py"), mode])
    if code != 0:
        raise _error(f"benchmark {name!r} failed with exit code {code}.", 1)


@app.command()
@_friendly
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/demo"),
    seed: int = 0,
    quick: Annotated[bool, typer.Option(help="A tiny smoke run (seconds), for tests.")] = False,
) -> None:
    """Train a baseline, an HNN and an LNN on the double pendulum and compare them."""
    from ._demo import run_demo

    _setup_precision(True)
    run_demo(out, seed=seed, quick=quick, console=console)


def main() -> None:  # pragma: no cover - console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
