"""The `lagrangian-zoo` command line: a thin layer over the library."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import tomllib
import typer
from rich.console import Console
from rich.table import Table


app = typer.Typer(
    name="lagrangian-zoo",
    help="Learn the dynamics of physical systems with networks that respect physics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

_USER_ERRORS = (ValueError, TypeError, FileNotFoundError, KeyError, tomllib.TOMLDecodeError)


def _friendly(command):
    """Turns the library's clear errors into one line and exit code 2, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except _USER_ERRORS as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            err_console.print(f"[bold red]error:[/] {message}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: a checkpoint was saved; continue with --resume")
            raise typer.Exit(130) from None

    return wrapper


def _setup_precision(float64: bool) -> None:
    import jax

    jax.config.update("jax_enable_x64", bool(float64))


def _parse_params(params: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in params or []:
        if "=" not in item:
            raise ValueError(f"--param must look like NAME=VALUE, got {item!r}.")
        name, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[name.strip()] = tuple(value) if isinstance(value, list) else value
    return out


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    os.replace(tmp, path)


def _load_config(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not config.exists():
        raise FileNotFoundError(f"--config file {str(config)!r} does not exist.")
    with open(config, "rb") as f:
        return tomllib.load(f)


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
    seed: int = 0,
    param: Annotated[list[str] | None, typer.Option(help="System parameter NAME=VALUE.")] = None,
) -> None:
    """Generate trajectories of a system and save them as a dataset (.npz)."""
    _setup_precision(True)
    import jax
    import jax.numpy as jnp

    from . import systems as zoo_systems
    from ._data import generate_dataset

    sys_obj = zoo_systems.get(system, **_parse_params(param))
    ts = jnp.linspace(0.0, t_end, samples)
    with console.status(f"integrating {trajectories} trajectories of {system}"):
        data = generate_dataset(
            sys_obj, jax.random.key(seed), trajectories=trajectories, ts=ts, noise_std=noise_std
        )
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
    resume: Annotated[bool, typer.Option(help="Continue from the run's last checkpoint.")] = False,
    config: Annotated[Path | None, typer.Option(help="TOML file with any of these settings.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(min=0.0)] = None,
    data: Annotated[
        str | None, typer.Option(help="'stream', 'trajectories' or a dataset .npz file.")
    ] = None,
    progress: bool = True,
) -> None:
    """Train a model on a system; writes the model, history and config to OUT."""
    from ._experiment import train_run, TrainConfig

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
    run_config = TrainConfig.from_dict(settings)
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
    name: Annotated[str | None, typer.Argument(help="Benchmark script name; empty lists them.")] = None,
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
        raise typer.Exit(code)


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
