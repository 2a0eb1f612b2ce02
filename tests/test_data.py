import importlib.resources
import io
import json
import re
import zipfile

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
import scipy.integrate
from hypothesis import given, settings, strategies as st

from helpers import damaged


SPRING_TS = jnp.linspace(0.0, 3.0, 16)


@pytest.fixture(scope="module")
def spring():
    return lz.systems.get("spring")


@pytest.fixture(scope="module")
def spring_data(spring):
    return lz.generate_dataset(spring, jax.random.key(0), trajectories=8, ts=SPRING_TS)


def test_trajectories_follow_the_closed_form(spring, spring_data):
    data = spring_data
    assert data.ts.shape == (16,)
    assert data.y.shape == data.dy.shape == (8, 16, 2)
    # q(t) = q0 cos(wt) + (v0 / w) sin(wt) with w = sqrt(k / m).
    omega = np.sqrt(spring.stiffness / spring.mass)
    q0, v0 = np.asarray(data.y[:, 0, 0])[:, None], np.asarray(data.y[:, 0, 1])[:, None]
    t = np.asarray(data.ts)[None]
    q = q0 * np.cos(omega * t) + v0 / omega * np.sin(omega * t)
    v = -q0 * omega * np.sin(omega * t) + v0 * np.cos(omega * t)
    np.testing.assert_allclose(data.y[..., 0], q, rtol=0, atol=1e-8)
    np.testing.assert_allclose(data.y[..., 1], v, rtol=0, atol=1e-8)
    # Exact derivatives: [q_t, -(k / m) q].
    np.testing.assert_allclose(data.dy[..., 0], data.y[..., 1], rtol=0, atol=0)
    np.testing.assert_allclose(
        data.dy[..., 1], -(spring.stiffness / spring.mass) * data.y[..., 0], rtol=1e-14
    )
    # Initial states on circles of radius U(0.1, 1) in (q, p).
    radius = np.hypot(q0[:, 0], spring.mass * v0[:, 0])
    assert np.all((radius >= 0.1) & (radius <= 1.0))
    assert len(np.unique(np.round(radius, 12))) == 8


def test_pendulum_trajectories_match_scipy():
    # A nonlinear system against an independent integrator: SciPy's DOP853 on the pendulum's
    # equation q_tt = -(g / l) sin q, written here by hand.
    system = lz.systems.get("pendulum", length=1.5)
    ts = np.linspace(0.0, 3.0, 13)
    data = lz.generate_dataset(system, jax.random.key(2), trajectories=3, ts=jnp.asarray(ts))
    g_over_l = 6.0 / 1.5

    def field(t, y):
        return [y[1], -g_over_l * np.sin(y[0])]

    for y, dy in zip(np.asarray(data.y), np.asarray(data.dy)):
        reference = scipy.integrate.solve_ivp(
            field, (0.0, 3.0), y[0], method="DOP853", t_eval=ts, rtol=1e-12, atol=1e-12
        )
        assert reference.success
        np.testing.assert_allclose(y, reference.y.T, rtol=0, atol=1e-8)
        np.testing.assert_allclose(dy[:, 1], -g_over_l * np.sin(y[:, 0]), rtol=0, atol=1e-12)
    # The motions are large enough for the nonlinearity to matter.
    assert float(np.max(np.abs(data.y[..., 0]))) > 0.5


def test_metadata_describes_the_generation(spring_data):
    metadata = spring_data.metadata
    assert metadata["system"] == "spring"
    assert metadata["parameters"] == {"mass": 0.5, "stiffness": 2.0}
    assert metadata["noise_std"] == 0.0
    assert metadata["coordinates"] == "velocity"
    assert metadata["library_version"] == lz.__version__
    assert metadata["seed"] == jax.random.key_data(jax.random.key(0)).tolist()
    # Static pytree metadata must hash by value.
    rebuilt = lz.Dataset(spring_data.ts, spring_data.y, spring_data.dy, metadata.as_dict())
    assert rebuilt.metadata == metadata and hash(rebuilt.metadata) == hash(metadata)


