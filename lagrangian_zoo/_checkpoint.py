"""Checkpoints: models and training states in one self-describing, atomically written file.

A file is one line of JSON (the header: format name and version, library version, model class
and configuration, dtype, payload size and checksum, and a checksum of the header itself)
followed by the bytes of `equinox.tree_serialise_leaves`. Files are written to a temporary file
in the same folder, flushed, synced and renamed over the target, so a crash leaves either the
old file or the new one, never a mix. Loading checks everything before a single parameter is
restored, and every way a file can be damaged ends in one `ValueError` that names the file.
"""

import hashlib
import io
import json
import os
from collections.abc import Mapping
from typing import Any, IO

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from ._io import atomic_write, library_version


MODEL_FORMAT = "lagrangian_zoo.model"
TRAINING_FORMAT = "lagrangian_zoo.training_state"
FORMAT_VERSION = 1

_FORMAT_NAMES = {MODEL_FORMAT: "model", TRAINING_FORMAT: "training checkpoint"}


def _checksum(payload: bytes) -> str:
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def _header_checksum(header: Mapping[str, Any]) -> str:
    """The checksum of a header's values, all but `header_checksum` itself."""
    values = {key: value for key, value in header.items() if key != "header_checksum"}
    return _checksum(json.dumps(values, sort_keys=True, allow_nan=False).encode())


def _write_file(path: str | os.PathLike, header: dict, payload: bytes) -> None:
    header = dict(header, payload_bytes=len(payload), checksum=_checksum(payload))
    header["header_checksum"] = _header_checksum(header)
    line = json.dumps(header, sort_keys=True, allow_nan=False).encode() + b"\n"

    def write(file: IO[bytes]) -> None:
        file.write(line)
        file.write(payload)

    atomic_write(path, write)


def _read_file(path: str | os.PathLike, expected_format: str) -> tuple[dict, bytes]:
    """The header and the verified payload of a file, or an error naming the file and why."""
    path = os.fspath(path)
    what = _FORMAT_NAMES[expected_format]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no lagrangian_zoo {what} file at '{path}'.")
    with open(path, "rb") as file:
        content = file.read()
    header, payload = _split(path, content, what)
    found = header.get("format")
    if found != expected_format:
        if isinstance(found, str) and found in _FORMAT_NAMES:
            loader = "lz.load_model" if found == MODEL_FORMAT else "lz.fit(..., resume=True)"
            raise ValueError(
                f"'{path}' is a lagrangian_zoo {_FORMAT_NAMES[found]} file, not a {what} file; "
                f"read it with {loader}."
            )
        raise ValueError(
            f"'{path}' is not a lagrangian_zoo {what} file: its header names the format "
            f"{found!r}, expected {expected_format!r}."
        )
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = (
            "it was written by a newer lagrangian_zoo; upgrade to read it"
            if newer
            else "re-create it with this version"
        )
        raise ValueError(
            f"'{path}' has {what} format version {version!r}, but lagrangian_zoo "
            f"{library_version()} reads version {FORMAT_VERSION} ({hint}; written by "
            f"lagrangian_zoo {header.get('library_version', 'unknown')})."
        )
    _check_payload(path, header, payload)
    _check_fields(path, header, expected_format)
    return header, payload


