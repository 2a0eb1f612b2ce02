"""Port-Hamiltonian models: structure by construction, passivity, conservation, training."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import optax
import pytest


def model_with_everything(key, **kwargs):
    options = dict(
        inputs=2, width=16, depth=1, structure="learned", dissipation=True, input_matrix="learned"
    )
    return lz.models.PortHamiltonian(2, key=key, **{**options, **kwargs})


def test_structure_and_passivity(getkey):
    model = model_with_everything(getkey())
    # Random parameters, away from the initial canonical J.
    model = eqx.tree_at(lambda m: m.skew, model, jax.random.normal(getkey(), (4, 4)))
    xs = 2.0 * jax.random.normal(getkey(), (5, 4))
    us = jax.random.normal(getkey(), (5, 2))

    @eqx.filter_jit
    def evaluate(model, x, u):
        field = model.vector_field(x, u)
        gradient = model.gradient(x)
        matrix = model.dissipation_matrix(x)
        balance = -gradient @ matrix @ gradient + model.output(x) @ u
        # dH/dt by central differences along the field, independent of the model's gradient.
        step = 1e-5

        def energy(z):
            return model.energy(z[:2], z[2:])

        rate = (energy(x + step * field) - energy(x - step * field)) / (2 * step)
        return matrix, rate, balance, model.output(x) @ u

    matrices, rates, balances, supplied = jax.vmap(evaluate, in_axes=(None, 0, 0))(model, xs, us)
    for matrix in np.asarray(matrices):
        np.testing.assert_allclose(matrix, matrix.T, atol=1e-14)
        assert np.linalg.eigvalsh(matrix).min() >= -1e-12
    assert np.abs(matrices).max() > 1e-3  # the dissipation is not trivially zero
    np.testing.assert_allclose(rates, balances, rtol=1e-7, atol=1e-8)
    assert np.all(np.asarray(rates) <= np.asarray(supplied) + 1e-8)  # passive
    interconnection = model.interconnection()
    np.testing.assert_allclose(interconnection, -interconnection.T, atol=0)


def test_canonical_conservative_model_conserves_its_energy(getkey):
    model = lz.models.PortHamiltonian(1, key=getkey(), width=16, depth=1)
    np.testing.assert_array_equal(model.interconnection(), [[0.0, 1.0], [-1.0, 0.0]])

    @eqx.filter_jit
    def energies(model, x0):
        def step(x, _):
            # Classical fourth-order Runge-Kutta on the model's field, no input (args=None).
            dt, field = 0.01, lambda x: model(0.0, x, None)
            k1 = field(x)
            k2 = field(x + dt / 2 * k1)
            k3 = field(x + dt / 2 * k2)
            k4 = field(x + dt * k3)
            x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            return x, model.energy(x[:1], x[1:])

        return jax.lax.scan(step, x0, None, 200)

    x0 = jnp.array([0.8, -0.3])
    end, energy = energies(model, x0)
    drift = np.ptp(np.append(np.asarray(energy), float(model.energy(x0[:1], x0[1:]))))
    assert drift < 1e-7  # the method's own error is about dt^4
    assert np.abs(np.asarray(end - x0)).max() > 1e-2  # it moved


def test_save_and_load(getkey, tmp_path):
    given = [[0.0], [0.0], [1.0], [0.5]]
    model = model_with_everything(getkey(), inputs=1, input_matrix=given, periodic=(True, False))
    path = tmp_path / "model.lzm"
    lz.save_model(path, model)
    loaded = lz.load_model(path)
    assert type(loaded) is lz.models.PortHamiltonian and loaded.config() == model.config()
    x, u = jnp.array([0.1, 0.2, 0.3, 0.4]), jnp.array([0.5])
    np.testing.assert_array_equal(loaded(0.0, x, u), model(0.0, x, u))
    np.testing.assert_array_equal(loaded.input_matrix(x), given)
    # The input as a control law u(t, x), and through the vector field itself.
    np.testing.assert_allclose(
        loaded.driven(lambda t, x: u)(0.0, x, None), model.vector_field(x, u), rtol=1e-12
    )


def test_training_learns_a_damped_driven_oscillator(getkey):
    # H = (q^2 + p^2) / 2, R = diag(0, 0.3), G = (0, 1): a damped spring pushed by u.
    def truth(x, u):
        return jnp.array([x[1], -x[0] - 0.3 * x[1] + u[0]])

    xs = jax.random.uniform(getkey(), (128, 2), minval=-2.0, maxval=2.0)
    us = jax.random.uniform(getkey(), (128, 1), minval=-1.0, maxval=1.0)
    targets = jax.vmap(truth)(xs, us)
    model = lz.models.PortHamiltonian(1, key=getkey(), width=16, depth=1, dissipation=True)
    params, static = eqx.partition(model, lz.models.trainable_filter(model))
    optimiser = optax.adam(3e-3)

    def loss(params):
        model = eqx.combine(params, static)
        return jnp.mean((jax.vmap(model.vector_field)(xs, us) - targets) ** 2)

    @jax.jit
    def train(params):
        def step(carry, _):
            params, state = carry
            value, grads = jax.value_and_grad(loss)(params)
            updates, state = optimiser.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), value

        (params, _), losses = jax.lax.scan(step, (params, optimiser.init(params)), None, 200)
        return params, losses, loss(params)

    with jax.numpy_dtype_promotion("standard"):  # optax's step count is an int32
        _, losses, final = train(params)
    # Over seeds the loss falls to 0.05 - 0.2 of its start in these 200 steps.
    assert float(final) < 0.5 * float(losses[0])


def test_bad_arguments_are_refused(getkey):
    with pytest.raises(ValueError, match=r"`input_matrix` must be .* shape .* = \(4, 1\), got"):
        lz.models.PortHamiltonian(2, key=getkey(), input_matrix=[[1.0, 0.0]])
    with pytest.raises(ValueError, match="'momentum'.* needs inputs == dof, got inputs=1"):
        lz.models.PortHamiltonian(2, key=getkey(), input_matrix="momentum")
    with pytest.raises(ValueError, match="`structure` must be one of 'canonical', 'learned'"):
        lz.models.PortHamiltonian(2, key=getkey(), structure="symplectic")
    model = lz.models.PortHamiltonian(1, key=getkey(), width=4, depth=1, inputs=1)
    with pytest.raises(ValueError, match=r"takes an input `u` of shape \(1,\), got shape \(2,\)"):
        model(0.0, jnp.zeros(2), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"`control` must be a callable u\(t, x\) or an input"):
        model.driven(jnp.zeros(2))
