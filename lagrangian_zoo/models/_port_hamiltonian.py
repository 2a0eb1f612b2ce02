"""Port-Hamiltonian networks: a learned energy, interconnection, damping and input ports."""

from collections.abc import Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree, Scalar

from .._validation import flag, positive_int
from ._base import AbstractEnergyModel, check_choice, check_dof, split_model_state
from ._driven import checked_control, DrivenModel
from ._mlp import check_activation, check_init, check_size, MLP
from ._normaliser import as_periodic, Normaliser
from ._triangular import lower_triangular, triangular_size


_STRUCTURES = ("canonical", "learned")
_INPUT_MATRICES = ("learned", "momentum")


def _canonical(dof: int) -> np.ndarray:
    """The symplectic matrix `[[0, I], [-I, 0]]` of shape `(2n, 2n)`."""
    eye = np.eye(dof)
    zero = np.zeros((dof, dof))
    return np.block([[zero, eye], [-eye, zero]])


def _given_input_matrix(value: Any, dof: int, inputs: int) -> np.ndarray | None:
    """`input_matrix` as a NumPy array when it is given as numbers, else `None`."""
    if isinstance(value, str):
        check_choice("PortHamiltonian", "input_matrix", value, _INPUT_MATRICES)
        if value == "momentum" and inputs != dof:
            raise ValueError(
                f"PortHamiltonian: `input_matrix='momentum'` pushes each momentum, so it needs "
                f"inputs == dof, got inputs={inputs} and dof={dof}."
            )
        return None
    try:
        matrix = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        matrix = None
    if matrix is None or matrix.shape != (2 * dof, inputs) or not np.all(np.isfinite(matrix)):
        shown = getattr(matrix, "shape", None)
        raise ValueError(
            "PortHamiltonian: `input_matrix` must be 'learned', 'momentum' or finite numbers of "
            f"shape (2 * dof, inputs) = ({2 * dof}, {inputs}), got "
            f"{'shape ' + str(shown) if shown is not None else repr(value)}."
        )
    return matrix


