"""Pairwise many-body models: exact gravity and springs, invariances, any number of bodies.

The states and the transformations are made in NumPy: as eager JAX operations, every new
shape would cost a compilation.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


KINDS = {"lagrangian": lz.models.PairwiseLagrangian, "hamiltonian": lz.models.PairwiseHamiltonian}


class InverseDistance(eqx.Module):
    """An exact `V(r) = -strength / r`, in place of the potential network: before `adapt` the
    length scale is 1, so the network's first feature is the distance itself."""

    strength: float

    def __call__(self, features):
        return -self.strength / features[0]


class Spring(eqx.Module):
    """An exact `V(r) = stiffness (r - rest)^2 / 2`, in place of the potential network."""

    stiffness: float
    rest: float

    def __call__(self, features):
        return 0.5 * self.stiffness * (features[0] - self.rest) ** 2


def _zero(features):
    return jnp.zeros((), features.dtype)


def _with_potential(model, network, linear=(0.0, 0.0, 0.0), masses=None):
    model = eqx.tree_at(lambda m: m.potential_network, model, network)
    model = eqx.tree_at(lambda m: m.potential_linear, model, jnp.asarray(linear))
    if masses is not None:
        model = eqx.tree_at(lambda m: m.log_mass, model, jnp.log(jnp.asarray(masses)))
    return model


def _states(seed, count, dof, scale=1.0):
    return scale * np.random.default_rng(seed).normal(size=(count, 2 * dof))


@eqx.filter_jit
def _energies_and_fields(model, y):
    n = model.dof
    energies = jax.vmap(model.energy)(y[:, :n], y[:, n:])
    fields = jax.vmap(model, in_axes=(None, 0, None))(0.0, y, None)
    return energies, fields


@eqx.filter_jit
def _system_energies_and_fields(system, y):
    """The closed-form energies and fields of a system (compiled: its loops over bodies make
    many small operations)."""
    n = system.dof
    energies = jax.vmap(system.energy)(y[:, :n], y[:, n:])
    return energies, jax.vmap(system, in_axes=(None, 0, None))(0.0, y, None)


def _evaluate(model, y):
    """The energies and the fields of a model at a batch of states, from one program, as
    NumPy arrays."""
    return tuple(np.array(a) for a in _energies_and_fields(model, y))


