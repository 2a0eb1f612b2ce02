"""Figures and animations of trajectories, energies and training curves.

Every function builds a `matplotlib.figure.Figure` directly, without `pyplot`, so no window ever
opens and no global plotting state changes; it returns the figure and, when `path` is given,
writes it there atomically (to a temporary file in the same folder, then renamed), so a reader
never sees a half-written file. Figures are saved in the format named by the suffix of `path`
(`.png` by default); animations are GIFs written with `matplotlib.animation.PillowWriter`.

Entries of the dictionaries are drawn in order: the FIRST entry is the reference (the truth),
drawn solid and black; the others are drawn in colour, dashed.
"""

import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from jaxtyping import ArrayLike
from matplotlib.animation import PillowWriter
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._io import atomic_path
from ._validation import positive_int, positive_number


ArrayInput = ArrayLike | Sequence
PathLike = str | os.PathLike

_MAX_COORDINATES = 6


# Validation ---------------------------------------------------------------------------------


def _entries(name: str, mapping: Any, ndims: tuple[int, ...], shape: str) -> dict[str, np.ndarray]:
    """A non-empty mapping of labels to float arrays with one of the allowed numbers of axes."""
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"`{name}` must be a dict mapping labels to arrays of shape {shape}, got "
            f"{type(mapping).__name__}."
        )
    if len(mapping) == 0:
        raise ValueError(f"`{name}` is empty: give at least one label -> array of shape {shape}.")
    out = {}
    for label, value in mapping.items():
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"`{name}[{label!r}]` must be a real array of shape {shape}, got "
                f"{type(value).__name__}."
            ) from error
        if array.ndim not in ndims or array.size == 0:
            raise ValueError(
                f"`{name}[{label!r}]` must have shape {shape}, got shape {array.shape}."
            )
        out[str(label)] = array
    return out