def test_metadata_records_array_parameters_as_plain_numbers():
    from lagrangian_zoo._data import parameters_of

    # Parameters are array leaves; a float32 one is written as the decimal it was given.
    system = lz.systems.get("double_pendulum", masses=np.array([1.5, 2.0], np.float32))
    system = eqx.tree_at(lambda s: s.gravity, system, jnp.asarray(9.8, jnp.float32))
    parameters = parameters_of(system)
    assert parameters == {"masses": [1.5, 2.0], "lengths": [1.0, 1.0], "gravity": 9.8}
    assert json.loads(json.dumps(parameters)) == parameters
    assert all(type(v) is float for v in [*parameters["masses"], parameters["gravity"]])


def test_noise_only_on_states(spring, spring_data):
    noisy = lz.generate_dataset(
        spring, jax.random.key(0), trajectories=8, ts=SPRING_TS, noise_std=0.1
    )
    assert noisy.metadata["noise_std"] == 0.1
    np.testing.assert_array_equal(noisy.dy, spring_data.dy)
    np.testing.assert_array_equal(noisy.ts, spring_data.ts)
    noise = np.asarray(noisy.y - spring_data.y)
    # 256 draws of N(0, 0.01): the sample mean and deviation lie within ~5 standard errors.
    assert abs(noise.mean()) < 0.03
    assert abs(noise.std() - 0.1) < 0.02


def test_canonical_coordinates(spring, spring_data):
    data = lz.generate_dataset(
        spring, jax.random.key(0), trajectories=8, ts=SPRING_TS, coordinates="canonical"
    )
    assert data.metadata["coordinates"] == "canonical"
    q, q_t = spring_data.y[..., 0], spring_data.y[..., 1]
    np.testing.assert_array_equal(data.y[..., 0], q)
    # p = m q_t and p_t = -k q.
    np.testing.assert_allclose(data.y[..., 1], spring.mass * q_t, rtol=1e-15)
    np.testing.assert_array_equal(data.dy[..., 0], q_t)
    np.testing.assert_allclose(data.dy[..., 1], -spring.stiffness * q, rtol=1e-14)


def test_canonical_momenta_of_a_relativistic_particle_by_the_chain_rule():
    system = lz.systems.get("relativistic_particle", gravity=0.7)
    y, dy = eqx.filter_jit(lz.StateStream(system).sample)(jax.random.key(4), 32)
    canonical_y, canonical_dy = lz.to_canonical(system.lagrangian, y[None], dy[None])
    q_t = np.asarray(y[:, 1])
    gamma = 1 / np.sqrt(1 - q_t**2)
    np.testing.assert_array_equal(canonical_y[0, :, 0], y[:, 0])
    # p = gamma m q_t, and p_t = d/dt (gamma m q_t) = m g (Newton's law for the momentum).
    np.testing.assert_allclose(canonical_y[0, :, 1], gamma * q_t, rtol=1e-12)
    np.testing.assert_array_equal(canonical_dy[0, :, 0], q_t)
    np.testing.assert_allclose(canonical_dy[0, :, 1], 0.7, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"trajectories": 0}, ValueError, "trajectories"),
        ({"noise_std": -0.1}, ValueError, "noise_std"),
        ({"coordinates": "polar"}, ValueError, "coordinates"),
        ({"ts": jnp.zeros(1)}, ValueError, "ts"),
    ],
)
def test_generation_arguments_are_checked(spring, kwargs, error, match):
    arguments = {"trajectories": 2, "ts": SPRING_TS} | kwargs
    with pytest.raises(error, match=match):
        lz.generate_dataset(spring, jax.random.key(0), **arguments)


def test_generation_needs_a_sampler():
    with pytest.raises(TypeError, match="sample_initial_state"):
        lz.generate_dataset(lambda t, y, args: y, jax.random.key(0), trajectories=2, ts=SPRING_TS)


# Initial states given by the user ----------------------------------------------------------

PENDULUM_TS = np.linspace(0.0, 3.0, 13)
G_OVER_L = 4.0  # the pendulum of length 1.5 of lz.systems (gravity 6), as a user writes it


