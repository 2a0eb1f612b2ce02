"""Measured trajectories with inputs on disk: the `.npz` file format, its reader and writer."""

import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from jaxtyping import Float

from ._io import atomic_write, library_version


TRAJECTORY_FORMAT = "lagrangian_zoo.trajectories"
TRAJECTORY_FORMAT_VERSION = 1
# The optional entry with the format name and version that `save_trajectories` writes; a file
# written by other tools (plain `numpy.savez`) may leave it out.
_HEADER_ENTRY = "__lagrangian_zoo__"
_REQUIRED = ("t", "q", "q_t")
_OPTIONAL = ("q_tt", "u", "metadata")


class Trajectories(NamedTuple):
    r"""Measured trajectories, as NumPy arrays: what [`lagrangian_zoo.load_trajectories`][]
    reads.

    - `t` `(T,)`: the sample times, strictly increasing (shared by all trajectories);
    - `q`, `q_t` `(B, T, n)`: positions and velocities;
    - `q_tt` `(B, T, n)` or `None`: measured accelerations, if the file has them;
    - `u` `(B, T, m)` or `None`: the inputs (motor torques, forces, voltages) applied at each
        sample and held until the next one;
    - `metadata`: a dict of JSON values (units, the rig, the sampling rate...).

    A file with one trajectory, arrays of shape `(T, n)`, is read with `B = 1`.
    """

    t: Float[np.ndarray, " T"]
    q: Float[np.ndarray, "B T n"]
    q_t: Float[np.ndarray, "B T n"]
    q_tt: Float[np.ndarray, "B T n"] | None
    u: Float[np.ndarray, "B T m"] | None
    metadata: dict[str, Any]

    @property
    def dof(self) -> int:
        """The number of degrees of freedom `n`."""
        return self.q.shape[-1]

    @property
    def inputs(self) -> int:
        """The number of inputs `m` (0 without inputs)."""
        return 0 if self.u is None else self.u.shape[-1]


def _field(where: str, name: str, value: Any, expected: str) -> np.ndarray:
    """`value` as a float64 array, refused (naming the field) if it is not real or finite."""
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and such
        raise ValueError(f"{where}`{name}` is not an array ({error}); expected {expected}.")
    if array.dtype.kind not in "fiu":
        raise TypeError(
            f"{where}`{name}` must hold real numbers, got dtype {array.dtype}; expected "
            f"{expected}."
        )
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0].tolist()
        count = int(np.sum(~np.isfinite(array)))
        raise ValueError(
            f"{where}`{name}` must be finite, but {count} entries are not; the first is at index "
            f"{tuple(bad)} ({array[tuple(bad)]})."
        )
    return array


def check_trajectories(
    t: Any,
    q: Any,
    q_t: Any,
    q_tt: Any = None,
    u: Any = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    where: str = "",
) -> Trajectories:
    """The fields checked against each other, as [`lagrangian_zoo.Trajectories`][] (a single
    trajectory of shape `(T, n)` gets a leading axis). Errors name the field, the shape that
    came and the shape expected; `where` starts each message (the file's name)."""
    times = _field(where, "t", t, "times of shape (T,)")
    if times.ndim != 1 or times.shape[0] < 2:
        raise ValueError(
            f"{where}`t` must have shape (T,) with at least 2 times, got shape {times.shape}."
        )
    steps = np.diff(times)
    if not np.all(steps > 0):
        bad = int(np.argmax(steps <= 0))
        raise ValueError(
            f"{where}`t` must be strictly increasing, but t[{bad}] = {times[bad]} and "
            f"t[{bad + 1}] = {times[bad + 1]}."
        )
    count = times.shape[0]
    positions = _field(where, "q", q, f"shape (T, n) or (B, T, n) with T = len(t) = {count}")
    if positions.ndim == 2:
        positions = positions[None]
    if positions.ndim != 3 or positions.shape[1] != count or 0 in positions.shape:
        raise ValueError(
            f"{where}`q` must have shape (T, n) or (B, T, n) with T = len(t) = {count} and "
            f"n >= 1, got shape {np.shape(q)}."
        )
    shape = positions.shape
    shown = f"({count}, {shape[2]})" if shape[0] == 1 else str(shape)

    def like_q(name: str, value: Any) -> np.ndarray:
        array = _field(where, name, value, f"the shape of `q`, {shown}")
        if array.ndim == 2 and shape[0] == 1:
            array = array[None]
        if array.shape != shape:
            raise ValueError(
                f"{where}`{name}` must have the shape of `q`, {shown}, got shape "
                f"{np.shape(value)}."
            )
        return array

    velocities = like_q("q_t", q_t)
    accelerations = None if q_tt is None else like_q("q_tt", q_tt)
    inputs = None
    if u is not None:
        expected = f"shape ({count}, m)" if shape[0] == 1 else f"shape ({shape[0]}, {count}, m)"
        inputs = _field(where, "u", u, expected)
        if inputs.ndim == 2 and shape[0] == 1:
            inputs = inputs[None]
        if inputs.ndim != 3 or inputs.shape[:2] != shape[:2] or inputs.shape[2] == 0:
            raise ValueError(
                f"{where}`u` must have {expected} with m >= 1 inputs (one row per sample of "
                f"`q`), got shape {np.shape(u)}."
            )
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(
            f"{where}`metadata` must be a mapping of JSON values, got {type(metadata).__name__}."
        )
    return Trajectories(times, positions, velocities, accelerations, inputs, dict(metadata or {}))


