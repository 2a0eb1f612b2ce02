import json
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import optax
import pytest
from hypothesis import given, HealthCheck, settings, strategies as st
from lagrangian_zoo._checkpoint import (
    checkpoint_damage,
    load_training_state,
    save_training_state,
)
from lagrangian_zoo._io import atomic_write

from helpers import damaged


def _model(name="baseline", width=8, **kwargs):
    model = lz.models.get(
        name, 2, key=jax.random.key(0), width=width, depth=1, periodic=[True, False], **kwargs
    )
    # Non-trivial input statistics, so that they are saved and restored too.
    states = 3.0 * jax.random.normal(jax.random.key(1), (50, 4)) + 1.0
    return model.adapt(states)


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        if eqx.is_array(x):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y


@pytest.mark.parametrize("name", ["baseline", "hnn", "lnn", "delan"])
def test_model_round_trip_is_exact(name, tmp_path):
    model = _model(name)
    path = tmp_path / f"{name}.lzm"
    lz.save_model(path, model)
    loaded = lz.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.config() == model.config()
    _assert_trees_equal(loaded, model)
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    assert header["format"] == "lagrangian_zoo.model"
    assert header["library_version"] == lz.__version__
    assert header["dtype"] == "float64"


def test_float32_model_keeps_its_dtype(tmp_path):
    model = jax.tree.map(
        lambda x: x.astype(jnp.float32) if eqx.is_inexact_array(x) else x, _model()
    )
    lz.save_model(tmp_path / "small.lzm", model)
    loaded = lz.load_model(tmp_path / "small.lzm")
    _assert_trees_equal(loaded, model)
    assert loaded.network.layers[0].weight.dtype == jnp.float32


def test_load_into_like(tmp_path):
    model = _model()
    lz.save_model(tmp_path / "m.lzm", model)
    fresh = lz.models.get(
        "baseline", 2, key=jax.random.key(9), width=8, depth=1, periodic=[True, False]
    )
    _assert_trees_equal(lz.load_model(tmp_path / "m.lzm", like=fresh), model)
    other = lz.models.get(
        "baseline", 2, key=jax.random.key(9), width=4, depth=1, periodic=[True, False]
    )
    with pytest.raises(ValueError, match="width=8 in the file vs 4 here"):
        lz.load_model(tmp_path / "m.lzm", like=other)


def _rewrite_header(path, **changes):
    header_line, payload = path.read_bytes().split(b"\n", 1)
    header = json.loads(header_line) | changes
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)


def test_load_errors_name_the_file_and_the_problem(tmp_path):
    model = _model()
    good = tmp_path / "good.lzm"
    lz.save_model(good, model)
    content = good.read_bytes()
    header_size = content.index(b"\n") + 1

    with pytest.raises(FileNotFoundError, match="nothing.lzm"):
        lz.load_model(tmp_path / "nothing.lzm")

    foreign = tmp_path / "weights.eqx"
    eqx.tree_serialise_leaves(foreign, model)
    with pytest.raises(ValueError, match="weights.eqx' is not a lagrangian_zoo model file"):
        lz.load_model(foreign)

    newer = tmp_path / "newer.lzm"
    newer.write_bytes(content)
    _rewrite_header(newer, format_version=99)
    with pytest.raises(ValueError, match="newer.lzm' has model format version 99.*upgrade"):
        lz.load_model(newer)

    truncated = tmp_path / "truncated.lzm"
    truncated.write_bytes(content[: header_size + (len(content) - header_size) // 2])
    with pytest.raises(ValueError, match="truncated.lzm' is truncated"):
        lz.load_model(truncated)

    corrupt = tmp_path / "corrupt.lzm"
    damaged = bytearray(content)
    damaged[-20] ^= 0xFF
    corrupt.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="corrupt.lzm' is corrupt"):
        lz.load_model(corrupt)

    unknown = tmp_path / "unknown.lzm"
    unknown.write_bytes(content)
    _rewrite_header(unknown, model="Mystery")
    with pytest.raises(ValueError, match="unknown.lzm' holds a model of class 'Mystery'"):
        lz.load_model(unknown)


def test_save_model_needs_a_config(tmp_path):
    with pytest.raises(TypeError, match="config()"):
        lz.save_model(tmp_path / "linear.lzm", eqx.nn.Linear(2, 2, key=jax.random.key(0)))
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "model.lzm"
    path.write_bytes(b"old content")

    def write(file):
        file.write(b"new, but only half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, write)
    assert path.read_bytes() == b"old content"
    assert list(tmp_path.iterdir()) == [path]


def _training_state(model, optimizer):
    params = eqx.filter(model, lz.models.trainable_filter(model))
    return optimizer.init(params)


SETTINGS = {"steps": 100, "batch_size": 32, "key": [0, 2]}


def test_training_state_round_trip_and_mismatches(tmp_path):
    model = _model()
    optimizer = optax.adam(1e-3)
    params = eqx.filter(model, lz.models.trainable_filter(model))
    opt_state = optimizer.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int counts
        _, opt_state = optimizer.update(grads, opt_state, params)
    history = {"step": [10], "train_loss": [0.5], "eval_loss": [None], "seconds": [1.0]}
    path = tmp_path / "step_000000010.ckpt"
    save_training_state(path, model, opt_state, step=10, history=history, settings=SETTINGS)

    fresh = _model()
    like = (fresh, _training_state(fresh, optimizer))
    loaded_model, loaded_state, step, loaded_history = load_training_state(
        path, like, settings=SETTINGS
    )
    _assert_trees_equal(loaded_model, model)
    _assert_trees_equal(loaded_state, opt_state)
    assert step == 10 and loaded_history == history

    other = _model(width=4)
    with pytest.raises(ValueError, match="another configuration: width=8 in the file vs 4"):
        load_training_state(path, (other, _training_state(other, optimizer)))
    hnn = _model("hnn")
    with pytest.raises(ValueError, match="checkpoint of a Baseline model, but this run trains"):
        load_training_state(path, (hnn, _training_state(hnn, optimizer)))
    with pytest.raises(ValueError, match="batch_size=32 in the file vs 64 here"):
        load_training_state(path, like, settings=SETTINGS | {"batch_size": 64})
    with pytest.raises(ValueError, match="other shapes.*optimizer differs"):
        load_training_state(path, (fresh, _training_state(fresh, optax.sgd(1e-3))))
    with pytest.raises(ValueError, match="step_000000010.ckpt' is a lagrangian_zoo training"):
        lz.load_model(path)


# Damaged files ------------------------------------------------------------------------------

_CLEAR_ERRORS = (
    r"is not a lagrangian_zoo (model|training checkpoint) file|has a damaged header|"
    r"is truncated|is corrupt|format version|holds a model of class|cannot be built|does not fit|"
    r"another configuration|is a checkpoint of a|other settings|other shapes|64-bit floats"
)


def _json_values():
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(-10, 10), st.text(max_size=8)
    )
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=4)