def _pendulum_lagrangian(q, q_t):
    return 0.5 * q_t[0] ** 2 + G_OVER_L * jnp.cos(q[0])


@pytest.fixture(scope="module")
def pendulum_field():
    return lz.lagrangian_vector_field(_pendulum_lagrangian)


def _scipy_pendulum(y0):
    """An independent reference: SciPy's DOP853 on q_tt = -(g / l) sin q, written by hand."""

    def field(t, y):
        return [y[1], -G_OVER_L * np.sin(y[0])]

    solution = scipy.integrate.solve_ivp(
        field, (0.0, 3.0), y0, method="DOP853", t_eval=PENDULUM_TS, rtol=1e-12, atol=1e-12
    )
    assert solution.success
    return solution.y.T


def test_given_initial_states_are_integrated_exactly(pendulum_field):
    # The same motions from the library's pendulum and from a user's Lagrangian through
    # lz.lagrangian_vector_field, neither of which samples its own states here.
    y0 = np.array([[0.5, 0.0], [2.5, -1.0], [-1.0, 3.0]])
    for system in (lz.systems.get("pendulum", length=1.5), pendulum_field):
        data = lz.generate_dataset(
            system, jax.random.key(0), ts=jnp.asarray(PENDULUM_TS), y0=jnp.asarray(y0)
        )
        assert data.y.shape == (3, 13, 2)
        np.testing.assert_array_equal(data.y[:, 0], y0)
        for y, dy, start in zip(np.asarray(data.y), np.asarray(data.dy), y0):
            np.testing.assert_allclose(y, _scipy_pendulum(start), rtol=0, atol=1e-8)
            np.testing.assert_allclose(dy[:, 1], -G_OVER_L * np.sin(y[:, 0]), atol=1e-12)
        assert data.metadata["initial_states"] == "y0"
    assert data.metadata["system"] == "LagrangianVectorField"


def test_a_sampler_gives_distinct_initial_states(pendulum_field):
    def sampler(key):
        return jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)

    def generate(key):
        return lz.generate_dataset(
            pendulum_field, key, trajectories=3, ts=jnp.asarray(PENDULUM_TS), sampler=sampler
        )

    data = generate(jax.random.key(1))
    starts = np.asarray(data.y[:, 0])
    assert np.all(np.abs(starts) <= 1.0)
    assert len(np.unique(starts[:, 0])) == len(np.unique(starts[:, 1])) == 3
    np.testing.assert_allclose(data.dy[..., 1], -G_OVER_L * np.sin(data.y[..., 0]), atol=1e-12)
    np.testing.assert_allclose(data.y[1], _scipy_pendulum(starts[1]), rtol=0, atol=1e-8)
    assert data.metadata["initial_states"] == "sampler"
    # Another key, other states; the same key, the same data.
    assert not np.any(np.isin(np.asarray(generate(jax.random.key(2)).y[:, 0]), starts))
    np.testing.assert_array_equal(generate(jax.random.key(1)).y, data.y)


def _nan_sampler(key):
    return jnp.full(2, jnp.nan)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"y0": np.array([[1.0, 0.0], [np.nan, 0.0]])},
            ValueError,
            r"`y0` must be finite, but 1 of 2 states are not; the first, number 1, is \[nan",
        ),
        (
            {"y0": np.array([1.0, 0.0])},
            ValueError,
            r"shape \(trajectories, 2n\).*y0\[None\].*\(2,\)",
        ),
        ({"y0": np.zeros((2, 3))}, ValueError, r"`y0` must have shape .* got shape \(2, 3\)"),
        ({"y0": np.zeros((2, 2), int)}, TypeError, "`y0` must hold real floating-point"),
        (
            {"y0": np.zeros((2, 2)), "trajectories": 3},
            ValueError,
            r"`trajectories` = 3 does not match the 2 initial states of `y0`",
        ),
        (
            {"y0": np.zeros((2, 2)), "sampler": _nan_sampler},
            ValueError,
            r"either `y0` .* or `sampler`.*not both",
        ),
        # Refused by the run-time type checker when it is on, by the function otherwise.
        ({"sampler": 3.0, "trajectories": 2}, TypeError, r"sampler\W.*(function|Callable)"),
        (
            {"sampler": lambda key: jnp.zeros(3), "trajectories": 2},
            ValueError,
            r"`sampler` must return one state \[q, q_t\] of shape \(2n,\) .* got shape \(3,\)",
        ),
        (
            {"sampler": _nan_sampler, "trajectories": 2},
            ValueError,
            r"the states drawn by `sampler` must be finite, but 2 of 2",
        ),
        ({"sampler": _nan_sampler}, ValueError, "`trajectories` must be a positive int"),
    ],
)
def test_given_initial_states_are_checked(kwargs, error, match):
    def field(t, y, args):
        return jnp.concatenate([y[1:], -y[:1]])

    with pytest.raises(error, match=match):
        lz.generate_dataset(field, jax.random.key(0), ts=SPRING_TS, **kwargs)


