"""The figures of the documentation's system and guide pages, drawn with `lagrangian_zoo.plots`.

Run from anywhere (about a minute on a laptop CPU); it writes `docs/figures/<name>.png`:

    python docs/make_figures.py            # every figure
    python docs/make_figures.py kepler     # only the ones named

mkdocs excludes `*.py` under `docs/`, so this script is not part of the site.
"""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np


jax.config.update("jax_enable_x64", True)

import lagrangian_zoo as lz  # noqa: E402 - after float64 is switched on


FIGURES = pathlib.Path(__file__).resolve().parent / "figures"
DPI = 80
TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def save(figure, name: str) -> None:
    path = FIGURES / f"{name}.png"
    figure.savefig(path, dpi=DPI)
    print(f"{path.relative_to(FIGURES.parent.parent)}: {path.stat().st_size // 1024} KB")


def orbits(paths: dict[str, np.ndarray], title: str):
    """Paths in the plane, `label -> (T, 2)` of `(x, y)`, drawn by `plots.phase_portrait`.

    A path `(x, y)` is passed as a state `[q, q_t]` of one coordinate, so the portrait draws
    `y` against `x`; the axes are then relabelled and made equal.
    """
    figure = lz.plots.phase_portrait(paths, title=title)
    axes = figure.axes[0]
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_aspect("equal", adjustable="datalim")
    return figure


def with_gaps(angles: np.ndarray) -> np.ndarray:
    """Angles wrapped to [-pi, pi), with NaN where they jump by a whole turn (a gap in a plot).

    `angles` has time on its last axis.
    """
    wrapped = (angles + np.pi) % (2 * np.pi) - np.pi
    jumps = np.abs(np.diff(wrapped, axis=-1)) > np.pi
    wrapped[..., 1:][jumps] = np.nan
    return wrapped


def falling_ball():
    system = lz.systems.get("falling_ball", dimensions=2)
    ts = jnp.linspace(0.0, 0.8, 41)
    y0 = jnp.array([0.0, 1.0, 1.0, 3.0])  # x, h, x_t, h_t
    ys = lz.rollout(system, y0, ts, **TIGHT)
    t = np.asarray(ts)
    exact = np.stack([t, 1.0 + 3.0 * t - 4.9 * t**2, np.ones_like(t), 3.0 - 9.8 * t], axis=1)
    figure = lz.plots.trajectories(
        ts,
        {"closed form": exact, "lz.rollout": ys},
        coordinates=["x", "h"],
        title="A ball thrown up and sideways (g = 9.8)",
    )
    save(figure, "falling_ball")


def spring():
    system = lz.systems.get("spring")
    ts = jnp.linspace(0.0, jnp.pi, 101)  # one period, omega = 2
    y0 = jax.vmap(system.sample_initial_state)(jax.random.split(jax.random.key(0), 3))
    ys = lz.rollout(system, y0, ts, **TIGHT)
    energies = np.asarray(lz.energy_along(system.energy, ys[:, 0]))
    figure = lz.plots.phase_portrait(
        {f"E = {e:.2f}": y for e, y in zip(energies, np.asarray(ys))},
        title="Spring: three sampled initial states, one period",
    )
    save(figure, "spring")


def pendulum():
    system = lz.systems.get("pendulum")
    ts = jnp.linspace(0.0, 4.0, 401)
    # The separatrix is at q_t = 2 sqrt(g / l) = 4.9 at the bottom.
    speeds = jnp.array([1.0, 3.0, 4.5, 5.5])
    y0 = jnp.stack([jnp.zeros(4), speeds], axis=1)
    ys = np.array(lz.rollout(system, y0, ts, **TIGHT))
    ys[..., 0] = with_gaps(ys[..., 0])
    labels = ["libration", "libration", "near the separatrix", "rotation"]
    figure = lz.plots.phase_portrait(
        {f"{label} (q_t0 = {v:.1f})": y for label, v, y in zip(labels, speeds, ys)},
        title="Pendulum (the HNN paper's: m = 1/2, l = 1, g = 6)",
    )
    save(figure, "pendulum")


