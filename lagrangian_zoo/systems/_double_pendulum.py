"""The double pendulum, the LNN paper's main task."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from ._base import AbstractSystem, check_positive, parameter, sample_uniform
from ._checks import check_entries
from ._registry import register


@register
class DoublePendulum(AbstractSystem):
    r"""Two point masses on massless rods, both angles measured from the downward vertical.

    With $\delta = q_1 - q_2$ and the potential zero at the pivot's height,

    $$L = \tfrac12 (m_1 + m_2) l_1^2 \dot q_1^2 + \tfrac12 m_2 l_2^2 \dot q_2^2
    + m_2 l_1 l_2 \dot q_1 \dot q_2 \cos\delta
    + (m_1 + m_2) g l_1 \cos q_1 + m_2 g l_2 \cos q_2 .$$

    The Euler-Lagrange equations are the linear system
    $$\begin{pmatrix} (m_1 + m_2) l_1 & m_2 l_2 \cos\delta \\ l_1 \cos\delta & l_2
    \end{pmatrix} \begin{pmatrix}\ddot q_1 \\ \ddot q_2\end{pmatrix} =
    \begin{pmatrix} -m_2 l_2 \dot q_2^2 \sin\delta - (m_1 + m_2) g \sin q_1 \\
    l_1 \dot q_1^2 \sin\delta - g \sin q_2 \end{pmatrix},$$
    solved by Cramer's rule (its determinant is $l_1 l_2 (m_1 + m_2 \sin^2\delta) > 0$).

    The defaults are the LNN paper's: unit masses and lengths, $g = 9.8$. `sample_initial_state`
    draws from the paper's energy test, `sample_training_state` from its training
    distribution, and `max_potential_energy` is the paper's energy normaliser.

    **Arguments:**

    - `masses`: $(m_1, m_2)$, both positive.
    - `lengths`: $(l_1, l_2)$, both positive.
    - `gravity`: $g > 0$.

    ??? cite "Reference"

        The double pendulum of Cranmer et al. (2020), *Lagrangian Neural Networks*: BibTeX under
        [`lagrangian_zoo.models.LNN`][].
    """

    name: ClassVar[str] = "double_pendulum"
    masses: Float[Array, " links"] = parameter((1.0, 1.0))
    lengths: Float[Array, " links"] = parameter((1.0, 1.0))
    gravity: Float[Array, ""] = parameter(9.8)
    dof: int = eqx.field(default=2, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(True, True), init=False, static=True)

    def __check_init__(self):
        check_entries("double_pendulum", 2, masses=self.masses, lengths=self.lengths)
        check_positive("double_pendulum", gravity=self.gravity)

    @property
    def max_potential_energy(self) -> Scalar:
        r"""The LNN paper's energy normaliser $(m_1 + m_2) g l_1 + m_2 g l_2$.

        It is the largest potential energy with the zero at the pivot's height (both rods
        upright), $3 m g l = 29.4$ for the defaults.
        """
        (m1, m2), (l1, l2), g = self.masses, self.lengths, self.gravity
        return jnp.asarray((m1 + m2) * g * l1 + m2 * g * l2)

    def _potential(self, q: Coordinates) -> Scalar:
        (m1, m2), (l1, l2), g = self.masses, self.lengths, self.gravity
        return -(m1 + m2) * g * l1 * jnp.cos(q[0]) - m2 * g * l2 * jnp.cos(q[1])

    def _kinetic(self, q: Coordinates, q_t: Velocities) -> Scalar:
        (m1, m2), (l1, l2) = self.masses, self.lengths
        w1, w2 = q_t[0], q_t[1]
        return (
            0.5 * (m1 + m2) * l1**2 * w1**2
            + 0.5 * m2 * l2**2 * w2**2
            + m2 * l1 * l2 * w1 * w2 * jnp.cos(q[0] - q[1])
        )

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q, q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q, q_t) + self._potential(q)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        (m1, m2), (l1, l2), g = self.masses, self.lengths, self.gravity
        w1, w2 = q_t[0], q_t[1]
        delta = q[0] - q[1]
        cos_d, sin_d = jnp.cos(delta), jnp.sin(delta)
        b1 = -m2 * l2 * w2**2 * sin_d - (m1 + m2) * g * jnp.sin(q[0])
        b2 = l1 * w1**2 * sin_d - g * jnp.sin(q[1])
        det = l1 * l2 * (m1 + m2 * sin_d**2)
        a1 = (l2 * b1 - m2 * l2 * cos_d * b2) / det
        a2 = ((m1 + m2) * l1 * b2 - l1 * cos_d * b1) / det
        return jnp.stack([a1, a2])

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        """The LNN paper's energy-test states, nearly at rest.

        Angles $U[0, 2\\pi)$, angular velocities $U[0, 0.1)$.
        """
        angle_key, velocity_key = jax.random.split(key)
        q = sample_uniform(angle_key, (2,), 0.0, 2 * jnp.pi)
        q_t = sample_uniform(velocity_key, (2,), 0.0, 0.1)
        return jnp.concatenate([q, q_t])

    def sample_training_state(self, key: PRNGKeyArray) -> State:
        """The LNN paper's training states.

        Angles $U[0, 2\\pi)$, angular velocities $U[-10, 10)$.
        """
        angle_key, velocity_key = jax.random.split(key)
        q = sample_uniform(angle_key, (2,), 0.0, 2 * jnp.pi)
        q_t = sample_uniform(velocity_key, (2,), -10.0, 10.0)
        return jnp.concatenate([q, q_t])
