"""`benchmarks/solvers.py`: its quick mode, run in this process, and the numbers it reports.

The energy errors are checked against what the methods guarantee: a symplectic method's error
(Blanes-Moan's composition) is as large in the last tenth of the run as in the first, and
classic RK4's grows; RK4's block errors against an RK4 written here in NumPy; the periods that
set the horizons against SciPy's elliptic integral and the double pendulum's normal modes.
"""

import json
import math
import pathlib
import sys

import lagrangian_zoo as lz
import numpy as np
import scipy.special


BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import solvers  # noqa: E402


def _rk4_pendulum_block_errors(y0, dt, steps, blocks, g, m, l):
    """Classic RK4 on q_tt = -(g/l) sin q, the energy sampled every `solvers.SAMPLE` time
    units, the largest error of each block."""
    q, v = y0

    def field(q, v):
        return v, -(g / l) * math.sin(q)

    def energy(q, v):
        return 0.5 * m * l**2 * v**2 + m * g * l * (1 - math.cos(q))

    reference = energy(q, v)
    every = round(solvers.SAMPLE / dt)
    errors = []
    for step in range(1, steps + 1):
        k1 = field(q, v)
        k2 = field(q + dt / 2 * k1[0], v + dt / 2 * k1[1])
        k3 = field(q + dt / 2 * k2[0], v + dt / 2 * k2[1])
        k4 = field(q + dt * k3[0], v + dt * k3[1])
        q += dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v += dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        if step % every == 0:
            errors.append(abs(energy(q, v) - reference))
    return np.max(np.reshape(errors, (blocks, -1)), axis=1)


def test_solvers_quick_mode(tmp_path):
    assert solvers.main(["--quick", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "solvers.json").read_text())
    assert document["mode"] == "quick" and document["partial"] is False
    assert (tmp_path / "solvers.md").exists() and (tmp_path / "solvers.png").exists()
    rows = {(row["system"], row["solver"]): row for row in document["rows"]}
    assert set(rows) == {("pendulum", "blanes_moan4"), ("pendulum", "rk4")}
    pendulum = lz.systems.get("pendulum")
    period = 4 * scipy.special.ellipk(math.sin(1.0) ** 2) / math.sqrt(6.0)
    for row in rows.values():
        assert row["finite"], row
        assert row["seconds"] > 0 and math.isfinite(row["energy_error_max"]), row
        assert math.isclose(row["period"], period, rel_tol=1e-12)
        # 15 periods, rounded up to whole blocks of whole samples
        assert 15 * period <= row["horizon"] < 15 * period + 10 * solvers.SAMPLE
        assert row["steps"] == round(row["horizon"] / 0.1)
    symplectic, rk4 = rows["pendulum", "blanes_moan4"], rows["pendulum", "rk4"]
    assert symplectic["energy_error_last_tenth"] < 1.1 * symplectic["energy_error_first_tenth"]
    assert rk4["energy_error_last_tenth"] > 5 * rk4["energy_error_first_tenth"]
    assert symplectic["energy_error_max"] < 0.01 * rk4["energy_error_max"]
    expected = _rk4_pendulum_block_errors(
        (2.0, 0.0), 0.1, rk4["steps"], 10, 6.0, float(pendulum.mass), 1.0
    )
    np.testing.assert_allclose(rk4["energy_error_blocks"], expected, rtol=1e-8)


def test_double_pendulum_period_is_its_slow_normal_mode():
    # Unit masses and lengths: omega^2 = (2 -+ sqrt 2) g / l.
    system = lz.systems.get("double_pendulum")
    slow = math.sqrt((2 - math.sqrt(2)) * float(system.gravity))
    assert math.isclose(
        solvers.small_oscillation_period(system), 2 * math.pi / slow, rel_tol=1e-10
    )
