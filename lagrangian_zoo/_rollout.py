"""Rollouts: integrate any vector field `f(t, y, args)` from one or many initial states."""

import contextlib
import difflib
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PyTree, Real, Shaped

from ._composition import (
    AbstractSymplecticComposition,
    BlanesMoan4,
    ForestRuth,
    StormerVerlet,
    Yoshida4,
    Yoshida6,
)
from ._custom_types import Args, ScalarFunction
from ._gauss_legendre import GaussLegendre
from ._implicit_midpoint import ImplicitMidpoint
from ._mechanics import to_canonical, to_velocity
from ._validation import positive_int
from .models._base import AbstractDynamics


_ADAPTIVE_SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "kvaerno5": diffrax.Kvaerno5,
}


class _RK4Interpolation(diffrax.AbstractLocalInterpolation):
    """The third-order continuous extension of the classic Runge-Kutta method.

    Diffrax's Hermite interpolation would take the last stage as the derivative at `t1`, which
    for this tableau it is not (the last stage is evaluated at a predictor, not at `y1`), and
    that would drop the interpolated output to second order.
    """

    t0: Float[ArrayLike, ""]
    t1: Float[ArrayLike, ""]
    y0: PyTree[Array]
    k: PyTree[Array]

    def __init__(self, *, t0, t1, y0, y1, k):
        del y1
        self.t0 = t0
        self.t1 = t1
        self.y0 = y0
        self.k = k

    def evaluate(self, t0, t1=None, left=True):
        del left
        if t1 is not None:
            return jtu.tree_map(jnp.subtract, self.evaluate(t1), self.evaluate(t0))
        same = self.t0 == self.t1
        s = jnp.where(same, 0, t0 - self.t0) / jnp.where(same, 1, self.t1 - self.t0)
        s2, s3 = s * s, s * s * s
        middle = s2 - 2 * s3 / 3
        weights = jnp.stack([s - 3 * s2 / 2 + 2 * s3 / 3, middle, middle, 2 * s3 / 3 - s2 / 2])

        def combine(y0, k):
            return y0 + jnp.tensordot(weights.astype(k.dtype), k, axes=1).astype(y0.dtype)

        return jtu.tree_map(combine, self.y0, self.k)


class ClassicRK4(diffrax.AbstractERK):
    r"""The classic fourth-order Runge-Kutta method, with fixed steps (`solver="rk4"`).

    Four stages per step,

    $$k_1 = f(t_n, y_n),\quad k_2 = f(t_n + h/2, y_n + h k_1/2),\quad
    k_3 = f(t_n + h/2, y_n + h k_2/2),\quad k_4 = f(t_n + h, y_n + h k_3),$$

    $$y_{n+1} = y_n + \tfrac{h}{6}(k_1 + 2 k_2 + 2 k_3 + k_4),$$

    with a global error of order $h^4$; outputs between steps come from its third-order
    continuous extension. It is neither symplectic nor adaptive (it carries no error estimate,
    so [`lagrangian_zoo.rollout`][] gives it fixed steps of at most `dt0`).

    ??? cite "Reference"

        ```bibtex
        @article{kutta1901beitrag,
          title={Beitrag zur n{\"a}herungsweisen Integration totaler
                 Differentialgleichungen},
          author={Kutta, Wilhelm},
          journal={Zeitschrift f{\"u}r Mathematik und Physik},
          volume={46},
          pages={435--453},
          year={1901}
        }
        ```
    """

    tableau: ClassVar[diffrax.ButcherTableau] = diffrax.ButcherTableau(
        c=np.array([0.5, 0.5, 1.0]),
        b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
        b_error=np.array([0.0, 0.0, 0.0, 0.0]),
        a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])),
    )
    interpolation_cls: ClassVar[Callable[..., diffrax.AbstractLocalInterpolation]] = (
        _RK4Interpolation
    )

    def order(self, terms):
        return 4


_FIXED_STEP_SOLVERS: dict[str, Callable[[], diffrax.AbstractSolver]] = {
    "verlet": StormerVerlet,
    "midpoint": ImplicitMidpoint,
    "rk4": ClassicRK4,
    "yoshida4": Yoshida4,
    "yoshida6": Yoshida6,
    "forest_ruth": ForestRuth,
    "blanes_moan4": BlanesMoan4,
    "gl4": functools.partial(GaussLegendre, stages=2),
    "gl6": functools.partial(GaussLegendre, stages=3),
}


