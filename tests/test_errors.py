"""Every bad input at a public entry point raises a clear error: its type and its words.

Grouped by entry point. Structure errors (shapes, dtypes, names, options) are `ValueError` or
`TypeError` raised before anything is compiled; value errors inside compiled code are
`RuntimeError`s (raised through `equinox.error_if`) whose message says what to do.
"""

import json
import math
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st


SETTINGS = settings(max_examples=15, deadline=None)
KEY = jax.random.key(0)


def harmonic(q, q_t):
    return 0.5 * q_t @ q_t - 0.5 * q @ q


@pytest.fixture(scope="module")
def acceleration():
    return lz.euler_lagrange(harmonic)


@pytest.fixture(scope="module")
def spring():
    return lz.systems.get("spring")


@pytest.fixture(scope="module")
def dataset():
    # Built from arrays (no integration): the errors below are about the container.
    ts = jnp.linspace(0.0, 1.0, 4)
    y = jnp.stack([jnp.stack([jnp.cos(ts + k), -jnp.sin(ts + k)], -1) for k in range(3)])
    dy = jnp.stack([y[..., 1], -y[..., 0]], -1)  # the unit spring's field
    return lz.Dataset(ts, y, dy, {"system": "spring", "coordinates": "velocity"})


@pytest.fixture(scope="module")
def model():
    return lz.models.Baseline(1, key=KEY, width=4, depth=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory, dataset, model):
    folder = tmp_path_factory.mktemp("files")
    dataset_path = folder / "data.npz"
    dataset.save(dataset_path)
    model_path = folder / "model.lzm"
    lz.save_model(model_path, model)
    return folder, dataset_path, model_path


def _header_and_payload(path):
    raw = path.read_bytes()
    newline = raw.index(b"\n")
    return json.loads(raw[:newline]), raw[newline:]


# Mechanics: lz.euler_lagrange, lz.hamiltonian_vector_field -----------------------------------

_SAME_SHAPE = r"`q` and `q_t` must both be 1-D arrays of the same shape \(n,\)"


@SETTINGS
@given(
    st.lists(st.integers(1, 4), min_size=0, max_size=3),
    st.lists(st.integers(1, 4), min_size=0, max_size=3),
)
def test_euler_lagrange_refuses_mismatched_or_non_vector_shapes(acceleration, q_shape, qt_shape):
    if len(q_shape) == 1 and q_shape == qt_shape:
        q_shape = qt_shape + [1]  # make every example a bad one
    q, q_t = jnp.zeros(tuple(q_shape)), jnp.zeros(tuple(qt_shape))
    with pytest.raises(ValueError, match=_SAME_SHAPE) as info:
        acceleration(q, q_t)
    # The message reports both shapes it received.
    assert f"got q of shape {tuple(q_shape)} and q_t of shape {tuple(qt_shape)}" in str(info.value)


def test_euler_lagrange_suggests_vmap_for_a_batch(acceleration):
    with pytest.raises(ValueError, match=r"For a batch of states, wrap the function in jax\.vmap"):
        acceleration(jnp.zeros((8, 2)), jnp.zeros((8, 2)))


def test_euler_lagrange_refuses_integer_coordinates(acceleration):
    with pytest.raises(TypeError, match=r"`q` must be a real floating-point array, got dtype int"):
        acceleration(jnp.zeros(2, dtype=int), jnp.zeros(2, dtype=int))


def test_euler_lagrange_refuses_a_non_scalar_lagrangian():
    def vector_lagrangian(q, q_t):
        return 0.5 * q_t**2 - 0.5 * q**2  # forgot the sum

    acc = lz.euler_lagrange(vector_lagrangian)
    with pytest.raises(
        ValueError, match=r"Lagrangian `.*vector_lagrangian` must return a scalar.*shape \(3,\)"
    ):
        acc(jnp.zeros(3), jnp.zeros(3))


