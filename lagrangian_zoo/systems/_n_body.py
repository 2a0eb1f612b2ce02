"""Planar gravitating bodies: the HNN paper's two- and three-body tasks, and any number."""

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from .._validation import positive_int
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
        masses = jnp.asarray(self.masses, dtype=q.dtype)
        # Each pair once, by static index arrays: one traced term whatever the number of bodies.
        first, second = np.triu_indices(len(self.masses), k=1)
        separation = positions[first] - positions[second]
        r = jnp.sqrt(jnp.sum(separation**2, axis=1))
        return -self.gravitational_constant * jnp.sum(masses[first] * masses[second] / r)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) + self._potential(q)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        del q_t
        positions = q.reshape(-1, 2)
        masses = jnp.asarray(self.masses, dtype=q.dtype)
        separation = positions[None, :, :] - positions[:, None, :]  # [i, j] = q_j - q_i
        squared = jnp.sum(separation**2, axis=-1)
        self_pair = jnp.eye(len(self.masses), dtype=bool)
        # A body does not pull on itself. Its zero distance is replaced by 1 before the power,
        # not after, so that derivatives through the discarded branch stay finite.
        safe = jnp.where(self_pair, 1.0, squared)
        inverse_cube = jnp.where(self_pair, 0.0, safe**-1.5)
        pull = self.gravitational_constant * masses[None, :] * inverse_cube
        return jnp.sum(pull[:, :, None] * separation, axis=1).reshape(-1)

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
        return self._rotation_about_centre_of_mass(positions, omega)

    def _rotation_about_centre_of_mass(
        self, positions: Float[Array, "bodies 2"], omega: Float[Array, ""]
    ) -> Float[Array, "bodies 2"]:
        """Velocities of a rigid anticlockwise rotation at `omega` about the centre of mass."""
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


