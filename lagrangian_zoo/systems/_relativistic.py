"""A relativistic particle under a uniform force, the LNN paper's relativistic task."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from .._validation import one_of
from ._base import AbstractSystem, check_positive, parameter, sample_uniform
from ._registry import register


@register
class RelativisticParticle(AbstractSystem):
    r"""A particle of rest mass $m$ at speeds up to $c$, pushed by the uniform force $m g$.

    The force points along the last axis, towards positive values. With $v = |\dot q|$,
    $\gamma = (1 - v^2/c^2)^{-1/2}$ and $h = q_d$ the last coordinate,

    $$L = m c^2\left(1 - \sqrt{1 - v^2/c^2}\right) + m g h, \qquad
    E = m c^2 (\gamma - 1) - m g h,$$

    and the momentum $p = \gamma m \dot q$ obeys $\dot p = m g\,\hat e_d$, which gives the
    closed form
    $$\ddot q = \frac{g}{\gamma}\left(\hat e_d - \frac{\dot q_d}{c^2}\,\dot q\right),$$
    $g / \gamma^3$ in one dimension. The speed stays below $c$. Both $L$ and $E$ are written
    with $1 - \sqrt{1 - \beta^2} = \beta^2 / (1 + \sqrt{1 - \beta^2})$ so that they keep full
    relative precision at small speeds.

    The LNN paper writes this system's Lagrangian as $(\gamma - 1) + g q$ (its kinetic term is
    the relativistic kinetic energy); the Lagrangian above is the standard one, whose momentum
    is $\gamma m \dot q$. Both have a velocity-dependent mass matrix, which is what the task
    tests.

    **Arguments:**

    - `mass`: $m > 0$; default 1.
    - `speed_of_light`: $c > 0$; default 1.
    - `gravity`: the field strength $g$ (any finite value; 0 gives a free particle). The paper
        does not state its value; the default is 1.
    - `dimensions`: 1 or 3 (static: it sets `dof`).

    Initial states: every coordinate $U(-1, 1)$; the velocity along a random direction (a
    random sign in one dimension) with speed $U(0, 0.9)\,c$.

    ??? cite "Reference"

        The relativistic particle of Cranmer et al. (2020), *Lagrangian Neural Networks*:
        BibTeX under [`lagrangian_zoo.models.LNN`][].
    """

    name: ClassVar[str] = "relativistic_particle"
    mass: Float[Array, ""] = parameter(1.0)
    speed_of_light: Float[Array, ""] = parameter(1.0)
    gravity: Float[Array, ""] = parameter(1.0)
    dimensions: int = eqx.field(default=1, static=True)

    def __check_init__(self):
        check_positive("relativistic_particle", mass=self.mass, speed_of_light=self.speed_of_light)
        if not isinstance(self.gravity, jax.core.Tracer) and not bool(
            jnp.isfinite(jnp.asarray(self.gravity))
        ):
            raise ValueError(
                f"relativistic_particle: parameter `gravity` must be finite, got {self.gravity!r}."
            )
        owner = "relativistic_particle: parameter"
        one_of(owner, "dimensions", self.dimensions, (1, 3), expected="1 or 3")

    @property
    def dof(self) -> int:
        return self.dimensions

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * self.dimensions

    def _speed_terms(self, q_t: Velocities) -> tuple[Scalar, Scalar]:
        """$\\beta^2 = v^2 / c^2$ and $\\sqrt{1 - \\beta^2} = 1 / \\gamma$."""
        beta2 = (q_t @ q_t) / self.speed_of_light**2
        return beta2, jnp.sqrt(1 - beta2)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        m, c, g = self.mass, self.speed_of_light, self.gravity
        beta2, inverse_gamma = self._speed_terms(q_t)
        return m * c**2 * beta2 / (1 + inverse_gamma) + m * g * q[-1]

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        m, c, g = self.mass, self.speed_of_light, self.gravity
        beta2, inverse_gamma = self._speed_terms(q_t)
        # gamma - 1 = beta^2 / (sqrt(1 - beta^2) (1 + sqrt(1 - beta^2)))
        return m * c**2 * beta2 / (inverse_gamma * (1 + inverse_gamma)) - m * g * q[-1]

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        _, inverse_gamma = self._speed_terms(q_t)
        direction = jnp.zeros_like(q).at[-1].set(1.0)
        return self.gravity * inverse_gamma * (direction - q_t[-1] * q_t / self.speed_of_light**2)

    def exact_solution(self, q0: Coordinates, q_t0: Velocities, t: Float[ArrayLike, ""]) -> State:
        r"""The exact state at time `t` for motion along the force.

        The proper velocity $u = \gamma \dot q_d$ grows linearly, $u(t) = u_0 + g t$, so
        $\dot q_d(t) = u / \gamma(u)$ with $\gamma(u) = \sqrt{1 + u^2/c^2}$, and
        $$q_d(t) = q_d(0) + \frac{c^2}{g}\big(\gamma(u) - \gamma(u_0)\big)
        = q_d(0) + t\,\frac{u + u_0}{\gamma(u) + \gamma(u_0)},$$
        the second form exact also for $g = 0$. This covers one dimension, and three dimensions
        when the initial velocity lies along the force (the last axis); a transverse initial
        velocity raises an error.

        **Arguments:**

        - `q0`, `q_t0`: the initial position and velocity, each of shape `(dimensions,)`,
            with $|\dot q| < c$.
        - `t`: the time since the start, a scalar (vmap for many times).

        **Returns:** the state `[q(t), q_t(t)]` of shape `(2 * dimensions,)`.
        """
        q0, q_t0 = jnp.asarray(q0), jnp.asarray(q_t0)
        t = jnp.asarray(t, dtype=q0.dtype)
        c = self.speed_of_light
        w0 = q_t0[-1]
        u0 = w0 / jnp.sqrt(1 - (w0 / c) ** 2)
        u = u0 + self.gravity * t
        gamma0 = jnp.sqrt(1 + (u0 / c) ** 2)
        gamma = jnp.sqrt(1 + (u / c) ** 2)
        height = q0[-1] + t * (u + u0) / (gamma + gamma0)
        q = q0.at[-1].set(height)
        q_t = jnp.zeros_like(q_t0).at[-1].set(u / gamma)
        state = jnp.concatenate([q, q_t])
        return eqx.error_if(
            state,
            jnp.any(q_t0[:-1] != 0),
            "exact_solution covers motion along the force only: give `q_t0` with zero "
            "components off the last axis.",
        )

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        position_key, direction_key, speed_key = jax.random.split(key, 3)
        d = self.dimensions
        q = sample_uniform(position_key, (d,), -1.0, 1.0)
        direction = jax.random.normal(direction_key, (d,), dtype=q.dtype)
        direction = direction / jnp.sqrt(direction @ direction)
        speed = sample_uniform(speed_key, (), 0.0, 0.9) * self.speed_of_light
        return jnp.concatenate([q, speed * direction])
