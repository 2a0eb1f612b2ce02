"""Pixel observations of a pendulum: an anti-aliased renderer and the HNN paper's dataset.

The HNN paper's fifth task learns a pendulum from 28 x 28 grey frames only. Its frames were
rendered by OpenAI Gym, cropped and downsampled; here they are drawn directly, from the angles of
[`lagrangian_zoo.rollout`][] solutions, by a signed-distance renderer (a rod and a bob, smoothed
over one pixel), vectorised over frames and pixels.
"""

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree, Real, Scalar

from ._data import _as_metadata, Metadata, parameters_of, split_rows
from ._io import key_data, library_version
from ._rollout import rollout
from ._source import AbstractFiniteSource
from ._validation import non_negative_number, positive_int, positive_number, prng_key
from .models import PixelDynamics


# How the pixel functions have always worded a length, step or angle out of range.
_POSITIVE = "a positive, finite number"

# `split`'s key when none is passed: the deprecated one-argument form.
_NO_KEY = object()

# The HNN paper's weights of reconstruction, latent-coordinate consistency and latent step.
PAPER_WEIGHTS = (1.0, 1.0, 0.1)


def render_pendulum(
    angles: Real[ArrayLike, "*batch"],
    *,
    size: int = 28,
    pivot_height: float = 0.5,
    length: float = 1.05,
    bob_radius: float = 0.2,
    rod_width: float = 0.1,
) -> Float[Array, "*batch size size"]:
    r"""Grey frames of a pendulum (a rod and a round bob) at the given angles.

    The frame spans $[-1, 1]^2$, $y$ pointing up, with the pivot at $(0,$ `pivot_height`$)$.
    The angle $q$ is measured from the downward vertical, counter-clockwise, as in
    [`lagrangian_zoo.systems.get`][]`("pendulum")`: the bob's centre is at
    $(\ell \sin q,\ h - \ell \cos q)$. Each pixel's value is the area-coverage estimate
    $\mathrm{clip}(1/2 - d / \delta, 0, 1)$ of the signed distance $d$ from the pixel's centre to
    the union of the rod (a segment of width `rod_width` from the pivot to the bob) and the bob (a
    disc of radius `bob_radius`), $\delta = 2/$`size` being the pixel's width: 1 inside,
    0 outside, a linear ramp one pixel wide across the edge (anti-aliasing). Every frame and
    pixel is computed at once by broadcasting, so the function runs under `jit` and `vmap`.

    With the defaults the bob stays inside the frame for $|q| \le 0.86$ (about 50°); the
    swings of [`lagrangian_zoo.pixel_pendulum_dataset`][] stay below 0.6.

    **Arguments:**

    - `angles`: the angles $q$, of any shape.
    - `size`: the frame's side in pixels (28, the HNN paper's).
    - `pivot_height`, `length`, `bob_radius`, `rod_width`: the geometry in units of the frame's
        half-width.

    **Returns:** frames of shape `angles.shape + (size, size)`, values in $[0, 1]$, row 0 at
    the top, in the dtype of `angles` (float32 or float64; integers become floats).

    !!! example

        ```python
        frames = lz.render_pendulum(jnp.linspace(-0.5, 0.5, 5))  # (5, 28, 28)
        ```
    """
    size = positive_int("", "size", size, minimum=4)
    pivot_height = float(pivot_height)
    length = positive_number("", "length", length, expected_value=_POSITIVE)
    bob_radius = positive_number("", "bob_radius", bob_radius, expected_value=_POSITIVE)
    rod_width = positive_number("", "rod_width", rod_width, expected_value=_POSITIVE)
    angles = jnp.asarray(angles)
    if not jnp.issubdtype(angles.dtype, jnp.floating):
        if not jnp.issubdtype(angles.dtype, jnp.integer):
            raise TypeError(f"`angles` must be an array of real angles, got dtype {angles.dtype}.")
        angles = angles.astype(jnp.result_type(float))
    return _draw(angles, size, pivot_height, length, bob_radius, rod_width)