def save_trajectories(
    path: str | os.PathLike,
    t: Any,
    q: Any,
    q_t: Any,
    *,
    q_tt: Any = None,
    u: Any = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Writes measured trajectories to an `.npz` file (atomically) in the documented format.

    The file holds the arrays `t`, `q`, `q_t`, and `q_tt` and `u` when given, a JSON
    `metadata` entry, and a header naming the format and its version (see
    [Forces and control](../forces_and_control.md#measured-trajectories-with-inputs)). Files
    written by other tools with `numpy.savez(path, t=..., q=..., q_t=..., u=...)` are read as
    well.

    **Arguments:**

    - `path`: the file to write.
    - `t`: the sample times `(T,)`, strictly increasing.
    - `q`, `q_t`: positions and velocities, `(T, n)` for one trajectory or `(B, T, n)`.
    - `q_tt`: measured accelerations of the same shape, or `None` (they are then estimated by
        finite differences when a dataset is made).
    - `u`: the inputs, `(T, m)` or `(B, T, m)`, each held until the next sample; or `None`.
    - `metadata`: JSON values describing the data (units, the rig).

    **Raises:** `ValueError` or `TypeError` naming the field that is missing, of the wrong
    shape, or not finite.
    """
    where = f"save_trajectories('{os.fspath(path)}'): "
    record = check_trajectories(t, q, q_t, q_tt, u, metadata, where=where)
    try:
        metadata_text = json.dumps(record.metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where}`metadata` must hold JSON values: {error}") from None
    header = {
        "format": TRAJECTORY_FORMAT,
        "format_version": TRAJECTORY_FORMAT_VERSION,
        "library_version": library_version(),
    }
    arrays: dict[str, np.ndarray] = {"t": record.t, "q": record.q, "q_t": record.q_t}
    if record.q_tt is not None:
        arrays["q_tt"] = record.q_tt
    if record.u is not None:
        arrays["u"] = record.u
    arrays["metadata"] = np.array(metadata_text)
    arrays[_HEADER_ENTRY] = np.array(json.dumps(header, sort_keys=True))
    atomic_write(path, lambda file: np.savez(file, **arrays))


def is_trajectory_file(path: str | os.PathLike) -> bool:
    """Whether `path` is an `.npz` archive with the arrays `t`, `q` and `q_t` (a file of
    measured trajectories rather than a [`lagrangian_zoo.Dataset`][] file)."""
    try:
        with np.load(os.fspath(path), allow_pickle=False) as archive:
            return set(_REQUIRED) <= set(archive.files)
    except Exception:
        return False


def load_trajectories(path: str | os.PathLike) -> Trajectories:
    """Reads measured trajectories from an `.npz` file in the documented format.

    **Arguments:**

    - `path`: a file written by [`lagrangian_zoo.save_trajectories`][], or by
        `numpy.savez` with the arrays `t`, `q`, `q_t` and optionally `q_tt`, `u` and
        `metadata` (a JSON string).

    **Returns:** the [`lagrangian_zoo.Trajectories`][], arrays in float64.

    **Raises:** `FileNotFoundError` for a missing file; `ValueError` naming the file and the
    field for one that is not an `.npz` archive, lacks a required array, holds an unknown
    one, has arrays of mismatched shapes or non-finite values, or another format version.
    """
    path = os.fspath(path)
    where = f"'{path}': "
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no trajectory file at '{path}'.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as error:
        raise ValueError(
            f"{where}is not a readable .npz archive ({type(error).__name__}: {error}); write it "
            "with lz.save_trajectories or numpy.savez."
        ) from None
    header = arrays.pop(_HEADER_ENTRY, None)
    if header is not None:
        _check_header(where, header)
    missing = [name for name in _REQUIRED if name not in arrays]
    if missing:
        raise ValueError(
            f"{where}lacks the array(s) {', '.join(f'`{name}`' for name in missing)}; a "
            f"trajectory file holds t (T,), q and q_t (T, n) or (B, T, n), and optionally q_tt "
            f"and u; it holds {sorted(arrays)}."
        )
    unknown = sorted(set(arrays) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ValueError(
            f"{where}holds unknown array(s) {', '.join(f'`{name}`' for name in unknown)}; a "
            f"trajectory file holds only {', '.join(_REQUIRED + _OPTIONAL)}."
        )
    metadata: Any = {}
    if "metadata" in arrays:
        try:
            metadata = json.loads(str(arrays["metadata"][()]))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}`metadata` is not a JSON string ({error}).") from None
        if not isinstance(metadata, dict):
            raise ValueError(
                f"{where}`metadata` must be a JSON object, got {type(metadata).__name__}."
            )
    return check_trajectories(
        arrays["t"],
        arrays["q"],
        arrays["q_t"],
        arrays.get("q_tt"),
        arrays.get("u"),
        metadata,
        where=where,
    )


def _check_header(where: str, entry: np.ndarray) -> None:
    try:
        header = json.loads(str(entry[()]))
    except (TypeError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != TRAJECTORY_FORMAT:
        found = header.get("format") if isinstance(header, dict) else header
        hint = " (a dataset file: read it with lz.Dataset.load)" if found else ""
        raise ValueError(f"{where}names the format {found!r}, not {TRAJECTORY_FORMAT!r}{hint}.")
    version = header.get("format_version")
    if version != TRAJECTORY_FORMAT_VERSION:
        raise ValueError(
            f"{where}has trajectory format version {version!r}, but lagrangian_zoo "
            f"{library_version()} reads version {TRAJECTORY_FORMAT_VERSION}."
        )


__all__ = ["Trajectories", "load_trajectories", "save_trajectories"]
