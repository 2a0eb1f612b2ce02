import json

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from jaxtyping import Array, Float, Scalar

from helpers import relative_error, tree_allclose


DOF = 2
SMALL = {"width": 8, "depth": 2}
# The first coordinate is an angle in every test model, so that the periodic embedding is
# exercised everywhere and compiled functions are shared between tests.
PERIODIC = (True, False)
DISSIPATIVE = {"dissipation": True, "dissipation_width": 4}
VARIANTS = {
    "baseline": (lz.models.Baseline, {}),
    "baseline_acceleration": (lz.models.Baseline, {"predict": "acceleration"}),
    "hnn": (lz.models.HNN, {}),
    "lnn": (lz.models.LNN, {}),
    # The dissipative LNN also carries the mass prior, so that every test of it covers both.
    "lnn_dissipative": (lz.models.LNN, {**DISSIPATIVE, "mass_prior": True}),
    "delan": (lz.models.DeLaN, {}),
    "delan_dissipative": (lz.models.DeLaN, DISSIPATIVE),
}
# The dissipative variants contain every network of the conservative ones.
COVERING = ["baseline", "baseline_acceleration", "hnn", "lnn_dissipative", "delan_dissipative"]


def key(seed=0):
    # The tests build many small networks: RBG keys compile far faster than threefry ones.
    return jax.random.key(seed, impl="rbg")


def build(variant, *, seed=0, **kwargs):
    cls, options = VARIANTS[variant]
    return cls(DOF, key=key(seed), **SMALL, periodic=PERIODIC, **options, **kwargs)


def random_states(key, count, dof=DOF, spread=1.0):
    return spread * jax.random.normal(key, (count, 2 * dof))


def to_float32(tree):
    return jax.tree.map(lambda x: x.astype(jnp.float32) if eqx.is_inexact_array(x) else x, tree)


@eqx.filter_jit
def fields(model, ys):
    return jax.vmap(lambda y: model(0.0, y, None))(ys)


@eqx.filter_jit
def field(model, y):
    return model(0.0, y, None)


@eqx.filter_jit
def energies(model, ys):
    n = ys.shape[-1] // 2
    return jax.vmap(jax.vmap(lambda y: model.energy(y[:n], y[n:])))(ys)


@pytest.fixture(scope="module")
def states():
    return random_states(jax.random.key(1), 6, spread=1.5)


@pytest.fixture(scope="module")
def models(states):
    """Every variant, its normaliser adapted to the test states."""
    return {variant: build(variant).adapt(states) for variant in VARIANTS}


# Shapes, transformations and dtypes


