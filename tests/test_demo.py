import json

import numpy as np
from lagrangian_zoo._demo import run_demo
from PIL import Image


def test_quick_demo_writes_its_results(tmp_path):
    result = run_demo(tmp_path, seed=0, quick=True)
    assert set(result["rows"]) == {"baseline", "hnn", "lnn"}
    for row in result["rows"].values():
        assert row["training_seconds"] > 0
        assert np.isfinite(row["held_out_l1_acceleration_loss"])
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["rows"].keys() == result["rows"].keys()
    assert stored["energy_scale"] == 3 * 9.8
    for name in ("energy.png", "loss_curves.png"):
        with Image.open(tmp_path / name) as image:
            assert image.size[0] > 100
    with Image.open(tmp_path / "pendulum.gif") as gif:
        assert gif.n_frames >= 2
    assert not list(tmp_path.glob(".*.tmp"))
