"""The interface of everything `fit` draws training batches from."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree


def vector_field_on_rows(
    model: PyTree, y: Float[Array, "batch state"]
) -> Float[Array, "batch state"]:
    """`model(0, y, None)` on every row of `y`, vmapped."""
    t = jnp.zeros((), y.dtype)
    return jax.vmap(model, in_axes=(None, 0, None))(t, y, None)


class AbstractDataSource(eqx.Module):
    """A source of training rows `(y, target)` and the rule that turns a model into what the
    loss compares with `target`.

    [`lagrangian_zoo.fit`][] dispatches on this class, as Diffrax does on `AbstractSolver`:
    a source says what its targets are (`predict`), instead of the training loop guessing from
    the attributes it happens to have.

    Subclasses give:

    - `sample(key, batch_size) -> (y, target)`: a minibatch, drawable inside `jit`;
    - `predict(model, y)`: the model's prediction for each row of `y`, of the shape of the
        matching targets.
    """

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray, batch_size: int) -> tuple[Array, Array]:
        """A minibatch of `batch_size` rows `(y, target)`."""

    @abc.abstractmethod
    def predict(self, model: PyTree, y: Float[Array, "batch state"]) -> Array:
        """What the loss compares with the targets of the rows `y`."""


class AbstractDerivativeSource(AbstractDataSource):
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


__all__ = [
    "AbstractDataSource",
    "AbstractDerivativeSource",
    "AbstractFiniteSource",
    "vector_field_on_rows",
]