def _composition_scope(solver: AbstractSymplecticComposition) -> str:
    """What an explicit symplectic composition is meant for, and what to use instead."""
    if isinstance(solver, StormerVerlet):
        name = "Störmer-Verlet (solver='verlet')"
    else:
        name = f"{type(solver).__name__}, an explicit symplectic composition,"
    return (
        f"{name} is meant for accelerations that depend on positions only (a separable "
        "system); for a velocity-dependent one (a magnetic force, a relativistic or learned "
        "Lagrangian, a learned Hamiltonian) it is not symplectic and can diverge. Use "
        "solver='midpoint' or solver='gl4' (implicit, symmetric, for any Lagrangian or "
        "Hamiltonian) or an adaptive solver such as solver='tsit5'."
    )


SOLVER_NAMES = tuple(_ADAPTIVE_SOLVERS) + tuple(_FIXED_STEP_SOLVERS)


def _resolve_solver(solver) -> tuple[diffrax.AbstractSolver, bool]:
    """The solver instance and whether it is adaptive."""
    if isinstance(solver, diffrax.AbstractSolver):
        # Our RK4 carries a dummy error estimate (it is an ERK), so it must not be driven by an
        # adaptive controller; any other solver is adaptive exactly when Diffrax says so.
        adaptive = isinstance(solver, diffrax.AbstractAdaptiveSolver) and not isinstance(
            solver, ClassicRK4
        )
        return solver, adaptive
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


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _validate_times(ts: Array) -> None:
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(
            f"`ts` must be a 1-D array of at least 2 strictly increasing times, got shape "
            f"{ts.shape}."
        )
    if not _is_traced(ts):
        values = np.asarray(ts)
        if not np.all(np.isfinite(values)):
            bad = int(np.argmax(~np.isfinite(values)))
            raise ValueError(f"`ts` contains non-finite values: ts[{bad}] = {values[bad]}.")
        if not np.all(np.diff(values) > 0):
            bad = int(np.argmax(np.diff(values) <= 0))
            raise ValueError(
                f"`ts` must be strictly increasing, but ts[{bad}] = {values[bad]} and "
                f"ts[{bad + 1}] = {values[bad + 1]}."
            )


def _validate_state(y0: Array, dynamics) -> None:
    if y0.ndim not in (1, 2) or y0.shape[-1] == 0 or y0.shape[-1] % 2 != 0:
        raise ValueError(
            f"`y0` must have shape (2n,) or (batch, 2n) with positions then velocities (an "
            f"even, non-zero number of entries per state), got shape {y0.shape}."
        )
    if not jnp.issubdtype(y0.dtype, jnp.floating):
        raise TypeError(
            f"`y0` must be a real floating-point array, got dtype {y0.dtype}; convert it first, "
            "e.g. jnp.asarray(y0, dtype=float)."
        )
    dof = getattr(dynamics, "dof", None)
    if isinstance(dof, int) and not isinstance(dof, bool) and y0.shape[-1] != 2 * dof:
        raise ValueError(
            f"`y0` has {y0.shape[-1]} entries per state (shape {y0.shape}) but the dynamics "
            f"{type(dynamics).__name__} has dof={dof}, so it expects 2 * dof = {2 * dof}."
        )
    if not _is_traced(y0):
        finite = np.isfinite(np.asarray(y0))
        if not np.all(finite):
            bad = tuple(int(i) for i in np.unravel_index(int(np.argmax(~finite)), y0.shape))
            raise ValueError(
                f"`y0` contains non-finite values (nan or inf), first at index {tuple(bad)}."
            )


def _positive_scalar(name: str, value: Any, what: str) -> Any:
    """`value` if it is a finite, positive real scalar: a Python, NumPy or JAX number or 0-d
    array (a traced one is checked for its shape only). `what` ends the message: "a positive
    number", "a positive step"."""
    if _is_traced(value):
        dtype = jnp.result_type(value)
        real = jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)
        if jnp.ndim(value) != 0 or not real:
            raise ValueError(f"`{name}` must be {what}, a real scalar, got a traced {value!r}.")
        return value
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.dtype == np.bool_:
        raise ValueError(f"`{name}` must be {what}, got the bool {value!r}.")
    real = np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    if array.ndim != 0 or not real:
        raise ValueError(
            f"`{name}` must be {what}, a real scalar (Python, NumPy or a 0-d array), got "
            f"{value!r}."
        )
    number = array.item()
    if not np.isfinite(number):
        raise ValueError(f"`{name}` must be {what}, got {number!r}, which is not finite.")
    if not number > 0:
        raise ValueError(f"`{name}` must be {what}, got {number!r}.")
    return value