@register
class NBody(AbstractNBody):
    r"""Any number of bodies in the plane under gravity, started on a rotating ring.

    See [`lagrangian_zoo.systems.AbstractNBody`][] for the equations;
    $q = (x_1, y_1, \dots, x_N, y_N)$. With three bodies and the defaults its initial states
    are exactly those of [`lagrangian_zoo.systems.ThreeBody`][] (the same draws in the same
    order), so a model trained on three bodies can be rolled out on other numbers of bodies
    from the same kind of states.

    **Arguments:**

    - `bodies`: the number of bodies $N \ge 2$. Any two of `bodies` and `masses` that are
        given must agree on $N$; with neither, $N = 3$.
    - `masses`: $(m_1, \dots, m_N)$, all positive; default unit masses.
    - `gravitational_constant`: $G > 0$; default 1.
    - `radius_range`: the ring's radius is drawn from $U(r_0, r_1)$, $0 < r_0 \le r_1$;
        default $(0.9, 1.2)$.
    - `perturbation`: each velocity component is scaled by its own factor $1 + U(-p, p)$,
        $0 \le p < 1$; default $0.2$.

    Initial states generalise the HNN repository's three-body ones: the first body at radius
    $R \sim U(r_0, r_1)$ from the origin, in the direction of a point drawn uniformly from the
    square $[-1, 1]^2$, the others at $+2\pi k / N$ on the same circle. The velocities are
    those of the rigid anticlockwise rotation about the centre of mass at the angular velocity
    `ring_angular_velocity(R)` (the ring's relative equilibrium, below), each component then
    scaled by its own factor $1 + U(-p, p)$.

    With equal masses the unperturbed ring is a relative equilibrium: it turns rigidly. From
    three bodies on it is an unstable one (as Lagrange's equal-mass triangle is): a small
    error grows by orders of magnitude each turn, so over a few turns even an unperturbed
    ring breaks up. With unequal masses the angular velocity
    is that of equal bodies of the mean mass $\bar m$: for two and three bodies this is still
    an exact circular solution (the one [`lagrangian_zoo.systems.TwoBody`][] and `ThreeBody`
    use), for four or more only a starting state that turns roughly rigidly at first. Without
    the perturbation the total momentum is zero; the perturbation, as in the HNN repository,
    leaves a small net momentum.
    """

    name: ClassVar[str] = "n_body"
    bodies: int = eqx.field(default=3, static=True)
    masses: Float[Array, " bodies"] = parameter((1.0, 1.0, 1.0))
    gravitational_constant: Float[Array, ""] = parameter(1.0)
    radius_range: Float[Array, " 2"] = parameter((0.9, 1.2))
    perturbation: Float[Array, ""] = parameter(0.2)

    def __init__(
        self,
        bodies: int | None = None,
        masses: Sequence[float] | None = None,
        gravitational_constant: float = 1.0,
        radius_range: tuple[float, float] = (0.9, 1.2),
        perturbation: float = 0.2,
    ):
        if bodies is not None:
            positive_int(
                "n_body: parameter", "bodies", bodies, minimum=2, expected="an int of at least 2"
            )
        if masses is not None:
            if isinstance(masses, (str, bytes)) or not hasattr(masses, "__len__"):
                raise ValueError(
                    "n_body: parameter `masses` must be a tuple with one number per body, got "
                    f"{masses!r}."
                )
            if bodies is not None and len(masses) != bodies:
                raise ValueError(
                    f"n_body: parameter `masses` must be a tuple of {int(bodies)} numbers, one "
                    f"per body (`bodies` is {int(bodies)}), got {len(masses)}: {masses!r}."
                )
            if bodies is None and len(masses) < 2:
                raise ValueError(
                    "n_body: parameter `masses` must hold one number per body, at least 2, "
                    f"got {masses!r}."
                )
        n = int(bodies) if bodies is not None else (3 if masses is None else len(masses))
        self.bodies = n
        self.masses = (1.0,) * n if masses is None else tuple(masses)
        self.gravitational_constant = gravitational_constant
        self.radius_range = radius_range
        self.perturbation = perturbation

    def __check_init__(self):
        check_entries("n_body", 2, radius_range=self.radius_range)
        if not isinstance(self.radius_range, jax.core.Tracer):
            low, high = np.asarray(self.radius_range, dtype=float)
            if not low <= high:
                raise ValueError(
                    "n_body: parameter `radius_range` must satisfy 0 < low <= high, got "
                    f"{(float(low), float(high))!r}."
                )
        if isinstance(self.perturbation, jax.core.Tracer):
            return
        message = (
            "n_body: parameter `perturbation` must be a number p with 0 <= p < 1, got "
            f"{self.perturbation!r}."
        )
        if np.shape(self.perturbation) != () or isinstance(self.perturbation, (bool, str)):
            raise ValueError(message)
        try:
            value = float(self.perturbation)
        except (TypeError, ValueError):
            raise ValueError(message) from None
        if not 0 <= value < 1:
            raise ValueError(message)

    @property
    def dof(self) -> int:
        return 2 * self.bodies

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * (2 * self.bodies)

    def ring_angular_velocity(self, radius: Float[ArrayLike, ""]) -> Float[Array, ""]:
        r"""The angular velocity of the rigidly turning ring of radius `radius`.

        On a regular $N$-gon of radius $R$, bodies $k$ steps apart are $2R \sin(\pi k / N)$
        apart, and the pulls of the others on one body add up to a centripetal acceleration
        along the radius:

        $$\omega^2 R = \sum_{k=1}^{N-1} \frac{G \bar m}{4 R^2 \sin(\pi k / N)},$$

        with $\bar m$ the mean mass (the exact relative equilibrium for equal masses). For two
        bodies it gives $\omega^2 = G M / (2R)^3$, for three $G M / (\sqrt3 R)^3$, $M$ the
        total mass.

        **Arguments:**

        - `radius`: the ring's radius $R > 0$.

        **Returns:** $\omega$, a scalar.
        """
        k = np.arange(1, self.bodies)
        # A sum over the static number of bodies: a constant of the compiled program.
        pulls = float(np.sum(1 / np.sin(np.pi * k / self.bodies)))
        mean_mass = jnp.mean(jnp.asarray(self.masses))
        return jnp.sqrt(self.gravitational_constant * mean_mass * pulls / (4 * radius**3))

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        # ThreeBody's draws, in its order, so that three bodies give its states.
        direction_key, radius_key, noise_key = jax.random.split(key, 3)
        point = sample_uniform(direction_key, (2,), -1.0, 1.0)
        radius = sample_uniform(radius_key, (), *self.radius_range)
        first = radius * point / jnp.sqrt(point @ point)
        turns = 2 * jnp.pi * jnp.arange(self.bodies, dtype=first.dtype) / self.bodies
        cos, sin = jnp.cos(turns)[:, None], jnp.sin(turns)[:, None]
        positions = jnp.concatenate(
            [cos * first[0] - sin * first[1], sin * first[0] + cos * first[1]], axis=1
        )
        omega = self.ring_angular_velocity(radius)
        scale = 1 + sample_uniform(
            noise_key, (self.bodies, 2), -self.perturbation, self.perturbation
        )
        velocities = scale * self._rotation_about_centre_of_mass(positions, omega)
        return jnp.concatenate([positions.reshape(-1), velocities.reshape(-1)])
