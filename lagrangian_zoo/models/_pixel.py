"""A dynamics model of frames: an autoencoder whose latent is the state of a latent model."""

from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from ._autoencoder import Autoencoder
from ._base import AbstractDynamics, check_choice, check_key
from ._baseline import Baseline
from ._delan import DeLaN
from ._hnn import HNN
from ._lnn import LNN
from ._normaliser import Normaliser


_INTEGRATORS = ("euler", "rk4")
# The models that can live in the latent space (any `dof`, states of `2 * dof`), by class name.
_LATENT_MODELS: dict[str, type[AbstractDynamics]] = {
    cls.__name__: cls for cls in (Baseline, HNN, LNN, DeLaN)
}


def _build(what: str, cls: Any, spec: Mapping[str, Any], key: PRNGKeyArray) -> Any:
    try:
        return cls(**spec, key=key)
    except TypeError as error:
        raise TypeError(f"PixelDynamics: cannot build the {what} from {dict(spec)!r}: {error}")


class PixelDynamics(AbstractDynamics):
    r"""Dynamics learned from frames: an autoencoder whose latent is a model's state.

    An [`lagrangian_zoo.models.Autoencoder`][] maps an input $x_t$ (two consecutive frames) to
    a latent $z_t$ of `2 * dof` numbers, which `dynamics` (an HNN, an LNN, a baseline, ...)
    reads as its state: $(q, p)$ for an HNN, $(q, \dot q)$ for an LNN. The time unit of the
    latent is one frame. The model is itself a vector field on latents, `model(t, z, args)`
    (that of `dynamics`), so [`lagrangian_zoo.rollout`][] integrates it; `decode` turns the
    latents back into frames.

    The HNN paper's training loss (its PixelHNN) on a row $(x_t, x_{t+1})$ has three terms,
    given by `loss_terms` and weighted $1, 1, 0.1$ by [`lagrangian_zoo.pixel_dynamics_loss`][]:

    - reconstruction $\overline{(x_t - \mathrm{decode}(z_t))^2}$;
    - latent-coordinate consistency $\overline{(z^{(2)}_t - (z^{(1)}_{t+1} -
        z^{(1)}_t))^2}$, which makes the second half of the latent the frame-to-frame change
        of the first (a velocity, or a momentum up to scale);
    - latent step $\overline{(z_{t+1} - \Phi(z_t))^2}$, with $\Phi$ one step of $\Delta t = 1$
        of the latent dynamics: `"euler"` ($\Phi(z) = z + f(z)$, the paper's) or `"rk4"` (the
        classic Runge-Kutta step, whose map is the latent flow over one frame to fourth
        order).

    Each part is given either as a module or as the configuration that builds one (with
    `key`): the autoencoder's `config()`, and `{"model": class name, **dynamics.config()}`.
    `config()` returns those, so [`lagrangian_zoo.save_model`][] and
    [`lagrangian_zoo.load_model`][] store and rebuild the whole model.

    **Arguments:**

    - `autoencoder`: an [`lagrangian_zoo.models.Autoencoder`][] with `latent = 2 * dof`, or
        its configuration.
    - `dynamics`: a [`lagrangian_zoo.models.Baseline`][], [`lagrangian_zoo.models.HNN`][],
        [`lagrangian_zoo.models.LNN`][] or [`lagrangian_zoo.models.DeLaN`][], or its
        configuration with the class name under `"model"`.
    - `integrator`: the latent step of the loss, `"euler"` (the paper's) or `"rk4"`.
    - `key`: a `jax.random` key, needed when a part is given as a configuration.

    !!! example

        ```python
        autoencoder = lz.models.Autoencoder(2 * 28 * 28, key=jax.random.key(0))
        hnn = lz.models.HNN(1, key=jax.random.key(1))
        model = lz.models.PixelDynamics(autoencoder, hnn)
        ```

    ??? cite "Reference"

        The pixel pendulum of Greydanus et al. (2019), *Hamiltonian Neural Networks*: BibTeX
        under [`lagrangian_zoo.models.HNN`][].
    """

    autoencoder: Autoencoder
    dynamics: AbstractDynamics
    integrator: str = eqx.field(static=True)

    def __init__(
        self,
        autoencoder: Autoencoder | Mapping[str, Any],
        dynamics: AbstractDynamics | Mapping[str, Any],
        *,
        integrator: str = "euler",
        key: PRNGKeyArray | None = None,
    ):
        check_choice("PixelDynamics", "integrator", integrator, _INTEGRATORS)
        if isinstance(autoencoder, Mapping) or isinstance(dynamics, Mapping):
            if key is None:
                raise TypeError(
                    "PixelDynamics: a part given as a configuration needs a `key` for its "
                    "initial parameters, such as key=jax.random.key(0)."
                )
            check_key("PixelDynamics", key)
            autoencoder_key, dynamics_key = jax.random.split(key)
            if isinstance(autoencoder, Mapping):
                autoencoder = _build("autoencoder", Autoencoder, autoencoder, autoencoder_key)
            if isinstance(dynamics, Mapping):
                spec = dict(dynamics)
                name = spec.pop("model", None)
                if name not in _LATENT_MODELS:
                    raise ValueError(
                        f"PixelDynamics: the dynamics configuration must name its class under "
                        f"'model', one of {', '.join(map(repr, _LATENT_MODELS))}; got {name!r}."
                    )
                dynamics = _build("dynamics", _LATENT_MODELS[name], spec, dynamics_key)
        if not isinstance(autoencoder, Autoencoder):
            raise TypeError(
                "PixelDynamics: `autoencoder` must be an lz.models.Autoencoder or its "
                f"configuration, got {type(autoencoder).__name__}."
            )
        if not isinstance(dynamics, tuple(_LATENT_MODELS.values())):
            raise TypeError(
                f"PixelDynamics: `dynamics` must be one of {', '.join(_LATENT_MODELS)} (or its "
                f"configuration), got {type(dynamics).__name__}."
            )
        self.autoencoder = autoencoder
        self.dynamics = dynamics
        self.integrator = integrator

    def __check_init__(self):
        check_choice("PixelDynamics", "integrator", self.integrator, _INTEGRATORS)
        if self.autoencoder.latent != 2 * self.dynamics.dof:
            raise ValueError(
                f"PixelDynamics: the autoencoder's latent ({self.autoencoder.latent}) must be "
                f"the state of the dynamics, 2 * dof = {2 * self.dynamics.dof}."
            )

    @property
    def dof(self) -> int:
        """The degrees of freedom of the latent dynamics; a latent has `2 * dof` entries."""
        return self.dynamics.dof

    @property
    def coordinates(self) -> str:
        """The states the latent dynamics take: `"canonical"` or `"velocity"`."""
        return self.dynamics.coordinates

    @property
    def normaliser(self) -> Normaliser:
        """The input normaliser of the latent dynamics."""
        return self.dynamics.normaliser

    def config(self) -> dict[str, Any]:
        return {
            "autoencoder": self.autoencoder.config(),
            "dynamics": {"model": type(self.dynamics).__name__, **self.dynamics.config()},
            "integrator": self.integrator,
        }

    def adapt(self, states: Float[ArrayLike, "*batch state"]) -> "PixelDynamics":
        """A copy whose latent dynamics hold input statistics of the latent `states`."""
        # The normaliser is the latent model's; the base class would replace an attribute
        # this module only forwards.
        return eqx.tree_at(lambda model: model.dynamics, self, self.dynamics.adapt(states))

    def encode(self, x: Float[Array, " pixels"]) -> Float[Array, " state"]:
        """The latent state of one input `x` (two consecutive frames, flattened)."""
        return self.autoencoder.encode(x)

    def decode(self, z: Float[Array, " state"]) -> Float[Array, " pixels"]:
        """The input (two frames, flattened) that one latent state `z` stands for."""
        return self.autoencoder.decode(z)

    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        """The latent vector field `dz/dt` (per frame) of the latent dynamics."""
        return self.dynamics(t, y, args)

    def latent_step(self, z: Float[Array, " state"]) -> Float[Array, " state"]:
        """The latent one frame later, by one `integrator` step of size 1."""
        t = jnp.zeros((), z.dtype)
        if self.integrator == "euler":
            return z + self.dynamics(t, z, None)
        k1 = self.dynamics(t, z, None)
        k2 = self.dynamics(t, z + 0.5 * k1, None)
        k3 = self.dynamics(t, z + 0.5 * k2, None)
        k4 = self.dynamics(t, z + k3, None)
        return z + (k1 + 2 * k2 + 2 * k3 + k4) / 6

    def loss_terms(
        self, x: Float[Array, " pixels"], x_next: Float[Array, " pixels"]
    ) -> Float[Array, "3"]:
        """`[reconstruction, consistency, step]` of one row `(x_t, x_{t+1})`, as above."""
        # One vmapped encoder for both inputs: half the program of two calls, same numbers.
        z, z_next = jax.vmap(self.encode)(jnp.stack([x, x_next]))
        n = self.dof
        reconstruction = jnp.mean((x - self.decode(z)) ** 2)
        consistency = jnp.mean((z[n:] - (z_next[:n] - z[:n])) ** 2)
        step = jnp.mean((z_next - self.latent_step(z)) ** 2)
        return jnp.stack([reconstruction, consistency, step])
