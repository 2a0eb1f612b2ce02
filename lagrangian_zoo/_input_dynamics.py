"""Dynamics under inputs: one vector field for every model that takes inputs, recorded inputs
held between samples, and rollouts under them."""

from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PyTree

from ._inverse_dynamics import driven
from ._validation import positive_int, positive_number
from .models import AbstractDynamics, AbstractLagrangianModel, Baseline, PortHamiltonian
from .systems import AbstractActuatedSystem


_TAKES_INPUTS = (
    "a Lagrangian model (lz.models.LNN, DeLaN, ...; the inputs are generalised forces), "
    "lz.models.Baseline(..., inputs=m), lz.models.PortHamiltonian or an actuated system "
    "(lz.systems.TwoLinkArm, CartPole)"
)


def input_size(dynamics: Any) -> int:
    """The number of inputs `m` that `dynamics` takes: its `dof` for a Lagrangian model (the
    inputs are generalised forces), else its `inputs`.

    **Raises:** `TypeError` for dynamics that take no inputs (a `Baseline` built without
    `inputs`, an HNN, a plain function).
    """
    if isinstance(dynamics, AbstractLagrangianModel):
        return dynamics.dof
    if isinstance(dynamics, (PortHamiltonian, AbstractActuatedSystem)):
        return dynamics.inputs
    if isinstance(dynamics, Baseline) and dynamics.inputs > 0:
        return dynamics.inputs
    hint = (
        " (build it with inputs=m)"
        if isinstance(dynamics, Baseline)
        else " (it has no input)"
        if isinstance(dynamics, AbstractDynamics)
        else ""
    )
    raise TypeError(
        f"`dynamics` must take inputs: {_TAKES_INPUTS}; got {type(dynamics).__name__}{hint}."
    )


def under_input(dynamics: Any, control: Any) -> Any:
    """The vector field `f(t, y, args)` of `dynamics` under `control`: a law `u(t, y)` or
    inputs of shape `(m,)`; `dynamics` as for [`lagrangian_zoo.vector_field_with_inputs`][]."""
    input_size(dynamics)  # refuses dynamics without inputs
    if isinstance(dynamics, AbstractLagrangianModel):
        return driven(dynamics, control)
    return dynamics.driven(control)


def vector_field_with_inputs(
    dynamics: Any,
    t: Float[ArrayLike, ""],
    y: Float[ArrayLike, " state"],
    u: Float[ArrayLike, " inputs"],
) -> Float[Array, " state"]:
    r"""The time derivative of the state `y` under the inputs `u`, for any model with inputs.

    - A Lagrangian model ([`lagrangian_zoo.models.LNN`][], [`lagrangian_zoo.models.DeLaN`][],
        ...): `u` are generalised forces $\tau$ of shape `(n,)`, and
        $\ddot q$ solves $\frac{d}{dt}\partial_{\dot q} L - \partial_q L = Q + \tau$
        ([`lagrangian_zoo.forward_dynamics`][]); returns $[\dot q, \ddot q]$.
    - [`lagrangian_zoo.models.Baseline`][] built with `inputs=m`: the network reads `u` beside
        the state (a black-box forward model $\ddot q = f(q, \dot q, u)$).
    - [`lagrangian_zoo.models.PortHamiltonian`][]: $\dot x = (J - R)\nabla H + G u$.
    - An actuated system ([`lagrangian_zoo.systems.TwoLinkArm`][],
        [`lagrangian_zoo.systems.CartPole`][]): its closed-form forward dynamics.

    **Arguments:**

    - `dynamics`: one of the above.
    - `t`: the time; `y`: the state `(2n,)`; `u`: the inputs `(m,)`.

    **Returns:** `dy/dt`, shape `(2n,)`.
    """
    return under_input(dynamics, jnp.asarray(u))(t, y, None)


class ZeroOrderHold(eqx.Module):
    """Recorded inputs held constant from each sample to the next: a control law `u(t, y)`.

    `hold(t, y)` is `u[k]` for `ts[k] <= t < ts[k + 1]` (`u[0]` before `ts[0]`, the last
    input after the last sample), whatever the state. Pass it as the control of
    [`lagrangian_zoo.driven`][] or of a model's or system's `driven` to roll out under a
    measured input sequence with [`lagrangian_zoo.rollout`][]; its adaptive steps then meet a
    jump at every sample, which [`lagrangian_zoo.rollout_with_inputs`][] avoids by solving
    each interval on its own.

    **Fields:**

    - `ts`: the sample times `(T,)`, increasing.
    - `u`: the inputs at those times `(T, m)`.
    """

    ts: Float[Array, " times"] = eqx.field(converter=jnp.asarray)
    u: Float[Array, "times inputs"] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        if self.ts.ndim != 1 or self.u.ndim != 2 or self.u.shape[0] != self.ts.shape[0]:
            raise ValueError(
                f"ZeroOrderHold: `ts` must have shape (T,) and `u` shape (T, m), got shapes "
                f"{self.ts.shape} and {self.u.shape}."
            )

    def __call__(self, t: Float[ArrayLike, ""], y: PyTree = None) -> Float[Array, " inputs"]:
        del y
        index = jnp.searchsorted(self.ts, t, side="right") - 1
        return self.u[jnp.clip(index, 0, self.ts.shape[0] - 1)]


