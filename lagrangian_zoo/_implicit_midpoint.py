"""The implicit midpoint rule, a symmetric fixed-step Diffrax solver for any vector field."""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, Float


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
    result (take a smaller step).

    **Arguments:**

    - `rtol`, `atol`: the Newton iteration stops when its last update of every component of
        the increment is below `atol + rtol * |y|`, and so is the residual. Both default to
        `100 * eps` of the state's dtype (about `2e-14` in float64, `1e-5` in float32).
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

    rtol: float | None = None
    atol: float | None = None
    root_find_max_steps: int = 20

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.LocalLinearInterpolation]] = (
        diffrax.LocalLinearInterpolation
    )

    def __check_init__(self):
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"ImplicitMidpoint: `{name}` must be a positive number or None.")
        if isinstance(self.root_find_max_steps, bool) or not (
            isinstance(self.root_find_max_steps, int) and self.root_find_max_steps >= 1
        ):
            raise ValueError(
                "ImplicitMidpoint: `root_find_max_steps` must be a positive int, got "
                f"{self.root_find_max_steps!r}."
            )

    @property
    def root_finder(self) -> optx.AbstractRootFinder:
        # The unknown is the increment divided by its tolerance, so that a unit tolerance here
        # is `atol + rtol * |y|` per component (optimistix compares the residual absolutely).
        return optx.Newton(rtol=0.0, atol=1.0)

    def order(self, terms):
        return 2

    def init(self, terms, t0, t1, y0, args):
        return terms.vf(t0, y0, args)

    def _tolerances(self, y: Float[Array, " m"]) -> tuple[float, float]:
        eps = float(jnp.finfo(y.dtype).eps)
        rtol = 100 * eps if self.rtol is None else self.rtol
        atol = 100 * eps if self.atol is None else self.atol
        return rtol, atol

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        h = t1 - t0
        t_mid = t0 + 0.5 * h
        rtol, atol = self._tolerances(y0)
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
        y1 = y0 + k
        slope = jnp.where(h == 0, solver_state, k / jnp.where(h == 0, 1, h))
        result = diffrax.RESULTS.promote(solution.result)
        dense_info = dict(y0=y0, y1=y1)
        return y1, None, dense_info, slope, result

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
