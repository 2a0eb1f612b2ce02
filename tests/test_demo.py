import json

import equinox as eqx
import jax
import jax.numpy as jnp
import lagrangian_zoo as lz
import numpy as np
import pytest
from lagrangian_zoo import _demo
from PIL import Image


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The quick demo, with every model's rollout from the first initial state failing and
    from the second succeeding, so that the animation must show the second initial state."""
    out = tmp_path_factory.mktemp("demo")
    starts, animated, dtypes = [], {}, set()
    real_rollout, real_animate = _demo.rollout, _demo.plots.animate_pendulum
    system = lz.systems.get("double_pendulum")

    def rollout(model, y0, ts, **kwargs):
        ys = real_rollout(model, y0, ts, **kwargs)
        # The models' rollouts, not the truth's: from velocity states whatever the model takes.
        if isinstance(model, lz.models.AbstractDynamics) and y0.ndim == 2:
            assert kwargs.get("lagrangian") is not None
            starts.append(np.asarray(y0))
            dtypes.add(str(jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))[0].dtype))
            # As a rollout that stopped at max_steps, and one that followed the truth (after
            # the quick demo's 40 training steps a model's own rollout may fail on another
            # machine: leave the energy rule nothing to count there).
            truth = lz.rollout(system, y0[1], ts, rtol=1e-10, atol=1e-10)
            ys = ys.at[0].set(jnp.inf).at[1].set(truth.astype(ys.dtype))
        return ys

    def animate(series, **kwargs):
        animated.update(series)
        return real_animate(series, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_demo, "rollout", rollout)
        patch.setattr(_demo.plots, "animate_pendulum", animate)
        result = _demo.run_demo(out, seed=0, quick=True)
    return out, result, starts, animated, dtypes


def test_quick_demo_writes_its_results(demo):
    out, result, _, _, _ = demo
    assert set(result["rows"]) == {"baseline", "hnn", "lnn"}
    for row in result["rows"].values():
        assert row["training_seconds"] > 0
        assert np.isfinite(row["held_out_l1_acceleration_loss"])
    assert all(row["failed_rollouts"] == 1 for row in result["rows"].values())
    stored = json.loads((out / "results.json").read_text())
    assert stored["rows"].keys() == result["rows"].keys()
    assert stored["energy_scale"] == 3 * 9.8
    for name in ("energy.png", "loss_curves.png"):
        with Image.open(out / name) as image:
            assert image.size[0] > 100
    with Image.open(out / "pendulum.gif") as gif:
        assert gif.n_frames >= 2
    assert not list(out.glob(".*.tmp"))


def test_animation_compares_motions_from_one_initial_state(demo):
    _, _, starts, animated, _ = demo
    assert set(animated) == {"true", "baseline", "lnn"}
    # The first initial state failed, so the second one is shown, by every series.
    y0 = starts[0]
    assert all(np.array_equal(start, y0) for start in starts)
    assert not np.allclose(y0[0], y0[1])
    for name, ys in animated.items():
        assert ys.shape == animated["true"].shape, name
        np.testing.assert_allclose(ys[0], y0[1], rtol=0, atol=1e-12, err_msg=name)


def test_demo_trains_in_float32_and_rolls_out_in_float64(demo):
    # A float32 solve at rtol 1e-7 sits at its rounding floor; the scores need float64.
    _, result, starts, _, dtypes = demo
    assert result["settings"]["training_dtype"] == "float32"
    assert dtypes == {"float64"}
    assert all(start.dtype == np.float64 for start in starts)


def test_energy_figure_clips_and_marks_a_diverged_rollout(tmp_path):
    ts = np.linspace(0.0, 10.0, 101)
    truth = np.full(101, -20.0)
    diverged = np.where(ts < 4.0, -20.0, 1e213)  # finite, but far outside any useful axis
    close = truth + 1e-3 * np.sin(ts)
    figure = _demo.energy_figure(
        ts, truth, {"baseline": diverged, "lnn": close}, path=tmp_path / "energy.png"
    )
    top = figure.axes[0]
    low, high = top.get_ylim()
    assert -25.0 < low < -20.0 < high < -15.0
    labels = [line.get_label() for line in top.get_lines()]
    assert "baseline (leaves the axis at t = 4)" in labels
    assert "lnn" in labels
    markers = [line for line in top.get_lines() if line.get_marker() == "x"]
    assert len(markers) == 1
    np.testing.assert_allclose(markers[0].get_xdata(), [4.0])
    assert (tmp_path / "energy.png").stat().st_size > 0