# One compiled program per frame shape and geometry, rather than one dispatch per operation.
@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _draw(
    angles: Float[Array, "*batch"],
    size: int,
    pivot_height: float,
    length: float,
    bob_radius: float,
    rod_width: float,
) -> Float[Array, "*batch size size"]:
    dtype = angles.dtype
    pixel = 2.0 / size
    centres = jnp.asarray(-1.0 + pixel * (np.arange(size) + 0.5), dtype)
    # Pixel centres relative to the pivot: columns run along x, rows down the y axis. Leading
    # unit axes match the angles' rank (explicit, for strict rank promotion).
    lead = (1,) * angles.ndim
    x = centres.reshape(*lead, 1, size)
    y = -centres.reshape(*lead, size, 1) - pivot_height
    direction_x = jnp.sin(angles)[..., None, None]
    direction_y = -jnp.cos(angles)[..., None, None]
    along = jnp.clip(x * direction_x + y * direction_y, 0.0, length)
    rod = jnp.hypot(x - along * direction_x, y - along * direction_y) - 0.5 * rod_width
    bob = jnp.hypot(x - length * direction_x, y - length * direction_y) - bob_radius
    distance = jnp.minimum(rod, bob)
    return jnp.clip(0.5 - distance / pixel, 0.0, 1.0)


