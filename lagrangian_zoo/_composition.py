"""Explicit symplectic compositions (kick-drift splittings) for separable systems, as Diffrax
solvers: Störmer-Verlet, Yoshida's fourth- and sixth-order methods, Forest-Ruth, Blanes-Moan."""

from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float


def _split(y: Float[Array, " m"], solver: str) -> int:
    """Half the length of a state `y = [x, z]`, refusing anything but an even-length vector."""
    if y.ndim != 1 or y.shape[0] == 0 or y.shape[0] % 2 != 0:
        raise ValueError(
            f"{solver} splits the state into positions and velocities (or momenta): `y0` must "
            f"be a vector of even length 2n, got shape {y.shape}."
        )
    return y.shape[0] // 2


def _verlet_composition(
    weights: tuple[float, ...],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The drifts and kicks of velocity-Verlet steps of lengths `weights` (fractions of h), one
    after the other: adjacent half-kicks merge, so the step begins and ends with a kick."""
    drifts = (0.0, *weights, 0.0)
    kicks = tuple(
        0.5 * (left + right) for left, right in zip((0.0, *weights), (*weights, 0.0), strict=True)
    )
    return drifts, kicks


class AbstractSymplecticComposition(diffrax.AbstractSolver):
    r"""An explicit splitting method for a separable system, given by its coefficients.

    The state is `y = [x, z]` with `dx/dt` depending on `z` only and `dz/dt` on `x` only:
    positions and velocities of a system whose acceleration depends on positions only
    ($\dot q = v$, $\dot v = a(q)$), or positions and momenta of a separable Hamiltonian
    $H = T(p) + V(q)$. One step of length $h$ alternates drifts and kicks,

    $$x \leftarrow x + a_0 h\, \dot x(z),\quad z \leftarrow z + b_0 h\, \dot z(x),\quad
    x \leftarrow x + a_1 h\, \dot x(z),\quad \dots,\quad z \leftarrow z + b_{s-1} h\, \dot
    z(x),\quad x \leftarrow x + a_s h\, \dot x(z),$$

    each the exact flow of one half of the system, so the step is symplectic whatever the
    coefficients; they set its order. A drift or kick of coefficient 0 is skipped; when the
    first and last drifts are 0 the step begins and ends with a kick at the same positions, and
    the last force is carried to the next step (one force evaluation saved per step). Both
    halves come from the vector field: a drift reads its first `n` entries, a kick its last
    `n`; kicks see the time advanced by the drifts before them.

    Subclasses give the class variables `drifts` ($a_0, \dots, a_s$), `kicks`
    ($b_0, \dots, b_{s-1}$) and `convergence_order`.

    !!! warning "Separable systems only"

        When `dx/dt` depends on `x` too, or `dz/dt` on `z` (a velocity-dependent force, a
        learned Hamiltonian or Lagrangian), a drift or kick is no longer an exact flow: the
        method loses its order and its symplecticity, and its energy drifts or blows up. Use
        [`lagrangian_zoo.GaussLegendre`][] or [`lagrangian_zoo.ImplicitMidpoint`][] there.

    Fixed step only: use it with `diffrax.ConstantStepSize` or `diffrax.StepTo`, as
    [`lagrangian_zoo.rollout`][] does for the fixed-step solver names. The carried force
    assumes the vector field does not jump in time (no `jump_ts`).
    """

    drifts: eqx.AbstractClassVar[tuple[float, ...]]
    kicks: eqx.AbstractClassVar[tuple[float, ...]]
    convergence_order: eqx.AbstractClassVar[int]

    term_structure: ClassVar = diffrax.AbstractTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.LocalLinearInterpolation]] = (
        diffrax.LocalLinearInterpolation
    )

    def __check_init__(self):
        if len(self.drifts) != len(self.kicks) + 1:
            raise ValueError(
                f"{type(self).__name__}: `drifts` must have one coefficient more than `kicks` "
                f"(a drift before each kick and one after the last), got {len(self.drifts)} "
                f"drifts and {len(self.kicks)} kicks."
            )

    def order(self, terms):
        return self.convergence_order

    def _carries_force(self) -> bool:
        return self.drifts[0] == 0 and self.drifts[-1] == 0

    def init(self, terms, t0, t1, y0, args):
        if not self._carries_force():
            return None
        n = _split(y0, type(self).__name__)
        return terms.vf(t0, y0, args)[n:]

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del made_jump
        n = _split(y0, type(self).__name__)
        h = t1 - t0
        x, z = y0[:n], y0[n:]
        elapsed = 0.0
        # A kick's force depends on the positions only: it is evaluated again after a drift,
        # and the last one, at the step's end positions, is the next step's first.
        force = solver_state if self._carries_force() else None
        for index, kick in enumerate(self.kicks):
            drift = self.drifts[index]
            if drift != 0:
                t = t0 + elapsed * h
                x = x + (drift * h) * terms.vf(t, jnp.concatenate([x, z]), args)[:n]
                elapsed += drift
                force = None
            if force is None:
                t = t0 + elapsed * h
                force = terms.vf(t, jnp.concatenate([x, z]), args)[n:]
            z = z + (kick * h) * force
        drift = self.drifts[-1]
        if drift != 0:
            x = x + (drift * h) * terms.vf(t0 + elapsed * h, jnp.concatenate([x, z]), args)[:n]
        y1 = jnp.concatenate([x, z])
        state = force if self._carries_force() else None
        dense_info = dict(y0=y0, y1=y1)
        return y1, None, dense_info, state, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


class StormerVerlet(AbstractSymplecticComposition):
    r"""Velocity Verlet for a separable system `y = [q, v]`, `dy/dt = [v, a(q)]`
    (`solver="verlet"`).

    $$v_{1/2} = v_0 + \tfrac{h}{2} a(q_0),\quad q_1 = q_0 + h\,v_{1/2},\quad
    v_1 = v_{1/2} + \tfrac{h}{2} a(q_1).$$

    Symplectic and time-reversible, second order, one force evaluation per step (the last
    acceleration is reused), when the acceleration depends on `q` only: springs, gravity,
    orbits, strings. Energy then oscillates within a bound instead of drifting over long
    rollouts. The drift takes `dq/dt` from the vector field, so canonical states `[q, p]` of a
    separable Hamiltonian work too.

    !!! warning "Separable systems only"

        Symplecticity needs a separable system, whose acceleration depends on positions only.
        For a velocity-dependent acceleration (a magnetic force, a relativistic particle, a
        learned Lagrangian with a velocity-dependent mass matrix) the method is first order
        and not symplectic; its energy drifts or blows up, and its explicit half-step velocity
        can leave the region where the Lagrangian is defined ($|\dot q| \ge c$). Use
        [`lagrangian_zoo.ImplicitMidpoint`][] (`solver="midpoint"`),
        [`lagrangian_zoo.GaussLegendre`][] (`solver="gl4"`) or an adaptive solver there.

    Fixed step only: use it with `diffrax.ConstantStepSize` or `diffrax.StepTo` (which
    [`lagrangian_zoo.rollout`][] does for `solver="verlet"`, with steps that end on the output
    times). The acceleration of each step's end is carried to the next step, so the vector
    field must not jump in time (no `jump_ts`). The composition it is an instance of is
    described in [`lagrangian_zoo.AbstractSymplecticComposition`][].

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

    drifts: ClassVar[tuple[float, ...]] = (0.0, 1.0, 0.0)
    kicks: ClassVar[tuple[float, ...]] = (0.5, 0.5)
    convergence_order: ClassVar[int] = 2


# Yoshida's triple jump: the weights of three Verlet steps that cancel the third-order error.
_CUBE_ROOT_2 = 2.0 ** (1.0 / 3.0)
_TRIPLE_JUMP = (1.0 / (2.0 - _CUBE_ROOT_2), -_CUBE_ROOT_2 / (2.0 - _CUBE_ROOT_2))
_YOSHIDA4 = _verlet_composition((_TRIPLE_JUMP[0], _TRIPLE_JUMP[1], _TRIPLE_JUMP[0]))


class Yoshida4(AbstractSymplecticComposition):
    r"""Yoshida's fourth-order method, three Störmer-Verlet steps (`solver="yoshida4"`).

    The "triple jump": velocity-Verlet steps of lengths $w_1 h$, $w_0 h$, $w_1 h$ with
    $w_1 = 1 / (2 - 2^{1/3})$ and $w_0 = 1 - 2 w_1$ (a step backwards), which cancel the
    third-order error term of the symmetric Verlet step. Three force evaluations per step;
    symplectic and time-reversible for separable systems
    (see [`lagrangian_zoo.AbstractSymplecticComposition`][] for the state it takes).

    ??? cite "Reference"

        ```bibtex
        @article{yoshida1990construction,
          title={Construction of higher order symplectic integrators},
          author={Yoshida, Haruo},
          journal={Physics Letters A},
          volume={150},
          number={5--7},
          pages={262--268},
          year={1990}
        }
        ```
    """

    drifts: ClassVar[tuple[float, ...]] = _YOSHIDA4[0]
    kicks: ClassVar[tuple[float, ...]] = _YOSHIDA4[1]
    convergence_order: ClassVar[int] = 4


# Yoshida's (1990) solution A, to the digits of Hairer, Lubich and Wanner (2006), II.4.
_YOSHIDA6_A = (
    0.78451361047755726381949763,
    0.23557321335935813368479318,
    -1.17767998417887100694641568,
    1.31518632068391121888424973,
)
_YOSHIDA6 = _verlet_composition(_YOSHIDA6_A + _YOSHIDA6_A[2::-1])


class Yoshida6(AbstractSymplecticComposition):
    r"""Yoshida's sixth-order method, seven Störmer-Verlet steps (`solver="yoshida6"`).

    Velocity-Verlet steps of lengths $w_3 h, w_2 h, w_1 h, w_0 h, w_1 h, w_2 h, w_3 h$ with
    Yoshida's "solution A",
    $w_1 = -1.17767998417887$, $w_2 = 0.235573213359357$, $w_3 = 0.784513610477560$ and
    $w_0 = 1 - 2(w_1 + w_2 + w_3)$. Seven force evaluations per step; symplectic and
    time-reversible for separable systems
    (see [`lagrangian_zoo.AbstractSymplecticComposition`][]). Its error constant is large:
    it pays over fourth-order methods only at small steps and tight accuracy.

    ??? cite "Reference"

        Yoshida (1990), *Construction of higher order symplectic integrators*: BibTeX under
        [`lagrangian_zoo.Yoshida4`][].
    """

    drifts: ClassVar[tuple[float, ...]] = _YOSHIDA6[0]
    kicks: ClassVar[tuple[float, ...]] = _YOSHIDA6[1]
    convergence_order: ClassVar[int] = 6


_THETA = _TRIPLE_JUMP[0]


class ForestRuth(AbstractSymplecticComposition):
    r"""Forest and Ruth's fourth-order method (`solver="forest_ruth"`).

    With $\theta = 1 / (2 - 2^{1/3})$, a step is the drifts and kicks

    $$x \mathrel{+}= \tfrac{\theta}{2} h \dot x,\ z \mathrel{+}= \theta h \dot z,\
    x \mathrel{+}= \tfrac{1 - \theta}{2} h \dot x,\ z \mathrel{+}= (1 - 2\theta) h \dot z,\
    x \mathrel{+}= \tfrac{1 - \theta}{2} h \dot x,\ z \mathrel{+}= \theta h \dot z,\
    x \mathrel{+}= \tfrac{\theta}{2} h \dot x:$$

    the triple jump of [`lagrangian_zoo.Yoshida4`][] built on position Verlet (drift first)
    instead of velocity Verlet, as Forest and Ruth published it. Three force evaluations and
    four drifts per step; symplectic and time-reversible for separable systems
    (see [`lagrangian_zoo.AbstractSymplecticComposition`][]).

    ??? cite "Reference"

        ```bibtex
        @article{forest1990fourth,
          title={Fourth-order symplectic integration},
          author={Forest, Etienne and Ruth, Ronald D.},
          journal={Physica D: Nonlinear Phenomena},
          volume={43},
          number={1},
          pages={105--117},
          year={1990}
        }
        ```
    """

    drifts: ClassVar[tuple[float, ...]] = (
        _THETA / 2,
        (1 - _THETA) / 2,
        (1 - _THETA) / 2,
        _THETA / 2,
    )
    kicks: ClassVar[tuple[float, ...]] = (_THETA, 1 - 2 * _THETA, _THETA)
    convergence_order: ClassVar[int] = 4


# Blanes and Moan (2002), the symmetric six-stage method for separable systems: seven
# coefficients (here on the kicks, so the step begins and ends with one) and six.
_BM_SEVEN = (0.0792036964311957, 0.353172906049774, -0.0420650803577195)
_BM_SEVEN = _BM_SEVEN + (1 - 2 * sum(_BM_SEVEN),) + _BM_SEVEN[::-1]
_BM_SIX = (0.209515106613362, -0.143851773179818)
_BM_SIX = _BM_SIX + (0.5 - sum(_BM_SIX),)
_BM_SIX = _BM_SIX + _BM_SIX[::-1]


class BlanesMoan4(AbstractSymplecticComposition):
    r"""Blanes and Moan's optimised fourth-order splitting method (`solver="blanes_moan4"`).

    Their symmetric six-stage method for separable systems, whose extra stages were chosen
    to make the leading error small: six force evaluations per step, for an error far below
    that of [`lagrangian_zoo.Yoshida4`][] at equal cost (Blanes and Moan report up to two
    orders of magnitude on their examples). The seven coefficients
    $a_1 = 0.0792036964311957$, $a_2 = 0.353172906049774$, $a_3 = -0.0420650803577195$,
    $a_4 = 1 - 2(a_1 + a_2 + a_3)$, $a_5 = a_3$, $a_6 = a_2$, $a_7 = a_1$ weight the kicks
    and the six $b_1 = 0.209515106613362$,
    $b_2 = -0.143851773179818$, $b_3 = 1/2 - b_1 - b_2$, $b_4 = b_3$, $b_5 = b_2$,
    $b_6 = b_1$ the drifts between them, so that the step begins and ends with a kick and
    the last force serves the next step. Symplectic and time-reversible for separable
    systems (see [`lagrangian_zoo.AbstractSymplecticComposition`][]).

    ??? cite "Reference"

        ```bibtex
        @article{blanes2002practical,
          title={Practical symplectic partitioned {R}unge--{K}utta and
                 {R}unge--{K}utta--{N}ystr{\"o}m methods},
          author={Blanes, Sergio and Moan, Per Christian},
          journal={Journal of Computational and Applied Mathematics},
          volume={142},
          number={2},
          pages={313--330},
          year={2002}
        }
        ```
    """

    drifts: ClassVar[tuple[float, ...]] = (0.0, *_BM_SIX, 0.0)
    kicks: ClassVar[tuple[float, ...]] = _BM_SEVEN
    convergence_order: ClassVar[int] = 4
