"""The interface of everything `fit` trains on: a source of rows and the loss on them."""

import abc
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree, Scalar


def vector_field_on_rows(
    model: PyTree, y: Float[Array, "batch state"]
) -> Float[Array, "batch state"]:
    """`model(0, y, None)` on every row of `y`, vmapped."""
    t = jnp.zeros((), y.dtype)
    return jax.vmap(model, in_axes=(None, 0, None))(t, y, None)


class AbstractDataSource(eqx.Module):
    """A source of training rows `(y, target)` and of the loss of a model on them.

    [`lagrangian_zoo.fit`][] dispatches on this class, as Diffrax does on `AbstractSolver`:
    a source says how a model is scored on its rows, and the one training loop owns the rest
    (chunks of compiled steps, checkpoints and resuming, progress, time budgets, evaluation,
    history, sharding).

    Subclasses give:

    - `sample(key, batch_size) -> (y, target)`: a minibatch, drawable inside `jit`;
    - `per_row(model, y, target)`: what the loss is computed from, one entry per row along
        the first axis (evaluation computes it in passes over many rows, to bound memory);
    - `loss(values, target, compare)`: the scalar loss of a batch from its `per_row` values.
        `compare(prediction, target) -> scalar` is `fit`'s `loss` (`"l2"`, `"l1"` or a
        callable); a source with a loss of its own does not use it.

    Sources whose targets are something the model predicts from the rows (derivatives, windows
    of trajectories) subclass `AbstractPredictionSource` and give `predict` only.
    """

    # The advice that ends the error of a training run on this source that stops on a
    # non-finite loss or update.
    divergence_advice: ClassVar[str] = (
        "Lower the learning rate, check the data for NaNs, or normalise the inputs."
    )

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray, batch_size: int) -> tuple[Array, Array]:
        """A minibatch of `batch_size` rows `(y, target)`."""

    @abc.abstractmethod
    def per_row(self, model: PyTree, y: Array, target: Array) -> PyTree[Array]:
        """What the loss of the rows `(y, target)` is computed from, one entry per row."""

    @abc.abstractmethod
    def loss(
        self, values: PyTree[Array], target: Array, compare: Callable[[Any, Array], Scalar]
    ) -> Scalar:
        """The loss of a batch, from its `per_row` values and its targets."""


class AbstractPredictionSource(AbstractDataSource):
    """A source whose rows `y` are states of the model and whose targets are what the model
    should predict from them: the loss is `compare(predict(model, y), target)`.

    Subclasses give `sample` and `predict(model, y)`, the model's prediction for each row of
    `y`, of the shape of the matching targets. `fit` checks that the rows have the model's
    `2 * dof` entries, and sets the model's input statistics from them (`adapt`).
    """

    @abc.abstractmethod
    def predict(self, model: PyTree, y: Float[Array, "batch state"]) -> Array:
        """What the loss compares with the targets of the rows `y`."""

    def per_row(self, model: PyTree, y: Array, target: Array) -> Array:
        """The prediction `predict(model, y)`; the targets are not needed for it."""
        return self.predict(model, y)

    def loss(
        self, values: Array, target: Array, compare: Callable[[Array, Array], Scalar]
    ) -> Scalar:
        """`compare(prediction, target)`."""
        return compare(values, target)


class AbstractDerivativeSource(AbstractPredictionSource):
    """A source whose targets are the time derivatives `dy/dt` of its states."""

    def predict(
        self, model: PyTree, y: Float[Array, "batch state"]
    ) -> Float[Array, "batch state"]:
        """The model's vector field `model(0, y, None)` on every row."""
        return vector_field_on_rows(model, y)


class AbstractFiniteSource(AbstractDataSource):
    """A source with a fixed set of rows: it can hand all of them at once (full batches,
    input statistics, evaluation)."""

    @abc.abstractmethod
    def states(self) -> tuple[Array, Array]:
        """All rows `(y, target)`."""


class AbstractInputSource(AbstractFiniteSource):
    """A source of states under inputs: rows `[y, u]` (a model state `y` of `2n` entries, then
    the `m` inputs acting at it) and targets the time derivatives `dy/dt`.

    The loss is `compare(per_row(model, rows, target), target)` with `fit`'s `loss`, as for a
    prediction source; `fit` checks the states against the model's `dof` and sets its input
    statistics from `model_states()`. Subclasses give `sample`, `states`, `per_row` and
    `model_states`.
    """

    @abc.abstractmethod
    def model_states(self) -> Float[Array, "rows state"]:
        """The states `y` of all rows, without their inputs."""

    def loss(
        self, values: Array, target: Array, compare: Callable[[Array, Array], Scalar]
    ) -> Scalar:
        """`compare(prediction, target)`."""
        return compare(values, target)


__all__ = [
    "AbstractDataSource",
    "AbstractInputSource",
    "AbstractDerivativeSource",
    "AbstractFiniteSource",
    "AbstractPredictionSource",
    "vector_field_on_rows",
]
