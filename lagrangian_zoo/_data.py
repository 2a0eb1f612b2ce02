"""Training data: trajectories of a system with exact derivatives, random-state streams, the
measured real pendulum, and their storage on disk."""

import dataclasses
import importlib.resources
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray, Real, Shaped

from ._io import atomic_write, key_data, library_version
from ._mechanics import to_canonical
from ._rollout import rollout
from ._source import AbstractDerivativeSource, AbstractFiniteSource
from ._trajectory_file import is_trajectory_file, load_trajectories, Trajectories
from ._validation import (
    fraction as validate_fraction,
    non_negative_number,
    one_of,
    positive_int,
    prng_key,
)


DATASET_FORMAT = "lagrangian_zoo.dataset"
DATASET_FORMAT_VERSION = 1
_HEADER_ENTRY = "__lagrangian_zoo__"
_COORDINATES = ("velocity", "canonical")


def _plain(array: np.ndarray) -> Any:
    """An array as Python numbers (nested lists for its axes).

    A float is written as the shortest decimal that reads back to it in its own precision, so
    a system parameter 9.8 stored as a float32 array is recorded as 9.8, not
    9.800000190734863.
    """
    if array.ndim:
        return [_plain(np.asarray(row)) for row in array]
    number = array[()]
    if isinstance(number, np.floating):
        return float(str(number))
    return number.item()


