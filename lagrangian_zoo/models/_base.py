"""The interfaces every learned model implements, and the filter of its trainable leaves."""

import abc
import difflib
import inspect
from typing import Any, ClassVar, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PyTree, Scalar

from .._io import is_prng_key
from .._validation import one_of, positive_int
from ._dissipation import RayleighDissipation
from ._normaliser import Normaliser


_Model = TypeVar("_Model", bound="AbstractDynamics")
# The values of a model's `coordinates`: the states `[q, p]` or `[q, q_t]` it takes.
COORDINATES = ("canonical", "velocity")


class AbstractDynamics(eqx.Module):
    """A learned vector field `model(t, y, args) -> dy/dt` on states `y = [q, q_t]`.

    Every model is a pure pytree (Equinox module) and a callable with Diffrax's signature, so it
    goes wherever an analytic system goes: [`lagrangian_zoo.rollout`][], the metrics, the
    training loop. Subclasses give:

    - `dof`: the number of degrees of freedom `n`; states have shape `(2n,)`;
    - `coordinates`: the states the model takes, `"velocity"` (`[q, q_t]`) or `"canonical"`
        (`[q, p]`): what its training data and initial states must hold (see
        [`lagrangian_zoo.to_canonical`][] and the `lagrangian` option of
        [`lagrangian_zoo.rollout`][]);
    - `normaliser`: the [`lagrangian_zoo.models.Normaliser`][] of the network inputs;
    - `__call__(t, y, args)`: the time derivative of a single state (vmap for batches);
    - `config()`: the keyword arguments that rebuild the same architecture.

    Every constructor refuses, before it runs, a keyword it does not take (naming the closest
    one it does) and a `key` that is not a JAX PRNG key (such as a plain `0`).
    """

    dof: eqx.AbstractVar[int]
    # Abstract, so that a new model cannot be built before it says which states it takes.
    coordinates: eqx.AbstractVar[str]
    normaliser: eqx.AbstractVar[Normaliser]

    def __new__(cls, *args: Any, **kwargs: Any):
        # Checked here rather than in each `__init__`: a misspelt keyword never reaches the
        # body of `__init__` (Python refuses the call with a bare TypeError), and `__new__`
        # runs first for every model.
        check_constructor_keywords(cls, kwargs)
        return super().__new__(cls, *args, **kwargs)

    @property
    def periodic(self) -> tuple[bool, ...]:
        """`n` bools, `True` for the coordinates embedded as `(cos q, sin q)`."""
        return self.normaliser.periodic

    @abc.abstractmethod
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        """The time derivative `dy/dt` of the state `y` of shape `(2n,)`."""

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, `dof` included, as a JSON-able dict.

        `type(model)(**model.config(), key=key)` builds a model with the same pytree structure
        and shapes (fresh parameters), into which saved leaves can be loaded.
        """

    def adapt(self: _Model, states: Float[ArrayLike, "*batch state"]) -> _Model:
        """A copy of the model whose input normaliser holds statistics of `states`.

        The mean and standard deviation of each velocity and each non-periodic position; angles
        (coordinates marked `periodic`) are embedded as `(cos q, sin q)` and need none. Call it
        once on the training states before training: the Lagrangian or Hamiltonian stays a
        function of the raw `(q, q_t)`, only the network sees scaled inputs.

        **Arguments:**

        - `states`: training states of shape `(N, 2n)` (or more leading batch axes).

        **Returns:** the adapted model; the parameters are shared with this one.
        """
        return eqx.tree_at(lambda model: model.normaliser, self, self.normaliser.adapt(states))


class AbstractEnergyModel(AbstractDynamics):
    """A model whose dynamics come from a learned scalar, and so has an energy.

    `energy(q, v)` takes the two halves of the state the model reads: velocities `q_t` for a
    Lagrangian model, momenta `p` for a Hamiltonian one.
    """

    @abc.abstractmethod
    def energy(self, q: Float[ArrayLike, " n"], v: Float[ArrayLike, " n"]) -> Scalar:
        """The model's energy at the state `[q, v]` (`v` = `q_t`, or `p` for an HNN)."""


