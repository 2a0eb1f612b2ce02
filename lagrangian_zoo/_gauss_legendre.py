"""Gauss-Legendre collocation, a symplectic implicit Runge-Kutta Diffrax solver of order 2s
for any vector field."""

import functools
from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from ._implicit_midpoint import (
    _StepInterpolation,
    _tolerance,
    check_newton_settings,
    newton_tolerances,
)
from ._validation import positive_int


_MOST_STAGES = 6


@functools.cache
def gauss_legendre_tableau(stages: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The Butcher tableau `(a, b, c)` of `stages`-stage Gauss-Legendre collocation, and the
    weights `d = b a^{-1}` that give the step from the stage increments, in float64.

    The nodes `c` are the roots of the shifted Legendre polynomial of degree `stages` and `b`
    their quadrature weights; `a[i, j]` integrates the `j`-th Lagrange polynomial of the
    nodes from 0 to `c[i]`, so that `sum_j a[i, j] c[j]**k = c[i]**(k + 1) / (k + 1)`.
    """
    roots, weights = np.polynomial.legendre.leggauss(stages)
    c = (roots + 1) / 2
    b = weights / 2
    powers = np.arange(stages)
    vandermonde = c[:, None] ** powers[None, :]  # [j, k] = c_j^k
    integrals = c[:, None] ** (powers[None, :] + 1) / (powers[None, :] + 1)
    a = np.linalg.solve(vandermonde.T, integrals.T).T
    d = np.linalg.solve(a.T, b)
    return a, b, c, d


class GaussLegendre(diffrax.AbstractImplicitSolver):
    r"""Gauss-Legendre collocation with `stages` stages: symplectic, symmetric and of order
    `2 * stages`, for any vector field (`solver="gl4"`, `"gl6"`).

    The stage increments $Z_i = Y_i - y_0$ solve

    $$Z_i = h \sum_{j=1}^{s} a_{ij}\, f(t_0 + c_j h,\ y_0 + Z_j),\qquad i = 1, \dots, s,$$

    with the Gauss nodes $c_j$ (the roots of the shifted Legendre polynomial of degree $s$),
    and $y_1 = y_0 + h \sum_i b_i f(Y_i)$, computed as $y_0 + \sum_i d_i Z_i$ with
    $d = b\,a^{-1}$. The $s$-stage method has order $2s$ (the highest of any $s$-stage Runge-Kutta
    method): 4 for two stages, 6 for three; one stage is the implicit midpoint rule.

    Its coefficients satisfy $b_i a_{ij} + b_j a_{ji} = b_i b_j$, so the step is symplectic on
    canonical coordinates $y = [q, p]$ for every Hamiltonian, separable or not: a learned
    one ([`lagrangian_zoo.models.HNN`][]) included, where the explicit compositions
    ([`lagrangian_zoo.Yoshida4`][] and the others) do not apply. It conserves every quadratic
    invariant exactly, up to the Newton tolerance. On $[q, \dot q]$ (a Lagrangian model's
    field, whose every evaluation solves the mass matrix) it is symplectic when the Legendre
    map is linear, and otherwise stays symmetric and of order $2s$, which for reversible
    motions also keeps the energy error from drifting.

    The stage equations are solved by Newton's method (Optimistix, with the Jacobian of all
    $s$ stages by forward-mode differentiation and a dense LU solve), starting from $Z = 0$;
    each iteration costs $s$ vector-field evaluations and their Jacobians. A step whose
    iteration does not converge ends the solve with Diffrax's `implicit_nonconvergence`-type
    result (take a smaller step, or raise `root_find_max_steps`), and its state is NaN, as
    for [`lagrangian_zoo.ImplicitMidpoint`][]. Gradients through a step use the implicit
    function theorem.

    **Arguments:**

    - `stages`: the number of stages $s$, from 1 to 6; the order is $2s$. Default 2.
    - `rtol`, `atol`: the Newton iteration stops when its last update of every component of
        the stage increments is below `atol + rtol * |y|`, and so is the residual. Both default
        to `100 * eps` of the state's dtype.
    - `root_find_max_steps`: the most Newton iterations per step.

    Fixed step only: use it with `diffrax.ConstantStepSize` or `diffrax.StepTo`, as
    [`lagrangian_zoo.rollout`][] does.

    ??? cite "References"

        ```bibtex
        @article{butcher1964implicit,
          title={Implicit {R}unge-{K}utta processes},
          author={Butcher, John C.},
          journal={Mathematics of Computation},
          volume={18},
          number={85},
          pages={50--64},
          year={1964}
        }

        @article{sanzserna1988runge,
          title={{R}unge-{K}utta schemes for {H}amiltonian systems},
          author={Sanz-Serna, Jes{\'u}s M.},
          journal={BIT Numerical Mathematics},
          volume={28},
          number={4},
          pages={877--883},
          year={1988}
        }
        ```
    """

    stages: int = eqx.field(default=2, static=True)
    rtol: float | None = eqx.field(default=None, converter=_tolerance)
    atol: float | None = eqx.field(default=None, converter=_tolerance)
    root_find_max_steps: int = 20

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.AbstractLocalInterpolation]] = (
        _StepInterpolation
    )

    def __check_init__(self):
        positive_int(
            "GaussLegendre:",
            "stages",
            self.stages,
            expected=f"an int from 1 to {_MOST_STAGES}",
        )
        if self.stages > _MOST_STAGES:
            raise ValueError(
                f"GaussLegendre: `stages` must be an int from 1 to {_MOST_STAGES}, got "
                f"{self.stages!r}."
            )
        check_newton_settings(self)

    @property
    def root_finder(self) -> optx.AbstractRootFinder:
        # The unknowns are the increments divided by their tolerances, as in ImplicitMidpoint.
        return optx.Newton(rtol=0.0, atol=1.0)

    def order(self, terms):
        return 2 * self.stages

    def init(self, terms, t0, t1, y0, args):
        return terms.vf(t0, y0, args)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        a, _, c, d = (jnp.asarray(x, dtype=y0.dtype) for x in gauss_legendre_tableau(self.stages))
        h = t1 - t0
        rtol, atol = newton_tolerances(self, y0)
        scale = atol + rtol * jnp.maximum(jnp.abs(y0), jnp.abs(h * solver_state))
        times = t0 + c * h

        def residual(unknown, args):
            increments = unknown * scale[None]
            slopes = jax.vmap(lambda t, z: terms.vf(t, y0 + z, args))(times, increments)
            return unknown - h * (a @ slopes) / scale[None]

        solution = optx.root_find(
            residual,
            self.root_finder,
            jnp.zeros((self.stages, y0.shape[-1]), y0.dtype),
            args,
            throw=False,
            max_steps=self.root_find_max_steps,
        )
        increments = solution.value * scale[None]
        # As in ImplicitMidpoint: a failed step has no next state, and NaN shows it from here on.
        failed = solution.result != optx.RESULTS.successful
        step = d @ increments
        y1 = jnp.where(failed, jnp.nan, y0 + step)
        slope = jnp.where(h == 0, solver_state, step / jnp.where(h == 0, 1, h))
        result = diffrax.RESULTS.promote(solution.result)
        dense_info = dict(y0=y0, y1=y1)
        return y1, None, dense_info, slope, result

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