def _no_kinetic_term_for_q1(q, q_t):
    return 0.5 * q_t[0] ** 2 - 0.5 * q @ q


_SINGULAR = r"mass matrix d2L/dq_t2 is singular.*depends on every velocity"


def test_euler_lagrange_singular_mass_matrix_eager():
    acc = lz.euler_lagrange(_no_kinetic_term_for_q1)
    with pytest.raises(RuntimeError, match=_SINGULAR):
        acc(jnp.ones(2), jnp.ones(2)).block_until_ready()


def test_euler_lagrange_singular_mass_matrix_under_jit():
    acc = lz.euler_lagrange(_no_kinetic_term_for_q1)

    @jax.jit
    def step(q, q_t):
        return q_t + 0.1 * acc(q, q_t)

    with pytest.raises(RuntimeError, match=_SINGULAR):
        step(jnp.ones(2), jnp.ones(2)).block_until_ready()


def test_euler_lagrange_refuses_a_force_of_the_wrong_shape():
    def drag(q, q_t):
        return -jnp.concatenate([q_t, q_t])  # two components per coordinate

    acc = lz.euler_lagrange(harmonic, force=drag)
    with pytest.raises(
        ValueError,
        match=r"generalized force `.*drag` must return shape \(2,\).*returned shape \(4,\)",
    ):
        acc(jnp.zeros(2), jnp.zeros(2))


def test_euler_lagrange_refuses_a_negative_bandwidth():
    with pytest.raises(ValueError, match=r"`mass_bandwidth` must be >= 0, got -1"):
        lz.euler_lagrange(harmonic, mass_bandwidth=-1)


def test_hamiltonian_vector_field_refuses_a_non_scalar_hamiltonian():
    field = lz.hamiltonian_vector_field(lambda q, p: q * p)
    with pytest.raises(ValueError, match=r"the Hamiltonian .* must return a scalar"):
        field(jnp.zeros(2), jnp.zeros(2))


def test_hamiltonian_vector_field_names_q_and_p():
    field = lz.hamiltonian_vector_field(lambda q, p: q @ q + p @ p)
    with pytest.raises(ValueError, match=r"`q` and `p` must both be 1-D arrays"):
        field(jnp.zeros(2), jnp.zeros(1))


# Systems: lz.systems.get ---------------------------------------------------------------------


def test_unknown_system_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown system 'double_pendulm'") as info:
        lz.systems.get("double_pendulm")
    message = str(info.value)
    assert "Did you mean 'double_pendulum'?" in message
    for name in lz.systems.names():
        assert name in message.split("Known systems:")[1]


def test_unknown_system_parameter_lists_the_parameters():
    with pytest.raises(
        ValueError,
        match=r"unknown parameter\(s\) 'lenght' for system 'pendulum'; its parameters are: "
        r"mass, length, gravity",
    ):
        lz.systems.get("pendulum", lenght=2.0)


@pytest.mark.parametrize(
    "name, params, words",
    [
        ("pendulum", {"length": -1.0}, "pendulum: parameter `length` must be positive"),
        ("spring", {"mass": 0.0}, "spring: parameter `mass` must be positive"),
        ("double_pendulum", {"masses": (1.0, -2.0)}, "parameter `masses\\[1\\]` must be positive"),
    ],
)
def test_system_refuses_non_positive_parameters(name, params, words):
    with pytest.raises(ValueError, match=words):
        lz.systems.get(name, **params)


@SETTINGS
@given(st.one_of(st.floats(max_value=0.0), st.sampled_from([math.inf, -math.inf, math.nan])))
def test_system_refuses_every_non_positive_or_non_finite_stiffness(stiffness):
    with pytest.raises(
        ValueError, match=r"spring: parameter `stiffness` must be positive and finite"
    ):
        lz.systems.get("spring", stiffness=stiffness)


def test_system_refuses_a_tuple_parameter_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"`lengths` must be a tuple of 2 numbers, got \(1\.0,\)"):
        lz.systems.get("double_pendulum", lengths=(1.0,))