def test_a_field_that_does_not_fit_the_states_is_refused():
    with pytest.raises(ValueError, match=r"maps a state of shape \(4,\) \(`y0`\) to dy/dt"):
        lz.generate_dataset(
            lambda t, y, args: y[:2], jax.random.key(0), ts=SPRING_TS, y0=jnp.ones((2, 4))
        )
    with pytest.raises(TypeError, match=r"sample_initial_state.*pass `y0=`.*or `sampler=`"):
        lz.generate_dataset(lambda t, y, args: y, jax.random.key(0), trajectories=2, ts=SPRING_TS)


@settings(max_examples=5, deadline=None)
@given(fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**31 - 1))
def test_split_sizes_and_disjointness(spring_data, fraction, seed):
    first, second = spring_data.split(fraction, jax.random.key(seed))
    expected = min(max(round(fraction * 8), 1), 7)
    assert first.y.shape == (expected, 16, 2)
    assert second.y.shape == (8 - expected, 16, 2)
    starts = [tuple(np.asarray(row)) for row in spring_data.y[:, 0]]
    first_rows = [starts.index(tuple(np.asarray(row))) for row in first.y[:, 0]]
    second_rows = [starts.index(tuple(np.asarray(row))) for row in second.y[:, 0]]
    assert sorted(first_rows + second_rows) == list(range(8))
    np.testing.assert_array_equal(first.dy, spring_data.dy[np.asarray(first_rows)])
    assert first.metadata == spring_data.metadata


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2])
def test_split_refuses_fractions_outside_the_unit_interval(spring_data, fraction):
    with pytest.raises(ValueError, match="fraction"):
        spring_data.split(fraction, jax.random.key(0))


def test_states_and_sample(spring_data):
    y, dy = spring_data.states()
    assert y.shape == dy.shape == (128, 2)
    np.testing.assert_array_equal(y[16], spring_data.y[1, 0])

    @eqx.filter_jit
    def draw(data, key):
        return data.sample(key, 40)

    by, bdy = draw(spring_data, jax.random.key(3))
    assert by.shape == bdy.shape == (40, 2)
    rows = [int(np.flatnonzero(np.all(np.asarray(y) == np.asarray(row), axis=1))[0]) for row in by]
    np.testing.assert_array_equal(bdy, dy[np.asarray(rows)])
    assert len(set(rows)) > 20
    with pytest.raises(ValueError, match="batch_size"):
        spring_data.sample(jax.random.key(0), 0)


def test_dataset_checks_its_shapes():
    ts = jnp.linspace(0.0, 1.0, 5)
    with pytest.raises(ValueError, match=r"`y` must have shape \(trajectories, T, 2n\)"):
        lz.Dataset(ts, jnp.zeros((2, 4, 2)), jnp.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match=r"`dy` must have the shape of `y`, \(2, 5, 2\)"):
        lz.Dataset(ts, jnp.zeros((2, 5, 2)), jnp.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="even state size"):
        lz.Dataset(ts, jnp.zeros((2, 5, 3)), jnp.zeros((2, 5, 3)))
    with pytest.raises(TypeError, match="JSON"):
        lz.Dataset(ts, jnp.zeros((2, 5, 2)), jnp.zeros((2, 5, 2)), {"f": print})