def _split(path: str, content: bytes, what: str) -> tuple[dict, bytes]:
    """A file's header (its first line, parsed) and the bytes after it."""
    newline = content.find(b"\n")
    header = None
    if newline > 0:
        try:
            header = json.loads(content[:newline].decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            header = None
    if not isinstance(header, dict) or "format" not in header:
        raise ValueError(
            f"'{path}' is not a lagrangian_zoo {what} file: its first line is not a "
            "lagrangian_zoo header (a file from another program, or one cut short inside its "
            "header)."
        )
    return header, content[newline + 1 :]


def _check_payload(path: str, header: dict, payload: bytes) -> None:
    """Refuses a payload of another size or checksum than its header announces."""
    expected_bytes = header.get("payload_bytes")
    if not _is_count(expected_bytes):
        raise _damaged_header(path, "it lacks the payload size")
    if len(payload) < expected_bytes:
        raise ValueError(
            f"'{path}' is truncated: its header announces {expected_bytes} bytes of parameters "
            f"but only {len(payload)} follow. The write was interrupted or the copy is "
            "incomplete; use an earlier checkpoint."
        )
    if len(payload) > expected_bytes or _checksum(payload) != header.get("checksum"):
        raise ValueError(
            f"'{path}' is corrupt: its parameters do not match the checksum in its header. "
            "Use an earlier checkpoint or a fresh copy of the file."
        )


def checkpoint_damage(path: str | os.PathLike) -> ValueError | None:
    """The error that says how a training checkpoint is damaged (cut short, corrupted, its
    header edited), or `None` when the file is intact.

    An intact file can still be refused by `load_training_state` (another format version,
    model or settings); this tells those refusals apart from damage, for which an earlier
    checkpoint is the remedy.
    """
    path = os.fspath(path)
    what = _FORMAT_NAMES[TRAINING_FORMAT]
    try:
        with open(path, "rb") as file:
            content = file.read()
    except OSError:
        return None
    try:
        header, payload = _split(path, content, what)
        if header.get("format") != TRAINING_FORMAT:
            return None
        _check_payload(path, header, payload)
        _check_header_checksum(path, header)
        if header.get("format_version") == FORMAT_VERSION:
            _check_fields(path, header, TRAINING_FORMAT)
    except ValueError as error:
        return error
    return None


def _damaged_header(path: str, reason: str) -> ValueError:
    return ValueError(
        f"'{path}' has a damaged header: {reason}. Use an earlier checkpoint or a fresh copy of "
        "the file."
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# The type of every header entry a loader reads, so that a damaged value fails here, with the
# name of the file, rather than as a TypeError deep inside the loader.
_FIELDS: dict[str, tuple[tuple[str, tuple[type, ...]], ...]] = {
    MODEL_FORMAT: (("model", (str,)), ("config", (dict, type(None)))),
    TRAINING_FORMAT: (
        ("model", (str,)),
        ("config", (dict, type(None))),
        ("step", (int,)),
        ("history", (dict,)),
        ("settings", (dict,)),
        ("structure", (list,)),
    ),
}


def _check_fields(path: str, header: dict, expected_format: str) -> None:
    for name, types in _FIELDS[expected_format]:
        value = header.get(name)
        if not isinstance(value, types) or isinstance(value, bool):
            raise _damaged_header(
                path,
                f"its entry {name!r} is {value!r}, not a {' or '.join(t.__name__ for t in types)}",
            )
    if expected_format == TRAINING_FORMAT and not _is_count(header["step"]):
        raise _damaged_header(path, f"invalid step {header['step']!r}")
    saved = header.get("dtype")
    if saved is not None:
        if not isinstance(saved, str):
            raise _damaged_header(path, f"its dtype {saved!r} is not a name")
        for name in saved.split(","):
            try:
                dtype = jnp.dtype(name)
            except TypeError:
                raise _damaged_header(path, f"its dtype {name!r} is no dtype") from None
            if not jnp.issubdtype(dtype, jnp.inexact):
                raise _damaged_header(path, f"its dtype {name!r} is not a floating dtype")


def _check_header_checksum(path: str, header: dict) -> None:
    """Refuses a header whose values were changed after it was written.

    Checked last, so that a file written for another architecture or another version gets the
    message that says so; files from versions that wrote no header checksum skip the check.
    """
    expected = header.get("header_checksum")
    if expected is not None and expected != _header_checksum(header):
        raise ValueError(
            f"'{path}' is corrupt: its header does not match the checksum it carries (it was "
            "damaged or edited). Use an earlier checkpoint or a fresh copy of the file."
        )


def _serialise(tree: PyTree) -> bytes:
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, tree)
    return buffer.getvalue()


def _float_dtype(tree: PyTree) -> str | None:
    """The floating dtype of the tree's parameters (`None` if none, a list joined by `,`)."""
    dtypes = sorted(
        {str(leaf.dtype) for leaf in jax.tree.leaves(tree) if eqx.is_inexact_array_like(leaf)}
    )
    return ",".join(dtypes) if dtypes else None


def _model_config(model: eqx.Module, *, required: bool) -> dict | None:
    from .models import AbstractDynamics

    if not isinstance(model, AbstractDynamics):
        if required:
            raise TypeError(
                f"save_model needs a lagrangian_zoo model (an lz.models.AbstractDynamics, whose "
                f"config() gives the constructor keyword arguments that rebuild it); "
                f"{type(model).__name__} is not one. Save its parameters with "
                "equinox.tree_serialise_leaves instead."
            )
        return None
    config = model.config
    values = config()
    try:
        json.dumps(values, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{type(model).__name__}.config() must return JSON values (numbers, strings, "
            f"lists, dicts), got {values!r}: {error}"
        ) from None
    if not isinstance(values, dict):
        raise TypeError(
            f"{type(model).__name__}.config() must return a dict of constructor keyword "
            f"arguments, got {type(values).__name__}."
        )
    return values


def _registry() -> Mapping[str, type]:
    from .models import COMPOSITE_MODELS, MODELS

    return {**MODELS, **COMPOSITE_MODELS}


def _model_class(path: str, name: str) -> type:
    classes = {cls.__name__: cls for cls in _registry().values()}
    if name not in classes:
        known = ", ".join(sorted(classes)) or "(none registered)"
        raise ValueError(
            f"'{path}' holds a model of class {name!r}, which is not in "
            f"lagrangian_zoo.models.MODELS or COMPOSITE_MODELS (known: {known}). For a model "
            "class of your own, pass a model of that class and configuration as `like=`."
        )
    return classes[name]


def _cast_skeleton(path: str, skeleton: PyTree, saved: str | None) -> PyTree:
    """Gives the skeleton's parameters the dtype they were saved in."""
    if saved is None or "," in saved:
        return skeleton
    dtype = jnp.dtype(saved)
    if dtype.itemsize == 8 and jax.dtypes.canonicalize_dtype(dtype) != dtype:
        raise ValueError(
            f"'{path}' holds {saved} parameters but 64-bit floats are disabled in this "
            'session; enable them first with jax.config.update("jax_enable_x64", True).'
        )

    def cast(leaf):
        if isinstance(leaf, jax.ShapeDtypeStruct) and jnp.issubdtype(leaf.dtype, jnp.inexact):
            return jax.ShapeDtypeStruct(leaf.shape, dtype)
        return leaf

    return jax.tree.map(cast, skeleton)


def _deserialise(path: str, payload: bytes, like: PyTree, what: str) -> PyTree:
    try:
        return eqx.tree_deserialise_leaves(io.BytesIO(payload), like)
    except Exception as error:  # shape, dtype or structure mismatch inside equinox
        raise ValueError(
            f"'{path}' does not fit {what}: {error}. It was written for a different "
            "architecture or configuration."
        ) from error


def _describe_difference(saved: Mapping, current: Mapping) -> str:
    keys = sorted(set(saved) | set(current))
    parts = [
        f"{key}={saved.get(key, '(absent)')!r} in the file vs {current.get(key, '(absent)')!r} "
        "here"
        for key in keys
        if saved.get(key, "(absent)") != current.get(key, "(absent)")
    ]
    return "; ".join(parts)


def save_model(path: str | os.PathLike, model: eqx.Module) -> None:
    """Saves a model to one file that [`lagrangian_zoo.load_model`][] rebuilds exactly.

    The file starts with a JSON header (format, version, model class, `model.config()`,
    dtype, checksum) followed by the parameters; it is written atomically, so an interrupted
    save never leaves a damaged file behind.

    **Arguments:**

    - `path`: the file to write (any name; `.lzm` is customary).
    - `model`: a model with a `config()` method, such as those in `lagrangian_zoo.models`.

    **Returns:** nothing.
    """
    config = _model_config(model, required=True)
    header = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": library_version(),
        "model": type(model).__name__,
        "config": config,
        "dtype": _float_dtype(model),
    }
    _write_file(path, header, _serialise(model))


def load_model(path: str | os.PathLike, *, like: eqx.Module | None = None) -> eqx.Module:
    """Loads a model written by [`lagrangian_zoo.save_model`][].

    The model is rebuilt from its class in `lagrangian_zoo.models.MODELS` (or
    `COMPOSITE_MODELS`) and its saved configuration, then its parameters are restored. Every
    check (format, version, checksum, shapes) happens before the model is returned: a file
    either loads completely or raises.

    **Arguments:**

    - `path`: the file.
    - `like`: for model classes outside `lagrangian_zoo.models`, a model of the saved class and
        configuration whose parameters are replaced by the saved ones.

    **Returns:** the model, with the dtype it was saved in.

    Raises `FileNotFoundError` for a missing file and `ValueError` naming the file for one that
    is not a lagrangian_zoo model, has another format version, is truncated or corrupt, or
    holds an unknown model class.
    """
    path = os.fspath(path)
    header, payload = _read_file(path, MODEL_FORMAT)
    name, config = header.get("model"), header.get("config")
    if like is not None:
        if type(like).__name__ != name:
            raise ValueError(
                f"'{path}' holds a {name} model, but `like` is a {type(like).__name__}."
            )
        current = _model_config(like, required=False)
        if current is not None and config is not None and current != config:
            raise ValueError(
                f"'{path}' holds a {name} with another configuration than `like`: "
                f"{_describe_difference(config, current)}."
            )
        model = _deserialise(path, payload, like, f"a {name} like the one given")
        _check_header_checksum(path, header)
        return model
    if not isinstance(config, dict):
        raise _damaged_header(path, "it lacks the model configuration")
    cls = _model_class(path, name)
    try:
        skeleton = eqx.filter_eval_shape(cls, **config, key=jax.random.key(0))
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(
            f"'{path}' holds a {name} whose configuration {config!r} cannot be built by this "
            f"version of lagrangian_zoo: {reason}"
        ) from error
    skeleton = _cast_skeleton(path, skeleton, header.get("dtype"))
    model = _deserialise(path, payload, skeleton, f"{name}(**{config!r})")
    _check_header_checksum(path, header)
    return model


def _structure(tree: PyTree) -> list[str]:
    """One `shape dtype` entry per array leaf: a fingerprint of parameters and optimizer."""
    return [
        f"{tuple(np.shape(leaf))} {getattr(leaf, 'dtype', None) or np.result_type(leaf)}"
        for leaf in jax.tree.leaves(tree)
        if eqx.is_array_like(leaf)
    ]


def save_training_state(
    path: str | os.PathLike,
    model: eqx.Module,
    opt_state: PyTree,
    *,
    step: int,
    history: Mapping[str, list],
    settings: Mapping[str, Any],
) -> None:
    """Saves everything a training run needs to continue exactly: a training checkpoint.

    **Arguments:**

    - `path`: the file, written atomically.
    - `model`: the whole model (trainable parameters and input statistics).
    - `opt_state`: the optimizer state.
    - `step`: the number of completed steps.
    - `history`: the history so far, as JSON lists.
    - `settings`: the run's settings (steps, batch size, key, ...) that a resumed run must
        share to continue the same computation.
    """
    header = {
        "format": TRAINING_FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": library_version(),
        "model": type(model).__name__,
        "config": _model_config(model, required=False),
        "dtype": _float_dtype(model),
        "step": int(step),
        "history": dict(history),
        "settings": dict(settings),
        "structure": _structure((model, opt_state)),
    }
    _write_file(path, header, _serialise((model, opt_state)))


def load_training_state(
    path: str | os.PathLike,
    like: tuple[eqx.Module, PyTree],
    *,
    settings: Mapping[str, Any] | None = None,
) -> tuple[eqx.Module, PyTree, int, dict[str, list]]:
    """Loads a training checkpoint into the freshly built `(model, opt_state)` of a run.

    **Arguments:**

    - `path`: the file written by `save_training_state`.
    - `like`: the run's `(model, opt_state)` before training, giving the structure.
    - `settings`: the run's settings; any difference from the saved ones raises.

    **Returns:** `(model, opt_state, step, history)`.

    Raises `ValueError` naming the file and the mismatch when the checkpoint was written for
    another model class, configuration, optimizer or set of settings.
    """
    path = os.fspath(path)
    header, payload = _read_file(path, TRAINING_FORMAT)
    model, _ = like
    name = type(model).__name__
    if header.get("model") != name:
        raise ValueError(
            f"'{path}' is a checkpoint of a {header.get('model')} model, but this run trains "
            f"a {name}. Use another checkpoint_dir, or resume=False in an empty one."
        )
    saved_config, config = header.get("config"), _model_config(model, required=False)
    if saved_config != config:
        raise ValueError(
            f"'{path}' is a checkpoint of a {name} with another configuration: "
            f"{_describe_difference(saved_config or {}, config or {})}."
        )
    if settings is not None and header.get("settings") != dict(settings):
        raise ValueError(
            f"'{path}' was written by a run with other settings: "
            f"{_describe_difference(header['settings'], settings)}. Resume with the "
            "same settings (they decide the computation), or train into a new checkpoint_dir."
        )
    if header.get("structure") != _structure(like):
        raise ValueError(
            f"'{path}' holds parameters or optimizer state of other shapes than this run "
            f"({len(header['structure'])} arrays there, {len(_structure(like))} "
            "here): the architecture or the optimizer differs."
        )
    model, opt_state = _deserialise(path, payload, like, f"this run's {name} and optimizer")
    _check_header_checksum(path, header)
    return model, opt_state, header["step"], dict(header["history"])


__all__ = [
    "checkpoint_damage",
    "save_model",
    "load_model",
    "save_training_state",
    "load_training_state",
]