# Rollout: lz.rollout -------------------------------------------------------------------------

TS = jnp.linspace(0.0, 1.0, 5)


@SETTINGS
@given(st.integers(1, 5).filter(lambda n: n != 1))
def test_rollout_refuses_a_state_of_the_wrong_size_for_the_system(spring, half):
    y0 = jnp.zeros(2 * half)
    with pytest.raises(
        ValueError,
        match=rf"`y0` has {2 * half} entries per state .* Spring has dof=1, so it expects "
        r"2 \* dof = 2",
    ):
        lz.rollout(spring, y0, TS)


@pytest.mark.parametrize("shape", [(3,), (4, 5), (0,), (2, 3, 4)])
def test_rollout_refuses_odd_empty_or_deep_states(shape):
    with pytest.raises(ValueError, match=r"`y0` must have shape \(2n,\) or \(batch, 2n\)"):
        lz.rollout(lambda t, y, args: -y, jnp.ones(shape), TS)


def test_rollout_refuses_non_finite_initial_states(spring):
    with pytest.raises(ValueError, match=r"`y0` contains non-finite values .* index \(1, 0\)"):
        lz.rollout(spring, jnp.array([[0.0, 1.0], [jnp.nan, 0.0]]), TS)


def test_rollout_refuses_times_that_do_not_increase(spring):
    with pytest.raises(
        ValueError, match=r"`ts` must be strictly increasing, but ts\[1\] = 1.0 and ts\[2\] = 0.5"
    ):
        lz.rollout(spring, jnp.ones(2), jnp.array([0.0, 1.0, 0.5]))


def test_rollout_refuses_fewer_than_two_times(spring):
    with pytest.raises(
        ValueError, match=r"`ts` must be a 1-D array of at least 2 .* shape \(1,\)"
    ):
        lz.rollout(spring, jnp.ones(2), jnp.array([0.0]))


def test_rollout_refuses_an_unknown_solver(spring):
    with pytest.raises(ValueError, match=r"unknown `solver` 'euler': expected one of .*'tsit5'"):
        lz.rollout(spring, jnp.ones(2), TS, solver="euler")


@pytest.mark.parametrize(
    "keyword, words",
    [
        ("rtoll", r"'rtoll'\. Did you mean 'rtol'\?"),
        ("max_step", r"'max_step'\. Did you mean 'max_steps'\?"),
        ("colour", r"'colour'\. Its"),
    ],
)
def test_rollout_names_a_misspelt_keyword(spring, keyword, words):
    with pytest.raises(
        TypeError,
        match=rf"^rollout: unknown keyword argument {words}.* arguments are: args, solver, rtol, ",
    ):
        lz.rollout(spring, jnp.ones(2), TS, **{keyword: 1e-6})


@pytest.mark.parametrize("name, value", [("rtol", -1e-6), ("atol", 0.0), ("rtol", math.nan)])
def test_rollout_refuses_non_positive_tolerances(spring, name, value):
    with pytest.raises(ValueError, match=rf"`{name}` must be a positive number"):
        lz.rollout(spring, jnp.ones(2), TS, **{name: value})


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("rtol", True, r"`rtol` must be a positive number, got the bool True"),
        ("rtol", math.inf, r"`rtol` must be a positive number, got inf, which is not finite"),
        ("atol", np.float32(-0.5), r"`atol` must be a positive number, got -0\.5\."),
        ("dt0", True, r"`dt0` must be a positive step, got the bool True"),
        ("dt0", np.float64(np.inf), r"`dt0` must be a positive step, got inf, which is not"),
        ("dt0", np.int64(0), r"`dt0` must be a positive step, got 0\."),
        ("dt0", jnp.asarray(math.nan), r"`dt0` must be a positive step, got nan, which is not"),
    ],
)
@pytest.mark.parametrize("solver", ["tsit5", "rk4"])
def test_rollout_refuses_bools_and_non_finite_steps_and_tolerances(
    spring, name, value, words, solver
):
    with pytest.raises(ValueError, match=words):
        lz.rollout(spring, jnp.ones(2), TS, solver=solver, **{name: value})


