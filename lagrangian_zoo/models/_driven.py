"""A model with inputs under a control law: what `Baseline.driven` and
`PortHamiltonian.driven` return."""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PyTree


def checked_control(owner: str, inputs: int, control: Any, state: str = "y") -> Any:
    """`control` as a law `u(t, y)` or a constant input of shape `(inputs,)`, refused by name
    otherwise (`owner` names the model in the message, `state` its state)."""
    if callable(control):
        return control
    control = jnp.asarray(control)
    if control.shape != (inputs,):
        raise ValueError(
            f"{owner} with inputs={inputs}: `control` must be a callable u(t, {state}) or an "
            f"input of shape ({inputs},), got shape {control.shape}."
        )
    return control


class DrivenModel(eqx.Module):
    """A model whose `args` are its inputs (a law `u(t, y)` or a constant), under a fixed
    control: `f(t, y, args)` is `model(t, y, control)`, its own `args` unused."""

    model: Any
    control: Any

    @property
    def dof(self) -> int:
        """The model's degrees of freedom."""
        return self.model.dof

    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        del args
        return self.model(t, y, self.control)