def _times(ts: Any, length: int, against: str) -> np.ndarray:
    try:
        ts = np.asarray(ts, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`ts` must be a 1-D array of times, got {type(ts).__name__}.") from error
    if ts.ndim != 1 or ts.shape[0] != length:
        raise ValueError(
            f"`ts` must have shape ({length},) to match the time axis of {against}, got shape "
            f"{ts.shape}."
        )
    return ts


def _same_state_size(name: str, entries: dict[str, np.ndarray]) -> int:
    sizes = {label: array.shape[-1] for label, array in entries.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every entry of `{name}` must have the same state size, got {sizes}.")
    return next(iter(sizes.values()))


def _same_length(name: str, entries: dict[str, np.ndarray]) -> int:
    lengths = {label: array.shape[0] for label, array in entries.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"every entry of `{name}` must have the same number of times T, got {lengths}."
        )
    return next(iter(lengths.values()))


def _even_states(name: str, entries: dict[str, np.ndarray]) -> int:
    size = _same_state_size(name, entries)
    if size % 2 != 0:
        raise ValueError(
            f"the states in `{name}` must be [q, q_t] of even length 2n, got length {size}."
        )
    return size // 2


def _style(index: int) -> dict[str, Any]:
    if index == 0:
        return {"color": "black", "linestyle": "-", "linewidth": 1.8}
    return {"color": f"C{index - 1}", "linestyle": "--", "linewidth": 1.4}


# Writing ------------------------------------------------------------------------------------


def _figure_path(path: PathLike) -> tuple[pathlib.Path, str]:
    path = pathlib.Path(path)
    fmt = path.suffix[1:].lower() or "png"
    supported = Figure().canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            f"`path` {str(path)!r} has an unsupported suffix; use one of "
            f"{', '.join('.' + name for name in sorted(supported))}."
        )
    return path, fmt


def _save(figure: Figure, path: PathLike | None, dpi: float | int) -> Figure:
    dpi = positive_number("", "dpi", dpi)
    if path is not None:
        target, fmt = _figure_path(path)
        with atomic_path(target, make_folder=True) as temporary:
            figure.savefig(temporary, format=fmt, dpi=dpi)
    return figure


def _animation(
    figure: Figure,
    draw: Callable[[int], None],
    frames: Sequence[int],
    path: PathLike | None,
    fps: int,
    dpi: float | int,
) -> Figure:
    dpi = positive_number("", "dpi", dpi)
    if path is None:
        draw(frames[-1])
        return figure
    target = pathlib.Path(path)
    if target.suffix.lower() != ".gif":
        raise ValueError(f"`path` must end in .gif for an animation, got {str(target)!r}.")
    writer = PillowWriter(fps=fps)
    with atomic_path(target, make_folder=True) as temporary:
        with writer.saving(figure, str(temporary), dpi):
            for frame in frames:
                draw(frame)
                writer.grab_frame()
    return figure


# Static figures -----------------------------------------------------------------------------


def energy_over_time(
    ts: ArrayInput,
    energies: Mapping[str, ArrayInput],
    *,
    reference: str | None = None,
    relative_error: bool = False,
    path: PathLike | None = None,
    title: str = "Energy",
    dpi: float | int = 120,
) -> Figure:
    r"""The energy along trajectories: the truth and each model, optionally with relative errors.

    **Arguments:**

    - `ts`: the times, shape `(T,)`.
    - `energies`: label -> energies of shape `(T,)`, or `(B, T)` for a batch of trajectories
        (drawn as the batch mean with a band from the minimum to the maximum).
    - `reference`: the label of the true energy; the first entry by default.
    - `relative_error`: add a lower panel with
        $|E_\text{label} - E_\text{ref}| / |E_\text{ref}|$ on a log scale (batch mean).
    - `path`: where to save the figure (format from the suffix, `.png` by default).
    - `title`: the figure title.
    - `dpi`: resolution of the saved file.

    **Returns:** the `matplotlib.figure.Figure`.
    """
    entries = _entries("energies", energies, (1, 2), "(T,) or (B, T)")
    length = {label: array.shape[-1] for label, array in entries.items()}
    if len(set(length.values())) != 1:
        raise ValueError(
            f"every entry of `energies` must have the same number of times T, got {length}."
        )
    ts = _times(ts, next(iter(length.values())), "`energies`")
    reference = next(iter(entries)) if reference is None else str(reference)
    if reference not in entries:
        raise ValueError(
            f"`reference` {reference!r} is not a label of `energies` ({', '.join(entries)})."
        )
    if relative_error and len(entries) < 2:
        raise ValueError(
            "`relative_error=True` needs at least two entries in `energies`: the reference and "
            "a model."
        )

    figure = Figure(figsize=(6.4, 5.6 if relative_error else 3.6), layout="constrained")
    if relative_error:
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    else:
        top, bottom = figure.subplots(), None
    for index, (label, values) in enumerate(entries.items()):
        style = _style(index)
        if values.ndim == 1:
            top.plot(ts, values, label=label, **style)
        else:
            top.plot(ts, values.mean(axis=0), label=f"{label} (mean of {len(values)})", **style)
            top.fill_between(
                ts, values.min(axis=0), values.max(axis=0), color=style["color"], alpha=0.15
            )
    top.set_ylabel("energy")
    top.set_title(title)
    top.legend(fontsize="small")
    top.grid(alpha=0.3)

    if bottom is not None:
        truth = entries[reference]
        for index, (label, values) in enumerate(entries.items()):
            if label == reference:
                continue
            if values.ndim == 2 and truth.ndim == 2 and values.shape[0] != truth.shape[0]:
                raise ValueError(
                    f"`energies[{label!r}]` has {values.shape[0]} trajectories but the reference "
                    f"`energies[{reference!r}]` has {truth.shape[0]}."
                )
            gap = np.abs(values - truth) / np.maximum(np.abs(truth), np.finfo(float).tiny)
            gap = gap.mean(axis=0) if gap.ndim == 2 else gap
            # A log axis cannot show exact zeros (the shared initial state).
            bottom.plot(ts, np.where(gap > 0, gap, np.nan), label=label, **_style(index))
        bottom.set_yscale("log")
        bottom.set_ylabel(f"relative error vs {reference}")
        bottom.grid(alpha=0.3, which="both")
        bottom.set_xlabel("t")
    else:
        top.set_xlabel("t")
    return _save(figure, path, dpi)


def trajectories(
    ts: ArrayInput,
    ys: Mapping[str, ArrayInput],
    *,
    coordinates: Sequence[str] | None = None,
    indices: Sequence[int] | None = None,
    velocities: bool = False,
    path: PathLike | None = None,
    title: str | None = None,
    dpi: float | int = 120,
) -> Figure:
    """The coordinates `q_i(t)` of trajectories, one panel per coordinate.

    **Arguments:**

    - `ts`: the times, shape `(T,)`.
    - `ys`: label -> states `[q, q_t]` of shape `(T, 2n)`; the first entry is the reference.
    - `coordinates`: names of the `n` coordinates for the axis labels (`q_1, ..., q_n` by
        default).
    - `indices`: which coordinates to draw; the first six by default.
    - `velocities`: add a second column with the velocities `q_t`.
    - `path`, `title`, `dpi`: as in [`lagrangian_zoo.plots.energy_over_time`][].

    **Returns:** the `matplotlib.figure.Figure`.
    """
    entries = _entries("ys", ys, (2,), "(T, 2n)")
    n = _even_states("ys", entries)
    ts = _times(ts, _same_length("ys", entries), "`ys`")
    if coordinates is None:
        names = [f"$q_{{{i + 1}}}$" for i in range(n)]
        velocity_names = [rf"$\dot q_{{{i + 1}}}$" for i in range(n)]
    else:
        names = [str(name) for name in coordinates]
        if len(names) != n:
            raise ValueError(
                f"`coordinates` must name the {n} coordinates of the states in `ys`, got "
                f"{len(names)} names."
            )
        velocity_names = [f"d{name}/dt" for name in names]
    chosen = list(range(min(n, _MAX_COORDINATES))) if indices is None else list(indices)
    if not chosen or any(
        isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < n
        for i in chosen
    ):
        raise ValueError(
            f"`indices` must be a non-empty list of coordinate indices in [0, {n}), got "
            f"{indices!r}."
        )

    columns = 2 if velocities else 1
    figure = Figure(figsize=(4.8 * columns, 1.9 * len(chosen) + 0.8), layout="constrained")
    axes = np.asarray(figure.subplots(len(chosen), columns, sharex=True, squeeze=False))
    for row, i in enumerate(chosen):
        for column in range(columns):
            ax: Axes = axes[row, column]
            for index, (label, states) in enumerate(entries.items()):
                ax.plot(ts, states[:, i + column * n], label=label, **_style(index))
            ax.set_ylabel(velocity_names[i] if column else names[i])
            ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("t")
    axes[0, 0].legend(fontsize="small")
    if title is not None:
        figure.suptitle(title)
    return _save(figure, path, dpi)


def phase_portrait(
    ys: Mapping[str, ArrayInput],
    *,
    coordinate: int = 0,
    path: PathLike | None = None,
    title: str | None = None,
    dpi: float | int = 120,
) -> Figure:
    """The phase portrait `(q_i, q_t_i)` of trajectories; a dot marks each start.

    **Arguments:**

    - `ys`: label -> states `[q, q_t]` of shape `(T, 2n)`; the first entry is the reference.
    - `coordinate`: the index `i` of the coordinate to draw.
    - `path`, `title`, `dpi`: as in [`lagrangian_zoo.plots.energy_over_time`][].

    **Returns:** the `matplotlib.figure.Figure`.
    """
    entries = _entries("ys", ys, (2,), "(T, 2n)")
    n = _even_states("ys", entries)
    if isinstance(coordinate, bool) or not isinstance(coordinate, (int, np.integer)):
        raise TypeError(f"`coordinate` must be an int, got {type(coordinate).__name__}.")
    if not 0 <= coordinate < n:
        raise ValueError(
            f"`coordinate` must be in [0, {n}) for states of {n} coordinates, got {coordinate}."
        )
    figure = Figure(figsize=(4.8, 4.4), layout="constrained")
    ax = figure.subplots()
    for index, (label, states) in enumerate(entries.items()):
        style = _style(index)
        q, q_t = states[:, coordinate], states[:, coordinate + n]
        ax.plot(q, q_t, label=label, **style)
        ax.plot(q[:1], q_t[:1], "o", color=style["color"], markersize=4)
    ax.set_xlabel(f"$q_{{{coordinate + 1}}}$")
    ax.set_ylabel(rf"$\dot q_{{{coordinate + 1}}}$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title if title is not None else "Phase portrait")
    return _save(figure, path, dpi)


def _series(label: str, history: Mapping, key: str, steps: np.ndarray | None) -> np.ndarray:
    try:
        values = np.asarray(history[key], dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"`histories[{label!r}][{key!r}]` must be a 1-D sequence of numbers."
        ) from error
    if values.ndim != 1 or (steps is not None and values.shape != steps.shape):
        expected = "1-D" if steps is None else f"of shape {steps.shape}, like its steps"
        raise ValueError(
            f"`histories[{label!r}][{key!r}]` must be {expected}, got shape {values.shape}."
        )
    return values


def loss_curves(
    histories: Mapping[str, Mapping[str, Any]],
    *,
    path: PathLike | None = None,
    title: str = "Training",
    dpi: float | int = 120,
) -> Figure:
    """Training (solid) and evaluation (dashed) losses against steps, on a log scale.

    **Arguments:**

    - `histories`: label -> a history, a dict with `"step"` and `"train_loss"` (sequences of
        the same length) and optionally `"eval_loss"`: either aligned with `"step"` (non-finite
        entries, for steps without an evaluation, are skipped) or with its own `"eval_step"`.
    - `path`, `title`, `dpi`: as in [`lagrangian_zoo.plots.energy_over_time`][].

    **Returns:** the `matplotlib.figure.Figure`.
    """
    if not isinstance(histories, Mapping):
        raise TypeError(
            f"`histories` must be a dict mapping labels to histories, got "
            f"{type(histories).__name__}."
        )
    if len(histories) == 0:
        raise ValueError("`histories` is empty: give at least one label -> history.")
    figure = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = figure.subplots()
    for index, (label, history) in enumerate(histories.items()):
        label = str(label)
        if not isinstance(history, Mapping):
            raise TypeError(
                f"`histories[{label!r}]` must be a dict with 'step' and 'train_loss', got "
                f"{type(history).__name__}."
            )
        missing = [key for key in ("step", "train_loss") if key not in history]
        if missing:
            raise ValueError(
                f"`histories[{label!r}]` lacks {missing}; it needs 'step' and 'train_loss' "
                "(and optionally 'eval_loss')."
            )
        steps = _series(label, history, "step", None)
        colour = f"C{index}"
        train = _series(label, history, "train_loss", steps)
        # Log axes cannot show zero or negative losses.
        ax.plot(steps, np.where(train > 0, train, np.nan), color=colour, label=f"{label} train")
        if "eval_loss" in history:
            if "eval_step" in history:
                eval_steps = _series(label, history, "eval_step", None)
            else:
                eval_steps = steps
            evaluation = _series(label, history, "eval_loss", eval_steps)
            keep = np.isfinite(evaluation) & (evaluation > 0)
            ax.plot(
                eval_steps[keep],
                evaluation[keep],
                color=colour,
                linestyle="--",
                marker="." if keep.sum() < 50 else None,
                label=f"{label} eval",
            )
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return _save(figure, path, dpi)


# Animations ---------------------------------------------------------------------------------


def _frames(length: int, stride: int) -> list[int]:
    frames = list(range(0, length, stride))
    # Always end on the last state, so the final picture is the end of the rollout.
    if frames[-1] != length - 1:
        frames.append(length - 1)
    return frames


def _clock(ts: Any, length: int) -> Callable[[int], str]:
    if ts is None:
        return lambda k: f"step {k}"
    times = _times(ts, length, "`ys`")
    return lambda k: f"t = {times[k]:.2f}"


def _panels(count: int, title: str | None) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(2.6 * count, 2.9), layout="constrained")
    axes = list(np.atleast_1d(figure.subplots(1, count)))
    if title is not None:
        figure.suptitle(title)
    return figure, axes


def animate_pendulum(
    ys: Mapping[str, ArrayInput],
    *,
    lengths: Sequence[float] | ArrayLike | None = None,
    ts: ArrayInput | None = None,
    path: PathLike | None = None,
    fps: int = 20,
    stride: int = 1,
    trail: bool = True,
    title: str | None = None,
    dpi: float | int = 80,
) -> Figure:
    r"""A GIF of pendulum chains side by side: the truth and each model in its own panel.

    The angles $q_i$ are measured from the downward vertical, so bob $k$ sits at
    $x_k = \sum_{i \le k} l_i \sin q_i$, $y_k = -\sum_{i \le k} l_i \cos q_i$.

    **Arguments:**

    - `ys`: label -> angle states `[q, q_t]` of shape `(T, 2n)` for a chain of `n` links; every
        entry has the same `T`.
    - `lengths`: the `n` link lengths; ones by default.
    - `ts`: optional times `(T,)` to show a clock (otherwise the step number).
    - `path`: the `.gif` to write; without it nothing is written and the figure shows the
        last frame.
    - `fps`: frames per second of the GIF, a positive int.
    - `stride`: draw every `stride`-th state (the last state is always drawn), so the GIF has
        `len(range(0, T, stride))` frames, plus one if the last state is not among them.
    - `trail`: draw the path of the last bob so far.
    - `title`, `dpi`: the figure title and the resolution of the frames.

    **Returns:** the `matplotlib.figure.Figure`, at the last frame.
    """
    entries = _entries("ys", ys, (2,), "(T, 2n)")
    n = _even_states("ys", entries)
    length = _same_length("ys", entries)
    if lengths is None:
        links = np.ones(n)
    else:
        links = np.asarray(lengths, dtype=float)
        if links.shape != (n,):
            raise ValueError(
                f"`lengths` must hold one length per link, shape ({n},), got shape {links.shape}."
            )
        if not np.all(np.isfinite(links) & (links > 0)):
            raise ValueError(f"`lengths` must be positive and finite, got {links.tolist()}.")
    fps = positive_int("", "fps", fps)
    frames = _frames(length, positive_int("", "stride", stride))
    clock = _clock(ts, length)

    reach = 1.1 * float(links.sum())
    figure, axes = _panels(len(entries), title)
    artists = []
    for index, (ax, (label, states)) in enumerate(zip(axes, entries.items())):
        q = states[:, :n]
        x = np.cumsum(links * np.sin(q), axis=1)
        y = -np.cumsum(links * np.cos(q), axis=1)
        colour = _style(index)["color"]
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize="medium")
        ax.plot([0.0], [0.0], "s", color="grey", markersize=4)
        (path_line,) = ax.plot([], [], color=colour, alpha=0.3, linewidth=1)
        (rods,) = ax.plot([], [], "-o", color=colour, linewidth=2, markersize=6)
        text = ax.text(0.03, 0.95, "", transform=ax.transAxes, fontsize="small", va="top")
        artists.append((x, y, path_line, rods, text))

    def draw(k: int) -> None:
        for x, y, path_line, rods, text in artists:
            rods.set_data(np.concatenate([[0.0], x[k]]), np.concatenate([[0.0], y[k]]))
            if trail:
                path_line.set_data(x[: k + 1, -1], y[: k + 1, -1])
            text.set_text(clock(k))

    return _animation(figure, draw, frames, path, fps, dpi)


