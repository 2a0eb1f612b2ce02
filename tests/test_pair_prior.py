"""The simplicity prior of the pair potential (`lz.models.pair_potential_decay`).

Its update is checked leaf by leaf against the decay written out by hand; a fit on gravity
with the prior finds the inverse-distance law, checked against Newton's force far below the
distances of its data, and the held-out loss tells the true term from a wrong one.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import optax
import pytest


def _params(model):
    return eqx.filter(model, lz.models.trainable_filter(model))


@pytest.mark.parametrize("keep", ["1/r", "log r", ("r", "1/r")])
def test_update_decays_the_network_and_the_other_terms_only(getkey, keep):
    model = lz.models.PairwiseLagrangian(6, key=getkey(), width=8, form="general")
    model = eqx.tree_at(lambda m: m.potential_linear, model, jnp.asarray([0.3, -0.7, 0.2]))
    params = _params(model)
    updates = jax.tree.map(lambda x: jnp.full_like(x, 0.5), params)
    rate = 3.0
    transform = lz.models.pair_potential_decay(rate, keep=keep)
    out, _ = transform.update(updates, transform.init(params), params)

    for network in ("potential_network", "edge_network"):
        for u, x in zip(
            jax.tree.leaves(getattr(out, network)), jax.tree.leaves(getattr(params, network))
        ):
            np.testing.assert_allclose(u, 0.5 + rate * np.asarray(x), rtol=1e-15)
    kept = {keep} if isinstance(keep, str) else set(keep)
    expected = [
        0.5 if term in kept else 0.5 + rate * value
        for term, value in zip(("r", "1/r", "log r"), (0.3, -0.7, 0.2))
    ]
    np.testing.assert_allclose(out.potential_linear, expected, rtol=1e-15)
    # The masses are not part of the potential: untouched.
    np.testing.assert_array_equal(out.log_mass, updates.log_mass)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`keep`.*'r', '1/r', 'log r'.*'r\\^2'"):
        lz.models.pair_potential_decay(1.0, keep="r^2")
    with pytest.raises(ValueError, match="rate"):
        lz.models.pair_potential_decay(-1.0)
    transform = lz.models.pair_potential_decay(1.0)
    params = {"w": jnp.ones(3)}
    with pytest.raises(TypeError, match="pairwise model's pair potential.*dict"):
        transform.update(params, transform.init(params), params)
    with pytest.raises(ValueError, match="needs the parameters"):
        transform.update(params, transform.init(params))


def _gravity_data(key, trajectories=48):
    """Two unit masses, G = 1, on near-circular orbits of radius ~1: pair distances stay
    within about [1.6, 2.4] (no close encounter)."""
    system = lz.systems.NBody(bodies=2)
    radius = jax.random.uniform(key, (trajectories,), minval=0.85, maxval=1.15)
    angle = jax.random.uniform(jax.random.fold_in(key, 1), (trajectories,)) * 2 * jnp.pi
    speed = jnp.sqrt(1 / (4 * radius)) * jax.random.uniform(
        jax.random.fold_in(key, 2), (trajectories,), minval=0.95, maxval=1.05
    )
    r = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    v = speed[:, None] * jnp.stack([-jnp.sin(angle), jnp.cos(angle)], axis=1)
    y0 = jnp.concatenate([r, -r, v, -v], axis=1)
    ts = jnp.linspace(0.0, 3.0, 10)
    ys = lz.rollout(system, y0, ts, solver="dopri8", rtol=1e-10, atol=1e-10)
    dys = jax.vmap(jax.vmap(lambda y: system(0.0, y, None)))(ys)
    return ts, ys, dys


def _fit(model, data, key, keep, steps=1500):
    schedule = optax.cosine_decay_schedule(3e-3, steps)
    optimizer = optax.chain(
        optax.scale_by_adam(),
        lz.models.pair_potential_decay(10.0, keep=keep),
        optax.scale_by_learning_rate(schedule),
    )
    fitted, _ = lz.fit(
        model, data, steps=steps, key=key, batch_size=128, optimizer=optimizer, progress=False
    )
    return fitted


@pytest.mark.parametrize("seed", [0, 1])
def test_prior_finds_the_inverse_distance_law_and_it_extrapolates(seed):
    key = jax.random.key(seed)
    ts, ys, dys = _gravity_data(jax.random.fold_in(key, 7))
    train = lz.Dataset(ts, ys[:40], dys[:40])
    held_y, held_dy = ys[40:].reshape(-1, 8), dys[40:].reshape(-1, 8)
    model = lz.models.PairwiseLagrangian(4, key=jax.random.fold_in(key, 8), width=16)

    def held_out_loss(fitted):
        predicted = jax.vmap(lambda y: fitted(0.0, y, None))(held_y)
        return float(jnp.mean((predicted - held_dy) ** 2))

    inverse = _fit(model, train, jax.random.fold_in(key, 9), "1/r")
    wrong = _fit(model, train, jax.random.fold_in(key, 9), "log r")
    # The selection rule: the true term explains held-out data far better than a wrong one.
    assert held_out_loss(inverse) < 0.1 * held_out_loss(wrong)

    # Newton's force per unit mass, -1/r^2, at a tenth of the data's smallest distance and at
    # five times its largest: the decayed network and terms leave the 1/r law alone there.
    r = jnp.asarray([0.16, 0.3, 1.0, 2.0, 12.0])
    mass = inverse.masses[0]
    force = -jax.vmap(jax.grad(inverse.pair_potential))(r) / mass
    np.testing.assert_allclose(force, -1 / r**2, rtol=2e-2)
