"""Deep Lagrangian networks: a learned mass matrix and potential, L = T - V."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from .._torque_decomposition import quadratic_decomposition, TorqueDecomposition
from .._validation import positive_number
from ._base import AbstractLagrangianModel
from ._construction import (
    constructor_config,
    hidden_mlp,
    init_dissipation,
    init_network_options,
)
from ._dissipation import RayleighDissipation
from ._mlp import MLP
from ._normaliser import as_periodic, Normaliser
from ._triangular import lower_triangular, triangular_size


def _check_epsilon(epsilon: float) -> None:
    positive_number("DeLaN:", "epsilon", epsilon, expected="a float")


class DeLaN(AbstractLagrangianModel):
    r"""A deep Lagrangian network: $L = \tfrac12 \dot q^\top M(q)\,\dot q - V(q)$.

    Two networks of the (embedded) positions give the potential $V(q)$ and a lower-triangular
    factor $\Lambda(q)$ with a positive diagonal (softplus), so that the mass matrix
    $$M(q) = \Lambda(q)\Lambda(q)^\top + \epsilon I$$
    is symmetric positive definite for every $q$ and the dynamics always exist. The
    accelerations come in closed form from the Euler-Lagrange equation of this $L$,
    $$M \ddot q = \frac{\partial L}{\partial q} - \dot M \dot q + Q, \qquad
    \dot M = \frac{\mathrm d}{\mathrm d t} M(q) \text{ (one Jacobian-vector product along }
    \dot q),$$
    solved by a Cholesky factorisation; no Hessian of a network is needed. The kinetic energy
    is quadratic in the raw velocities (which the networks never see), so DeLaN cannot
    represent velocity-dependent Lagrangians such as the relativistic particle's.
    Without dissipation the energy $E = T + V$ is conserved along the model's flow.

    **Arguments:**

    - `dof`: the number of degrees of freedom `n`.
    - `key`: a `jax.random` key for the initial parameters.
    - `width`: hidden units per layer of both networks (64; the papers this library reproduces
        do not fix DeLaN's size, and this is a common choice).
    - `depth`: number of hidden layers (2).
    - `activation`: `"softplus"` (smooth, so $M$ and $V$ have smooth derivatives).
    - `init`: `"default"` or `"lnn"` (see [`lagrangian_zoo.models.MLP`][]).
    - `epsilon`: the floor $\epsilon > 0$ added to the mass matrix' eigenvalues.
    - `periodic`: `n` bools marking angles, embedded as `(cos q, sin q)`; default none.
    - `dissipation`: if `True`, learn a Rayleigh dissipation function
        $D = \tfrac12 \dot q^\top C(q) \dot q$, $C \succeq 0$, whose force
        $Q = -\partial D/\partial \dot q$ makes the energy decrease.
    - `dissipation_width`, `dissipation_depth`: the size of the network of $C(q)$.

    ??? cite "Reference"

        ```bibtex
        @inproceedings{lutter2019deep,
          title={Deep Lagrangian Networks: Using Physics as Model Prior for Deep Learning},
          author={Lutter, Michael and Ritter, Christian and Peters, Jan},
          booktitle={International Conference on Learning Representations},
          year={2019}
        }
        ```
    """

    cholesky: MLP
    potential: MLP
    dissipation_function: RayleighDissipation | None
    normaliser: Normaliser
    dof: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    epsilon: float = eqx.field(static=True)
    dissipation_width: int = eqx.field(static=True)
    dissipation_depth: int = eqx.field(static=True)

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        width: int = 64,
        depth: int = 2,
        activation: str = "softplus",
        init: str = "default",
        epsilon: float = 1e-3,
        periodic: Sequence[bool] | None = None,
        dissipation: bool = False,
        dissipation_width: int = 32,
        dissipation_depth: int = 2,
    ):
        init_network_options(self, dof, width, depth, activation, init)
        _check_epsilon(epsilon)
        self.epsilon = float(epsilon)
        self.normaliser = Normaliser.identity(as_periodic(dof, periodic))
        cholesky_key, potential_key, dissipation_key = jax.random.split(key, 3)
        init_dissipation(
            self, dissipation, dissipation_width, dissipation_depth, key=dissipation_key
        )
        in_size = self.normaliser.position_size
        self.cholesky = hidden_mlp(self, in_size, triangular_size(dof), key=cholesky_key)
        self.potential = hidden_mlp(self, in_size, "scalar", key=potential_key)

    def __check_init__(self):
        _check_epsilon(self.epsilon)

    def config(self) -> dict[str, Any]:
        return constructor_config(self, dissipation=self.dissipation_function is not None)

    def mass_matrix(self, q: Float[ArrayLike, " n"]) -> Float[Array, "n n"]:
        r"""The mass matrix $M(q) = \Lambda\Lambda^\top + \epsilon I$, symmetric positive
        definite."""
        entries = self.cholesky(self.normaliser.positions(q))
        rows, cols = np.tril_indices(self.dof)
        diagonal = np.flatnonzero(rows == cols)
        entries = entries.at[diagonal].set(jax.nn.softplus(entries[diagonal]))
        factor = lower_triangular(entries, self.dof)
        identity = jnp.eye(self.dof, dtype=factor.dtype)
        return factor @ factor.T + jnp.asarray(self.epsilon, factor.dtype) * identity

    def potential_energy(self, q: Float[ArrayLike, " n"]) -> Scalar:
        """The learned potential energy `V(q)`."""
        return self.potential(self.normaliser.positions(q))

    def kinetic_energy(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The kinetic energy `T = q_t . M(q) q_t / 2`."""
        q_t = jnp.asarray(q_t)
        return 0.5 * q_t @ (self.mass_matrix(q) @ q_t)

    def lagrangian(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Lagrangian `L = T - V`, a function of the raw state."""
        return self.kinetic_energy(q, q_t) - self.potential_energy(q)

    def energy(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The energy `E = T + V`."""
        return self.kinetic_energy(q, q_t) + self.potential_energy(q)

    def acceleration(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, " n"]:
        """The accelerations `q_tt`, in closed form with a Cholesky solve."""
        q, q_t = jnp.asarray(q), jnp.asarray(q_t)
        # One evaluation of the mass-matrix network, linearised: its forward derivative along
        # q_t gives dM/dt, and its transpose gives dT/dq = (q_t^T dM/dq q_t) / 2.
        mass, mass_derivative = jax.linearize(self.mass_matrix, q)
        mass_rate = mass_derivative(q_t)
        (dT_dq,) = jax.linear_transpose(mass_derivative, q)(0.5 * jnp.outer(q_t, q_t))
        dV_dq = jax.grad(self.potential_energy)(q)
        rhs = dT_dq - dV_dq - mass_rate @ q_t + self.dissipative_force(q, q_t)
        return jsl.cho_solve(jsl.cho_factor(mass, lower=True), rhs)

    def torque_decomposition(
        self,
        q: Float[ArrayLike, " n"],
        q_t: Float[ArrayLike, " n"],
        q_tt: Float[ArrayLike, " n"],
    ) -> TorqueDecomposition:
        r"""The generalised forces that produce `q_tt` at `(q, q_t)`, by origin (DeLaN's
        inverse dynamics): $\tau = M(q)\ddot q + c(q, \dot q) + g(q) - Q$, with
        $c = \dot M \dot q - \tfrac12 \partial_q(\dot q^\top M \dot q)$,
        $g = \partial V/\partial q$ and the learned dissipative force $Q$.

        From the mass-matrix network linearised once (no Hessian); for batches, `jax.vmap`
        it or call [`lagrangian_zoo.torque_decomposition`][], which computes the same parts
        by automatic differentiation of the Lagrangian.

        **Returns:** a
        [`TorqueDecomposition`][lagrangian_zoo.TorqueDecomposition] of
        arrays of shape `(n,)`.
        """
        q, q_t, q_tt = jnp.asarray(q), jnp.asarray(q_t), jnp.asarray(q_tt)
        damping = self.dissipative_force(q, q_t)
        return quadratic_decomposition(
            self.mass_matrix, self.potential_energy, damping, q, q_t, q_tt
        )

    def inverse_dynamics(
        self,
        q: Float[ArrayLike, " n"],
        q_t: Float[ArrayLike, " n"],
        q_tt: Float[ArrayLike, " n"],
    ) -> Float[Array, " n"]:
        """The generalised forces (motor torques) that produce `q_tt` at `(q, q_t)`: the sum
        of [`torque_decomposition`][lagrangian_zoo.models.DeLaN.torque_decomposition]."""
        return self.torque_decomposition(q, q_t, q_tt).torque
