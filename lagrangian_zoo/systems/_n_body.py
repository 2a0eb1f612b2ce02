"""Planar gravitating bodies: the HNN paper's two-body and three-body tasks."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from ._base import AbstractSystem, check_positive, parameter, sample_uniform
from ._checks import check_entries
from ._registry import register


class AbstractNBody(AbstractSystem):
    r"""Point masses in the plane under Newtonian gravity.

    The coordinates are Cartesian, body after body: $q = (x_1, y_1, x_2, y_2, \dots)$, and the
    state is $[q, \dot q]$. With $r_{ij} = |q_i - q_j|$,

    $$L = \sum_i \tfrac12 m_i |\dot q_i|^2 + \sum_{i < j} \frac{G m_i m_j}{r_{ij}}, \qquad
    \ddot q_i = \sum_{j \ne i} \frac{G m_j (q_j - q_i)}{r_{ij}^3},$$

    and $E = \sum_i \tfrac12 m_i |\dot q_i|^2 - \sum_{i<j} G m_i m_j / r_{ij}$.
    """

    masses: eqx.AbstractVar[Float[Array, " bodies"]]
    gravitational_constant: eqx.AbstractVar[Float[Array, ""]]

    def __check_init__(self):
        check_entries(self.name, self.dof // 2, masses=self.masses)
        check_positive(self.name, gravitational_constant=self.gravitational_constant)

    def _kinetic(self, q_t: Velocities) -> Scalar:
        masses = jnp.asarray(self.masses, dtype=q_t.dtype)
        velocities = q_t.reshape(-1, 2)
        return 0.5 * jnp.sum(masses * jnp.sum(velocities**2, axis=1))

    def _potential(self, q: Coordinates) -> Scalar:
        positions = q.reshape(-1, 2)
        total = jnp.zeros((), q.dtype)
        for i in range(len(self.masses)):
            for j in range(i + 1, len(self.masses)):
                separation = positions[i] - positions[j]
                r = jnp.sqrt(separation @ separation)
                total = total - self.gravitational_constant * self.masses[i] * self.masses[j] / r
        return total

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) + self._potential(q)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        del q_t
        positions = q.reshape(-1, 2)
        bodies = len(self.masses)
        accelerations = []
        for i in range(bodies):
            total = jnp.zeros((2,), q.dtype)
            for j in range(bodies):
                if j != i:
                    separation = positions[j] - positions[i]
                    r = jnp.sqrt(separation @ separation)
                    total = total + (
                        self.gravitational_constant * self.masses[j] * separation / r**3
                    )
            accelerations.append(total)
        return jnp.concatenate(accelerations)

    def centre_of_mass(self, q: Coordinates) -> Float[Array, " 2"]:
        """The centre of mass of the bodies at positions `q`."""
        masses = jnp.asarray(self.masses, dtype=q.dtype)
        return masses @ q.reshape(-1, 2) / jnp.sum(masses)

    def _rigid_rotation(
        self, positions: Float[Array, "bodies 2"], separation: Float[ArrayLike, ""]
    ) -> Float[Array, "bodies 2"]:
        r"""Velocities of a rigid anticlockwise rotation about the centre of mass.

        For two bodies at distance $d$, or three at the corners of an equilateral triangle of
        side $d$, the angular velocity $\omega = \sqrt{G M / d^3}$ keeps the shape: circular
        orbits (the Lagrange solution for three bodies).
        """
        total_mass = sum(self.masses)
        omega = jnp.sqrt(self.gravitational_constant * total_mass / separation**3)
        relative = positions - self.centre_of_mass(positions.reshape(-1))[None, :]
        return omega * jnp.stack([-relative[:, 1], relative[:, 0]], axis=1)


@register
class TwoBody(AbstractNBody):
    r"""Two bodies in the plane under gravity (the HNN paper's two-body task by default).

    See [`lagrangian_zoo.systems.AbstractNBody`][] for the equations; $q = (x_1, y_1, x_2, y_2)$.

    **Arguments:**

    - `masses`: $(m_1, m_2)$, both positive; default unit masses.
    - `gravitational_constant`: $G > 0$; default 1.

    Initial states follow the HNN paper and its repository (`experiment-2body/data.py`, the
    `random_config` of its two-body data): the first body's $x$ and $y$ each $U(0.5, 1.5)$, the
    second body at the mirror point $-q_1$; velocities perpendicular to the radius with the
    circular-orbit speed, scaled by one common factor $1 + 0.05\,\mathcal N(0, 1)$. For unit
    masses and $G = 1$ that speed is $1 / (2\sqrt{r})$ with $r = |q_1|$, and the second
    body's velocity is the first's negated. For other masses the velocities are those of the
    circular orbit about the centre of mass, so the total momentum is still zero.

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

    name: ClassVar[str] = "two_body"
    masses: Float[Array, " bodies"] = parameter((1.0, 1.0))
    gravitational_constant: Float[Array, ""] = parameter(1.0)
    dof: int = eqx.field(default=4, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(False,) * 4, init=False, static=True)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        position_key, noise_key = jax.random.split(key)
        first = sample_uniform(position_key, (2,), 0.5, 1.5)
        positions = jnp.stack([first, -first])
        separation = 2 * jnp.sqrt(first @ first)
        scale = 1 + 0.05 * jax.random.normal(noise_key, (), dtype=first.dtype)
        velocities = scale * self._rigid_rotation(positions, separation)
        return jnp.concatenate([positions.reshape(-1), velocities.reshape(-1)])


@register
class ThreeBody(AbstractNBody):
    r"""Three bodies in the plane under gravity (the HNN paper's three-body task by default).

    See [`lagrangian_zoo.systems.AbstractNBody`][] for the equations;
    $q = (x_1, y_1, x_2, y_2, x_3, y_3)$. The motion is chaotic.

    **Arguments:**

    - `masses`: $(m_1, m_2, m_3)$, all positive; default unit masses.
    - `gravitational_constant`: $G > 0$; default 1.

    Initial states are those of the HNN repository's three-body task
    (`experiment-3body/data.py`): the first body at radius $r \sim U(0.9, 1.2)$ from the origin,
    in the direction of a point drawn uniformly from the square $[-1, 1]^2$ (the repository's
    draw, so directions near the diagonals are more likely than near the axes), the other two
    at $+120°$ and $+240°$ on the same circle. Each body's velocity is first the circular-orbit
    one, the radius vector turned by $90°$ with speed $\sqrt{G m / (\sqrt3\, r)}$ for equal
    masses (the repository's $r^{-1/2} \sqrt{\sin(\pi/3) / (2 \cos^2(\pi/6))}$ for unit
    masses and $G = 1$: Lagrange's rigidly rotating triangle), then each of its two components
    is scaled by its own factor $1 + U(-0.2, 0.2)$, which makes the orbits near-circular and,
    over time, chaotic. For other masses the unperturbed velocities are those of the rigid
    rotation about the centre of mass, still a circular solution.

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

    name: ClassVar[str] = "three_body"
    masses: Float[Array, " bodies"] = parameter((1.0, 1.0, 1.0))
    gravitational_constant: Float[Array, ""] = parameter(1.0)
    dof: int = eqx.field(default=6, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(False,) * 6, init=False, static=True)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        direction_key, radius_key, noise_key = jax.random.split(key, 3)
        # The repository normalises a point of the square, not an angle: its law of directions
        # is kept (a zero-length point has probability zero).
        point = sample_uniform(direction_key, (2,), -1.0, 1.0)
        radius = sample_uniform(radius_key, (), 0.9, 1.2)
        first = radius * point / jnp.sqrt(point @ point)
        turns = jnp.asarray([0.0, 2 * jnp.pi / 3, 4 * jnp.pi / 3], dtype=first.dtype)
        cos, sin = jnp.cos(turns)[:, None], jnp.sin(turns)[:, None]
        positions = jnp.concatenate(
            [cos * first[0] - sin * first[1], sin * first[0] + cos * first[1]], axis=1
        )
        side = 3**0.5 * radius
        # One factor per velocity component, as the repository perturbs them.
        scale = 1 + sample_uniform(noise_key, (3, 2), -0.2, 0.2)
        velocities = scale * self._rigid_rotation(positions, side)
        return jnp.concatenate([positions.reshape(-1), velocities.reshape(-1)])
