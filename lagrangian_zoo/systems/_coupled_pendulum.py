"""Spherical pendulums in a row, coupled by springs, in the Cartesian coordinates of their bobs."""

from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._constraints import constrained_acceleration, DistanceConstraints
from .._custom_types import Accelerations, Coordinates, State, Velocities
from .._validation import positive_int
from ._base import AbstractSystem, check_positive, parameter
from ._checks import check_entries
from ._registry import register


@register
class CoupledPendulum(AbstractSystem):
    r"""Spherical pendulums hung in a row, neighbours joined by springs, in three dimensions.

    Bob $i$ hangs on a rod of length $l$ from the pivot $a_i = (i s, 0, 0)$, a spacing $s$
    apart along $x$, with $z$ up; a spring of stiffness $k$ and rest length $s$ joins bobs
    $i$ and $i + 1$. The state holds the bobs' positions $(x_1, y_1, z_1, x_2, \dots)$, then
    their velocities, and the rods are [`lagrangian_zoo.DistanceConstraints`][] to the pivots:
    $$L = \sum_i \tfrac12 m_i |\dot x_i|^2 - g \sum_i m_i z_i
    - \tfrac{k}{2} \sum_i \big(|x_{i+1} - x_i| - s\big)^2, \qquad |x_i - a_i| = l.$$
    The accelerations solve the constrained equations of
    [`lagrangian_zoo.constrained_acceleration`][] with the gravity and spring forces written
    out; each rod holds one bob, so the multipliers' system is diagonal.

    This is the coupled pendulum of Finzi, Wang and Wilson (2020), with their defaults
    ($m = l = s = 1$, $k = 10$, $g = 10$, three bobs in their table) and initial states:
    spherical angles $\phi_i = \pi + 0.3\,\xi$, $\theta_i = \pi/2 + 0.3\,\xi$ and rates
    $0.3\,\xi$ ($\xi \sim N(0, 1)$), placed by `from_angles`.

    **Arguments:**

    - `masses`: the bobs' masses, one per bob.
    - `bobs`: the number of bobs $n$ (3 by default); the missing `masses` default to 1.
    - `length`: the rods' length $l$.
    - `spacing`: the distance $s$ between neighbouring pivots, and the springs' rest length.
    - `stiffness`: the springs' stiffness $k$.
    - `gravity`: $g > 0$.

    ??? cite "Reference"

        Finzi, Wang and Wilson (2020), *Simplifying Hamiltonian and Lagrangian Neural
        Networks via Explicit Constraints*: BibTeX under
        [`lagrangian_zoo.constrained_acceleration`][].
    """

    name: ClassVar[str] = "coupled_pendulum"
    masses: Float[Array, " bobs"] = parameter((1.0, 1.0, 1.0))
    bobs: int = eqx.field(default=3, static=True)
    length: Float[Array, ""] = parameter(1.0)
    spacing: Float[Array, ""] = parameter(1.0)
    stiffness: Float[Array, ""] = parameter(10.0)
    gravity: Float[Array, ""] = parameter(10.0)

    def __init__(
        self,
        masses: Sequence[float] | None = None,
        bobs: int | None = None,
        length: float = 1.0,
        spacing: float = 1.0,
        stiffness: float = 10.0,
        gravity: float = 10.0,
    ):
        if bobs is not None:
            bobs = positive_int("coupled_pendulum: parameter", "bobs", bobs)
        if masses is not None:
            if isinstance(masses, (str, bytes)) or not hasattr(masses, "__len__"):
                raise ValueError(
                    "coupled_pendulum: parameter `masses` must be a tuple with one number per "
                    f"bob, got {masses!r}."
                )
            if bobs is not None and len(masses) != bobs:
                raise ValueError(
                    f"coupled_pendulum: `masses` and `bobs` disagree on the number of bobs "
                    f"(masses {len(masses)}, bobs {bobs}); give one mass per bob."
                )
        n = bobs if bobs is not None else (3 if masses is None else len(masses))
        self.masses = (1.0,) * n if masses is None else tuple(masses)
        self.bobs = n
        self.length = length
        self.spacing = spacing
        self.stiffness = stiffness
        self.gravity = gravity

    def __check_init__(self):
        check_entries("coupled_pendulum", self.bobs, masses=self.masses)
        check_positive(
            "coupled_pendulum",
            length=self.length,
            spacing=self.spacing,
            stiffness=self.stiffness,
            gravity=self.gravity,
        )

    @property
    def dof(self) -> int:
        return 3 * self.bobs

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * self.dof

    def pivots(self, dtype=None) -> Float[Array, "bobs 3"]:
        """The pivots $a_i = (i s, 0, 0)$."""
        dtype = float if dtype is None else dtype
        along = jnp.arange(self.bobs, dtype=dtype) * jnp.asarray(self.spacing, dtype=dtype)
        return jnp.stack([along, jnp.zeros_like(along), jnp.zeros_like(along)], axis=1)

    @property
    def constraints(self) -> DistanceConstraints:
        """The rods: bob `i` at `length` from its pivot."""
        n = self.bobs
        return DistanceConstraints(
            n,
            dimension=3,
            anchors=list(range(n)),
            points=self.pivots(),
            anchor_lengths=jnp.broadcast_to(jnp.asarray(self.length, dtype=float), (n,)),
        )

    def _masses(self, dtype) -> Float[Array, " bobs"]:
        return jnp.asarray(self.masses, dtype=dtype)

    def _potential(self, q: Coordinates) -> Scalar:
        x = q.reshape(self.bobs, 3)
        gravity = self.gravity * jnp.sum(self._masses(q.dtype) * x[:, 2])
        stretch = jnp.linalg.norm(x[1:] - x[:-1], axis=1) - self.spacing
        return gravity + 0.5 * self.stiffness * jnp.sum(stretch**2)

    def _kinetic(self, q_t: Velocities) -> Scalar:
        v = q_t.reshape(self.bobs, 3)
        return 0.5 * jnp.sum(self._masses(q_t.dtype)[:, None] * v * v)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) + self._potential(q)

    def force(self, q: Coordinates) -> Float[Array, "bobs 3"]:
        r"""The applied force $-\nabla V$ on each bob: its weight $-g m_i \hat e_z$ and the
        pull $\pm k (r - s)\, d / r$ of each spring, $d = x_{i+1} - x_i$, $r = |d|$."""
        x = q.reshape(self.bobs, 3)
        masses = self._masses(q.dtype)
        weight = jnp.stack(
            [jnp.zeros_like(masses), jnp.zeros_like(masses), -self.gravity * masses], 1
        )
        d = x[1:] - x[:-1]
        r = jnp.linalg.norm(d, axis=1, keepdims=True)
        pull = self.stiffness * (r - self.spacing) * d / r
        zero = jnp.zeros((1, 3), q.dtype)
        return weight + jnp.concatenate([pull, zero]) - jnp.concatenate([zero, pull])

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        n = self.bobs
        a = constrained_acceleration(
            self.constraints,
            q.reshape(n, 3),
            q_t.reshape(n, 3),
            self._masses(q.dtype),
            force=self.force(q),
        )
        return a.reshape(3 * n)

    # One compiled program for an eager call (a notebook, a plot), inlined under `jit`.
    @eqx.filter_jit
    def from_angles(self, y: Float[Array, "*batch angle_state"]) -> Float[Array, "*batch state"]:
        r"""Cartesian states of spherical angles and their rates.

        Bob $i$ sits at $a_i + l\,(-\cos\theta_i,\ \sin\theta_i \sin\phi_i,\
        \sin\theta_i \cos\phi_i)$, the paper's convention (hanging straight down at
        $\phi = \pi$, $\theta = \pi/2$).

        **Arguments:**

        - `y`: `[phi_1, theta_1, phi_2, theta_2, ..., rates in the same order]`, shape
            `(..., 4 * bobs)`.

        **Returns:** Cartesian states of shape `(..., 6 * bobs)`.
        """
        y = jnp.asarray(y)
        n = self.bobs
        if y.shape[-1:] != (4 * n,):
            raise ValueError(
                f"coupled_pendulum.from_angles: `y` must have shape (..., 4 * bobs) = (..., "
                f"{4 * n}) (phi and theta of each bob, then their rates), got shape {y.shape}."
            )
        batch = y.shape[:-1]
        angles = y[..., : 2 * n].reshape(*batch, n, 2)
        rates = y[..., 2 * n :].reshape(*batch, n, 2)
        phi, theta = angles[..., 0], angles[..., 1]
        phi_t, theta_t = rates[..., 0], rates[..., 1]
        sp, cp, st, ct = jnp.sin(phi), jnp.cos(phi), jnp.sin(theta), jnp.cos(theta)
        length = jnp.asarray(self.length, dtype=y.dtype)
        direction = jnp.stack([-ct, st * sp, st * cp], axis=-1)
        motion = jnp.stack(
            [
                st * theta_t,
                ct * sp * theta_t + st * cp * phi_t,
                ct * cp * theta_t - st * sp * phi_t,
            ],
            axis=-1,
        )
        pivots = self.pivots(y.dtype).reshape((1,) * len(batch) + (n, 3))
        x = (pivots + length * direction).reshape(*batch, 3 * n)
        v = (length * motion).reshape(*batch, 3 * n)
        return jnp.concatenate([x, v], axis=-1)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        n = self.bobs
        noise = 0.3 * jax.random.normal(key, (2, n, 2))
        offsets = jnp.asarray(np.array([[np.pi, np.pi / 2]]))
        angles = (noise[0] + offsets).reshape(2 * n)
        return self.from_angles(jnp.concatenate([angles, noise[1].reshape(2 * n)]))
