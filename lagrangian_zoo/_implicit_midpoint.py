"""The implicit midpoint rule, a symmetric fixed-step Diffrax solver for any vector field."""

import math
from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float

from ._validation import positive_int


def _tolerance(value):
    """A real scalar tolerance (a NumPy number, a 0-d array) as a Python float, the solver's
    static setting; anything else as it came, for `__check_init__` to refuse."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return value
    try:
        array = np.asarray(value)
    except Exception:  # a tracer, or an object NumPy cannot read
        return value
    if array.ndim == 0 and (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        return float(array)
    return value


class _StepInterpolation(diffrax.AbstractLocalInterpolation):
    """Linear interpolation between the ends of a step that gives `y0` itself at its start.

    Diffrax's linear interpolation computes `y0 + 0 * (y1 - y0)` there, which is NaN when the
    step failed (`y1` NaN), and the output at `ts[0]` is read at the start of the first step.
    """

    t0: Float[ArrayLike, ""]
    t1: Float[ArrayLike, ""]
    y0: Float[Array, " m"]
    y1: Float[Array, " m"]

    def evaluate(self, t0, t1=None, left=True):
        del left
        if t1 is not None:
            return self.evaluate(t1) - self.evaluate(t0)
        same = self.t0 == self.t1
        s = jnp.where(same, 0, t0 - self.t0) / jnp.where(same, 1, self.t1 - self.t0)
        s = s.astype(self.y0.dtype)
        return jnp.where(s == 0, self.y0, self.y0 + s * (self.y1 - self.y0))


def check_newton_settings(solver) -> None:
    """Refuses a Newton-iterating solver's `rtol`, `atol` or `root_find_max_steps` unless
    they are finite positive numbers (or None) and a positive int, naming the solver."""
    owner = type(solver).__name__
    for name in ("rtol", "atol"):
        value = getattr(solver, name)
        positive = isinstance(value, float) and math.isfinite(value) and value > 0
        if value is not None and not positive:
            raise ValueError(
                f"{owner}: `{name}` must be a positive number or None, got {value!r}."
            )
    positive_int(f"{owner}:", "root_find_max_steps", solver.root_find_max_steps)


def newton_tolerances(solver, y: Float[Array, " m"]) -> tuple[float, float]:
    """The solver's `rtol` and `atol`, each `100 * eps` of the state's dtype when None."""
    eps = float(jnp.finfo(y.dtype).eps)
    rtol = 100 * eps if solver.rtol is None else solver.rtol
    atol = 100 * eps if solver.atol is None else solver.atol
    return rtol, atol


class ImplicitMidpoint(diffrax.AbstractImplicitSolver):
    r"""The implicit midpoint rule, for general (non-separable, velocity-dependent) dynamics.

    $$y_1 = y_0 + h\,f\!\left(t_0 + \tfrac{h}{2},\ \tfrac{y_0 + y_1}{2}\right),$$

    solved for the increment $k = y_1 - y_0$ by Newton's method (Optimistix) at each step.
    Second order, symmetric (time-reversible), and it conserves every quadratic invariant of
    $\dot y = f(y)$ exactly, up to the Newton tolerance: the kinetic energy $|\dot q|^2/2$ of a
    charged particle in a uniform magnetic field, angular momentum $q \times p$. On canonical
    coordinates $y = [q, p]$ it is symplectic for every Hamiltonian, separable or not, so the
    energy error stays bounded over long rollouts instead of drifting.

    On $y = [q, \dot q]$ the rule is symplectic when the Legendre map $\dot q \mapsto p$ is
    linear (a constant mass matrix, a vector potential linear in $q$), since the midpoint rule
    commutes with linear changes of coordinates. For a velocity-dependent mass matrix (a
    relativistic particle, a learned Lagrangian) it stays second order, symmetric and
    implicit-stable, which for reversible motions also keeps the energy error from drifting;
    for exact symplecticity, roll out the Hamiltonian vector field on $[q, p]$ instead.
    Störmer-Verlet ([`lagrangian_zoo.StormerVerlet`][]) is the cheaper choice when the
    acceleration depends on positions only.

    Fixed step only: use it with `diffrax.ConstantStepSize` or `diffrax.StepTo` (which
    [`lagrangian_zoo.rollout`][] does for `solver="midpoint"`). Each Newton iteration costs
    one vector field evaluation and one linear solve with its Jacobian, usually two or three
    iterations per step, starting from $k = 0$. A step whose Newton
    iteration does not converge ends the solve with Diffrax's `implicit_nonconvergence`-type
    result (take a smaller step), and its state is NaN rather than the last iterate, so that
    a rollout without checks is non-finite from the failed step on.

    **Arguments:**

    - `rtol`, `atol`: the Newton iteration stops when its last update of every component of
        the increment is below `atol + rtol * |y|`, and so is the residual. Both default to
        `100 * eps` of the state's dtype (about `2e-14` in float64, `1e-5` in float32); any
        finite, positive real scalar (Python, NumPy, a 0-d array) is taken as a float.
    - `root_find_max_steps`: the most Newton iterations per step.

    ??? cite "Reference"

        ```bibtex
        @book{hairer2006geometric,
          title={Geometric Numerical Integration: Structure-Preserving Algorithms for
                 Ordinary Differential Equations},
          author={Hairer, Ernst and Lubich, Christian and Wanner, Gerhard},
          edition={2},
          series={Springer Series in Computational Mathematics},
          volume={31},
          publisher={Springer},
          year={2006}
        }
        ```
    """

    rtol: float | None = eqx.field(default=None, converter=_tolerance)
    atol: float | None = eqx.field(default=None, converter=_tolerance)
    root_find_max_steps: int = 20

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.AbstractLocalInterpolation]] = (
        _StepInterpolation
    )

    def __check_init__(self):
        check_newton_settings(self)

    @property
    def root_finder(self) -> optx.AbstractRootFinder:
        # The unknown is the increment divided by its tolerance, so that a unit tolerance here
        # is `atol + rtol * |y|` per component (optimistix compares the residual absolutely).
        return optx.Newton(rtol=0.0, atol=1.0)

    def order(self, terms):
        return 2

    def init(self, terms, t0, t1, y0, args):
        return terms.vf(t0, y0, args)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        h = t1 - t0
        t_mid = t0 + 0.5 * h
        rtol, atol = newton_tolerances(self, y0)
        # The last step's increment enters the scale so that a component passing through 0 is
        # not held to `atol` alone when the step moves it far.
        scale = atol + rtol * jnp.maximum(jnp.abs(y0), jnp.abs(h * solver_state))

        def residual(unknown, args):
            k = unknown * scale
            slope = terms.vf(t_mid, y0 + 0.5 * k, args)
            return unknown - h * slope / scale

        solution = optx.root_find(
            residual,
            self.root_finder,
            # Newton from the increment 0: its first iterate is a linearly implicit step, which
            # stays near y0 where the dynamics are stiff or have a boundary (|v| < c).
            jnp.zeros_like(y0),
            args,
            throw=False,
            max_steps=self.root_find_max_steps,
        )
        k = solution.value * scale
        # A step whose Newton iteration failed has no next state. Its last iterate is finite
        # and wrong; NaN instead shows the failure from this step on in a rollout run
        # without checks, where Diffrax saves the step before it stops.
        failed = solution.result != optx.RESULTS.successful
        y1 = jnp.where(failed, jnp.nan, y0 + k)
        slope = jnp.where(h == 0, solver_state, k / jnp.where(h == 0, 1, h))
        result = diffrax.RESULTS.promote(solution.result)
        dense_info = dict(y0=y0, y1=y1)
        return y1, None, dense_info, slope, result

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
