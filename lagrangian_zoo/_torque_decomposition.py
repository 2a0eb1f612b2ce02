"""The generalised forces of a motion split by origin, and the split for a mass matrix and a
potential (Deep Lagrangian Networks' structure): used by the models and by inverse dynamics."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Scalar


class TorqueDecomposition(NamedTuple):
    r"""The generalised forces of a motion, by origin: $\tau = H\ddot q + c + g + d$.

    Each field has the shape of the accelerations, `(n,)` or `(*batch, n)`:

    - `inertial`: $H(q, \dot q)\,\ddot q$, the mass matrix times the accelerations;
    - `coriolis`: the Coriolis and centrifugal forces
        $c = \dot H \dot q - \tfrac12 \partial_q(\dot q^\top H \dot q)$ (in general, the
        velocity-dependent rest of the Euler-Lagrange expression);
    - `gravity`: the forces at rest, $g = \partial V / \partial q$;
    - `dissipation`: the force that overcomes the learned damping, $C(q)\dot q$ (zero
        without dissipation).

    `torque` is their sum, the input that produces the motion.
    """

    inertial: Float[Array, "*batch n"]
    coriolis: Float[Array, "*batch n"]
    gravity: Float[Array, "*batch n"]
    dissipation: Float[Array, "*batch n"]

    @property
    def torque(self) -> Float[Array, "*batch n"]:
        """The total generalised force `inertial + coriolis + gravity + dissipation`."""
        return self.inertial + self.coriolis + self.gravity + self.dissipation


def quadratic_decomposition(
    mass_matrix: Callable[[Array], Array],
    potential_energy: Callable[[Array], Scalar],
    damping_force: Array,
    q: Float[Array, " n"],
    q_t: Float[Array, " n"],
    q_tt: Float[Array, " n"],
) -> TorqueDecomposition:
    r"""The decomposition for $L = \tfrac12 \dot q^\top H(q) \dot q - V(q)$ from its parts.

    One linearisation of $H$ gives $\dot H = \partial_q H\,[\dot q]$ and, by its transpose,
    $\tfrac12 \partial_q(\dot q^\top H \dot q)$; no Hessian of a network is needed (the
    method of Deep Lagrangian Networks). `damping_force` is the dissipative generalised force
    $Q$ at the state; the motors supply $-Q$.
    """
    mass, mass_derivative = jax.linearize(mass_matrix, q)
    (kinetic_gradient,) = jax.linear_transpose(mass_derivative, q)(0.5 * jnp.outer(q_t, q_t))
    return TorqueDecomposition(
        inertial=mass @ q_tt,
        coriolis=mass_derivative(q_t) @ q_t - kinetic_gradient,
        gravity=jax.grad(potential_energy)(q),
        dissipation=-damping_force,
    )
