import lagrangian_zoo as lz
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image


TS = np.linspace(0.0, 4.0, 40)
TRUE = np.stack([np.cos(2 * TS), -2 * np.sin(2 * TS)], axis=-1)
PREDICTED = np.stack([1.05 * np.cos(2.1 * TS), -2.2 * np.sin(2.1 * TS)], axis=-1)


def _energy(ys):
    return 0.5 * ys[..., 1] ** 2 + 2 * (1 - np.cos(ys[..., 0]))


def _check_image(folder, name, kind="PNG"):
    """The file exists, is non-empty, opens as `kind`, and nothing else (no temp file) is left."""
    path = folder / name
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == kind
        frames = getattr(image, "n_frames", 1)
        size = image.size
    leftovers = [p.name for p in folder.rglob("*") if p.is_file() and p != path]
    assert leftovers == []
    return frames, size


def test_energy_over_time(tmp_path):
    energies = {
        "true": _energy(TRUE),
        "baseline": _energy(PREDICTED),
        "hnn": np.stack([_energy(TRUE) * (1 + 1e-3 * TS), _energy(TRUE)]),  # (B, T)
    }
    figure = lz.plots.energy_over_time(
        TS, energies, relative_error=True, path=tmp_path / "energy.png", dpi=40
    )
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2
    assert figure.axes[1].get_yscale() == "log"
    _check_image(tmp_path, "energy.png")
    # Without a path nothing is written.
    single = lz.plots.energy_over_time(TS, {"true": _energy(TRUE)})
    assert isinstance(single, Figure) and len(single.axes) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["energy.png"]


def test_trajectories_and_phase_portrait(tmp_path):
    ys = {"true": TRUE, "model": PREDICTED}
    figure = lz.plots.trajectories(
        TS, ys, velocities=True, coordinates=["theta"], path=tmp_path / "q.png", dpi=40
    )
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2  # one coordinate, position and velocity
    assert figure.axes[0].get_ylabel() == "theta"
    _check_image(tmp_path, "q.png")
    (tmp_path / "q.png").unlink()

    figure = lz.plots.phase_portrait(ys, path=tmp_path / "sub" / "phase.png", dpi=40)
    assert isinstance(figure, Figure)
    # Each entry: its curve and its start marker.
    assert len(figure.axes[0].lines) == 4
    _check_image(tmp_path / "sub", "phase.png")


def test_trajectories_limits_panels():
    wave = np.zeros((len(TS), 40))
    assert len(lz.plots.trajectories(TS, {"true": wave}).axes) == 6
    assert len(lz.plots.trajectories(TS, {"true": wave}, indices=[3, 7]).axes) == 2


def test_loss_curves(tmp_path):
    steps = np.arange(0, 200, 10)
    histories = {
        "lnn": {
            "step": steps,
            "train_loss": 1.0 / (1 + steps),
            "eval_loss": np.where(steps % 50 == 0, 2.0 / (1 + steps), np.nan),
        },
        "baseline": {
            "step": steps,
            "train_loss": 3.0 / np.sqrt(1 + steps),
            "eval_step": np.array([0, 100]),
            "eval_loss": np.array([3.0, 0.5]),
        },
    }
    figure = lz.plots.loss_curves(histories, path=tmp_path / "loss.png", dpi=40)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 4
    eval_line = ax.lines[1]
    assert np.allclose(eval_line.get_xdata(), [0, 50, 100, 150])
    _check_image(tmp_path, "loss.png")


