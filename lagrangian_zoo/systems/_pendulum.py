"""The simple pendulum (the HNN paper's pendulum task by default)."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from ._base import AbstractSystem, check_positive, parameter
from ._registry import register


@register
class Pendulum(AbstractSystem):
    r"""A point mass on a massless rod, the angle `q` measured from the downward vertical.

    $$L = \tfrac12 m l^2 \dot q^2 - m g l (1 - \cos q), \qquad
    \ddot q = -\frac{g}{l} \sin q.$$

    The defaults ($m = 1/2$, $l = 1$, $g = 6$) give the HNN paper's Hamiltonian
    $H = 3(1 - \cos q) + p^2$. The potential is zero at the bottom, so the energy
    $E = T + m g l(1 - \cos q)$ equals $\dot q\,\partial L/\partial \dot q - L$ exactly.
    Initial states follow that paper: a point on a circle of radius $r \sim U(1.3, 2.3)$ in the
    $(q, p)$ plane.
    """

    name: ClassVar[str] = "pendulum"
    mass: Float[Array, ""] = parameter(0.5)
    length: Float[Array, ""] = parameter(1.0)
    gravity: Float[Array, ""] = parameter(6.0)
    dof: int = eqx.field(default=1, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(True,), init=False, static=True)

    def __check_init__(self):
        check_positive("pendulum", mass=self.mass, length=self.length, gravity=self.gravity)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        m, l, g = self.mass, self.length, self.gravity
        return 0.5 * m * l**2 * q_t[0] ** 2 - m * g * l * (1 - jnp.cos(q[0]))

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        m, l, g = self.mass, self.length, self.gravity
        return 0.5 * m * l**2 * q_t[0] ** 2 + m * g * l * (1 - jnp.cos(q[0]))

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        return -(self.gravity / self.length) * jnp.sin(q)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        radius_key, angle_key = jax.random.split(key)
        radius = jax.random.uniform(radius_key, minval=1.3, maxval=2.3)
        angle = jax.random.uniform(angle_key, minval=0.0, maxval=2 * jnp.pi)
        q, p = radius * jnp.cos(angle), radius * jnp.sin(angle)
        # p = m l^2 q_t
        q_t = p / (self.mass * self.length**2)
        return jnp.stack([q, q_t])