def animate_orbits(
    ys: Mapping[str, ArrayInput],
    *,
    bodies: int | None = None,
    ts: ArrayInput | None = None,
    path: PathLike | None = None,
    fps: int = 20,
    stride: int = 1,
    trail: bool = True,
    title: str | None = None,
    dpi: float | int = 80,
) -> Figure:
    """A GIF of planar orbits side by side: the truth and each model in its own panel.

    **Arguments:**

    - `ys`: label -> planar states of shape `(T, 4 * bodies)`, positions first
        (`x1, y1, x2, y2, ...`, then velocities or momenta), or positions only,
        `(T, 2 * bodies)`; every entry has the same `T`.
    - `bodies`: the number of bodies; by default the state size divided by four.
    - `ts`, `path`, `fps`, `stride`, `trail`, `title`, `dpi`: as in
        [`lagrangian_zoo.plots.animate_pendulum`][].

    Every panel uses the extent of the first (reference) entry, so a model whose bodies fly
    away is seen leaving the frame.

    **Returns:** the `matplotlib.figure.Figure`, at the last frame.
    """
    entries = _entries("ys", ys, (2,), "(T, 4 * bodies)")
    size = _same_state_size("ys", entries)
    length = _same_length("ys", entries)
    if bodies is None:
        if size % 4 != 0:
            raise ValueError(
                f"cannot infer `bodies` from states of size {size} (not a multiple of 4); pass "
                "bodies=... explicitly."
            )
        bodies = size // 4
    bodies = positive_int("", "bodies", bodies)
    if size not in (2 * bodies, 4 * bodies):
        raise ValueError(
            f"states of {bodies} planar bodies have size {4 * bodies} (positions and "
            f"velocities) or {2 * bodies} (positions), but `ys` has states of size {size}."
        )
    fps = positive_int("", "fps", fps)
    frames = _frames(length, positive_int("", "stride", stride))
    clock = _clock(ts, length)

    reference = next(iter(entries.values()))[:, : 2 * bodies]
    finite = reference[np.all(np.isfinite(reference), axis=1)]
    if finite.size == 0:
        raise ValueError("the first entry of `ys` (the reference) has no finite positions.")
    xs, ys_ = finite[:, 0::2], finite[:, 1::2]
    centre = np.array([(xs.min() + xs.max()) / 2, (ys_.min() + ys_.max()) / 2])
    half = 0.6 * max(xs.max() - xs.min(), ys_.max() - ys_.min(), 1e-6)

    figure, axes = _panels(len(entries), title)
    artists = []
    for ax, (label, states) in zip(axes, entries.items()):
        positions = states[:, : 2 * bodies].reshape(length, bodies, 2)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize="medium")
        trails = [
            ax.plot([], [], color=f"C{b}", alpha=0.35, linewidth=1)[0] for b in range(bodies)
        ]
        dots = [ax.plot([], [], "o", color=f"C{b}", markersize=6)[0] for b in range(bodies)]
        text = ax.text(0.03, 0.95, "", transform=ax.transAxes, fontsize="small", va="top")
        artists.append((positions, trails, dots, text))

    def draw(k: int) -> None:
        for positions, trails, dots, text in artists:
            for b in range(bodies):
                dots[b].set_data(positions[k, b, :1], positions[k, b, 1:])
                if trail:
                    trails[b].set_data(positions[: k + 1, b, 0], positions[: k + 1, b, 1])
            text.set_text(clock(k))

    return _animation(figure, draw, frames, path, fps, dpi)