class PixelDataset(eqx.Module):
    """Trials of a pendulum seen only through frames, with the true states kept for evaluation.

    A pytree (it passes through `jax.jit` as its arrays); `metadata` is static. A model input
    is a pair of consecutive frames, flattened and concatenated, `x_t = [f_t, f_{t+1}]` of
    `2 * size**2` values (the two frames carry the velocity as well as the position); a
    training row is the pair of consecutive inputs `(x_t, x_{t+1})`, so a trial of `T` frames
    gives `T - 2` rows.

    **Fields:**

    - `ts`: the frame times `(T,)`.
    - `states`: the true states `[q, q_t]` `(trials, T, 2)` (never shown to a model).
    - `frames`: the frames `(trials, T, size, size)`, values in $[0, 1]$.
    - `metadata`: a read-only mapping of JSON values (system, settings, seed).
    """

    ts: Float[Array, " times"] = eqx.field(converter=jnp.asarray)
    states: Float[Array, "trials times 2"] = eqx.field(converter=jnp.asarray)
    frames: Float[Array, "trials times size size"] = eqx.field(converter=jnp.asarray)
    metadata: Metadata = eqx.field(static=True, converter=_as_metadata, default=None)

    def __check_init__(self):
        trials, times = self.frames.shape[:2] if self.frames.ndim == 4 else (None, None)
        if self.frames.ndim != 4 or self.frames.shape[2] != self.frames.shape[3]:
            raise ValueError(
                f"`frames` must have shape (trials, times, size, size), got {self.frames.shape}."
            )
        if self.ts.shape != (times,):
            raise ValueError(
                f"`ts` must hold one time per frame, shape ({times},), got {self.ts.shape}."
            )
        if self.states.shape != (trials, times, 2):
            raise ValueError(
                f"`states` must have shape (trials, times, 2) = ({trials}, {times}, 2), got "
                f"{self.states.shape}."
            )
        if times < 3:
            raise ValueError(f"a trial needs at least 3 frames for one training row, got {times}.")

    @property
    def size(self) -> int:
        """The side of a frame in pixels."""
        return self.frames.shape[-1]

    @property
    def num_trials(self) -> int:
        """The number of trials."""
        return self.frames.shape[0]

    @property
    def num_rows(self) -> int:
        """The number of training rows `(x_t, x_{t+1})`: `trials * (T - 2)`."""
        return self.num_trials * (self.frames.shape[1] - 2)

    def check_model(self, model: PixelDynamics, name: str) -> None:
        """Refuses a model whose autoencoder does not take inputs of these frames; the
        error names the data as `name`."""
        if 2 * self.size**2 != model.autoencoder.in_size:
            raise ValueError(
                f"{name} holds {self.size} x {self.size} frames, inputs of {2 * self.size**2} "
                f"values, but the model's autoencoder takes {model.autoencoder.in_size}."
            )

    def inputs(self) -> Float[Array, "trials inputs pixels"]:
        """Every model input `x_t = [f_t, f_{t+1}]` of every trial, `(trials, T - 1, 2 size²)`."""
        flat = self.frames.reshape(*self.frames.shape[:2], -1)
        return jnp.concatenate([flat[:, :-1], flat[:, 1:]], axis=-1)

    def rows(self) -> tuple[Float[Array, "rows pixels"], Float[Array, "rows pixels"]]:
        """All training rows `(x_t, x_{t+1})`, each of shape `(trials * (T - 2), 2 size²)`."""
        inputs = self.inputs()
        pixels = inputs.shape[-1]
        return inputs[:, :-1].reshape(-1, pixels), inputs[:, 1:].reshape(-1, pixels)

    # Compiled as one program per shape when called eagerly; inlined inside a training step.
    @eqx.filter_jit
    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch pixels"], Float[Array, "batch pixels"]]:
        """`batch_size` distinct training rows `(x_t, x_{t+1})` drawn at random (as the HNN
        paper's `randperm(N)[:batch_size]`); works under `jit`."""
        positive_int("", "batch_size", batch_size)
        if batch_size > self.num_rows:
            raise ValueError(
                f"`batch_size` {batch_size} is larger than the {self.num_rows} rows of the data."
            )
        per_trial = self.frames.shape[1] - 2
        rows = jax.random.choice(key, self.num_rows, (batch_size,), replace=False)
        trial, start = rows // per_trial, rows % per_trial
        flat = self.frames.reshape(*self.frames.shape[:2], -1)
        window = jax.vmap(lambda b, k: jax.lax.dynamic_slice_in_dim(flat[b], k, 3, axis=0))(
            trial, start
        )
        x = jnp.concatenate([window[:, 0], window[:, 1]], axis=-1)
        x_next = jnp.concatenate([window[:, 1], window[:, 2]], axis=-1)
        return x, x_next

    def split(
        self, fraction: float, key: PRNGKeyArray | None | object = _NO_KEY
    ) -> tuple["PixelDataset", "PixelDataset"]:
        """Splits by whole trials into `(train, test)`, as [`lagrangian_zoo.Dataset.split`][]
        splits trajectories, so that no test frame is ever seen in training.

        **Arguments:**

        - `fraction`: the share of trials in the first part, in `(0, 1)`; both parts get at
            least one trial.
        - `key`: the PRNG key of the shuffle, or `None` to keep the order: the first trials
            train and the last ones test, as in the HNN paper (`split(0.8, None)`).

        **Returns:** `(train, test)`, two datasets with disjoint trials; their metadata says
        which part each is (`"split"`).

        !!! warning "Deprecated: `split(test_fraction)`"

            Called without `key`, the argument is the share of *test* trials and the last
            trials are the test set, as before this method took the arguments of
            `Dataset.split`; it warns. Write `split(1 - test_fraction, None)`.
        """
        if key is _NO_KEY:
            warnings.warn(
                "PixelDataset.split(test_fraction) is deprecated: split(fraction, key) now "
                "takes the share of training trials and a PRNG key (or None to keep the "
                "order), as Dataset.split does; write split(1 - test_fraction, None).",
                FutureWarning,
                stacklevel=2,
            )
            return self._split_off_last(fraction)
        first, second = split_rows(fraction, key, self.num_trials, "trial")
        return self._part(first, "train", fraction), self._part(second, "test", fraction)

    def _part(self, trials: Any, name: str, fraction: float) -> "PixelDataset":
        metadata = dict(self.metadata, split=name, train_fraction=float(fraction))
        return PixelDataset(self.ts, self.states[trials], self.frames[trials], Metadata(metadata))

    def _split_off_last(self, test_fraction: Any) -> tuple["PixelDataset", "PixelDataset"]:
        """The former `split(test_fraction)`: the last `round(test_fraction * trials)` trials
        are the test set; same parts, same metadata."""
        if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
            raise ValueError(f"`test_fraction` must be in (0, 1), got {test_fraction!r}.")
        test = round(test_fraction * self.num_trials)
        if not 0 < test < self.num_trials:
            raise ValueError(
                f"test_fraction={test_fraction} of {self.num_trials} trials leaves "
                f"{self.num_trials - test} for training and {test} for testing; both need one."
            )
        cut = self.num_trials - test

        def part(trials: slice, name: str) -> "PixelDataset":
            metadata = dict(self.metadata, split=name, test_fraction=float(test_fraction))
            return PixelDataset(
                self.ts, self.states[trials], self.frames[trials], Metadata(metadata)
            )

        return part(slice(0, cut), "train"), part(slice(cut, None), "test")

    def source(self, weights: Sequence[float] = PAPER_WEIGHTS) -> "PixelRows":
        """The training rows of these trials as a source for [`lagrangian_zoo.fit`][], scored
        by the HNN paper's pixel loss with the given weights of reconstruction, consistency and
        latent step (see [`lagrangian_zoo.pixel_dynamics_loss`][])."""
        # Without the metadata: a static field would make every dataset a new program.
        return PixelRows(dataclasses.replace(self, metadata=None), check_weights(weights))


