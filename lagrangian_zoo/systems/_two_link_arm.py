"""The planar two-link arm of robotics, driven by a torque at each joint."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Coordinates, State, Velocities
from ._actuated import AbstractActuatedSystem
from ._base import check_positive, parameter, sample_uniform
from ._checks import check_entries
from ._registry import register


@register
class TwoLinkArm(AbstractActuatedSystem):
    r"""A planar arm of two rigid links in a vertical plane, a motor torque at each joint.

    $q_1$ is the angle of the first link from the horizontal, $q_2$ that of the second link
    relative to the first; gravity points down. Link $i$ has mass $m_i$, length $l_i$, its
    centre of mass at $r_i$ from its joint and the moment of inertia $I_i$ about that centre.
    With $a = m_1 r_1^2 + I_1 + m_2 (l_1^2 + r_2^2) + I_2$, $b = m_2 l_1 r_2$ and
    $d = m_2 r_2^2 + I_2$,
    $$M(q) = \begin{pmatrix} a + 2 b \cos q_2 & d + b \cos q_2 \\ d + b \cos q_2 & d
    \end{pmatrix}, \qquad
    c(q, \dot q) = b \sin q_2 \begin{pmatrix} -2 \dot q_1 \dot q_2 - \dot q_2^2 \\
    \dot q_1^2 \end{pmatrix},$$
    $$V(q) = (m_1 r_1 + m_2 l_1)\, \mathrm g \sin q_1 + m_2 r_2\, \mathrm g \sin(q_1 + q_2),
    \qquad g(q) = \partial V / \partial q,$$
    and the torques $\tau = M \ddot q + c + g$ (the input matrix is the identity).

    The defaults are a textbook arm of two uniform rods: unit masses and lengths, centres of
    mass at mid-length, $I_i = m_i l_i^2 / 12$, $\mathrm g = 9.81$. The two-link arm of Deep
    Lagrangian Networks' character dataset has this form, with $a = 1.3727291\overline{6}$,
    $b = 0.5$, $d = 0.51761458\overline{3}$ and gravity terms $2.625 \cos q_1$ and
    $1.5 \cos(q_1 + q_2)$ (for example masses $(0.75, 0.5)$, lengths $(1, 1)$, centres
    $(0.5, 1)$, inertias $(0.16761458\overline{3}, 0.01761458\overline{3})$ and gravity 3).

    **Arguments:**

    - `masses`: $(m_1, m_2)$, positive.
    - `lengths`: $(l_1, l_2)$, positive ($l_2$ only places the hand).
    - `centres`: $(r_1, r_2)$, the distances of the centres of mass from the joints, positive.
    - `inertias`: $(I_1, I_2)$, the moments of inertia about the centres of mass, positive.
    - `gravity`: $\mathrm g > 0$.

    ??? cite "Reference"

        The arm of Lutter, Ritter and Peters (2019), *Deep Lagrangian Networks*: BibTeX under
        [`lagrangian_zoo.models.DeLaN`][].
    """

    name: ClassVar[str] = "two_link_arm"
    masses: Float[Array, " links"] = parameter((1.0, 1.0))
    lengths: Float[Array, " links"] = parameter((1.0, 1.0))
    centres: Float[Array, " links"] = parameter((0.5, 0.5))
    inertias: Float[Array, " links"] = parameter((1.0 / 12.0, 1.0 / 12.0))
    gravity: Float[Array, ""] = parameter(9.81)
    dof: int = eqx.field(default=2, init=False, static=True)
    inputs: int = eqx.field(default=2, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(True, True), init=False, static=True)

    def __check_init__(self):
        check_entries(
            "two_link_arm",
            2,
            masses=self.masses,
            lengths=self.lengths,
            centres=self.centres,
            inertias=self.inertias,
        )
        check_positive("two_link_arm", gravity=self.gravity)

    def _constants(self) -> tuple[Array, Array, Array]:
        (m1, m2), (l1, _), (r1, r2), (i1, i2) = (
            self.masses,
            self.lengths,
            self.centres,
            self.inertias,
        )
        a = m1 * r1**2 + i1 + m2 * (l1**2 + r2**2) + i2
        b = m2 * l1 * r2
        d = m2 * r2**2 + i2
        return a, b, d

    def mass_matrix(self, q: Coordinates) -> Float[Array, "n n"]:
        a, b, d = self._constants()
        cos2 = jnp.cos(q[1])
        off = d + b * cos2
        return jnp.stack(
            [jnp.stack([a + 2 * b * cos2, off]), jnp.stack([off, d * jnp.ones_like(cos2)])]
        )

    def coriolis_force(self, q: Coordinates, q_t: Velocities) -> Float[Array, " n"]:
        _, b, _ = self._constants()
        h = b * jnp.sin(q[1])
        w1, w2 = q_t[0], q_t[1]
        return jnp.stack([-h * (2 * w1 * w2 + w2**2), h * w1**2])

    def _gravity_terms(self) -> tuple[Array, Array]:
        (m1, m2), (l1, _), (r1, r2), g = self.masses, self.lengths, self.centres, self.gravity
        return (m1 * r1 + m2 * l1) * g, m2 * r2 * g

    def potential_energy(self, q: Coordinates) -> Scalar:
        first, second = self._gravity_terms()
        return first * jnp.sin(q[0]) + second * jnp.sin(q[0] + q[1])

    def gravity_force(self, q: Coordinates) -> Float[Array, " n"]:
        first, second = self._gravity_terms()
        outer = second * jnp.cos(q[0] + q[1])
        return jnp.stack([first * jnp.cos(q[0]) + outer, outer])

    def input_matrix(self, q: Coordinates) -> Float[Array, "n inputs"]:
        return jnp.eye(2, dtype=q.dtype)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        """Joint angles $U[-\\pi, \\pi)$, joint velocities $U[-1, 1)$."""
        angle_key, velocity_key = jax.random.split(key)
        q = sample_uniform(angle_key, (2,), -jnp.pi, jnp.pi)
        q_t = sample_uniform(velocity_key, (2,), -1.0, 1.0)
        return jnp.concatenate([q, q_t])