def animate_frames(
    frames: Mapping[str, ArrayInput],
    *,
    ts: ArrayInput | None = None,
    path: PathLike | None = None,
    fps: int = 20,
    stride: int = 1,
    title: str | None = None,
    dpi: float | int = 80,
) -> Figure:
    """A GIF of grey image sequences side by side: the true frames and each model's.

    **Arguments:**

    - `frames`: label -> images of shape `(T, height, width)`, values in $[0, 1]$ (values
        outside are shown clipped); every entry has the same `T`.
    - `ts`, `path`, `fps`, `stride`, `title`, `dpi`: as in
        [`lagrangian_zoo.plots.animate_pendulum`][].

    **Returns:** the `matplotlib.figure.Figure`, at the last frame.
    """
    entries = _entries("frames", frames, (3,), "(T, height, width)")
    length = _same_length("frames", entries)
    fps = positive_int("", "fps", fps)
    steps = _frames(length, positive_int("", "stride", stride))
    clock = _clock(ts, length)
    figure, axes = _panels(len(entries), title)
    artists = []
    for ax, (label, images) in zip(axes, entries.items()):
        image = ax.imshow(images[0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize="medium")
        text = ax.text(
            0.03, 0.95, "", transform=ax.transAxes, fontsize="small", va="top", color="white"
        )
        artists.append((images, image, text))

    def draw(k: int) -> None:
        for images, image, text in artists:
            image.set_data(images[k])
            text.set_text(clock(k))

    return _animation(figure, draw, steps, path, fps, dpi)


__all__ = [
    "energy_over_time",
    "trajectories",
    "phase_portrait",
    "loss_curves",
    "animate_pendulum",
    "animate_orbits",
    "animate_frames",
]
