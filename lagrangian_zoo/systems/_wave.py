"""A vibrating string: the wave equation discretised on a 1D grid, with a nonlinear option."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Accelerations, Coordinates, State, Velocities
from .._validation import one_of, positive_int
from ._base import AbstractSystem, check_positive, parameter
from ._registry import register


BOUNDARIES = ("fixed", "free", "periodic")


def _check_non_negative(**values) -> None:
    for name, value in values.items():
        if isinstance(value, jax.core.Tracer):
            continue
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            array = None
        if isinstance(value, (bool, str)) or array is None or array.ndim != 0:
            raise ValueError(f"wave: parameter `{name}` must be a number >= 0, got {value!r}.")
        if not (np.isfinite(array) and array >= 0):
            raise ValueError(f"wave: parameter `{name}` must be finite and >= 0, got {value!r}.")


@register
class Wave(AbstractSystem):
    r"""A string of `points` masses: the wave equation $u_{tt} = c^2 u_{xx}$ on a grid.

    Point $i$ sits at $x_i = i\,\Delta x$ and moves transversally by $q_i$; it carries the mass
    $\rho\,\Delta x$ of its cell, and neighbours are joined by springs of stiffness
    $\rho c^2 / \Delta x$ (the string's tension over the spacing). With the stretch
    $\delta_e = q_j - q_i$ of each edge $e = (i, j)$,
    $$L = \sum_i \tfrac12 \rho\,\Delta x\,\dot q_i^2
    - \sum_e \frac{\rho c^2}{2\Delta x}\Big(\delta_e^2
    + \frac{\beta}{2}\frac{\delta_e^4}{\Delta x^2}\Big)
    - \sum_i \rho\,\Delta x\,m^2 (1 - \cos q_i),$$
    the discretisation of $\int \tfrac12\rho u_t^2 - \tfrac12 \rho c^2 (u_x^2
    + \tfrac{\beta}{2} u_x^4) - \rho m^2 (1 - \cos u)\,dx$. The accelerations, derived by hand,
    are
    $$\ddot q_i = \frac{c^2}{\Delta x^2}\big[g(\delta_{i,i+1}) - g(\delta_{i-1,i})\big]
    - m^2 \sin q_i, \qquad g(\delta) = \delta + \beta\,\delta^3 / \Delta x^2,$$
    with the edges that the boundary gives: `"fixed"` ends are ghost points held at
    $q_0 = q_{n+1} = 0$ (Dirichlet; $n + 1$ edges), `"free"` ends have no spring beyond the
    last points (Neumann; $n - 1$ edges), `"periodic"` joins the last point to the first (a
    ring; $n$ edges). $\beta = m = 0$ is the linear string, whose exact discrete solutions
    are standing waves $q_i = A \sin(k\pi i / (n+1)) \cos(\omega_k t)$ with
    $\omega_k = (2c/\Delta x) \sin(k\pi / (2(n+1)))$ (fixed ends, $i = 1..n$) and travelling
    waves $q_i = A\cos(\kappa i - \omega t)$, $\kappa = 2\pi m'/n$,
    $\omega = (2c/\Delta x)\sin(\kappa/2)$ (periodic). $m > 0$ alone gives the discrete
    sine-Gordon equation $u_{tt} = c^2 u_{xx} - m^2 \sin u$.

    The mass matrix is diagonal, the forces couple neighbours only: the accelerations cost
    $O(n)$, and so do [`lagrangian_zoo.euler_lagrange`][]'s with `mass_bandwidth=0` (a learned
    density over edges, [`lagrangian_zoo.models.LGN`][], needs `mass_bandwidth=1`).

    **Arguments:**

    - `points`: the number of moving points $n$ (`>= 1`; `>= 3` for `"periodic"`).
    - `wave_speed`: $c > 0$.
    - `spacing`: the grid spacing $\Delta x > 0$.
    - `density`: the linear mass density $\rho > 0$.
    - `boundary`: `"fixed"`, `"free"` or `"periodic"`.
    - `quartic`: $\beta \ge 0$, the strength of the quartic stretching energy (dimensionless).
    - `sine_gordon`: $m^2 \ge 0$, the squared frequency of the on-site pendulum potential.

    Initial states: the first four standing modes of the boundary, with amplitudes
    $\mathcal N(0, 0.1^2)$ for the positions and $\mathcal N(0, (0.1\,\omega)^2)$ for the
    velocities.
    """

    name: ClassVar[str] = "wave"
    points: int = eqx.field(default=32, static=True)
    wave_speed: Float[Array, ""] = parameter(1.0)
    spacing: Float[Array, ""] = parameter(0.1)
    density: Float[Array, ""] = parameter(1.0)
    boundary: str = eqx.field(default="fixed", static=True)
    quartic: Float[Array, ""] = parameter(0.0)
    sine_gordon: Float[Array, ""] = parameter(0.0)

    def __check_init__(self):
        points = self.points
        positive_int("wave: parameter", "points", points)
        one_of("wave: parameter", "boundary", self.boundary, BOUNDARIES)
        if self.boundary == "periodic" and points < 3:
            raise ValueError(
                f"wave: a periodic string needs `points` >= 3 (a ring), got {points}."
            )
        check_positive(
            "wave", wave_speed=self.wave_speed, spacing=self.spacing, density=self.density
        )
        _check_non_negative(quartic=self.quartic, sine_gordon=self.sine_gordon)

    @property
    def dof(self) -> int:
        return self.points

    @property
    def periodic(self) -> tuple[bool, ...]:
        return (False,) * self.points

    def stretches(self, q: Coordinates) -> Float[Array, " edges"]:
        """The stretch $q_j - q_i$ of every edge, in order along the string."""
        if self.boundary == "fixed":
            return jnp.diff(jnp.pad(q, 1))
        if self.boundary == "free":
            return jnp.diff(q)
        return jnp.roll(q, -1) - q

    def _potential(self, q: Coordinates) -> Scalar:
        stretch = self.stretches(q)
        dx = self.spacing
        springs = (
            self.density
            * self.wave_speed**2
            / (2 * dx)
            * jnp.sum(stretch**2 + 0.5 * self.quartic * stretch**4 / dx**2)
        )
        onsite = self.density * dx * self.sine_gordon * jnp.sum(1 - jnp.cos(q))
        return springs + onsite

    def _kinetic(self, q_t: Velocities) -> Scalar:
        return 0.5 * self.density * self.spacing * jnp.sum(q_t**2)

    def lagrangian(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) - self._potential(q)

    def energy(self, q: Coordinates, q_t: Velocities) -> Scalar:
        return self._kinetic(q_t) + self._potential(q)

    def acceleration(self, q: Coordinates, q_t: Velocities) -> Accelerations:
        del q_t
        dx = self.spacing
        stretch = self.stretches(q)
        tension = stretch + self.quartic * stretch**3 / dx**2
        if self.boundary == "fixed":  # edge i joins points i - 1 and i (ghosts at both ends)
            net = tension[1:] - tension[:-1]
        elif self.boundary == "free":
            net = jnp.pad(tension, (0, 1)) - jnp.pad(tension, (1, 0))
        else:  # edge i joins points i and i + 1 (mod n)
            net = tension - jnp.roll(tension, 1)
        return self.wave_speed**2 / dx**2 * net - self.sine_gordon * jnp.sin(q)

    def modes(self, count: int) -> tuple[Float[Array, "count n"], Float[Array, " count"]]:
        r"""The first `count` normal modes of the linear string and their frequencies.

        Fixed ends: $\sin(k\pi i/(n+1))$, $i = 1..n$, $k = 1..$`count`; free ends:
        $\cos(k\pi(i - \tfrac12)/n)$, $k = 0..$; periodic: $\cos(2\pi k i/n)$ and
        $\sin(2\pi k i/n)$ in turn. Frequencies $\omega = (2c/\Delta x)\sin(\theta/2)$ with
        $\theta$ the phase step of the mode (without the sine-Gordon term).

        **Returns:** `(shapes, omegas)`, shapes of shape `(count, n)`.
        """
        n = self.points
        i = np.arange(1, n + 1)
        if self.boundary == "fixed":
            ks = np.arange(1, count + 1)
            theta = ks * np.pi / (n + 1)
            shapes = np.sin(np.outer(theta, i))
        elif self.boundary == "free":
            ks = np.arange(count)
            theta = ks * np.pi / n
            shapes = np.cos(np.outer(theta, i - 0.5))
        else:
            ks = np.arange(count) // 2 + 1
            theta = 2 * np.pi * ks / n
            phase = np.outer(theta, i)
            shapes = np.where((np.arange(count) % 2 == 0)[:, None], np.cos(phase), np.sin(phase))
        omegas = 2 * self.wave_speed / self.spacing * jnp.sin(jnp.asarray(theta) / 2)
        return jnp.asarray(shapes), omegas

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        shapes, omegas = self.modes(4)
        position_key, velocity_key = jax.random.split(key)
        amplitudes = 0.1 * jax.random.normal(position_key, (4,))
        rates = 0.1 * omegas * jax.random.normal(velocity_key, (4,))
        return jnp.concatenate([amplitudes @ shapes, rates @ shapes])