def _check_rollout_inputs(dynamics, y0, ts, u) -> tuple[Array, Array, Array, bool]:
    m = input_size(dynamics)
    y0, ts, u = jnp.asarray(y0), jnp.asarray(ts), jnp.asarray(u)
    for name, value in (("y0", y0), ("ts", ts), ("u", u)):
        if not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(
                f"`{name}` must be a real floating-point array, got dtype {value.dtype}."
            )
    single = y0.ndim == 1
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"`ts` must have shape (T,) with T >= 2, got shape {ts.shape}.")
    times = ts.shape[0]
    if y0.ndim not in (1, 2) or y0.shape[-1] == 0 or y0.shape[-1] % 2:
        raise ValueError(f"`y0` must be one state (2n,) or a batch (B, 2n), got shape {y0.shape}.")
    dof = getattr(dynamics, "dof", None)
    if dof is not None and y0.shape[-1] != 2 * dof:
        raise ValueError(
            f"`y0` must have 2 * dof = {2 * dof} entries per state for "
            f"{type(dynamics).__name__} with dof={dof}, got shape {y0.shape}."
        )
    expected = (times, m) if single else (y0.shape[0], times, m)
    if u.shape != expected:
        raise ValueError(
            f"`u` must have shape {expected} (one input of {m} entries per time of `ts`"
            f"{'' if single else ', per initial state'}), got shape {u.shape}."
        )
    try:
        concrete = np.asarray(ts)
    except jax.errors.TracerArrayConversionError:
        concrete = None
    if concrete is not None and not np.all(np.diff(concrete) > 0):
        raise ValueError(f"`ts` must be strictly increasing, got {concrete.tolist()}.")
    with jax.numpy_dtype_promotion("standard"):
        dtype = jnp.result_type(y0, ts, u)
    y0, ts, u = y0.astype(dtype), ts.astype(dtype), u.astype(dtype)
    if single:
        y0, u = y0[None], u[None]
    return y0, ts, u, single


def rollout_with_inputs(
    dynamics: Any,
    y0: Float[ArrayLike, "*batch state"],
    ts: Float[ArrayLike, " times"],
    u: Float[ArrayLike, "*batch times inputs"],
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    max_steps: int = 4096,
) -> Float[Array, "*batch times state"]:
    r"""Rolls out `dynamics` under recorded inputs, each held from its sample to the next.

    The zero-order hold of a measured input sequence: on $[t_k, t_{k+1})$ the input is
    $u_k$. Each interval is its own adaptive solve (Diffrax's `Tsit5` with a PID controller),
    started from where the last one ended, so no step straddles a jump of the input. A learned
    model with inputs is so compared with a measured trajectory under the inputs it was
    driven by; the true system, rolled out by the same function, gives the reference. A solve
    that fails (a model that blows up) gives `NaN` from its interval on, which the metrics
    count as a failed rollout.

    **Arguments:**

    - `dynamics`: a model or system with inputs (see
        [`lagrangian_zoo.vector_field_with_inputs`][]).
    - `y0`: the initial state `(2n,)` at `ts[0]`, or a batch `(B, 2n)`.
    - `ts`: the sample times `(T,)`, strictly increasing.
    - `u`: the inputs at the samples, `(T, m)`, or `(B, T, m)` for a batch; the last one
        is not used (it would act after `ts[-1]`).
    - `rtol`, `atol`: the tolerances of each solve.
    - `max_steps`: the most steps of one interval's solve.

    **Returns:** the states at `ts`, shape `(T, 2n)` or `(B, T, 2n)`.

    !!! example

        ```python
        arm = lz.systems.TwoLinkArm()
        ts = jnp.linspace(0.0, 1.0, 11)
        u = jnp.sin(ts)[:, None] * jnp.ones(2)  # recorded torques
        ys = lz.rollout_with_inputs(arm, jnp.zeros(4), ts, u)
        ```
    """
    positive_number("", "rtol", rtol)
    positive_number("", "atol", atol)
    positive_int("", "max_steps", max_steps)
    y0, ts, u, single = _check_rollout_inputs(dynamics, y0, ts, u)
    ys = _rollout_held(dynamics, y0, ts, u, rtol, atol, max_steps)
    return ys[0] if single else ys


@eqx.filter_jit
def _rollout_held(dynamics, y0, ts, u, rtol, atol, max_steps: int):
    def one_trajectory(y_start, inputs):
        def interval(y, k):
            term = diffrax.ODETerm(under_input(dynamics, inputs[k]))
            solution = diffrax.diffeqsolve(
                term,
                diffrax.Tsit5(),
                ts[k],
                ts[k + 1],
                None,
                y,
                stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                saveat=diffrax.SaveAt(t1=True),
                max_steps=max_steps,
                throw=False,
            )
            ok = solution.result == diffrax.RESULTS.successful
            end = jnp.where(ok, solution.ys[-1], jnp.nan)
            return end, end

        _, rest = jax.lax.scan(interval, y_start, jnp.arange(ts.shape[0] - 1))
        return jnp.concatenate([y_start[None], rest])

    return jax.vmap(one_trajectory)(y0, u)


__all__ = [
    "ZeroOrderHold",
    "input_size",
    "rollout_with_inputs",
    "vector_field_with_inputs",
]