@pytest.mark.parametrize("variant", COVERING)
def test_jit_vmap_grad_and_float32(models, states, variant):
    model = models[variant]
    out = fields(model, states)
    assert out.shape == states.shape and out.dtype == jnp.float64
    assert bool(jnp.all(jnp.isfinite(out)))
    for i in (0, 3):
        assert tree_allclose(field(model, states[i]), out[i], rtol=1e-10, atol=1e-12)

    # Gradients with respect to the trainable parameters, in float32 throughout.
    model32 = to_float32(model)
    params, static = eqx.partition(model32, lz.models.trainable_filter(model32))

    @eqx.filter_jit
    @eqx.filter_value_and_grad(has_aux=True)
    def loss(params, ys):
        outputs = jax.vmap(lambda y: eqx.combine(params, static)(0.0, y, None))(ys)
        return jnp.mean(outputs**2), outputs

    (value, out32), grads = loss(params, states.astype(jnp.float32))
    assert value.dtype == jnp.float32 and out32.dtype == jnp.float32
    assert relative_error(out32.astype(jnp.float64), out) < 1e-3
    leaves = jax.tree.leaves(grads)
    assert len(leaves) == len(jax.tree.leaves(params)) > 0
    assert all(g.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert sum(float(jnp.sum(jnp.abs(g))) for g in leaves) > 0
    # The input statistics are not parameters.
    assert jax.tree.leaves(grads.normaliser) == []


# MLP


def test_mlp_scalar_output_and_activations():
    mlp = lz.models.MLP(5, "scalar", (8, 8), key=key(1))
    assert mlp(jnp.ones(5)).shape == ()
    assert lz.models.MLP(5, 4, (8,), key=key(2))(jnp.ones(5)).shape == (4,)
    x = np.array([-1.5, 0.0, 2.0])
    sigmoid = 1 / (1 + np.exp(-x))
    expected = {
        "relu": [0.0, 0.0, 2.0],
        "relu2": [0.0, 0.0, 4.0],
        "relu3": [0.0, 0.0, 8.0],
        "tanh": np.tanh(x),
        "sigmoid": sigmoid,
        "softplus": np.log1p(np.exp(x)),
        "swish": x * sigmoid,
    }
    assert set(expected) == set(lz.models.ACTIVATIONS)
    values = jax.jit(lambda x: {k: f(x) for k, f in lz.models.ACTIVATIONS.items()})(x)
    for name, value in expected.items():
        np.testing.assert_allclose(values[name], value, rtol=1e-12, err_msg=name)


def test_mlp_lnn_initialisation():
    # sigma = 2.2 / sqrt(n) first, 0.58 i / sqrt(n) for hidden layer i, n / sqrt(n) last.
    # Built under jit: one compilation instead of one per eager operation.
    mlp = eqx.filter_jit(lz.models.MLP)(50, "scalar", (400,) * 3, init="lnn", key=key(1))
    expected = [2.2 / 50**0.5, 0.58 * 1 / 400**0.5, 0.58 * 2 / 400**0.5, 400 / 400**0.5]
    for layer, sigma in zip(mlp.layers, expected, strict=True):
        assert abs(float(jnp.std(layer.weight)) / sigma - 1) < 0.05
        assert abs(float(jnp.mean(layer.weight))) < 0.1 * sigma
        assert not bool(jnp.any(layer.bias))
    default = lz.models.MLP(50, "scalar", (400,), key=key(2))
    bound = 1 / 50**0.5
    assert float(jnp.max(jnp.abs(default.layers[0].weight))) <= bound


def test_unknown_activation(getkey):
    with pytest.raises(ValueError, match="unknown activation 'gelu'.*softplus.*relu3.*swish"):
        lz.models.MLP(2, 2, (4,), activation="gelu", key=getkey())
    with pytest.raises(ValueError, match="unknown activation 'elu'"):
        lz.models.LNN(1, key=getkey(), activation="elu")
    with pytest.raises(ValueError, match="unknown init 'xavier'.*default, lnn"):
        lz.models.HNN(1, key=getkey(), init="xavier")


# LNN


def _euler_lagrange_by_finite_differences(lagrangian, dissipation, y, h=3e-4):
    """The accelerations of a Lagrangian L and a Rayleigh function D at one state `y`, from
    central differences of their values only, solved with numpy in float64.

    With z = [q, q_t]: the gradient and Hessian of L in z give dL/dq, the mass matrix
    M = d2L/dq_t2 and the mixed block C = d2L/dq_t dq; the force is Q = -dD/dq_t. Then
    q_tt = M^{-1} (dL/dq - C q_t + Q).
    """
    z = np.asarray(y, float)
    size, n = z.size, z.size // 2
    steps = h * np.eye(size)
    # L at z +- h e_a (gradient) and at z +- h e_a +- h e_b (Hessian), in one batch.
    singles = [z + sign * steps[a] for a in range(size) for sign in (1, -1)]
    doubles = [
        z + s * steps[a] + t * steps[b]
        for a in range(size)
        for b in range(size)
        for s, t in ((1, 1), (1, -1), (-1, 1), (-1, -1))
    ]
    points = jnp.asarray(np.stack(singles + doubles))
    values = np.asarray(jax.vmap(lagrangian)(points[:, :n], points[:, n:]))
    damping = np.asarray(jax.vmap(dissipation)(points[:, :n], points[:, n:]))
    pairs = values[: 2 * size].reshape(size, 2)
    gradient = (pairs[:, 0] - pairs[:, 1]) / (2 * h)
    quads = values[2 * size :].reshape(size, size, 4)
    hessian = (quads[..., 0] - quads[..., 1] - quads[..., 2] + quads[..., 3]) / (4 * h**2)
    damping_pairs = damping[: 2 * size].reshape(size, 2)
    force = -(damping_pairs[n:, 0] - damping_pairs[n:, 1]) / (2 * h)
    mass, mixed = hessian[n:, n:], hessian[n:, :n]
    return np.linalg.solve(mass, gradient[:n] - mixed @ z[n:] + force)


def test_lnn_follows_the_euler_lagrange_equation_of_its_lagrangian(models, states):
    # The reference uses only values of the network's Lagrangian and dissipation function,
    # differentiated by finite differences, never the library's mechanics.
    model = models["lnn_dissipative"]
    out = np.asarray(fields(model, states))
    lagrangian, dissipation = eqx.filter_jit(model.lagrangian), eqx.filter_jit(model.dissipation)
    for y, derivative in zip(states, out):
        expected = _euler_lagrange_by_finite_differences(lagrangian, dissipation, y)
        np.testing.assert_allclose(derivative[:DOF], y[DOF:], rtol=0, atol=0)
        # Finite differences at h = 3e-4 agree to ~3e-7 of the largest acceleration.
        tolerance = 1e-5 * max(1.0, float(np.max(np.abs(expected))))
        np.testing.assert_allclose(derivative[DOF:], expected, rtol=0, atol=tolerance)
    # The paper's formulation (Hessians and a pseudo-inverse) gives the same accelerations.
    paper = eqx.tree_at(
        lambda m: m.normaliser, build("lnn_dissipative", method="paper"), model.normaliser
    )
    assert relative_error(fields(paper, states), out) < 1e-8
    # The dissipation matters: without its force the accelerations differ.
    conservative = eqx.tree_at(lambda m: m.dissipation_function, model, replace_fn=lambda _: None)
    assert relative_error(fields(conservative, states), out) > 1e-3


class QuadraticNetwork(eqx.Module):
    """L = x^T A x / 2 on the network input."""

    matrix: Float[Array, "f f"]

    def __call__(self, x: Float[Array, " f"]) -> Scalar:
        return 0.5 * x @ (self.matrix @ x)


def test_lnn_with_quadratic_network_is_a_spring(models, states):
    # L = q_t^T M q_t / 2 - q^T K q / 2, coupled springs: q_tt = -M^{-1} K q exactly.
    mass = jnp.array([[2.0, 0.3], [0.3, 1.0]])
    stiffness = jnp.array([[3.0, -1.0], [-1.0, 2.0]])
    matrix = jnp.zeros((4, 4)).at[:2, :2].set(-stiffness).at[2:, 2:].set(mass)
    model = eqx.tree_at(
        lambda m: (m.network, m.normaliser),
        models["lnn"],
        (QuadraticNetwork(matrix), lz.models.Normaliser.identity((False, False))),
    )
    q, q_t = states[:, :DOF], states[:, DOF:]
    expected = -jnp.linalg.solve(mass, (stiffness @ q.T)).T
    assert relative_error(fields(model, states)[:, DOF:], expected) < 1e-12
    energy = 0.5 * jnp.einsum("bi,ij,bj->b", q_t, mass, q_t) + 0.5 * jnp.einsum(
        "bi,ij,bj->b", q, stiffness, q
    )
    assert relative_error(energies(model, states[None])[0], energy) < 1e-12


def test_lnn_mass_prior_adds_a_free_particle_of_learned_masses(models, states):
    # With the network L = -q^T K q / 2 (no velocity terms), the prior's masses m = exp(s)
    # alone carry the kinetic energy: q_tt = -K q / m, E = m q_t^2 / 2 + q^T K q / 2.
    stiffness = jnp.array([[3.0, -1.0], [-1.0, 2.0]])
    masses = jnp.array([2.0, 0.5])
    matrix = jnp.zeros((4, 4)).at[:2, :2].set(-stiffness)
    model = lz.models.LNN(DOF, key=key(3), width=4, depth=1, mass_prior=True)
    assert model.config()["mass_prior"] is True
    np.testing.assert_array_equal(model.log_prior_mass, jnp.zeros(DOF))
    model = eqx.tree_at(
        lambda m: (m.network, m.log_prior_mass), model, (QuadraticNetwork(matrix), jnp.log(masses))
    )
    q, q_t = states[:, :DOF], states[:, DOF:]
    expected = -(stiffness @ q.T).T / masses[None, :]
    assert relative_error(fields(model, states)[:, DOF:], expected) < 1e-12
    energy = 0.5 * jnp.sum(masses[None, :] * q_t**2, axis=1) + 0.5 * jnp.einsum(
        "bi,ij,bj->b", q, stiffness, q
    )
    assert relative_error(energies(model, states[None])[0], energy) < 1e-12
    with pytest.raises(TypeError, match="mass_prior"):
        lz.models.LNN(DOF, key=key(3), mass_prior=1.0)


class PendulumFromFeatures(eqx.Module):
    """The pendulum's Lagrangian written in the embedded, scaled features [cos q, sin q, v]."""

    system: lz.systems.Pendulum
    mean: Float[Array, ""]
    scale: Float[Array, ""]

    def __call__(self, x: Float[Array, " f"]) -> Scalar:
        s = self.system
        q_t = x[2] * self.scale + self.mean
        return 0.5 * s.mass * s.length**2 * q_t**2 - s.mass * s.gravity * s.length * (1 - x[0])


def test_lnn_with_exact_pendulum_lagrangian(getkey):
    system = lz.systems.get("pendulum")
    angles = jax.random.uniform(getkey(), (200,), minval=-3, maxval=3)
    velocities = 4 + 3 * jax.random.normal(getkey(), (200,))
    train = jnp.stack([angles, velocities], axis=1)
    model = lz.models.LNN(1, key=key(), width=4, depth=1, periodic=(True,)).adapt(train)
    stats = model.normaliser
    assert stats.size == 3 and abs(float(stats.mean[1]) - 4) < 1 and stats.scale[1] > 2
    exact = PendulumFromFeatures(system, stats.mean[1], stats.scale[1])
    model = eqx.tree_at(lambda m: m.network, model, exact)
    ys = random_states(getkey(), 8, dof=1, spread=5.0)
    expected = jax.vmap(system.acceleration)(ys[:, :1], ys[:, 1:])
    assert relative_error(fields(model, ys)[:, 1:], expected) < 1e-12
    expected_energy = jax.vmap(system.energy)(ys[:, :1], ys[:, 1:])
    assert relative_error(energies(model, ys[None])[0], expected_energy) < 1e-12


@pytest.mark.parametrize("activation", ["relu"])
def test_lnn_refuses_an_activation_without_curvature(activation):
    # ReLU networks are piecewise linear: d2L/dq_t2 = 0, the LNN paper's reason to avoid them.
    x = np.linspace(-3.0, 3.0, 61)
    h = 1e-3
    f = lz.models.ACTIVATIONS[activation]
    curvature = (f(x + h) - 2 * f(x) + f(x - h)) / h**2
    assert np.max(np.abs(curvature[np.abs(x) > h])) < 1e-6  # the premise, by finite differences
    with pytest.raises(ValueError, match=rf"LNN: activation '{activation}' has a zero second"):
        lz.models.LNN(1, key=key(), width=4, depth=1, activation=activation)
    # Also when the model is only traced, as load_model builds it.
    with pytest.raises(ValueError, match="zero second derivative.*'softplus'"):
        eqx.filter_eval_shape(lz.models.LNN, 1, key=key(), activation=activation)
    # Activations that curve are accepted, also the squared and cubed ReLUs.
    for curved in ("relu2", "relu3", "softplus", "tanh"):
        assert lz.models.LNN(1, key=key(), width=4, depth=1, activation=curved).dof == 1
    # Models that differentiate their network once only accept it.
    assert lz.models.HNN(1, key=key(), width=4, depth=1, activation=activation).dof == 1


# HNN


def test_hnn_symplectic_gradient_by_finite_differences(models, states):
    model = models["hnn"]
    out = fields(model, states)
    h = 1e-6
    for y, derivative in zip(states[:3], out[:3]):
        q, p = y[:DOF], y[DOF:]
        for i in range(DOF):
            e = jnp.zeros(DOF).at[i].set(h)
            dH_dq = (model.hamiltonian(q + e, p) - model.hamiltonian(q - e, p)) / (2 * h)
            dH_dp = (model.hamiltonian(q, p + e) - model.hamiltonian(q, p - e)) / (2 * h)
            assert abs(float(derivative[i] - dH_dp)) < 1e-8
            assert abs(float(derivative[DOF + i] + dH_dq)) < 1e-8


def test_hnn_conserves_its_energy(models, states):
    model = models["hnn"]
    ts = jnp.linspace(0.0, 3.0, 7)
    ys = lz.rollout(model, states[:2], ts, solver="tsit5", rtol=1e-12, atol=1e-12)
    energy = energies(model, ys)
    drift = jnp.abs(energy - energy[:, :1]) / jnp.abs(energy[:, :1])
    assert float(jnp.max(drift)) < 1e-8
    # The trajectories move, so conservation is not trivial.
    assert float(jnp.min(jnp.max(jnp.abs(ys - ys[:, :1]), axis=(1, 2)))) > 1e-2


# DeLaN


def test_delan_mass_matrix_is_symmetric_positive_definite(models):
    model = models["delan_dissipative"]
    qs = 3.0 * jax.random.normal(jax.random.key(2), (64, DOF))

    @eqx.filter_jit
    def matrices(model, qs):
        masses = jax.vmap(model.mass_matrix)(qs)
        hessians = jax.vmap(jax.hessian(model.lagrangian, argnums=1))(qs, qs[::-1])
        return masses, hessians

    masses, hessians = matrices(model, qs)
    np.testing.assert_allclose(masses, jnp.swapaxes(masses, 1, 2), rtol=0, atol=1e-14)
    eigenvalues = jnp.linalg.eigvalsh(masses)
    assert float(jnp.min(eigenvalues)) >= model.epsilon * (1 - 1e-9)
    # M is the Hessian of L in the velocities, which the kinetic energy is quadratic in.
    np.testing.assert_allclose(hessians, masses, rtol=1e-12, atol=1e-14)


def test_delan_closed_form_matches_euler_lagrange(models, states):
    model = models["delan_dissipative"]

    @eqx.filter_jit
    def reference(model, ys):
        acceleration = lz.euler_lagrange(model.lagrangian, force=model.dissipative_force)
        energy = lz.lagrangian_energy(model.lagrangian)

        def one(y):
            q, q_t = y[:DOF], y[DOF:]
            dE_dq, dE_dqt = jax.grad(model.energy, argnums=(0, 1))(q, q_t)
            derivative = model(0.0, y, None)
            rate = dE_dq @ derivative[:DOF] + dE_dqt @ derivative[DOF:]
            return acceleration(q, q_t), energy(q, q_t), rate, model.dissipation(q, q_t)

        return jax.vmap(one)(ys)

    expected, expected_energy, rate, dissipation = reference(model, states)
    assert relative_error(fields(model, states)[:, DOF:], expected) < 1e-10
    assert relative_error(energies(model, states[None])[0], expected_energy) < 1e-12
    # dE/dt = q_t . Q = -2 D: the energy is lost at exactly twice the dissipation function.
    assert bool(jnp.all(dissipation > 0))
    np.testing.assert_allclose(rate, -2 * dissipation, rtol=1e-9, atol=1e-14)


def test_delan_energy_conserved_and_dissipated(models, states):
    conservative, dissipative = models["delan"], models["delan_dissipative"]

    def side_by_side(t, y, args):
        # Both models in one vector field, so that one Diffrax solve (one compilation) serves.
        return jnp.concatenate(
            [conservative(t, y[: 2 * DOF], args), dissipative(t, y[2 * DOF :], args)]
        )

    ts = jnp.linspace(0.0, 2.0, 9)
    y0 = jnp.concatenate([states[:2], states[:2]], axis=1)
    both = lz.rollout(side_by_side, y0, ts, solver="tsit5", rtol=1e-12, atol=1e-12)
    energy = energies(conservative, both[..., : 2 * DOF])
    assert float(jnp.max(jnp.abs(energy - energy[:, :1]) / jnp.abs(energy[:, :1]))) < 1e-8
    ys = both[..., 2 * DOF :]
    energy = energies(dissipative, ys)
    assert bool(jnp.all(jnp.diff(energy, axis=1) < 0))
    assert bool(jnp.all(energy[:, -1] < energy[:, 0] - 1e-3 * jnp.abs(energy[:, 0])))


# Normaliser


def test_adapt_sets_statistics(models, getkey):
    model = models["lnn"]  # periodic = (True, False)
    states = jnp.concatenate(
        [
            3.0 * jax.random.normal(getkey(), (500, 1)),
            5.0 + 2.0 * jax.random.normal(getkey(), (500, 1)),
            jnp.full((500, 1), 7.0),
            10.0 * jax.random.uniform(getkey(), (500, 1), minval=-1),
        ],
        axis=1,
    )
    identity = build("lnn").normaliser
    np.testing.assert_array_equal(identity.mean, np.zeros(4))
    np.testing.assert_array_equal(identity.scale, np.ones(4))
    adapted = model.adapt(states)
    stats = adapted.normaliser
    data = np.asarray(states)
    expected_mean = data.mean(axis=0)
    expected_scale = data.std(axis=0)
    expected_mean[0], expected_scale[0] = 0.0, 1.0  # angle: embedded, not scaled
    expected_scale[2] = 1.0  # a constant component keeps scale 1
    np.testing.assert_allclose(stats.mean, expected_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.scale, expected_scale, rtol=1e-12)
    # Parameters are shared; the original model is untouched.
    pairs = zip(jax.tree.leaves(adapted.network), jax.tree.leaves(model.network), strict=True)
    assert all(a is b for a, b in pairs)
    assert not np.allclose(model.normaliser.mean, stats.mean)
    # Embedded features: [cos q0, sin q0, (q1 - m1) / s1, (q_t - m) / s].
    y = data[0]
    features = stats(jnp.asarray(y[:2]), jnp.asarray(y[2:]))
    expected = np.concatenate(
        [[np.cos(y[0]), np.sin(y[0])], (y[1:] - expected_mean[1:]) / expected_scale[1:]]
    )
    np.testing.assert_allclose(features, expected, rtol=1e-12, atol=1e-12)
    # Any number of leading batch axes.
    again = model.adapt(states.reshape(50, 10, 4)).normaliser
    np.testing.assert_allclose(again.mean, stats.mean, rtol=1e-12, atol=1e-12)


def test_trainable_filter_excludes_normaliser(models):
    model = models["lnn_dissipative"]
    mask = lz.models.trainable_filter(model)
    assert jax.tree.structure(mask) == jax.tree.structure(model)
    assert jax.tree.leaves(mask.normaliser) == [False, False]
    assert all(jax.tree.leaves(mask.network)) and all(jax.tree.leaves(mask.dissipation_function))
    params, _ = eqx.partition(model, mask)
    assert params.normaliser.mean is None and params.normaliser.scale is None
    n_weights = sum(x.size for x in jax.tree.leaves(params))
    n_all = sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array)))
    assert n_all - n_weights == 2 * 2 * DOF