def check_weights(weights: Any) -> tuple[float, float, float]:
    """The three weights of the pixel loss as floats, or an error naming `weights`."""
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


def weighted_loss(terms: Float[Array, "batch 3"], weights: Float[Array, "3"]) -> Scalar:
    """The mean over rows of the weighted sum of each row's three loss terms."""
    return jnp.mean(terms @ weights.astype(terms.dtype))


class PixelRows(AbstractFiniteSource):
    """The training rows `(x_t, x_{t+1})` of a [`lagrangian_zoo.PixelDataset`][], with the HNN
    paper's pixel loss: what `dataset.source(weights)` gives [`lagrangian_zoo.fit`][].

    The weights are an array, an input of the compiled training step: other weights run the
    same program.
    """

    dataset: PixelDataset
    weights: Float[Array, "3"] = eqx.field(converter=jnp.asarray)

    divergence_advice: ClassVar[str] = (
        "Lower the learning rate; with a latent LNN, use the Euler latent step "
        "(integrator='euler'), or another initialisation: where its learned mass matrix "
        "crosses zero the accelerations are infinite."
    )

    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch pixels"], Float[Array, "batch pixels"]]:
        """`batch_size` distinct rows, as `PixelDataset.sample` draws them."""
        return self.dataset.sample(key, batch_size)

    def states(self) -> tuple[Float[Array, "rows pixels"], Float[Array, "rows pixels"]]:
        """All rows `(x_t, x_{t+1})`."""
        return self.dataset.rows()

    def per_row(
        self,
        model: PyTree,
        x: Float[Array, "batch pixels"],
        x_next: Float[Array, "batch pixels"],
    ) -> Float[Array, "batch 3"]:
        """`model.loss_terms` of every row: reconstruction, consistency and latent step."""
        if not isinstance(model, PixelDynamics):
            raise TypeError(
                "a PixelDataset's rows train an lz.models.PixelDynamics, got "
                f"{type(model).__name__}."
            )
        self.dataset.check_model(model, "the PixelDataset")
        return jax.vmap(model.loss_terms)(x, x_next)

    def loss(
        self,
        values: Float[Array, "batch 3"],
        target: Float[Array, "batch pixels"],
        compare: Callable[[Array, Array], Scalar],
    ) -> Scalar:
        """The weighted pixel loss; `compare` is not used (the loss is the paper's)."""
        return weighted_loss(values, self.weights)


