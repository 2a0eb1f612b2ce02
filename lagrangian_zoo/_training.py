"""Training: `fit`, the one training loop, over any source of rows and its loss."""

import contextlib
import dataclasses
import functools
import json
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray, PyTree, Scalar

from ._checkpoint import (
    checkpoint_damage,
    load_training_state,
    save_model,
    save_training_state,
)
from ._distributed import (
    batch_devices,
    check_batch_size,
    constrain_batch,
    constrain_replicated,
    gather_to_host,
    replicate,
    training_placement,
)
from ._fingerprint import data_fingerprint, function_fingerprint, optimizer_fingerprint
from ._io import atomic_write, is_prng_key, key_data
from ._source import (
    AbstractDataSource,
    AbstractFiniteSource,
    AbstractInputSource,
    AbstractPredictionSource,
)
from ._validation import non_negative_number, positive_int, positive_number, prng_key
from ._windows import RolloutWindows
from .models._base import AbstractDynamics, trainable_filter


_LOSSES: dict[str, Callable[[Array, Array], Scalar]] = {
    "l2": lambda prediction, target: jnp.mean((prediction - target) ** 2),
    "l1": lambda prediction, target: jnp.mean(jnp.abs(prediction - target)),
}

_CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.ckpt$")
_KEEP_CHECKPOINTS = 2
# States drawn from a StateStream to set a model's input statistics, and to evaluate on.
_STREAM_ADAPT_SAMPLES = 8192
_STREAM_EVAL_SAMPLES = 4096
_EVAL_ROWS_PER_PASS = 4096


@dataclasses.dataclass(frozen=True)
class History:
    """What happened during [`lagrangian_zoo.fit`][], one entry per logged step.

    **Fields:**

    - `step`: the number of completed training steps at each entry.
    - `train_loss`: the mean training loss over the steps since the previous entry.
    - `eval_loss`: the loss on `eval_data` (NaN where it was not evaluated).
    - `seconds`: wall-clock seconds since training started (over resumed runs too).
    - `devices`: the number of devices each batch was split over (1 without data
        parallelism).
    """

    step: np.ndarray
    train_loss: np.ndarray
    eval_loss: np.ndarray
    seconds: np.ndarray
    devices: int = 1

    def as_dict(self) -> dict[str, list]:
        """Plain lists (NaN as `None`), as written to `history.json`."""

        def plain(values):
            return [None if isinstance(v, float) and math.isnan(v) else v for v in values]

        return {
            "step": [int(s) for s in self.step],
            "train_loss": plain([float(v) for v in self.train_loss]),
            "eval_loss": plain([float(v) for v in self.eval_loss]),
            "seconds": [float(s) for s in self.seconds],
        }

    @classmethod
    def from_dict(cls, values: dict[str, list]) -> "History":
        def floats(name):
            return np.array(
                [np.nan if v is None else v for v in values.get(name, [])], dtype=np.float64
            )

        return cls(
            step=np.array(values.get("step", []), dtype=np.int64),
            train_loss=floats("train_loss"),
            eval_loss=floats("eval_loss"),
            seconds=floats("seconds"),
        )

    def append(self, step: int, train_loss: float, eval_loss: float, seconds: float):
        return dataclasses.replace(
            self,
            step=np.append(self.step, np.int64(step)),
            train_loss=np.append(self.train_loss, train_loss),
            eval_loss=np.append(self.eval_loss, eval_loss),
            seconds=np.append(self.seconds, seconds),
        )

    def as_csv(self) -> str:
        """`step,train_loss,eval_loss,seconds` lines (an empty field where NaN), as written
        to `history.csv`."""
        lines = ["step,train_loss,eval_loss,seconds"]
        for step, train, evaluation, seconds in zip(
            self.step, self.train_loss, self.eval_loss, self.seconds
        ):
            fields = [f"{v:.9g}" if math.isfinite(v) else "" for v in (train, evaluation)]
            lines.append(f"{int(step)},{fields[0]},{fields[1]},{float(seconds):.3f}")
        return "\n".join(lines) + "\n"


def history_with_entry(
    history: History,
    step: int,
    pending: Sequence[np.ndarray],
    eval_loss: float,
    seconds: float,
) -> History:
    """`history` with an entry at `step` whose training loss is the mean of `pending`, the
    losses of the steps since the previous entry."""
    return history.append(step, float(np.mean(np.concatenate(pending))), eval_loss, seconds)


# The header entry of a training checkpoint that holds the losses of the steps since the last
# history entry, so that a resumed run's next entry averages over all of its steps.
_PENDING_LOSSES = "pending_train_loss"


def pending_losses(saved_history: dict[str, Any]) -> list[np.ndarray]:
    """The losses since the last entry, as saved in a checkpoint's history (none before)."""
    values = saved_history.get(_PENDING_LOSSES) or []
    return [np.asarray(values, dtype=np.float64)] if values else []


