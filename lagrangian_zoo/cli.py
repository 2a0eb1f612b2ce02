"""The `lagrangian-zoo` command line: a thin layer over the library.

Every mistake a user can make (an unknown system, model or setting, a missing file, a value out
of range) ends the command with exit code 2 and one line on standard error that starts with
`error:`, never a traceback. A computation that fails on valid input (a diverging training, a
solver that gives up) ends with exit code 1, the same way. Any other error is a bug, of the
library or of what it runs on, and shows its traceback; `--debug` shows the traceback of every
error, with the same exit codes.
"""

import difflib
import dis
import functools
import inspect
import json
import math
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, no_type_check

import tomllib
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


console = Console()
err_console = Console(stderr=True)

# The kinds of error that the library's checks of their arguments raise.
_CHECK_ERRORS = (ValueError, TypeError, KeyError)
_EQUINOX_MESSAGE = re.compile(r"EquinoxRuntimeError: (.+)")
_PACKAGE = str(Path(__file__).resolve().parent) + os.sep


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


def _raised_by_a_check(error: BaseException) -> bool:
    """Whether `error` comes from a `raise` statement of this package: one of its checks refused
    what it was given, with a message written for the user.

    The same kinds of error raised by Python itself inside the package (a call with the wrong
    arguments, a missing key) or by a dependency are bugs, not the user's mistakes.
    """
    traceback_ = error.__traceback__
    if traceback_ is None:
        return False
    while traceback_.tb_next is not None:
        traceback_ = traceback_.tb_next
    code = traceback_.tb_frame.f_code
    if not str(Path(code.co_filename).resolve()).startswith(_PACKAGE):
        return False
    # RAISE_VARARGS with an argument is `raise X` or `raise X from Y`; a bare `raise` keeps
    # the traceback of where the error was first raised, which this frame then is not.
    instruction = next(
        (i for i in dis.get_instructions(code) if i.offset == traceback_.tb_lasti), None
    )
    return (
        instruction is not None and instruction.opname == "RAISE_VARARGS" and bool(instruction.arg)
    )


def _exit_code(error: Exception) -> int | None:
    """2 for a mistake of the user, 1 for a computation that failed on valid input, `None` for
    a bug."""
    if isinstance(error, OSError):
        # A missing file, a folder that cannot be written: the user's files, named in the
        # message, whoever raised it.
        return 2
    if isinstance(error, FloatingPointError):
        return 1
    if isinstance(error, RuntimeError) and _EQUINOX_MESSAGE.search(str(error)):
        # A check inside compiled code (equinox.error_if) that failed: the library's own
        # message about the computation, such as a solver that ran out of steps.
        return 1
    if isinstance(error, _CHECK_ERRORS) and _raised_by_a_check(error):
        return 2
    return None


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
        except Exception as error:
            if isinstance(error, tomllib.TOMLDecodeError):
                code, message = 2, f"the --config file is not valid TOML: {error}"
            else:
                code, message = _exit_code(error), _first_line(error)
            if code is None:
                raise  # a bug: its traceback is what a report of it needs
            if _settings["debug"]:
                traceback.print_exception(error)
                raise typer.Exit(code) from None
            raise _error(message, code) from None
        except KeyboardInterrupt:
            note = (
                ": the last checkpoint is kept; continue with --resume"
                if command.__name__ == "train"
                else ""
            )
            err_console.print(f"interrupted{note}.", soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


# Set by the options `--no-compilation-cache` and `--debug` before a command runs.
_settings = {"compilation_cache": True, "debug": False}


@app.callback()
def _options(
    compilation_cache: Annotated[
        bool,
        typer.Option(
            "--compilation-cache/--no-compilation-cache",
            help="Reuse compiled programs across runs (cache: ~/.cache/lagrangian_zoo).",
        ),
    ] = True,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the traceback of every error, not only of a bug (for a bug report).",
        ),
    ] = False,
) -> None:
    """Learn the dynamics of physical systems with networks that respect physics."""
    _settings["compilation_cache"] = compilation_cache
    _settings["debug"] = debug


# `${models}` in a help text: the registered models; `${demo.lnn_steps}`: a setting of the
# demo; `${train.steps}`: a default of `train` (see `_quoted`).
_QUOTE = re.compile(r"\$\{(\w+)(?:\.(\w+))?\}")


