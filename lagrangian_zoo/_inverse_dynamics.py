"""Inverse dynamics of Lagrangians: the generalised forces behind a motion, and their parts."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PyTree

from ._custom_types import State
from ._mechanics import euler_lagrange, split_state
from ._torque_decomposition import TorqueDecomposition
from .models import AbstractDynamics, AbstractLagrangianModel


def _lagrangian_and_force(dynamics: Any) -> tuple[Callable, Callable | None, int | None]:
    """The Lagrangian, the dissipative force (or `None`) and the `dof` (or `None`)."""
    if isinstance(dynamics, AbstractLagrangianModel):
        force = None if dynamics.dissipation_function is None else dynamics.dissipative_force
        return dynamics.lagrangian, force, dynamics.dof
    if isinstance(dynamics, AbstractDynamics) or not callable(dynamics):
        raise TypeError(
            "`dynamics` must be a Lagrangian model (an lz.models.AbstractLagrangianModel such "
            f"as LNN or DeLaN) or a callable L(q, q_t) -> scalar, got {type(dynamics).__name__}"
            + (", which has no Lagrangian." if isinstance(dynamics, AbstractDynamics) else ".")
        )
    return dynamics, None, None


def _check_arrays(dof: int | None, **arrays: ArrayLike) -> tuple[Array, ...]:
    values = {name: jnp.asarray(value) for name, value in arrays.items()}
    shapes = {name: value.shape for name, value in values.items()}
    first = next(iter(values.values()))
    listed = ", ".join(f"{name} of shape {shape}" for name, shape in shapes.items())
    if first.ndim == 0 or len(set(shapes.values())) != 1:
        raise ValueError(
            f"{', '.join(f'`{name}`' for name in values)} must have one shape (n,) or "
            f"(*batch, n); got {listed}."
        )
    if dof is not None and first.shape[-1] != dof:
        raise ValueError(f"the model has dof={dof}, so the last axis must be {dof}; got {listed}.")
    for name, value in values.items():
        if not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(
                f"`{name}` must be a real floating-point array, got dtype {value.dtype}."
            )
    with jax.numpy_dtype_promotion("standard"):
        dtype = jnp.result_type(*values.values())
    return tuple(value.astype(dtype) for value in values.values())


def _batched(single: Callable, *arrays: Array) -> Any:
    """`single` on states of shape `(n,)`, mapped over any leading axes of `arrays`."""
    for _ in range(arrays[0].ndim - 1):
        single = jax.vmap(single)
    return single(*arrays)


def _euler_lagrange_parts(lagrangian, force, q, q_t, q_tt) -> TorqueDecomposition:
    def momentum(position, velocity):
        return jax.grad(lagrangian, argnums=1)(position, velocity)

    # d/dt dL/dq_t along the motion: one forward derivative in (q, q_t) along (q_t, q_tt).
    _, momentum_rate = jax.jvp(momentum, (q, q_t), (q_t, q_tt))
    inertial = jax.jvp(lambda velocity: momentum(q, velocity), (q_t,), (q_tt,))[1]
    total = momentum_rate - jax.grad(lagrangian, argnums=0)(q, q_t)
    # At rest a kinetic energy quadratic in q_t exerts no force, so what remains is -dL/dq.
    gravity = -jax.grad(lagrangian, argnums=0)(q, jnp.zeros_like(q_t))
    damping = jnp.zeros_like(q) if force is None else -jnp.asarray(force(q, q_t))
    return TorqueDecomposition(
        inertial=inertial,
        coriolis=total - inertial - gravity,
        gravity=gravity,
        dissipation=damping.astype(q.dtype),
    )


def torque_decomposition(
    dynamics: Any,
    q: ArrayLike,
    q_t: ArrayLike,
    q_tt: ArrayLike,
) -> TorqueDecomposition:
    r"""The generalised forces that produce the accelerations `q_tt` at `(q, q_t)`, by origin.

    By automatic differentiation of the Euler-Lagrange expression of any Lagrangian,
    $$\tau = \frac{\mathrm d}{\mathrm d t}\frac{\partial L}{\partial \dot q}
    - \frac{\partial L}{\partial q} - Q(q, \dot q),$$
    split into the inertial part $H(q, \dot q)\ddot q$ with
    $H = \partial^2 L / \partial \dot q^2$, the forces at rest
    $g = -\partial L / \partial q\,|_{\dot q = 0}$ (the gravity $\partial V/\partial q$ of
    $L = T - V$), the velocity-dependent rest $c$ (Coriolis and centrifugal forces) and the
    force $-Q$ against the model's learned dissipation. For $L = T - V$ with $T$ quadratic in
    $\dot q$ these are the parts of the manipulator equation
    $\tau = H(q)\ddot q + c(q, \dot q) + g(q)$;
    [`lagrangian_zoo.models.DeLaN.torque_decomposition`][] computes the same from DeLaN's mass
    matrix and potential directly.

    **Arguments:**

    - `dynamics`: a Lagrangian model ([`lagrangian_zoo.models.LNN`][],
        [`lagrangian_zoo.models.DeLaN`][], ...) or a callable `L(q, q_t) -> scalar`.
    - `q`, `q_t`, `q_tt`: positions, velocities and accelerations, shape `(n,)` or
        `(*batch, n)` (all three the same).

    **Returns:** a
    [`TorqueDecomposition`][lagrangian_zoo.TorqueDecomposition], each part
    of the shape of `q`.
    """
    lagrangian, force, dof = _lagrangian_and_force(dynamics)
    q, q_t, q_tt = _check_arrays(dof, q=q, q_t=q_t, q_tt=q_tt)
    return _decomposition(lagrangian, force, q, q_t, q_tt)


# Compiled once per Lagrangian and shapes; a model's Lagrangian (a method of an Equinox
# module) carries its parameters as inputs, so new parameters reuse the program.
@eqx.filter_jit
def _decomposition(lagrangian, force, q, q_t, q_tt) -> TorqueDecomposition:
    def single(q, q_t, q_tt):
        return _euler_lagrange_parts(lagrangian, force, q, q_t, q_tt)

    return _batched(single, q, q_t, q_tt)


def inverse_dynamics(
    dynamics: Any,
    q: ArrayLike,
    q_t: ArrayLike,
    q_tt: ArrayLike,
) -> Float[Array, "*batch n"]:
    r"""The generalised forces (a robot's motor torques) that produce the accelerations `q_tt`
    at `(q, q_t)`:
    $\tau = \frac{\mathrm d}{\mathrm d t}\partial_{\dot q} L - \partial_q L - Q$.

    The sum of [`lagrangian_zoo.torque_decomposition`][]; the same arguments.

    **Returns:** the forces, of the shape of `q`.

    !!! example

        ```python
        def lagrangian(q, q_t):  # a unit pendulum
            return 0.5 * q_t @ q_t + 9.81 * jnp.cos(q[0])

        lz.inverse_dynamics(lagrangian, jnp.array([0.3]), jnp.zeros(1), jnp.zeros(1))
        # 9.81 sin(0.3): the torque that holds the pendulum still
        ```
    """
    return torque_decomposition(dynamics, q, q_t, q_tt).torque


class _AddedForce(eqx.Module):
    """`Q(q, q_t) + tau`: a model's dissipative force (or none) plus a given input."""

    base: Callable | None
    input: Array

    def __call__(self, q: Array, q_t: Array) -> Array:
        if self.base is None:
            return self.input
        return self.base(q, q_t) + self.input


def forward_dynamics(
    dynamics: Any,
    q: ArrayLike,
    q_t: ArrayLike,
    tau: ArrayLike,
) -> Float[Array, "*batch n"]:
    r"""The accelerations of a Lagrangian under the generalised forces `tau`.

    Solves $\frac{\mathrm d}{\mathrm d t}\partial_{\dot q} L - \partial_q L = Q + \tau$ with
    [`lagrangian_zoo.euler_lagrange`][], `tau` entering through its `force` hook beside a
    model's learned dissipation $Q$: the inverse of [`lagrangian_zoo.inverse_dynamics`][].

    **Arguments:**

    - `dynamics`: a Lagrangian model or a callable `L(q, q_t) -> scalar`.
    - `q`, `q_t`, `tau`: shape `(n,)` or `(*batch, n)` (all three the same).

    **Returns:** the accelerations `q_tt`, of the shape of `q`.
    """
    lagrangian, force, dof = _lagrangian_and_force(dynamics)
    q, q_t, tau = _check_arrays(dof, q=q, q_t=q_t, tau=tau)
    return _forward(lagrangian, force, q, q_t, tau)


@eqx.filter_jit
def _forward(lagrangian, force, q, q_t, tau) -> Array:
    def single(q, q_t, tau):
        return euler_lagrange(lagrangian, force=_AddedForce(force, tau))(q, q_t)

    return _batched(single, q, q_t, tau)


def driven(dynamics: Any, control: Any) -> "DrivenLagrangian":
    """The vector field of a Lagrangian model (or a Lagrangian) under generalised forces.

    **Arguments:**

    - `dynamics`: a Lagrangian model or a callable `L(q, q_t) -> scalar`.
    - `control`: a feedback law `tau(t, y) -> (n,)` of the time and the state `y = [q, q_t]`,
        or constant forces of shape `(n,)`.

    **Returns:** a [`DrivenLagrangian`][lagrangian_zoo._inverse_dynamics.DrivenLagrangian], a
    vector field `f(t, y, args) -> [q_t, q_tt]` for [`lagrangian_zoo.rollout`][].
    """
    _, _, dof = _lagrangian_and_force(dynamics)
    if not callable(control):
        control = jnp.asarray(control)
        if control.ndim != 1 or (dof is not None and control.shape != (dof,)):
            expected = "(n,)" if dof is None else f"({dof},)"
            raise ValueError(
                f"`control` must be a callable tau(t, y) or forces of shape {expected}, got "
                f"shape {control.shape}."
            )
    return DrivenLagrangian(dynamics, control, dof)


class DrivenLagrangian(eqx.Module):
    """A Lagrangian model (or a Lagrangian) under generalised forces: what
    [`lagrangian_zoo.driven`][] returns.

    Called as `f(t, y, args)`, it returns `[q_t, q_tt]` with
    `q_tt = lz.forward_dynamics(dynamics, q, q_t, tau)` and `tau = control(t, y)` (or the
    constant).
    """

    dynamics: Any
    control: Any
    # The model's degrees of freedom, which `rollout` checks the states against (`None` for a
    # plain Lagrangian).
    dof: int | None = eqx.field(static=True)

    def __call__(self, t: Float[ArrayLike, ""], y: State, args: PyTree) -> State:
        del args
        q, q_t = split_state(y)
        tau = self.control(t, y) if callable(self.control) else self.control
        tau = jnp.asarray(tau)
        if tau.shape != q.shape:
            raise ValueError(
                f"the control must give forces of shape {q.shape} (one per coordinate), got "
                f"shape {tau.shape}."
            )
        return jnp.concatenate([q_t, forward_dynamics(self.dynamics, q, q_t, tau.astype(q.dtype))])