@settings(max_examples=15, deadline=None)
@given(
    state=st.lists(st.floats(-4.0, 4.0), min_size=8, max_size=8),
    turns=st.integers(-3, 3).filter(bool),
    variant=st.sampled_from(COVERING),
)
def test_periodic_coordinates_are_exactly_periodic(models, state, turns, variant):
    model = models[variant]
    y = jnp.asarray(state).reshape(2, 2 * DOF)
    # Per state: itself, its angle turned by whole turns, its second coordinate moved by 2 pi.
    ys = jnp.stack([y, y.at[:, 0].add(2 * np.pi * turns), y.at[:, 1].add(2 * np.pi)], axis=1)
    out = fields(model, ys.reshape(6, 2 * DOF)).reshape(2, 3, 2 * DOF)
    assert relative_error(out[:, 1], out[:, 0]) < 1e-11
    # ...while the second coordinate is not periodic.
    assert relative_error(out[:, 2], out[:, 0]) > 1e-9


# Configuration and registry


@pytest.mark.parametrize("variant", VARIANTS)
def test_config_round_trip(models, variant):
    model = models[variant]
    config = json.loads(json.dumps(model.config()))
    assert config["dof"] == DOF and config["periodic"] == [True, False]
    assert config["width"] == SMALL["width"]
    rebuilt = type(model)(**config, key=key(7))
    assert rebuilt.config() == model.config()

    def shapes(tree):
        return jax.tree.map(lambda x: (x.shape, x.dtype), eqx.filter(tree, eqx.is_array))

    assert jax.tree.structure(rebuilt) == jax.tree.structure(model)
    assert shapes(rebuilt) == shapes(model)
    skeleton = eqx.filter_eval_shape(type(model), **config, key=jax.random.key(0))
    assert jax.tree.structure(skeleton) == jax.tree.structure(model)
    # Another key gives other parameters in the same structure.
    assert not tree_allclose(eqx.filter(rebuilt, eqx.is_array), eqx.filter(model, eqx.is_array))


