"""A point mass in uniform gravity."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from .._validation import one_of
from ._base import AbstractSystem, check_positive, parameter, sample_uniform
from ._registry import register


@register
class FallingBall(AbstractSystem):
    r"""A point mass in uniform gravity, in 1, 2 or 3 Cartesian dimensions.

    Gravity acts along the last coordinate (the height $h = q_{d}$), towards negative values:

    $$L = \tfrac12 m |\dot q|^2 - m g h, \qquad \ddot q = (0, \dots, 0, -g).$$

    The potential is zero at $h = 0$, so $E = \tfrac12 m |\dot q|^2 + m g h$ equals
    $\dot q \cdot \partial L / \partial \dot q - L$ exactly. The solution is
    $q(t) = q_0 + \dot q_0 t + \tfrac12 (0, \dots, -g) t^2$.

    **Arguments:**

    - `mass`: $m > 0$.
    - `gravity`: $g > 0$.
    - `dimensions`: 1, 2 or 3 (static: it sets `dof`).

    Initial states: horizontal coordinates $U(-1, 1)$, height $U(0, 2)$, every velocity
    component $U(-1, 1)$.
    """

    name: ClassVar[str] = "falling_ball"
    mass: Float[Array, ""] = parameter(1.0)
    gravity: Float[Array, ""] = parameter(9.8)
    dimensions: int = eqx.field(default=1, static=True)

    def __check_init__(self):
        check_positive("falling_ball", mass=self.mass, gravity=self.gravity)
        owner = "falling_ball: parameter"
        one_of(owner, "dimensions", self.dimensions, (1, 2, 3), expected="1, 2 or 3")

    @property
    def dof(self) -> int:
        return self.dimensions

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * self.dimensions

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        m, g = self.mass, self.gravity
        return 0.5 * m * (q_t @ q_t) - m * g * q[-1]

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        m, g = self.mass, self.gravity
        return 0.5 * m * (q_t @ q_t) + m * g * q[-1]

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        del q_t
        return jnp.zeros_like(q).at[-1].set(-self.gravity)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        horizontal_key, height_key, velocity_key = jax.random.split(key, 3)
        d = self.dimensions
        horizontal = sample_uniform(horizontal_key, (d - 1,), -1.0, 1.0)
        height = sample_uniform(height_key, (1,), 0.0, 2.0)
        q_t = sample_uniform(velocity_key, (d,), -1.0, 1.0)
        return jnp.concatenate([horizontal, height, q_t])
