"""CLNN and CHNN: exact with the true potential, save/load, training, rollouts and errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest


class LinearPotential(eqx.Module):
    """`V(x) = w . x`: gravity, written in place of a model's potential network."""

    weights: jax.Array

    def __call__(self, features):
        return features @ self.weights


def test_models_with_the_true_potential_and_masses_move_as_the_system(getkey):
    masses, lengths, g = (0.7, 1.3, 1.1), (1.2, 0.8, 1.0), 9.8
    system = lz.systems.CartesianChain(masses=masses, lengths=lengths, gravity=g)
    gravity = LinearPotential(jnp.stack([jnp.zeros(3), g * jnp.asarray(masses)], 1).reshape(-1))
    exact = {}
    for cls, options in ((lz.models.CLNN, {}), (lz.models.CHNN, {"coordinates": "canonical"})):
        model = cls(6, key=getkey(), width=8, depth=1, constraints=system.constraints,
                    masses=masses, **options)  # fmt: skip
        exact[cls.__name__] = eqx.tree_at(lambda m: m.potential_network, model, gravity)
    velocity_chnn = lz.models.CHNN(
        6, key=getkey(), width=8, depth=1, masses=masses, constraints=system.constraints,
        coordinates="velocity",
    )  # fmt: skip
    velocity_chnn = eqx.tree_at(lambda m: m.potential_network, velocity_chnn, gravity)
    y = system.from_angles(jnp.array([0.3, -0.4, 1.0, 0.5, 0.2, -1.0]))
    m = np.repeat(masses, 2)
    z = jnp.concatenate([y[:6], jnp.asarray(m) * y[6:]])

    # One program for the three models, their energies and the system's.
    @eqx.filter_jit
    def evaluate(system, clnn, chnn, velocity_chnn, y, z):
        return (
            system(0.0, y, None),
            clnn(0.0, y, None),
            velocity_chnn(0.0, y, None),
            chnn(0.0, z, None),
            system.energy(y[:6], y[6:]),
            clnn.energy(y[:6], y[6:]),
            chnn.energy(z[:6], z[6:]),
        )

    expected, clnn, velocity, canonical, energy, clnn_energy, chnn_energy = map(
        np.asarray, evaluate(system, exact["CLNN"], exact["CHNN"], velocity_chnn, y, z)
    )
    np.testing.assert_allclose(clnn, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(velocity, expected, rtol=0, atol=1e-10)
    # In canonical states [x, p]: dx/dt = p / m = v and dp/dt = m a.
    np.testing.assert_allclose(
        canonical, np.concatenate([expected[:6], m * expected[6:]]), rtol=0, atol=1e-10
    )
    # Energies: the models' (with the potential's zero at the pivot) are the system's.
    np.testing.assert_allclose(clnn_energy, energy, rtol=1e-13)
    np.testing.assert_allclose(chnn_energy, energy, rtol=1e-13)


def test_save_and_load_rebuild_the_model(getkey, tmp_path):
    system = lz.systems.CartesianChain(lengths=(1.0, 0.5, 1.5))
    models = [
        lz.models.get("clnn", 6, key=getkey(), width=8, depth=1),
        lz.models.get(
            "chnn", 6, key=getkey(), width=8, depth=1, constraints=system.constraints,
            masses=(1.0, 2.0, 3.0),
        ),
    ]  # fmt: skip
    y = system.from_angles(jnp.array([0.3, -0.4, 1.0, 0.5, 0.2, -1.0]))
    for model in models:
        config = model.config()
        assert config["constraints"] == model.constraints.config()
        path = tmp_path / f"{type(model).__name__}.lzm"
        lz.save_model(path, model)
        loaded = lz.load_model(path)
        assert type(loaded) is type(model) and loaded.config() == config
        np.testing.assert_array_equal(loaded(0.0, y, None), model(0.0, y, None))
    assert models[0].constraints.config()["anchor_lengths"] == [1.0]
    assert models[1].coordinates == "canonical" and models[1].log_mass is None
    np.testing.assert_array_equal(models[1].masses, [1.0, 2.0, 3.0])


def test_fit_learns_a_two_link_chain_and_the_rollout_keeps_the_constraints(getkey):
    system = lz.systems.CartesianChain(links=2)

    # States on the rods from random angles, and their exact derivatives: one program.
    @jax.jit
    def rows(key):
        y = system.from_angles(jax.random.normal(key, (256, 4)))
        return y, jax.vmap(system, in_axes=(None, 0, None))(0.0, y, None)

    y, dy = rows(getkey())
    train = lz.Dataset(ts=jnp.zeros(1), y=y[:192, None], dy=dy[:192, None])
    y, dy = y[192:], dy[192:]

    @eqx.filter_jit
    def loss(model):
        return jnp.mean((jax.vmap(model, in_axes=(None, 0, None))(0.0, y, None) - dy) ** 2)

    ratios = []
    for seed in range(3):
        model = lz.models.CLNN(4, key=jax.random.key(seed), width=32, depth=2)
        before = loss(model.adapt(train.y[:, 0]))
        trained, history = lz.fit(
            model, train, steps=200, key=jax.random.key(10 + seed), batch_size=64,
            learning_rate=3e-3, progress=False,
        )  # fmt: skip
        ratios.append(float(loss(trained) / before))
    # A drop of two orders of magnitude on held-out states is typical; ask for one.
    assert np.mean(ratios) < 0.1, ratios
    assert np.all(np.isfinite(history.train_loss))
    # A rollout of the trained model stays on the rods and keeps its own energy.
    ys = lz.rollout(trained, y[:2], jnp.linspace(0.0, 2.0, 5), rtol=1e-9, atol=1e-9)
    assert ys.shape == (2, 5, 8)
    position, velocity = lz.constraint_drift(system.constraints, ys)
    assert np.max(position) < 1e-6 and np.max(velocity) < 1e-6
    energies = eqx.filter_jit(jax.vmap(jax.vmap(lambda s: trained.energy(s[:4], s[4:]))))(ys)
    np.testing.assert_allclose(energies, np.repeat(energies[:, :1], 5, axis=1), rtol=1e-6)


@pytest.mark.parametrize("cls", [lz.models.CLNN, lz.models.CHNN])
def test_bad_input_is_refused(cls, getkey):
    assert cls in lz.models.MODELS.values()
    with pytest.raises(ValueError, match="`dof` must be a multiple of `dimension`"):
        cls(5, key=getkey())
    with pytest.raises(ValueError, match="`periodic` must mark no coordinate"):
        cls(2, key=getkey(), periodic=(True, False))
    with pytest.raises(ValueError, match=r"the constraints hold 3 bodies in dimension 2, but "
                                         r"dof=4 and dimension=2 make 2 bodies"):  # fmt: skip
        cls(4, key=getkey(), constraints=lz.DistanceConstraints.chain([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"`masses` must hold one positive mass per body"):
        cls(4, key=getkey(), masses=(1.0, -1.0))
    with pytest.raises(TypeError):
        cls(4, key=getkey(), constraints=[(0, 1)])
    with pytest.raises(ValueError, match="`width` must be an int >= 1"):
        cls(4, key=getkey(), width=0)
    model = cls(4, key=getkey(), width=8, depth=1)
    with pytest.raises(ValueError, match=r"dof=4 expects a state `y` of shape"):
        model(0.0, jnp.zeros(6), None)


@pytest.mark.parametrize("name", ["clnn", "chnn"])
def test_the_command_line_model_takes_the_system_constraints(name, getkey):
    # The coupled pendulum's rods hang from three pivots in 3D, not from the origin: a model
    # built without them would hold its bobs on the wrong spheres.
    from lagrangian_zoo._experiment import build_model, TrainConfig

    system = lz.systems.CoupledPendulum()
    config = TrainConfig(system="coupled_pendulum", model=name, width=8, depth=1)
    model = build_model(config, system, getkey())
    assert model.constraints.config() == system.constraints.config()
    x = system.sample_initial_state(getkey())[: system.dof]
    np.testing.assert_allclose(model.constraints(x.reshape(-1, 3)), 0.0, atol=1e-12)


class Zero(eqx.Module):
    """A joint term that is zero everywhere (the chain's rods store no energy)."""

    def __call__(self, features):
        return 0.0 * features[0]


def angle_chain_derivative(chain, angles, y_angles):
    """The Cartesian state and derivatives of a `CartesianChain` from its motion in angles:
    the angle system's (`angles`) Lagrangian equations, carried to the bobs by differentiating
    `from_angles` along them (no constraint forces involved)."""
    rate = angles(0.0, y_angles, None)
    return jax.jvp(chain.from_angles, (y_angles,), (rate,))


def test_shared_potential_with_true_gravity_moves_as_a_longer_chain(getkey):
    g = 1.7
    model = lz.models.CLNN(
        6, key=getkey(), width=8, depth=1, potential="shared",
        constraints=lz.DistanceConstraints.chain([1.0, 1.0, 1.0]),
    )  # fmt: skip
    # One learned mass for every body (here 1, its initial value); gravity m g y per body.
    assert model.log_mass.shape == ()
    exact = eqx.tree_at(
        lambda m: (m.potential_network.body, m.potential_network.joint),
        model,
        (LinearPotential(jnp.array([0.0, g])), Zero()),
    )
    rng = np.random.default_rng(0)

    @eqx.filter_jit
    def compare(model, chain, angles, y_angles):
        y, expected = angle_chain_derivative(chain, angles, y_angles)
        return model(0.0, y, None), expected

    # Built on three links, run on ten (the same parameters on three: the next test).
    chain = lz.systems.CartesianChain(links=10, gravity=g)
    moved = exact.with_constraints(chain.constraints)
    got, expected = compare(moved, chain, chain.angle_system(), jnp.asarray(rng.normal(size=20)))
    assert got.shape == (40,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # A wrong gravity is seen.
    wrong = lz.systems.CartesianChain(links=10, gravity=2 * g)
    _, other = compare(moved, wrong, wrong.angle_system(), jnp.asarray(rng.normal(size=20)))
    assert np.max(np.abs(np.asarray(other) - np.asarray(got))) > 0.1


def test_shared_potential_sums_body_and_joint_terms_and_moves_to_other_chains(getkey, tmp_path):
    lengths = [0.7, 1.2, 0.9]
    pivot = jnp.array([0.3, -0.2])
    model = lz.models.CLNN(
        6, key=getkey(), width=8, depth=2, potential="shared",
        constraints=lz.DistanceConstraints.chain(lengths, pivot=pivot),
    )  # fmt: skip
    body, joint = model.potential_network.body, model.potential_network.joint
    rng = np.random.default_rng(1)
    for links, chain in ((3, None), (10, lz.DistanceConstraints.chain(np.ones(10), pivot=pivot))):
        moved = model if chain is None else model.with_constraints(chain)
        x = jnp.asarray(rng.normal(size=(links, 2)))
        # Written out: the pivot to the first bob, then each bob to the next.
        expected = joint(x[0] - pivot) + sum(body(x[i]) for i in range(links))
        expected = expected + sum(joint(x[i] - x[i - 1]) for i in range(1, links))
        np.testing.assert_allclose(moved.potential(x.reshape(-1)), expected, rtol=1e-12)
        assert moved.dof == 2 * links and moved.bodies == links
        np.testing.assert_array_equal(moved.masses, np.ones(links))
    # Saved and loaded with its option (CHNN too, with given masses); refused where it cannot
    # move.
    lz.save_model(tmp_path / "shared.lzm", model)
    loaded = lz.load_model(tmp_path / "shared.lzm")
    assert loaded.config() == model.config() and loaded.config()["potential"] == "shared"
    y = jnp.asarray(rng.normal(size=12))
    np.testing.assert_array_equal(loaded.potential(y[:6]), model.potential(y[:6]))
    chnn = lz.models.get("chnn", 4, key=getkey(), width=4, depth=1, potential="shared",
                         masses=(2.0, 2.0))  # fmt: skip
    lz.save_model(tmp_path / "chnn.lzm", chnn)
    assert lz.load_model(tmp_path / "chnn.lzm").config() == chnn.config()
    longer = chnn.with_constraints(lz.DistanceConstraints.chain([1.0] * 4), masses=[3.0] * 4)
    assert longer.dof == 8 and longer.log_mass is None
    np.testing.assert_array_equal(longer.masses, [3.0] * 4)
    with pytest.raises(ValueError, match="`masses`: the model was given its masses"):
        chnn.with_constraints(lz.DistanceConstraints.chain([1.0] * 4))
    with pytest.raises(ValueError, match="build it with potential='shared'"):
        lz.models.CLNN(4, key=getkey(), width=8, depth=1).with_constraints(chain)
    with pytest.raises(ValueError, match="`masses`: the model learned its masses"):
        model.with_constraints(chain, masses=[1.0] * 10)
    with pytest.raises(ValueError, match="`potential` must be one of"):
        lz.models.CLNN(4, key=getkey(), potential="pairwise")
