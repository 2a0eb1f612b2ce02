"""The Kepler problem: one body about a fixed centre of attraction."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from ._base import AbstractSystem, check_positive, parameter, sample_uniform
from ._checks import check_entries
from ._registry import register


@register
class Kepler(AbstractSystem):
    r"""A body of mass $m$ attracted by a fixed centre at the origin, in the plane.

    In Cartesian coordinates $q = (x, y)$, with $r = |q|$ and $\mu = GM$,

    $$L = \tfrac12 m |\dot q|^2 + \frac{\mu m}{r}, \qquad \ddot q = -\frac{\mu}{r^3} q,
    \qquad E = \tfrac12 m |\dot q|^2 - \frac{\mu m}{r}.$$

    Besides the energy it conserves the angular momentum $\ell = m (x \dot y - y \dot x)$ and
    the Runge-Lenz vector $A = p \times \ell\,\hat z - \mu m^2 \hat q$, which points at the
    periapsis with length $\mu m^2 e$. A bound orbit ($E < 0$) has the semi-major axis
    $a = -\mu m / (2E)$ and the period $2\pi\sqrt{a^3/\mu}$.

    **Arguments:**

    - `gm`: the gravitational parameter $\mu = GM > 0$ of the centre.
    - `mass`: the body's mass $m > 0$ (it scales $L$, not the motion).
    - `eccentricity_range`: initial orbits have eccentricities $e \sim U(e_0, e_1)$,
        $0 \le e_0 \le e_1 < 1$.
    - `semi_major_axis_range`: and semi-major axes $a \sim U(a_0, a_1)$, $0 < a_0 \le a_1$.

    Initial states: a bound orbit of eccentricity and semi-major axis drawn as above, its
    periapsis at an angle $U(0, 2\pi)$, the body at a true anomaly $U(0, 2\pi)$, moving
    anticlockwise.
    """

    name: ClassVar[str] = "kepler"
    gm: Float[Array, ""] = parameter(1.0)
    mass: Float[Array, ""] = parameter(1.0)
    eccentricity_range: Float[Array, " 2"] = parameter((0.0, 0.7))
    semi_major_axis_range: Float[Array, " 2"] = parameter((0.5, 1.5))
    dof: int = eqx.field(default=2, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(False, False), init=False, static=True)

    def __check_init__(self):
        check_positive("kepler", gm=self.gm, mass=self.mass)
        check_entries("kepler", 2, semi_major_axis_range=self.semi_major_axis_range)
        if np.shape(self.eccentricity_range) != (2,):
            raise ValueError(
                "kepler: parameter `eccentricity_range` must be a tuple (low, high), got "
                f"{self.eccentricity_range!r}."
            )
        if not isinstance(self.eccentricity_range, jax.core.Tracer):
            low, high = np.asarray(self.eccentricity_range, dtype=float)
            if not 0 <= low <= high < 1:
                raise ValueError(
                    "kepler: parameter `eccentricity_range` must satisfy 0 <= low <= high < 1 "
                    f"(bound orbits), got {(float(low), float(high))!r}."
                )
        if not isinstance(self.semi_major_axis_range, jax.core.Tracer):
            low, high = np.asarray(self.semi_major_axis_range, dtype=float)
            if not low <= high:
                raise ValueError(
                    "kepler: parameter `semi_major_axis_range` must satisfy low <= high, got "
                    f"{(float(low), float(high))!r}."
                )

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        r = jnp.sqrt(q @ q)
        return 0.5 * self.mass * (q_t @ q_t) + self.gm * self.mass / r

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        r = jnp.sqrt(q @ q)
        return 0.5 * self.mass * (q_t @ q_t) - self.gm * self.mass / r

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        del q_t
        r = jnp.sqrt(q @ q)
        return -self.gm * q / r**3

    def angular_momentum(self, q: Coordinates, q_t: Velocities) -> Scalar:
        r"""The angular momentum $\ell = m (x \dot y - y \dot x)$ about the centre."""
        return self.mass * (q[0] * q_t[1] - q[1] * q_t[0])

    def runge_lenz(self, q: Coordinates, q_t: Velocities) -> Float[Array, " 2"]:
        r"""The Runge-Lenz vector $A = p \times \ell\,\hat z - \mu m^2 q / r$."""
        p = self.mass * q_t
        ell = self.angular_momentum(q, q_t)
        r = jnp.sqrt(q @ q)
        return jnp.stack([p[1] * ell, -p[0] * ell]) - self.gm * self.mass**2 * q / r

    def period(self, q: Coordinates, q_t: Velocities) -> Scalar:
        r"""The orbital period $2\pi\sqrt{a^3/\mu}$ with $a = -\mu m/(2E)$; `inf` if unbound."""
        energy = self.energy(q, q_t)
        bound = energy < 0
        a = -self.gm * self.mass / (2 * jnp.where(bound, energy, -1.0))
        return jnp.where(bound, 2 * jnp.pi * jnp.sqrt(a**3 / self.gm), jnp.inf)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        e_key, a_key, periapsis_key, anomaly_key = jax.random.split(key, 4)
        e = sample_uniform(e_key, (), *self.eccentricity_range)
        a = sample_uniform(a_key, (), *self.semi_major_axis_range)
        periapsis = sample_uniform(periapsis_key, (), 0.0, 2 * jnp.pi)
        anomaly = sample_uniform(anomaly_key, (), 0.0, 2 * jnp.pi)
        semi_latus = a * (1 - e**2)
        r = semi_latus / (1 + e * jnp.cos(anomaly))
        # Position and velocity in the orbit's own frame (periapsis on the x axis).
        position = r * jnp.stack([jnp.cos(anomaly), jnp.sin(anomaly)])
        velocity = jnp.sqrt(self.gm / semi_latus) * jnp.stack(
            [-jnp.sin(anomaly), e + jnp.cos(anomaly)]
        )
        c, s = jnp.cos(periapsis), jnp.sin(periapsis)
        rotation = jnp.stack([jnp.stack([c, -s]), jnp.stack([s, c])])
        return jnp.concatenate([rotation @ position, rotation @ velocity])
