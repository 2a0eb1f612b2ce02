"""Energy-shaping swing-up of a cart-pole from a model's energies and mass matrix."""

import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Scalar

from ._custom_types import Accelerations, Coordinates, State, Velocities
from ._validation import non_negative_number, positive_number


@runtime_checkable
class EnergyModel(Protocol):
    """What the controller needs of a model: its mass matrix and potential energy.

    [`lagrangian_zoo.systems.CartPole`][] (the truth) and [`lagrangian_zoo.models.DeLaN`][]
    (a learned model) both provide them.
    """

    def mass_matrix(self, q: Coordinates) -> Float[Array, "n n"]: ...

    def potential_energy(self, q: Coordinates) -> Scalar: ...


def _model_acceleration(
    model: EnergyModel, q: Coordinates, q_t: Velocities, force: Float[Array, ""]
) -> Accelerations:
    r"""$\ddot q = M^{-1}(B F - c - g)$ of `L = q_t . M(q) q_t / 2 - V(q)`, with the force `F`
    on the first coordinate (the cart): the Coriolis forces
    $c = \dot M \dot q - \tfrac12 \partial_q(\dot q^\top M \dot q)$ and $g = \partial_q V$ come
    from the mass matrix and the potential alone, so any model of the two drives the same
    code."""
    mass, mass_rate = jax.jvp(model.mass_matrix, (q,), (q_t,))
    kinetic_gradient = jax.grad(lambda position: 0.5 * q_t @ model.mass_matrix(position) @ q_t)(q)
    gravity = jax.grad(model.potential_energy)(q)
    push = jnp.zeros_like(q).at[0].set(force)
    return _solve_2x2(mass, push - mass_rate @ q_t + kinetic_gradient - gravity)


def _solve_2x2(matrix: Float[Array, "2 2"], rhs: Float[Array, " 2"]) -> Float[Array, " 2"]:
    # Cramer's rule: a mass matrix is positive definite, so no pivoting is needed, and the
    # closed form compiles to a handful of operations inside each step of a rollout.
    (p, r), (s, t) = matrix
    return jnp.stack([t * rhs[0] - r * rhs[1], p * rhs[1] - s * rhs[0]]) / (p * t - r * s)


def upright_linearisation(
    model: EnergyModel, dtype: Any = None
) -> tuple[Float[Array, "4 4"], Float[Array, "4 1"]]:
    r"""The model's dynamics $\dot y = A y + B F$ linearised at the upright at rest,
    $y = (x, \theta, \dot x, \dot\theta) = 0$, by automatic differentiation."""
    dtype = jnp.result_type(float) if dtype is None else dtype

    def field(y, force):
        q, q_t = y[:2], y[2:]
        return jnp.concatenate([q_t, _model_acceleration(model, q, q_t, force)])

    y0 = jnp.zeros(4, dtype)
    force0 = jnp.zeros((), dtype)
    a = jax.jacfwd(field, argnums=0)(y0, force0)
    b = jax.jacfwd(field, argnums=1)(y0, force0)
    return a, b[:, None]


def _discretise(
    a: Float[Array, "4 4"], b: Float[Array, "4 1"], dt: Float[ArrayLike, ""]
) -> tuple[Float[Array, "4 4"], Float[Array, "4 1"]]:
    """Zero-order hold: the exponential of the augmented matrix [[A, B], [0, 0]] dt."""
    n, m = b.shape
    augmented = jnp.zeros((n + m, n + m), a.dtype).at[:n, :n].set(a).at[:n, n:].set(b)
    exponential = _exponential(augmented * dt)
    return exponential[:n, :n], exponential[:n, n:]


def _exponential(matrix: Float[Array, "k k"]) -> Float[Array, "k k"]:
    """The matrix exponential by a Taylor series after scaling by 2^-8, then squaring: a
    small, fixed program (`jax.scipy.linalg.expm` compiles several times longer), accurate to
    rounding for the norms of a linearised robot times a control step."""
    scaled = matrix / 2.0**_SQUARINGS
    term = total = jnp.eye(matrix.shape[0], dtype=matrix.dtype)
    for order in range(1, _TAYLOR_ORDER + 1):
        term = term @ scaled / order
        total = total + term
    for _ in range(_SQUARINGS):
        total = total @ total
    return total


_SQUARINGS, _TAYLOR_ORDER = 8, 10


