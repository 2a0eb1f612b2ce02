"""The cart-pole: a pole hinged on a cart that a force pushes along a rail (under-actuated)."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._custom_types import Coordinates, State, Velocities
from ._actuated import AbstractActuatedSystem
from ._base import check_positive, parameter, sample_uniform
from ._registry import register


@register
class CartPole(AbstractActuatedSystem):
    r"""A uniform pole hinged on a cart; one input, the horizontal force on the cart.

    $q = (x, \theta)$: the cart's position and the pole's angle from the upright (positive
    towards $+x$). With the cart mass $m_c$, the pole's mass $m_p$, length $\ell$, its centre
    of mass at $r = \ell/2$ and its moment of inertia about the pivot $J = m_p \ell^2 / 3$,
    $$M(q) = \begin{pmatrix} m_c + m_p & m_p r \cos\theta \\ m_p r \cos\theta & J
    \end{pmatrix}, \qquad
    c(q, \dot q) = \begin{pmatrix} -m_p r \dot\theta^2 \sin\theta \\ 0 \end{pmatrix}, \qquad
    g(q) = \begin{pmatrix} 0 \\ -m_p \mathrm g r \sin\theta \end{pmatrix},$$
    from $V = m_p \mathrm g r \cos\theta$, and the input matrix $B = (1, 0)^\top$: only the
    cart is pushed, so the system is under-actuated (one input, two coordinates). The upright
    $\theta = 0$ is an unstable equilibrium, the hanging $\theta = \pi$ a stable one.

    The defaults are those of the classic balancing task (Barto, Sutton and Anderson, 1983):
    $m_c = 1$, $m_p = 0.1$, $\ell = 1$, $\mathrm g = 9.8$; no friction.

    **Arguments:**

    - `cart_mass`: $m_c > 0$.
    - `pole_mass`: $m_p > 0$.
    - `pole_length`: $\ell > 0$.
    - `gravity`: $\mathrm g > 0$.

    ??? cite "Reference"

        ```bibtex
        @article{barto1983neuronlike,
          title={Neuronlike adaptive elements that can solve difficult learning control
                 problems},
          author={Barto, Andrew G. and Sutton, Richard S. and Anderson, Charles W.},
          journal={IEEE Transactions on Systems, Man, and Cybernetics},
          volume={SMC-13},
          number={5},
          pages={834--846},
          year={1983}
        }
        ```
    """

    name: ClassVar[str] = "cart_pole"
    cart_mass: Float[Array, ""] = parameter(1.0)
    pole_mass: Float[Array, ""] = parameter(0.1)
    pole_length: Float[Array, ""] = parameter(1.0)
    gravity: Float[Array, ""] = parameter(9.8)
    dof: int = eqx.field(default=2, init=False, static=True)
    inputs: int = eqx.field(default=1, init=False, static=True)
    periodic: tuple[bool, ...] = eqx.field(default=(False, True), init=False, static=True)

    def __check_init__(self):
        check_positive(
            "cart_pole",
            cart_mass=self.cart_mass,
            pole_mass=self.pole_mass,
            pole_length=self.pole_length,
            gravity=self.gravity,
        )

    def mass_matrix(self, q: Coordinates) -> Float[Array, "n n"]:
        mc, mp, length = self.cart_mass, self.pole_mass, self.pole_length
        cos = jnp.cos(q[1])
        off = 0.5 * mp * length * cos
        ones = jnp.ones_like(cos)
        return jnp.stack(
            [jnp.stack([(mc + mp) * ones, off]), jnp.stack([off, mp * length**2 / 3 * ones])]
        )

    def coriolis_force(self, q: Coordinates, q_t: Velocities) -> Float[Array, " n"]:
        mp, length = self.pole_mass, self.pole_length
        centrifugal = -0.5 * mp * length * q_t[1] ** 2 * jnp.sin(q[1])
        return jnp.stack([centrifugal, jnp.zeros_like(centrifugal)])

    def potential_energy(self, q: Coordinates) -> Scalar:
        return 0.5 * self.pole_mass * self.gravity * self.pole_length * jnp.cos(q[1])

    def gravity_force(self, q: Coordinates) -> Float[Array, " n"]:
        torque = -0.5 * self.pole_mass * self.gravity * self.pole_length * jnp.sin(q[1])
        return jnp.stack([jnp.zeros_like(torque), torque])

    def input_matrix(self, q: Coordinates) -> Float[Array, "n inputs"]:
        return jnp.array([[1.0], [0.0]], dtype=q.dtype)

    def sample_initial_state(self, key: PRNGKeyArray) -> State:
        """Cart position $U[-1, 1)$, pole angle $U[-\\pi, \\pi)$, velocities $U[-1, 1)$."""
        position_key, angle_key, velocity_key = jax.random.split(key, 3)
        x = sample_uniform(position_key, (1,), -1.0, 1.0)
        theta = sample_uniform(angle_key, (1,), -jnp.pi, jnp.pi)
        q_t = sample_uniform(velocity_key, (2,), -1.0, 1.0)
        return jnp.concatenate([x, theta, q_t])
