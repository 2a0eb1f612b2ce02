"""A planar chain of pendulums: point masses joined by massless rods."""

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from .._validation import positive_int
from ._base import AbstractSystem, check_positive, parameter, sample_uniform
from ._checks import check_entries
from ._registry import register


@register
class PendulumChain(AbstractSystem):
    r"""An $n$-link pendulum: bob $k$ hangs from bob $k - 1$ on a rod of length $l_k$.

    Every angle $q_i$ is measured from the downward vertical. With $\mu_i = \sum_{k \ge i} m_k$
    the mass carried by link $i$, and the potential zero at the pivot's height,

    $$L = \tfrac12 \dot q^\top M(q) \dot q + g \sum_i \mu_i l_i \cos q_i, \qquad
    M_{ij} = \mu_{\max(i, j)}\, l_i l_j \cos(q_i - q_j).$$

    The Euler-Lagrange equations, derived by hand, are
    $$M(q)\,\ddot q = -\Big[\mu_{\max(i,j)}\, l_i l_j \sin(q_i - q_j)\Big]_{ij} \dot q^2
    - g\,\mu \odot l \odot \sin q$$
    (with $\dot q^2$ taken elementwise), solved with `jnp.linalg.solve`. Two links give exactly
    [`lagrangian_zoo.systems.DoublePendulum`][], one link the simple pendulum (with the
    potential's zero at the pivot).

    **Arguments:**

    - `masses`: the bobs' masses, top to bottom.
    - `lengths`: the rods' lengths, top to bottom.
    - `links`: the number of links $n$; the missing `masses` and `lengths` default to 1. Any
        two of `masses`, `lengths` and `links` that are given must agree on $n$. With none,
        $n = 2$.
    - `gravity`: $g > 0$.

    Initial states are those of the double pendulum's energy test, for every link: angles
    $U[0, 2\pi)$, angular velocities $U[0, 0.1)$.
    """

    name: ClassVar[str] = "pendulum_chain"
    masses: Float[Array, " links"] = parameter((1.0, 1.0))
    lengths: Float[Array, " links"] = parameter((1.0, 1.0))
    links: int = eqx.field(default=2, static=True)
    gravity: Float[Array, ""] = parameter(9.8)

    def __init__(
        self,
        masses: Sequence[float] | None = None,
        lengths: Sequence[float] | None = None,
        links: int | None = None,
        gravity: float = 9.8,
    ):
        counts = {}
        if links is not None:
            counts["links"] = positive_int("pendulum_chain: parameter", "links", links)
        for label, value in (("masses", masses), ("lengths", lengths)):
            if value is not None:
                if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                    raise ValueError(
                        f"pendulum_chain: parameter `{label}` must be a tuple with one number "
                        f"per link, got {value!r}."
                    )
                counts[label] = len(value)
        if len(set(counts.values())) > 1:
            given = ", ".join(f"{label} {count}" for label, count in counts.items())
            raise ValueError(
                f"pendulum_chain: `masses`, `lengths` and `links` disagree on the number of "
                f"links ({given}); give one number per link."
            )
        n = next(iter(counts.values()), 2)
        if n < 1:
            raise ValueError("pendulum_chain: a chain needs at least one link.")
        self.masses = (1.0,) * n if masses is None else tuple(masses)
        self.lengths = (1.0,) * n if lengths is None else tuple(lengths)
        self.links = n
        self.gravity = gravity

    def __check_init__(self):
        check_entries("pendulum_chain", self.links, masses=self.masses, lengths=self.lengths)
        check_positive("pendulum_chain", gravity=self.gravity)

    @property
    def dof(self) -> int:
        return self.links

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (True,) * self.links

    def _geometry(
        self, q: Coordinates
    ) -> tuple[Float[Array, " n"], Float[Array, " n"], Float[Array, "n n"]]:
        """Lengths, carried masses $\\mu$ and the matrix $\\mu_{\\max(i,j)} l_i l_j$."""
        masses = jnp.asarray(self.masses, dtype=q.dtype)
        lengths = jnp.asarray(self.lengths, dtype=q.dtype)
        carried = jnp.cumsum(masses[::-1])[::-1]
        index = jnp.arange(self.links)
        coupling = (
            carried[jnp.maximum(index[:, None], index[None, :])]
            * lengths[:, None]
            * lengths[None, :]
        )
        return lengths, carried, coupling

    def mass_matrix(self, q: Coordinates) -> Float[Array, "n n"]:
        r"""The mass matrix $M_{ij} = \mu_{\max(i, j)} l_i l_j \cos(q_i - q_j)$."""
        _, _, coupling = self._geometry(q)
        return coupling * jnp.cos(q[:, None] - q[None, :])

    def _potential(self, q: Coordinates) -> Scalar:
        lengths, carried, _ = self._geometry(q)
        return -self.gravity * jnp.sum(carried * lengths * jnp.cos(q))

    def _kinetic(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return 0.5 * (q_t @ (self.mass_matrix(q) @ q_t))

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q, q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q, q_t) + self._potential(q)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        lengths, carried, coupling = self._geometry(q)
        difference = q[:, None] - q[None, :]
        mass = coupling * jnp.cos(difference)
        rhs = -(coupling * jnp.sin(difference)) @ q_t**2 - (
            self.gravity * carried * lengths * jnp.sin(q)
        )
        return jnp.linalg.solve(mass, rhs)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        angle_key, velocity_key = jax.random.split(key)
        q = sample_uniform(angle_key, (self.links,), 0.0, 2 * jnp.pi)
        q_t = sample_uniform(velocity_key, (self.links,), 0.0, 0.1)
        return jnp.concatenate([q, q_t])
