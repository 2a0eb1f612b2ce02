"""Training a pixel dynamics model on frames: the HNN paper's combined loss and its defaults."""

import os
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from ._pixels import check_weights, PAPER_WEIGHTS, PixelDataset, PixelRows, weighted_loss
from ._training import fit, History, resolve_optimizer
from .models import PixelDynamics


def _check_rows(model: PixelDynamics, x: Array, x_next: Array) -> None:
    size = model.autoencoder.in_size
    for name, value in (("x", x), ("x_next", x_next)):
        if value.ndim != 2 or value.shape[-1] != size:
            raise ValueError(
                f"`{name}` must be a batch of inputs of shape (batch, {size}) for this model's "
                f"autoencoder, got shape {value.shape}."
            )
    if x.shape != x_next.shape:
        raise ValueError(
            f"`x` and `x_next` must have the same shape, got {x.shape} and {x_next.shape}."
        )


# Called eagerly, one compiled program per model and shapes (not one dispatch per operation).
@eqx.filter_jit
def _batch_loss(model, x, x_next, weights):
    return weighted_loss(jax.vmap(model.loss_terms)(x, x_next), weights)


def pixel_dynamics_loss(
    model: PixelDynamics,
    x: Float[Array, "batch pixels"],
    x_next: Float[Array, "batch pixels"],
    *,
    weights: Sequence[float] = PAPER_WEIGHTS,
) -> Scalar:
    r"""The HNN paper's pixel loss, averaged over a batch of rows $(x_t, x_{t+1})$.

    $$\mathcal L = \overline{w_1\,\mathrm{reconstruction} + w_2\,\mathrm{consistency} +
    w_3\,\mathrm{step}},$$
    the terms of [`lagrangian_zoo.models.PixelDynamics`][]`.loss_terms` with the paper's
    weights $(1, 1, 0.1)$ by default. It is also the paper's test loss of the task.

    **Arguments:**

    - `model`: a [`lagrangian_zoo.models.PixelDynamics`][].
    - `x`, `x_next`: inputs `(batch, 2 size²)` one frame apart, as
        [`lagrangian_zoo.PixelDataset`][]`.rows()` or `.sample(...)` give them.
    - `weights`: the three weights.

    **Returns:** the scalar loss.
    """
    if not isinstance(model, PixelDynamics):
        raise TypeError(f"`model` must be an lz.models.PixelDynamics, got {type(model).__name__}.")
    weights = check_weights(weights)
    x, x_next = jnp.asarray(x), jnp.asarray(x_next)
    _check_rows(model, x, x_next)
    return _batch_loss(model, x, x_next, jnp.asarray(weights, x.dtype))


def _sources(model, weights, **datasets) -> dict[str, PixelRows]:
    """The training sources of the datasets given, each checked against the model."""
    if not isinstance(model, PixelDynamics):
        raise TypeError(f"`model` must be an lz.models.PixelDynamics, got {type(model).__name__}.")
    sources = {}
    for name, value in datasets.items():
        if (value is not None or name == "data") and not isinstance(value, PixelDataset):
            raise TypeError(
                f"`{name}` must be an lz.PixelDataset (lz.pixel_pendulum_dataset), got "
                f"{type(value).__name__}."
            )
        if value is not None:
            value.check_model(model, f"`{name}`")
            sources[name] = value.source(weights)
    return sources


def fit_pixel_dynamics(
    model: PixelDynamics,
    data: PixelDataset,
    *,
    steps: int,
    key: PRNGKeyArray,
    batch_size: int = 200,
    learning_rate: float | optax.Schedule | None = None,
    weight_decay: float | None = None,
    optimizer: optax.GradientTransformation | None = None,
    weights: Sequence[float] = PAPER_WEIGHTS,
    eval_data: PixelDataset | None = None,
    log_every: int = 200,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    max_seconds: float | None = None,
    progress: bool = True,
) -> tuple[PixelDynamics, History]:
    r"""Trains a [`lagrangian_zoo.models.PixelDynamics`][] on frames with the HNN paper's loss
    and defaults: [`lagrangian_zoo.fit`][] on `data.source(weights)`.

    **Arguments:** those of `fit` (the same checkpoints, resuming, `max_seconds`, ...), and:

    - `data`, `eval_data`: [`lagrangian_zoo.PixelDataset`][]s, the training trials and those
        on all of whose rows the loss is measured at every log entry;
    - `key`: the key of the minibatches: step $i$ draws `batch_size` distinct rows with
        `data.sample(jax.random.fold_in(key, i), batch_size)`;
    - `batch_size` (200), `learning_rate` (constant, $10^{-3}$; or an optax schedule) and
        `weight_decay` ($10^{-5}$, added to the gradient before Adam, as PyTorch's): the
        paper's, or any optax `optimizer` instead of the last two;
    - `weights`: of reconstruction, consistency and latent step, the paper's $(1, 1, 0.1)$
        by default (see [`lagrangian_zoo.pixel_dynamics_loss`][]).

    **Returns:** `(model, history)`, as `fit`. The paper trains for 10 000 steps.
    """
    sources = _sources(model, weights, data=data, eval_data=eval_data)
    # The paper's optimizer: a constant learning rate, and PyTorch's weight decay.
    optimizer, _, _ = resolve_optimizer(
        optimizer, learning_rate, weight_decay, decay_steps=None, default_weight_decay=1e-5
    )
    return fit(
        model,
        sources["data"],
        eval_data=sources.get("eval_data"),
        # The minibatches come from `key` itself; neither adaptation nor evaluation draws.
        key=(key, key, key) if isinstance(key, jax.Array) else key,
        steps=steps,
        batch_size=batch_size,
        optimizer=optimizer,
        log_every=log_every,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=resume,
        max_seconds=max_seconds,
        adapt=False,
        progress=progress,
    )


__all__ = ["PAPER_WEIGHTS", "fit_pixel_dynamics", "pixel_dynamics_loss"]