def test_registry(getkey):
    assert lz.models.names() == [
        "baseline", "chnn", "clnn", "delan", "hnn", "lgn", "lnn", "pairwise_hnn", "pairwise_lnn"
    ]  # fmt: skip
    assert lz.models.MODELS["lnn"] is lz.models.LNN
    model = lz.models.get("delan", 2, key=key(), width=8, periodic=[True, False])
    assert isinstance(model, lz.models.DeLaN) and model.dof == 2 and model.width == 8
    assert model.periodic == (True, False) and model.depth == 2
    known = "baseline, chnn, clnn, delan, hnn, lgn, lnn, pairwise_hnn, pairwise_lnn"
    with pytest.raises(ValueError, match=f"unknown model 'lnm'.*'lnn'.*{known}"):
        lz.models.get("lnm", 2, key=getkey())
    with pytest.raises(ValueError, match="'hidden'.*model 'hnn'.*width, depth"):
        lz.models.get("hnn", 2, key=getkey(), hidden=16)


# Errors


@pytest.mark.parametrize("cls", list(lz.models.MODELS.values()))
def test_invalid_construction(getkey, cls):
    for dof in (0, -1, True):
        with pytest.raises(ValueError, match="`dof` must be a positive int"):
            cls(dof, key=getkey())
    with pytest.raises(ValueError, match="length dof=2, got length 3"):
        cls(2, key=getkey(), periodic=(True, False, False))
    with pytest.raises(ValueError, match="`width` must be an int >= 1"):
        cls(2, key=getkey(), width=0)