def double_pendulum():
    system = lz.systems.get("double_pendulum")
    ts = jnp.linspace(0.0, 15.0, 601)
    y0 = jnp.array([[2.0, 2.5, 0.0, 0.0], [2.0 + 1e-6, 2.5, 0.0, 0.0]])
    ys = lz.rollout(system, y0, ts, solver="dopri8", **TIGHT)
    figure = lz.plots.trajectories(
        ts,
        {"q0 = (2, 2.5)": ys[0], "q1 moved by 1e-6": ys[1]},
        coordinates=["q1", "q2"],
        title="Double pendulum: two starts 1e-6 apart",
    )
    save(figure, "double_pendulum")


def pendulum_chain():
    system = lz.systems.get("pendulum_chain", links=4)
    ts = jnp.linspace(0.0, 10.0, 401)
    y0 = system.sample_initial_state(jax.random.key(1))
    ys = lz.rollout(system, y0, ts, **TIGHT)
    figure = lz.plots.trajectories(
        ts,
        {"4 links, started nearly at rest": ys},
        coordinates=["q1", "q2", "q3", "q4"],
        title="A chain of four pendulums",
    )
    save(figure, "pendulum_chain")


def kepler():
    system = lz.systems.get("kepler")
    y0 = jax.vmap(system.sample_initial_state)(jax.random.split(jax.random.key(2), 3))
    periods = jax.vmap(system.period)(y0[:, :2], y0[:, 2:])
    ts = jnp.linspace(0.0, float(jnp.max(periods)), 401)
    ys = np.asarray(lz.rollout(system, y0, ts, solver="dopri8", **TIGHT))
    eccentricities = jax.vmap(system.runge_lenz)(y0[:, :2], y0[:, 2:])
    paths = {f"e = {float(jnp.linalg.norm(a)):.2f}": y[:, :2] for a, y in zip(eccentricities, ys)}
    save(orbits(paths, "Kepler: three sampled orbits about the origin"), "kepler")


def two_body():
    system = lz.systems.get("two_body")
    y0 = system.sample_initial_state(jax.random.key(3))
    ts = jnp.linspace(0.0, 20.0, 401)
    ys = np.asarray(lz.rollout(system, y0, ts, solver="dopri8", **TIGHT))
    paths = {"body 1": ys[:, 0:2], "body 2": ys[:, 2:4]}
    save(orbits(paths, "Two bodies, t in [0, 20] (the HNN paper's task)"), "two_body")


def three_body():
    system = lz.systems.get("three_body")
    y0 = system.sample_initial_state(jax.random.key(4))
    ts = jnp.linspace(0.0, 10.0, 801)
    ys = np.asarray(lz.rollout(system, y0, ts, solver="dopri8", **TIGHT))
    paths = {f"body {i + 1}": ys[:, 2 * i : 2 * i + 2] for i in range(3)}
    save(orbits(paths, "Three bodies, t in [0, 10]"), "three_body")


def relativistic_particle():
    system = lz.systems.get("relativistic_particle")  # m = c = g = 1, one dimension
    ts = jnp.linspace(0.0, 5.0, 101)
    q0, q_t0 = jnp.array([0.0]), jnp.array([0.0])
    ys = lz.rollout(system, jnp.concatenate([q0, q_t0]), ts, **TIGHT)
    exact = jax.vmap(system.exact_solution, in_axes=(None, None, 0))(q0, q_t0, ts)
    newton = jnp.stack([0.5 * ts**2, ts], axis=1)
    figure = lz.plots.trajectories(
        ts,
        {"exact solution": exact, "lz.rollout": ys, "Newtonian": newton},
        coordinates=["h"],
        velocities=True,
        title="Pushed from rest by a constant force: the speed stays below c = 1",
    )
    figure.axes[1].set_ylim(0.0, 1.5)
    save(figure, "relativistic_particle")


def wave():
    linear = lz.systems.get("wave", points=32)
    stiff = lz.systems.get("wave", points=32, quartic=2.0)
    shapes, _ = linear.modes(2)
    y0 = jnp.concatenate([0.3 * shapes[0] + 0.1 * shapes[1], jnp.zeros(32)])
    ts = jnp.linspace(0.0, 3.0, 301)
    both = {
        "linear (quartic = 0)": lz.rollout(linear, y0, ts, **TIGHT),
        "quartic = 2": lz.rollout(stiff, y0, ts, **TIGHT),
    }
    figure = lz.plots.trajectories(
        ts, both, indices=[7, 15], title="String of 32 points, fixed ends: two of its points"
    )
    save(figure, "wave")