def test_save_load_round_trip_is_exact(spring_data, tmp_path):
    path = tmp_path / "spring.npz"
    spring_data.save(path)
    loaded = lz.Dataset.load(path)
    for name in ("ts", "y", "dy"):
        original, restored = getattr(spring_data, name), getattr(loaded, name)
        assert restored.dtype == original.dtype
        np.testing.assert_array_equal(restored, original)
    assert loaded.metadata == spring_data.metadata
    assert hash(loaded.metadata) == hash(spring_data.metadata)
    assert [p.name for p in tmp_path.iterdir()] == ["spring.npz"]


def _write_archive(path, header, **arrays):
    entries = dict(arrays)
    if header is not None:
        entries["__lagrangian_zoo__"] = np.array(json.dumps(header))
    np.savez(path, **entries)


def test_load_errors_name_the_file(spring_data, tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        lz.Dataset.load(missing)

    good = tmp_path / "good.npz"
    spring_data.save(good)
    content = good.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="truncated.npz' is truncated or corrupt"):
        lz.Dataset.load(truncated)

    corrupt = tmp_path / "corrupt.npz"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        info = archive.getinfo("y.npy")
    # Flip bytes inside the stored `y` array: its CRC no longer matches.
    start = info.header_offset + 30 + len(info.filename) + 200
    damaged = bytearray(content)
    damaged[start : start + 8] = bytes(255 - b for b in damaged[start : start + 8])
    corrupt.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="corrupt.npz' is truncated or corrupt"):
        lz.Dataset.load(corrupt)

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ValueError, match="foreign.npz' is not a lagrangian_zoo dataset"):
        lz.Dataset.load(foreign)

    text = tmp_path / "notes.txt"
    text.write_text("not an archive\n")
    with pytest.raises(ValueError, match="notes.txt' is not a lagrangian_zoo dataset"):
        lz.Dataset.load(text)

    newer = tmp_path / "newer.npz"
    header = {"format": "lagrangian_zoo.dataset", "format_version": 99, "metadata": {}}
    _write_archive(newer, header, ts=np.zeros(2), y=np.zeros((1, 2, 2)), dy=np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="newer.npz' has dataset format version 99"):
        lz.Dataset.load(newer)


def test_state_stream_has_exact_derivatives():
    system = lz.systems.get("pendulum")
    stream = lz.StateStream(system)

    @eqx.filter_jit
    def draw(stream, key):
        return stream.sample(key, 64)

    y, dy = draw(stream, jax.random.key(1))
    assert y.shape == dy.shape == (64, 2)
    np.testing.assert_array_equal(dy[:, 0], y[:, 1])
    g_over_l = system.gravity / system.length
    np.testing.assert_allclose(dy[:, 1], -g_over_l * np.sin(np.asarray(y[:, 0])), rtol=1e-14)
    # Fresh states for every key, all distinct within a batch.
    y2, _ = draw(stream, jax.random.key(2))
    assert not np.any(np.isin(np.asarray(y2[:, 0]), np.asarray(y[:, 0])))
    assert len(np.unique(np.asarray(y[:, 0]))) == 64


class _Oscillator(eqx.Module):
    """dy/dt = [q_t, -q], whose training states differ from its initial states."""

    def __call__(self, t, y, args):
        return jnp.concatenate([y[1:], -y[:1]])

    def sample_initial_state(self, key):
        return jnp.zeros(2)

    def sample_training_state(self, key):
        return 1.0 + jax.random.uniform(key, (2,))


def test_state_stream_prefers_the_training_sampler():
    system = _Oscillator()
    y, dy = lz.StateStream(system).sample(jax.random.key(0), 16)
    expected = jax.vmap(system.sample_training_state)(jax.random.split(jax.random.key(0), 16))
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(dy, jnp.stack([y[:, 1], -y[:, 0]], axis=1))

    def sampler(key):
        return jnp.stack([jnp.zeros(()), jax.random.normal(key)])

    y, _ = lz.StateStream(system, sampler=sampler).sample(jax.random.key(0), 8)
    np.testing.assert_array_equal(y[:, 0], 0.0)
    assert len(np.unique(np.asarray(y[:, 1]))) == 8
    with pytest.raises(TypeError, match="sampler"):
        lz.StateStream(lambda t, y, args: y)


