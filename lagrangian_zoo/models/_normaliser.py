"""Input normalisation of a state and the `(cos q, sin q)` embedding of angles."""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jaxtyping import Array, ArrayLike, Float


def as_periodic(dof: int, periodic: Sequence[bool] | None) -> tuple[bool, ...]:
    """Validates a per-coordinate `periodic` mask of length `dof` (default: none periodic)."""
    if periodic is None:
        return (False,) * dof
    if isinstance(periodic, (str, bytes)) or not isinstance(periodic, Sequence):
        raise TypeError(
            f"`periodic` must be a sequence of {dof} bools (one per coordinate) or None, got "
            f"{type(periodic).__name__}."
        )
    if len(periodic) != dof:
        raise ValueError(
            f"`periodic` must have one entry per coordinate, length dof={dof}, got length "
            f"{len(periodic)}: {list(periodic)!r}."
        )
    out = []
    for entry in periodic:
        if not isinstance(entry, (bool, np.bool_)):
            raise TypeError(
                f"`periodic` must hold bools (True for an angle), got {entry!r} of type "
                f"{type(entry).__name__}."
            )
        out.append(bool(entry))
    return tuple(out)


class Normaliser(eqx.Module):
    r"""Per-feature standardisation of a state, with angles embedded on the circle.

    A state `[q, q_t]` becomes the network input
    $$x = \big[\cos q_P,\ \sin q_P,\ (q_R - \mu_{q_R}) / s_{q_R},\
    (\dot q - \mu_{\dot q}) / s_{\dot q}\big],$$
    where $P$ are the coordinates marked periodic and $R$ the others. The embedding makes every
    function of $x$ exactly $2\pi$-periodic in the angles, and the scaling keeps inputs of order
    one (angular velocities of order 10 otherwise saturate the first layer).

    `mean` and `scale` have one entry per state component `(2n,)`; the entries of periodic
    coordinates are unused and kept at 0 and 1. A new normaliser is the identity; `adapt` returns
    one holding statistics of training states. The statistics are data, not parameters: see
    [`lagrangian_zoo.models.trainable_filter`][].

    **Arguments:**

    - `mean`: `(2n,)` per-component offsets.
    - `scale`: `(2n,)` positive per-component scales.
    - `periodic`: `n` bools, `True` for coordinates that are angles.
    """

    mean: Float[Array, " state"]
    scale: Float[Array, " state"]
    periodic: tuple[bool, ...] = eqx.field(static=True, converter=tuple)

    def __check_init__(self):
        n = len(self.periodic)
        for name in ("mean", "scale"):
            shape = getattr(self, name).shape
            if shape != (2 * n,):
                raise ValueError(
                    f"Normaliser `{name}` must have shape (2 * dof,) = ({2 * n},) for "
                    f"{n} coordinates, got {shape}."
                )

    @classmethod
    def identity(cls, periodic: tuple[bool, ...]) -> "Normaliser":
        """The normaliser that leaves `q` and `q_t` unchanged (angles are still embedded)."""
        n = len(periodic)
        return cls(mean=jnp.zeros(2 * n), scale=jnp.ones(2 * n), periodic=periodic)

    @property
    def dof(self) -> int:
        """The number of coordinates `n`."""
        return len(self.periodic)

    @property
    def position_size(self) -> int:
        """The width of the embedded positions: `n` plus one per periodic coordinate."""
        return self.dof + sum(self.periodic)

    @property
    def size(self) -> int:
        """The width of the embedded state: `2n` plus one per periodic coordinate."""
        return self.position_size + self.dof

    def adapt(self, states: Float[ArrayLike, "*batch state"]) -> "Normaliser":
        """A normaliser with the mean and standard deviation of `states`.

        Periodic coordinates keep mean 0 and scale 1 (they are embedded, not scaled); a
        component that does not vary keeps scale 1.

        **Arguments:**

        - `states`: training states `[..., 2n]`, any number of leading batch axes.

        **Returns:** a new `Normaliser` in the dtype of this one.
        """
        states = jnp.asarray(states)
        n = self.dof
        if states.ndim < 2 or states.shape[-1] != 2 * n:
            raise ValueError(
                f"`states` must have shape (N, {2 * n}) (or more leading batch axes) for "
                f"dof={n}, got shape {states.shape}."
            )
        if not jnp.issubdtype(states.dtype, jnp.floating):
            raise TypeError(f"`states` must be a floating-point array, got dtype {states.dtype}.")
        flat = states.reshape(-1, 2 * n).astype(self.mean.dtype)
        if flat.shape[0] == 0:
            raise ValueError("`states` is empty: statistics need at least one state.")
        if not isinstance(flat, Tracer) and not np.all(np.isfinite(np.asarray(flat))):
            raise ValueError("`states` contains non-finite values (nan or inf).")
        mean = jnp.mean(flat, axis=0)
        std = jnp.std(flat, axis=0)
        # A constant component carries no information; scaling it by ~0 would blow it up.
        flat_tolerance = 100 * jnp.finfo(flat.dtype).eps * (1 + jnp.abs(mean))
        scale = jnp.where(std > flat_tolerance, std, jnp.ones_like(std))
        embedded = np.asarray(self.periodic + (False,) * n)
        mean = jnp.where(embedded, jnp.zeros_like(mean), mean)
        scale = jnp.where(embedded, jnp.ones_like(scale), scale)
        return Normaliser(mean=mean, scale=scale, periodic=self.periodic)

    def positions(self, q: Float[ArrayLike, " n"]) -> Float[Array, " positions"]:
        """The embedded positions `[cos q_P, sin q_P, (q_R - mean) / scale]`."""
        q = self._check(q, "q")
        periodic = np.asarray(self.periodic, dtype=bool)
        angles = q[np.flatnonzero(periodic)]
        free = np.flatnonzero(~periodic)
        scaled = (q[free] - self.mean[free]) / self.scale[free]
        return jnp.concatenate([jnp.cos(angles), jnp.sin(angles), scaled])

    def velocities(self, q_t: Float[ArrayLike, " n"]) -> Float[Array, " n"]:
        """The scaled velocities (or momenta) `(q_t - mean) / scale`."""
        q_t = self._check(q_t, "q_t")
        n = self.dof
        return (q_t - self.mean[n:]) / self.scale[n:]

    def __call__(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, " features"]:
        """The network input for the state `(q, q_t)`: positions then velocities."""
        return jnp.concatenate([self.positions(q), self.velocities(q_t)])

    def _check(self, x: ArrayLike, name: str) -> Array:
        x = jnp.asarray(x)
        if x.shape != (self.dof,):
            raise ValueError(
                f"`{name}` must have shape (dof,) = ({self.dof},), got shape {x.shape}. For a "
                "batch, wrap the call in jax.vmap."
            )
        return x
