"""The file format of measured trajectories with inputs: round trips, what lz.Dataset and
lz.InputDataset make of it, and an error naming the field for each bad file."""

import json

import lagrangian_zoo as lz
import numpy as np
import pytest


def _record(trajectories=2, times=7, dof=2, inputs=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.05, 0.15, times))
    q = rng.normal(size=(trajectories, times, dof))
    q_t = rng.normal(size=(trajectories, times, dof))
    q_tt = rng.normal(size=(trajectories, times, dof))
    u = rng.normal(size=(trajectories, times, inputs))
    return t, q, q_t, q_tt, u


def test_round_trip_keeps_every_field_and_the_metadata(tmp_path):
    t, q, q_t, q_tt, u = _record()
    path = tmp_path / "rig.npz"
    lz.save_trajectories(path, t, q, q_t, q_tt=q_tt, u=u, metadata={"units": "SI", "rate": 10})
    record = lz.load_trajectories(path)
    for name, value in {"t": t, "q": q, "q_t": q_t, "q_tt": q_tt, "u": u}.items():
        np.testing.assert_array_equal(getattr(record, name), value)
    assert record.metadata == {"units": "SI", "rate": 10}
    assert (record.dof, record.inputs) == (2, 1)
    # No temporary file is left beside it (written atomically).
    assert [p.name for p in tmp_path.iterdir()] == ["rig.npz"]


def test_a_plain_numpy_file_of_one_trajectory_is_read(tmp_path):
    t, q, q_t, _, u = _record(trajectories=1)
    path = tmp_path / "plain.npz"
    np.savez(path, t=t, q=q[0], q_t=q_t[0], u=u[0], metadata=json.dumps({"rig": "arm"}))
    record = lz.load_trajectories(path)
    assert record.q.shape == (1, 7, 2) and record.u.shape == (1, 7, 1)
    assert record.q_tt is None and record.metadata == {"rig": "arm"}


def test_input_dataset_estimates_accelerations_by_central_differences(tmp_path):
    # q_t = sin(t) sampled unevenly: the three-point formula's derivative is close to cos(t),
    # the first and last samples dropped; the inputs stay with their states.
    t = np.array([0.0, 0.1, 0.25, 0.33, 0.5, 0.61, 0.8])
    q_t = np.stack([np.sin(t), 2 * np.sin(t)], axis=-1)
    q = np.stack([1 - np.cos(t), 2 - 2 * np.cos(t)], axis=-1)
    u = np.arange(7.0)[:, None] * np.ones(2)
    path = tmp_path / "sine.npz"
    lz.save_trajectories(path, t, q, q_t, u=u)
    data = lz.InputDataset.load(path)
    np.testing.assert_allclose(data.ts, t[1:-1])
    np.testing.assert_allclose(data.dy[0, :, 2], np.cos(t[1:-1]), atol=6e-3)
    np.testing.assert_allclose(data.dy[0, :, 3], 2 * np.cos(t[1:-1]), atol=1.2e-2)
    np.testing.assert_array_equal(data.dy[0, :, :2], q_t[1:-1])
    np.testing.assert_array_equal(data.u[0], u[1:-1])
    assert (data.dof, data.inputs) == (2, 2)


