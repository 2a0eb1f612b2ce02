"""Rollouts: integrate any vector field `f(t, y, args)` from one or many initial states."""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._custom_types import Args
from ._verlet import StormerVerlet


_ADAPTIVE_SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "kvaerno5": diffrax.Kvaerno5,
}


class _ClassicRK4(diffrax.AbstractERK):
    """The classic fourth-order Runge-Kutta method (fixed step), the HNN paper's integrator."""

    tableau: ClassVar[diffrax.ButcherTableau] = diffrax.ButcherTableau(
        c=np.array([0.5, 0.5, 1.0]),
        b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
        b_error=np.array([0.0, 0.0, 0.0, 0.0]),
        a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])),
    )
    interpolation_cls: ClassVar[Callable[..., diffrax.AbstractLocalInterpolation]] = (
        diffrax.ThirdOrderHermitePolynomialInterpolation.from_k
    )

    def order(self, terms):
        return 4


_FIXED_STEP_SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "verlet": StormerVerlet,
    "rk4": _ClassicRK4,
}


SOLVER_NAMES = tuple(_ADAPTIVE_SOLVERS) + tuple(_FIXED_STEP_SOLVERS)


def _resolve_solver(solver) -> tuple[diffrax.AbstractSolver, bool]:
    """The solver instance and whether it is adaptive."""
    if isinstance(solver, diffrax.AbstractSolver):
        return solver, not isinstance(solver, (StormerVerlet, _ClassicRK4))
    if isinstance(solver, str):
        key = solver.lower()
        if key in _ADAPTIVE_SOLVERS:
            return _ADAPTIVE_SOLVERS[key](), True
        if key in _FIXED_STEP_SOLVERS:
            return _FIXED_STEP_SOLVERS[key](), False
    raise ValueError(
        f"unknown `solver` {solver!r}: expected one of {SOLVER_NAMES} or a diffrax solver "
        "instance (e.g. diffrax.Dopri8())."
    )


def _validate_times(ts: Array) -> None:
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(
            f"`ts` must be a 1-D array of at least 2 strictly increasing times, got shape "
            f"{ts.shape}."
        )
    if not isinstance(ts, jax.core.Tracer):
        values = np.asarray(ts)
        if not np.all(np.isfinite(values)):
            raise ValueError("`ts` contains non-finite values (nan or inf).")
        if not np.all(np.diff(values) > 0):
            bad = int(np.argmax(np.diff(values) <= 0))
            raise ValueError(
                f"`ts` must be strictly increasing, but ts[{bad}] = {values[bad]} and "
                f"ts[{bad + 1}] = {values[bad + 1]}."
            )


def _validate_state(y0: Array, dynamics) -> None:
    if y0.ndim == 0 or y0.shape[-1] == 0 or y0.shape[-1] % 2 != 0:
        raise ValueError(
            f"`y0` must have shape (2n,) or (batch, 2n) with positions then velocities, got "
            f"shape {y0.shape}."
        )
    if not jnp.issubdtype(y0.dtype, jnp.floating):
        raise TypeError(f"`y0` must be a real floating-point array, got dtype {y0.dtype}.")
    dof = getattr(dynamics, "dof", None)
    if isinstance(dof, int) and y0.shape[-1] != 2 * dof:
        raise ValueError(
            f"`y0` has {y0.shape[-1]} entries per state but the dynamics "
            f"{type(dynamics).__name__} has dof={dof}, so it expects 2 * dof = {2 * dof}."
        )
    if not isinstance(y0, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(y0))):
        raise ValueError("`y0` contains non-finite values (nan or inf).")


@eqx.filter_jit
def _solve(dynamics, y0, ts, args, solver, adaptive, rtol, atol, dt0, max_steps, checks):
    term = diffrax.ODETerm(dynamics)
    if adaptive:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        first_step = None
    else:
        controller = diffrax.ConstantStepSize()
        first_step = dt0

    def solve_one(y):
        solution = diffrax.diffeqsolve(
            term,
            solver,
            t0=ts[0],
            t1=ts[-1],
            dt0=first_step,
            y0=y,
            args=args,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller,
            max_steps=max_steps,
            throw=False,
        )
        return solution.ys, solution.result._value

    ys, codes = jax.vmap(solve_one)(y0)
    if checks:
        reached = codes == diffrax.RESULTS.max_steps_reached._value
        ys = eqx.error_if(
            ys,
            reached,
            f"the rollout reached max_steps={max_steps} before ts[-1]: increase max_steps or "
            "loosen rtol/atol (a stiff or chaotic state needs many small steps).",
        )
        failed = (codes != diffrax.RESULTS.successful._value) & ~reached
        ys = eqx.error_if(
            ys,
            failed,
            "the rollout failed: the step size collapsed or the dynamics returned non-finite "
            "values. Check the initial state and the model for NaNs (see docs: Errors and "
            "debugging), or try solver='kvaerno5' for stiff systems.",
        )
        ys = eqx.error_if(
            ys,
            ~jnp.all(jnp.isfinite(ys)),
            "the rollout produced non-finite states (nan or inf): the dynamics blew up. "
            "Use a smaller dt0 for fixed-step solvers, or an adaptive solver.",
        )
    return ys