def test_svg_and_unsupported_suffix(tmp_path):
    lz.plots.phase_portrait({"true": TRUE}, path=tmp_path / "phase.svg")
    assert (tmp_path / "phase.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="unsupported suffix"):
        lz.plots.phase_portrait({"true": TRUE}, path=tmp_path / "phase.xyz")
    assert [p.name for p in tmp_path.iterdir()] == ["phase.svg"]


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        lz.plots.phase_portrait({"true": TRUE}, path=target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_animate_pendulum(tmp_path):
    T = 9
    ts = np.linspace(0.0, 1.0, T)
    chain = np.stack([np.sin(3 * ts), np.cos(3 * ts), np.zeros(T), np.zeros(T)], axis=-1)
    figure = lz.plots.animate_pendulum(
        {"true": chain, "lnn": 1.1 * chain},
        lengths=[1.0, 0.5],
        ts=ts,
        path=tmp_path / "pendulum.gif",
        stride=3,
        fps=5,
        dpi=30,
    )
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2
    frames, size = _check_image(tmp_path, "pendulum.gif", kind="GIF")
    assert frames == 4  # states 0, 3, 6 and the last, 8
    width, height = figure.get_size_inches() * 30
    assert size == (round(width), round(height))
    # The last frame: the rod of the first panel ends at the last bob of the last state.
    rods = figure.axes[0].lines[2]
    q1, q2 = chain[-1, 0], chain[-1, 1]
    assert np.allclose(rods.get_xdata()[-1], np.sin(q1) + 0.5 * np.sin(q2))
    assert np.allclose(rods.get_ydata()[-1], -np.cos(q1) - 0.5 * np.cos(q2))


def test_animate_orbits(tmp_path):
    T = 5
    angle = np.linspace(0.0, 1.0, T)
    x, y = np.cos(angle), np.sin(angle)
    two_body = np.stack([x, y, -x, -y, -y, x, y, -x], axis=-1)
    figure = lz.plots.animate_orbits(
        {"true": two_body, "hnn": 1.01 * two_body},
        path=tmp_path / "orbits.gif",
        stride=2,
        dpi=30,
    )
    assert isinstance(figure, Figure)
    frames, _ = _check_image(tmp_path, "orbits.gif", kind="GIF")
    assert frames == 3
    # Positions only, with an explicit number of bodies, and no file.
    figure = lz.plots.animate_orbits({"true": two_body[:, :4]}, bodies=2)
    assert len(figure.axes) == 1


def test_input_errors(tmp_path):
    ys = {"true": TRUE}
    with pytest.raises(ValueError, match="`ys` is empty"):
        lz.plots.phase_portrait({})
    with pytest.raises(ValueError, match="`energies` is empty"):
        lz.plots.energy_over_time(TS, {})
    with pytest.raises(ValueError, match="same number of times"):
        lz.plots.animate_pendulum({"true": TRUE, "short": TRUE[:10]})
    with pytest.raises(ValueError, match=r"`ts` must have shape \(40,\)"):
        lz.plots.trajectories(TS[:-1], ys)
    with pytest.raises(ValueError, match=r"`ys\['bad'\]` must have shape"):
        lz.plots.trajectories(TS, {"bad": TRUE[:, 0]})
    with pytest.raises(ValueError, match="same state size"):
        lz.plots.phase_portrait({"true": TRUE, "wide": np.zeros((40, 4))})
    with pytest.raises(ValueError, match="even length"):
        lz.plots.phase_portrait({"odd": np.zeros((40, 3))})
    with pytest.raises(ValueError, match=r"`coordinate` must be in \[0, 1\)"):
        lz.plots.phase_portrait(ys, coordinate=1)
    with pytest.raises(ValueError, match="`coordinates` must name the 1 coordinates"):
        lz.plots.trajectories(TS, ys, coordinates=["a", "b"])
    with pytest.raises(ValueError, match="`reference` 'truth' is not a label"):
        lz.plots.energy_over_time(TS, {"true": _energy(TRUE)}, reference="truth")
    with pytest.raises(ValueError, match="needs at least two entries"):
        lz.plots.energy_over_time(TS, {"true": _energy(TRUE)}, relative_error=True)
    with pytest.raises(ValueError, match="lacks \\['train_loss'\\]"):
        lz.plots.loss_curves({"m": {"step": np.arange(3)}})
    with pytest.raises(ValueError, match=r"`histories\['m'\]\['eval_loss'\]` must be of shape"):
        lz.plots.loss_curves(
            {"m": {"step": np.arange(3), "train_loss": np.ones(3), "eval_loss": np.ones(2)}}
        )
    with pytest.raises(ValueError, match="`histories` is empty"):
        lz.plots.loss_curves({})
    with pytest.raises(ValueError, match="must end in .gif"):
        lz.plots.animate_pendulum(ys, path=tmp_path / "pendulum.png")
    with pytest.raises(ValueError, match=r"`lengths` must hold one length per link, shape \(1,\)"):
        lz.plots.animate_pendulum(ys, lengths=[1.0, 1.0])
    with pytest.raises(ValueError, match="`lengths` must be positive"):
        lz.plots.animate_pendulum(ys, lengths=[-1.0])
    with pytest.raises(ValueError, match="`stride` must be a positive int"):
        lz.plots.animate_pendulum(ys, stride=0)
    with pytest.raises(ValueError, match="`fps` must be a positive int"):
        lz.plots.animate_orbits({"true": np.zeros((5, 8))}, fps=0)
    with pytest.raises(ValueError, match="states of 3 planar bodies have size 12"):
        lz.plots.animate_orbits({"true": np.zeros((5, 8))}, bodies=3)
    with pytest.raises(ValueError, match="cannot infer `bodies`"):
        lz.plots.animate_orbits({"true": np.zeros((5, 6))})
    assert list(tmp_path.iterdir()) == []