def _packaged_table():
    resource = importlib.resources.files("lagrangian_zoo").joinpath("data", "real_pend_h_1.txt")
    return np.loadtxt(io.StringIO(resource.read_text()), comments="%")


def test_real_pendulum_shapes_and_split_in_time():
    table = _packaged_table()
    assert table.shape == (556, 4)
    train, test = lz.real_pendulum_dataset()
    # 555 finite differences, the last 20% (111) in time for testing.
    assert train.y.shape == train.dy.shape == (1, 444, 2)
    assert test.y.shape == test.dy.shape == (1, 111, 2)
    assert float(train.ts[-1]) < float(test.ts[0])
    np.testing.assert_array_equal(np.concatenate([train.ts, test.ts]), table[:-1, 1])
    np.testing.assert_array_equal(np.concatenate([train.y[0], test.y[0]]), table[:-1, 2:4])
    assert train.metadata["system"] == "real_pendulum" == test.metadata["system"]
    assert train.metadata["part"] == "train" and test.metadata["part"] == "test"


def test_real_pendulum_derivatives_use_the_actual_time_steps():
    table = _packaged_table()
    train, test = lz.real_pendulum_dataset(test_fraction=0.5)
    dy = np.concatenate([train.dy[0], test.dy[0]])
    steps = np.diff(table[:, 1])
    # The record has gaps of two and three samples of 1/6 s.
    gaps = np.flatnonzero(steps > 1.5 / 6)
    assert len(gaps) == 10
    np.testing.assert_allclose(dy[gaps, 0], np.diff(table[:, 2])[gaps] / steps[gaps], rtol=1e-12)
    # Physics: the finite-difference rate of the angle tracks the measured angular velocity
    # away from the gaps.
    regular = steps < 1.5 / 6
    omega_mid = 0.5 * (table[:-1, 3] + table[1:, 3])
    residual = dy[regular, 0] - omega_mid[regular]
    assert np.sqrt(np.mean(residual**2)) < 0.1 * np.sqrt(np.mean(omega_mid[regular] ** 2))
    with pytest.raises(ValueError, match="test_fraction"):
        lz.real_pendulum_dataset(test_fraction=1.0)


def test_finite_differences_orders_on_an_uneven_grid():
    # sin(t) on a grid with random steps in [h, 3h]: the forward error falls as h, the
    # central one as h^2, against the closed form cos(t).
    rng = np.random.default_rng(0)
    errors = {"forward": [], "central": []}
    for h in (0.02, 0.01):
        ts = np.cumsum(rng.uniform(h, 3 * h, size=int(4 / h)))
        ys = np.stack([np.sin(ts), np.cos(ts)], axis=1)
        for scheme in errors:
            t, y, dy = lz.finite_differences(ts, ys, scheme)
            np.testing.assert_array_equal(y, ys[: len(t)] if scheme == "forward" else ys[1:-1])
            errors[scheme].append(np.max(np.abs(dy[:, 0] - np.cos(t))))
    forward_rate = errors["forward"][0] / errors["forward"][1]
    central_rate = errors["central"][0] / errors["central"][1]
    assert 1.6 < forward_rate < 2.5, errors  # first order: halving h halves the error
    assert 3.2 < central_rate < 5.0, errors  # second order: it quarters it
    assert errors["central"][1] < 0.01 * errors["forward"][1]


@pytest.mark.parametrize("scheme", ["Forward", "backward", ""])
def test_finite_differences_refuse_unknown_schemes(scheme):
    # "Forward" once gave central differences without a word.
    ts, ys = np.arange(4.0), np.zeros((4, 2))
    with pytest.raises(
        ValueError, match=rf"`scheme` must be one of 'forward', 'central', got {scheme!r}\."
    ):
        lz.finite_differences(ts, ys, scheme)


