"""Models of either coordinate system compared in one: velocity states `[q, q_t]`.

A model that takes canonical states (`model.coordinates == "canonical"`, an HNN) reads
`[q, p]` and predicts `[q_t, p_t]`; every other model reads `[q, q_t]` and predicts
`[q_t, q_tt]`. To score them on the same states and targets,
the canonical model is given the true Legendre map of each state, and its `p_t` is turned
into `q_tt` by the true mass matrix.
"""

import jax
import jax.numpy as jnp
import lagrangian_zoo as lz


def velocity_derivatives(model, system, y: jax.Array) -> jax.Array:
    """The model's `[q_t, q_tt]` at velocity states `y` of shape `(N, 2n)`.

    A canonical model reads `[q, p(q, q_t)]`; from `p_t = (dp/dq) q_t + M q_tt` along the
    motion, `q_tt = M^-1 (p_t - (dp/dq) q_t)` with the true mass matrix `M` and the state's
    own `q_t`.
    """
    if model.coordinates != "canonical":
        return jax.vmap(lambda state: model(0.0, state, None))(y)
    momentum = lz.momenta(system.lagrangian)
    masses = lz.mass_matrix(system.lagrangian)

    def one(state):
        q, q_t = lz.split_state(state)
        q_rate, p_t = lz.split_state(model(0.0, jnp.concatenate([q, momentum(q, q_t)]), None))
        _, p_along_q = jax.jvp(lambda x: momentum(x, q_t), (q,), (q_t,))
        q_tt = jnp.linalg.solve(masses(q, q_t), p_t - p_along_q)
        return jnp.concatenate([q_rate, q_tt])

    return jax.vmap(one)(y)