class AbstractLagrangianModel(AbstractEnergyModel):
    """A model with a learned Lagrangian `L(q, q_t)` and an optional learned dissipation.

    Subclasses give `lagrangian(q, q_t)`, its accelerations `acceleration(q, q_t)`, a
    `normaliser` and a `dissipation_function` (a
    [`lagrangian_zoo.models.RayleighDissipation`][] of the embedded positions, or `None`); the
    vector field `[q_t, q_tt]`, the dissipation and its force are shared here. A Lagrangian
    reads velocities, so these models take velocity states: `coordinates` is `"velocity"`.
    """

    coordinates: ClassVar[str] = "velocity"
    dissipation_function: eqx.AbstractVar[RayleighDissipation | None]

    @abc.abstractmethod
    def lagrangian(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Lagrangian `L(q, q_t)`, a function of the raw state."""

    @abc.abstractmethod
    def acceleration(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, " n"]:
        """The accelerations `q_tt` of the Euler-Lagrange equation of the learned `L`."""

    # Compiled as one program per architecture and shapes: an eager call (a notebook, a
    # plot) reuses it for any parameters; inside `rollout` or `fit` it is inlined.
    @eqx.filter_jit
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        """The time derivative `[q_t, q_tt]` of the state `y = [q, q_t]` of shape `(2n,)`."""
        del t, args
        q, q_t = split_model_state(self, y)
        return jnp.concatenate([q_t, self.acceleration(q, q_t)])

    def dissipation(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The Rayleigh dissipation function `D(q, q_t) >= 0`; zero without dissipation."""
        q_t = jnp.asarray(q_t)
        if self.dissipation_function is None:
            return jnp.zeros((), q_t.dtype)
        return self.dissipation_function(self.normaliser.positions(q), q_t)

    def dissipative_force(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, " n"]:
        """The generalized force `-dD/dq_t`; zero without dissipation."""
        q_t = jnp.asarray(q_t)
        if self.dissipation_function is None:
            return jnp.zeros_like(q_t)
        return self.dissipation_function.force(self.normaliser.positions(q), q_t)


def trainable_filter(model: PyTree) -> PyTree[bool]:
    """The leaves of a model that training updates.

    Like `equinox.is_inexact_array` on every leaf, but `False` for every leaf inside a
    [`lagrangian_zoo.models.Normaliser`][]: the input statistics set by `adapt` are data, so
    they are neither trained nor weight-decayed.

    **Arguments:**

    - `model`: a model (or any pytree containing one).

    **Returns:** a pytree of bools of the model's structure, for `equinox.partition`.

    !!! example

        ```python
        params, static = eqx.partition(model, lz.models.trainable_filter(model))
        ```
    """

    def mark(node):
        if isinstance(node, Normaliser):
            return jax.tree.map(lambda _: False, node)
        return eqx.is_inexact_array(node)

    return jax.tree.map(mark, model, is_leaf=lambda node: isinstance(node, Normaliser))


def check_constructor_keywords(cls: type, kwargs: dict[str, Any]) -> None:
    """Refuses keywords that `cls.__init__` does not take, and a `key` that is not a PRNG key.

    **Arguments:**

    - `cls`: the model class being built.
    - `kwargs`: the keyword arguments of the call.

    **Raises:** `TypeError` naming the unknown keyword and the closest known one, or saying how
    to make a key (`jax.random.key(0)`, not `0`).
    """
    parameters = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        known = [name for name in parameters if name != "self"]
        for name in kwargs:
            if name not in parameters:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"{cls.__name__}: unknown keyword argument {name!r}.{hint} "
                    f"{cls.__name__} takes: {', '.join(known)}."
                )
    if "key" in kwargs:
        check_key(cls.__name__, kwargs["key"])


def check_key(model: str, key: Any) -> None:
    """Refuses a `key` that is not a JAX PRNG key (new-style, or a raw `uint32` one)."""
    if is_prng_key(key):
        return
    if isinstance(key, int) and not isinstance(key, bool):
        advice = f"pass jax.random.key({key})"
    else:
        advice = "pass a key such as jax.random.key(0)"
    raise TypeError(
        f"{model}: `key` must be a JAX PRNG key, got {key!r} ({type(key).__name__}); {advice}."
    )


def check_dof(model: str, dof: int) -> None:
    """Refuses a number of degrees of freedom that is not a positive int."""
    positive_int(f"{model}:", "dof", dof)


def check_choice(model: str, name: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuses a string option outside `choices`."""
    one_of(f"{model}:", name, value, choices)


def split_model_state(
    model: AbstractDynamics, y: ArrayLike
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Checks that `y` is one state of shape `(2 * dof,)` and splits it into its halves."""
    y = jnp.asarray(y)
    n = model.dof
    if y.shape != (2 * n,):
        raise ValueError(
            f"{type(model).__name__} with dof={n} expects a state `y` of shape (2 * dof,) = "
            f"({2 * n},), positions then velocities; got shape {y.shape}. For a batch of states, "
            "use jax.vmap(model, in_axes=(None, 0, None))."
        )
    if not jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError(
            f"{type(model).__name__}: the state `y` must be a floating-point array, got dtype "
            f"{y.dtype}."
        )
    return y[:n], y[n:]
