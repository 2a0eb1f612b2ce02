r"""Metrics that compare predicted dynamics and rollouts with the truth.

Every metric takes arrays with any number of leading batch axes, validates their shapes at trace
time, and works under `jax.jit`, `jax.vmap` and `jax.grad`, in float32 and float64. Trajectories
have shape `(*batch, T, 2n)`: `T` times of states `y = [q, q_t]`. Energy metrics take the TRUE
energy function `energy(q, q_t) -> scalar` of the system (for example a system's `energy`
method) and evaluate it on both the true and the predicted trajectory.

Argument order follows the papers each metric comes from: the derivative and rollout errors
take the prediction first, the energy metrics and the valid prediction time the truth first.
All arguments after the arrays are keyword-only.

Angles are compared on the circle: the state metrics take `periodic`, one bool per coordinate
(`system.periodic` or `model.periodic`), and measure the difference of an angle wrapped into
$(-\pi, \pi]$, so that two physically identical states, $q$ and $q + 2\pi k$, do not differ.

The HNN paper's energy MSE has two protocols in its repository, each written once here: on test
trajectories with RK4 from their first states (`energy_mse_test_trajectories`, the README's
table), and over a long horizon from random starts (`energy_mse_long_horizon` with
`long_horizon_initial_states`, the spring analysis notebook).

A rollout of an under-trained model can blow up. The batch means of `rollout_mse`,
`energy_mse` and `energy_discrepancy` average over the trajectories whose value is finite, so
one failed rollout does not turn the whole batch into `nan`; `failed_rollouts` says which
rollouts failed (non-finite, or finite with an energy error beyond a bound), and
`score_rollouts` scores a batch with the failures counted and set aside.
"""

import math
from collections.abc import Callable, Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, Real, Scalar

from ._custom_types import Coordinates, Velocities
from ._mechanics import energy_along
from ._rollout import rollout
from ._validation import positive_int, positive_number


EnergyFunction = Callable[[Coordinates, Velocities], Scalar]
Reduction = Literal["mean", "none"]

_REDUCTIONS = ("mean", "none")


# Validation ---------------------------------------------------------------------------------


def _as_float(name: str, value: ArrayLike) -> Array:
    value = jnp.asarray(value)
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise TypeError(
            f"`{name}` must be a real floating-point array, got dtype {value.dtype}; convert "
            f"it first, e.g. jnp.asarray({name}, dtype=float)."
        )
    return value


def _pair(
    names: tuple[str, str], a: ArrayLike, b: ArrayLike, *, min_ndim: int, what: str
) -> tuple[Array, Array]:
    """Two float arrays of the same shape (at least `min_ndim` axes), in one common dtype."""
    a, b = _as_float(names[0], a), _as_float(names[1], b)
    for name, value in zip(names, (a, b)):
        if value.ndim < min_ndim:
            raise ValueError(
                f"`{name}` must have shape {what}, got shape {value.shape} "
                f"({value.ndim} axes; at least {min_ndim} expected)."
            )
    if a.shape != b.shape:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same shape {what}, got "
            f"{names[0]} of shape {a.shape} and {names[1]} of shape {b.shape}."
        )
    # Strict dtype promotion (and jnp.promote_types under it) refuses float32 with float64, so
    # cast both to the wider float explicitly.
    dtype = max(a.dtype, b.dtype, key=lambda d: jnp.finfo(d).bits)
    return a.astype(dtype), b.astype(dtype)


def _trajectories(names: tuple[str, str], a: ArrayLike, b: ArrayLike) -> tuple[Array, Array]:
    return _pair(names, a, b, min_ndim=2, what="(*batch, T, 2n)")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {_REDUCTIONS}, got {reduction!r}.")


def _reduce(per_trajectory: Array, reduction: str) -> Array:
    return jnp.mean(per_trajectory) if reduction == "mean" else per_trajectory


def _mean_where(values: Array, keep: Array) -> Array:
    """The mean of `values` where `keep` is true; `nan` when nothing is kept."""
    count = jnp.sum(keep).astype(values.dtype)
    # Zeros in place of the left-out values, so that a nan there does not reach the sum.
    total = jnp.sum(jnp.where(keep, values, 0))
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)


def _reduce_rollouts(per_trajectory: Array, reduction: str) -> Array:
    """`reduction="mean"` over the trajectories with a finite value: a rollout that blew up
    to nan or inf is left out of the batch mean instead of making it nan."""
    if reduction == "none":
        return per_trajectory
    return _mean_where(per_trajectory, jnp.isfinite(per_trajectory))


def _positive(name: str, value: ArrayLike, dtype) -> Array:
    """A positive finite scalar; checked at trace time when concrete, inside jit otherwise."""
    array = jnp.asarray(value)
    if array.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {array.shape}.")
    if not jnp.issubdtype(array.dtype, jnp.number) or jnp.issubdtype(
        array.dtype, jnp.complexfloating
    ):
        raise TypeError(f"`{name}` must be a real number, got dtype {array.dtype}.")
    array = array.astype(dtype)
    if isinstance(array, jax.core.Tracer):
        return eqx.error_if(
            array,
            ~(jnp.isfinite(array) & (array > 0)),
            f"`{name}` must be positive and finite.",
        )
    if not (bool(jnp.isfinite(array)) and float(array) > 0):
        raise ValueError(f"`{name}` must be positive and finite, got {value!r}.")
    return array


