"""Training a pixel dynamics model on frames: the HNN paper's combined loss, compiled in chunks."""

import dataclasses
import functools
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from ._checkpoint import save_model
from ._fingerprint import data_fingerprint, optimizer_fingerprint
from ._io import is_prng_key, key_data
from ._pixels import PixelDataset
from ._training import (
    _all_finite,
    _Checkpoints,
    _ProgressBar,
    _trainable_spec,
    chunk_end,
    History,
    history_with_entry,
    pending_losses,
    without_metadata,
)
from .models import PixelDynamics


# The HNN paper's weights of reconstruction, latent-coordinate consistency and latent step.
PAPER_WEIGHTS = (1.0, 1.0, 0.1)
_EVAL_ROWS_PER_PASS = 512


def _check_weights(weights: Any) -> tuple[float, float, float]:
    if (
        not isinstance(weights, Sequence)
        or len(weights) != 3
        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights)
        or not all(math.isfinite(w) and w >= 0 for w in weights)
    ):
        raise ValueError(
            "`weights` must be three numbers >= 0 (reconstruction, consistency, latent step), "
            f"such as the paper's {PAPER_WEIGHTS}; got {weights!r}."
        )
    return tuple(float(w) for w in weights)  # type: ignore[return-value]


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


def _weighted(terms: Float[Array, "batch 3"], weights: Float[Array, "3"]) -> Scalar:
    return jnp.mean(terms @ weights.astype(terms.dtype))


def _batch_loss(model, x, x_next, weights):
    return _weighted(jax.vmap(model.loss_terms)(x, x_next), weights)


# Called eagerly, one compiled program per model and shapes (not one dispatch per operation).
_jitted_batch_loss = eqx.filter_jit(_batch_loss)


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
    weights = _check_weights(weights)
    x, x_next = jnp.asarray(x), jnp.asarray(x_next)
    _check_rows(model, x, x_next)
    return _jitted_batch_loss(model, x, x_next, jnp.asarray(weights, x.dtype))


@functools.lru_cache(maxsize=16)
def _paper_optimizer(
    learning_rate: float | optax.Schedule, weight_decay: float
) -> optax.GradientTransformation:
    # One object per setting, so that a later call finds the compiled chunk in the cache.
    adam = optax.adam(learning_rate)
    if weight_decay:
        # Added to the gradient before Adam, as torch.optim.Adam(weight_decay=...) does.
        return optax.chain(optax.add_decayed_weights(weight_decay), adam)
    return adam


@dataclasses.dataclass(frozen=True)
class _StepConfig:
    """What the compiled chunk is specialised on (hashable: a static argument). Where a chunk
    starts and stops and the weights are array inputs: another value runs the same program."""

    optimizer: optax.GradientTransformation
    capacity: int  # the most steps one chunk runs (the length of its loss buffer)
    batch_size: int


def _objective(params, static, x, x_next, weights):
    return _batch_loss(eqx.combine(params, static), x, x_next, weights)


@eqx.filter_jit
def _run_chunk(params, static, opt_state, data, start, stop, weights, key, config: _StepConfig):
    """The optimizer steps `start, ..., stop - 1` (at most `config.capacity`) as one loop whose
    trip count is an input, so one program runs chunks of every length. Each step draws its
    rows from its own key.

    **Returns:** `(params, opt_state, losses, finite)`, the loss of each step and whether it
    was finite in the first `stop - start` entries.
    """

    def one_step(index, carry):
        params, opt_state, values, finite = carry
        x, x_next = data.sample(jax.random.fold_in(key, start + index), config.batch_size)
        value, grads = eqx.filter_value_and_grad(_objective)(params, static, x, x_next, weights)
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = config.optimizer.update(grads, opt_state, params)
        params = eqx.apply_updates(params, updates)
        values = values.at[index].set(value)
        finite = finite.at[index].set(jnp.isfinite(value) & _all_finite(updates))
        return params, opt_state, values, finite

    values = jnp.zeros((config.capacity,), data.frames.dtype)
    finite = jnp.ones((config.capacity,), bool)
    count = jnp.minimum(stop - start, config.capacity)
    return jax.lax.fori_loop(0, count, one_step, (params, opt_state, values, finite))


@eqx.filter_jit
def _evaluate(params, static, x, x_next, weights):
    """The loss on all rows, in passes that bound the memory."""
    model = eqx.combine(params, static)
    terms = jax.lax.map(
        lambda row: model.loss_terms(*row), (x, x_next), batch_size=_EVAL_ROWS_PER_PASS
    )
    return _weighted(terms, weights)