def discrete_lqr_gain(
    a: Float[Array, "n n"],
    b: Float[Array, "n m"],
    state_cost: Float[Array, "n n"],
    input_cost: Float[Array, "m m"],
    iterations: int = 60,
) -> Float[Array, "m n"]:
    r"""The gain $K = (R + B^\top P B)^{-1} B^\top P A$ of the discrete LQR, with $P$ the
    stabilising solution of the discrete algebraic Riccati equation, found by the doubling
    algorithm (each iteration doubles the horizon of the Riccati recursion, so 60 iterations
    reach a horizon of $2^{60}$ steps)."""
    identity = jnp.eye(a.shape[0], dtype=a.dtype)

    def double(_, carry):
        a_k, g_k, h_k = carry
        solve = jnp.linalg.solve(identity + g_k @ h_k, jnp.concatenate([a_k, g_k], axis=1))
        a_solved, g_solved = jnp.split(solve, 2, axis=1)
        return a_k @ a_solved, g_k + a_k @ g_solved @ a_k.T, h_k + a_k.T @ h_k @ a_solved

    g0 = b @ jnp.linalg.solve(input_cost, b.T)
    _, _, riccati = jax.lax.fori_loop(0, iterations, double, (a, g0, state_cost))
    return jnp.linalg.solve(input_cost + b.T @ riccati @ b, b.T @ riccati @ a)


_linearised = eqx.filter_jit(upright_linearisation)


# Compiled once per model structure; a model's parameters are inputs of the program.
@eqx.filter_jit
def _upright_lqr(model, state_cost, input_cost, dt):
    a, b = upright_linearisation(model, state_cost.dtype)
    a_d, b_d = _discretise(a, b, dt)
    return a, b, discrete_lqr_gain(a_d, b_d, state_cost, input_cost)