def test_input_dataset_save_load_and_dataset_load(tmp_path):
    t, q, q_t, q_tt, u = _record(inputs=2)
    data = lz.InputDataset(t, np.concatenate([q, q_t], -1), np.concatenate([q_t, q_tt], -1), u)
    data.save(tmp_path / "a.npz")
    back = lz.InputDataset.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.y, data.y)
    np.testing.assert_array_equal(back.dy, data.dy)
    np.testing.assert_array_equal(back.u, data.u)
    assert back.metadata["derivatives"] == "measured"
    # lz.Dataset reads a trajectory file without inputs, and refuses one with them.
    lz.save_trajectories(tmp_path / "b.npz", t, q, q_t, q_tt=q_tt)
    states = lz.Dataset.load(tmp_path / "b.npz")
    np.testing.assert_array_equal(states.y, data.y)
    np.testing.assert_array_equal(states.dy, data.dy)
    with pytest.raises(ValueError, match="lz.InputDataset.load"):
        lz.Dataset.load(tmp_path / "a.npz")
    with pytest.raises(ValueError, match="holds no inputs `u`"):
        lz.InputDataset.load(tmp_path / "b.npz")


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda a: a.pop("q_t"), ValueError, r"lacks the array\(s\) `q_t`"),
        (lambda a: a.update(extra=np.zeros(3)), ValueError, r"unknown array\(s\) `extra`"),
        (
            lambda a: a.update(q_t=np.zeros((2, 6, 2))),
            ValueError,
            r"`q_t` must have the shape of `q`, \(2, 7, 2\), got shape \(2, 6, 2\)",
        ),
        (
            lambda a: a.update(q=np.zeros((2, 5, 2))),
            ValueError,
            r"`q` must have shape \(T, n\) or \(B, T, n\) with T = len\(t\) = 7.*\(2, 5, 2\)",
        ),
        (
            lambda a: a.update(u=np.zeros((2, 6, 1))),
            ValueError,
            r"`u` must have shape \(2, 7, m\).*got shape \(2, 6, 1\)",
        ),
        (lambda a: a["q_tt"].__setitem__((1, 3, 0), np.nan), ValueError, r"`q_tt` must be finite"),
        (
            lambda a: a.update(t=np.array([0.0, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5])),
            ValueError,
            r"`t` must be strictly increasing, but t\[1\] = 0.1",
        ),
        (lambda a: a.update(u=np.array(["a"] * 14).reshape(2, 7, 1)), TypeError, "`u` must hold"),
        (lambda a: a.update(metadata=np.array("[1, 2]")), ValueError, "must be a JSON object"),
        (
            lambda a: a.update(__lagrangian_zoo__=np.array('{"format": "other"}')),
            ValueError,
            "names the format 'other'",
        ),
    ],
)
def test_each_bad_file_is_refused_naming_the_field(tmp_path, change, error, message):
    t, q, q_t, q_tt, u = _record()
    arrays = {"t": t, "q": q, "q_t": q_t, "q_tt": q_tt, "u": u}
    change(arrays)
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(error, match=message):
        lz.load_trajectories(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        lz.load_trajectories(tmp_path / "none.npz")
    (tmp_path / "text.npz").write_text("t, q, q_t\n")
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        lz.load_trajectories(tmp_path / "text.npz")
    t, q, q_t, _, u = _record()
    with pytest.raises(ValueError, match="save_trajectories.*`u` must have shape"):
        lz.save_trajectories(tmp_path / "x.npz", t, q, q_t, u=u[:, :3])
    assert not (tmp_path / "x.npz").exists()
    # Two samples have no central difference.
    lz.save_trajectories(tmp_path / "short.npz", t[:2], q[:, :2], q_t[:, :2], u=u[:, :2])
    with pytest.raises(ValueError, match="at least 3 samples"):
        lz.InputDataset.load(tmp_path / "short.npz")


def test_the_command_line_inspects_a_file_and_names_a_bad_field(tmp_path):
    from lagrangian_zoo.cli import app
    from typer.testing import CliRunner

    t, q, q_t, _, u = _record(inputs=3)
    lz.save_trajectories(tmp_path / "rig.npz", t, q, q_t, u=u, metadata={"rig": "arm"})
    result = CliRunner().invoke(app, ["inspect", str(tmp_path / "rig.npz")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["trajectories"] == 2 and summary["samples"] == 7
    assert (summary["dof"], summary["inputs"]) == (2, 3)
    assert summary["accelerations"] == "finite differences"
    assert summary["metadata"] == {"rig": "arm"}
    np.testing.assert_allclose(summary["smallest_step"], np.diff(t).min())
    np.savez(tmp_path / "bad.npz", t=t, q=q, q_t=q_t[:, :4])
    result = CliRunner().invoke(app, ["inspect", str(tmp_path / "bad.npz")])
    assert result.exit_code == 2
    assert "`q_t` must have the shape of `q`, (2, 7, 2), got shape (2, 4, 2)" in result.output