@pytest.mark.parametrize(
    "name, value", [("atol", np.bool_(True)), ("rtol", np.array([1e-6, 1e-6])), ("dt0", "0.1")]
)
def test_rollout_refuses_tolerances_and_steps_that_are_not_real_scalars(spring, name, value):
    # Caught by the annotation under the runtime type checker, by our check without it.
    with pytest.raises((TypeError, ValueError), match=name):
        lz.rollout(spring, jnp.ones(2), TS, **{name: value})


@pytest.mark.parametrize("value", [True, math.inf, np.float32(-1.0), np.array([1e-6, 1e-6])])
def test_implicit_midpoint_refuses_tolerances_that_are_not_finite_positive_scalars(value):
    with pytest.raises((TypeError, ValueError), match=r"rtol"):
        lz.ImplicitMidpoint(rtol=value)


def test_rollout_refuses_dynamics_of_the_wrong_shape():
    with pytest.raises(
        ValueError,
        match=r"`dynamics` must return dy/dt of the same shape as a state, \(2,\), but it "
        r"returned shape \(3,\)",
    ):
        lz.rollout(lambda t, y, args: jnp.zeros(3), jnp.ones(2), TS)


def test_rollout_refuses_integer_states(spring):
    with pytest.raises(TypeError, match=r"`y0` must be a real floating-point array"):
        lz.rollout(spring, jnp.ones(2, dtype=int), TS)


def test_rollout_fixed_step_solver_needs_enough_steps(spring):
    with pytest.raises(ValueError, match=r"needs 20 steps .* max_steps=4: increase max_steps"):
        lz.rollout(spring, jnp.ones(2), jnp.linspace(0.0, 100.0, 3), solver="rk4", max_steps=4)


def test_rollout_reaching_max_steps_says_to_increase_it(spring):
    with pytest.raises(
        RuntimeError, match=r"reached max_steps=4 before ts\[-1\]: increase max_steps"
    ):
        lz.rollout(spring, jnp.ones(2), jnp.linspace(0.0, 100.0, 3), max_steps=4)


# Datasets: lz.generate_dataset, lz.Dataset ---------------------------------------------------


def test_generate_dataset_refuses_zero_trajectories(spring):
    with pytest.raises(ValueError, match=r"`trajectories` must be a positive int, got 0"):
        lz.generate_dataset(spring, KEY, trajectories=0, ts=TS)


def test_generate_dataset_refuses_a_single_time(spring):
    with pytest.raises(
        ValueError, match=r"`ts` must be a 1-D array of at least 2 .* shape \(1,\)"
    ):
        lz.generate_dataset(spring, KEY, trajectories=2, ts=jnp.array([0.0]))


def test_generate_dataset_refuses_decreasing_times(spring):
    with pytest.raises(ValueError, match=r"`ts` must be strictly increasing"):
        lz.generate_dataset(spring, KEY, trajectories=2, ts=jnp.array([1.0, 0.0]))


@pytest.mark.parametrize("noise_std", [-0.1, math.inf, math.nan])
def test_generate_dataset_refuses_bad_noise(spring, noise_std):
    with pytest.raises(ValueError, match=r"`noise_std` must be finite and >= 0"):
        lz.generate_dataset(spring, KEY, trajectories=2, ts=TS, noise_std=noise_std)


def test_generate_dataset_refuses_unknown_coordinates(spring):
    with pytest.raises(ValueError, match=r"`coordinates` must be one of .*'canonical'.*'polar'"):
        lz.generate_dataset(spring, KEY, trajectories=2, ts=TS, coordinates="polar")


def test_generate_dataset_refuses_a_bare_vector_field():
    with pytest.raises(
        TypeError, match=r"`system` must be a vector field .* sample_initial_state"
    ):
        lz.generate_dataset(lambda t, y, args: -y, KEY, trajectories=2, ts=TS)