@st.composite
def _damaged_file(draw, content: bytes):
    """Bytes damaged anywhere, or a header whose entry (or config entry) holds a new value."""
    newline = content.index(b"\n")
    if draw(st.booleans()):
        return draw(damaged(content, (0, newline)))
    header = json.loads(content[:newline])
    key = draw(st.sampled_from(sorted(header)))
    if isinstance(header[key], dict) and header[key] and draw(st.booleans()):
        header[key][draw(st.sampled_from(sorted(header[key])))] = draw(_json_values())
    else:
        header[key] = draw(_json_values())
    return json.dumps(header).encode() + content[newline:]


def _assert_clear_error(error: BaseException, path) -> None:
    assert type(error) is ValueError, repr(error)
    message = str(error)
    assert message.startswith(f"'{path}' "), message
    assert re.search(_CLEAR_ERRORS, message), message


@pytest.fixture(scope="module")
def saved_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("damaged")
    model = lz.models.get("lnn", 1, key=jax.random.key(0), width=4, depth=1, periodic=[True])
    lz.save_model(folder / "good.lzm", model)
    optimizer = optax.adam(1e-3)
    opt_state = _training_state(model, optimizer)
    history = {"step": [10], "train_loss": [0.5], "eval_loss": [None], "seconds": [1.0]}
    save_training_state(
        folder / "good.ckpt", model, opt_state, step=10, history=history, settings=SETTINGS
    )
    return folder, model, opt_state, history


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_model_files_raise_one_clear_error(saved_files, data):
    folder, model, _, _ = saved_files
    path = folder / "damaged.lzm"
    path.write_bytes(data.draw(_damaged_file((folder / "good.lzm").read_bytes())))
    try:
        loaded = lz.load_model(path)
    except Exception as error:
        _assert_clear_error(error, path)
    else:
        # Harmless damage: the very same model.
        _assert_trees_equal(loaded, model)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_training_checkpoints_raise_one_clear_error(saved_files, data):
    folder, model, opt_state, history = saved_files
    path = folder / "damaged.ckpt"
    path.write_bytes(data.draw(_damaged_file((folder / "good.ckpt").read_bytes())))
    try:
        loaded = load_training_state(path, (model, opt_state), settings=SETTINGS)
    except Exception as error:
        _assert_clear_error(error, path)
    else:
        _assert_trees_equal(loaded[:2], (model, opt_state))
        assert loaded[2:] == (10, history)


def test_an_edited_header_is_refused(saved_files, tmp_path):
    # A change that every other check accepts (another activation of the same shapes) is
    # caught by the header's own checksum.
    folder, _, _, _ = saved_files
    edited = tmp_path / "edited.lzm"
    edited.write_bytes((folder / "good.lzm").read_bytes().replace(b'"softplus"', b'"tanh"', 1))
    with pytest.raises(ValueError, match="edited.lzm' is corrupt: its header does not match"):
        lz.load_model(edited)


def test_checkpoint_damage_tells_damage_from_a_refusal(saved_files, tmp_path):
    # fit(resume=True) falls back to an earlier checkpoint on damage only: a file of other
    # settings is refused as it stands.
    folder, model, opt_state, _ = saved_files
    good = (folder / "good.ckpt").read_bytes()
    assert checkpoint_damage(folder / "good.ckpt") is None
    with pytest.raises(ValueError, match="other settings"):
        load_training_state(folder / "good.ckpt", (model, opt_state), settings={"steps": 1})
    assert checkpoint_damage(folder / "good.lzm") is None  # a model, not a checkpoint

    cases = {
        "cut.ckpt": (good[:-10], "is truncated"),
        "flipped.ckpt": (good[:-1] + bytes([good[-1] ^ 1]), "is corrupt: its parameters"),
        # An edit that reads as other settings, caught by the header's own checksum.
        "edited.ckpt": (good.replace(b'"batch_size": 32', b'"batch_size": 64', 1), "header"),
        "empty.ckpt": (b"", "is not a lagrangian_zoo training checkpoint file"),
    }
    for name, (content, reason) in cases.items():
        assert content != good
        path = tmp_path / name
        path.write_bytes(content)
        damage = checkpoint_damage(path)
        assert isinstance(damage, ValueError) and str(damage).startswith(f"'{path}' ")
        assert reason in str(damage), str(damage)
