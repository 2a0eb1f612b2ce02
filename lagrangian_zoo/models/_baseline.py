"""The unconstrained baseline: a network straight from the state to its time derivative."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from .._validation import positive_int
from ._base import AbstractDynamics, check_choice, COORDINATES, split_model_state
from ._construction import constructor_config, hidden_mlp, init_network_options
from ._driven import checked_control, DrivenModel
from ._mlp import MLP
from ._normaliser import as_periodic, Normaliser


_PREDICTS = ("derivative", "acceleration")


def _check_coordinates(predict: str, coordinates: str) -> None:
    check_choice("Baseline", "coordinates", coordinates, COORDINATES)
    if predict == "acceleration" and coordinates != "velocity":
        raise ValueError(
            "Baseline: predict='acceleration' returns the second half of the state as dq/dt, "
            f"so it takes velocity states; got coordinates={coordinates!r}. Use "
            "predict='derivative' for canonical states [q, p]."
        )


class Baseline(AbstractDynamics):
    r"""A multilayer perceptron from the state to its time derivative, with no physics.

    With `predict="derivative"` (the HNN paper's baseline) the network outputs all of
    $\dot y = (\dot q, \ddot q)$; with `predict="acceleration"` (the LNN paper's baseline) it
    outputs only $\ddot q$ and the model returns $(\dot q, \ddot q)$, the kinematics being
    exact. Nothing ties the output to an energy, which is why its rollouts drift.

    The network is indifferent to what the second half of the state holds; `coordinates`
    records it, as an HNN's does: `"velocity"` for $(q, \dot q)$, `"canonical"` for
    $(q, p)$ (the HNN paper's tasks). Predicting accelerations takes $\dot q$ from the state,
    so it needs velocity coordinates.

    **Arguments:**

    - `dof`: the number of degrees of freedom `n`.
    - `key`: a `jax.random` key for the initial parameters.
    - `width`: hidden units per layer (200, the HNN paper's).
    - `depth`: number of hidden layers (2).
    - `activation`: `"tanh"` (the HNN paper's) or another name of
        [`lagrangian_zoo.models.MLP`][].
    - `init`: `"default"` or `"lnn"` (see [`lagrangian_zoo.models.MLP`][]).
    - `predict`: `"derivative"` or `"acceleration"`, as above.
    - `coordinates`: `"velocity"` (default) or `"canonical"`, as above.
    - `periodic`: `n` bools marking angles, embedded as `(cos q, sin q)`; default none.
    - `inputs`: the number `m` of inputs (torques, forces) the network reads beside the
        state, `0` (default) for none. With inputs it is a black-box forward model
        $\ddot q = f(q, \dot q, u)$, the baseline of a Lagrangian model trained on torques:
        `args` is the input, `None` (zeros), an array of shape `(m,)` or a control law
        `u(t, y)`, and `model.driven(control)` is the vector field under a control. The
        inputs enter the network unscaled.

    ??? cite "Reference"

        The baselines of Greydanus et al. (2019), *Hamiltonian Neural Networks*, and of
        Cranmer et al. (2020), *Lagrangian Neural Networks*: BibTeX under
        [`lagrangian_zoo.models.HNN`][] and [`lagrangian_zoo.models.LNN`][].
    """

    network: MLP
    normaliser: Normaliser
    dof: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    predict: str = eqx.field(static=True)
    coordinates: str = eqx.field(static=True)
    inputs: int = eqx.field(static=True)

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        width: int = 200,
        depth: int = 2,
        activation: str = "tanh",
        init: str = "default",
        predict: str = "derivative",
        coordinates: str = "velocity",
        periodic: Sequence[bool] | None = None,
        inputs: int = 0,
    ):
        init_network_options(self, dof, width, depth, activation, init)
        self.inputs = positive_int("Baseline:", "inputs", inputs, minimum=0)
        check_choice("Baseline", "predict", predict, _PREDICTS)
        _check_coordinates(predict, coordinates)
        self.predict = predict
        self.coordinates = coordinates
        self.normaliser = Normaliser.identity(as_periodic(dof, periodic))
        out_size = 2 * dof if predict == "derivative" else dof
        in_size = self.normaliser.size + self.inputs
        self.network = hidden_mlp(self, in_size, out_size, key=key)

    def __check_init__(self):
        check_choice("Baseline", "predict", self.predict, _PREDICTS)
        _check_coordinates(self.predict, self.coordinates)

    def config(self) -> dict[str, Any]:
        return constructor_config(self)

    # Compiled as one program per architecture and shapes: an eager call (a notebook, a
    # plot) reuses it for any parameters; inside `rollout` or `fit` it is inlined.
    @eqx.filter_jit
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        q, q_t = split_model_state(self, y)
        features = self.normaliser(q, q_t)
        if self.inputs:
            u = self._input(t, jnp.concatenate([q, q_t]), args)
            features = jnp.concatenate([features, u.astype(features.dtype)])
        out = self.network(features)
        if self.predict == "derivative":
            return out
        return jnp.concatenate([q_t.astype(out.dtype), out])

    def _input(self, t: Any, y: Array, args: PyTree) -> Float[Array, " inputs"]:
        """The input that `args` gives at `(t, y)`: zeros for `None`, a control law's value,
        or the array itself, checked against the shape `(inputs,)`."""
        if args is None:
            return jnp.zeros(self.inputs, y.dtype)
        u = jnp.asarray(args(t, y) if callable(args) else args)
        if u.shape != (self.inputs,):
            raise ValueError(
                f"Baseline with inputs={self.inputs} takes an input `args` of shape "
                f"({self.inputs},) (or a control law u(t, y) returning it), got shape {u.shape}."
            )
        return u

    def driven(self, control: Any) -> DrivenModel:
        """The vector field of the model under a control law.

        **Arguments:**

        - `control`: a feedback law `u(t, y) -> (inputs,)`, or a constant input of shape
            `(inputs,)`.

        **Returns:** a vector field `f(t, y, args) -> dy/dt` for [`lagrangian_zoo.rollout`][]
        (its `args` unused).
        """
        if not self.inputs:
            raise TypeError(
                "Baseline: this model takes no inputs; build it with inputs=m to drive it."
            )
        return DrivenModel(self, checked_control("Baseline", self.inputs, control))