@SETTINGS
@given(
    st.one_of(
        st.floats(max_value=0.0, allow_nan=False),
        st.floats(min_value=1.0, allow_nan=False),
    )
)
def test_split_refuses_fractions_outside_zero_one(dataset, fraction):
    with pytest.raises(ValueError, match=r"`fraction` must lie strictly between 0 and 1"):
        dataset.split(fraction, KEY)


def test_split_refuses_a_single_trajectory(dataset):
    single = lz.Dataset(dataset.ts, dataset.y[:1], dataset.dy[:1])
    with pytest.raises(ValueError, match=r"cannot split a dataset of 1 trajectory"):
        single.split(0.5, KEY)


def test_sample_refuses_batch_size_zero(dataset):
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive int, got 0"):
        dataset.sample(KEY, 0)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2))
def test_dataset_refuses_inconsistent_arrays(trajectories, times, dof, flaw):
    # numpy inputs: no JAX program is compiled for each new shape.
    ts = np.linspace(0.0, 1.0, times)
    y = np.zeros((trajectories, times, 2 * dof))
    if flaw == 0:  # one time too many in the states
        y, dy, words = np.zeros((trajectories, times + 1, 2 * dof)), None, "`y` must have shape"
    elif flaw == 1:  # an odd state size
        y, dy, words = np.zeros((trajectories, times, 2 * dof + 1)), None, "even state size"
    else:  # derivatives of another shape
        dy, words = np.zeros((trajectories, times, 2 * dof + 2)), "`dy` must have the shape of"
    with pytest.raises(ValueError, match=f"Dataset: .*{words}"):
        lz.Dataset(ts, y, y if dy is None else dy)


def test_dataset_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no dataset file at '.*missing\.npz'"):
        lz.Dataset.load(tmp_path / "missing.npz")


def test_dataset_load_truncated_file(files, tmp_path):
    _, path, _ = files
    raw = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz' is truncated or corrupt .* Re-create it"):
        lz.Dataset.load(cut)


def test_dataset_load_corrupt_file(files, tmp_path):
    _, path, _ = files
    raw = bytearray(path.read_bytes())
    for i in range(200, 400):  # inside the first array's data
        raw[i] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"bad\.npz' is truncated or corrupt"):
        lz.Dataset.load(bad)


