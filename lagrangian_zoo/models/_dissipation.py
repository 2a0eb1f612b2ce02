"""A learned Rayleigh dissipation function, for systems that lose energy."""

import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from ._mlp import MLP
from ._triangular import lower_triangular, triangular_size


class RayleighDissipation(eqx.Module):
    r"""A Rayleigh dissipation function with a learned, positive semi-definite damping matrix.

    $$D(q, \dot q) = \tfrac12 \dot q^\top C(q)\, \dot q, \qquad C(q) = B(q) B(q)^\top,$$
    with $B$ lower triangular, filled from a network of the (embedded) positions. The
    generalized force $Q = -\partial D / \partial \dot q = -C(q)\,\dot q$ enters the
    Euler-Lagrange equation on the right-hand side, and the energy then changes as
    $\dot E = \dot q \cdot Q = -\dot q^\top C \dot q \le 0$: it can only decrease.

    **Arguments:**

    - `dof`: the number of coordinates `n`.
    - `in_size`: the width of the position features the network reads.
    - `width`, `depth`: hidden width and number of hidden layers of the network.
    - `activation`: its activation (see [`lagrangian_zoo.models.MLP`][]).
    - `key`: a `jax.random` key.
    """

    network: MLP
    dof: int = eqx.field(static=True)

    def __init__(
        self,
        dof: int,
        in_size: int,
        *,
        width: int = 32,
        depth: int = 2,
        activation: str = "softplus",
        key: PRNGKeyArray,
    ):
        self.dof = dof
        self.network = MLP(
            in_size, triangular_size(dof), (width,) * depth, activation=activation, key=key
        )

    def matrix(self, positions: Float[Array, " positions"]) -> Float[Array, "n n"]:
        """The damping matrix `C(q)` from the embedded positions."""
        factor = lower_triangular(self.network(positions), self.dof)
        return factor @ factor.T

    def __call__(self, positions: Float[Array, " positions"], q_t: Float[Array, " n"]) -> Scalar:
        """The dissipation `D = q_t . C(q) q_t / 2` at the embedded positions and velocities."""
        return 0.5 * q_t @ (self.matrix(positions) @ q_t)

    def force(
        self, positions: Float[Array, " positions"], q_t: Float[Array, " n"]
    ) -> Float[Array, " n"]:
        """The generalized force `-dD/dq_t = -C(q) q_t` (C is symmetric, so no autodiff)."""
        return -(self.matrix(positions) @ q_t)
