"""The HNN paper's pixel autoencoder: an MLP from frames to a small latent state and back."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._base import check_key
from ._mlp import ACTIVATIONS, check_activation, check_size


_INITS = ("orthogonal", "default")


def _orthogonal(linear: eqx.nn.Linear, key: PRNGKeyArray) -> eqx.nn.Linear:
    weight = jax.nn.initializers.orthogonal()(key, linear.weight.shape, linear.weight.dtype)
    return eqx.tree_at(lambda layer: layer.weight, linear, weight)


# One compiled program per architecture: drawn eagerly, the initialisation would compile a
# handful of small programs per layer shape (uniform draws, QR decompositions).
@eqx.filter_jit
def _initial_layers(
    in_size: int, latent: int, width: int, init: str, key: PRNGKeyArray
) -> tuple[tuple[eqx.nn.Linear, ...], tuple[eqx.nn.Linear, ...]]:
    sizes = [(in_size, width), (width, width), (width, width), (width, latent)]
    sizes += [(latent, width), (width, width), (width, width), (width, in_size)]
    layer_keys = jax.random.split(key, 2 * len(sizes))
    layers = []
    for i, (n_in, n_out) in enumerate(sizes):
        layer = eqx.nn.Linear(n_in, n_out, key=layer_keys[2 * i])
        if init == "orthogonal":
            layer = _orthogonal(layer, layer_keys[2 * i + 1])
        layers.append(layer)
    return tuple(layers[:4]), tuple(layers[4:])


class Autoencoder(eqx.Module):
    r"""A multilayer-perceptron autoencoder with residual hidden layers, the HNN paper's.

    The encoder maps an input $x$ (flattened frames) to a latent $z$, the decoder maps $z$
    back:
    $$h_1 = \sigma(W_1 x), \quad h_2 = h_1 + \sigma(W_2 h_1), \quad h_3 = h_2 + \sigma(W_3 h_2),
    \quad z = W_4 h_3,$$
    and the mirror image for the decoder (biases omitted here). With `latent = 2` the latent is
    the state $(q, p)$ or $(q, \dot q)$ of a one-degree-of-freedom model: see
    [`lagrangian_zoo.models.PixelDynamics`][].

    **Arguments:**

    - `in_size`: the input width (two 28 x 28 frames: 1568).
    - `latent`: the latent width (2).
    - `width`: hidden units per layer (200, the paper's).
    - `activation`: `"relu"` (the paper's) or another name of
        [`lagrangian_zoo.models.MLP`][].
    - `init`: `"orthogonal"` weights (the paper's, `torch.nn.init.orthogonal_`) or Equinox's
        `"default"`; biases keep Equinox's (PyTorch's) uniform initialisation.
    - `key`: a `jax.random` key.

    ??? cite "Reference"

        The autoencoder of the pixel pendulum in Greydanus et al. (2019), *Hamiltonian Neural
        Networks*: BibTeX under [`lagrangian_zoo.models.HNN`][].
    """

    encoder: tuple[eqx.nn.Linear, ...]
    decoder: tuple[eqx.nn.Linear, ...]
    in_size: int = eqx.field(static=True)
    latent: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        *,
        key: PRNGKeyArray,
        latent: int = 2,
        width: int = 200,
        activation: str = "relu",
        init: str = "orthogonal",
    ):
        check_size("Autoencoder", "in_size", in_size)
        check_size("Autoencoder", "latent", latent)
        check_size("Autoencoder", "width", width)
        check_activation(activation)
        if init not in _INITS:
            raise ValueError(
                f"Autoencoder: `init` must be one of {', '.join(map(repr, _INITS))}, got {init!r}."
            )
        check_key("Autoencoder", key)
        self.in_size = in_size
        self.latent = latent
        self.width = width
        self.activation = activation
        self.init = init
        self.encoder, self.decoder = _initial_layers(in_size, latent, width, init, key)

    def __check_init__(self):
        check_activation(self.activation)

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, `in_size` included, as a JSON-able dict."""
        return {
            "in_size": self.in_size,
            "latent": self.latent,
            "width": self.width,
            "activation": self.activation,
            "init": self.init,
        }

    def _through(self, layers: tuple[eqx.nn.Linear, ...], x: Array) -> Array:
        sigma = ACTIVATIONS[self.activation]
        h = sigma(layers[0](x))
        h = h + sigma(layers[1](h))
        h = h + sigma(layers[2](h))
        return layers[3](h)

    def encode(self, x: Float[Array, " in_size"]) -> Float[Array, " latent"]:
        """The latent `z` of one input `x` of shape `(in_size,)`."""
        x = jnp.asarray(x)
        if x.shape != (self.in_size,):
            raise ValueError(
                f"Autoencoder.encode expects one input of shape ({self.in_size},), got shape "
                f"{x.shape}; for a batch, use jax.vmap(autoencoder.encode)."
            )
        return self._through(self.encoder, x)

    def decode(self, z: Float[Array, " latent"]) -> Float[Array, " in_size"]:
        """The reconstruction of one latent `z` of shape `(latent,)`."""
        z = jnp.asarray(z)
        if z.shape != (self.latent,):
            raise ValueError(
                f"Autoencoder.decode expects one latent of shape ({self.latent},), got shape "
                f"{z.shape}; for a batch, use jax.vmap(autoencoder.decode)."
            )
        return self._through(self.decoder, z)

    def __call__(self, x: Float[Array, " in_size"]) -> Float[Array, " in_size"]:
        """The reconstruction `decode(encode(x))`."""
        return self.decode(self.encode(x))