def rollout(
    dynamics: Callable[[ArrayLike, Array, Args], Array],
    y0: Float[ArrayLike, "*batch 2n"],
    ts: Float[ArrayLike, " times"],
    *,
    args: Args = None,
    solver: str | diffrax.AbstractSolver = "tsit5",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    dt0: float | None = None,
    max_steps: int | None = None,
    checks: bool = True,
) -> Float[Array, "*batch times 2n"]:
    """Integrates `dy/dt = dynamics(t, y, args)` and returns the states at the times `ts`.

    `dynamics` is an analytic system, a model, or any callable with Diffrax's signature. A batch
    of initial states is solved by one compiled, vmapped Diffrax solve.

    **Arguments:**

    - `dynamics`: `f(t, y, args) -> dy/dt` with `y = [q, q_t]` of shape `(2n,)`.
    - `y0`: the initial state `(2n,)`, or a batch `(batch, 2n)`.
    - `ts`: strictly increasing times `(T,)`; the solve starts at `ts[0]`.
    - `args`: passed to `dynamics`.
    - `solver`: `"tsit5"` (default), `"dopri5"`, `"dopri8"` (high order, for tight tolerances),
        `"kvaerno5"` (implicit, stiff); fixed-step `"verlet"` (symplectic Störmer-Verlet, for long
        conservative rollouts) and `"rk4"`; or any `diffrax.AbstractSolver` instance.
    - `rtol`, `atol`: tolerances of the adaptive step-size controller.
    - `dt0`: step of a fixed-step solver; defaults to a tenth of the smallest gap in `ts`.
    - `max_steps`: the most solver steps; defaults to one sized to the horizon.
    - `checks`: raise clear errors when the solver fails or the states go non-finite.

    **Returns:**

    The states at `ts`, of shape `(T, 2n)` or `(batch, T, 2n)`.
    """
    if not callable(dynamics):
        raise TypeError(
            f"`dynamics` must be callable as f(t, y, args) -> dy/dt, got "
            f"{type(dynamics).__name__}."
        )
    y0 = jnp.asarray(y0)
    _validate_state(y0, dynamics)
    ts = jnp.asarray(ts, dtype=y0.dtype)
    _validate_times(ts)
    if y0.ndim > 2:
        raise ValueError(f"`y0` must have shape (2n,) or (batch, 2n), got shape {y0.shape}.")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    solver_instance, adaptive = _resolve_solver(solver)

    horizon_steps = None
    if not adaptive:
        if dt0 is None:
            if isinstance(ts, jax.core.Tracer):
                raise ValueError(
                    "fixed-step solvers need an explicit `dt0` when `ts` is traced under jit."
                )
            dt0 = float(np.min(np.diff(np.asarray(ts)))) / 10
        if not dt0 > 0:
            raise ValueError(f"`dt0` must be positive, got {dt0!r}.")
        if not isinstance(ts, jax.core.Tracer):
            horizon_steps = int(np.ceil(float(ts[-1] - ts[0]) / dt0)) + 1
    if max_steps is None:
        max_steps = max(16_384, 64 * int(ts.shape[0]), horizon_steps or 0)
    elif not (isinstance(max_steps, int) and max_steps > 0):
        raise ValueError(f"`max_steps` must be a positive int, got {max_steps!r}.")

    out = jax.eval_shape(dynamics, ts[0], y0.reshape(-1, y0.shape[-1])[0], args)
    if getattr(out, "shape", None) != (y0.shape[-1],):
        raise ValueError(
            f"`dynamics` must return dy/dt of the same shape as a state, ({y0.shape[-1]},), but "
            f"it returned {getattr(out, 'shape', type(out).__name__)}."
        )

    batch = y0.reshape(-1, y0.shape[-1])
    ys = _solve(
        dynamics, batch, ts, args, solver_instance, adaptive, rtol, atol, dt0, max_steps, checks
    )
    return ys.reshape(*y0.shape[:-1], ts.shape[0], y0.shape[-1])
