"""Hamiltonian neural networks: a learned scalar H(q, p) and its symplectic gradient."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree, Scalar

from .._mechanics import hamiltonian_vector_field
from ._base import AbstractEnergyModel, check_choice, COORDINATES, split_model_state
from ._construction import constructor_config, hidden_mlp, init_network_options
from ._mlp import MLP
from ._normaliser import as_periodic, Normaliser


class HNN(AbstractEnergyModel):
    r"""A Hamiltonian neural network: a network $H_\theta(q, p)$ and Hamilton's equations.

    The model reads its state as $y = (q, p)$ and returns the symplectic gradient
    $$\dot q = \frac{\partial H_\theta}{\partial p}, \qquad
    \dot p = -\frac{\partial H_\theta}{\partial q},$$
    so $H_\theta$ is conserved exactly along the model's own flow.

    The second half of the state is taken as the canonical momenta $p$, whatever the data
    hold. `coordinates` records what they hold: `"canonical"` when the data are $(q, p)$ (the
    HNN paper's tasks), `"velocity"` when they are $(q, \dot q)$. The equations are the same;
    on velocity data the model is right only where $p \propto \dot q$ (unit masses, no
    velocity-dependent kinetic energy) and fails otherwise, e.g. for the relativistic particle,
    whose momentum $\gamma m \dot q$, $\gamma = (1-\dot q^2/c^2)^{-1/2}$, is not
    proportional to $\dot q$: the point of the LNN paper.

    **Arguments:**

    - `dof`: the number of degrees of freedom `n`.
    - `key`: a `jax.random` key for the initial parameters.
    - `width`: hidden units per layer (200, the HNN paper's).
    - `depth`: number of hidden layers (2).
    - `activation`: `"tanh"` (the HNN paper's) or another name of
        [`lagrangian_zoo.models.MLP`][].
    - `init`: `"default"` or `"lnn"` (see [`lagrangian_zoo.models.MLP`][]).
    - `coordinates`: `"canonical"` or `"velocity"`, as above.
    - `periodic`: `n` bools marking angles, embedded as `(cos q, sin q)`; default none.

    ??? cite "Reference"

        ```bibtex
        @inproceedings{greydanus2019hamiltonian,
          title={Hamiltonian Neural Networks},
          author={Greydanus, Samuel and Dzamba, Misko and Yosinski, Jason},
          booktitle={Advances in Neural Information Processing Systems},
          year={2019}
        }
        ```
    """

    network: MLP
    normaliser: Normaliser
    dof: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    coordinates: str = eqx.field(static=True)

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        width: int = 200,
        depth: int = 2,
        activation: str = "tanh",
        init: str = "default",
        coordinates: str = "canonical",
        periodic: Sequence[bool] | None = None,
    ):
        init_network_options(self, dof, width, depth, activation, init)
        check_choice("HNN", "coordinates", coordinates, COORDINATES)
        self.coordinates = coordinates
        self.normaliser = Normaliser.identity(as_periodic(dof, periodic))
        self.network = hidden_mlp(self, self.normaliser.size, "scalar", key=key)

    def __check_init__(self):
        check_choice("HNN", "coordinates", self.coordinates, COORDINATES)

    def config(self) -> dict[str, Any]:
        return constructor_config(self)

    def hamiltonian(self, q: Float[ArrayLike, " n"], p: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Hamiltonian `H(q, p)`, a function of the raw coordinates and momenta."""
        return self.network(self.normaliser(q, p))

    def energy(self, q: Float[ArrayLike, " n"], p: Float[ArrayLike, " n"]) -> Scalar:
        """The energy of a Hamiltonian model, `H(q, p)`, at the state `[q, p]` it reads."""
        return self.hamiltonian(q, p)

    # Compiled as one program per architecture and shapes: an eager call (a notebook, a
    # plot) reuses it for any parameters; inside `rollout` or `fit` it is inlined.
    @eqx.filter_jit
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        del t, args
        q, p = split_model_state(self, y)
        q_t, p_t = hamiltonian_vector_field(self.hamiltonian)(q, p)
        return jnp.concatenate([q_t, p_t])