class PortHamiltonian(AbstractEnergyModel):
    r"""A port-Hamiltonian network: a learned energy with dissipation and input ports.

    On states $x = (q, p)$ of shape `(2n,)` and inputs $u$ of shape `(inputs,)`,
    $$\dot x = \big(J - R(x)\big)\,\nabla H(x) + G(x)\,u, \qquad y = G(x)^\top \nabla H(x),$$
    with $H$ a network (the energy), $J = -J^\top$ the interconnection (the canonical
    $\begin{psmallmatrix} 0 & I \\ -I & 0 \end{psmallmatrix}$, or a learned $A - A^\top$),
    $R(x) = L(x) L(x)^\top \succeq 0$ the dissipation ($L$ lower triangular, from a network;
    zero without dissipation) and $G$ the input matrix (learned from a network, the momentum
    ports $\begin{psmallmatrix} 0 \\ I \end{psmallmatrix}$, or given). Whatever the
    parameters, the energy balance
    $$\dot H = -\nabla H^\top R\,\nabla H + y^\top u \le y^\top u$$
    holds: the model is passive, it stores no more energy than its ports supply, and with
    $R = 0$, $u = 0$ it conserves $H$.

    The model is a vector field `model(t, x, args)` whose `args` is the input: `None` (no
    input) or an array of shape `(inputs,)`, so `lz.rollout(model, x0, ts, args=u)`
    simulates it under a constant input; `model.driven(control)` is the vector field under a
    control law `u(t, x)`.

    **Arguments:**

    - `dof`: the number of degrees of freedom `n`; states have shape `(2n,)`.
    - `key`: a `jax.random` key for the initial parameters.
    - `inputs`: the number of inputs `m` (1).
    - `width`, `depth`: the size of each network (64, 2).
    - `activation`: `"softplus"`, or another name of [`lagrangian_zoo.models.MLP`][].
    - `init`: `"default"` or `"lnn"` (see [`lagrangian_zoo.models.MLP`][]).
    - `structure`: `"canonical"` or `"learned"`, the interconnection $J$.
    - `dissipation`: if `True`, learn $R(x)$; if `False`, $R = 0$.
    - `input_matrix`: `"learned"` (a network of the state), `"momentum"` (each input pushes
        one momentum; needs `inputs == dof`), or a fixed matrix of shape `(2n, inputs)`.
    - `periodic`: `n` bools marking angles, embedded as `(cos q, sin q)`; default none.

    ??? cite "References"

        ```bibtex
        @article{vanderschaft2014port,
          title={Port-Hamiltonian Systems Theory: An Introductory Overview},
          author={van der Schaft, Arjan and Jeltsema, Dimitri},
          journal={Foundations and Trends in Systems and Control},
          volume={1},
          number={2-3},
          pages={173--378},
          year={2014}
        }
        @inproceedings{zhong2020dissipative,
          title={Dissipative SymODEN: Encoding Hamiltonian Dynamics with Dissipation and
                 Control into Deep Learning},
          author={Zhong, Yaofeng Desmond and Dey, Biswadip and Chakraborty, Amit},
          booktitle={ICLR 2020 Workshop on Integration of Deep Neural Models and Differential
                     Equations},
          year={2020}
        }
        @article{eidnes2023pseudo,
          title={Pseudo-Hamiltonian neural networks with state-dependent external forces},
          author={Eidnes, S{\o}lve and Stasik, Alexander J. and Sterud, Camilla and
                  B{\o}hn, Eivind and Riemer-S{\o}rensen, Signe},
          journal={Physica D: Nonlinear Phenomena},
          volume={446},
          pages={133673},
          year={2023}
        }
        ```
    """

    network: MLP
    skew: Float[Array, "state state"] | None
    damping: MLP | None
    port: MLP | Float[Array, "state inputs"]
    normaliser: Normaliser
    dof: int = eqx.field(static=True)
    inputs: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    structure: str = eqx.field(static=True)
    input_kind: str = eqx.field(static=True)
    # A port-Hamiltonian state is canonical: positions and momenta.
    coordinates: ClassVar[str] = "canonical"

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        inputs: int = 1,
        width: int = 64,
        depth: int = 2,
        activation: str = "softplus",
        init: str = "default",
        structure: str = "canonical",
        dissipation: bool = False,
        input_matrix: str | Sequence[Sequence[float]] | ArrayLike = "learned",
        periodic: Sequence[bool] | None = None,
    ):
        check_dof("PortHamiltonian", dof)
        positive_int("PortHamiltonian:", "inputs", inputs)
        check_size("PortHamiltonian", "width", width)
        check_size("PortHamiltonian", "depth", depth)
        check_activation(activation)
        check_init(init)
        check_choice("PortHamiltonian", "structure", structure, _STRUCTURES)
        flag("PortHamiltonian:", "dissipation", dissipation)
        given = _given_input_matrix(input_matrix, dof, inputs)
        self.dof, self.inputs = dof, inputs
        self.width, self.depth = width, depth
        self.activation, self.init = activation, init
        self.structure = structure
        self.normaliser = Normaliser.identity(as_periodic(dof, periodic))
        energy_key, damping_key, port_key = jax.random.split(key, 3)
        hidden = (width,) * depth
        features = self.normaliser.size

        def network(out_size, key):
            return MLP(features, out_size, hidden, activation=activation, init=init, key=key)

        self.network = network("scalar", energy_key)
        dtype = jnp.result_type(float)
        # Half the canonical matrix, so that the learned J = A - A^T starts canonical.
        self.skew = jnp.asarray(_canonical(dof) / 2, dtype) if structure == "learned" else None
        self.damping = network(triangular_size(2 * dof), damping_key) if dissipation else None
        if given is not None:
            self.input_kind = "given"
            self.port = jnp.asarray(given, dtype)
        elif input_matrix == "momentum":
            self.input_kind = "momentum"
            self.port = jnp.asarray(np.vstack([np.zeros((dof, dof)), np.eye(dof)]), dtype)
        else:
            self.input_kind = "learned"
            self.port = network(2 * dof * inputs, port_key)

    def __check_init__(self):
        check_choice("PortHamiltonian", "structure", self.structure, _STRUCTURES)

    def config(self) -> dict[str, Any]:
        if self.input_kind == "given":
            input_matrix: Any = np.asarray(self.port).tolist()
        else:
            input_matrix = self.input_kind
        return {
            "dof": self.dof,
            "inputs": self.inputs,
            "width": self.width,
            "depth": self.depth,
            "activation": self.activation,
            "init": self.init,
            "structure": self.structure,
            "dissipation": self.damping is not None,
            "input_matrix": input_matrix,
            "periodic": list(self.periodic),
        }

    def _features(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        return self.normaliser(x[: self.dof], x[self.dof :])

    def hamiltonian(self, q: Float[ArrayLike, " n"], p: Float[ArrayLike, " n"]) -> Scalar:
        """The learned energy `H(q, p)`, a function of the raw state."""
        return self.network(self.normaliser(q, p))

    def energy(self, q: Float[ArrayLike, " n"], p: Float[ArrayLike, " n"]) -> Scalar:
        """The energy `H(q, p)` at the state `[q, p]`."""
        return self.hamiltonian(q, p)

    def gradient(self, x: Float[ArrayLike, " state"]) -> Float[Array, " state"]:
        r"""$\nabla H(x)$, shape `(2n,)`."""
        x = jnp.asarray(x)
        return jax.grad(lambda x: self.hamiltonian(x[: self.dof], x[self.dof :]))(x)

    def interconnection(self) -> Float[Array, "state state"]:
        """The skew-symmetric matrix `J`, shape `(2n, 2n)`."""
        if self.skew is None:
            return jnp.asarray(_canonical(self.dof), jnp.result_type(float))
        return self.skew - self.skew.T

    def dissipation_matrix(self, x: Float[ArrayLike, " state"]) -> Float[Array, "state state"]:
        """The positive semi-definite `R(x) = L(x) L(x)^T`, shape `(2n, 2n)` (zeros without
        dissipation)."""
        x = jnp.asarray(x)
        if self.damping is None:
            return jnp.zeros((2 * self.dof, 2 * self.dof), x.dtype)
        factor = lower_triangular(self.damping(self._features(x)), 2 * self.dof)
        return factor @ factor.T

    def input_matrix(self, x: Float[ArrayLike, " state"]) -> Float[Array, "state inputs"]:
        """The input matrix `G(x)`, shape `(2n, inputs)`."""
        x = jnp.asarray(x)
        if isinstance(self.port, MLP):
            return self.port(self._features(x)).reshape(2 * self.dof, self.inputs)
        # A given matrix is fixed, not learned.
        return jax.lax.stop_gradient(self.port).astype(x.dtype)

    def output(self, x: Float[ArrayLike, " state"]) -> Float[Array, " inputs"]:
        r"""The output conjugate to the input, $y = G(x)^\top \nabla H(x)$ (for mechanical
        ports, the velocities at which the inputs act)."""
        return self.input_matrix(x).T @ self.gradient(x)

    def vector_field(
        self, x: Float[ArrayLike, " state"], u: Float[ArrayLike, " inputs"]
    ) -> Float[Array, " state"]:
        r"""$\dot x = (J - R(x))\nabla H(x) + G(x) u$ at the state `x` under the input `u`."""
        x, u = jnp.asarray(x), jnp.asarray(u)
        if u.shape != (self.inputs,):
            raise ValueError(
                f"PortHamiltonian with inputs={self.inputs} takes an input `u` of shape "
                f"({self.inputs},), got shape {u.shape}."
            )
        gradient = self.gradient(x)
        structure = self.interconnection().astype(x.dtype) - self.dissipation_matrix(x)
        return structure @ gradient + self.input_matrix(x) @ u.astype(x.dtype)

    # Compiled as one program per architecture and shapes: an eager call (a notebook, a
    # plot) reuses it for any parameters; inside `rollout` or `fit` it is inlined.
    @eqx.filter_jit
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        """`dx/dt` at the state `y`, the input being `args`: `None`, an array of shape
        `(inputs,)`, or a control law `u(t, y)`."""
        q, p = split_model_state(self, y)
        x = jnp.concatenate([q, p])
        if args is None:
            u = jnp.zeros(self.inputs, x.dtype)
        elif callable(args):
            u = args(t, x)
        else:
            u = args
        return self.vector_field(x, u)

    def driven(self, control: Any) -> DrivenModel:
        """The vector field of the model under a control law.

        **Arguments:**

        - `control`: a feedback law `u(t, x) -> (inputs,)` of the time and the state, or a
            constant input of shape `(inputs,)`.

        **Returns:** a vector field `f(t, x, args) -> dx/dt` for [`lagrangian_zoo.rollout`][]
        (its `args` unused).
        """
        control = checked_control("PortHamiltonian", self.inputs, control, state="x")
        return DrivenModel(self, control)
