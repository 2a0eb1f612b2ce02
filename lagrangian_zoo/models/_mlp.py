"""The multilayer perceptron every model is built from."""

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import positive_int


def _relu2(x: Array) -> Array:
    return jax.nn.relu(x) ** 2


def _relu3(x: Array) -> Array:
    return jax.nn.relu(x) ** 3


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "softplus": jax.nn.softplus,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "relu2": _relu2,
    "relu3": _relu3,
    "sigmoid": jax.nn.sigmoid,
    "swish": jax.nn.swish,
}
INITS = ("default", "lnn")


def check_activation(activation: str) -> None:
    """Refuses an activation name that is not one of `ACTIVATIONS`."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; known activations: {', '.join(ACTIVATIONS)}."
        )


@functools.cache
def _curves(activation: str) -> bool:
    """Whether the activation's second derivative is non-zero somewhere on [-4, 4]."""
    # Evaluated eagerly even when a model is built under `jax.eval_shape` (as `load_model`
    # builds one), since the answer decides whether construction may go on.
    with jax.ensure_compile_time_eval():
        x = jnp.linspace(-4.0, 4.0, 33)
        second = jax.vmap(jax.grad(jax.grad(ACTIVATIONS[activation])))(x)
        return bool(jnp.any(second != 0))


def check_curved_activation(owner: str, activation: str) -> None:
    r"""Refuses an activation whose second derivative vanishes, such as `"relu"`.

    A network of such an activation is piecewise linear in its input, so its Hessian is zero
    almost everywhere: a model that solves with the Hessian of its network (an LNN's mass
    matrix $\partial^2 L / \partial \dot q^2$) would find it singular at every state.
    """
    check_activation(activation)
    if not _curves(activation):
        curved = ", ".join(repr(name) for name in ACTIVATIONS if _curves(name))
        raise ValueError(
            f"{owner}: activation {activation!r} has a zero second derivative, so the mass "
            f"matrix d2L/dq_t2 of the learned Lagrangian would vanish at every state; use an "
            f"activation that curves: {curved}."
        )


def check_init(init: str) -> None:
    """Refuses an initialisation name other than `"default"` and `"lnn"`."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; known initialisations: {', '.join(INITS)}.")


def check_size(owner: str, name: str, value: int, minimum: int = 1) -> None:
    """Refuses a layer count or width that is not an int of at least `minimum`."""
    positive_int(f"{owner}:", name, value, minimum=minimum, expected=f"an int >= {minimum}")


def _lnn_layer(linear: eqx.nn.Linear, gain: float, key: PRNGKeyArray) -> eqx.nn.Linear:
    n_in = linear.weight.shape[1]
    std = gain / n_in**0.5
    weight = std * jax.random.normal(key, linear.weight.shape, linear.weight.dtype)
    bias = jnp.zeros(linear.weight.shape[0], linear.weight.dtype)
    return eqx.tree_at(lambda layer: (layer.weight, layer.bias), linear, (weight, bias))


class MLP(eqx.Module):
    r"""A multilayer perceptron with an activation chosen by name.

    **Arguments:**

    - `in_size`: the input width.
    - `out_size`: the output width, or `"scalar"` for a network that returns a scalar (a
        Lagrangian, a Hamiltonian, a potential).
    - `widths`: the widths of the hidden layers, e.g. `(200, 200)`; empty for a linear map.
    - `activation`: `"softplus"` (default), `"tanh"`, `"relu"`, `"relu2"` ($\max(x, 0)^2$),
        `"relu3"`, `"sigmoid"` or `"swish"`. Models that differentiate their network twice (LNN)
        need an activation with a non-zero second derivative, and refuse `"relu"`.
    - `init`: `"default"` (Equinox's uniform initialisation) or `"lnn"`, the initialisation of
        Cranmer et al. tuned for Lagrangian networks: weights $\mathcal N(0, \sigma^2)$ with
        $\sigma = 2.2/\sqrt{n}$ for the first layer, $0.58\,i/\sqrt{n}$ for hidden layer $i$
        (the $i$-th layer after the first) and $n/\sqrt{n}$ for the output layer, $n$ being the
        input width of the layer; biases start at zero.
    - `key`: a `jax.random` key.

    ??? cite "Reference"

        The `"lnn"` initialisation of Cranmer et al. (2020), *Lagrangian Neural Networks*:
        BibTeX under [`lagrangian_zoo.models.LNN`][].
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int | Literal["scalar"],
        widths: Sequence[int] = (),
        *,
        activation: str = "softplus",
        init: str = "default",
        key: PRNGKeyArray,
    ):
        check_activation(activation)
        check_init(init)
        check_size("MLP", "in_size", in_size)
        if out_size != "scalar":
            check_size("MLP", "out_size", out_size)
        widths = tuple(widths)
        for width in widths:
            check_size("MLP", "widths", width)
        sizes_in = (in_size, *widths)
        sizes_out = (*widths, out_size)
        layer_keys = jax.random.split(key, 2 * len(sizes_in))
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes_in, sizes_out)):
            layer = eqx.nn.Linear(n_in, n_out, key=layer_keys[2 * i])
            if init == "lnn":
                if i == len(sizes_in) - 1:
                    gain = float(n_in)
                elif i == 0:
                    gain = 2.2
                else:
                    gain = 0.58 * i
                layer = _lnn_layer(layer, gain, layer_keys[2 * i + 1])
            layers.append(layer)
        self.layers = tuple(layers)
        self.activation = activation

    def __check_init__(self):
        check_activation(self.activation)

    @property
    def in_size(self) -> int:
        """The input width."""
        return self.layers[0].weight.shape[1]

    def __call__(self, x: Float[Array, " in_size"]) -> Float[Array, "..."]:
        """The network's output: shape `(out_size,)`, or `()` for `out_size="scalar"`."""
        if x.shape != (self.in_size,):
            raise ValueError(
                f"the MLP expects an input of shape ({self.in_size},), got shape {x.shape}."
            )
        sigma = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = sigma(layer(x))
        return self.layers[-1](x)