def _positive_int(name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")


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
    r"""Trains a [`lagrangian_zoo.models.PixelDynamics`][] on frames with the paper's loss.

    Each step draws `batch_size` distinct rows $(x_t, x_{t+1})$ with
    `data.sample(jax.random.fold_in(key, step), batch_size)` and takes an optimizer step on
    [`lagrangian_zoo.pixel_dynamics_loss`][]. Steps run in chunks, each one loop of a program
    compiled once per model architecture and data shape, that end exactly where a history
    entry or a checkpoint is due; a run resumed from a checkpoint gives bit-identical
    parameters to an uninterrupted one.

    The defaults are the HNN paper's: batch 200, Adam with a constant learning rate $10^{-3}$
    and weight decay $10^{-5}$ added to the gradient (PyTorch's), weights $(1, 1, 0.1)$; the
    paper takes 10 000 steps.

    **Arguments:**

    - `model`: the model to train.
    - `data`: a [`lagrangian_zoo.PixelDataset`][] (the training split).
    - `steps`: the number of optimizer steps.
    - `key`: the PRNG key of the minibatches.
    - `batch_size`: rows per step.
    - `learning_rate`: Adam's learning rate (default $10^{-3}$, constant), or an optax schedule.
    - `weight_decay`: added to the gradient before Adam (default $10^{-5}$).
    - `optimizer`: any optax optimizer, instead of `learning_rate` and `weight_decay`.
    - `weights`: the weights of reconstruction, consistency and latent step.
    - `eval_data`: a `PixelDataset` on all of whose rows the loss is measured at every log
        entry.
    - `log_every`: steps between history entries.
    - `checkpoint_dir`: a folder for training checkpoints (`step_XXXXXXXXX.ckpt`, written
        atomically every `checkpoint_every` steps (default `10 * log_every`), when stopped
        by `max_seconds` or Ctrl-C, and at the end), `history.json`, and the final
        `model.lzm` (for [`lagrangian_zoo.load_model`][]).
    - `resume`: continue from the latest checkpoint in `checkpoint_dir`; the settings, the
        data (a fingerprint of its arrays) and the optimizer must be those of the
        interrupted run, or the checkpoint is refused with a message naming the difference.
    - `max_seconds`: stop, with a checkpoint, after the chunk of steps during which this many
        seconds of this call have passed; a later call with `resume=True` continues. The
        returned history then ends before `steps`, with an entry for the steps since the
        previous one.
    - `progress`: show the progress (a bar on a terminal, plain lines otherwise).

    **Returns:** `(model, history)`, the trained model and a [`lagrangian_zoo.History`][]
    (`train_loss`, and `eval_loss` on `eval_data`).

    A non-finite loss or update stops training with a `FloatingPointError` naming the step.
    """
    if not isinstance(model, PixelDynamics):
        raise TypeError(f"`model` must be an lz.models.PixelDynamics, got {type(model).__name__}.")
    for name, value in (("data", data), ("eval_data", eval_data)):
        if (value is not None or name == "data") and not isinstance(value, PixelDataset):
            raise TypeError(
                f"`{name}` must be an lz.PixelDataset (lz.pixel_pendulum_dataset), got "
                f"{type(value).__name__}."
            )
        if value is not None and 2 * value.size**2 != model.autoencoder.in_size:
            raise ValueError(
                f"`{name}` holds {value.size} x {value.size} frames, inputs of "
                f"{2 * value.size**2} values, but the model's autoencoder takes "
                f"{model.autoencoder.in_size}."
            )
    if not is_prng_key(key):
        raise TypeError(f"`key` must be a JAX PRNG key such as jax.random.key(0), got {key!r}.")
    _positive_int("steps", steps)
    _positive_int("batch_size", batch_size)
    _positive_int("log_every", log_every)
    _positive_int("checkpoint_every", checkpoint_every, optional=True)
    if batch_size > data.num_rows:
        raise ValueError(
            f"`batch_size` {batch_size} is larger than the {data.num_rows} rows of `data`."
        )
    if max_seconds is not None and not (
        isinstance(max_seconds, (int, float))
        and not isinstance(max_seconds, bool)
        and max_seconds > 0
    ):
        raise ValueError(f"`max_seconds` must be a positive number or None, got {max_seconds!r}.")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the `checkpoint_dir` of the run to continue.")
    weights = _check_weights(weights)
    if optimizer is not None:
        if learning_rate is not None or weight_decay is not None:
            raise ValueError(
                "pass either `optimizer` or `learning_rate`/`weight_decay`, not both: the "
                "optimizer already holds its learning rate."
            )
    else:
        learning_rate = 1e-3 if learning_rate is None else learning_rate
        weight_decay = 1e-5 if weight_decay is None else weight_decay
        if not callable(learning_rate) and not (
            isinstance(learning_rate, (int, float)) and learning_rate > 0
        ):
            raise ValueError(
                f"`learning_rate` must be a positive number or an optax schedule, got "
                f"{learning_rate!r}."
            )
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
            raise ValueError(f"`weight_decay` must be a number >= 0, got {weight_decay!r}.")
        optimizer = _paper_optimizer(learning_rate, weight_decay)
    checkpoint_every = 10 * log_every if checkpoint_every is None else checkpoint_every

    settings = {
        "steps": steps,
        "batch_size": batch_size,
        "key": key_data(key),
        "weights": list(weights),
        "learning_rate": learning_rate if isinstance(learning_rate, (int, float)) else None,
        "weight_decay": weight_decay,
        "data": data_fingerprint(data),
        "optimizer": optimizer_fingerprint(optimizer),
    }
    spec = _trainable_spec(model)
    params, static = eqx.partition(model, spec)
    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)
    history = History.from_dict({})
    folder = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
    checkpoints = _Checkpoints(folder, settings)
    restored = checkpoints.restore((model, opt_state), resume=resume)
    step = 0
    # The losses of the steps since the last history entry, one array per chunk.
    pending: list[np.ndarray] = []
    if restored is not None:
        model, opt_state, step, saved_history = restored
        history = History.from_dict(saved_history)
        pending = pending_losses(saved_history)
        params, static = eqx.partition(model, spec)

    data = without_metadata(data)
    config = _StepConfig(
        optimizer=optimizer,
        # No chunk runs past a history entry, so none is longer than this.
        capacity=min(log_every, steps),
        batch_size=batch_size,
    )
    # Chunks end where a history entry or a checkpoint is due, at its exact step.
    events = [log_every] if folder is None else [log_every, checkpoint_every]
    weight_array = jnp.asarray(weights, data.frames.dtype)
    if eval_data is not None:
        eval_x, eval_x_next = eval_data.rows()

    elapsed_before = float(history.seconds[-1]) if history.seconds.size else 0.0
    started = time.perf_counter()
    first_step = step
    saved_step = step if folder is not None and step > 0 else -1
    bar = _ProgressBar(steps, step) if progress else None

    try:
        while step < steps:
            stop = chunk_end(step, steps, events, config.capacity)
            new_params, new_opt_state, values, finite = _run_chunk(
                params,
                static,
                opt_state,
                data,
                jnp.asarray(step, jnp.int32),
                jnp.asarray(stop, jnp.int32),
                weight_array,
                key,
                config,
            )
            values, finite = np.asarray(values)[: stop - step], np.asarray(finite)[: stop - step]
            if not finite.all():
                bad = int(np.argmin(finite))
                where = (
                    f"The last good checkpoint (step {saved_step}) in '{folder}' is kept."
                    if saved_step >= 0
                    else "No checkpoint was written."
                )
                raise FloatingPointError(
                    f"training stopped at step {step + bad}: the loss or the parameter update "
                    f"is not finite (loss {values[bad]}). {where} Lower the learning rate; "
                    "with a latent LNN, use the Euler latent step (integrator='euler'), or "
                    "another initialisation: where its learned mass matrix crosses zero the "
                    "accelerations are infinite."
                )
            # One assignment, so that a Ctrl-C never finds the step count and the pending
            # losses out of step with each other.
            params, opt_state, step, pending = new_params, new_opt_state, stop, [*pending, values]
            out_of_time = max_seconds is not None and time.perf_counter() - started > max_seconds
            # A run stopped by the time limit logs the steps since the last entry too: the
            # returned history holds every step's loss.
            if step % log_every == 0 or step == steps or out_of_time:
                eval_loss = math.nan
                if eval_data is not None:
                    eval_loss = float(_evaluate(params, static, eval_x, eval_x_next, weight_array))
                seconds = elapsed_before + time.perf_counter() - started
                entry = history_with_entry(history, step, pending, eval_loss, seconds)
                history, pending = entry, []
                if bar is not None:
                    rate = (step - first_step) / max(time.perf_counter() - started, 1e-9)
                    bar.update(step, float(history.train_loss[-1]), eval_loss, rate)
            if folder is not None and (
                step % checkpoint_every == 0 or step == steps or out_of_time
            ):
                checkpoints.save(step, eqx.combine(params, static), opt_state, history, pending)
                saved_step = step
            if out_of_time:
                break
    except KeyboardInterrupt:
        logged_now = bool(pending)
        if logged_now:
            # The losses since the last entry get an entry of their own, at the step reached,
            # in the history the checkpoint keeps.
            seconds = elapsed_before + time.perf_counter() - started
            history, pending = history_with_entry(history, step, pending, math.nan, seconds), []
        if folder is not None and (step > saved_step or logged_now):
            checkpoints.save(step, eqx.combine(params, static), opt_state, history)
        raise
    finally:
        if bar is not None:
            bar.close()

    model = eqx.combine(params, static)
    if folder is not None and step == steps:
        save_model(os.path.join(folder, "model.lzm"), model)
    return model, history


__all__ = ["PAPER_WEIGHTS", "fit_pixel_dynamics", "pixel_dynamics_loss"]
