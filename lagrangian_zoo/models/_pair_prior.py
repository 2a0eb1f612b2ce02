"""A simplicity prior for the pair potential of the pairwise models: a decay that leaves one
term of its linear part free and makes everything else earn its place."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import PyTree

from .._validation import positive_number


PAIR_TERMS = ("r", "1/r", "log r")
"""The terms of the pair potential's linear part (`potential_linear`), in its order: the
names `pair_potential_decay`'s `keep` takes."""


def _check_keep(keep: str | Sequence[str]) -> tuple[str, ...]:
    names = (keep,) if isinstance(keep, str) else tuple(keep)
    unknown = [name for name in names if name not in PAIR_TERMS]
    if unknown or not names:
        raise ValueError(
            f"`keep` must name one or more terms of the pair potential's linear part, "
            f"{', '.join(map(repr, PAIR_TERMS))}; got {keep!r}."
        )
    return names


def pair_potential_decay(
    rate: float = 10.0, *, keep: str | Sequence[str] = "1/r"
) -> optax.GradientTransformation:
    r"""A decoupled weight decay for the pair potential of a
    [`PairwiseLagrangian`][lagrangian_zoo.models.PairwiseLagrangian] or
    [`PairwiseHamiltonian`][lagrangian_zoo.models.PairwiseHamiltonian]: every weight of its
    network (and of the general form's edge network) and the coefficients of the linear part's
    terms not in `keep` are pulled towards zero at `rate`; the kept terms and the masses are
    left alone.

    Within the distances of the training data, $r$, $1/r$ and $\log r$ and the network can stand
    in for one another, so a plain fit spreads the potential over all of them, and its force
    goes wrong at the distances no sample reached (close encounters of a larger system). With
    the decay the data are explained by the kept term unless the rest is needed: if the law
    is one of the terms, the fit finds it, and it holds at every distance. Which term to keep
    is a choice: make it from the data, by the held-out loss of one fit per candidate in
    `PAIR_TERMS`.

    Goes between Adam's scaling and the learning rate, as AdamW's decay does:

    ```python
    optimizer = optax.chain(
        optax.scale_by_adam(),
        lz.models.pair_potential_decay(10.0, keep="1/r"),
        optax.scale_by_learning_rate(schedule),
    )
    model, history = lz.fit(model, data, steps=..., key=key, optimizer=optimizer)
    ```
    Its `update` needs the parameters (`lz.fit` passes them).
    """
    rate = positive_number("pair_potential_decay", "rate", rate)
    kept = _check_keep(keep)
    linear_rates = jnp.asarray([0.0 if name in kept else rate for name in PAIR_TERMS])

    def rates_for(params: PyTree) -> PyTree:
        if not hasattr(params, "potential_linear"):
            raise TypeError(
                "`pair_potential_decay` decays a pairwise model's pair potential; the "
                f"parameters it was given are a {type(params).__name__}, which has none."
            )
        rates = jax.tree.map(jnp.zeros_like, params)
        everything = lambda tree: jax.tree.map(lambda leaf: jnp.full_like(leaf, rate), tree)  # noqa: E731
        rates = eqx.tree_at(lambda p: p.potential_network, rates, replace_fn=everything)
        if params.edge_network is not None:
            rates = eqx.tree_at(lambda p: p.edge_network, rates, replace_fn=everything)
        return eqx.tree_at(
            lambda p: p.potential_linear,
            rates,
            linear_rates.astype(params.potential_linear.dtype),
        )

    def init(params: PyTree) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update(updates: PyTree, state: optax.EmptyState, params: PyTree | None = None):
        if params is None:
            raise ValueError("`pair_potential_decay` needs the parameters in `update`.")
        rates = rates_for(params)
        decayed = jax.tree.map(
            lambda update, weight, rate_: update + rate_ * weight, updates, params, rates
        )
        return decayed, state

    return optax.GradientTransformation(init, update)