def test_dataset_load_refuses_a_file_that_is_no_archive(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("q, q_t\n0.1, 0.2\n")
    with pytest.raises(
        ValueError, match=r"notes\.npz' is not a lagrangian_zoo dataset: it is not"
    ):
        lz.Dataset.load(text)


def test_dataset_load_refuses_a_foreign_npz(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(
        ValueError, match=r"has no '__lagrangian_zoo__' entry \(it holds \['x'\]\)"
    ):
        lz.Dataset.load(foreign)


@pytest.mark.parametrize("version, hint", [(99, "upgrade lagrangian_zoo"), (0, "re-create it")])
def test_dataset_load_refuses_another_format_version(tmp_path, version, hint):
    header = {"format": "lagrangian_zoo.dataset", "format_version": version, "metadata": {}}
    path = tmp_path / f"v{version}.npz"
    arrays = {"ts": np.linspace(0, 1, 2), "y": np.zeros((1, 2, 2)), "dy": np.zeros((1, 2, 2))}
    np.savez(path, __lagrangian_zoo__=np.array(json.dumps(header)), **arrays)
    with pytest.raises(ValueError, match=rf"dataset format version {version}, .* \({hint}"):
        lz.Dataset.load(path)


def test_dataset_load_refuses_an_archive_that_lacks_arrays(tmp_path):
    header = {"format": "lagrangian_zoo.dataset", "format_version": 1, "metadata": {}}
    path = tmp_path / "partial.npz"
    np.savez(path, __lagrangian_zoo__=np.array(json.dumps(header)), ts=np.linspace(0, 1, 2))
    with pytest.raises(ValueError, match=r"damaged lagrangian_zoo dataset: it lacks .*dy, y"):
        lz.Dataset.load(path)


# Models: lz.models ---------------------------------------------------------------------------


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r"unknown model 'lnnn'\. Did you mean 'lnn'\? Known "):
        lz.models.get("lnnn", 2, key=KEY)


def test_unknown_model_keyword():
    with pytest.raises(
        ValueError,
        match=r"unknown keyword argument\(s\) 'widht' for model 'lnn'\. Did you mean 'width'\?",
    ):
        lz.models.get("lnn", 2, key=KEY, widht=8)


MODEL_CLASSES = [lz.models.Baseline, lz.models.HNN, lz.models.LNN, lz.models.DeLaN]


@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_every_model_constructor_names_a_misspelt_keyword(cls):
    name = cls.__name__
    with pytest.raises(
        TypeError,
        match=rf"^{name}: unknown keyword argument 'widht'\. Did you mean 'width'\? {name} takes: "
        r"dof, key, width, depth, ",
    ):
        cls(2, key=KEY, widht=3)
    with pytest.raises(TypeError, match=rf"^{name}: unknown keyword argument 'colour'\. {name} "):
        cls(2, key=KEY, colour="red")


@pytest.mark.parametrize(
    "key, advice", [(0, r"jax\.random\.key\(0\)"), (7, r"jax\.random\.key\(7\)")]
)
@pytest.mark.parametrize("cls", MODEL_CLASSES)
def test_every_model_constructor_says_how_to_make_a_key(cls, key, advice):
    with pytest.raises(
        TypeError,
        match=rf"^{cls.__name__}: `key` must be a JAX PRNG key, got {key} \(int\); pass {advice}",
    ):
        cls(1, key=key)


def test_model_constructors_take_new_and_raw_keys_and_rebuild_from_pytrees():
    new = lz.models.LNN(1, key=jax.random.key(3), width=4, depth=1)
    raw = lz.models.LNN(1, key=jax.random.PRNGKey(3), width=4, depth=1)
    assert jax.tree.structure(new) == jax.tree.structure(raw)
    # Rebuilding from leaves (jit, tree_map) does not go through the constructor's checks.
    rebuilt = jax.tree.map(lambda leaf: leaf, new)
    assert isinstance(rebuilt, lz.models.LNN) and rebuilt.width == 4


@pytest.mark.parametrize("name", ["baseline", "hnn", "lnn", "delan"])
def test_every_model_refuses_zero_degrees_of_freedom(name):
    with pytest.raises(ValueError, match=r"`dof` must be a positive int, got 0"):
        lz.models.get(name, 0, key=KEY)


def test_model_refuses_a_periodic_mask_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"`periodic` must have one entry per coordinate, length"):
        lz.models.HNN(2, key=KEY, width=4, depth=1, periodic=(True,))


def test_model_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'; known activations: .*tanh"):
        lz.models.get("delan", 1, key=KEY, activation="gelu")


def test_model_refuses_zero_width():
    with pytest.raises(ValueError, match=r"Baseline: `width` must be an int >= 1, got 0"):
        lz.models.Baseline(1, key=KEY, width=0)


@SETTINGS
@given(st.integers(0, 7).filter(lambda n: n != 2))
def test_model_refuses_a_state_of_the_wrong_shape(model, size):
    with pytest.raises(
        ValueError,
        match=rf"Baseline with dof=1 expects a state `y` of shape \(2 \* dof,\) = \(2,\).*"
        rf"got shape \({size},\)",
    ):
        model(0.0, jnp.zeros(size), None)


def test_lnn_refuses_an_unknown_method():
    with pytest.raises(
        ValueError, match=r"LNN: `method` must be one of 'jvp', 'paper', got 'hess"
    ):
        lz.models.LNN(1, key=KEY, width=4, depth=1, method="hessian")