def chunk_end(step: int, steps: int, intervals: Sequence[int], capacity: int) -> int:
    """Where the chunk of steps from `step` ends: at the next multiple of any of `intervals`
    (where something is logged, evaluated or saved), at `steps`, or after `capacity` steps,
    whichever comes first."""
    ends = [steps, step + capacity, *((step // every + 1) * every for every in intervals)]
    return min(ends)


def _trainable_spec(model: eqx.Module) -> PyTree[bool]:
    """`lagrangian_zoo.models.trainable_filter(model)` restricted to floating arrays."""

    def restrict(keep, subtree):
        return jax.tree.map(lambda x: bool(keep) and eqx.is_inexact_array(x), subtree)

    return jax.tree.map(restrict, trainable_filter(model), model)


def _resolve_loss(loss, data) -> tuple[Callable[[Array, Array], Scalar], str]:
    if not isinstance(data, (AbstractPredictionSource, AbstractInputSource)) and not (
        isinstance(loss, str) and loss == "l2"
    ):
        raise ValueError(
            f"`loss` compares a model's predictions with targets, but `data` (a "
            f"{type(data).__name__}) has a loss of its own; leave `loss` at its default, got "
            f"{loss!r}."
        )
    if callable(loss):
        return loss, getattr(loss, "__qualname__", type(loss).__name__)
    if loss in _LOSSES:
        return _LOSSES[loss], loss
    if loss == "rollout":
        if isinstance(data, AbstractInputSource):
            raise ValueError(
                f"loss='rollout' rolls a model out without inputs, but `data` (a "
                f"{type(data).__name__}) holds states under inputs; train with 'l2' or 'l1' and "
                "compare rollouts under the recorded inputs with lz.rollout_with_inputs."
            )
        return _LOSSES["l2"], "rollout"
    raise ValueError(
        "`loss` must be 'l2', 'l1', 'rollout' or a callable loss(prediction, target) -> "
        f"scalar, got {loss!r}."
    )


# The same settings give the same optimizer object, so a later `fit` with them finds the
# compiled training loop in the cache: optax builds fresh closures on every call, and a fresh
# closure is a new program to `jit`.
@functools.lru_cache(maxsize=32)
def _default_optimizer(
    learning_rate: float | optax.Schedule,
    weight_decay: float,
    decay_steps: int | None,
    gradient_clip: float | None = None,
) -> optax.GradientTransformation:
    """Adam, with a learning rate decayed to zero over `decay_steps` by a cosine schedule
    (constant for `None`) unless it is a schedule already."""
    if callable(learning_rate) or decay_steps is None:
        schedule = learning_rate
    else:
        schedule = optax.cosine_decay_schedule(init_value=learning_rate, decay_steps=decay_steps)
    transforms = [optax.adam(schedule)]
    if weight_decay:
        # Added to the gradient before Adam, as torch.optim.Adam(weight_decay=...) in the HNN
        # paper does.
        transforms.insert(0, optax.add_decayed_weights(weight_decay))
    if gradient_clip is not None:
        # The raw gradient is clipped first: an LNN's first steps on fast states (a double
        # pendulum's velocities up to 10) give gradients many orders larger than later ones,
        # and one unclipped step can throw the network where it no longer learns.
        transforms.insert(0, optax.clip_by_global_norm(gradient_clip))
    return transforms[0] if len(transforms) == 1 else optax.chain(*transforms)


def _all_finite(tree: PyTree) -> Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if eqx.is_inexact_array(x)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _checkpoints(folder: str) -> list[tuple[int, str]]:
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = _CHECKPOINT_PATTERN.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(folder, name)))
    return sorted(found)


def _check_inputs(model, data, eval_data, key, batch_size) -> None:
    """Refuses arguments of `fit` of the wrong kind, naming each."""
    if not isinstance(model, eqx.Module) or not callable(model):
        raise TypeError(
            f"`model` must be an Equinox module model(t, y, args) -> dy/dt, got "
            f"{type(model).__name__}."
        )
    if not isinstance(data, AbstractDataSource):
        raise TypeError(
            "`data` must be a lz.Dataset or lz.StateStream (an AbstractDataSource; for frames, "
            f"a PixelDataset's .source()), got {type(data).__name__}."
        )
    if eval_data is not None and not isinstance(eval_data, AbstractDataSource):
        raise TypeError(
            f"`eval_data` must be a lz.Dataset or lz.StateStream, got {type(eval_data).__name__}."
        )
    keys = key if isinstance(key, tuple) and len(key) == 3 else (key,)
    if not all(is_prng_key(each) for each in keys):
        prng_key("", "key", key)  # refuses it, naming the whole argument as it came
    if batch_size is None:
        if not isinstance(data, AbstractFiniteSource):
            raise ValueError(
                "batch_size=None (full batch) needs a Dataset; a StateStream draws fresh "
                "states, so give it a batch size."
            )
    else:
        positive_int("", "batch_size", batch_size)


def resolve_optimizer(
    optimizer,
    learning_rate,
    weight_decay,
    gradient_clip=None,
    *,
    decay_steps: int | None,
    default_weight_decay: float = 0.0,
):
    """The optimizer to use, and the learning rate and weight decay it was built from: the
    one given, or Adam from the checked settings (see `_default_optimizer`)."""
    if optimizer is not None:
        if learning_rate is not None or weight_decay is not None or gradient_clip is not None:
            raise ValueError(
                "pass either `optimizer` or `learning_rate`/`weight_decay`/`gradient_clip`, "
                "not both: the optimizer already holds its learning rate (chain "
                "optax.clip_by_global_norm into it to clip)."
            )
        return optimizer, learning_rate, weight_decay
    learning_rate = 1e-3 if learning_rate is None else learning_rate
    weight_decay = default_weight_decay if weight_decay is None else weight_decay
    if not callable(learning_rate) and not (
        isinstance(learning_rate, (int, float)) and learning_rate > 0
    ):
        raise ValueError(
            f"`learning_rate` must be a positive number or an optax schedule, got "
            f"{learning_rate!r}."
        )
    non_negative_number("", "weight_decay", weight_decay)
    if gradient_clip is not None:
        clip = "a positive number (the largest global gradient norm) or None"
        positive_number("", "gradient_clip", gradient_clip, expected=clip, expected_value=clip)
    optimizer = _default_optimizer(learning_rate, weight_decay, decay_steps, gradient_clip)
    return optimizer, learning_rate, weight_decay


def _check_state_sizes(model, **sources) -> None:
    """Refuses rows of model states that do not have the model's `2 * dof` entries."""
    if not isinstance(model, AbstractDynamics):
        return
    dof = model.dof
    for name, source in sources.items():
        if isinstance(source, AbstractInputSource):
            y_shape = jax.eval_shape(source.model_states)
        elif isinstance(source, AbstractPredictionSource):
            y_shape, _ = jax.eval_shape(lambda: source.sample(jax.random.key(0), 1))
        else:
            continue
        if y_shape.shape[-1] != 2 * dof:
            raise ValueError(
                f"`{name}` holds states of {y_shape.shape[-1]} entries, but the model "
                f"{type(model).__name__} has dof={dof} and expects 2 * dof = {2 * dof}."
            )


def _fingerprints(data, optimizer, loss, *, warn: bool) -> dict[str, str | None]:
    """What else decides the computation, fingerprinted: the training data, the optimizer
    (its kind and hyperparameters, read from optax's closures) and a callable loss."""
    found = {"data": data_fingerprint(data), "optimizer": optimizer_fingerprint(optimizer)}
    if callable(loss):
        found["loss_function"] = function_fingerprint(loss)
    if warn and found["optimizer"] is None:
        warnings.warn(
            "fit(resume=True) cannot tell whether the optimizer is the one of the interrupted "
            "run: no hyperparameters were found in it. Resume only with the same optimizer.",
            stacklevel=3,
        )
    return found


def _solver_name(solver: Any) -> str:
    """A solver's name for the resume settings: its name, or its class and fields."""
    return solver if isinstance(solver, str) else repr(solver)


def fit(
    model: eqx.Module,
    data: Any,
    *,
    steps: int,
    key: PRNGKeyArray | tuple[PRNGKeyArray, PRNGKeyArray, PRNGKeyArray],
    batch_size: int | None = 256,
    learning_rate: float | optax.Schedule | None = None,
    weight_decay: float | None = None,
    gradient_clip: float | None = None,
    optimizer: optax.GradientTransformation | None = None,
    loss: str | Callable[[Array, Array], Scalar] = "l2",
    eval_data: Any = None,
    eval_every: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    max_seconds: float | None = None,
    rollout_window: int = 5,
    rollout_solver: str | diffrax.AbstractSolver = "rk4",
    adapt: bool = True,
    progress: bool = True,
    log_every: int = 100,
    devices: Literal["auto"] | Sequence[jax.Device] | None = "auto",
    mesh: jax.sharding.Mesh | None = None,
) -> tuple[eqx.Module, History]:
    r"""Trains a model on a data source: by default its vector field `model(t, y, args)` to
    match the derivatives `dy`.

    Each step draws a minibatch `(y, dy)` with `data.sample(jax.random.fold_in(key, i),
    batch_size)` and takes an optimizer step on `loss(model(y), dy)` over all `2n` components
    (the HNN paper's test loss for `"l2"`); a source with a loss of its own (the frames of
    `PixelDataset.source()`) scores the model by it. This is the one training loop of the
    library: the source gives the batches and the loss, the loop everything else. The steps
    are compiled once, as a loop whose length is an input of the program, and run in chunks
    that end exactly where something is logged, evaluated or saved; only
    `lagrangian_zoo.models.trainable_filter(model)` leaves are trained (input statistics stay
    fixed). Because every step's randomness comes from its index, a run resumed from a
    checkpoint gives bit-identical parameters to an uninterrupted one.

    **Arguments:**

    - `model`: an Equinox vector field `model(t, y, args) -> dy/dt`.
    - `data`: a [`lagrangian_zoo.Dataset`][] or [`lagrangian_zoo.StateStream`][], the
        training rows of a [`lagrangian_zoo.PixelDataset`][] (its `source()`), data with
        inputs ([`lagrangian_zoo.InputDataset`][] for a forward-dynamics loss,
        [`lagrangian_zoo.InverseDynamicsSource`][] for an inverse-dynamics one), or any
        [`lagrangian_zoo.AbstractDataSource`][] (`sample(key, batch_size) -> (y, target)`
        and the loss on those rows).
    - `steps`: the number of optimizer steps.
    - `key`: the PRNG key of the whole run, split into the keys of the minibatches, of the
        adaptation sample and of the evaluation sample; or those three keys as a tuple.
    - `batch_size`: rows per step; `None` uses every row of a `Dataset` in every step
        (full batch, as in the HNN paper).
    - `learning_rate`: Adam's initial learning rate (default `1e-3`), decayed to zero over
        `steps` by a cosine schedule; or an optax schedule.
    - `weight_decay`: L2 penalty added to the gradient before Adam (default none).
    - `gradient_clip`: scale each gradient down to at most this global norm before the
        rest of the update (default none). An LNN on a wide distribution of states (the LNN
        paper's double pendulum) barely learns without it: `1.0` is the library's recipe.
    - `optimizer`: any optax optimizer, instead of `learning_rate`, `weight_decay` and
        `gradient_clip`.
    - `loss`: `"l2"` (mean squared error), `"l1"` (mean absolute error) or a callable
        `loss(prediction, target) -> scalar` on batches of shape `(batch, 2n)`; or
        `"rollout"`: the model is rolled out (RK4, through Diffrax) from the first state of
        random windows of `rollout_window` samples of a `Dataset`'s trajectories and the
        squared error to the whole window is minimised (`eval_data` then a `Dataset` too).
        A source with a loss of its own (pixel frames) takes only the default.
    - `rollout_window`: samples per window for `loss="rollout"`.
    - `rollout_solver`: the fixed-step solver of those windows: a name of
        [`lagrangian_zoo.rollout`][] (`"rk4"`, `"gl4"`, `"yoshida4"`, ...) or a Diffrax solver.
    - `eval_data`: a `Dataset` (all its rows) or `StateStream` (a fixed sample) on which the
        loss is measured every `eval_every` steps and at the end, by the source's own loss
        (comparing its targets with its own `predict`), as in training.
    - `checkpoint_dir`: a folder for training checkpoints (`step_XXXXXXXXX.ckpt`, written
        atomically every `checkpoint_every` steps, when interrupted by Ctrl-C, and at the
        end), `history.json`, the final model `model.lzm` (for
        [`lagrangian_zoo.load_model`][], when the model has a `config()` method), and
        `history.csv`, rewritten (atomically) at every history entry so that a long run can
        be watched as it goes (`tail -f`, a spreadsheet, or `pandas.read_csv`).
    - `resume`: continue from the latest checkpoint in `checkpoint_dir` (or start afresh if
        there is none; from the one before it, with a warning, when the latest is damaged).
        The other arguments must be those of the interrupted run: the checkpoint records the
        settings, a fingerprint of the training data (its arrays and functions, such as a
        stream's sampler), of the optimizer (its kind and the hyperparameters optax keeps in
        its closures, schedules included) and of a callable loss, and a difference is
        refused with a message naming it. An optimizer whose hyperparameters cannot be read
        gets a warning instead.
    - `adapt`: call `model.adapt(states)` once before training, when the model has it and
        the rows are its states, to set its input statistics (from all rows of a `Dataset`,
        or a large sample of a `StateStream`).
    - `max_seconds`: stop, with a history entry and a checkpoint, after the chunk of steps
        during which this many seconds of this call have passed; a later call with
        `resume=True` continues. The returned history then ends before `steps`.
    - `progress`: show a progress bar (rich) with the loss and steps per second.
    - `log_every`: steps between history entries (and progress updates). Every evaluation,
        the end, and a Ctrl-C (for the steps since the last entry) add an entry too.
    - `devices`: where to train. `"auto"` (default) shards every batch over all devices
        (`jax.devices()`, every process's after `jax.distributed` initialisation) when
        there is more than one, and otherwise runs as on one device; `None` uses JAX's
        default device; a sequence of devices shards over exactly those (one device: runs
        there, unsharded).
    - `mesh`: a `jax.sharding.Mesh` with an axis `"batch"`, instead of `devices`.

    `eval_every` and `checkpoint_every` default to `log_every` and `10 * log_every`.

    With several devices the training is data parallel: each minibatch is drawn whole (the
    same rows as on one device), split along its first axis over the mesh's `"batch"` axis,
    and the compiled step is partitioned by `jax.jit`, with the parameters and optimizer state
    replicated. `batch_size` must then be a multiple of the number of devices (a full batch
    need not be: the compiler pads the last share). The result equals the one-device result
    up to rounding: only the order in which the sums over the batch (loss and gradients) add
    up their terms differs, by partial sums per device (in float64, parameters agree to about
    1e-15 relative after hundreds of steps). Checkpoints are interchangeable between device
    counts; resuming on the same devices is bit-identical.

    **Returns:** `(model, history)`: the trained model and a `History` of numpy arrays.

    A non-finite loss or update stops training with a `FloatingPointError` naming the step;
    the last good checkpoint is kept, never overwritten by the broken model.
    """
    positive_int("", "steps", steps)
    positive_int("", "log_every", log_every)
    for name, every in (("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
        if every is not None:
            positive_int("", name, every)
    if max_seconds is not None:
        budget = "a positive number or None"
        positive_number("", "max_seconds", max_seconds, expected=budget, expected_value=budget)
    _check_inputs(model, data, eval_data, key, batch_size)
    full_batch = batch_size is None
    optimizer, learning_rate, weight_decay = resolve_optimizer(
        optimizer, learning_rate, weight_decay, gradient_clip, decay_steps=steps
    )
    loss_fn, loss_name = _resolve_loss(loss, data)
    original_data = data
    data = without_metadata(data)
    eval_data = None if eval_data is None else without_metadata(eval_data)
    if loss_name == "rollout":
        data = RolloutWindows(data, rollout_window, solver=rollout_solver)
        if eval_data is not None:
            eval_data = RolloutWindows(eval_data, rollout_window, solver=rollout_solver)
    _check_state_sizes(model, data=data, eval_data=eval_data)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the `checkpoint_dir` of the run to continue.")

    # What a resumed run must share with the interrupted one (the device count may differ).
    settings = {
        "steps": steps,
        "batch_size": batch_size,
        "key": [key_data(k) for k in key] if isinstance(key, tuple) else key_data(key),
        "loss": loss_name,
        "learning_rate": learning_rate if isinstance(learning_rate, (int, float)) else None,
        "weight_decay": weight_decay,
        # Only when set, so that checkpoints written before the argument existed still resume.
        **({"gradient_clip": gradient_clip} if gradient_clip is not None else {}),
        "adapt": bool(adapt),
        **({"rollout_window": rollout_window} if loss_name == "rollout" else {}),
        # Only when not the default, so that checkpoints written before it still resume.
        **(
            {"rollout_solver": _solver_name(rollout_solver)}
            if loss_name == "rollout" and _solver_name(rollout_solver) != "rk4"
            else {}
        ),
        **_fingerprints(original_data, optimizer, loss, warn=resume),
    }
    mesh, device = training_placement(devices, mesh)
    if mesh is not None and not full_batch:
        check_batch_size(batch_size, mesh)
    plan = _Plan(
        steps=steps,
        key=key,
        config=_StepConfig(
            optimizer=optimizer,
            loss_fn=loss_fn,
            # No chunk runs past a history entry, so none is longer than this.
            capacity=min(log_every, steps),
            batch_size=None if full_batch else batch_size,
            mesh=mesh,
        ),
        eval_data=eval_data,
        log_every=log_every,
        eval_every=log_every if eval_every is None else eval_every,
        checkpoint_every=10 * log_every if checkpoint_every is None else checkpoint_every,
        folder=None if checkpoint_dir is None else os.fspath(checkpoint_dir),
        settings=settings,
        resume=resume,
        adapt=adapt,
        progress=progress,
        max_seconds=max_seconds,
    )
    # One device other than the default one: let JAX place everything there.
    placement = contextlib.nullcontext() if device is None else jax.default_device(device)
    with placement:
        return _train(model, data, plan)


@dataclasses.dataclass(frozen=True)
class _StepConfig:
    """What the compiled training chunk is specialised on.

    Hashable, and a static argument of `_run_chunk`: a later `fit` with equal settings (and
    the same shapes) reuses the compiled program instead of building a new one. The number of
    steps a chunk runs is not in it: that is an input of the program.
    """

    optimizer: optax.GradientTransformation
    loss_fn: Callable[[Array, Array], Scalar]
    capacity: int  # the most steps one chunk runs (the length of its loss buffer)
    batch_size: int | None  # None: every row of a Dataset in every step
    mesh: jax.sharding.Mesh | None


def _draw(config: _StepConfig, data, key: PRNGKeyArray, step_number: Array):
    """The minibatch of one step, from the step's own key, split over the mesh if any."""
    if config.batch_size is None:
        batch = data.states()
    else:
        batch = data.sample(jax.random.fold_in(key, step_number), config.batch_size)
    if config.mesh is not None:
        # The batch is drawn whole from the same key as on one device, then split: every
        # device computes the loss of its own rows only.
        batch = constrain_batch(batch, config.mesh)
    return batch


def _objective(params, static, data, y, target, loss_fn):
    """The source's loss of the model `(params, static)` on the rows `(y, target)`."""
    values = data.per_row(eqx.combine(params, static), y, target)
    return data.loss(values, target, loss_fn)


@eqx.filter_jit
def _run_chunk(params, static, opt_state, data, start, stop, key, config: _StepConfig):
    """The optimizer steps `start, ..., stop - 1` (at most `config.capacity` of them), as one
    loop inside one compiled program.

    A pure function of its inputs: `static` (the untrained arrays, such as input statistics)
    and the data are arguments, so they are inputs of the program, not constants in it. So
    are `start` and `stop`: a chunk of any length up to the capacity runs the same program, so
    chunks can end exactly where the training loop next logs, evaluates or checkpoints.

    **Returns:** `(params, opt_state, losses, finite)`, where `losses[i]` and `finite[i]` are
    the loss of step `start + i` and whether that step was finite; entries from `stop - start`
    on are padding.
    """
    loss_shape = jax.eval_shape(
        lambda: _objective(params, static, data, *_draw(config, data, key, start), config.loss_fn)
    )

    def one_step(index, carry):
        params, opt_state, values, finite = carry
        y, dy = _draw(config, data, key, start + index)
        value, grads = eqx.filter_value_and_grad(_objective)(
            params, static, data, y, dy, config.loss_fn
        )
        # optax mixes Python floats with integer step counts (bias corrections, schedules),
        # which strict dtype promotion refuses.
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = config.optimizer.update(grads, opt_state, params)
        params = eqx.apply_updates(params, updates)
        if config.mesh is not None:
            params, opt_state = constrain_replicated((params, opt_state), config.mesh)
        values = values.at[index].set(value)
        finite = finite.at[index].set(jnp.isfinite(value) & _all_finite(updates))
        return params, opt_state, values, finite

    values = jnp.zeros((config.capacity,), loss_shape.dtype)
    finite = jnp.ones((config.capacity,), bool)
    # A loop whose trip count is an input: one program serves chunks of every length.
    count = jnp.minimum(stop - start, config.capacity)
    return jax.lax.fori_loop(0, count, one_step, (params, opt_state, values, finite))


@eqx.filter_jit
def _evaluate(params, static, eval_data, y, target, loss_fn, mesh):
    """The loss on all evaluation rows, by the source's own loss as in training, with its
    per-row values computed in passes that bound the memory."""
    model = eqx.combine(params, static)
    values = _per_row_in_passes(eval_data, model, y, target, mesh)
    if mesh is not None:
        values, target = constrain_batch((values, target), mesh)
    return eval_data.loss(values, target, loss_fn)


def _per_row_in_passes(
    source: AbstractDataSource,
    model,
    y: Array,
    target: Array,
    mesh: jax.sharding.Mesh | None,
) -> PyTree[Array]:
    """`source.per_row(model, y, target)`, in passes of at most `_EVAL_ROWS_PER_PASS` rows,
    each split over `mesh` when there is one.

    The rows are padded (with copies of the last one) to whole passes that split evenly, and
    the padding is dropped from the result.
    """
    rows = y.shape[0]
    count = 1 if mesh is None else batch_devices(mesh)
    per_pass = max(count, _EVAL_ROWS_PER_PASS // count * count)
    per_pass = min(per_pass, -(-rows // count) * count)
    passes = -(-rows // per_pass)

    def one_pass(chunk):
        if mesh is None:
            return source.per_row(model, *chunk)
        return constrain_batch(source.per_row(model, *constrain_batch(chunk, mesh)), mesh)

    if passes * per_pass == rows == per_pass:
        return one_pass((y, target))

    def in_passes(x):
        padded = jnp.pad(x, [(0, passes * per_pass - rows)] + [(0, 0)] * (x.ndim - 1), mode="edge")
        return padded.reshape(passes, per_pass, *x.shape[1:])

    values = jax.lax.map(one_pass, (in_passes(y), in_passes(target)))
    return jax.tree.map(lambda x: x.reshape(passes * per_pass, *x.shape[2:])[:rows], values)


def _reason(path: str, error: Exception) -> str:
    """The first sentence of an error about the file `path`, without the file's name."""
    text = str(error).removeprefix(f"'{path}' ")
    return text.split(". ")[0].rstrip(".")


class _Checkpoints:
    """The training checkpoints of one run folder: discovery, atomic saves and rotation."""

    def __init__(self, folder: str | None, settings: dict[str, Any]):
        self.folder = folder
        self.settings = settings
        # With several processes they all hold the same replicated state; one of them writes.
        self.writer = jax.process_index() == 0

    def existing(self) -> list[tuple[int, str]]:
        return [] if self.folder is None else _checkpoints(self.folder)

    def restore(self, like: tuple[PyTree, PyTree], *, resume: bool):
        """`(model, opt_state, step, history)` from the latest checkpoint (from an earlier one,
        with a warning, when the latest is damaged), or `None` to start afresh; creates the
        folder. Checkpoints of another run are refused unless `resume`, and a resumed run's
        settings must be those saved."""
        if self.folder is None:
            return None
        existing = self.existing()
        if existing and not resume:
            raise FileExistsError(
                f"'{self.folder}' already holds training checkpoints (latest: step "
                f"{existing[-1][0]}). Pass resume=True to continue that run, or choose an "
                "empty checkpoint_dir."
            )
        os.makedirs(self.folder, exist_ok=True)
        damaged: list[tuple[str, ValueError, ValueError]] = []
        for step, path in reversed(existing):
            try:
                restored = load_training_state(path, like, settings=self.settings)
            except ValueError as error:
                damage = checkpoint_damage(path)
                if damage is None:
                    raise
                # The previous checkpoint is kept for this: a file cut short or corrupted
                # (a full disk, a bad copy) costs the steps since that one, not the run.
                damaged.append((path, error, damage))
                continue
            if damaged:
                names = "; ".join(f"'{bad}' {_reason(bad, damage)}" for bad, _, damage in damaged)
                newest = "checkpoint" if len(damaged) == 1 else f"{len(damaged)} checkpoints"
                warnings.warn(
                    f"fit(resume=True): the newest {newest} cannot be used: {names}. Resuming "
                    f"from the latest intact one, '{path}' (step {step}).",
                    stacklevel=4,
                )
            return restored
        if damaged:
            raise damaged[0][1]
        return None

    def log(self, history: "History") -> None:
        """Rewrites `history.csv` (atomically): a live log of a run, one line per entry."""
        if self.folder is not None and self.writer:
            csv = history.as_csv().encode()
            atomic_write(os.path.join(self.folder, "history.csv"), lambda file: file.write(csv))

    def save(
        self,
        step: int,
        model,
        opt_state,
        history: "History",
        pending: Sequence[np.ndarray] = (),
    ) -> None:
        """Writes the checkpoint of `step`, with the losses `pending` since the last history
        entry, and `history.json`; removes all but the newest checkpoints."""
        if self.folder is None:
            return
        model, opt_state = gather_to_host((model, opt_state))
        if not self.writer:
            return
        path = os.path.join(self.folder, f"step_{step:09d}.ckpt")
        saved_history = history.as_dict()
        if len(pending):
            losses = np.concatenate(pending)
            saved_history[_PENDING_LOSSES] = [float(value) for value in losses]
        save_training_state(
            path, model, opt_state, step=step, history=saved_history, settings=self.settings
        )
        atomic_write(
            os.path.join(self.folder, "history.json"),
            lambda file: file.write(json.dumps(history.as_dict(), indent=1).encode()),
        )
        for old_step, old_path in _checkpoints(self.folder)[:-_KEEP_CHECKPOINTS]:
            if old_step < step:
                os.unlink(old_path)


def without_metadata(source):
    """The data source without its `metadata`, when it has that static field.

    The compiled training loop never reads metadata (a seed, a system's name and parameters),
    but a static field is part of the program's cache key: without this, every new dataset
    of the same shapes compiled the loop again.
    """
    if not any(field.name == "metadata" for field in dataclasses.fields(source)):
        return source
    return dataclasses.replace(source, metadata=None)


def _evaluation_rows(eval_data, key: PRNGKeyArray, mesh):
    """The fixed rows the evaluation loss is measured on (a sample of a stream)."""
    if isinstance(eval_data, AbstractFiniteSource):
        rows = eval_data.states()
    else:
        rows = eval_data.sample(key, _STREAM_EVAL_SAMPLES)
    return rows if mesh is None else replicate(rows, mesh)


def _adapted(model, data, key: PRNGKeyArray):
    """The model with input statistics from the training states, when it can adapt and the
    rows are its states."""
    if not isinstance(model, AbstractDynamics):
        return model
    if isinstance(data, AbstractInputSource):
        return model.adapt(data.model_states())
    if not isinstance(data, AbstractPredictionSource):
        return model
    if isinstance(data, AbstractFiniteSource):
        states, _ = data.states()
    else:
        states, _ = data.sample(key, _STREAM_ADAPT_SAMPLES)
    return model.adapt(states)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """The settings of a training run, once `fit` has checked them."""

    steps: int
    key: Any  # a PRNG key, or the three keys of minibatches, adaptation and evaluation
    config: _StepConfig
    eval_data: AbstractDataSource | None
    log_every: int
    eval_every: int
    checkpoint_every: int
    folder: str | None
    settings: dict[str, Any]
    resume: bool
    adapt: bool
    progress: bool
    max_seconds: float | None

    def events(self) -> list[int]:
        """The intervals at whose multiples a chunk of steps ends, so that every log,
        evaluation and checkpoint happens at its exact step, whatever the intervals."""
        events = [self.log_every]
        if self.eval_data is not None:
            events.append(self.eval_every)
        if self.folder is not None:
            events.append(self.checkpoint_every)
        return events


@dataclasses.dataclass(frozen=True)
class _Progress:
    """Where a run stands. Replaced whole after each chunk, in one assignment, so that a
    Ctrl-C never finds the step count and the pending losses out of step with each other."""

    params: PyTree
    opt_state: PyTree
    step: int
    history: History
    # The losses of the steps since the last history entry, one array per chunk.
    pending: tuple[np.ndarray, ...] = ()


class _Run:
    """One call of the training loop: where it stands, its checkpoints and its clock."""

    def __init__(self, model, data: AbstractDataSource, plan: _Plan):
        self.plan = plan
        if isinstance(plan.key, tuple):
            self.key, adapt_key, eval_key = plan.key
        else:
            self.key, adapt_key, eval_key = jax.random.split(plan.key, 3)
        if plan.adapt:
            model = _adapted(model, data, adapt_key)
        spec = _trainable_spec(model)
        params, static = eqx.partition(model, spec)
        with jax.numpy_dtype_promotion("standard"):
            opt_state = plan.config.optimizer.init(params)
        mesh = plan.config.mesh
        devices = 1 if mesh is None else batch_devices(mesh)
        history = History.from_dict({})
        step, pending = 0, ()
        self.checkpoints = _Checkpoints(plan.folder, plan.settings)
        restored = self.checkpoints.restore((model, opt_state), resume=plan.resume)
        if restored is not None:
            model, opt_state, step, saved_history = restored
            history = History.from_dict(saved_history)
            pending = tuple(pending_losses(saved_history))
            params, static = eqx.partition(model, spec)
        if mesh is not None:
            # Parameters, optimizer state and the data to draw from live on every device; only
            # the minibatches drawn inside the compiled loop are split.
            params, static, opt_state, data = replicate((params, static, opt_state, data), mesh)
        self.static, self.data = static, data
        history = dataclasses.replace(history, devices=devices)
        self.state = _Progress(params, opt_state, step, history, pending)
        if plan.eval_data is not None:
            self.eval_rows = _evaluation_rows(plan.eval_data, eval_key, mesh)
        self.elapsed_before = float(history.seconds[-1]) if history.seconds.size else 0.0
        self.started = time.perf_counter()
        self.first_step = step
        self.saved_step = step if plan.folder is not None and step > 0 else -1

    def seconds(self) -> float:
        """Wall-clock seconds since training started, over resumed runs too."""
        return self.elapsed_before + time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        limit = self.plan.max_seconds
        return limit is not None and time.perf_counter() - self.started > limit

    def advance(self) -> None:
        """Runs the steps to the next event; stops the run at a non-finite one."""
        plan, state = self.plan, self.state
        stop = chunk_end(state.step, plan.steps, plan.events(), plan.config.capacity)
        params, opt_state, values, finite = _run_chunk(
            state.params,
            self.static,
            state.opt_state,
            self.data,
            jnp.asarray(state.step, dtype=jnp.int32),
            jnp.asarray(stop, dtype=jnp.int32),
            self.key,
            plan.config,
        )
        values, finite = gather_to_host((values, finite))
        count = stop - state.step
        values, finite = np.asarray(values)[:count], np.asarray(finite)[:count]
        if not finite.all():
            bad = int(np.argmin(finite))
            where = (
                f"The last good checkpoint (step {self.saved_step}) in '{plan.folder}' is "
                "kept; resume=True restarts from it."
                if self.saved_step >= 0
                else "No checkpoint was written."
            )
            raise FloatingPointError(
                f"training stopped at step {state.step + bad}: the loss or the parameter "
                f"update is not finite (loss {values[bad]}). {where} "
                f"{self.data.divergence_advice}"
            )
        self.state = dataclasses.replace(
            state, params=params, opt_state=opt_state, step=stop, pending=(*state.pending, values)
        )

    def record(self, bar: "_ProgressBar | None", *, out_of_time: bool) -> None:
        """The history entry, evaluation and checkpoint due at the step reached; all of them
        at the end, and when the time is up."""
        plan, state = self.plan, self.state
        step, last = state.step, state.step == plan.steps or out_of_time
        evaluate = plan.eval_data is not None and (step % plan.eval_every == 0 or last)
        if step % plan.log_every == 0 or evaluate or last:
            eval_loss = self.evaluation_loss() if evaluate else math.nan
            history = history_with_entry(
                state.history, step, state.pending, eval_loss, self.seconds()
            )
            self.state = dataclasses.replace(state, history=history, pending=())
            self.checkpoints.log(history)
            if bar is not None:
                rate = (step - self.first_step) / max(time.perf_counter() - self.started, 1e-9)
                bar.update(step, float(history.train_loss[-1]), eval_loss, rate)
        if plan.folder is not None and (step % plan.checkpoint_every == 0 or last):
            self.save()

    def evaluation_loss(self) -> float:
        y, target = self.eval_rows
        config = self.plan.config
        value = _evaluate(
            self.state.params,
            self.static,
            self.plan.eval_data,
            y,
            target,
            config.loss_fn,
            config.mesh,
        )
        return float(gather_to_host(value))

    def save(self) -> None:
        state = self.state
        model = eqx.combine(state.params, self.static)
        self.checkpoints.save(state.step, model, state.opt_state, state.history, state.pending)
        self.saved_step = state.step

    def interrupted(self) -> None:
        """After a Ctrl-C, keeps every loss computed: the steps since the last entry get an
        entry of their own, at the step reached, in the history, its CSV and a checkpoint."""
        state = self.state
        logged_now = bool(state.pending)
        if logged_now:
            history = history_with_entry(
                state.history, state.step, state.pending, math.nan, self.seconds()
            )
            self.state = state = dataclasses.replace(state, history=history, pending=())
        if state.history.step.size:
            self.checkpoints.log(state.history)
        if self.plan.folder is not None and (state.step > self.saved_step or logged_now):
            self.save()

    def finish(self) -> tuple[eqx.Module, History]:
        """The trained model and the history; the model file, when the run is done."""
        params, static = self.state.params, self.static
        if self.plan.config.mesh is not None:
            # Handed back as ordinary arrays on the default device, as a one-device run gives
            # them.
            params, static = jax.tree.map(jnp.asarray, gather_to_host((params, static)))
        model = eqx.combine(params, static)
        done = self.state.step == self.plan.steps
        folder = self.plan.folder
        if folder is not None and done and self.checkpoints.writer:
            if isinstance(model, AbstractDynamics):
                save_model(os.path.join(folder, "model.lzm"), model)
        return model, self.state.history


def _train(model, data: AbstractDataSource, plan: _Plan) -> tuple[eqx.Module, History]:
    """The one training loop: chunks of compiled steps, each to the next event (a history
    entry, an evaluation, a checkpoint), then what is due there, until the last step, the
    time budget or a Ctrl-C."""
    run = _Run(model, data, plan)
    bar = _ProgressBar(plan.steps, run.state.step) if plan.progress else None
    try:
        while run.state.step < plan.steps:
            run.advance()
            out_of_time = run.out_of_time()
            run.record(bar, out_of_time=out_of_time)
            if out_of_time:
                break
    except KeyboardInterrupt:
        run.interrupted()
        raise
    finally:
        if bar is not None:
            bar.close()
    return run.finish()


class _ProgressBar:
    """Training progress: steps, loss, evaluation loss, steps per second and time left.

    On a terminal (or in a notebook), a rich progress bar. Otherwise (output redirected to a
    file, a batch job), plain lines that a log can keep: one when training starts, a heartbeat
    every `heartbeat_seconds` until the first steps are done (compiling the training step can
    take a minute), then one every `every` steps (a twentieth of the run by default) or at least
    every `line_seconds`, and one at the end.
    """

    def __init__(
        self,
        total: int,
        completed: int,
        *,
        interactive: bool | None = None,
        every: int | None = None,
        heartbeat_seconds: float = 15.0,
        line_seconds: float = 60.0,
    ):
        import sys
        import threading

        from rich.console import Console

        console = Console()
        if interactive is None:
            interactive = console.is_terminal or console.is_jupyter
        self._total = total
        self._step = completed
        self._started = time.perf_counter()
        self._progress = None
        if interactive:
            self._start_bar(console, total, completed)
            return
        self._file = sys.stdout
        self._lock = threading.Lock()
        self._every = max(1, total // 20) if every is None else every
        self._next = completed + self._every
        self._line_seconds = line_seconds
        self._last_line = self._started
        self._first_steps = threading.Event()
        self._print(f"training: {completed}/{total} steps done; compiling, first step ...")
        self._heartbeat = threading.Thread(
            target=self._beat, args=(heartbeat_seconds,), name="training-heartbeat", daemon=True
        )
        self._heartbeat.start()

    def _start_bar(self, console, total: int, completed: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[eval]}"),
            TextColumn("{task.fields[rate]} steps/s"),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._progress.add_task(
            "compiling, first step ...",
            total=total,
            completed=completed,
            loss="-",
            eval="",
            rate="-",
        )
        self._progress.start()

    def _print(self, line: str) -> None:
        with self._lock:
            # flush: a log file shows each line as it comes, not at the end.
            print(line, file=self._file, flush=True)

    def _beat(self, seconds: float) -> None:
        while not self._first_steps.wait(seconds):
            waited = time.perf_counter() - self._started
            self._print(f"training: still compiling or running the first steps ({waited:.0f} s)")

    def update(self, step: int, loss: float, eval_loss: float, rate: float) -> None:
        evaluation = "" if math.isnan(eval_loss) else f"eval {eval_loss:.3e}"
        if self._progress is not None:
            self._progress.update(
                self._task,
                description="training",
                completed=step,
                loss=f"{loss:.3e}",
                eval=evaluation,
                rate=f"{rate:.0f}",
            )
            return
        self._first_steps.set()
        self._step = step
        now = time.perf_counter()
        if step < self._next and step < self._total and now - self._last_line < self._line_seconds:
            return
        self._next = (step // self._every + 1) * self._every
        self._last_line = now
        left = (self._total - step) / rate if rate > 0 else math.nan
        parts = [
            f"step {step}/{self._total} ({100 * step / self._total:.0f}%)",
            f"loss {loss:.3e}",
            evaluation,
            f"{rate:.0f} steps/s",
            f"{left:.0f} s left" if step < self._total and math.isfinite(left) else "",
        ]
        self._print("training: " + ", ".join(part for part in parts if part))

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            return
        self._first_steps.set()
        self._heartbeat.join()
        seconds = time.perf_counter() - self._started
        ended = "done" if self._step >= self._total else "stopped"
        self._print(f"training: {ended} at step {self._step}/{self._total} after {seconds:.0f} s")


__all__ = ["fit", "History"]