def test_real_pendulum_central_differences():
    table = _packaged_table()
    train, test = lz.real_pendulum_dataset(derivatives="central")
    assert train.dy.shape[1] + test.dy.shape[1] == 554  # first and last samples dropped
    assert train.metadata["derivatives"] == "central finite differences"
    ts = np.concatenate([train.ts, test.ts])
    np.testing.assert_array_equal(ts, table[1:-1, 1])
    dy = np.concatenate([train.dy[0], test.dy[0]])
    # On even steps the formula is the plain central difference of the neighbours.
    i = 5
    expected = (table[i + 2, 2:4] - table[i, 2:4]) / (table[i + 2, 1] - table[i, 1])
    np.testing.assert_allclose(dy[i], expected, rtol=1e-12)

    # The forward differences lose energy on average: their angular acceleration carries a
    # friction-like term -(h/2) omega^2 q_t, so dE/dt = q_t * (q_tt + 2.4 sin q / 2) is
    # negative; the central ones are close to energy-neutral.
    def mean_power(dataset_pair):
        y = np.concatenate([d.y[0] for d in dataset_pair])
        rates = np.concatenate([d.dy[0] for d in dataset_pair])
        return np.mean(y[:, 1] * (rates[:, 1] + 1.2 * np.sin(y[:, 0])))

    forward = mean_power(lz.real_pendulum_dataset())
    central = mean_power((train, test))
    assert forward < 0 and abs(central) < 0.5 * abs(forward)
    with pytest.raises(ValueError, match="`derivatives` must be one of"):
        lz.real_pendulum_dataset(derivatives="backward")


# Damaged files -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_dataset(tmp_path_factory):
    ts = jnp.linspace(0.0, 1.0, 5)
    y = jnp.stack([jnp.stack([jnp.cos(ts + k), -jnp.sin(ts + k)], -1) for k in range(3)])
    dy = jnp.stack([y[..., 1], -y[..., 0]], -1)
    data = lz.Dataset(ts, y, dy, {"system": "spring", "parameters": {"mass": 1.0}})
    folder = tmp_path_factory.mktemp("damaged")
    path = folder / "good.npz"
    data.save(path)
    content = path.read_bytes()
    # The headers of the file: the JSON entry (stored as UTF-32) and each array's .npy header.
    with np.load(path) as archive:
        text = str(archive["__lagrangian_zoo__"][()])
    start = content.index(text[:12].encode("utf-32-le"))
    headers = [(start, start + 4 * len(text))]
    for name in ("ts", "y", "dy"):
        at = content.index(b"{'descr'", content.index(f"{name}.npy".encode()))
        headers.append((at, content.index(b"}", at) + 1))
    return data, content, headers, folder / "damaged.npz"


def test_an_unknown_compression_method_is_a_clear_error(saved_dataset):
    _, content, _, path = saved_dataset
    damaged_bytes = bytearray(content)
    # The compression method of `y.npy` in the archive's central directory: 99 is none known.
    entry = content.rfind(b"PK\x01\x02", 0, content.rindex(b"y.npy"))
    damaged_bytes[entry + 10] = 99
    path.write_bytes(bytes(damaged_bytes))
    with pytest.raises(ValueError, match=r"damaged.npz' is truncated or corrupt .*compression"):
        lz.Dataset.load(path)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_dataset_files_raise_one_clear_error(saved_dataset, data):
    original, content, headers, path = saved_dataset
    header = data.draw(st.sampled_from(headers))
    path.write_bytes(data.draw(damaged(content, header)))
    try:
        loaded = lz.Dataset.load(path)
    except ValueError as error:
        assert type(error) is ValueError, repr(error)
        message = str(error)
        assert message.startswith(f"'{path}' "), message
        assert re.search(
            r"is (not a (valid )?|a damaged )lagrangian_zoo dataset|is truncated or corrupt"
            r"|format version",
            message,
        ), message
    else:
        # Harmless damage (in a part of the archive nobody reads): the very same dataset.
        for name in ("ts", "y", "dy"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
        assert loaded.metadata == original.metadata