# Training: lz.fit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"steps": 0}, ValueError, r"`steps` must be a positive int, got 0"),
        ({"learning_rate": -1e-3}, ValueError, r"`learning_rate` must be a positive number"),
        ({"batch_size": 0}, ValueError, r"`batch_size` must be a positive int, got 0"),
        (
            {"loss": "huber"},
            ValueError,
            r"`loss` must be 'l2', 'l1', 'rollout' or a callable.*'huber'",
        ),
        ({"resume": True}, ValueError, r"resume=True needs the `checkpoint_dir`"),
        ({"eval_data": [1.0, 2.0]}, TypeError, r"`eval_data` must be a lz\.Dataset"),
    ],
)
def test_fit_refuses_bad_settings(model, dataset, kwargs, error, words):
    arguments = {"steps": 5, "key": KEY, "progress": False, **kwargs}
    with pytest.raises(error, match=words):
        lz.fit(model, dataset, **arguments)


def test_fit_refuses_arrays_as_data(model, dataset):
    with pytest.raises(
        TypeError, match=r"`data` must be a lz\.Dataset or lz\.StateStream .*tuple"
    ):
        lz.fit(model, (dataset.y, dataset.dy), steps=5, key=KEY, progress=False)


def test_fit_refuses_data_of_another_size(dataset):
    two_dof = lz.models.Baseline(2, key=KEY, width=4, depth=1)
    with pytest.raises(
        ValueError, match=r"`data` holds states of 2 entries, .* expects 2 \* dof = 4"
    ):
        lz.fit(two_dof, dataset, steps=5, key=KEY, progress=False)


def test_fit_stops_at_the_first_non_finite_step_and_names_it(model, dataset):
    def breaks_at_step_3(count):
        return jnp.where(count >= 3, jnp.nan, 1e-3)

    with pytest.raises(FloatingPointError, match=r"training stopped at step 3: .* not finite"):
        lz.fit(
            model,
            dataset,
            steps=6,
            key=KEY,
            batch_size=4,
            learning_rate=breaks_at_step_3,
            log_every=1,
            progress=False,
        )


# Checkpoints: lz.save_model, lz.load_model ---------------------------------------------------


def test_load_model_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no lagrangian_zoo model file at '.*nothing"):
        lz.load_model(tmp_path / "nothing.lzm")


def test_load_model_truncated_payload(files, tmp_path):
    _, _, path = files
    cut = tmp_path / "cut.lzm"
    cut.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(
        ValueError, match=r"cut\.lzm' is truncated: its header announces \d+ bytes"
    ):
        lz.load_model(cut)


def test_load_model_cut_inside_its_header(files, tmp_path):
    _, _, path = files
    cut = tmp_path / "stub.lzm"
    cut.write_bytes(path.read_bytes()[:30])
    with pytest.raises(ValueError, match=r"stub\.lzm' is not a lagrangian_zoo model file"):
        lz.load_model(cut)


def test_load_model_corrupt_payload(files, tmp_path):
    _, _, path = files
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0x01
    bad = tmp_path / "bad.lzm"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"bad\.lzm' is corrupt: .* checksum"):
        lz.load_model(bad)


def test_load_model_foreign_file(tmp_path):
    foreign = tmp_path / "weights.npy"
    np.save(foreign, np.zeros(3))
    with pytest.raises(ValueError, match=r"first line is not a lagrangian_zoo header"):
        lz.load_model(foreign)


def test_load_model_refuses_a_training_checkpoint(files, tmp_path):
    _, _, path = files
    header, payload = _header_and_payload(path)
    header["format"] = "lagrangian_zoo.training_state"
    other = tmp_path / "step.ckpt"
    other.write_bytes(json.dumps(header).encode() + payload)
    with pytest.raises(ValueError, match=r"is a lagrangian_zoo training checkpoint file, not a"):
        lz.load_model(other)


