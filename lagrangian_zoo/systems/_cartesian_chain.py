"""A planar chain of pendulums in Cartesian coordinates, held by distance constraints."""

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._constraints import constrained_acceleration, DistanceConstraints, project_onto_constraints
from .._custom_types import Accelerations, Coordinates, State, Velocities
from .._validation import positive_int
from ._base import AbstractSystem, check_positive, parameter
from ._chain import PendulumChain
from ._checks import check_entries
from ._registry import register


@register
class CartesianChain(AbstractSystem):
    r"""An $n$-link planar pendulum in the Cartesian coordinates of its bobs.

    The state holds the positions of the bobs, body after body, $q = (x_1, y_1, x_2, y_2,
    \dots)$, then their velocities; $y$ points up and the pivot is at the origin. Bob $k$ is
    held at $l_k$ from bob $k - 1$ (bob 1 from the pivot) by a
    [`lagrangian_zoo.DistanceConstraints.chain`][], so the mass matrix is the constant
    diagonal of the masses and gravity is a linear potential,
    $$L = \sum_i \tfrac12 m_i |\dot x_i|^2 - g \sum_i m_i y_i, \qquad \Phi(x) = 0.$$
    The accelerations solve the constrained equations of
    [`lagrangian_zoo.constrained_acceleration`][] with the closed-form force
    $-g\, m_i \hat e_y$ and Jacobian, the multipliers from a tridiagonal system.
    `lagrangian` and `energy` are those of the free bobs (the constraints do no work): the
    Legendre map $p = m \dot x$ that they give is the constrained system's too.

    The same chain in angles is [`lagrangian_zoo.systems.PendulumChain`][]
    (`angle_system()`); `from_angles` and `to_angles` map states between the two. This is the
    chain pendulum of Finzi, Wang and Wilson (2020), whose potential is
    $\sum_i m_i y_i$ (unit gravity, the default here); their repository draws each mass and
    length from $U(0.6, 1.4)$ when none is given, which `masses` and `lengths` reproduce.

    **Arguments:**

    - `masses`: the bobs' masses, top to bottom.
    - `lengths`: the rods' lengths, top to bottom.
    - `links`: the number of links $n$; the missing `masses` and `lengths` default to 1. Any
        two of `masses`, `lengths` and `links` that are given must agree on $n$. With none,
        $n = 2$.
    - `gravity`: $g > 0$ (1, the repository's).

    Initial states are the repository's: angles and angular velocities from $N(0, 1)$ mapped
    to the plane, then positions moved by $N(0, 0.2^2)$ noise and velocities replaced by
    half of theirs plus $N(0, 0.4^2)$ noise, and the result projected back onto the
    constraints ([`lagrangian_zoo.project_onto_constraints`][]).

    ??? cite "Reference"

        Finzi, Wang and Wilson (2020), *Simplifying Hamiltonian and Lagrangian Neural
        Networks via Explicit Constraints*: BibTeX under
        [`lagrangian_zoo.constrained_acceleration`][].
    """

    name: ClassVar[str] = "cartesian_chain"
    masses: Float[Array, " links"] = parameter((1.0, 1.0))
    lengths: Float[Array, " links"] = parameter((1.0, 1.0))
    links: int = eqx.field(default=2, static=True)
    gravity: Float[Array, ""] = parameter(1.0)

    def __init__(
        self,
        masses: Sequence[float] | None = None,
        lengths: Sequence[float] | None = None,
        links: int | None = None,
        gravity: float = 1.0,
    ):
        counts = {}
        if links is not None:
            counts["links"] = positive_int("cartesian_chain: parameter", "links", links)
        for label, value in (("masses", masses), ("lengths", lengths)):
            if value is not None:
                if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                    raise ValueError(
                        f"cartesian_chain: parameter `{label}` must be a tuple with one number "
                        f"per link, got {value!r}."
                    )
                counts[label] = len(value)
        if len(set(counts.values())) > 1:
            given = ", ".join(f"{label} {count}" for label, count in counts.items())
            raise ValueError(
                f"cartesian_chain: `masses`, `lengths` and `links` disagree on the number of "
                f"links ({given}); give one number per link."
            )
        n = next(iter(counts.values()), 2)
        if n < 1:
            raise ValueError("cartesian_chain: a chain needs at least one link.")
        self.masses = (1.0,) * n if masses is None else tuple(masses)
        self.lengths = (1.0,) * n if lengths is None else tuple(lengths)
        self.links = n
        self.gravity = gravity

    def __check_init__(self):
        check_entries("cartesian_chain", self.links, masses=self.masses, lengths=self.lengths)
        check_positive("cartesian_chain", gravity=self.gravity)

    @property
    def dof(self) -> int:
        return 2 * self.links

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * self.dof

    @property
    def constraints(self) -> DistanceConstraints:
        """The rods: bob 0 to the pivot at the origin, bob `k` to bob `k - 1`."""
        return DistanceConstraints.chain(self.lengths)

    def angle_system(self) -> PendulumChain:
        """The same chain in angles, a [`lagrangian_zoo.systems.PendulumChain`][] with these
        masses, lengths and gravity (of a concrete system, outside `jit`)."""
        return PendulumChain(
            masses=np.asarray(self.masses).tolist(),
            lengths=np.asarray(self.lengths).tolist(),
            gravity=float(self.gravity),
        )

    def _masses(self, dtype) -> Float[Array, " links"]:
        return jnp.asarray(self.masses, dtype=dtype)

    def _potential(self, q: Coordinates) -> Scalar:
        heights = q.reshape(self.links, 2)[:, 1]
        return self.gravity * jnp.sum(self._masses(q.dtype) * heights)

    def _kinetic(self, q_t: Velocities) -> Scalar:
        v = q_t.reshape(self.links, 2)
        return 0.5 * jnp.sum(self._masses(q_t.dtype)[:, None] * v * v)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) + self._potential(q)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        n = self.links
        masses = self._masses(q.dtype)
        weight = jnp.stack([jnp.zeros_like(masses), -self.gravity * masses], axis=1)
        a = constrained_acceleration(
            self.constraints, q.reshape(n, 2), q_t.reshape(n, 2), masses, force=weight
        )
        return a.reshape(2 * n)

    # One compiled program for an eager call (a notebook, a plot), inlined under `jit`.
    @eqx.filter_jit
    def from_angles(self, y: Float[Array, "*batch angle_state"]) -> Float[Array, "*batch state"]:
        r"""Cartesian states `[x, x_t]` of angle states `[q, q_t]` of `angle_system()`.

        Bob $k$ sits at $\sum_{j \le k} l_j (\sin q_j, -\cos q_j)$.

        **Arguments:**

        - `y`: angle states of shape `(..., 2 * links)`.

        **Returns:** Cartesian states of shape `(..., 4 * links)`.
        """
        y = jnp.asarray(y)
        n = self.links
        if y.shape[-1:] != (2 * n,):
            raise ValueError(
                f"cartesian_chain.from_angles: `y` must have shape (..., 2 * links) = (..., "
                f"{2 * n}) (angles, then angular velocities), got shape {y.shape}."
            )
        q, q_t = y[..., :n], y[..., n:]
        # Shaped for the batch axes: rank promotion may be set to raise.
        lengths = jnp.asarray(self.lengths, dtype=y.dtype).reshape((1,) * (y.ndim - 1) + (n,))
        sin, cos = jnp.sin(q), jnp.cos(q)
        x = jnp.cumsum(lengths * sin, axis=-1)
        height = jnp.cumsum(-lengths * cos, axis=-1)
        x_t = jnp.cumsum(lengths * cos * q_t, axis=-1)
        height_t = jnp.cumsum(lengths * sin * q_t, axis=-1)
        positions = jnp.stack([x, height], axis=-1).reshape(*y.shape[:-1], 2 * n)
        velocities = jnp.stack([x_t, height_t], axis=-1).reshape(*y.shape[:-1], 2 * n)
        return jnp.concatenate([positions, velocities], axis=-1)

    @eqx.filter_jit
    def to_angles(self, y: Float[Array, "*batch state"]) -> Float[Array, "*batch angle_state"]:
        r"""Angle states `[q, q_t]` of Cartesian states `[x, x_t]` on the constraints.

        The angle of link $k$ is that of $r = x_k - x_{k-1}$ from the downward vertical,
        $q_k = \operatorname{atan2}(r_x, -r_y) \in (-\pi, \pi]$, and
        $\dot q_k = (r \times \dot r) / |r|^2$.

        **Arguments:**

        - `y`: Cartesian states of shape `(..., 4 * links)`.

        **Returns:** angle states of shape `(..., 2 * links)`.
        """
        y = jnp.asarray(y)
        n = self.links
        if y.shape[-1:] != (4 * n,):
            raise ValueError(
                f"cartesian_chain.to_angles: `y` must have shape (..., 4 * links) = (..., "
                f"{4 * n}) (positions, then velocities, body after body), got shape {y.shape}."
            )
        batch = y.shape[:-1]
        positions = y[..., : 2 * n].reshape(*batch, n, 2)
        velocities = y[..., 2 * n :].reshape(*batch, n, 2)
        pivot = jnp.zeros((*batch, 1, 2), y.dtype)
        r = positions - jnp.concatenate([pivot, positions[..., :-1, :]], axis=-2)
        r_t = velocities - jnp.concatenate([pivot, velocities[..., :-1, :]], axis=-2)
        q = jnp.arctan2(r[..., 0], -r[..., 1])
        q_t = (r[..., 0] * r_t[..., 1] - r[..., 1] * r_t[..., 0]) / jnp.sum(r * r, axis=-1)
        return jnp.concatenate([q, q_t], axis=-1)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        angle_key, position_key, velocity_key = jax.random.split(key, 3)
        n = self.links
        angles = jax.random.normal(angle_key, (2 * n,))
        y = self.from_angles(angles)
        x = y[: 2 * n].reshape(n, 2) + 0.2 * jax.random.normal(position_key, (n, 2))
        v = 0.5 * y[2 * n :].reshape(n, 2) + 0.4 * jax.random.normal(velocity_key, (n, 2))
        x, v = project_onto_constraints(self.constraints, x, v)
        return jnp.concatenate([x.reshape(2 * n), v.reshape(2 * n)])