class EnergyShapingSwingUp(eqx.Module):
    r"""Swing a cart-pole up and balance it, from a model's energies and mass matrix alone.

    For a cart-pole-like system: $q = (x, \theta)$, the cart's position and the pole's angle
    from the upright ($\theta = 0$ upright, as [`lagrangian_zoo.systems.CartPole`][]), one
    input, the horizontal force $F$ on the cart. Called as `u(t, y)`, it is a control law for
    [`CartPole.driven`][lagrangian_zoo.systems.AbstractActuatedSystem.driven]; its method
    `generalised_forces` is one for [`lz.driven`][lagrangian_zoo.driven].

    **Energy pumping** (Åström and Furuta, 2000), written with the model's $M(q)$ and $V(q)$:
    the pole's energy in the cart's frame and its value upright at rest are
    $$E_p = \tfrac12 M_{\theta\theta}(q)\,\dot\theta^2 + V(q), \qquad
    E^\star = V(x, 0),$$
    and, with the cart's acceleration $a$ as the input, the pole's equation of motion gives
    $\dot E_p = -M_{x\theta}(q)\,\dot\theta\, a$ (exactly, for the true cart-pole). The
    commanded acceleration
    $$a = \operatorname{sat}_{a_\max}\!\big(k_E\,(E_p - E^\star)\,M_{x\theta}\dot\theta\big)
    - k_x x - k_v \dot x$$
    makes $E_p$ rise towards $E^\star$ (the pumping term alone gives
    $\dot E_p = -k_E (E_p - E^\star)(M_{x\theta}\dot\theta)^2 \ge 0$ below the target), while
    the cart terms keep the cart near $x = 0$. The force that gives the cart this acceleration
    comes from the model's own forward dynamics, $\ddot q = M^{-1}(B F - c - g)$ with
    $B = (1, 0)^\top$ and $c$, $g$ by automatic differentiation of $M$ and $V$.

    **Balancing**: within `switch_angle` of the upright, a linear quadratic regulator
    $F = -K (x, \theta, \dot x, \dot\theta)$ ($\theta$ wrapped to $(-\pi, \pi]$) takes over. $K$
    is the discrete LQR gain (zero-order hold at `lqr_dt`) of the model's dynamics linearised
    at the upright by automatic differentiation (the method `linearisation`), with the Riccati
    equation solved in JAX by doubling. Every force is clipped to `max_force`.

    With `model` the true [`CartPole`][lagrangian_zoo.systems.CartPole] this is the classic
    controller; with a trained [`DeLaN`][lagrangian_zoo.models.DeLaN] (its `dof = 2`, `q` as
    above) it is the controller of Lutter, Listmann and Peters (2019), built from the learned
    model only.

    **Arguments:**

    - `model`: anything with `mass_matrix(q) -> (2, 2)` and `potential_energy(q) -> scalar`.
    - `energy_gain`: $k_E$ of the pumping law.
    - `max_acceleration`: $a_\max$, the saturation of the pumping term.
    - `position_gain`, `velocity_gain`: $k_x$, $k_v$, the cart's pull towards $x = 0$
        (0 turns it off, leaving pure pumping).
    - `max_force`: the largest force $|F|$ applied.
    - `switch_angle`: the LQR balances within this angle of the upright (radians).
    - `state_cost`: the diagonal of the LQR's state cost $Q$, for $(x, \theta, \dot x,
        \dot\theta)$; `input_cost`: its $R$.
    - `lqr_dt`: the step of the discretisation the LQR gain is computed for.

    !!! example

        ```python
        cart_pole = lz.systems.CartPole()
        controller = lz.EnergyShapingSwingUp(cart_pole)
        field = cart_pole.driven(controller)
        ys = lz.rollout(field, jnp.array([0.0, 3.0, 0.0, 0.0]), jnp.linspace(0.0, 10.0, 501),
                        solver="rk4", dt0=0.005)
        ```

    ??? cite "References"

        ```bibtex
        @article{astrom2000swinging,
          title={Swinging up a pendulum by energy control},
          author={{\AA}str{\"o}m, Karl Johan and Furuta, Katsuhisa},
          journal={Automatica},
          volume={36},
          number={2},
          pages={287--295},
          year={2000}
        }
        @inproceedings{lutter2019energy,
          title={Deep Lagrangian Networks for end-to-end learning of energy-based control for
                 under-actuated systems},
          author={Lutter, Michael and Listmann, Kim and Peters, Jan},
          booktitle={IEEE/RSJ International Conference on Intelligent Robots and Systems
                     (IROS)},
          year={2019}
        }
        ```
    """

    model: Any
    lqr_gain: Float[Array, "1 4"]
    # Arrays, not static fields: controllers that differ only in their gains share one
    # compiled rollout.
    energy_gain: Float[Array, ""]
    max_acceleration: Float[Array, ""]
    position_gain: Float[Array, ""]
    velocity_gain: Float[Array, ""]
    max_force: Float[Array, ""]
    switch_angle: Float[Array, ""]

    def __init__(
        self,
        model: Any,
        *,
        energy_gain: float = 50.0,
        max_acceleration: float = 8.0,
        position_gain: float = 1.0,
        velocity_gain: float = 1.5,
        max_force: float = 15.0,
        switch_angle: float = 0.4,
        state_cost: Sequence[float] = (1.0, 10.0, 1.0, 1.0),
        input_cost: float = 0.1,
        lqr_dt: float = 0.01,
    ):
        owner = "EnergyShapingSwingUp:"
        if not isinstance(model, EnergyModel):
            raise TypeError(
                f"{owner} `model` must provide mass_matrix(q) and potential_energy(q) (such as "
                f"lz.systems.CartPole or lz.models.DeLaN), got {type(model).__name__}."
            )
        dof = getattr(model, "dof", None)
        if dof != 2:
            raise ValueError(
                f"{owner} `model` must describe a cart-pole, q = (x, theta) with dof = 2; got "
                f"a model with dof = {dof}."
            )
        self.model = model
        self.energy_gain = jnp.asarray(positive_number(owner, "energy_gain", energy_gain))
        self.max_acceleration = jnp.asarray(
            positive_number(owner, "max_acceleration", max_acceleration)
        )
        self.position_gain = jnp.asarray(
            non_negative_number(owner, "position_gain", position_gain)
        )
        self.velocity_gain = jnp.asarray(
            non_negative_number(owner, "velocity_gain", velocity_gain)
        )
        self.max_force = jnp.asarray(positive_number(owner, "max_force", max_force))
        if positive_number(owner, "switch_angle", switch_angle) >= math.pi:
            raise ValueError(
                f"{owner} `switch_angle` must be below pi (the LQR balances near the "
                f"upright only), got {switch_angle!r}."
            )
        self.switch_angle = jnp.asarray(float(switch_angle))
        costs = jnp.asarray(state_cost, dtype=float)
        if costs.shape != (4,) or not bool(jnp.all((costs > 0) & jnp.isfinite(costs))):
            raise ValueError(
                f"{owner} `state_cost` must be 4 positive numbers (for x, theta, x_t, "
                f"theta_t), got {state_cost!r}."
            )
        cost = positive_number(owner, "input_cost", input_cost)
        dt = positive_number(owner, "lqr_dt", lqr_dt)
        a, b, self.lqr_gain = _upright_lqr(
            model, jnp.diag(costs), jnp.full((1, 1), cost), jnp.asarray(dt)
        )
        if not bool(jnp.all(jnp.isfinite(self.lqr_gain))) or float(b[2, 0]) == 0.0:
            raise ValueError(
                f"{owner} the model's linearisation at the upright gives no usable LQR gain "
                "(non-finite, or the force does not move the cart): is `model` a cart-pole "
                "with the cart first, and are its parameters finite?"
            )

    def linearisation(self) -> tuple[Float[Array, "4 4"], Float[Array, "4 1"]]:
        r"""$(A, B)$ of the model's dynamics $\dot y = A y + B F$ at the upright at rest,
        $y = (x, \theta, \dot x, \dot\theta) = 0$, by automatic differentiation: what the
        LQR gain is computed from."""
        return _linearised(self.model)

    def pole_energy_error(self, q: Coordinates, q_t: Velocities) -> Scalar:
        r"""$E_p - E^\star$: the pole's energy in the cart's frame above that of the upright at
        rest, from the model ($\le 0$ below the upright's energy)."""
        mass = self.model.mass_matrix(q)
        upright = jnp.stack([q[0], jnp.zeros_like(q[1])])
        return (
            0.5 * mass[1, 1] * q_t[1] ** 2
            + self.model.potential_energy(q)
            - self.model.potential_energy(upright)
        )

    def pumping_acceleration(self, q: Coordinates, q_t: Velocities) -> Scalar:
        r"""The commanded cart acceleration
        $\operatorname{sat}(k_E (E_p - E^\star) M_{x\theta}\dot\theta) - k_x x - k_v \dot x$."""
        gain, limit, k_x, k_v = (
            value.astype(q.dtype)
            for value in (
                self.energy_gain,
                self.max_acceleration,
                self.position_gain,
                self.velocity_gain,
            )
        )
        coupling = self.model.mass_matrix(q)[0, 1] * q_t[1]
        pump = jnp.clip(gain * self.pole_energy_error(q, q_t) * coupling, -limit, limit)
        return pump - k_x * q[0] - k_v * q_t[0]

    def swing_force(self, q: Coordinates, q_t: Velocities) -> Scalar:
        """The force that gives the cart the pumping acceleration, by the model's dynamics."""
        drift = _model_acceleration(self.model, q, q_t, jnp.zeros((), q.dtype))
        # The cart's acceleration per unit force, (M^-1 B)_x: the dynamics are affine in F.
        per_unit_force = _solve_2x2(self.model.mass_matrix(q), jnp.eye(2, dtype=q.dtype)[0])
        return (self.pumping_acceleration(q, q_t) - drift[0]) / per_unit_force[0]

    def balance_force(self, q: Coordinates, q_t: Velocities) -> Scalar:
        """The LQR's force on the deviation from the upright (angle wrapped)."""
        deviation = jnp.stack([q[0], _wrap(q[1]), q_t[0], q_t[1]])
        return -(self.lqr_gain.astype(q.dtype) @ deviation)[0]

    def __call__(self, t: Float[ArrayLike, ""], y: State) -> Float[Array, " 1"]:
        del t
        y = jnp.asarray(y)
        if y.shape != (4,):
            raise ValueError(
                "EnergyShapingSwingUp: the state `y` must be (x, theta, x_t, theta_t) of shape "
                f"(4,), got shape {y.shape}."
            )
        q, q_t = y[:2], y[2:]
        near_top = jnp.abs(_wrap(q[1])) < self.switch_angle.astype(q.dtype)
        force = jnp.where(near_top, self.balance_force(q, q_t), self.swing_force(q, q_t))
        limit = self.max_force.astype(q.dtype)
        return jnp.clip(force, -limit, limit)[None]

    def generalised_forces(self, t: Float[ArrayLike, ""], y: State) -> Float[Array, " 2"]:
        """The control as generalised forces $B F = (F, 0)$, shape `(2,)`: the form
        [`lagrangian_zoo.driven`][] takes, to drive a Lagrangian model (a learned DeLaN's own
        dynamics, say) rather than a system with inputs."""
        force = self(t, y)
        return jnp.concatenate([force, jnp.zeros_like(force)])


def _wrap(angle: Array) -> Array:
    return jnp.arctan2(jnp.sin(angle), jnp.cos(angle))
