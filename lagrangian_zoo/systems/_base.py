"""The interface every analytic reference system implements."""

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Args, Coordinates, State, Velocities
from .._mechanics import split_state


class AbstractSystem(eqx.Module):
    """A physical system with exact, hand-derived equations of motion.

    Parameters (masses, lengths, constants) are array fields, so a system is a pytree whose
    parameters are inputs of `jax.jit`: a new value runs the same compiled program. Sizes and
    counts (`dof`, links, dimensions) are static. The state is `y = concatenate([q, q_t])` of
    shape `(2 * dof,)`.

    Subclasses give, in closed form and derived by hand (not by automatic differentiation, so
    that the engine in [`lagrangian_zoo.euler_lagrange`][] can be tested against them):

    - `dof`: the number of degrees of freedom `n`;
    - `periodic`: a tuple of `n` booleans, `True` for angles (models embed those as
        `(cos q, sin q)`);
    - `lagrangian(q, q_t)`, `energy(q, q_t)` and `acceleration(q, q_t)`;
    - `sample_initial_state(key)`: the published papers' distribution of initial states.
    """

    name: ClassVar[str]
    dof: eqx.AbstractVar[int]
    periodic: eqx.AbstractVar[tuple[bool, ...]]

    @abc.abstractmethod
    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        """The Lagrangian `L(q, q_t)`."""

    @abc.abstractmethod
    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        """The total (conserved) energy at `(q, q_t)`."""

    @abc.abstractmethod
    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        """The closed-form accelerations `q_tt(q, q_t)`."""

    @abc.abstractmethod
    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        """One random initial state `[q, q_t]` from the papers' distribution."""

    def __call__(self, t: Float[ArrayLike, ""], y: State, args: Args) -> State:
        """The vector field `dy/dt = [q_t, q_tt]` in Diffrax's convention."""
        del t, args
        q, q_t = split_state(y)
        return jnp.concatenate([q_t, self.acceleration(q, q_t)])


def as_parameter(value: Any) -> Any:
    """A physical parameter (a number, or a tuple of numbers per body) as a JAX array.

    Parameters are inputs of a compiled program, not constants baked into it, so a new value
    never compiles again. Python numbers become weakly typed arrays: like a Python float, they
    take the dtype of the state they meet (float32 states stay float32). Anything else is
    returned unchanged, for the system's `__check_init__` to refuse with a clear message.
    """

    def number(entry):
        if isinstance(entry, (bool, str, bytes)) or entry is None:
            raise TypeError
        if isinstance(entry, int):
            entry = float(entry)
        array = jnp.asarray(entry)
        if array.ndim != 0:
            raise TypeError
        return array

    try:
        if isinstance(value, (tuple, list)):
            if not value:
                return value
            return jnp.stack([number(entry) for entry in value])
        if isinstance(value, (bool, str, bytes)) or value is None:
            return value
        if isinstance(value, int):
            value = float(value)
        return jnp.asarray(value)
    except (TypeError, ValueError):
        return value


def parameter(default: float | tuple[float, ...]) -> Any:
    """A field for a physical parameter: an array leaf (see `as_parameter`) with a default."""
    return eqx.field(default=default, converter=as_parameter)


def check_positive(system: str, **values) -> None:
    """Refuses non-numeric, non-positive or non-finite parameters (skipped when traced)."""
    for name, value in values.items():
        if isinstance(value, jax.core.Tracer):
            continue
        if isinstance(value, (bool, str)) or value is None:
            raise ValueError(
                f"{system}: parameter `{name}` must be a positive number, got {value!r}."
            )
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"{system}: parameter `{name}` must be a positive number, got {value!r}."
            ) from None
        if not np.all(np.isfinite(array)) or not np.all(array > 0):
            raise ValueError(
                f"{system}: parameter `{name}` must be positive and finite, got {value!r}."
            )


def sample_uniform(
    key: PRNGKeyArray, shape: tuple[int, ...], low: float | ArrayLike, high: float | ArrayLike
) -> Float[Array, "..."]:
    """Uniform samples in `[low, high)` in the default float dtype."""
    return jax.random.uniform(key, shape, minval=low, maxval=high)
