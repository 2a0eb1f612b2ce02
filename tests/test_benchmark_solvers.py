"""`benchmarks/solvers.py`: its quick mode, run in this process, and the numbers it reports.

The energy errors are checked against what the methods guarantee: a symplectic method's error
(Blanes-Moan's composition) is as large in the last tenth of the
run as in the first, and classic RK4's grows.
"""

import json
import math
import pathlib
import sys


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import solvers  # noqa: E402


def test_solvers_quick_mode(tmp_path):
    assert solvers.main(["--quick", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "solvers.json").read_text())
    assert document["mode"] == "quick"
    assert (tmp_path / "solvers.md").exists()
    rows = {(row["system"], row["solver"]): row for row in document["rows"]}
    assert set(rows) == {("pendulum", "blanes_moan4"), ("pendulum", "rk4")}
    for row in rows.values():
        assert row["finite"], row
        assert row["seconds"] > 0 and math.isfinite(row["energy_error_max"]), row
    symplectic, rk4 = rows["pendulum", "blanes_moan4"], rows["pendulum", "rk4"]
    assert symplectic["energy_error_last_tenth"] < 1.1 * symplectic["energy_error_first_tenth"]
    assert rk4["energy_error_last_tenth"] > 5 * rk4["energy_error_first_tenth"]
    assert symplectic["energy_error_max"] < 0.01 * rk4["energy_error_max"]
