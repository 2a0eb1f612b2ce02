"""Training data with inputs: trajectories under inputs (a forward-dynamics loss) and torque
samples (an inverse-dynamics loss), both sources of `fit`."""

import os
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from ._data import Metadata, split_rows, states_from_trajectories
from ._input_dynamics import vector_field_with_inputs
from ._inverse_dynamics import inverse_dynamics
from ._io import library_version
from ._source import AbstractFiniteSource, AbstractInputSource
from ._trajectory_file import load_trajectories, save_trajectories
from ._validation import flag, positive_int
from .models import AbstractDynamics, AbstractLagrangianModel, DeLaN


def _as_metadata(value: Any) -> Metadata:
    return value if isinstance(value, Metadata) else Metadata(value)


class InputDataset(AbstractInputSource):
    r"""Trajectories under inputs: states, their time derivatives, and the inputs acting.

    A source of [`lagrangian_zoo.fit`][] with a forward-dynamics loss: each row is a state
    `y` and the input `u` at it, and the loss compares the model's time derivative under that
    input, [`lagrangian_zoo.vector_field_with_inputs`][] (for a Lagrangian model
    $\ddot q$ from $\frac{d}{dt}\partial_{\dot q}L - \partial_q L = Q + u$), with the
    measured `dy` by `fit`'s `loss`. It trains an LNN, a DeLaN, a
    [`lagrangian_zoo.models.Baseline`][] built with `inputs=m`, or a
    [`lagrangian_zoo.models.PortHamiltonian`][] (on canonical states `[q, p]`).

    **Fields:**

    - `ts`: the sample times `(T,)`.
    - `y`: the states `(trajectories, T, 2n)`.
    - `dy`: their time derivatives `(trajectories, T, 2n)`.
    - `u`: the inputs `(trajectories, T, m)`, for a Lagrangian model the generalised forces
        (`m = n`).
    - `metadata`: a read-only mapping of JSON values.

    Read a file of measured trajectories with `InputDataset.load`; roll a trained model out
    under the recorded inputs with [`lagrangian_zoo.rollout_with_inputs`][]
    (`lz.rollout_with_inputs(model, data.y[:, 0], data.ts, data.u)`).
    """

    ts: Float[Array, " times"] = eqx.field(converter=jnp.asarray)
    y: Float[Array, "trajectories times state"] = eqx.field(converter=jnp.asarray)
    dy: Float[Array, "trajectories times state"] = eqx.field(converter=jnp.asarray)
    u: Float[Array, "trajectories times inputs"] = eqx.field(converter=jnp.asarray)
    metadata: Metadata = eqx.field(static=True, converter=_as_metadata, default=None)

    def __check_init__(self):
        for name in ("ts", "y", "dy", "u"):
            value = getattr(self, name)
            if not jnp.issubdtype(value.dtype, jnp.floating):
                raise TypeError(
                    f"InputDataset: `{name}` must be a real floating-point array, got dtype "
                    f"{value.dtype}."
                )
        if self.ts.ndim != 1:
            raise ValueError(
                f"InputDataset: `ts` must have shape (T,), got shape {self.ts.shape}."
            )
        times = self.ts.shape[0]
        shape = self.y.shape
        if len(shape) != 3 or shape[1] != times or shape[2] % 2 or 0 in shape:
            raise ValueError(
                f"InputDataset: `y` must have shape (trajectories, T, 2n) with T = len(ts) = "
                f"{times} and an even state size, got shape {shape}."
            )
        if self.dy.shape != shape:
            raise ValueError(
                f"InputDataset: `dy` must have the shape of `y`, {shape}, got shape "
                f"{self.dy.shape}."
            )
        if self.u.ndim != 3 or self.u.shape[:2] != shape[:2] or self.u.shape[2] == 0:
            raise ValueError(
                f"InputDataset: `u` must have shape ({shape[0]}, {times}, m), one input per "
                f"state, got shape {self.u.shape}."
            )

    @property
    def dof(self) -> int:
        """The number of degrees of freedom `n`."""
        return self.y.shape[-1] // 2

    @property
    def inputs(self) -> int:
        """The number of inputs `m`."""
        return self.u.shape[-1]

    @property
    def num_trajectories(self) -> int:
        """The number of trajectories."""
        return self.y.shape[0]

    def model_states(self) -> Float[Array, "rows state"]:
        """All states as rows `(B * T, 2n)`, without their inputs."""
        return self.y.reshape(-1, self.y.shape[-1])

    def states(self) -> tuple[Float[Array, "rows state_inputs"], Float[Array, "rows state"]]:
        """All rows `([y, u], dy)`, of shapes `(B * T, 2n + m)` and `(B * T, 2n)`."""
        width = self.y.shape[-1]
        rows = jnp.concatenate([self.y, self.u.astype(self.y.dtype)], axis=-1)
        return rows.reshape(-1, width + self.inputs), self.dy.reshape(-1, width)

    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch state_inputs"], Float[Array, "batch state"]]:
        """A minibatch of `batch_size` rows of `states()`, drawn uniformly with replacement
        (as [`lagrangian_zoo.Dataset.sample`][])."""
        positive_int("", "batch_size", batch_size)
        rows, dy = self.states()
        chosen = jax.random.randint(key, (batch_size,), 0, rows.shape[0])
        return rows[chosen], dy[chosen]

    def per_row(
        self, model: Any, rows: Float[Array, "batch state_inputs"], target: Array
    ) -> Float[Array, "batch state"]:
        """The model's time derivative of each row's state under its input."""
        del target
        width = self.y.shape[-1]
        y, u = rows[:, :width], rows[:, width:]
        t = jnp.zeros((), y.dtype)
        return jax.vmap(lambda y, u: vector_field_with_inputs(model, t, y, u))(y, u)

    def split(
        self, fraction: float, key: PRNGKeyArray | None
    ) -> tuple["InputDataset", "InputDataset"]:
        """Splits by whole trajectories into `(train, test)`, as
        [`lagrangian_zoo.Dataset.split`][] does."""
        first, second = split_rows(fraction, key, self.num_trajectories, "trajectory")

        def part(rows):
            return InputDataset(self.ts, self.y[rows], self.dy[rows], self.u[rows], self.metadata)

        return part(first), part(second)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the trajectories with [`lagrangian_zoo.save_trajectories`][] (atomically):
        `q`, `q_t`, `q_tt` and `u` of states `[q, q_t]`, read back by `InputDataset.load`.

        **Raises:** `ValueError` for canonical states `[q, p]` (metadata
        `coordinates="canonical"`), which the format does not hold.
        """
        if self.metadata.get("coordinates", "velocity") != "velocity":
            raise ValueError(
                "InputDataset.save writes states [q, q_t] and their accelerations; this dataset "
                f"holds {self.metadata['coordinates']!r} states."
            )
        n = self.dof
        save_trajectories(
            path,
            np.asarray(self.ts),
            np.asarray(self.y[..., :n]),
            np.asarray(self.y[..., n:]),
            q_tt=np.asarray(self.dy[..., n:]),
            u=np.asarray(self.u),
            metadata=self.metadata.as_dict(),
        )

    @classmethod
    def load(cls, path: str | os.PathLike, *, derivatives: str = "central") -> "InputDataset":
        """Reads a file of measured trajectories with inputs (see
        [`lagrangian_zoo.load_trajectories`][] for the format).

        **Arguments:**

        - `path`: the `.npz` file; it must hold the inputs `u`.
        - `derivatives`: where the file has no `q_tt`, the finite differences of `q_t` that
            estimate it, `"central"` (default) or `"forward"` (see
            [`lagrangian_zoo.states_from_trajectories`][]).

        **Raises:** `ValueError` naming the file and the field, as `load_trajectories` does,
        and for a file without inputs (read it with [`lagrangian_zoo.Dataset.load`][]).
        """
        record = load_trajectories(path)
        if record.u is None:
            raise ValueError(
                f"'{os.fspath(path)}' holds no inputs `u`; an InputDataset needs them (read "
                "trajectories without inputs with lz.Dataset.load)."
            )
        ts, y, dy, u = states_from_trajectories(record, derivatives)
        metadata = {
            "source": os.fspath(path),
            "coordinates": "velocity",
            "derivatives": "measured" if record.q_tt is not None else f"{derivatives} differences",
            "library_version": library_version(),
            **record.metadata,
        }
        return cls(ts, y, dy, u, metadata)


def _torques(model: Any, q: Array, q_t: Array, q_tt: Array) -> Array:
    """A model's inverse dynamics on rows of shape `(batch, n)`."""
    if isinstance(model, DeLaN):
        return jax.vmap(model.inverse_dynamics)(q, q_t, q_tt)
    if isinstance(model, AbstractLagrangianModel):
        return inverse_dynamics(model, q, q_t, q_tt)
    if isinstance(model, AbstractDynamics):
        raise TypeError(
            f"an inverse-dynamics loss needs the torques of a Lagrangian model (LNN, DeLaN, ...) "
            f"or of an inverse model tau = f(q, q_t, q_tt); {type(model).__name__} is a forward "
            "model: train it on an lz.InputDataset instead."
        )
    return jax.vmap(model)(q, q_t, q_tt)


