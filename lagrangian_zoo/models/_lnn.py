"""Lagrangian neural networks: a learned scalar L(q, q_t) and the Euler-Lagrange equation."""

from collections.abc import Callable, Sequence
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Scalar

from .._mechanics import euler_lagrange, lagrangian_energy, mass_matrix, Method
from .._validation import flag
from ._base import AbstractLagrangianModel, check_choice
from ._construction import (
    constructor_config,
    hidden_mlp,
    init_dissipation,
    init_network_options,
)
from ._dissipation import RayleighDissipation
from ._normaliser import as_periodic, Normaliser


_METHODS = ("jvp", "paper")


class LNN(AbstractLagrangianModel):
    r"""A Lagrangian neural network: any network $L_\theta(q, \dot q)$ is a Lagrangian.

    The accelerations solve the Euler-Lagrange equation of the learned scalar,
    $$\ddot q = \left(\frac{\partial^2 L_\theta}{\partial \dot q^2}\right)^{-1}
    \left[\frac{\partial L_\theta}{\partial q}
    - \frac{\partial^2 L_\theta}{\partial q\,\partial \dot q}\,\dot q + Q\right],$$
    through [`lagrangian_zoo.euler_lagrange`][], so nothing restricts $L_\theta$ to
    $T - V$ or the kinetic energy to a quadratic: relativistic or velocity-dependent Lagrangians
    are learnable from $(q, \dot q)$ alone, with no canonical momenta. Without dissipation the
    energy $E = \dot q \cdot \partial L_\theta / \partial \dot q - L_\theta$ is conserved
    along the model's flow.

    $L_\theta$ is a function of the raw $(q, \dot q)$; the normaliser (set by `adapt`) scales
    them inside the network call, so `lz.euler_lagrange(model.lagrangian)` is exactly the
    model's own acceleration. Any callable `network(features) -> scalar` can stand in for the
    MLP (`eqx.tree_at(lambda m: m.network, model, my_network)`), the features being
    `model.normaliser(q, q_t)`; `config()` then no longer describes the model.

    **Arguments:**

    - `dof`: the number of degrees of freedom `n`.
    - `key`: a `jax.random` key for the initial parameters.
    - `width`: hidden units per layer (500, the LNN paper's).
    - `depth`: number of hidden layers (4, the paper's "4-layer MLP").
    - `activation`: `"softplus"` (the paper's best); it must have a non-zero second
        derivative, so `"relu"` is refused.
    - `init`: `"lnn"` (the paper's initialisation, default) or `"default"`.
    - `periodic`: `n` bools marking angles, embedded as `(cos q, sin q)`; default none.
    - `mass_prior`: if `True`, add a free particle's kinetic energy with learned masses,
        $L = L_\theta(q, \dot q) + \tfrac12 \sum_i e^{s_i} \dot q_i^2$ ($s$ starts at zero),
        so that the mass matrix starts near the identity instead of random and indefinite;
        the network learns the rest and can cancel it, so every Lagrangian stays learnable.
        Off by default (the paper's LNN); on, an LNN leaves the long plateau at the start of
        training much sooner (the benchmarks' `ours` recipe; see the LNN page).
    - `dissipation`: if `True`, learn a Rayleigh dissipation function
        $D = \tfrac12 \dot q^\top C(q) \dot q$ with $C \succeq 0$, whose force
        $Q = -\partial D/\partial \dot q$ enters the equation above; the energy then decreases.
    - `dissipation_width`, `dissipation_depth`: the size of the network of $C(q)$.
    - `method`: `"jvp"` (default) or `"paper"` (Hessians and a pseudo-inverse), forwarded to
        [`lagrangian_zoo.euler_lagrange`][].
    - `checks`: raise an error (also under `jit`) where the learned mass matrix
        $\partial^2 L_\theta / \partial \dot q^2$ is singular.

    ??? cite "Reference"

        ```bibtex
        @article{cranmer2020lagrangian,
          title={Lagrangian Neural Networks},
          author={Cranmer, Miles and Greydanus, Sam and Hoyer, Stephan and Battaglia, Peter
                  and Spergel, David and Ho, Shirley},
          journal={ICLR 2020 Workshop on Integration of Deep Neural Models and Differential
                   Equations},
          year={2020}
        }
        ```
    """

    network: Callable[[Float[Array, " features"]], Scalar]
    log_prior_mass: Float[Array, " n"] | None
    dissipation_function: RayleighDissipation | None
    normaliser: Normaliser
    dof: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    dissipation_width: int = eqx.field(static=True)
    dissipation_depth: int = eqx.field(static=True)
    method: str = eqx.field(static=True)
    checks: bool = eqx.field(static=True)

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        width: int = 500,
        depth: int = 4,
        activation: str = "softplus",
        init: str = "lnn",
        periodic: Sequence[bool] | None = None,
        mass_prior: bool = False,
        dissipation: bool = False,
        dissipation_width: int = 32,
        dissipation_depth: int = 2,
        method: str = "jvp",
        checks: bool = True,
    ):
        init_network_options(self, dof, width, depth, activation, init, curved=True)
        check_choice("LNN", "method", method, _METHODS)
        flag("LNN:", "mass_prior", mass_prior)
        self.method = method
        self.checks = bool(checks)
        self.normaliser = Normaliser.identity(as_periodic(dof, periodic))
        network_key, dissipation_key = jax.random.split(key)
        init_dissipation(
            self, dissipation, dissipation_width, dissipation_depth, key=dissipation_key
        )
        self.network = hidden_mlp(self, self.normaliser.size, "scalar", key=network_key)
        # Zeros in the parameters' default dtype (float64 when x64 is on).
        self.log_prior_mass = jnp.zeros(dof, jnp.result_type(float)) if mass_prior else None

    def __check_init__(self):
        check_choice("LNN", "method", self.method, _METHODS)

    def config(self) -> dict[str, Any]:
        return constructor_config(
            self,
            mass_prior=self.log_prior_mass is not None,
            dissipation=self.dissipation_function is not None,
        )

    def lagrangian(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Lagrangian `L(q, q_t)`, a function of the raw state."""
        value = self.network(self.normaliser(q, q_t))
        if self.log_prior_mass is None:
            return value
        q_t = jnp.asarray(q_t)
        return value + 0.5 * jnp.sum(jnp.exp(self.log_prior_mass) * q_t**2)

    def energy(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        r"""The energy $E = \dot q \cdot \partial L / \partial \dot q - L$ of the learned $L$."""
        return lagrangian_energy(self.lagrangian)(jnp.asarray(q), jnp.asarray(q_t))

    def mass_matrix(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, "n n"]:
        r"""The learned mass matrix $\partial^2 L_\theta / \partial \dot q^2$ at `(q, q_t)`."""
        return mass_matrix(self.lagrangian)(jnp.asarray(q), jnp.asarray(q_t))

    def acceleration(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, " n"]:
        """The accelerations `q_tt` of the Euler-Lagrange equation of the learned `L`."""
        force = None if self.dissipation_function is None else self.dissipative_force
        method = cast(Method, self.method)
        solve = euler_lagrange(self.lagrangian, force=force, method=method, checks=self.checks)
        return solve(jnp.asarray(q), jnp.asarray(q_t))