def test_load_model_refuses_another_format_version(files, tmp_path):
    _, _, path = files
    header, payload = _header_and_payload(path)
    header["format_version"] = 2
    newer = tmp_path / "newer.lzm"
    newer.write_bytes(json.dumps(header).encode() + payload)
    with pytest.raises(
        ValueError, match=r"model format version 2, .* reads version 1 \(it was written by a newer"
    ):
        lz.load_model(newer)


def test_load_model_refuses_another_architecture(files):
    _, _, path = files
    wider = lz.models.Baseline(1, key=KEY, width=8, depth=1)
    with pytest.raises(
        ValueError, match=r"another configuration than `like`: width=4 in the file"
    ):
        lz.load_model(path, like=wider)


def test_load_model_refuses_another_model_class(files):
    _, _, path = files
    hnn = lz.models.HNN(1, key=KEY, width=4, depth=1)
    with pytest.raises(ValueError, match=r"holds a Baseline model, but `like` is a HNN"):
        lz.load_model(path, like=hnn)


def test_load_model_refuses_a_header_that_does_not_fit_its_parameters(files, tmp_path):
    _, _, path = files
    header, payload = _header_and_payload(path)
    header["config"]["width"] = 16
    edited = tmp_path / "edited.lzm"
    edited.write_bytes(json.dumps(header).encode() + payload)
    with pytest.raises(ValueError, match=r"does not fit Baseline\(.*different architecture"):
        lz.load_model(edited)


def test_save_model_into_a_missing_folder(model, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the folder '.*absent' does not exist"):
        lz.save_model(tmp_path / "absent" / "model.lzm", model)


def test_save_model_refuses_a_module_without_config(tmp_path):
    with pytest.raises(TypeError, match=r"save_model needs a lagrangian_zoo model"):
        lz.save_model(tmp_path / "linear.lzm", eqx.nn.Linear(2, 2, key=KEY))


# Metrics and plots: lz.metrics, lz.plots -----------------------------------------------------


@SETTINGS
@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 2))
def test_rollout_mse_refuses_mismatched_shapes(batch, times, extra):
    predicted = jnp.zeros((batch, times, 2))
    true = jnp.zeros((batch, times + extra, 2))
    with pytest.raises(
        ValueError, match=r"`predicted_ys` and `true_ys` must have the same shape"
    ) as info:
        lz.metrics.rollout_mse(predicted, true)
    assert re.search(rf"true_ys of shape \({batch}, {times + extra}, 2\)", str(info.value))


def test_energy_mse_refuses_odd_states(spring):
    ys = jnp.zeros((4, 3))
    with pytest.raises(ValueError, match=r"`true_ys` must hold states \[q, q_t\] of even length"):
        lz.metrics.energy_mse(spring.energy, ys, ys)


def test_valid_prediction_time_refuses_times_of_another_length():
    ys = jnp.zeros((2, 5, 2))
    with pytest.raises(ValueError, match=r"`ts` must have shape \(T,\) with T = 5"):
        lz.metrics.valid_prediction_time(jnp.linspace(0.0, 1.0, 4), ys, ys)


def test_energy_discrepancy_refuses_a_negative_scale(spring):
    ys = jnp.zeros((2, 5, 2))
    with pytest.raises(ValueError, match=r"`scale` must be positive and finite, got -1\.0"):
        lz.metrics.energy_discrepancy(spring.energy, ys, ys, scale=-1.0)


def test_plots_refuse_empty_input():
    with pytest.raises(ValueError, match=r"`ys` is empty: give at least one label"):
        lz.plots.trajectories(TS, {})
    with pytest.raises(ValueError, match=r"`histories` is empty"):
        lz.plots.loss_curves({})


def test_animation_refuses_a_path_that_is_no_gif(tmp_path):
    ys = {"true": np.zeros((3, 2))}
    with pytest.raises(ValueError, match=r"`path` must end in \.gif for an animation"):
        lz.plots.animate_pendulum(ys, path=tmp_path / "swing.png")