def _jsonable(value: Any) -> Any:
    """Plain JSON values for metadata: arrays become numbers or (nested) lists, tuples lists."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        return _plain(np.asarray(value))
    return value


class Metadata(Mapping[str, Any]):
    """An immutable, hashable mapping of JSON values describing a dataset.

    Hashable so that it can be a static field of [`lagrangian_zoo.Dataset`][] (static fields
    are part of `jax.jit`'s cache key). Indexing returns fresh copies of nested values.
    """

    __slots__ = ("_json",)

    def __init__(self, items: Mapping[str, Any] | None = None):
        try:
            text = json.dumps(_jsonable(dict(items or {})), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"dataset `metadata` must hold JSON values (numbers, strings, lists, dicts), "
                f"got {items!r}: {error}"
            ) from None
        object.__setattr__(self, "_json", text)

    def __setattr__(self, name, value):
        raise AttributeError("Metadata is immutable.")

    def as_dict(self) -> dict[str, Any]:
        """A mutable copy as a plain dict."""
        return json.loads(self._json)

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __hash__(self) -> int:
        return hash(self._json)

    def __eq__(self, other) -> bool:
        if isinstance(other, Metadata):
            return self._json == other._json
        return isinstance(other, Mapping) and self.as_dict() == dict(other)

    def __repr__(self) -> str:
        return f"Metadata({self._json})"


def _as_metadata(value: Mapping[str, Any] | None) -> Metadata:
    return value if isinstance(value, Metadata) else Metadata(value)


def _check_batch_size(batch_size) -> None:
    positive_int("", "batch_size", batch_size)


def split_rows(
    fraction: Any, key: Any, count: int, unit: str
) -> tuple[Int[Array, " first"], Int[Array, " second"]]:
    """The rows of the two parts of a split of `count` trajectories or trials (`unit`): the
    first `round(fraction * count)` (at least one, and one short of all) of an order shuffled
    by `key`, or of `0, 1, ...` when `key` is `None`, and the rest."""
    fraction = validate_fraction("", "fraction", fraction)
    if count < 2:
        raise ValueError(
            f"cannot split a dataset of {count} {unit} into two non-empty parts; "
            f"generate at least 2 {'trials' if unit == 'trial' else 'trajectories'}."
        )
    if key is not None:
        prng_key("", "key", key, expected="a JAX PRNG key (jax.random.key(seed)) or None")
    first = min(max(round(fraction * count), 1), count - 1)
    order = jnp.arange(count) if key is None else jax.random.permutation(key, count)
    return order[:first], order[first:]


class Dataset(AbstractDerivativeSource, AbstractFiniteSource):
    """Trajectories of states and their time derivatives: a pytree of three arrays.

    `y[b, i]` is the state of trajectory `b` at time `ts[i]`, either `[q, q_t]` or, for
    canonical data, `[q, p]`; `dy[b, i]` is its exact time derivative. Datasets pass through
    `jax.jit` and `equinox.filter_jit` like any pytree; `metadata` (system, parameters, seed,
    noise, coordinates, library version) is static.

    **Fields:**

    - `ts`: the sample times, shape `(T,)`.
    - `y`: the states, shape `(trajectories, T, 2n)`.
    - `dy`: their time derivatives, shape `(trajectories, T, 2n)`.
    - `metadata`: a read-only mapping of JSON values.
    """

    ts: Float[Array, " times"] = eqx.field(converter=jnp.asarray)
    y: Float[Array, "trajectories times state"] = eqx.field(converter=jnp.asarray)
    dy: Float[Array, "trajectories times state"] = eqx.field(converter=jnp.asarray)
    metadata: Metadata = eqx.field(static=True, converter=_as_metadata, default=None)

    def __check_init__(self):
        for name in ("ts", "y", "dy"):
            value = getattr(self, name)
            if not jnp.issubdtype(value.dtype, jnp.floating):
                raise TypeError(
                    f"Dataset: `{name}` must be a real floating-point array, got dtype "
                    f"{value.dtype}."
                )
        if self.ts.ndim != 1:
            raise ValueError(f"Dataset: `ts` must have shape (T,), got shape {self.ts.shape}.")
        times = self.ts.shape[0]
        if self.y.ndim != 3 or self.y.shape[1] != times or self.y.shape[2] % 2 != 0:
            raise ValueError(
                f"Dataset: `y` must have shape (trajectories, T, 2n) with T = len(ts) = {times} "
                f"and an even state size, got shape {self.y.shape}."
            )
        if self.y.shape[0] == 0 or self.y.shape[2] == 0:
            raise ValueError(f"Dataset: `y` must not be empty, got shape {self.y.shape}.")
        if self.dy.shape != self.y.shape:
            raise ValueError(
                f"Dataset: `dy` must have the shape of `y`, {self.y.shape}, got shape "
                f"{self.dy.shape}."
            )

    @property
    def dof(self) -> int:
        """The number of degrees of freedom `n` (states have `2n` entries)."""
        return self.y.shape[-1] // 2

    @property
    def num_trajectories(self) -> int:
        """The number of trajectories."""
        return self.y.shape[0]

    def states(self) -> tuple[Float[Array, "rows state"], Float[Array, "rows state"]]:
        """All states and derivatives as rows: `(y, dy)`, each of shape `(B * T, 2n)`."""
        width = self.y.shape[-1]
        return self.y.reshape(-1, width), self.dy.reshape(-1, width)

    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch state"], Float[Array, "batch state"]]:
        """A minibatch of `batch_size` rows of `states()`, drawn uniformly with replacement.

        Works under `jax.jit` (the batch size is static), so a training loop draws its batches
        inside the compiled step.

        **Returns:** `(y, dy)`, each of shape `(batch_size, 2n)`.
        """
        _check_batch_size(batch_size)
        y, dy = self.states()
        rows = jax.random.randint(key, (batch_size,), 0, y.shape[0])
        return y[rows], dy[rows]

    def split(self, fraction: float, key: PRNGKeyArray | None) -> tuple["Dataset", "Dataset"]:
        """Splits by whole trajectories into `(train, test)`, as
        [`lagrangian_zoo.PixelDataset.split`][] splits trials.

        **Arguments:**

        - `fraction`: the share of trajectories in the first part, in `(0, 1)`; both parts
            get at least one trajectory.
        - `key`: the PRNG key of the shuffle, or `None` to keep the order (the first
            trajectories train, the last ones test).

        **Returns:** `(train, test)`, two datasets with disjoint trajectories.
        """
        first, second = split_rows(fraction, key, self.num_trajectories, "trajectory")

        def part(rows):
            return Dataset(self.ts, self.y[rows], self.dy[rows], self.metadata)

        return part(first), part(second)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the dataset to an `.npz` file (written atomically), read by `Dataset.load`.

        The archive holds `ts`, `y`, `dy` and a JSON entry with the format name and version,
        the library version and the metadata. The file is written exactly at `path`.
        """
        header = {
            "format": DATASET_FORMAT,
            "format_version": DATASET_FORMAT_VERSION,
            "library_version": library_version(),
            "metadata": self.metadata.as_dict(),
        }
        arrays: dict[str, Any] = {
            "ts": np.asarray(self.ts),
            "y": np.asarray(self.y),
            "dy": np.asarray(self.dy),
            _HEADER_ENTRY: np.array(json.dumps(header, sort_keys=True)),
        }
        atomic_write(path, lambda file: np.savez(file, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Dataset":
        """Reads a dataset written by [`lagrangian_zoo.Dataset.save`][].

        Also reads a file of measured trajectories without inputs (the format of
        [`lagrangian_zoo.save_trajectories`][]: arrays `t`, `q`, `q_t` and optionally `q_tt`),
        as [`lagrangian_zoo.states_from_trajectories`][] turns them into states and
        derivatives (central differences of `q_t` where `q_tt` is missing); a file with inputs
        `u` is refused, to be read by [`lagrangian_zoo.InputDataset.load`][].

        Raises `FileNotFoundError` for a missing file and `ValueError` naming the file for
        anything else that stops it from loading: a truncated or corrupt file, an archive
        without lagrangian_zoo metadata, another format version, or arrays that do not form a
        dataset.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no dataset file at '{path}'.")
        if is_trajectory_file(path):
            record = load_trajectories(path)
            if record.u is not None:
                raise ValueError(
                    f"'{path}' holds trajectories with inputs `u` (shape {record.u.shape}), "
                    "which a Dataset cannot keep; read it with lz.InputDataset.load."
                )
            ts, y, dy = states_from_trajectories(record)[:3]
            return cls(ts, y, dy, {"source": path, **record.metadata})
        with open(path, "rb") as file:
            magic = file.read(4)
        if magic != b"PK\x03\x04":
            raise ValueError(
                f"'{path}' is not a lagrangian_zoo dataset: it is not an .npz archive."
            )
        try:
            with np.load(path, allow_pickle=False) as archive:
                if _HEADER_ENTRY not in archive.files:
                    raise _ForeignFile(sorted(archive.files))
                header = json.loads(str(archive[_HEADER_ENTRY][()]))
                missing = sorted({"ts", "y", "dy"} - set(archive.files))
                arrays = {name: archive[name] for name in ("ts", "y", "dy") if name in archive}
        except _ForeignFile as error:
            raise ValueError(
                f"'{path}' is not a lagrangian_zoo dataset: the archive has no "
                f"{_HEADER_ENTRY!r} entry (it holds {error.args[0]}). Build one from arrays "
                "with lz.Dataset(ts, y, dy, metadata)."
            ) from None
        except Exception as error:
            # Damaged bytes surface from zipfile, numpy and json as many types (BadZipFile,
            # EOFError, ValueError, NotImplementedError for a flipped compression flag, ...);
            # each is the same fact for the caller, so it becomes one error naming the file.
            raise ValueError(
                f"'{path}' is truncated or corrupt and cannot be read "
                f"({type(error).__name__}: {error}). Re-create it or use another copy."
            ) from error
        _check_header(path, header)
        if missing:
            raise ValueError(
                f"'{path}' is a damaged lagrangian_zoo dataset: it lacks the array(s) "
                f"{', '.join(missing)}. Re-create it or use another copy."
            )
        try:
            return cls(
                jnp.asarray(arrays["ts"]),
                jnp.asarray(arrays["y"]),
                jnp.asarray(arrays["dy"]),
                header.get("metadata") or {},
            )
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"'{path}' is not a valid lagrangian_zoo dataset: its arrays or metadata do not "
                f"form one ({error})"
            ) from None


class _ForeignFile(Exception):
    pass


def _check_header(path: str, header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != DATASET_FORMAT:
        found = header.get("format") if isinstance(header, dict) else header
        raise ValueError(
            f"'{path}' is not a lagrangian_zoo dataset: its header names the format {found!r}."
        )
    version = header.get("format_version")
    if version != DATASET_FORMAT_VERSION:
        newer = isinstance(version, int) and version > DATASET_FORMAT_VERSION
        hint = "upgrade lagrangian_zoo to read it" if newer else "re-create it with this version"
        raise ValueError(
            f"'{path}' has dataset format version {version!r}, but lagrangian_zoo "
            f"{library_version()} reads version {DATASET_FORMAT_VERSION} ({hint}; written by "
            f"lagrangian_zoo {header.get('library_version', 'unknown')})."
        )
    metadata = header.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(
            f"'{path}' is not a valid lagrangian_zoo dataset: its header holds no metadata "
            f"table (found {type(metadata).__name__})."
        )


def parameters_of(system: Any) -> dict[str, Any]:
    """The constructor parameters of a system as plain JSON values (arrays become numbers or
    lists), as a dataset's metadata records them."""
    if not dataclasses.is_dataclass(system):
        return {}
    out = {}
    for field in dataclasses.fields(system):
        if not field.init:
            continue
        value = _jsonable(getattr(system, field.name))
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = repr(value)
        out[field.name] = value
    return out


def _system_name(system: Any) -> str:
    # A plain function is named by its own name, not by the type "function".
    default = getattr(system, "__name__", type(system).__name__)
    return str(getattr(system, "name", default))


@eqx.filter_jit
def _exact_derivatives(system, ts, ys):
    def one_time(t, y):
        return system(t, y, None)

    return jax.vmap(jax.vmap(one_time))(jnp.broadcast_to(ts, ys.shape[:-1]), ys)


def _check_initial_states(y0: Any, source: str) -> Array:
    """`y0` as a float array of shape `(trajectories, 2n)` of finite states."""
    try:
        states = jnp.asarray(y0)
    except TypeError as error:
        raise TypeError(f"{source} must be an array of states, got {y0!r} ({error}).") from None
    if not jnp.issubdtype(states.dtype, jnp.floating):
        raise TypeError(
            f"{source} must hold real floating-point states, got dtype {states.dtype}; convert "
            "it first, e.g. jnp.asarray(y0, dtype=float)."
        )
    if states.ndim != 2 or states.shape[0] == 0 or states.shape[1] == 0 or states.shape[1] % 2:
        hint = " (for one trajectory, pass y0[None])" if states.ndim == 1 else ""
        raise ValueError(
            f"{source} must have shape (trajectories, 2n): one state [q, q_t] of even length "
            f"per trajectory{hint}, got shape {states.shape}."
        )
    if isinstance(states, jax.core.Tracer):
        return eqx.error_if(states, ~jnp.all(jnp.isfinite(states)), f"{source} must be finite.")
    finite = np.isfinite(np.asarray(states)).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(
            f"{source} must be finite, but {int((~finite).sum())} of {states.shape[0]} states "
            f"are not; the first, number {row}, is {np.asarray(states[row]).tolist()}."
        )
    return states


def _check_field_shape(system: Callable, states: Array, source: str) -> None:
    """Refuses a state size that the vector field does not map to a derivative of its shape."""
    state = jax.ShapeDtypeStruct(states.shape[1:], states.dtype)
    time = jax.ShapeDtypeStruct((), states.dtype)
    out = jax.eval_shape(lambda t, y: system(t, y, None), time, state)
    if getattr(out, "shape", None) != state.shape:
        raise ValueError(
            f"`system` maps a state of shape {state.shape} ({source}) to dy/dt of shape "
            f"{getattr(out, 'shape', None)}; the states must be [q, q_t] of the system's "
            "2n entries."
        )


def generate_dataset(
    system: Callable,
    key: PRNGKeyArray,
    *,
    trajectories: int | None = None,
    ts: Real[ArrayLike, " times"],
    y0: Shaped[ArrayLike, "*_batch _state"] | None = None,
    sampler: Callable[[PRNGKeyArray], Float[Array, " state"]] | None = None,
    noise_std: float = 0.0,
    coordinates: str = "velocity",
    solver: str = "tsit5",
    rtol: float = 1e-10,
    atol: float = 1e-10,
    max_steps: int | None = None,
) -> Dataset:
    r"""Trajectories of a system from its initial states, with exact derivatives.

    The initial states are `y0` when given, else draws of `sampler`, else draws of the
    system's own `system.sample_initial_state` (one key per trajectory). All trajectories are
    integrated by one batched [`lagrangian_zoo.rollout`][], and the targets are the system's
    exact vector field on the clean states. Gaussian noise of standard deviation `noise_std`
    is then added to the states only, as in the HNN paper (noise on $q$ and $p$, derivatives
    exact).

    `system` can be any vector field: a system of `lz.systems`, or one of your
    own, such as `lz.lagrangian_vector_field(L)` of a Lagrangian `L(q, q_t)`; give the latter
    its initial states with `y0` or `sampler`.

    **Arguments:**

    - `system`: the vector field `f(t, y, args) -> dy/dt` of the truth; it needs a
        `sample_initial_state(key)` method unless `y0` or `sampler` is given.
    - `key`: the PRNG key of the initial states and the noise.
    - `trajectories`: the number of trajectories `B`; with `y0`, it may be left out (it is
        `len(y0)`) and must otherwise equal it.
    - `ts`: strictly increasing sample times `(T,)`; each trajectory starts at `ts[0]`.
    - `y0`: the initial states, shape `(B, 2n)`, finite; instead of a sampler.
    - `sampler`: `sampler(key) -> y` of shape `(2n,)`, drawn once per trajectory with its own
        key; instead of `system.sample_initial_state`.
    - `noise_std`: the standard deviation of the noise added to the states.
    - `coordinates`: `"velocity"` gives `y = [q, q_t]`, `dy = [q_t, q_tt]`; `"canonical"`
        gives `y = [q, p]`, `dy = [q_t, p_t]` with $p = \partial L / \partial \dot q$ from
        [`lagrangian_zoo.momenta`][] and $\dot p = \frac{\partial p}{\partial q}\dot q +
        \frac{\partial p}{\partial \dot q}\ddot q$ by the chain rule (on solutions it equals
        $\partial L / \partial q$ and $-\partial H / \partial q$). Needs `system.lagrangian`.
    - `solver`, `rtol`, `atol`, `max_steps`: passed to [`lagrangian_zoo.rollout`][]. The
        tolerances are raised to ten machine epsilons when the states are in lower precision
        (float32), which cannot reach 1e-10.

    **Returns:** a [`lagrangian_zoo.Dataset`][] with `y`, `dy` of shape `(B, T, 2n)`; its
    metadata names the system (its `name`, or the function's or class's name), its
    parameters (the fields of a dataclass system), and where the initial states came from.

    !!! example

        ```python
        def lagrangian(q, q_t):
            return 0.5 * q_t @ q_t - 0.5 * q @ q

        data = lz.generate_dataset(
            lz.lagrangian_vector_field(lagrangian),
            jax.random.key(0),
            trajectories=16,
            ts=jnp.linspace(0.0, 3.0, 31),
            sampler=lambda key: jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0),
        )
        ```

    ??? cite "Reference"

        ```bibtex
        @inproceedings{greydanus2019hamiltonian,
          title={Hamiltonian Neural Networks},
          author={Greydanus, Samuel and Dzamba, Misko and Yosinski, Jason},
          booktitle={Advances in Neural Information Processing Systems},
          year={2019}
        }
        ```
    """
    trajectories, y0 = _check_generation(
        system, key, trajectories, y0, sampler, noise_std, coordinates
    )
    ts_array = _check_times(ts)
    initial_key, noise_key = jax.random.split(key)
    y0, source, origin = _initial_states(system, initial_key, trajectories, y0, sampler)
    _check_field_shape(system, y0, source)
    ts_array = ts_array.astype(y0.dtype)
    floor = 10 * float(jnp.finfo(y0.dtype).eps)
    rtol, atol = max(rtol, floor), max(atol, floor)
    ys = rollout(system, y0, ts_array, solver=solver, rtol=rtol, atol=atol, max_steps=max_steps)
    dys = _exact_derivatives(system, ts_array, ys)
    if coordinates == "canonical":
        ys, dys = to_canonical(system.lagrangian, ys, dys)
    if noise_std > 0:
        ys = ys + noise_std * jax.random.normal(noise_key, ys.shape, ys.dtype)

    metadata = {
        "system": _system_name(system),
        "parameters": parameters_of(system),
        "initial_states": origin,
        "seed": key_data(key),
        "noise_std": float(noise_std),
        "coordinates": coordinates,
        "solver": solver if isinstance(solver, str) else type(solver).__name__,
        "rtol": float(rtol),
        "atol": float(atol),
        "library_version": library_version(),
    }
    return Dataset(ts_array, ys, dys, metadata)


class StateStream(AbstractDerivativeSource):
    """Random states with exact derivatives, drawn afresh for every batch.

    The Lagrangian Neural Networks paper trains on the double pendulum this way: every batch
    is a new set of random states (angles and velocities), and the targets are the exact
    accelerations. `sample(key, batch_size)` works inside a compiled training loop.

    **Fields:**

    - `system`: the vector field `f(t, y, args)` that gives the exact derivatives.
    - `sampler`: `sampler(key) -> y` of shape `(2n,)`; defaults to
        `system.sample_training_state` when the system has it, else
        `system.sample_initial_state`.

    ??? cite "Reference"

        Fresh states for every batch, as in Cranmer et al. (2020), *Lagrangian Neural
        Networks*: BibTeX under [`lagrangian_zoo.models.LNN`][].
    """

    system: Callable
    sampler: Callable | None = None

    def __check_init__(self):
        if not callable(self.system):
            raise TypeError(
                f"StateStream: `system` must be a vector field f(t, y, args), got "
                f"{type(self.system).__name__}."
            )
        if self.sampler is None and not any(
            callable(getattr(self.system, name, None))
            for name in ("sample_training_state", "sample_initial_state")
        ):
            raise TypeError(
                f"StateStream: {type(self.system).__name__} has no sample_training_state or "
                "sample_initial_state method; pass `sampler=` (a function key -> state)."
            )
        if self.sampler is not None and not callable(self.sampler):
            raise TypeError(f"StateStream: `sampler` must be callable, got {self.sampler!r}.")

    def _draw(self, key: PRNGKeyArray) -> Float[Array, " state"]:
        if self.sampler is not None:
            return self.sampler(key)
        if callable(getattr(self.system, "sample_training_state", None)):
            return self.system.sample_training_state(key)
        return self.system.sample_initial_state(key)

    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch state"], Float[Array, "batch state"]]:
        """`batch_size` fresh random states and their exact derivatives `(y, dy)`."""
        _check_batch_size(batch_size)
        y = jax.vmap(self._draw)(jax.random.split(key, batch_size))

        def derivative(state):
            return self.system(jnp.zeros((), state.dtype), state, None)

        return y, jax.vmap(derivative)(y)


_REAL_PENDULUM_FILE = "real_pend_h_1.txt"


_DERIVATIVE_SCHEMES = ("forward", "central")


def finite_differences(
    ts: Float[np.ndarray, " times"], ys: Float[np.ndarray, "times state"], scheme: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Time derivatives of sampled states by finite differences on an uneven grid.

    `"forward"`: $(y_{i+1} - y_i) / h_i$, first order, the last sample dropped. `"central"`:
    the second-order three-point formula for uneven steps $h_- = t_i - t_{i-1}$,
    $h_+ = t_{i+1} - t_i$,
    $\dot y_i \approx \frac{h_-^2 y_{i+1} - h_+^2 y_{i-1} + (h_+^2 - h_-^2) y_i}
    {h_- h_+ (h_- + h_+)}$, the first and last samples dropped.

    **Arguments:**

    - `ts`: the sample times `(T,)`, strictly increasing.
    - `ys`: the states at those times, shape `(T, d)`.
    - `scheme`: `"forward"` or `"central"`.

    **Returns:** `(ts, ys, dys)` at the samples that have their derivative.
    """
    one_of("", "scheme", scheme, _DERIVATIVE_SCHEMES)
    if scheme == "forward":
        return ts[:-1], ys[:-1], np.diff(ys, axis=0) / np.diff(ts)[:, None]
    before = (ts[1:-1] - ts[:-2])[:, None]
    after = (ts[2:] - ts[1:-1])[:, None]
    dys = (before**2 * ys[2:] - after**2 * ys[:-2] + (after**2 - before**2) * ys[1:-1]) / (
        before * after * (before + after)
    )
    return ts[1:-1], ys[1:-1], dys


def states_from_trajectories(
    trajectories: Trajectories, derivatives: str = "central"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    r"""Measured trajectories as states `[q, q_t]` and their derivatives `[q_t, q_tt]`.

    The accelerations are the measured `q_tt` when the trajectories have them; otherwise
    finite differences of the velocities (see [`lagrangian_zoo.finite_differences`][]), which
    drop the samples without a derivative: the last one (`"forward"`), or the first and the
    last (`"central"`, second order, the default).

    **Arguments:**

    - `trajectories`: what [`lagrangian_zoo.load_trajectories`][] returns.
    - `derivatives`: `"central"` or `"forward"`, for trajectories without `q_tt`.

    **Returns:** `(ts, y, dy, u)` as NumPy arrays: `ts` `(T',)`, `y` and `dy`
    `(B, T', 2n)`, `u` `(B, T', m)` or `None`, at the samples kept.
    """
    one_of("", "derivatives", derivatives, _DERIVATIVE_SCHEMES)
    t, q, q_t, q_tt, u = trajectories[:5]
    kept = slice(None)
    if q_tt is None:
        if t.shape[0] < 3:
            raise ValueError(
                f"estimating `q_tt` by finite differences needs at least 3 samples, got "
                f"{t.shape[0]}; give the measured accelerations `q_tt`."
            )
        q_tt = np.stack([finite_differences(t, v, derivatives)[2] for v in q_t])
        kept = slice(1, -1) if derivatives == "central" else slice(0, -1)
    y = np.concatenate([q[:, kept], q_t[:, kept]], axis=-1)
    dy = np.concatenate([q_t[:, kept], q_tt], axis=-1)
    return t[kept], y, dy, None if u is None else u[:, kept]


def real_pendulum_dataset(
    *, test_fraction: float = 0.2, derivatives: str = "forward"
) -> tuple[Dataset, Dataset]:
    r"""The measured pendulum of Schmidt and Lipson (2009): the HNN paper's real-data task.

    The states are the measured angle and angular velocity, `y = [theta, omega]`. Their time
    derivatives are finite differences of the samples with the actual time steps (the record
    is sampled every 1/6 s but has a few gaps of two or three steps). By default they are the
    HNN paper's forward differences, $\dot y_i \approx (y_{i+1} - y_i) / (t_{i+1} - t_i)$,
    and the last sample, which has no successor, is dropped. The sequence is split in time:
    the last `test_fraction` of it is the test set.

    Forward differences are biased at first order: for a swing of angular frequency $\omega$
    the estimate of $\ddot\theta$ carries $-\tfrac{h}{2}\omega^2\dot\theta$, a friction
    of rate $h\omega^2/2$ (about 1 per second here) that the pendulum does not have. A model
    that can learn dissipation learns it. `derivatives="central"` uses the second-order
    three-point formula instead (see [`lagrangian_zoo.finite_differences`][]), whose error
    is $O(h^2)$ and not dissipative; the first and last samples are then dropped.

    **Arguments:**

    - `test_fraction`: the share of the sequence, at its end, used for testing.
    - `derivatives`: `"forward"` (the paper's, default) or `"central"`.

    **Returns:** `(train, test)`, each a [`lagrangian_zoo.Dataset`][] holding one trajectory,
    with metadata `system="real_pendulum"`.

    ??? cite "Reference"

        ```bibtex
        @article{schmidt2009distilling,
          title={Distilling Free-Form Natural Laws from Experimental Data},
          author={Schmidt, Michael and Lipson, Hod},
          journal={Science},
          volume={324},
          number={5923},
          pages={81--85},
          year={2009}
        }
        ```
    """
    validate_fraction("", "test_fraction", test_fraction)
    one_of("", "derivatives", derivatives, _DERIVATIVE_SCHEMES)
    resource = importlib.resources.files("lagrangian_zoo").joinpath("data", _REAL_PENDULUM_FILE)
    table = np.loadtxt(io.StringIO(resource.read_text()), comments="%", ndmin=2)
    t, states = table[:, 1], table[:, 2:4]
    steps = np.diff(t)
    if not np.all(steps > 0):
        raise ValueError(f"{_REAL_PENDULUM_FILE}: the time column is not strictly increasing.")
    t, states, rates = finite_differences(t, states, derivatives)
    count = t.shape[0]
    train_count = min(max(round((1 - test_fraction) * count), 1), count - 1)
    dtype = jax.dtypes.canonicalize_dtype(np.float64)

    def part(rows: slice, name: str) -> Dataset:
        metadata = {
            "system": "real_pendulum",
            "part": name,
            "source": "Schmidt & Lipson, Science 324 (2009), " + _REAL_PENDULUM_FILE,
            "coordinates": "velocity",
            "derivatives": f"{derivatives} finite differences",
            "test_fraction": float(test_fraction),
            "library_version": library_version(),
        }
        return Dataset(
            jnp.asarray(t[rows], dtype=dtype),
            jnp.asarray(states[None, rows], dtype=dtype),
            jnp.asarray(rates[None, rows], dtype=dtype),
            metadata,
        )

    return part(slice(0, train_count), "train"), part(slice(train_count, None), "test")


__all__ = [
    "Dataset",
    "StateStream",
    "finite_differences",
    "generate_dataset",
    "real_pendulum_dataset",
    "states_from_trajectories",
    "Metadata",
]


def _check_generation(system, key, trajectories, y0, sampler, noise_std, coordinates):
    """Checks `generate_dataset`'s arguments but the times; returns the trajectory count and
    the given initial states as an array (None where they are to be drawn)."""
    if not callable(system):
        raise TypeError(
            "`system` must be a vector field f(t, y, args), such as lz.systems.get('pendulum') "
            f"or lz.lagrangian_vector_field(L); got {type(system).__name__}."
        )
    if y0 is not None and sampler is not None:
        raise ValueError(
            "pass either `y0` (the initial states) or `sampler` (a function key -> state), "
            "not both."
        )
    if sampler is not None and not callable(sampler):
        raise TypeError(
            f"`sampler` must be a function key -> state of shape (2n,), got {sampler!r}."
        )
    if (
        y0 is None
        and sampler is None
        and not callable(getattr(system, "sample_initial_state", None))
    ):
        raise TypeError(
            "`system` must be a vector field f(t, y, args) with a sample_initial_state(key) "
            "method, such as lz.systems.get('pendulum'), or its initial states must be given: "
            "pass `y0=` (an array of shape (trajectories, 2n)) or `sampler=` (a function "
            f"key -> state of shape (2n,)); got {type(system).__name__} and neither."
        )
    prng_key("", "key", key)
    if y0 is not None:
        y0 = _check_initial_states(y0, "`y0`")
        if trajectories is None:
            trajectories = y0.shape[0]
        elif trajectories != y0.shape[0]:
            raise ValueError(
                f"`trajectories` = {trajectories!r} does not match the {y0.shape[0]} initial "
                f"states of `y0` (shape {y0.shape}); leave `trajectories` out or make them "
                "agree."
            )
    positive_int("", "trajectories", trajectories)
    non_negative_number("", "noise_std", noise_std)
    one_of("", "coordinates", coordinates, _COORDINATES)
    if coordinates == "canonical" and not callable(getattr(system, "lagrangian", None)):
        raise TypeError(
            "coordinates='canonical' needs the momenta p = dL/dq_t, but "
            f"{type(system).__name__} has no `lagrangian(q, q_t)` method."
        )
    return trajectories, y0


def _check_times(ts) -> Array:
    """`ts` as an array, checked: 1-D, at least two times, finite and strictly increasing
    (where it is concrete; under `jit`, `rollout` checks the values inside the program)."""
    ts_array = jnp.asarray(ts)
    if ts_array.ndim != 1 or ts_array.shape[0] < 2:
        raise ValueError(
            f"`ts` must be a 1-D array of at least 2 increasing times, got shape {ts_array.shape}."
        )
    try:
        times = np.asarray(ts_array, dtype=np.float64)
    except jax.errors.TracerArrayConversionError:
        times = None  # traced under jit: `rollout` checks the values inside the program
    if times is not None:
        # Checked before the initial states are drawn, so a bad grid fails at once.
        if not np.all(np.isfinite(times)):
            raise ValueError(f"`ts` must hold finite times, got {times.tolist()}.")
        if not np.all(np.diff(times) > 0):
            bad = int(np.argmax(np.diff(times) <= 0))
            raise ValueError(
                f"`ts` must be strictly increasing, but ts[{bad}] = {times[bad]} and "
                f"ts[{bad + 1}] = {times[bad + 1]}."
            )
    return ts_array


def _initial_states(system, key, trajectories, y0, sampler):
    """The initial states (given, or drawn by the sampler or the system), checked; with how
    they are named in errors and in the metadata."""
    if y0 is not None:
        return y0, "`y0`", "y0"
    draw = system.sample_initial_state if sampler is None else sampler
    name = "`sampler`" if sampler is not None else "`system.sample_initial_state`"
    origin = "sampler" if sampler is not None else "system"
    drawn = jax.vmap(draw)(jax.random.split(key, trajectories))
    shape = getattr(drawn, "shape", None)
    if shape is None or len(shape) != 2 or shape[1] == 0 or shape[1] % 2:
        raise ValueError(
            f"{name} must return one state [q, q_t] of shape (2n,) per key, got shape "
            f"{None if shape is None else shape[1:]}."
        )
    source = f"the states drawn by {name}"
    y0 = _check_initial_states(drawn, source)
    return y0, source, origin
