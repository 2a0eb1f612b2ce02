"""A heavy top on a fixed pivot: a rigid body as four points held by distance constraints."""

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._constraints import constrained_acceleration, DistanceConstraints
from .._custom_types import Accelerations, Coordinates, State, Velocities
from ._base import AbstractSystem, check_positive, parameter
from ._checks import check_entries
from ._registry import register


def _rotation(angles: Float[Array, " 3"]) -> Float[Array, "3 3"]:
    """The rotation `Rz(phi) Rx(theta) Rz(psi)` of the ZXZ Euler angles `(phi, theta, psi)`."""
    phi, theta, psi = angles[0], angles[1], angles[2]
    zero, one = jnp.zeros_like(phi), jnp.ones_like(phi)

    def about_z(a):
        c, s = jnp.cos(a), jnp.sin(a)
        return jnp.stack(
            [jnp.stack([c, -s, zero]), jnp.stack([s, c, zero]), jnp.stack([zero, zero, one])]
        )

    c, s = jnp.cos(theta), jnp.sin(theta)
    about_x = jnp.stack(
        [jnp.stack([one, zero, zero]), jnp.stack([zero, c, -s]), jnp.stack([zero, s, c])]
    )
    return about_z(phi) @ about_x @ about_z(psi)


@register
class Gyroscope(AbstractSystem):
    r"""A heavy top: a rigid body turning about a fixed pivot under gravity, as constrained
    points in three dimensions.

    The body is four points: its centre of mass $x_0$ and the tips of its three principal
    axes, $x_k = x_0 + e_k$ (unit vectors), as in Finzi, Wang and Wilson (2020). Rods of
    fixed length between the points ($|x_k - x_0| = 1$, $|x_j - x_k| = \sqrt 2$) keep the
    frame rigid, and rods from the pivot at the origin to $x_0$, $x_1$ and $x_2$ fix the point
    of the body at $c = (0, 0, -\ell)$ (a distance $\ell$ below the centre of mass along
    $e_3$) at the origin: nine [`lagrangian_zoo.DistanceConstraints`][] on twelve coordinates
    leave the three of a rotation about the pivot. With principal moments of inertia
    $I_1, I_2, I_3$ about the centre of mass and $J_k = \tfrac12 (I_1 + I_2 + I_3) - I_k$,
    $$L = \tfrac12 m |\dot x_0|^2 + \tfrac12 \sum_k J_k |\dot x_k - \dot x_0|^2 - m g z_0,$$
    which is $\tfrac12 m |\dot x_0|^2 + \tfrac12 \omega^\top I \omega - m g z_0$ for the
    rigid motion: a constant body mass matrix, full rather than diagonal, and a linear
    potential. The accelerations solve [`lagrangian_zoo.constrained_acceleration`][] with
    that mass matrix (`system.mass_matrix()`).

    The state holds the four points' positions `(x0, y0, z0, x1, ...)`, then their
    velocities; `from_euler` places the body from ZXZ Euler angles and their rates.
    Initial states are the repository's distribution in those angles: angles and the rates
    of precession and nutation from $U(-1.5, 1.5)$ (the precession rate times 3, the
    nutation rate times 0.2), and a spin of $\pm 1.5 (7 + \xi)$, $\xi \sim N(0, 1)$.

    **Arguments:**

    - `mass`: the mass $m$.
    - `moments`: the principal moments $(I_1, I_2, I_3)$ about the centre of mass; each must
        be less than the sum of the other two (so that every $J_k > 0$).
    - `pivot_distance`: the distance $\ell$ from the pivot to the centre of mass.
    - `gravity`: $g > 0$.

    ??? cite "Reference"

        Finzi, Wang and Wilson (2020), *Simplifying Hamiltonian and Lagrangian Neural
        Networks via Explicit Constraints*: BibTeX under
        [`lagrangian_zoo.constrained_acceleration`][].
    """

    name: ClassVar[str] = "gyroscope"
    mass: Float[Array, ""] = parameter(1.0)
    moments: Float[Array, " 3"] = parameter((0.3, 0.3, 0.5))
    pivot_distance: Float[Array, ""] = parameter(1.0)
    gravity: Float[Array, ""] = parameter(9.81)

    def __init__(
        self,
        mass: float = 1.0,
        moments: Sequence[float] = (0.3, 0.3, 0.5),
        pivot_distance: float = 1.0,
        gravity: float = 9.81,
    ):
        self.mass = mass
        self.moments = tuple(moments) if isinstance(moments, (list, tuple)) else moments
        self.pivot_distance = pivot_distance
        self.gravity = gravity

    def __check_init__(self):
        check_entries("gyroscope", 3, moments=self.moments)
        check_positive(
            "gyroscope", mass=self.mass, pivot_distance=self.pivot_distance, gravity=self.gravity
        )
        if not isinstance(self.moments, jax.core.Tracer):
            moments = np.asarray(self.moments, dtype=float)
            if not np.all(2 * moments < np.sum(moments)):
                raise ValueError(
                    "gyroscope: parameter `moments` must satisfy the triangle inequality of a "
                    f"rigid body, each below the sum of the other two; got {moments.tolist()}."
                )

    @property
    def dof(self) -> int:
        return 12

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * 12

    def _second_moments(self, dtype) -> Float[Array, " 3"]:
        moments = jnp.asarray(self.moments, dtype=dtype)
        return 0.5 * jnp.sum(moments) - moments

    def mass_matrix(self, dtype=None) -> Float[Array, "4 4"]:
        r"""The body mass matrix of the four points: $m + \sum_k J_k$ for the centre of mass,
        $J_k$ for axis tip $k$, and $-J_k$ between them."""
        dtype = float if dtype is None else dtype
        j = self._second_moments(dtype)
        mass = jnp.asarray(self.mass, dtype=dtype)
        corner = jnp.reshape(mass + jnp.sum(j), (1, 1))
        return jnp.block([[corner, -j[None, :]], [-j[:, None], jnp.diag(j)]])

    @property
    def constraints(self) -> DistanceConstraints:
        """The rigid frame's six rods and the three rods from the pivot to `x0`, `x1`, `x2`."""
        ell = jnp.asarray(self.pivot_distance, dtype=float)
        # The pivot sits at -ell e3 from the centre of mass, so at sqrt(1 + ell^2) from x1, x2.
        to_tips = jnp.sqrt(1 + ell**2)
        return DistanceConstraints(
            4,
            dimension=3,
            edges=[(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)],
            lengths=[1.0, 1.0, 1.0, np.sqrt(2), np.sqrt(2), np.sqrt(2)],
            anchors=[0, 1, 2],
            anchor_lengths=jnp.stack([ell, to_tips, to_tips]),
        )

    def _kinetic(self, q_t: Velocities) -> Scalar:
        v = q_t.reshape(4, 3)
        return 0.5 * jnp.sum(v * (self.mass_matrix(q_t.dtype) @ v))

    def _potential(self, q: Coordinates) -> Scalar:
        return self.mass * self.gravity * q[2]

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) + self._potential(q)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        weight = jnp.zeros((4, 3), q.dtype).at[0, 2].set(-self.mass * self.gravity)
        a = constrained_acceleration(
            self.constraints,
            q.reshape(4, 3),
            q_t.reshape(4, 3),
            self.mass_matrix(q.dtype),
            force=weight,
        )
        return a.reshape(12)

    # One compiled program for an eager call (a notebook, a plot), inlined under `jit`.
    @eqx.filter_jit
    def from_euler(
        self, angles: Float[Array, " 3"], rates: Float[Array, " 3"]
    ) -> Float[Array, " 24"]:
        r"""The state of the body at ZXZ Euler angles $(\phi, \theta, \psi)$ (rotation
        $R_z(\phi) R_x(\theta) R_z(\psi)$ from the body's axes, $e_3$ vertical at
        $\theta = 0$) and their rates.

        The angular velocity is $\omega = \dot\phi\, \hat z + \dot\theta\, R_z(\phi) \hat x +
        \dot\psi\, e_3$, and every point moves with $\dot x = \omega \times x$ about the pivot
        at the origin.

        **Arguments:**

        - `angles`, `rates`: shape `(3,)` each.

        **Returns:** the state of shape `(24,)`.
        """
        angles, rates = jnp.asarray(angles), jnp.asarray(rates)
        if angles.shape != (3,) or rates.shape != (3,):
            raise ValueError(
                "gyroscope.from_euler: `angles` and `rates` must have shape (3,) (phi, theta, "
                f"psi), got {angles.shape} and {rates.shape}."
            )
        rotation = _rotation(angles)
        ell = jnp.asarray(self.pivot_distance, dtype=angles.dtype)
        centre = ell * rotation[:, 2]
        points = jnp.concatenate([centre[None], centre[None] + rotation.T])
        line_of_nodes = jnp.stack([jnp.cos(angles[0]), jnp.sin(angles[0]), jnp.zeros_like(ell)])
        vertical = jnp.stack([jnp.zeros_like(ell), jnp.zeros_like(ell), jnp.ones_like(ell)])
        omega = rates[0] * vertical + rates[1] * line_of_nodes + rates[2] * rotation[:, 2]
        velocities = jnp.cross(jnp.broadcast_to(omega, points.shape), points)
        return jnp.concatenate([points.reshape(12), velocities.reshape(12)])

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        angle_key, rate_key, sign_key, spin_key = jax.random.split(key, 4)
        angles = 3 * (jax.random.uniform(angle_key, (3,)) - 0.5)
        rates = 3 * (jax.random.uniform(rate_key, (3,)) - 0.5)
        sign = 2 * jax.random.bernoulli(sign_key).astype(rates.dtype) - 1
        spin = sign * 1.5 * (jax.random.normal(spin_key, dtype=rates.dtype) + 7)
        rates = rates * jnp.asarray(np.array([3.0, 0.2, 0.0]), dtype=rates.dtype)
        return self.from_euler(angles, rates.at[2].set(spin))