def _either(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def _quoted(match: re.Match) -> str:
    """What a `${...}` field of a help text stands for, read from the code."""
    what, setting = match.groups()
    if what == "models":
        from .models import names

        return _either(names())
    if what == "systems":
        from .systems import names

        return _either(names())
    if what == "activations":
        from .models import ACTIVATIONS

        return ", ".join(ACTIVATIONS)
    if what == "demo" and setting is not None:
        from ._demo import DemoSettings

        return str(getattr(DemoSettings(), setting))
    if what == "train" and setting is not None:
        from ._experiment import TrainConfig

        return str(getattr(TrainConfig(), setting))
    raise ValueError(f"a help text quotes {match.group(0)!r}, which names nothing in the code.")


def help_from_code(text: str) -> str:
    """`text` with its `${...}` fields filled in from the code (see `_quoted`)."""
    return _QUOTE.sub(_quoted, text)


class _HelpFromCode(TyperCommand):
    """A command whose help quotes the code (the registered models, the demo's step counts),
    so that it cannot fall behind it.

    The fields are filled in when the help is shown, not when the command is built: the
    registries import JAX, which every other use of the command line (and `lagrangian-zoo
    --help`) would then wait for.
    """

    def format_help(self, ctx, formatter) -> None:
        if self.help:
            # One line per paragraph: the quoted names and numbers change the lengths of the
            # lines they are in, so the paragraphs are wrapped anew, to the terminal's width.
            paragraphs = inspect.cleandoc(help_from_code(self.help)).split("\n\n")
            self.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
        for param in self.params:
            if isinstance(param, (TyperArgument, TyperOption)) and param.help:
                param.help = help_from_code(param.help)
        super().format_help(ctx, formatter)


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


@app.command(cls=_HelpFromCode)
@_friendly
def generate(
    system: Annotated[
        str, typer.Option(help="The system: ${systems} (see `lagrangian-zoo systems`).")
    ],
    out: Annotated[Path, typer.Option(help="Output .npz file.")],
    trajectories: Annotated[int, typer.Option(min=1)] = 100,
    t_end: Annotated[float, typer.Option(help="Final time of each trajectory.")] = 3.0,
    samples: Annotated[int, typer.Option(min=2, help="Samples per trajectory.")] = 30,
    noise_std: Annotated[float, typer.Option(min=0.0)] = 0.0,
    coordinates: Annotated[
        str,
        typer.Option(
            # escape: rich would read "[q, q_t]" as a markup tag and drop it.
            help=escape("'velocity' ([q, q_t]) or 'canonical' ([q, p], for an HNN).")
        ),
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


_MODEL, _TRAINING, _DATA = "Model", "Training", "Data"
# The options of `train` that are TrainConfig settings. Their defaults restate TrainConfig's, so
# that `--help` shows them without importing JAX (tests/test_cli.py checks that they agree);
# a setting counts only when given on the command line, so a --config file can set it too.
_TRAIN_SETTINGS = (
    "system", "model", "width", "depth", "activation", "steps", "batch_size", "learning_rate",
    "gradient_clip", "loss", "data", "trajectories", "t_end", "samples", "noise_std",
    "checkpoint_every", "seed", "float64",
)  # fmt: skip


@app.command(cls=_HelpFromCode)
@_friendly
# Typer hands `ctx` over as its vendored click Context, not the `typer.Context` subclass the
# annotation names (which Typer needs to see): runtime type checkers would refuse the call.
@no_type_check
def train(
    ctx: typer.Context,
    model: Annotated[
        str,
        typer.Option(
            help="The model to train: ${models}.",
            rich_help_panel=_MODEL,
        ),
    ] = "lnn",
    width: Annotated[
        int,
        typer.Option(
            min=1,
            help="Hidden units per layer (the LNN paper: 500).",
            rich_help_panel=_MODEL,
        ),
    ] = 128,
    depth: Annotated[
        int,
        typer.Option(
            min=1,
            help="Hidden layers (the LNN paper: 4).",
            rich_help_panel=_MODEL,
        ),
    ] = 3,
    activation: Annotated[
        str | None,
        typer.Option(
            help="${activations} (an LNN needs a curved one); by default the model's own.",
            rich_help_panel=_MODEL,
        ),
    ] = None,
    system: Annotated[
        str,
        typer.Option(
            help="The system to learn: ${systems} (see `lagrangian-zoo systems`).",
            rich_help_panel=_DATA,
        ),
    ] = "double_pendulum",
    param: Annotated[
        list[str] | None,
        typer.Option(
            help="A system parameter NAME=VALUE, repeatable (--param length=2.0); by default "
            "the system's own.",
            rich_help_panel=_DATA,
        ),
    ] = None,
    data: Annotated[
        str,
        typer.Option(
            help="'stream' (fresh random states with exact derivatives for every batch), "
            "'trajectories' (a fixed set of trajectories) or a dataset .npz file from `generate`.",
            rich_help_panel=_DATA,
        ),
    ] = "stream",
    trajectories: Annotated[
        int,
        typer.Option(
            min=1,
            help="Trajectories, for --data trajectories.",
            rich_help_panel=_DATA,
        ),
    ] = 100,
    t_end: Annotated[
        float,
        typer.Option(
            help="Final time of each trajectory, for --data trajectories.",
            rich_help_panel=_DATA,
        ),
    ] = 3.0,
    samples: Annotated[
        int,
        typer.Option(
            min=2,
            help="Samples per trajectory, for --data trajectories.",
            rich_help_panel=_DATA,
        ),
    ] = 30,
    noise_std: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Standard deviation of the noise added to the trajectories.",
            rich_help_panel=_DATA,
        ),
    ] = 0.0,
    steps: Annotated[
        int,
        typer.Option(min=1, rich_help_panel=_TRAINING),
    ] = 2000,
    batch_size: Annotated[
        int,
        typer.Option(min=1, rich_help_panel=_TRAINING),
    ] = 256,
    learning_rate: Annotated[
        float,
        typer.Option(min=0.0, rich_help_panel=_TRAINING),
    ] = 1e-3,
    gradient_clip: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Largest global gradient norm; 0 turns clipping off (the default LNN barely "
            "learns the double pendulum without it).",
            rich_help_panel=_TRAINING,
        ),
    ] = 1.0,
    loss: Annotated[
        str,
        typer.Option(
            help="'l2' (mean squared error) or 'l1' (mean absolute error, the LNN paper's).",
            rich_help_panel=_TRAINING,
        ),
    ] = "l2",
    checkpoint_every: Annotated[
        int,
        typer.Option(
            min=1,
            help="Steps between checkpoints, from which --resume continues.",
            rich_help_panel=_TRAINING,
        ),
    ] = 500,
    float64: Annotated[
        bool,
        typer.Option(
            "--float64/--float32",
            help="Precision of the computation.",
            rich_help_panel=_TRAINING,
        ),
    ] = True,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of the model, the data and the batches.",
            rich_help_panel=_TRAINING,
        ),
    ] = 0,
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/train"),
    config: Annotated[
        Path | None,
        typer.Option(
            help="TOML file with any of these settings (steps = 500, width = 64, "
            "system_params = {length = 2.0}, model_kwargs = {coordinates = 'velocity'}); "
            "the options given here override it."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in OUT from its last checkpoint, with its own settings "
            "(a finished run is left as it is)."
        ),
    ] = False,
    progress: Annotated[
        bool,
        typer.Option(
            help="Show progress: a bar on a terminal; a line every twentieth of the run when "
            "the output goes to a file."
        ),
    ] = True,
) -> None:
    """Train a model on a system; writes the model (model.lzm), history and config to OUT.

    The defaults (an LNN of width ${train.width} and depth ${train.depth} learning the double
    pendulum from ${train.steps} batches of ${train.batch_size} fresh states) finish in a minute
    or two on a 2-core laptop CPU; the summary scores the model on held-out states beside the
    score of predicting zero. To scale up, raise --steps (the demo trains the LNN for
    ${demo.lnn_steps}), --batch-size, or the network to the LNN paper's --width 500 --depth 4
    (hours on a CPU; a GPU makes it minutes).

    With `--data FILE`, the dataset's system, parameters, trajectories, noise and times are the
    run's: a setting that contradicts the file is refused.
    """
    from ._experiment import resume_config, settings_from_dataset, train_run, TrainConfig

    settings = _load_config(config)
    settings.update(
        {
            name: ctx.params[name]
            for name in _TRAIN_SETTINGS
            if ctx.get_parameter_source(name).name != "DEFAULT"
        }
    )
    if param:
        settings["system_params"] = {**settings.get("system_params", {}), **_parse_params(param)}
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
    """Roll out a trained model against the truth and report the metrics (JSON).

    A rollout that blows up, or whose energy error passes the energy scale, is counted as
    failed; the errors are averaged over the others.

    The valid prediction time is shown with the horizon (--t-end, by default the run's), the
    most it can be: a rollout that never leaves the truth scores the horizon.
    """
    from ._experiment import evaluate_run

    _setup_precision(True)
    result = evaluate_run(run, trajectories=trajectories, t_end=t_end, seed=seed)
    table = Table(title=f"evaluation of {run}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result["metrics"].items():
        text = f"{value:.4g}"
        if key == "failed_rollouts":
            text = f"{value} of {result['trajectories']}"
        if key == "valid_prediction_time":
            # Capped by the horizon: a time equal to it means no rollout left the truth.
            text += f" of {result['t_end']:.4g} (the horizon)"
        table.add_row(key, text)
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


@app.command(name="inspect")
@_friendly
def inspect_data(
    file: Annotated[
        Path,
        typer.Argument(
            help="A file of measured trajectories (t, q, q_t, optional q_tt and u) or a "
            "dataset file from `generate`."
        ),
    ],
) -> None:
    """Check a data file and print what it holds (JSON): trajectories, samples, degrees of
    freedom, inputs, times and metadata.

    A file of measured trajectories is checked field by field (see the format on the docs'
    page "Forces and control"); an error names the field, the shape that came and the shape
    expected. `train --data FILE` trains on either: on a file with inputs, a Lagrangian model
    (lnn, delan) takes them as generalised forces and the baseline reads them beside the state.
    """
    import numpy as np

    from ._trajectory_file import is_trajectory_file, load_trajectories

    if not file.is_file():
        raise FileNotFoundError(f"no data file at {str(file)!r}.")
    if is_trajectory_file(file):
        record = load_trajectories(file)
        steps = np.diff(record.t)
        summary: dict[str, Any] = {
            "format": "trajectories",
            "trajectories": record.q.shape[0],
            "samples": record.t.shape[0],
            "dof": record.dof,
            "inputs": record.inputs,
            "accelerations": "measured" if record.q_tt is not None else "finite differences",
            "t_start": float(record.t[0]),
            "t_end": float(record.t[-1]),
            "smallest_step": float(steps.min()),
            "largest_step": float(steps.max()),
            "metadata": record.metadata,
        }
    else:
        from ._data import Dataset

        data = Dataset.load(file)
        summary = {
            "format": "dataset",
            "trajectories": data.num_trajectories,
            "samples": int(data.ts.shape[0]),
            "dof": data.dof,
            "inputs": 0,
            "t_start": float(data.ts[0]),
            "t_end": float(data.ts[-1]),
            "metadata": data.metadata.as_dict(),
        }
    console.print_json(json.dumps(summary))


def benchmarks_folder() -> Path:
    """The repository's `benchmarks/` folder, beside the package in a clone (an editable
    install); a wheel installs the package alone, without it."""
    return Path(__file__).resolve().parent.parent / "benchmarks"


# Where `benchmark NAME --full` writes unless told: the working directory, never the source tree.
_FULL_RESULTS = Path("benchmark-results")


@app.command()
@_friendly
def benchmark(
    name: Annotated[
        str | None, typer.Argument(help="Benchmark script name; without one, lists them.")
    ] = None,
    full: Annotated[
        bool, typer.Option(help="The papers' scale (hours) instead of a quick smoke run.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the results (NAME.json and NAME.md). By default a quick run writes "
            f"to a new temporary folder and a --full run to ./{_FULL_RESULTS}; pass "
            "--out benchmarks/results to update the committed results.",
            show_default=False,
        ),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            help="Folder of benchmark scripts; by default the benchmarks/ folder of the "
            "repository this package is installed from.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a benchmark script of the repository's benchmarks/ folder, from any directory."""
    folder = benchmarks_folder() if directory is None else directory
    if not folder.is_dir():
        if directory is not None:
            raise FileNotFoundError(f"--directory {str(folder)!r} is not a folder.")
        raise FileNotFoundError(
            f"no benchmarks folder at {str(folder)!r}: the benchmark scripts come with a clone "
            "of the repository, not with an installed wheel. Install from a clone "
            "(pip install -e .) or pass --directory FOLDER."
        )
    scripts = sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))
    if name is None:
        console.print("benchmarks: " + ", ".join(scripts), soft_wrap=True)
        return
    if name not in scripts:
        close = difflib.get_close_matches(name, scripts, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown benchmark {name!r}.{hint} Available: {', '.join(scripts)}.")
    if out is None and full:
        out = _FULL_RESULTS
    command = [sys.executable, str(folder / f"{name}.py"), "--full" if full else "--quick"]
    if out is not None:
        command += ["--out", str(out.resolve())]
    code = subprocess.call(command)
    if code != 0:
        raise _error(f"benchmark {name!r} failed with exit code {code}.", 1)


@app.command(cls=_HelpFromCode)
@_friendly
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/demo"),
    seed: int = 0,
    quick: Annotated[bool, typer.Option(help="A tiny smoke run (seconds), for tests.")] = False,
) -> None:
    """Train a baseline, an HNN and an LNN on the double pendulum and compare them.

    The three train for about the same time, on batches of ${demo.batch_size} fresh states: the
    LNN for ${demo.lnn_steps} steps, the HNN for ${demo.hnn_steps} and the baseline for
    ${demo.baseline_steps}; their rollouts from ${demo.initial_states} initial states, to t =
    ${demo.t_end}, are scored against the truth.
    """
    from ._demo import run_demo

    _setup_precision(True)
    run_demo(out, seed=seed, quick=quick, console=console)


def main() -> None:  # pragma: no cover - console-script entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