class InverseDynamicsSource(AbstractFiniteSource):
    r"""Samples of a motion and the generalised forces behind it: a source of
    [`lagrangian_zoo.fit`][] with an inverse-dynamics loss, as DeLaN trains.

    Each row is `[q, q_t, q_tt]` and its target the measured forces (motor torques) `tau`.
    The model predicts the forces: a Lagrangian model by
    `DeLaN.inverse_dynamics` or [`lagrangian_zoo.inverse_dynamics`][] (the Euler-Lagrange
    expression of its $L$, learned dissipation included), or any Equinox module
    `f(q, q_t, q_tt) -> tau` that is not a forward model (a black-box inverse model). The
    loss is $\frac1N \sum_i \sum_j w_j (\hat\tau_{ij} - \tau_{ij})^2$, with weights $w_j = 1$,
    or, with `normalise=True`, one over the variance of each joint's torques in these
    samples (the DeLaN repository's loss). It is the source's own: `fit`'s `loss` stays at
    its default. Minibatches are distinct rows (drawn without replacement).

    **Arguments:**

    - `q`, `q_t`, `q_tt`, `tau`: shape `(N, n)`, such as the fields of a
        [`lagrangian_zoo.TorqueSamples`][].
    - `normalise`: weigh each joint by one over the variance of its torques.
    - `dtype`: the floating-point type of the rows (default: the arrays' own, as JAX gives
        them); the weights are computed in float64 first.
    """

    y: Float[Array, "rows triple"]
    tau: Float[Array, "rows n"]
    weights: Float[Array, " n"]

    def __init__(
        self,
        q: Float[ArrayLike, "rows n"],
        q_t: Float[ArrayLike, "rows n"],
        q_tt: Float[ArrayLike, "rows n"],
        tau: Float[ArrayLike, "rows n"],
        *,
        normalise: bool = False,
        dtype: Any = None,
    ):
        flag("InverseDynamicsSource:", "normalise", normalise)
        arrays = {"q": q, "q_t": q_t, "q_tt": q_tt, "tau": tau}
        values = {}
        for name, value in arrays.items():
            array = np.asarray(value)
            if array.dtype.kind != "f":
                raise TypeError(
                    f"InverseDynamicsSource: `{name}` must be a real floating-point array, got "
                    f"dtype {array.dtype}."
                )
            values[name] = array
        shape = values["q"].shape
        if len(shape) != 2 or 0 in shape:
            raise ValueError(
                f"InverseDynamicsSource: `q` must have shape (N, n) with N, n >= 1, got shape "
                f"{shape}."
            )
        for name, array in values.items():
            if array.shape != shape:
                raise ValueError(
                    f"InverseDynamicsSource: `{name}` must have the shape of `q`, {shape}, got "
                    f"shape {array.shape}."
                )
            if not np.all(np.isfinite(array)):
                raise ValueError(f"InverseDynamicsSource: `{name}` must be finite.")
        if dtype is None:
            dtype = jnp.asarray(values["q"]).dtype
        self.y = jnp.asarray(
            np.concatenate([values["q"], values["q_t"], values["q_tt"]], axis=-1), dtype
        )
        self.tau = jnp.asarray(values["tau"], dtype)
        weights = np.ones(shape[1])
        if normalise:
            variance = np.var(values["tau"].astype(np.float64), axis=0)
            if not np.all(variance > 0):
                raise ValueError(
                    "InverseDynamicsSource: normalise=True divides by the variance of each "
                    f"joint's torques, but it is {variance.tolist()}."
                )
            weights = 1.0 / variance
        self.weights = jnp.asarray(weights, dtype)

    def states(self) -> tuple[Float[Array, "rows triple"], Float[Array, "rows n"]]:
        """All rows `([q, q_t, q_tt], tau)`."""
        return self.y, self.tau

    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch triple"], Float[Array, "batch n"]]:
        """`batch_size` distinct rows (all of them, shuffled, when it is larger)."""
        positive_int("", "batch_size", batch_size)
        chosen = jax.random.permutation(key, self.y.shape[0])[:batch_size]
        return self.y[chosen], self.tau[chosen]

    def per_row(self, model: Any, y: Array, target: Array) -> Float[Array, "batch n"]:
        """The model's forces for each row."""
        del target
        return _torques(model, *jnp.split(y, 3, axis=-1))

    def loss(
        self, values: Array, target: Array, compare: Callable[[Array, Array], Scalar]
    ) -> Scalar:
        """The weighted squared force error; `compare` is not used."""
        del compare
        return jnp.mean(jnp.sum((values - target) ** 2 * self.weights[None, :], axis=-1))


__all__ = ["InputDataset", "InverseDynamicsSource"]