def pixel_pendulum_dataset(
    key: PRNGKeyArray,
    *,
    trials: int = 200,
    steps: int = 100,
    dt: float = 0.08,
    max_angle: float = math.pi / 6,
    max_velocity: float = 0.63,
    size: int = 28,
    system: Any = None,
    dtype: Any = None,
) -> PixelDataset:
    r"""The HNN paper's pixel-pendulum data: `trials` swings seen as `size` x `size` frames.

    Each trial starts at an angle $q_0 = \pm U(0,$ `max_angle`$)$ (random sign) with angular
    velocity $U(-$`max_velocity`, `max_velocity`$)$, is integrated by
    [`lagrangian_zoo.rollout`][] (Tsit5, tolerance $10^{-10}$, or ten machine epsilons in
    float32) and drawn by [`lagrangian_zoo.render_pendulum`][] every `dt`; `steps + 2` frames
    per trial give `steps` training rows.

    The settings follow the paper's (Gym's `Pendulum-v0`: 200 trials of 100 usable steps,
    $|q_0| < \pi/6$, $\dot q_0 \sim U(-1, 1)$, $\Delta t = 0.05$ s, $\omega^2 = 15$ s$^{-2}$)
    scaled to the default [`lagrangian_zoo.systems.get`][]`("pendulum")` ($\omega^2 = g/l = 6$):
    `dt = 0.08` keeps about 32 frames per small swing, and `max_velocity = 0.63`
    $\approx \sqrt{6/15}$ keeps the share of the swing that comes from the initial velocity.

    **Arguments:**

    - `key`: the PRNG key of the initial states; the same key gives the same data.
    - `trials`, `steps`: trials and training rows per trial.
    - `dt`: the time between frames.
    - `max_angle`, `max_velocity`: the bounds of the initial states.
    - `size`: the frame side in pixels.
    - `system`: a pendulum with `energy(q, q_t)` (default `lz.systems.get("pendulum")`).
    - `dtype`: of the frames and states (default: JAX's default float).

    **Returns:** a [`lagrangian_zoo.PixelDataset`][]; `dataset.split(0.8, None)` gives the
    paper's 80/20 split (by whole trials).
    """
    prng_key("", "key", key)
    trials = positive_int("", "trials", trials)
    steps = positive_int("", "steps", steps)
    dt = positive_number("", "dt", dt, expected_value=_POSITIVE)
    max_angle = positive_number("", "max_angle", max_angle, expected_value=_POSITIVE)
    max_velocity = non_negative_number("", "max_velocity", max_velocity)
    if system is None:
        from .systems import get

        system = get("pendulum")
    if getattr(system, "dof", None) != 1:
        raise ValueError(
            f"`system` must be a pendulum with one degree of freedom, got "
            f"{type(system).__name__} with dof={getattr(system, 'dof', None)!r}."
        )
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    magnitude_key, sign_key, velocity_key = jax.random.split(key, 3)
    magnitude = jax.random.uniform(magnitude_key, (trials,), dtype, 0.0, max_angle)
    sign = jnp.where(jax.random.bernoulli(sign_key, 0.5, (trials,)), 1.0, -1.0).astype(dtype)
    velocity = jax.random.uniform(velocity_key, (trials,), dtype, -max_velocity, max_velocity)
    y0 = jnp.stack([sign * magnitude, velocity], axis=-1)
    ts = dt * jnp.arange(steps + 2, dtype=dtype)
    tolerance = max(1e-10, 10 * float(jnp.finfo(dtype).eps))
    states = rollout(system, y0, ts, rtol=tolerance, atol=tolerance)
    frames = render_pendulum(states[..., 0], size=size)
    metadata = {
        "system": getattr(system, "name", type(system).__name__),
        "parameters": parameters_of(system),
        "seed": key_data(key),
        "trials": trials,
        "steps": steps,
        "dt": dt,
        "max_angle": max_angle,
        "max_velocity": float(max_velocity),
        "size": size,
        "renderer": "lagrangian_zoo.render_pendulum (defaults)",
        "library_version": library_version(),
    }
    return PixelDataset(ts, states, frames, Metadata(metadata))


__all__ = [
    "PAPER_WEIGHTS",
    "PixelDataset",
    "PixelRows",
    "pixel_pendulum_dataset",
    "render_pendulum",
]