def _step_grid(ts: np.ndarray, dt0: float, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Step times for a fixed-step solver: every gap of `ts` cut into equal steps <= `dt0`.

    Every output time is then a step end, so no output is interpolated and the solver keeps its
    order at `ts` exactly. `dtype` is the precision `ts` was given in: a gap that is a whole
    number of `dt0` up to its rounding (float32's `linspace` gaps differ by a few ulps of the
    largest time) must not gain a sliver step, or the step count, and so the compiled
    program's shapes, would depend on rounding.
    """
    ts = np.asarray(ts, dtype=np.float64)
    gaps = np.diff(ts)
    rounding = 8 * np.finfo(dtype).eps * np.max(np.abs(ts)) / np.min(gaps)
    slack = max(1e-9, float(rounding))
    counts = np.maximum(1, np.ceil(gaps / dt0 * (1 - slack)).astype(np.int64))
    starts = np.repeat(ts[:-1], counts)
    fractions = np.concatenate([np.arange(c) / c for c in counts])
    grid = np.concatenate([starts + fractions * np.repeat(gaps, counts), ts[-1:]])
    return grid


# Equinox compiles each `error_if` to a host callback, and JAX never writes a program holding
# one to its persistent cache, so every process would compile the solve again. Diffrax's own
# checks of `SaveAt(ts)` and `dt0`, and a model's mass-matrix check, are such callbacks. An
# eager, checked rollout therefore traces its solve with Equinox's errors turned into NaNs
# (what `EQX_ON_ERROR=nan` does): a check that fires poisons the states, the solve reports the
# rollout as failed, and the caller runs the callback-holding program to raise the check's
# own message. The user context keys every program traced so (ours, and the jitted functions
# inside the dynamics) apart from those traced outside it, so the NaN versions never serve
# a call made outside it. Equinox reads its mode from a module global, so rollouts in
# several threads take turns in this section (a thread tracing some other `error_if` at
# that moment would compile it to NaNs too).
_DEFERRED_CHECKS = (
    jax.make_user_context(default_value=False) if hasattr(jax, "make_user_context") else None
)
_DEFERRED_LOCK = threading.RLock()


@contextlib.contextmanager
def _checks_deferred():
    """Yields whether `equinox.error_if` compiles to NaNs (no host callback) in this context."""
    try:
        from equinox import _errors as equinox_errors
    except ImportError:
        equinox_errors = None
    with _DEFERRED_LOCK:
        previous = getattr(equinox_errors, "EQX_ON_ERROR", None)
        # A user who chose another mode (EQX_ON_ERROR=nan, off or breakpoint) keeps it.
        if _DEFERRED_CHECKS is None or previous != "raise":
            yield False
            return
        with _DEFERRED_CHECKS(True):
            equinox_errors.EQX_ON_ERROR = "nan"
            try:
                yield True
            finally:
                equinox_errors.EQX_ON_ERROR = previous


@eqx.filter_jit
def _solve(dynamics, y0, ts, args, solver, controller, dt0, max_steps, checks, report):
    """The batched solve. With `report`, the checks come back as a status code per state (0
    fine, then `_STATUS_MESSAGES`' order) for the caller to raise in Python, so that the
    program holds no host callback and JAX's persistent cache can keep it; otherwise (under
    a caller's trace) they are `equinox.error_if` checks inside the program."""

    def vector_field(t, y, args):
        # A float64 model may be rolled out from float32 states; the solver needs one dtype.
        return jnp.asarray(dynamics(t, y, args)).astype(y.dtype)

    term = diffrax.ODETerm(vector_field)
    if checks and not report:
        y0 = eqx.error_if(y0, ~jnp.isfinite(y0), "`y0` contains non-finite values (nan or inf).")
        ts = eqx.error_if(
            ts,
            ~(ts[1:] > ts[:-1]),
            "`ts` must be strictly increasing (and finite); sort it or drop repeated times.",
        )

    def solve_one(y):
        solution = diffrax.diffeqsolve(
            term,
            solver,
            t0=ts[0],
            t1=ts[-1],
            dt0=dt0,
            y0=y,
            args=args,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller,
            max_steps=max_steps,
            throw=False,
        )
        return solution.ys, solution.result

    if y0.shape[0] == 1:
        # A single state skips the batching of Diffrax's loops: a smaller, faster program.
        ys, results = jax.tree.map(lambda x: x[None], solve_one(y0[0]))
    else:
        ys, results = jax.vmap(solve_one)(y0)
    reached = results == diffrax.RESULTS.max_steps_reached
    failed = (results != diffrax.RESULTS.successful) & ~reached
    blown_up = ~jnp.all(jnp.isfinite(ys), axis=(1, 2)) & ~reached & ~failed
    if report:
        status = jnp.where(reached, 1, jnp.where(failed, 2, jnp.where(blown_up, 3, 0)))
        return ys, status
    if checks:
        ys = eqx.error_if(ys, reached, _max_steps_message(max_steps))
        ys = eqx.error_if(
            ys,
            failed,
            _failure_message(solver),
        )
        ys = eqx.error_if(ys, blown_up, _blow_up_message(solver))
    return ys


def _max_steps_message(max_steps: int) -> str:
    return (
        f"the rollout reached max_steps={max_steps} before ts[-1]: increase max_steps or "
        "loosen rtol/atol (a stiff or chaotic state needs many small steps)."
    )


def _raise_for_status(status, solver, max_steps: int) -> None:
    """Raises, in Python, the first failed check of an eager solve (as `error_if` would)."""
    status = np.asarray(status)
    for code, message in (
        (1, _max_steps_message(max_steps)),
        (2, _failure_message(solver)),
        (3, _blow_up_message(solver)),
    ):
        if np.any(status == code):
            raise eqx.EquinoxRuntimeError(message)


def _failure_message(solver: diffrax.AbstractSolver) -> str:
    if isinstance(solver, ImplicitMidpoint):
        return (
            "the rollout failed: a step's Newton iteration of solver='midpoint' did not "
            "converge, or the dynamics returned non-finite values. Use a smaller dt0, or "
            "raise root_find_max_steps / loosen rtol, atol of lz.ImplicitMidpoint(...)."
        )
    if isinstance(solver, GaussLegendre):
        return (
            f"the rollout failed: a step's Newton iteration of "
            f"lz.GaussLegendre(stages={solver.stages}) did not converge, or the dynamics "
            "returned non-finite values. Use a smaller dt0, or raise root_find_max_steps / "
            "loosen rtol, atol of lz.GaussLegendre(...)."
        )
    if isinstance(solver, AbstractSymplecticComposition):
        return (
            "the rollout failed: the dynamics returned non-finite values. "
            + _composition_scope(solver)
        )
    return (
        "the rollout failed: the step size collapsed or the dynamics returned non-finite "
        "values. Check the initial state and the model for NaNs, or try "
        "solver='kvaerno5' for stiff systems."
    )


def _blow_up_message(solver: diffrax.AbstractSolver) -> str:
    message = "the rollout produced non-finite states (nan or inf): the dynamics blew up. "
    if isinstance(solver, AbstractSymplecticComposition):
        return message + _composition_scope(solver) + " A smaller dt0 only helps for a while."
    return message + "Use a smaller dt0 for fixed-step solvers, or an adaptive solver."


def _defined_at(dynamics, t: Array, states: Float[Array, "batch two_n"], args: Args) -> bool:
    """Whether `dynamics` evaluates without error, and finitely, at every state."""
    try:
        out = jax.vmap(lambda y: dynamics(t, y, args))(states)
    except eqx.EquinoxRuntimeError:
        return False
    return bool(jnp.all(jnp.isfinite(out)))


def _unknown_keyword_error(unknown: dict[str, Any]) -> TypeError:
    """The error for keyword arguments `rollout` does not take, with the closest it does."""
    parameters = inspect.signature(rollout).parameters.items()
    known = [name for name, p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    name = next(iter(unknown))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return TypeError(
        f"rollout: unknown keyword argument {name!r}.{hint} Its keyword arguments are: "
        f"{', '.join(known)}."
    )


def rollout(
    dynamics: Callable[[ArrayLike, Array, Args], Array],
    y0: Shaped[ArrayLike, "*batch two_n"],
    ts: Real[ArrayLike, " times"],
    *,
    args: Args = None,
    solver: str | diffrax.AbstractSolver = "tsit5",
    rtol: float | Real[ArrayLike, ""] = 1e-6,
    atol: float | Real[ArrayLike, ""] = 1e-8,
    dt0: float | Real[ArrayLike, ""] | None = None,
    max_steps: int | None = None,
    checks: bool = True,
    dtype: Any = None,
    lagrangian: ScalarFunction | None = None,
    **unknown: Any,
) -> Float[Array, "*batch times two_n"]:
    """Integrates `dy/dt = dynamics(t, y, args)` and returns the states at the times `ts`.

    `dynamics` is an analytic system, a model, or any callable with Diffrax's signature. A batch
    of initial states is solved by one compiled, vmapped Diffrax solve.

    **Arguments:**

    - `dynamics`: `f(t, y, args) -> dy/dt` with `y = [q, q_t]` of shape `(2n,)`.
    - `y0`: the initial state `(2n,)`, or a batch `(batch, 2n)`. An empty batch `(0, 2n)`
        gives an empty result `(0, T, 2n)`, after the same checks as any other.
    - `ts`: strictly increasing times `(T,)`; the solve starts at `ts[0]`.
    - `args`: passed to `dynamics`.
    - `solver`: `"tsit5"` (default), `"dopri5"`, `"dopri8"` (high order, for tight tolerances),
        `"kvaerno5"` (implicit, stiff); fixed-step `"rk4"`, the explicit symplectic
        compositions `"verlet"`, `"yoshida4"`, `"yoshida6"`, `"forest_ruth"`,
        `"blanes_moan4"`, and the implicit symplectic `"midpoint"`, `"gl4"`, `"gl6"`; or any
        `diffrax.AbstractSolver` instance (adaptive ones get a PID controller, the others
        fixed steps). For long conservative rollouts: the explicit compositions
        ([`lagrangian_zoo.StormerVerlet`][], [`lagrangian_zoo.Yoshida4`][] and the others) are
        symplectic only for separable systems, whose acceleration depends on positions only
        (springs, gravity, pendulums); for velocity-dependent ones (magnetic forces,
        relativistic or learned Lagrangians, learned Hamiltonians) they lose their order and
        can diverge, so use `"midpoint"` (the implicit midpoint rule,
        [`lagrangian_zoo.ImplicitMidpoint`][], second order) or `"gl4"`, `"gl6"`
        (Gauss-Legendre collocation, [`lagrangian_zoo.GaussLegendre`][], orders 4 and 6):
        symmetric, symplectic on canonical coordinates, for any vector field.
    - `rtol`, `atol`: tolerances of the adaptive step-size controller. These and `dt0` take
        any finite, positive real scalar: a Python or NumPy number, or a 0-d array (also a
        traced one).
    - `dt0`: for a fixed-step solver, the largest step; defaults to a tenth of the smallest
        gap in `ts`. Each gap of `ts` is cut into equal steps no longer than `dt0`, so the
        states at `ts` are step ends, never interpolated (when `ts` is traced under `jit`, the
        steps are exactly `dt0` and outputs in between are interpolated). For an adaptive
        solver, the first step tried, which the controller then shrinks or grows (Diffrax's
        `dt0`); by default Diffrax chooses it from the dynamics at `ts[0]`.
    - `max_steps`: the most solver steps; defaults to one sized to the horizon.
    - `checks`: raise clear errors (also under `jit`) when the solver fails or the states go
        non-finite. With `checks=False` nothing is raised: a rollout that failed (reached
        `max_steps`, lost its step size, or blew up) holds non-finite states (`inf` or `nan`)
        at every time of `ts` from its failure on, and the other rollouts of the batch are
        unaffected, so a batch can be scored by counting the non-finite rollouts as failed.
        Called outside `jit` with `checks=True`, the compiled solve holds no host callback
        (every check, the dynamics' own included, comes back with the states and raises
        after the solve), so JAX's persistent compilation cache keeps it for the next process.
        When a `"verlet"` rollout stops on an error raised by the dynamics (such
        as a singular mass matrix where a half-step velocity left the region the Lagrangian
        is defined on, `|q_t| >= c` for a relativistic particle) at a state other than
        the initial one, the error says so and points to `"midpoint"`; under an outer `jit`
        the dynamics' own error is raised instead.
    - `dtype`: the floating-point dtype to solve in, such as `jnp.float64`, instead of that of
        `y0`: the floating arrays of `dynamics` (a model's parameters, a system's), `args`,
        `lagrangian`, `y0` and `ts` are cast to it (see [`lagrangian_zoo.cast_floating`][]),
        and the states come back in it. A model trained in float32 is best rolled out in
        float64: at a tolerance near `1e-7` a float32 solve sits at its rounding floor and its
        step size collapses, while in float64 the integration error stays far below the
        model's own. Float64 is switched on for the call (`jax.enable_x64`) if the session
        runs without it; under an outer `jit` it must be on already.
    - `lagrangian`: `L(q, q_t) -> scalar`, to roll out from velocity states whatever states
        `dynamics` takes. For a model that takes canonical states (an
        [`lagrangian_zoo.models.AbstractDynamics`][] with `coordinates == "canonical"`, such
        as an HNN), `y0 = [q, q_t]` is mapped to `[q, p]` by
        [`lagrangian_zoo.to_canonical`][], and the rollout back to `[q, q_t]` by
        [`lagrangian_zoo.to_velocity`][] (a failed rollout's non-finite states come back
        `nan`). For any other dynamics it is not used. So one call compares every model with
        the truth: pass the system's `lagrangian`.

    Any other keyword argument (a misspelt `rtoll`) raises a `TypeError` that names it and the
    closest of these.

    **Returns:**

    The states at `ts`, of shape `(T, 2n)` or `(batch, T, 2n)`.

    !!! example

        ```python
        system = lz.systems.get("pendulum")
        ts = jnp.linspace(0.0, 10.0, 101)
        ys = lz.rollout(system, jnp.array([1.0, 0.0]), ts)  # (101, 2)
        hnn = lz.models.HNN(1, key=jax.random.key(0))  # takes [q, p]
        ys = lz.rollout(hnn, jnp.array([1.0, 0.0]), ts, lagrangian=system.lagrangian)
        ```
    """
    if unknown:
        raise _unknown_keyword_error(unknown)
    if not callable(dynamics):
        raise TypeError(
            f"`dynamics` must be callable as f(t, y, args) -> dy/dt, got "
            f"{type(dynamics).__name__}."
        )
    if lagrangian is not None and not callable(lagrangian):
        raise TypeError(
            f"`lagrangian` must be a callable L(q, q_t) -> scalar or None, got "
            f"{type(lagrangian).__name__}."
        )
    options = dict(
        args=args, solver=solver, rtol=rtol, atol=atol, dt0=dt0, max_steps=max_steps, checks=checks
    )
    if dtype is not None:
        return _rollout_in(_floating_dtype(dtype), dynamics, y0, ts, lagrangian, options)
    if lagrangian is not None and _takes_canonical(dynamics):
        y0 = jnp.asarray(y0)
        _validate_state(y0, dynamics)
        ys = _integrate(dynamics, to_canonical(lagrangian, y0), ts, **options)
        return to_velocity(lagrangian, ys)
    return _integrate(dynamics, y0, ts, **options)


def _takes_canonical(dynamics: Callable) -> bool:
    """Whether `dynamics` is a model that takes canonical states `[q, p]`."""
    return isinstance(dynamics, AbstractDynamics) and dynamics.coordinates == "canonical"


def _floating_dtype(dtype: Any) -> np.dtype:
    """`dtype` as a NumPy dtype, if it is a real floating-point one."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or not jnp.issubdtype(resolved, jnp.floating):
        raise ValueError(
            f"`dtype` must be a real floating-point dtype such as jnp.float64 or jnp.float32, "
            f"got {dtype!r}."
        )
    return resolved


def _rollout_in(dtype: np.dtype, dynamics, y0, ts, lagrangian, options: dict[str, Any]):
    """`rollout` with everything floating cast to `dtype`, in a session that has it."""
    wide = dtype.itemsize == 8 and not jax.config.jax_enable_x64
    leaves = jax.tree.leaves((dynamics, y0, ts, options["args"], lagrangian))
    if wide and any(_is_traced(leaf) for leaf in leaves):
        raise ValueError(
            f"`dtype`={dtype.name} under jit needs 64-bit floats for the whole session: call "
            "jax.config.update('jax_enable_x64', True) first, or roll out outside the jit."
        )
    # Arrays are made inside the switch, so that a float64 NumPy `y0` or `ts` keeps its digits.
    with jax.enable_x64(True) if wide else contextlib.nullcontext():
        y0 = jnp.asarray(y0)
        if jnp.issubdtype(y0.dtype, jnp.floating):
            y0 = y0.astype(dtype)
        return rollout(
            cast_floating(dynamics, dtype),
            y0,
            jnp.asarray(ts),
            lagrangian=cast_floating(lagrangian, dtype),
            **{**options, "args": cast_floating(options["args"], dtype)},
        )


def cast_floating(tree: PyTree, dtype: Any) -> PyTree:
    """`tree` (a model, a system, a dataset) with every floating-point array in `dtype`.

    Integer arrays, keys and everything that is not an array are kept as they are, so a model
    trained in float32 becomes the same model in float64 (its parameters exactly, its
    computations then in float64).

    **Arguments:**

    - `tree`: any pytree; Equinox modules' array fields are its leaves.
    - `dtype`: a real floating-point dtype, such as `jnp.float64`. Float64 needs 64-bit floats
        switched on (`jax.config.update("jax_enable_x64", True)` or `jax.enable_x64`).

    **Returns:** a pytree of the structure of `tree`.

    !!! example

        ```python
        model64 = lz.cast_floating(model, jnp.float64)
        ```
    """
    dtype = _floating_dtype(dtype)
    if dtype.itemsize == 8 and not jax.config.jax_enable_x64:
        raise ValueError(
            f"`dtype`={dtype.name} needs 64-bit floats, which this session has off: call "
            "jax.config.update('jax_enable_x64', True) first, or cast inside "
            "`with jax.enable_x64(True):`."
        )

    def cast(leaf):
        floating = eqx.is_inexact_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.floating)
        return leaf.astype(dtype) if floating else leaf

    return jax.tree.map(cast, tree)


def _integrate(dynamics, y0, ts, *, args, solver, rtol, atol, dt0, max_steps, checks):
    """`rollout` of `dynamics` from `y0`, in the states it takes and the dtype of `y0`."""
    y0 = jnp.asarray(y0)
    _validate_state(y0, dynamics)
    ts = jnp.asarray(ts)
    if not jnp.issubdtype(ts.dtype, jnp.floating) and not jnp.issubdtype(ts.dtype, jnp.integer):
        raise TypeError(f"`ts` must be an array of real times, got dtype {ts.dtype}.")
    ts = ts.astype(y0.dtype)
    _validate_times(ts)
    rtol = _positive_scalar("rtol", rtol, "a positive number")
    atol = _positive_scalar("atol", atol, "a positive number")
    if dt0 is not None:
        dt0 = _positive_scalar("dt0", dt0, "a positive step")
    if max_steps is not None:
        max_steps = positive_int("", "max_steps", max_steps)
    solver_instance, adaptive = _resolve_solver(solver)
    controller, first_step, needed_steps = _step_control(
        solver, adaptive, ts, y0.dtype, rtol, atol, dt0, max_steps
    )
    if max_steps is None:
        max_steps = max(16_384, 64 * int(ts.shape[0]), needed_steps)
    _check_output_shape(dynamics, ts, y0, args)

    batch = y0.reshape(-1, y0.shape[-1])
    if batch.shape[0] == 0:
        # An empty batch (a filter that kept no state) rolls out to an empty batch, as a
        # vmap over it would, once everything above has been checked.
        return jnp.zeros((*y0.shape[:-1], ts.shape[0], y0.shape[-1]), y0.dtype)
    ys = _solve_with_messages(
        dynamics, batch, ts, args, solver_instance, controller, first_step, max_steps, checks
    )
    return ys.reshape(*y0.shape[:-1], ts.shape[0], y0.shape[-1])


def _step_control(solver, adaptive: bool, ts, dtype, rtol, atol, dt0, max_steps):
    """The step-size controller, Diffrax's first step, and the steps a fixed grid needs."""
    if adaptive:
        # Tolerances are arrays, so that a new tolerance reuses the compiled solve.
        controller = diffrax.PIDController(
            rtol=jnp.asarray(rtol, dtype=dtype), atol=jnp.asarray(atol, dtype=dtype)
        )
        # Diffrax's first step: tried, then shrunk or grown by the controller; without it
        # Diffrax picks one from the dynamics at ts[0].
        first_step = None if dt0 is None else jnp.asarray(dt0, dtype=dtype)
        return controller, first_step, 0
    if dt0 is None:
        if _is_traced(ts):
            raise ValueError(
                "fixed-step solvers need an explicit `dt0` when `ts` is traced under jit."
            )
        dt0 = float(np.min(np.diff(np.asarray(ts, dtype=np.float64)))) / 10
    if _is_traced(ts) or _is_traced(dt0):
        return diffrax.ConstantStepSize(), jnp.asarray(dt0, dtype=dtype), 0
    grid = _step_grid(np.asarray(ts), float(dt0), ts.dtype)
    needed_steps = grid.shape[0] - 1
    if max_steps is not None and max_steps < needed_steps:
        raise ValueError(
            f"solver {solver!r} needs {needed_steps} steps of at most dt0={dt0} to "
            f"reach ts[-1], but max_steps={max_steps}: increase max_steps or dt0."
        )
    return diffrax.StepTo(ts=jnp.asarray(grid, dtype=dtype)), None, needed_steps


def _check_output_shape(dynamics, ts, y0, args) -> None:
    """Refuses dynamics whose `dy/dt` does not have the shape of a state."""
    single = jax.ShapeDtypeStruct(y0.shape[-1:], y0.dtype)
    # Called through a lambda: `eval_shape` names the program after its function, and a
    # tree-mapped copy of a module with `init=False` fields (a cast system) has an Equinox
    # placeholder, not a string, as its `__name__`.
    out = jax.eval_shape(lambda t, y, args: dynamics(t, y, args), ts[0], single, args)
    if getattr(out, "shape", None) != (y0.shape[-1],):
        got = getattr(out, "shape", None)
        raise ValueError(
            f"`dynamics` must return dy/dt of the same shape as a state, ({y0.shape[-1]},), but "
            f"it returned {f'shape {got}' if got is not None else type(out).__name__}."
        )


def _solve_with_messages(
    dynamics, batch, ts, args, solver_instance, controller, first_step, max_steps, checks
):
    """The compiled solve of a batch, its failures raised with what to do about them."""
    # Called eagerly (nothing traced), the checks run in Python on the solve's status codes
    # and every check inside it (Diffrax's, the dynamics') turns a failure into NaNs: the
    # compiled solve holds no host callback, so the persistent compilation cache keeps it for
    # the next process. A failure then runs the solve with its checks compiled in, which
    # raises the check's own message (a singular mass matrix, max_steps); failures are rare,
    # so that second program is compiled only for them.
    solve = functools.partial(
        _solve,
        dynamics,
        batch,
        ts,
        args,
        solver_instance,
        controller,
        first_step,
        max_steps,
        checks,
    )
    eager = checks and not any(
        _is_traced(leaf) for leaf in jax.tree.leaves((dynamics, batch, ts, args, first_step))
    )
    try:
        if not eager:
            return solve(False)
        with _checks_deferred():
            ys, status = solve(True)
        if np.any(np.asarray(status) != 0):
            solve(False)
            _raise_for_status(status, solver_instance, max_steps)
        return ys
    except eqx.EquinoxRuntimeError as error:
        # An error raised inside the dynamics names the dynamics (a singular mass matrix says
        # "check the Lagrangian"); for an explicit composition the usual cause is its explicit
        # kicks of the velocity, unless the dynamics already fail at the initial states.
        if not isinstance(solver_instance, AbstractSymplecticComposition):
            raise
        scope = _composition_scope(solver_instance)
        if scope in str(error) or not _defined_at(dynamics, ts[0], batch, args):
            raise
        if isinstance(solver_instance, StormerVerlet):
            where = "Störmer-Verlet stepped to (its half-step velocity v + h/2 a(q, v)"
        else:
            where = (
                f"{type(solver_instance).__name__} stepped to (an explicit kick v + b h a(q, v)"
            )
        raise eqx.EquinoxRuntimeError(
            f"the rollout stopped: the dynamics raised an error at a state {where} can leave "
            "the region a velocity-dependent Lagrangian is defined on, e.g. |v| >= c for a "
            f"relativistic particle, where its mass matrix is singular). {scope}"
        ) from error
