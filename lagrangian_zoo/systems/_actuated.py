"""Mechanical systems driven by inputs: M(q) q_tt + c(q, q_t) + g(q) = B(q) u."""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Scalar

from .._custom_types import Accelerations, Args, Coordinates, State, Velocities
from .._mechanics import split_state
from ._base import AbstractSystem


Inputs = Float[Array, " inputs"]
# A feedback law u(t, y) -> (m,), or a constant input of shape (m,).
Control = Callable[[Float[Array, ""], State], Inputs] | Inputs


def _check_inputs(system: "AbstractActuatedSystem", u: ArrayLike, name: str = "u") -> Array:
    u = jnp.asarray(u)
    if u.shape != (system.inputs,):
        raise ValueError(
            f"{type(system).__name__} takes {system.inputs} input(s): `{name}` must have shape "
            f"({system.inputs},), got shape {u.shape}."
        )
    if not jnp.issubdtype(u.dtype, jnp.floating):
        raise TypeError(
            f"`{name}` must be a real floating-point array, got dtype {u.dtype}; convert it "
            f"first, e.g. jnp.asarray({name}, dtype=float)."
        )
    return u


class AbstractActuatedSystem(AbstractSystem):
    r"""A mechanical system with inputs, in the manipulator form of robotics:
    $$M(q)\,\ddot q + c(q, \dot q) + g(q) = B(q)\,u .$$

    $M$ is the mass matrix, $c$ the Coriolis and centrifugal forces, $g = \partial V/\partial q$
    the gravitational forces and $B$ the input matrix, which maps the `inputs` actuator values
    `u` of shape `(m,)` to generalised forces (the identity for a fully actuated arm; fewer
    columns than coordinates for an under-actuated system such as the cart-pole). All four come
    in closed form, derived by hand. Without input the system is conservative; with one, the
    energy changes by the power of the input, $\dot E = \dot q \cdot B u$.

    The system itself is the vector field without input (`system(t, y, args)`, as every
    [`lagrangian_zoo.systems.AbstractSystem`][]); its method `driven` gives the vector field
    under a control law or a constant input.
    """

    inputs: eqx.AbstractVar[int]

    @abc.abstractmethod
    def mass_matrix(self, q: Coordinates) -> Float[Array, "n n"]:
        """The mass matrix `M(q)`, symmetric positive definite, shape `(n, n)`."""

    @abc.abstractmethod
    def coriolis_force(self, q: Coordinates, q_t: Velocities) -> Float[Array, " n"]:
        r"""The Coriolis and centrifugal forces
        $c(q, \dot q) = \dot M \dot q - \tfrac12 \partial_q(\dot q^\top M \dot q)$."""

    @abc.abstractmethod
    def potential_energy(self, q: Coordinates) -> Scalar:
        """The potential energy `V(q)`."""

    @abc.abstractmethod
    def gravity_force(self, q: Coordinates) -> Float[Array, " n"]:
        """The gravitational forces `g(q) = dV/dq`, shape `(n,)`."""

    @abc.abstractmethod
    def input_matrix(self, q: Coordinates) -> Float[Array, "n inputs"]:
        """The input matrix `B(q)`, shape `(n, inputs)`: generalised forces per unit input."""

    def kinetic_energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        """The kinetic energy `T = q_t . M(q) q_t / 2`."""
        return 0.5 * q_t @ (self.mass_matrix(q) @ q_t)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self.kinetic_energy(q, q_t) - self.potential_energy(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self.kinetic_energy(q, q_t) + self.potential_energy(q)

    def inverse_dynamics(
        self, q: Coordinates, q_t: Velocities, q_tt: Accelerations
    ) -> Float[Array, " n"]:
        r"""The generalised forces $M(q)\ddot q + c(q, \dot q) + g(q)$ that produce the
        accelerations `q_tt` at `(q, q_t)`, shape `(n,)`.

        For a fully actuated arm these are the motor torques. For an under-actuated system the
        entries of unactuated coordinates vanish only along motions the inputs can produce.
        """
        return self.mass_matrix(q) @ q_tt + self.coriolis_force(q, q_t) + self.gravity_force(q)

    def forward_dynamics(
        self, q: Coordinates, q_t: Velocities, u: Float[ArrayLike, " inputs"]
    ) -> Accelerations:
        r"""The accelerations $\ddot q = M^{-1}(B u - c - g)$ under the input `u` of shape
        `(inputs,)`."""
        u = _check_inputs(self, u)
        rhs = self.input_matrix(q) @ u - self.coriolis_force(q, q_t) - self.gravity_force(q)
        return jnp.linalg.solve(self.mass_matrix(q), rhs)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        """The accelerations without input."""
        return self.forward_dynamics(q, q_t, jnp.zeros(self.inputs, q_t.dtype))

    def input_power(
        self, q: Coordinates, q_t: Velocities, u: Float[ArrayLike, " inputs"]
    ) -> Scalar:
        r"""The power $\dot q \cdot B(q) u$ the input delivers: the rate of change of the
        energy."""
        return q_t @ (self.input_matrix(q) @ _check_inputs(self, u))

    def driven(self, control: Control | ArrayLike) -> "DrivenSystem":
        """The vector field of the system under an input.

        **Arguments:**

        - `control`: a feedback law `u(t, y) -> (inputs,)` of the time and the state
            `y = [q, q_t]`, or a constant input of shape `(inputs,)`.

        **Returns:** a [`lagrangian_zoo.systems.DrivenSystem`][], a vector field
        `f(t, y, args) -> [q_t, q_tt]` for [`lagrangian_zoo.rollout`][].

        !!! example

            ```python
            arm = lz.systems.TwoLinkArm()
            hold = arm.driven(lambda t, y: arm.gravity_force(y[:2]))  # gravity compensation
            hold(0.0, jnp.array([0.3, 0.5, 0.0, 0.0]), None)  # at rest: zero accelerations
            ```
        """
        if not callable(control):
            control = _check_inputs(self, control, "control")
        return DrivenSystem(self, control)


class DrivenSystem(eqx.Module):
    """An [`lagrangian_zoo.systems.AbstractActuatedSystem`][] under a control law or a constant
    input: what its `driven` method returns.

    Called as `f(t, y, args)`, it returns `dy/dt = [q_t, q_tt]` on `y = [q, q_t]` with
    `q_tt = system.forward_dynamics(q, q_t, u)` and `u = control(t, y)` (or the constant).
    """

    system: AbstractActuatedSystem
    control: Any

    @property
    def dof(self) -> int:
        """The degrees of freedom of the system."""
        return self.system.dof

    def input(self, t: Float[ArrayLike, ""], y: State) -> Inputs:
        """The input `u` at time `t` and state `y`, shape `(inputs,)`."""
        if not callable(self.control):
            return self.control
        shape = getattr(jax.eval_shape(self.control, t, y), "shape", None)
        if shape != (self.system.inputs,):
            raise ValueError(
                f"the control law must return the input of shape ({self.system.inputs},) of "
                f"{type(self.system).__name__}, but it returned shape {shape}."
            )
        return jnp.asarray(self.control(t, y))

    def __call__(self, t: Float[ArrayLike, ""], y: State, args: Args) -> State:
        del args
        q, q_t = split_state(y)
        u = self.input(t, y).astype(q_t.dtype)
        return jnp.concatenate([q_t, self.system.forward_dynamics(q, q_t, u)])