# The Lagrangian's potential through the network and the Hamiltonian's through the linear
# part on the feature l / r, and the other way round.
@pytest.mark.parametrize(
    "system_name, paths",
    [("two_body", ("network", "linear")), ("three_body", ("linear", "network"))],
)
def test_exact_gravity_gives_the_systems_accelerations(getkey, system_name, paths):
    bodies = {"two_body": 2, "three_body": 3}[system_name]
    mass, gravity = 1.5, 0.8
    system = lz.systems.get(system_name, masses=(mass,) * bodies, gravitational_constant=gravity)
    n = system.dof
    strength = gravity * mass * mass
    exact = {
        "network": (InverseDistance(strength), (0.0, 0.0, 0.0)),
        "linear": (_zero, (0.0, -strength, 0.0)),
    }
    y = _states(0, 6, n)
    expected_energy, expected_field = _system_energies_and_fields(system, y)
    expected_field = np.array(expected_field)

    lagrangian = lz.models.PairwiseLagrangian(n, key=getkey(), width=8)
    lagrangian = _with_potential(lagrangian, *exact[paths[0]], masses=[mass])
    energies, fields = _evaluate(lagrangian, y)
    np.testing.assert_allclose(fields, expected_field, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(energies, expected_energy, rtol=1e-10)

    # The canonical field: q_t = p / m and p_t = m q_tt, from the system's closed form, at the
    # momenta p = m v of the same states.
    hamiltonian = lz.models.PairwiseHamiltonian(n, key=getkey(), width=8)
    hamiltonian = _with_potential(hamiltonian, *exact[paths[1]], masses=[mass])
    canonical = y.copy()
    canonical[:, n:] *= mass
    expected = expected_field.copy()
    expected[:, n:] *= mass
    energies, fields = _evaluate(hamiltonian, canonical)
    np.testing.assert_allclose(fields, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(energies, expected_energy, rtol=1e-10)


def test_exact_gravity_on_two_bodies_is_the_kepler_problem(getkey):
    # The relative coordinate r = x1 - x2 of two bodies of mass m under V = -G m^2 / r moves
    # as a body about a fixed centre with G M = 2 G m: lz.systems.Kepler, its own closed form.
    mass, gravity = 0.7, 1.3
    kepler = lz.systems.Kepler(gm=2 * gravity * mass)
    y = _states(3, 8, 4)
    for kind in (lz.models.PairwiseLagrangian, lz.models.PairwiseHamiltonian):
        model = _with_potential(
            kind(4, key=getkey(), width=8), _zero, (0.0, -gravity * mass**2, 0.0), [mass]
        )
        state = y.copy()
        if kind is lz.models.PairwiseHamiltonian:
            state[:, 4:] *= mass  # momenta
        _, fields = _evaluate(model, state)
        accelerations = fields[:, 4:] / (mass if kind is lz.models.PairwiseHamiltonian else 1)
        relative = y[:, 0:2] - y[:, 2:4]
        expected = np.stack(
            [np.asarray(kepler.acceleration(jnp.asarray(r), jnp.zeros(2))) for r in relative]
        )
        np.testing.assert_allclose(
            accelerations[:, 0:2] - accelerations[:, 2:4], expected, rtol=1e-10, atol=1e-12
        )


def _spring_forces(positions, stiffness, rest):
    """Hooke forces between every pair, summed by explicit loops in NumPy."""
    forces = np.zeros_like(positions)
    for i in range(len(positions)):
        for j in range(len(positions)):
            if i != j:
                d = positions[i] - positions[j]
                r = np.linalg.norm(d)
                forces[i] -= stiffness * (r - rest) * d / r
    return forces


def test_springs_between_unequal_masses_in_three_dimensions(getkey):
    masses, stiffness, rest = np.array([1.0, 2.0, 3.0, 0.5]), 1.7, 0.6
    dof = 3 * len(masses)
    y = _states(1, 3, dof)
    forces = np.stack([_spring_forces(row[:dof].reshape(-1, 3), stiffness, rest) for row in y])
    options = dict(dimension=3, width=8, masses_per_body=True)
    spring = Spring(stiffness, rest)

    lagrangian = lz.models.PairwiseLagrangian(dof, key=getkey(), **options)
    _, fields = _evaluate(_with_potential(lagrangian, spring, masses=masses), y)
    acceleration = forces / masses[None, :, None]
    np.testing.assert_allclose(fields[:, dof:], acceleration.reshape(len(y), dof), rtol=1e-10)

    hamiltonian = lz.models.PairwiseHamiltonian(dof, key=getkey(), **options)
    _, fields = _evaluate(_with_potential(hamiltonian, spring, masses=masses), y)
    velocities = y[:, dof:].reshape(len(y), -1, 3) / masses[None, :, None]
    expected = np.concatenate([velocities.reshape(len(y), dof), forces.reshape(len(y), dof)], 1)
    np.testing.assert_allclose(fields, expected, rtol=1e-10)


def _random_edges(model, key):
    """The model with a random edge network (a new one's output layer is zero)."""
    fresh = lz.models.MLP(5, "scalar", (model.width,) * model.depth, key=key)
    return eqx.tree_at(lambda m: m.edge_network, model, fresh)


@pytest.mark.parametrize(
    "kind, form, dimension, per_body",
    [
        ("lagrangian", "potential", 2, False),
        ("lagrangian", "general", 3, True),
        ("hamiltonian", "general", 3, True),
    ],
)
def test_a_random_model_is_invariant(getkey, kind, form, dimension, per_body):
    bodies, rng = 4, np.random.default_rng(2)
    dof = bodies * dimension
    model = KINDS[kind](
        dof, key=getkey(), dimension=dimension, width=8, form=form, masses_per_body=per_body
    )
    if form == "general":
        model = _random_edges(model, getkey())
    if per_body:
        model = eqx.tree_at(lambda m: m.log_mass, model, jnp.asarray(rng.normal(size=bodies)))
    # Scales other than 1, so that the scaled features are exercised too.
    model = model.adapt(_states(3, 20, dof, scale=3.0))
    assert model.length_scale != 1 and model.speed_scale != 1

    q, v = rng.normal(size=(2, bodies, dimension))
    rotation, _ = np.linalg.qr(rng.normal(size=(dimension, dimension)))  # or a reflection
    order = np.array([2, 0, 3, 1])
    moved = [
        (q, v),
        (q + rng.normal(size=dimension), v),  # translated
        (q @ rotation.T, v @ rotation.T),  # rotated
        (q[order], v[order]),  # relabelled
    ]
    y = np.stack([np.concatenate([a.reshape(-1), b.reshape(-1)]) for a, b in moved])
    energies, fields = _evaluate(model, y)
    fields = fields.reshape(len(y), 2, bodies, dimension)
    if per_body:
        # A relabelling is a symmetry with the masses relabelled too, and only then.
        assert not np.allclose(fields[3], fields[0][:, order])
        relabelled = eqx.tree_at(lambda m: m.log_mass, model, model.log_mass[order])
        relabelled_energies, relabelled_fields = _evaluate(relabelled, y)
        energies[3] = relabelled_energies[3]
        fields[3] = relabelled_fields[3].reshape(2, bodies, dimension)
    np.testing.assert_allclose(energies[1:], energies[0], rtol=1e-12)
    np.testing.assert_allclose(fields[1], fields[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fields[2], fields[0] @ rotation.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fields[3], fields[0][:, order], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_parameters_serve_any_number_of_bodies(getkey, kind):
    # Superposition: the energy at rest and the forces on 3 and 5 bodies are the sums over
    # their pairs of what the two-body model (the same parameters on 2 bodies) gives for each
    # pair alone.
    pair = KINDS[kind](4, key=getkey(), width=8).adapt(_states(4, 10, 4))
    pair = eqx.tree_at(lambda m: m.log_mass, pair, jnp.asarray([0.4]))
    # Forces: accelerations times the mass for the Lagrangian, p_t for the Hamiltonian.
    scale = np.exp(0.4) if kind == "lagrangian" else 1.0
    rng = np.random.default_rng(5)
    positions = {bodies: rng.normal(size=(bodies, 2)) for bodies in (3, 5)}
    indices = {bodies: np.triu_indices(bodies, k=1) for bodies in (3, 5)}
    # Every pair of both, at rest, in one batch for the two-body model.
    pairs = np.concatenate(
        [
            np.concatenate([q[indices[b][0]], q[indices[b][1]]], axis=1)
            for b, q in positions.items()
        ]
    )
    pair_energies, pair_fields = _evaluate(pair, np.concatenate([pairs, 0 * pairs], axis=1))
    pair_forces = scale * pair_fields[:, 4:].reshape(-1, 2, 2)
    start = 0
    for bodies, q in positions.items():
        first, second = indices[bodies]
        stop = start + len(first)
        forces = np.zeros((bodies, 2))
        np.add.at(forces, first, pair_forces[start:stop, 0])
        np.add.at(forces, second, pair_forces[start:stop, 1])

        model = pair.resized(bodies)
        assert model.dof == 2 * bodies and model.length_scale == pair.length_scale
        energies, fields = _evaluate(
            model, np.concatenate([q.reshape(1, -1), 0 * q.reshape(1, -1)], 1)
        )
        np.testing.assert_allclose(energies[0], np.sum(pair_energies[start:stop]), rtol=1e-12)
        np.testing.assert_allclose(
            scale * fields[0, 2 * bodies :].reshape(bodies, 2), forces, rtol=1e-10, atol=1e-12
        )
        start = stop


def test_resizing_per_body_masses_needs_the_new_masses(getkey):
    model = lz.models.PairwiseLagrangian(6, key=getkey(), width=8, masses_per_body=True)
    with pytest.raises(ValueError, match=r"one mass per body for 3 bodies.*resized\(5, masses"):
        model.resized(5)
    bigger = model.resized(5, masses=[1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(bigger.masses, [1.0, 2.0, 3.0, 4.0, 5.0], rtol=1e-15)
    assert model.resized(3).masses.shape == (3,)
    with pytest.raises(ValueError, match=r"`masses` must have one entry per body, shape \(4,\)"):
        model.resized(4, masses=[1.0, 2.0])
    with pytest.raises(ValueError, match="`masses` must be positive"):
        model.resized(2, masses=[1.0, -2.0])
    shared = lz.models.PairwiseLagrangian(6, key=getkey(), width=8)
    with pytest.raises(ValueError, match="shares one mass.*takes no `masses`"):
        shared.resized(2, masses=[1.0, 1.0])
    with pytest.raises(ValueError, match="`bodies` must be a positive int, got 0"):
        shared.resized(0)


# The general form (edge network) for the Hamiltonian, whose compiled field is the cheaper.
@pytest.mark.parametrize(
    "name, form", [("pairwise_lnn", "potential"), ("pairwise_hnn", "general")]
)
def test_save_and_load_give_the_same_model(getkey, tmp_path, name, form):
    model = lz.models.get(name, 6, key=getkey(), width=8, form=form, masses_per_body=True)
    assert isinstance(model, lz.models.MODELS[name])
    model = eqx.tree_at(lambda m: m.log_mass, model, jnp.asarray([0.1, 0.2, 0.3]))
    if form == "general":
        model = _random_edges(model, getkey())
    model = model.adapt(_states(6, 10, 6))
    path = tmp_path / "model.lzm"
    lz.save_model(path, model)
    loaded = lz.load_model(path)
    assert type(loaded) is type(model) and loaded.config() == model.config()
    assert eqx.tree_equal(loaded, model)
    y = _states(7, 4, 6)
    np.testing.assert_array_equal(_evaluate(loaded, y)[1], _evaluate(model, y)[1])


def test_fit_and_rollout(getkey):
    # A dataset of single states with the closed-form derivatives: no trajectories to solve.
    system = lz.systems.get("two_body")
    y = _states(8, 6, 4)
    dy = np.asarray(_system_energies_and_fields(system, y)[1])
    data = lz.Dataset(ts=np.zeros(1), y=y[:, None], dy=dy[:, None])
    model = lz.models.PairwiseLagrangian(4, key=getkey(), width=8)
    trained, history = lz.fit(model, data, steps=3, key=getkey(), batch_size=None, progress=False)
    assert np.all(np.isfinite(history.train_loss))
    assert not eqx.tree_equal(trained.potential_network, model.potential_network)
    assert trained.length_scale != 1  # `fit` adapted the scales

    hamiltonian = lz.models.PairwiseHamiltonian(4, key=getkey(), width=8)
    y0 = np.array(
        [[1.0, 0.5, -1.0, -0.5, -0.2, 0.4, 0.2, -0.4], [0.7, 0, -0.7, 0, 0, 0.6, 0, -0.6]]
    )
    ys = lz.rollout(hamiltonian, y0, jnp.linspace(0.0, 0.5, 4))
    assert ys.shape == (2, 4, 8) and bool(jnp.all(jnp.isfinite(ys)))
    np.testing.assert_array_equal(ys[:, 0], y0)


def test_bad_settings_are_refused_by_name(getkey):
    for cls in KINDS.values():
        name = cls.__name__
        with pytest.raises(
            ValueError,
            match=rf"{name}: `dof` must be a multiple of `dimension`.*dof=5 and dimension=2",
        ):
            cls(5, key=getkey())
        with pytest.raises(ValueError, match=rf"{name}: `dof` must be a multiple.*dof=7 and dim"):
            cls(7, key=getkey(), dimension=3)
        for dimension in (1, 4, True):
            with pytest.raises(ValueError, match=rf"{name}: `dimension` must be the int 2 or 3"):
                cls(6, key=getkey(), dimension=dimension)
        with pytest.raises(ValueError, match=rf"{name}: `periodic` must mark no coordinate"):
            cls(4, key=getkey(), periodic=[True, False, False, False])
        with pytest.raises(
            ValueError, match=rf"{name}: `form` must be one of 'potential', 'general'"
        ):
            cls(4, key=getkey(), form="graph")
        # (A TypeError of our own without jaxtyping's checks, or jaxtyping's.)
        with pytest.raises(TypeError, match="masses_per_body"):
            cls(4, key=getkey(), masses_per_body="yes")
        with pytest.raises(ValueError, match="`dof` must be a positive int"):
            cls(0, key=getkey())
        model = cls(4, key=getkey(), width=8)
        with pytest.raises(
            ValueError, match=r"dof=4 expects a state `y` of shape .*\(8,\).*\(6,\)"
        ):
            model(0.0, jnp.zeros(6), None)
        with pytest.raises(ValueError, match=r"2 bodies in dimension 2.*shape \(4,\).*resized"):
            model.energy(jnp.ones(6), jnp.ones(6))
        with pytest.raises(Exception, match=rf"{name}: two bodies are at the same position"):
            model(0.0, jnp.asarray([1.0, 2.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0]), None)
    with pytest.raises(ValueError, match="`coordinates` must be one of 'canonical', 'velocity'"):
        lz.models.PairwiseHamiltonian(4, key=getkey(), coordinates="polar")