def test_invalid_options(getkey):
    with pytest.raises(ValueError, match="`predict` must be one of 'derivative', 'acceleration'"):
        lz.models.Baseline(1, key=getkey(), predict="velocity")
    with pytest.raises(ValueError, match="`coordinates` must be one of 'canonical', 'velocity'"):
        lz.models.HNN(1, key=getkey(), coordinates="polar")
    with pytest.raises(ValueError, match="`method` must be one of 'jvp', 'paper'"):
        lz.models.LNN(1, key=getkey(), method="pinv")
    with pytest.raises(ValueError, match="`epsilon` must be positive"):
        lz.models.DeLaN(1, key=getkey(), epsilon=0.0)


@pytest.mark.parametrize("variant", ["baseline", "hnn", "lnn", "delan"])
def test_wrong_state_shape(models, variant):
    model = models[variant]
    with pytest.raises(ValueError, match=r"dof=2 expects a state `y` of shape .* \(4,\).*\(3,\)"):
        model(0.0, jnp.zeros(3), None)
    with pytest.raises(ValueError, match=r"`states` must have shape \(N, 4\)"):
        model.adapt(jnp.zeros((10, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        model.adapt(jnp.full((10, 4), jnp.nan))


@pytest.mark.parametrize("name", lz.models.names())
def test_every_model_says_which_states_it_takes(name, getkey):
    dof = 4  # two planar bodies for the pairwise models
    model = lz.models.get(name, dof, key=getkey(), width=8, depth=1)
    expected = "canonical" if name in ("hnn", "pairwise_hnn", "chnn") else "velocity"
    assert model.coordinates == expected
    if isinstance(model, lz.models.AbstractLagrangianModel):
        # A Lagrangian model's kinematics are exact in velocity states: dq/dt = q_t.
        y = jnp.array([0.3, -0.2, 1.1, 0.7, 0.5, -1.0, 0.2, 0.4])
        np.testing.assert_array_equal(model(0.0, y, None)[:dof], y[dof:])


def test_a_new_model_must_say_which_states_it_takes(getkey):
    class Silent(lz.models.AbstractDynamics):
        dof: int = 1
        normaliser: lz.models.Normaliser = lz.models.Normaliser.identity((False,))

        def __call__(self, t, y, args):
            return y

        def config(self):
            return {"dof": self.dof}

    with pytest.raises(TypeError, match="coordinates"):
        Silent()


def test_baseline_records_canonical_states(getkey, tmp_path):
    model = lz.models.Baseline(2, key=getkey(), width=8, coordinates="canonical")
    assert model.coordinates == "canonical"
    lz.save_model(tmp_path / "baseline.lzm", model)
    assert lz.load_model(tmp_path / "baseline.lzm").coordinates == "canonical"
    # Predicting accelerations reads dq/dt off the state, which canonical states do not hold.
    with pytest.raises(ValueError, match="predict='acceleration'.*coordinates='canonical'"):
        lz.models.Baseline(2, key=getkey(), predict="acceleration", coordinates="canonical")
    with pytest.raises(ValueError, match="`coordinates` must be one of 'canonical', 'velocity'"):
        lz.models.Baseline(2, key=getkey(), coordinates="polar")


@pytest.mark.parametrize("latent", ["hnn", "lnn"])
def test_pixel_model_takes_the_states_of_its_latent_model(latent, getkey):
    dynamics = lz.models.get(latent, 1, key=getkey(), width=8, depth=1)
    autoencoder = lz.models.Autoencoder(8, width=8, key=getkey())
    model = lz.models.PixelDynamics(autoencoder, dynamics)
    assert model.coordinates == dynamics.coordinates