def _angle_mask(periodic: Sequence[bool] | None, ys: Array, name: str) -> np.ndarray | None:
    """Which entries of a state `[q, q_t]` are angles, or `None` when none is."""
    if periodic is None:
        return None
    if isinstance(periodic, (str, bytes)) or not isinstance(periodic, Sequence):
        raise TypeError(
            f"`periodic` must be a sequence of bools, one per coordinate (e.g. "
            f"system.periodic), or None; got {type(periodic).__name__}."
        )
    size = ys.shape[-1]
    if size % 2 != 0 or len(periodic) != size // 2:
        raise ValueError(
            f"`periodic` must have one entry per coordinate: {size // 2} for `{name}` of shape "
            f"{ys.shape} (states [q, q_t] of 2n = {size} entries), got length {len(periodic)}."
        )
    if not all(isinstance(entry, (bool, np.bool_)) for entry in periodic):
        raise TypeError(f"`periodic` must hold bools (True for an angle), got {periodic!r}.")
    if not any(periodic):
        return None
    # Velocities (or momenta) of angles are ordinary numbers: only the positions wrap.
    return np.concatenate([np.asarray(periodic, bool), np.zeros(size // 2, bool)])


def _wrap(values: Array, mask: np.ndarray | None) -> Array:
    """The entries marked by `mask` wrapped into (-pi, pi]; the others unchanged."""
    if mask is None:
        return values
    wrapped = math.pi - jnp.mod(math.pi - values, 2 * math.pi)
    return jnp.where(mask, wrapped, values)


def _energies(energy: EnergyFunction, ys: Array, name: str) -> Float[Array, "*_batch _times"]:
    """`energy(q, q_t)` on every state of `ys`, with clear errors for a wrong `energy`."""
    if not callable(energy):
        raise TypeError(
            f"`energy` must be a callable energy(q, q_t) -> scalar, got {type(energy).__name__}."
        )
    size = ys.shape[-1]
    if size == 0 or size % 2 != 0:
        raise ValueError(
            f"`{name}` must hold states [q, q_t] of even length 2n on its last axis, got shape "
            f"{ys.shape}."
        )
    half = jax.ShapeDtypeStruct((size // 2,), ys.dtype)
    out = jax.eval_shape(energy, half, half)
    shape = getattr(out, "shape", None)
    if shape != ():
        raise ValueError(
            f"`energy` must return a scalar for q and q_t of shape ({size // 2},), but it "
            f"returned shape {shape}."
        )
    return energy_along(energy, ys).astype(ys.dtype)


# Metrics ------------------------------------------------------------------------------------


def derivative_mse(
    predicted_dy: Float[ArrayLike, "*_batch _state"],
    true_dy: Float[ArrayLike, "*_batch _state"],
    *,
    reduction: Reduction = "mean",
) -> Float[Array, "*_batch"]:
    r"""The mean squared error of predicted time derivatives: the HNN paper's test loss.

    $$\mathrm{MSE} = \frac{1}{N d}\sum_{i=1}^{N}\sum_{k=1}^{d}
    \left(\hat{\dot y}_{ik} - \dot y_{ik}\right)^2,$$

    the mean over every entry of `N` states of size `d`.

    **Arguments:**

    - `predicted_dy`: model derivatives `dy/dt`, shape `(*batch, d)`.
    - `true_dy`: true derivatives, the same shape.
    - `reduction`: `"mean"` (default) averages everything into a scalar; `"none"` averages only
        the last axis and returns one value per state, shape `(*batch,)`.

    **Returns:** the mean squared error, a scalar (or `(*batch,)` for `reduction="none"`).

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
    _check_reduction(reduction)
    predicted_dy, true_dy = _pair(
        ("predicted_dy", "true_dy"), predicted_dy, true_dy, min_ndim=1, what="(*batch, d)"
    )
    per_state = jnp.mean((predicted_dy - true_dy) ** 2, axis=-1)
    return _reduce(per_state, reduction)


def rollout_mse(
    predicted_ys: Float[ArrayLike, "*_batch _times _state"],
    true_ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    periodic: Sequence[bool] | None = None,
    reduction: Reduction = "mean",
) -> Float[Array, "*_batch"]:
    r"""The mean squared state error of a rollout, averaged over time, entries and batch.

    $$\mathrm{MSE} = \frac{1}{B\,T\,d}\sum_{b=1}^{B}\sum_{t=1}^{T}\sum_{k=1}^{d}
    \operatorname{wrap}_k\left(\hat y_{btk} - y_{btk}\right)^2,$$

    where $\operatorname{wrap}_k$ maps the difference of an angle into $(-\pi, \pi]$ and is
    the identity for every other entry. The batch mean is over the $B$ trajectories whose
    error is finite: a rollout that went non-finite is left out (see the `reduction` below).

    **Arguments:**

    - `predicted_ys`: predicted trajectories `[q, q_t]`, shape `(*batch, T, 2n)`.
    - `true_ys`: true trajectories, the same shape.
    - `periodic`: `n` bools, `True` for the coordinates that are angles (`system.periodic`);
        `None` (default) compares every entry as a plain number.
    - `reduction`: `"mean"` (default) returns a scalar, the mean over the trajectories whose
        error is finite (`nan` when none is); `"none"` returns the mean over time and entries of
        each trajectory, shape `(*batch,)`, non-finite where a rollout failed. Count the
        failures with `lagrangian_zoo.metrics.failed_rollouts`, or score a batch with
        `lagrangian_zoo.metrics.score_rollouts`, which also sets aside finite rollouts that
        blew up.

    **Returns:** the mean squared error, a scalar (or `(*batch,)`).
    """
    _check_reduction(reduction)
    predicted_ys, true_ys = _trajectories(("predicted_ys", "true_ys"), predicted_ys, true_ys)
    mask = _angle_mask(periodic, true_ys, "true_ys")
    difference = _wrap(predicted_ys - true_ys, mask)
    per_trajectory = jnp.mean(difference**2, axis=(-2, -1))
    return _reduce_rollouts(per_trajectory, reduction)


def energy_mse(
    energy: EnergyFunction,
    true_ys: Float[ArrayLike, "*_batch _times _state"],
    predicted_ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    reduction: Reduction = "mean",
) -> Float[Array, "*_batch"]:
    r"""The HNN paper's energy MSE: the true energy along the true and the predicted rollouts.

    $$\mathrm{MSE}_E = \frac{1}{B\,T}\sum_{b=1}^{B}\sum_{t=1}^{T}
    \left(E(y_{bt}) - E(\hat y_{bt})\right)^2,$$

    where $E$ is the system's true energy, $y$ the true trajectory and $\hat y$ the model's
    rollout from the same initial state. The batch mean is over the trajectories whose value
    is finite: a rollout that went non-finite is left out (see the `reduction` below).

    **Arguments:**

    - `energy`: the true energy function `energy(q, q_t) -> scalar` (e.g. `system.energy`).
    - `true_ys`: true trajectories, shape `(*batch, T, 2n)`.
    - `predicted_ys`: predicted trajectories, the same shape.
    - `reduction`: `"mean"` (default) returns a scalar, the mean over the trajectories whose
        value is finite (`nan` when none is); `"none"` the time average of each trajectory,
        shape `(*batch,)`, non-finite where a rollout failed. Count the failures with
        `lagrangian_zoo.metrics.failed_rollouts`, or use
        `lagrangian_zoo.metrics.score_rollouts`.

    **Returns:** the energy MSE, in squared units of energy.

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
    _check_reduction(reduction)
    true_ys, predicted_ys = _trajectories(("true_ys", "predicted_ys"), true_ys, predicted_ys)
    true_energy = _energies(energy, true_ys, "true_ys")
    predicted_energy = _energies(energy, predicted_ys, "predicted_ys")
    per_trajectory = jnp.mean((true_energy - predicted_energy) ** 2, axis=-1)
    return _reduce_rollouts(per_trajectory, reduction)


def energy_discrepancy(
    energy: EnergyFunction,
    true_ys: Float[ArrayLike, "*_batch _times _state"],
    predicted_ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    scale: float | Real[ArrayLike, ""],
    at: Literal["final", "mean"] = "final",
    reduction: Reduction = "mean",
) -> Float[Array, "*_batch"]:
    r"""The LNN paper's energy discrepancy, as a FRACTION of an energy scale (not a percent).

    With $E$ the true energy, $y$ the true and $\hat y$ the predicted trajectory,

    $$D_\text{final} = \frac{1}{B}\sum_{b=1}^{B}
    \frac{\left|E(y_{bT}) - E(\hat y_{bT})\right|}{s}, \qquad
    D_\text{mean} = \frac{1}{B}\sum_{b=1}^{B}\frac{1}{T}\sum_{t=1}^{T}
    \frac{\left|E(y_{bt}) - E(\hat y_{bt})\right|}{s}.$$

    `at="final"` is the authors' code (the last time only); `at="mean"` averages over time.
    For the double pendulum the scale is its largest potential energy, $s = 3 m g l = 29.4$.
    Multiply by 100 for the percentages the paper reports (0.4% for the LNN is `0.004` here).
    The batch mean is over the $B$ trajectories whose value is finite: a rollout that went
    non-finite is left out (see the `reduction` below).

    **Arguments:**

    - `energy`: the true energy function `energy(q, q_t) -> scalar` (e.g. `system.energy`).
    - `true_ys`: true trajectories, shape `(*batch, T, 2n)`.
    - `predicted_ys`: predicted trajectories, the same shape.
    - `scale`: the positive energy scale $s$ that normalises the discrepancy.
    - `at`: `"final"` (default) or `"mean"`, as above.
    - `reduction`: `"mean"` (default) averages over the trajectories whose value is finite
        (`nan` when none is); `"none"` returns one value per trajectory, shape `(*batch,)`,
        non-finite where a rollout failed. Count the failures with
        `lagrangian_zoo.metrics.failed_rollouts`, or use
        `lagrangian_zoo.metrics.score_rollouts`.

    **Returns:** the discrepancy as a dimensionless fraction of `scale`.

    ??? cite "Reference"

        The metric of Cranmer et al. (2020), *Lagrangian Neural Networks*: BibTeX under
        [`lagrangian_zoo.models.LNN`][].
    """
    _check_reduction(reduction)
    if at not in ("final", "mean"):
        raise ValueError(f"`at` must be 'final' or 'mean', got {at!r}.")
    true_ys, predicted_ys = _trajectories(("true_ys", "predicted_ys"), true_ys, predicted_ys)
    scale = _positive("scale", scale, true_ys.dtype)
    true_energy = _energies(energy, true_ys, "true_ys")
    predicted_energy = _energies(energy, predicted_ys, "predicted_ys")
    gap = jnp.abs(true_energy - predicted_energy) / scale
    per_trajectory = gap[..., -1] if at == "final" else jnp.mean(gap, axis=-1)
    return _reduce_rollouts(per_trajectory, reduction)


def valid_prediction_time(
    ts: Real[ArrayLike, " _times"],
    true_ys: Float[ArrayLike, "*_batch _times _state"],
    predicted_ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    threshold: float | int = 0.4,
    scale: Literal["rms", "instantaneous"] | float | int = "rms",
    periodic: Sequence[bool] | None = None,
) -> Float[Array, "*_batch"]:
    r"""The first time at which a rollout's normalised state error exceeds a threshold.

    The normalised error of trajectory $b$ at time $t_k$ is

    $$e_b(t_k) = \frac{\lVert \hat y_b(t_k) - y_b(t_k) \rVert_2}{\sigma_b},$$

    with the scale $\sigma_b$ chosen by `scale`:

    - `"rms"` (default): the root mean square norm of the true trajectory over time,
        $\sigma_b = \big(\frac1T \sum_k \lVert y_b(t_k)\rVert_2^2\big)^{1/2}$, which stays away
        from zero when the state passes through the origin;
    - `"instantaneous"`: $\sigma_b(t_k) = \lVert y_b(t_k) \rVert_2$;
    - a positive number: a fixed $\sigma$ for every trajectory and time.

    Angles (the coordinates marked in `periodic`) enter the error as differences wrapped into
    $(-\pi, \pi]$ and the norms of the true states as angles in $(-\pi, \pi]$, so the result
    does not change when either trajectory is shifted by whole turns.

    The valid prediction time is $t_{k^*}$ for the smallest $k^*$ with $e_b(t_{k^*}) >$
    `threshold`, and `ts[-1]` if the error never exceeds it. A non-finite error (a rollout that
    blew up) counts as exceeding. A zero scale (a true trajectory at rest at the origin) is
    replaced by the smallest positive normal number of the dtype, so any error then exceeds.
    The result is a time on the clock of `ts`: subtract `ts[0]` for a duration when `ts` does
    not start at zero.

    **Arguments:**

    - `ts`: the times `(T,)` of the trajectories.
    - `true_ys`: true trajectories `[q, q_t]`, shape `(*batch, T, 2n)`.
    - `predicted_ys`: predicted trajectories, the same shape.
    - `threshold`: the largest acceptable normalised error, positive; 0.4 by default.
    - `scale`: `"rms"`, `"instantaneous"` or a positive number, as above.
    - `periodic`: `n` bools, `True` for the coordinates that are angles (`system.periodic`);
        `None` (default) compares every entry as a plain number.

    **Returns:** the valid prediction time of each trajectory, shape `(*batch,)`.

    ??? cite "Reference"

        The normalisation by the time-averaged norm of the true state follows the "valid time"
        of reservoir-computing forecasts of chaotic systems:

        ```bibtex
        @article{pathak2018model,
          title={Model-Free Prediction of Large Spatiotemporally Chaotic Systems from Data:
                 A Reservoir Computing Approach},
          author={Pathak, Jaideep and Hunt, Brian and Girvan, Michelle and Lu, Zhixin
                  and Ott, Edward},
          journal={Physical Review Letters},
          volume={120},
          pages={024102},
          year={2018}
        }
        ```
    """
    true_ys, predicted_ys = _trajectories(("true_ys", "predicted_ys"), true_ys, predicted_ys)
    dtype = true_ys.dtype
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] != true_ys.shape[-2]:
        raise ValueError(
            f"`ts` must have shape (T,) with T = {true_ys.shape[-2]}, the length of the time "
            f"axis (-2) of `true_ys` of shape {true_ys.shape}; got `ts` of shape {ts.shape}."
        )
    if not jnp.issubdtype(ts.dtype, jnp.floating) and not jnp.issubdtype(ts.dtype, jnp.integer):
        raise TypeError(f"`ts` must hold real times, got dtype {ts.dtype}.")
    ts = ts.astype(dtype)
    limit = _positive("threshold", threshold, dtype)
    mask = _angle_mask(periodic, true_ys, "true_ys")

    error = jnp.linalg.norm(_wrap(predicted_ys - true_ys, mask), axis=-1)
    norms = jnp.linalg.norm(_wrap(true_ys, mask), axis=-1)
    if isinstance(scale, str):
        if scale == "rms":
            sigma = jnp.sqrt(jnp.mean(norms**2, axis=-1, keepdims=True))
        elif scale == "instantaneous":
            sigma = norms
        else:
            raise ValueError(
                f"`scale` must be 'rms', 'instantaneous' or a positive number, got {scale!r}."
            )
    else:
        sigma = _positive("scale", scale, dtype)
    sigma = jnp.maximum(sigma, jnp.finfo(dtype).tiny)
    normalised = error / sigma
    # Written as "not within" so that nan (a blown-up rollout) counts as exceeding.
    exceeded = ~(normalised <= limit)
    first = jnp.argmax(exceeded, axis=-1)
    return jnp.where(jnp.any(exceeded, axis=-1), ts[first], ts[-1])


def energy_drift(
    energy: EnergyFunction,
    ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    floor: float | int | None = None,
) -> Float[Array, "*_batch"]:
    r"""The largest relative change of energy along each trajectory: a conservation check.

    $$\delta_b = \frac{\max_t \left|E(y_b(t)) - E(y_b(t_0))\right|}
    {\max\left(\left|E(y_b(t_0))\right|, \epsilon\right)},$$

    zero for an exactly conservative rollout. Non-finite energies give `nan`.

    **Arguments:**

    - `energy`: the energy function `energy(q, q_t) -> scalar` (e.g. `system.energy`).
    - `ys`: trajectories, shape `(*batch, T, 2n)`.
    - `floor`: the smallest denominator $\epsilon$, so that a zero initial energy gives a large
        finite number rather than a division by zero; defaults to the smallest positive normal
        number of the dtype. Pass a typical energy of the system to get an absolute-ish drift
        for trajectories whose energy starts near zero.

    **Returns:** the relative drift of each trajectory, shape `(*batch,)`.
    """
    ys = _as_float("ys", ys)
    if ys.ndim < 2:
        raise ValueError(f"`ys` must have shape (*batch, T, 2n), got shape {ys.shape}.")
    energies = _energies(energy, ys, "ys")
    epsilon = (
        jnp.asarray(jnp.finfo(ys.dtype).tiny, ys.dtype)
        if floor is None
        else _positive("floor", floor, ys.dtype)
    )
    initial = energies[..., :1]
    change = jnp.max(jnp.abs(energies - initial), axis=-1)
    return change / jnp.maximum(jnp.abs(initial[..., 0]), epsilon)


# Failed rollouts ----------------------------------------------------------------------------


def _energy_and_scale(energy: EnergyFunction | None, scale) -> bool:
    """Whether the energy check is asked for: `energy` and `scale` come together or not at all."""
    if (energy is None) != (scale is None):
        given, missing = ("energy", "scale") if scale is None else ("scale", "energy")
        raise ValueError(
            f"`{given}` was given without `{missing}`: the energy error of a rollout is judged "
            "as a fraction of an energy scale, so pass both (e.g. energy=system.energy and "
            "a typical energy of the motion as scale) or neither."
        )
    return energy is not None


def failed_rollouts(
    true_ys: Float[ArrayLike, "*_batch _times _state"],
    predicted_ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    energy: EnergyFunction | None = None,
    scale: float | Real[ArrayLike, ""] | None = None,
    max_energy_error: float | Real[ArrayLike, ""] = 1.0,
) -> Bool[Array, "*_batch"]:
    r"""Which rollouts failed: blew up to non-finite states or, given an energy, far from it.

    Rollout $b$ failed when any of its predicted states is not finite, or, when `energy` and
    `scale` are given, when its energy error exceeds `max_energy_error` times the scale at
    any time,

    $$\max_t \frac{\left|E(y_{bt}) - E(\hat y_{bt})\right|}{s} > \text{max\_energy\_error},$$

    a non-finite energy counting as exceeding. The second test catches the rollouts of an
    under-trained model that stay finite but run away (an energy error of $10^{10}$ times the
    scale), which would otherwise dominate any mean.

    **Arguments:**

    - `true_ys`: true trajectories `[q, q_t]`, shape `(*batch, T, 2n)`.
    - `predicted_ys`: predicted trajectories, the same shape.
    - `energy`: the true energy function `energy(q, q_t) -> scalar` (e.g. `system.energy`);
        with `scale`, or neither.
    - `scale`: the positive energy scale $s$ (as in
        [`lagrangian_zoo.metrics.energy_discrepancy`][]); with `energy`, or neither.
    - `max_energy_error`: the largest acceptable energy error as a fraction of `scale`,
        positive; 1.0 (100 %) by default.

    **Returns:** a boolean per trajectory, shape `(*batch,)`: `True` where the rollout failed.
    """
    true_ys, predicted_ys = _trajectories(("true_ys", "predicted_ys"), true_ys, predicted_ys)
    failed = ~jnp.all(jnp.isfinite(predicted_ys), axis=(-2, -1))
    if not _energy_and_scale(energy, scale):
        return failed
    assert energy is not None
    scale = _positive("scale", scale, true_ys.dtype)
    limit = _positive("max_energy_error", max_energy_error, true_ys.dtype)
    true_energy = _energies(energy, true_ys, "true_ys")
    predicted_energy = _energies(energy, predicted_ys, "predicted_ys")
    gap = jnp.abs(true_energy - predicted_energy) / scale
    # Written as "not within" so that a nan energy counts as exceeding.
    return failed | jnp.any(~(gap <= limit), axis=-1)


class RolloutScores(eqx.Module):
    """A batch of rollouts scored with its failures set aside: what
    `lagrangian_zoo.metrics.score_rollouts` returns.

    Each metric comes twice: its mean over the rollouts that did not fail (`nan` when all
    failed), and its median over all rollouts with every failed one counted as the worst value
    (`+inf` for the errors, the first time `ts[0]` for the valid prediction time). So a table
    never averages a blown-up rollout into a mean, and its median still sees the failures.

    **Fields:**

    - `failed`: the number of failed rollouts (see `lagrangian_zoo.metrics.failed_rollouts`).
    - `total`: the number of rollouts.
    - `rollout_mse`, `rollout_mse_median`: of [`lagrangian_zoo.metrics.rollout_mse`][].
    - `energy_mse`, `energy_mse_median`: of [`lagrangian_zoo.metrics.energy_mse`][]; `None`
        without an energy.
    - `energy_discrepancy`, `energy_discrepancy_median`: of
        [`lagrangian_zoo.metrics.energy_discrepancy`][] (a fraction of the scale); `None`
        without an energy.
    - `valid_prediction_time`, `valid_prediction_time_median`: of
        [`lagrangian_zoo.metrics.valid_prediction_time`][]; `None` without `ts`.
    """

    failed: Int[Array, ""]
    total: int = eqx.field(static=True)
    rollout_mse: Float[Array, ""]
    rollout_mse_median: Float[Array, ""]
    energy_mse: Float[Array, ""] | None = None
    energy_mse_median: Float[Array, ""] | None = None
    energy_discrepancy: Float[Array, ""] | None = None
    energy_discrepancy_median: Float[Array, ""] | None = None
    valid_prediction_time: Float[Array, ""] | None = None
    valid_prediction_time_median: Float[Array, ""] | None = None

    def __repr__(self) -> str:
        if isinstance(self.failed, jax.core.Tracer):
            return eqx.tree_pformat(self)
        parts = [f"failed={int(self.failed)} of {self.total}"]
        for name in ("rollout_mse", "energy_mse", "energy_discrepancy", "valid_prediction_time"):
            mean, median = getattr(self, name), getattr(self, f"{name}_median")
            if mean is not None:
                parts.append(f"{name}={float(mean):.4g} (median {float(median):.4g})")
        return f"RolloutScores({', '.join(parts)})"


def score_rollouts(
    true_ys: Float[ArrayLike, "*_batch _times _state"],
    predicted_ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    energy: EnergyFunction | None = None,
    scale: float | Real[ArrayLike, ""] | None = None,
    ts: Real[ArrayLike, " _times"] | None = None,
    periodic: Sequence[bool] | None = None,
    at: Literal["final", "mean"] = "final",
    max_energy_error: float | Real[ArrayLike, ""] = 1.0,
) -> RolloutScores:
    r"""Scores a batch of rollouts, counting the failed ones and scoring the rest.

    A rollout fails as [`lagrangian_zoo.metrics.failed_rollouts`][] says: a non-finite state,
    or (with `energy` and `scale`) an energy error above `max_energy_error` times the scale.
    The metrics are [`lagrangian_zoo.metrics.rollout_mse`][], and with `energy` and `scale`
    [`lagrangian_zoo.metrics.energy_mse`][] and [`lagrangian_zoo.metrics.energy_discrepancy`][]
    (at `at`), and with `ts` [`lagrangian_zoo.metrics.valid_prediction_time`][]; each is
    reported as its mean over the rollouts that did not fail and its median over all, a failed
    rollout counting as the worst value.

    **Arguments:**

    - `true_ys`: true trajectories `[q, q_t]`, shape `(*batch, T, 2n)`.
    - `predicted_ys`: predicted trajectories from the same initial states, the same shape.
    - `energy`, `scale`: the true energy function and a positive energy scale, both or
        neither.
    - `ts`: the times `(T,)` of the trajectories, for the valid prediction time.
    - `periodic`: `n` bools, `True` for the coordinates that are angles (`system.periodic`).
    - `at`: `"final"` (default) or `"mean"`, the energy discrepancy's time reduction.
    - `max_energy_error`: the failure bound on the energy error, as a fraction of `scale`.

    **Returns:** a `lagrangian_zoo.metrics.RolloutScores`.

    !!! example

        ```python
        scores = lz.metrics.score_rollouts(
            true_ys, predicted_ys, energy=system.energy, scale=29.4, ts=ts
        )
        print(f"{scores.failed} of {scores.total} failed; "
              f"energy discrepancy {100 * scores.energy_discrepancy:.2f} % (mean of the rest)")
        ```
    """
    with_energy = _energy_and_scale(energy, scale)
    true_ys, predicted_ys = _trajectories(("true_ys", "predicted_ys"), true_ys, predicted_ys)
    # Checked here, where the values are concrete, so that a wrong one is a plain ValueError;
    # then the arrays go into one compiled program (eager, its many small operations would
    # each compile on first use).
    if at not in ("final", "mean"):
        raise ValueError(f"`at` must be 'final' or 'mean', got {at!r}.")
    _angle_mask(periodic, true_ys, "true_ys")
    if with_energy:
        scale = _positive("scale", scale, true_ys.dtype)
    limit = _positive("max_energy_error", max_energy_error, true_ys.dtype)
    if ts is not None:
        ts = jnp.asarray(ts)
    periodic = None if periodic is None else tuple(bool(entry) for entry in periodic)
    return _score_rollouts(true_ys, predicted_ys, energy, scale, ts, periodic, at, limit)


@eqx.filter_jit
def _score_rollouts(true_ys, predicted_ys, energy, scale, ts, periodic, at, limit):
    failed = failed_rollouts(
        true_ys, predicted_ys, energy=energy, scale=scale, max_energy_error=limit
    )
    kept = ~failed

    def mean_and_median(per_trajectory: Array, worst: Array | float) -> tuple[Array, Array]:
        mean = _mean_where(per_trajectory, kept)
        return mean, jnp.median(jnp.where(failed, worst, per_trajectory))

    fields = {}
    per = rollout_mse(predicted_ys, true_ys, periodic=periodic, reduction="none")
    fields["rollout_mse"], fields["rollout_mse_median"] = mean_and_median(per, jnp.inf)
    if energy is not None:
        per = energy_mse(energy, true_ys, predicted_ys, reduction="none")
        fields["energy_mse"], fields["energy_mse_median"] = mean_and_median(per, jnp.inf)
        per = energy_discrepancy(
            energy, true_ys, predicted_ys, scale=scale, at=at, reduction="none"
        )
        pair = mean_and_median(per, jnp.inf)
        fields["energy_discrepancy"], fields["energy_discrepancy_median"] = pair
    if ts is not None:
        per = valid_prediction_time(ts, true_ys, predicted_ys, periodic=periodic)
        # A failed rollout counts as valid for no time at all.
        pair = mean_and_median(per, ts.astype(per.dtype)[0])
        fields["valid_prediction_time"], fields["valid_prediction_time_median"] = pair
    return RolloutScores(failed=jnp.sum(failed), total=math.prod(failed.shape), **fields)


# The HNN paper's two energy protocols ------------------------------------------------------


def energy_mse_test_trajectories(
    model: Callable,
    energy: EnergyFunction,
    ts: Real[ArrayLike, " _times"],
    true_ys: Float[ArrayLike, "*_batch _times _state"],
    *,
    dt0: float | None = None,
    reduction: Reduction = "mean",
) -> Float[Array, "*_batch"]:
    r"""The energy MSE of the HNN paper's README: the model rolled out along test trajectories.

    For each true test trajectory $y_b(t_k)$, the model is integrated from its first state
    $y_b(t_0)$ over the same times with the classic fourth-order Runge-Kutta method (fixed
    steps, the paper's integrator), giving $\hat y_b(t_k)$, and

    $$\mathrm{MSE}_E = \frac{1}{B\,T}\sum_{b=1}^{B}\sum_{k=1}^{T}
    \left(E(y_b(t_k)) - E(\hat y_b(t_k))\right)^2$$

    with $E$ the system's true energy: [`lagrangian_zoo.metrics.energy_mse`][] of the rollout.
    The true trajectories must be the clean ones (for noisy training data, the trajectories
    before the noise was added): the energy of a noisy state is not the energy of the motion.

    The model, `true_ys` and `energy` must use the same coordinates (`[q, p]` for an HNN,
    `[q, q_t]` for an LNN). A rollout that goes non-finite is not an error here: its
    trajectory's value is `nan` or `inf` (see it with `reduction="none"`) and is left out of
    the mean, as in [`lagrangian_zoo.metrics.energy_mse`][], so that a benchmark can count
    failures instead of stopping.

    **Arguments:**

    - `model`: the learned vector field `model(t, y, args) -> dy/dt`.
    - `energy`: the true energy function `energy(q, v) -> scalar` in the model's coordinates.
    - `ts`: the times `(T,)` of the trajectories.
    - `true_ys`: the true trajectories, shape `(*batch, T, 2n)`.
    - `dt0`: the RK4 step; default a tenth of the smallest gap of `ts`, so that every sample
        time is a step end (see [`lagrangian_zoo.rollout`][]).
    - `reduction`: `"mean"` (default, over the trajectories with a finite value) or `"none"`
        (one value per trajectory).

    **Returns:** the energy MSE, a scalar (or `(*batch,)`).

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
    _check_reduction(reduction)
    true_ys = _as_float("true_ys", true_ys)
    if true_ys.ndim < 2:
        raise ValueError(f"`true_ys` must have shape (*batch, T, 2n), got shape {true_ys.shape}.")
    y0 = true_ys[..., 0, :].reshape(-1, true_ys.shape[-1])
    predicted = rollout(model, y0, ts, solver="rk4", dt0=dt0, checks=False)
    predicted = predicted.reshape(true_ys.shape)
    return energy_mse(energy, true_ys, predicted, reduction=reduction)


def long_horizon_initial_states(
    key: jax.Array,
    *,
    starts: int = 15,
    dof: int = 1,
    low: float = 0.2,
    high: float = 1.0,
) -> Float[Array, "starts state"]:
    r"""Initial states of the HNN repository's long-horizon spring test.

    Every entry of the state, each $q_i$ and $p_i$, is drawn with magnitude $U(\text{low},
    \text{high})$ and a random sign: $\pm(0.2, 1.0)$ by default, 15 states, as the spring
    analysis notebook of the HNN repository draws them.

    **Arguments:**

    - `key`: a `jax.random` key.
    - `starts`: the number of initial states.
    - `dof`: the number of coordinates `n`; each state has `2n` entries.
    - `low`, `high`: the range of the magnitudes, `0 <= low < high`.

    **Returns:** the states, shape `(starts, 2n)`.
    """
    positive_int("", "starts", starts)
    positive_int("", "dof", dof)
    if not 0 <= low < high:
        raise ValueError(f"need 0 <= low < high, got low={low!r}, high={high!r}.")
    magnitude_key, sign_key = jax.random.split(key)
    magnitude = jax.random.uniform(magnitude_key, (starts, 2 * dof), minval=low, maxval=high)
    sign = jnp.where(jax.random.bernoulli(sign_key, 0.5, (starts, 2 * dof)), 1.0, -1.0)
    return sign.astype(magnitude.dtype) * magnitude


def energy_mse_long_horizon(
    model: Callable,
    true_dynamics: Callable,
    energy: EnergyFunction,
    y0: Float[ArrayLike, "starts state"],
    *,
    t_end: float = 20.0,
    times: int = 100,
    time_stretch: float = 1.0,
    solver: str = "dopri8",
    rtol: float = 1e-12,
    atol: float = 1e-12,
    reduction: Reduction = "mean",
) -> Float[Array, "*_batch"]:
    r"""The long-horizon energy MSE of the HNN repository's spring analysis notebook.

    From each initial state $y_b(0)$ (15 draws of
    [`lagrangian_zoo.metrics.long_horizon_initial_states`][] in the notebook), the true
    dynamics and the model are both integrated over `times` equally spaced times in
    $[0, t_\text{end}]$ ($[0, 20]$ at 100 points), with a high-order adaptive solver at tight
    tolerances (the notebook used SciPy at `rtol=1e-12`), and the energy MSE
    [`lagrangian_zoo.metrics.energy_mse`][] of the true energy along both is returned.
    Tolerances below ten machine epsilons of the states' dtype are raised to that floor.

    The notebook also stretched the model's time axis by $1 + 0.9\,\sigma$ ($\sigma$ the noise
    of the training data) "to compensate for noise": `time_stretch` does that (the model is
    evaluated at `time_stretch * t`). It is `1.0` by default, the metric without that
    correction.

    As in [`lagrangian_zoo.metrics.energy_mse_test_trajectories`][], the model, `true_dynamics`,
    `y0` and `energy` share one set of coordinates, and a rollout that goes non-finite gives a
    non-finite value for its trajectory (left out of the mean) instead of an error.

    **Arguments:**

    - `model`: the learned vector field `model(t, y, args) -> dy/dt`.
    - `true_dynamics`: the true vector field, in the same coordinates.
    - `energy`: the true energy function `energy(q, v) -> scalar`.
    - `y0`: the initial states, shape `(starts, 2n)`.
    - `t_end`, `times`: the horizon and the number of sample times, from `t = 0`.
    - `time_stretch`: the factor on the model's time axis (positive).
    - `solver`, `rtol`, `atol`: the adaptive solver of both rollouts (see
        [`lagrangian_zoo.rollout`][]).
    - `reduction`: `"mean"` (default, over the starts with a finite value) or `"none"` (one
        value per initial state).

    **Returns:** the energy MSE, a scalar (or `(starts,)`).
    """
    _check_reduction(reduction)
    y0 = _as_float("y0", y0)
    if y0.ndim != 2:
        raise ValueError(f"`y0` must have shape (starts, 2n), got shape {y0.shape}.")
    positive_int("", "times", times, minimum=2)
    for name, value in (("t_end", t_end), ("time_stretch", time_stretch)):
        positive_number("", name, value, expected_value="a positive, finite number")
    floor = 10 * float(jnp.finfo(y0.dtype).eps)
    rtol, atol = max(rtol, floor), max(atol, floor)
    ts = jnp.linspace(0.0, t_end, times, dtype=y0.dtype)
    settings = {"solver": solver, "rtol": rtol, "atol": atol, "checks": False}
    true_ys = rollout(true_dynamics, y0, ts, **settings)
    predicted = rollout(model, y0, time_stretch * ts, **settings)
    return energy_mse(energy, true_ys, predicted, reduction=reduction)


__all__ = [
    "derivative_mse",
    "rollout_mse",
    "energy_mse",
    "energy_discrepancy",
    "valid_prediction_time",
    "energy_drift",
    "failed_rollouts",
    "score_rollouts",
    "RolloutScores",
    "energy_mse_test_trajectories",
    "long_horizon_initial_states",
    "energy_mse_long_horizon",
]
