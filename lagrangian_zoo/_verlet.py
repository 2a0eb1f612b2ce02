"""Störmer-Verlet (velocity Verlet), a symplectic fixed-step Diffrax solver for `y = [q, q_t]`."""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, Float


class StormerVerlet(diffrax.AbstractSolver):
    r"""Velocity Verlet for a second-order system written as `y = [q, q_t]`, `dy/dt = [q_t, a]`.

    $$v_{1/2} = v_0 + \tfrac{h}{2} a(q_0, v_0),\quad q_1 = q_0 + h\,v_{1/2},\quad
    v_1 = v_{1/2} + \tfrac{h}{2} a(q_1, v_{1/2}).$$

    Symplectic and time-reversible, second order, one evaluation per step (the last acceleration
    is reused), when the acceleration depends on `q` only: springs, gravity, orbits, strings.
    Energy then oscillates within a bound instead of drifting over long rollouts.

    !!! warning "Separable systems only"

        Symplecticity needs a separable system, whose acceleration depends on positions only.
        For a velocity-dependent acceleration (a magnetic force, a relativistic particle, a
        learned Lagrangian with a velocity-dependent mass matrix) the method is first order
        and not symplectic; its energy drifts or blows up, and its explicit half-step velocity
        can leave the region where the Lagrangian is defined ($|\dot q| \ge c$). Use
        [`lagrangian_zoo.ImplicitMidpoint`][] (`solver="midpoint"`) or an adaptive solver there.

    Fixed step only: use it with `diffrax.ConstantStepSize` or `diffrax.StepTo` (which
    [`lagrangian_zoo.rollout`][] does for `solver="verlet"`, with steps that end on the output
    times). The acceleration of each step's end is carried to the next step, so the vector
    field must not jump in time (no `jump_ts`).

    ??? cite "Reference"

        ```bibtex
        @article{hairer2003geometric,
          title={Geometric numerical integration illustrated by the St{\"o}rmer--Verlet
                 method},
          author={Hairer, Ernst and Lubich, Christian and Wanner, Gerhard},
          journal={Acta Numerica},
          volume={12},
          pages={399--450},
          year={2003}
        }
        ```
    """

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.LocalLinearInterpolation]] = (
        diffrax.LocalLinearInterpolation
    )

    def order(self, terms):
        return 2

    def init(self, terms, t0, t1, y0, args):
        return self._acceleration(terms, t0, y0, args)

    @staticmethod
    def _acceleration(terms, t, y, args) -> Float[Array, " n"]:
        n = y.shape[-1] // 2
        return terms.vf(t, y, args)[n:]

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        n = y0.shape[-1] // 2
        h = t1 - t0
        q0, v0 = y0[:n], y0[n:]
        a0 = solver_state
        v_half = v0 + 0.5 * h * a0
        q1 = q0 + h * v_half
        a1 = self._acceleration(terms, t1, jnp.concatenate([q1, v_half]), args)
        y1 = jnp.concatenate([q1, v_half + 0.5 * h * a1])
        dense_info = dict(y0=y0, y1=y1)
        return y1, None, dense_info, a1, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
