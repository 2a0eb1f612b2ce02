"""The ideal spring (harmonic oscillator), the HNN paper's spring task by default."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from ._base import AbstractSystem, check_positive, parameter
from ._registry import register


@register
class Spring(AbstractSystem):
    r"""A mass on an ideal spring.

    $$L = \tfrac12 m \dot q^2 - \tfrac12 k q^2, \qquad \ddot q = -\frac{k}{m} q,$$

    solved by $q(t) = q_0 \cos \omega t + (\dot q_0 / \omega) \sin \omega t$ with
    $\omega = \sqrt{k/m}$. The energy $E = \tfrac12 m \dot q^2 + \tfrac12 k q^2$ equals
    $\dot q\,\partial L/\partial \dot q - L$ exactly.

    The defaults ($m = 1/2$, $k = 2$) give the HNN paper's Hamiltonian $H = q^2 + p^2$
    (with $p = m \dot q$). Initial states follow that paper: a point on a circle of radius
    $r \sim U(0.1, 1.0)$ in the $(q, p)$ plane, at an angle $U(0, 2\pi)$, converted to
    $\dot q = p / m$.

    **Arguments:**

    - `mass`: $m > 0$.
    - `stiffness`: $k > 0$.

    ??? cite "Reference"

        ```bibtex
        @inproceedings{greydanus2019hamiltonian,
          title={Hamiltonian Neural Networks},
          author={Greydanus, Samuel and Dzamba, Misko and Yosinski, Jason},
          booktitle={Advances in Neural Information Processing Systems},
          year={2019}
        }
        ```
    """

    name: ClassVar[str] = "spring"
    mass: Float[Array, ""] = parameter(0.5)
    stiffness: Float[Array, ""] = parameter(2.0)
    dof: int = eqx.field(default=1, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(False,), init=False, static=True)

    def __check_init__(self):
        check_positive("spring", mass=self.mass, stiffness=self.stiffness)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return 0.5 * self.mass * q_t[0] ** 2 - 0.5 * self.stiffness * q[0] ** 2

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return 0.5 * self.mass * q_t[0] ** 2 + 0.5 * self.stiffness * q[0] ** 2

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        del q_t
        return -(self.stiffness / self.mass) * q

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        radius_key, angle_key = jax.random.split(key)
        radius = jax.random.uniform(radius_key, minval=0.1, maxval=1.0)
        angle = jax.random.uniform(angle_key, minval=0.0, maxval=2 * jnp.pi)
        q, p = radius * jnp.cos(angle), radius * jnp.sin(angle)
        return jnp.stack([q, p / self.mass])