def real_pendulum():
    train, test = lz.real_pendulum_dataset()
    ts = jnp.concatenate([train.ts, test.ts])
    ys = jnp.concatenate([train.y[0], test.y[0]])
    figure = lz.plots.trajectories(
        ts,
        {"measured (Schmidt & Lipson, 2009)": ys},
        coordinates=["theta"],
        velocities=True,
        title="The real pendulum: the whole record",
    )
    for axes in figure.axes:
        axes.axvline(float(test.ts[0]), color="grey", linestyle=":")
    save(figure, "real_pendulum")

    def energy(q, q_t):  # the HNN paper's fit, p = q_t
        return 2.4 * (1 - jnp.cos(q[0])) + q_t[0] ** 2

    figure = lz.plots.energy_over_time(
        ts,
        {"H = 2.4 (1 - cos q) + p^2": lz.energy_along(energy, ys)},
        title="The real pendulum loses energy",
    )
    save(figure, "real_pendulum_energy")


def solvers():
    system = lz.systems.get("pendulum")
    ts = jnp.linspace(0.0, 1000.0, 201)
    y0 = jnp.array([2.5, 0.0])
    energy = system.energy(y0[:1], y0[1:])
    energies = {"exact": jnp.full(ts.shape, energy)}
    for label, options in (
        ("tsit5, rtol = 1e-4", {"solver": "tsit5", "rtol": 1e-4, "atol": 1e-6}),
        ("rk4, dt0 = 0.1", {"solver": "rk4", "dt0": 0.1}),
        ("verlet, dt0 = 0.1", {"solver": "verlet", "dt0": 0.1}),
        ("midpoint, dt0 = 0.1", {"solver": "midpoint", "dt0": 0.1}),
    ):
        energies[label] = lz.energy_along(system.energy, lz.rollout(system, y0, ts, **options))
    figure = lz.plots.energy_over_time(
        ts,
        energies,
        relative_error=True,
        title="Pendulum from q = 2.5 at rest: energy over 1000 time units",
    )
    save(figure, "solvers")


FIGURES_BY_NAME = {
    function.__name__: function
    for function in (
        falling_ball,
        spring,
        pendulum,
        double_pendulum,
        pendulum_chain,
        kepler,
        two_body,
        three_body,
        relativistic_particle,
        wave,
        real_pendulum,
        solvers,
    )
}


# Tutorial pages draw their own figures: their code blocks run here, in order, in a temporary
# folder, and the files they write are copied in: page -> {file written: figure name}.
TUTORIALS = {
    "examples/hnn_spring_pendulum.md": {"spring_phase.png": "tutorial_spring_phase"},
    "examples/relativistic.md": {"relativistic_speeds.png": "tutorial_relativistic_speeds"},
    "examples/real_pendulum.md": {"real_pendulum_energy.png": "tutorial_real_pendulum_energy"},
}


def tutorial(page: str) -> None:
    import os
    import re
    import shutil
    import tempfile

    text = (FIGURES.parent / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            namespace: dict = {"__name__": "__tutorial__"}
            for block in blocks:
                exec(compile(block, page, "exec"), namespace)
            for written, name in TUTORIALS[page].items():
                shutil.copyfile(written, FIGURES / f"{name}.png")
                print(f"docs/figures/{name}.png (from {page})")
        finally:
            os.chdir(here)


FIGURES_BY_NAME.update(
    {pathlib.Path(page).stem: (lambda page=page: tutorial(page)) for page in TUTORIALS}
)


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(FIGURES_BY_NAME))
    if unknown:
        raise SystemExit(f"unknown figure(s) {unknown}; known: {', '.join(FIGURES_BY_NAME)}")
    FIGURES.mkdir(exist_ok=True)
    for name in names or FIGURES_BY_NAME:
        FIGURES_BY_NAME[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
