"""Short windows of trajectories, for training a model by rolling it out (`loss="rollout"`)."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._data import Dataset
from ._rollout import _resolve_solver
from ._source import AbstractFiniteSource, AbstractPredictionSource
from ._validation import positive_int


class RolloutWindows(AbstractPredictionSource, AbstractFiniteSource):
    r"""Every run of `window` consecutive samples of a dataset's trajectories.

    A minibatch is `(y0, target)`: the first state of each window and the whole window. The
    model's prediction is its own rollout from `y0` over the window's times, by `solver`
    (classic RK4 by default) with `substeps` fixed steps per sample interval (so gradients
    flow through the solver cheaply), and the loss compares the two trajectories:
    $$\ell = \frac{1}{B W}\sum_{b, k} \lVert \hat y_b(t_k) - y_b(t_k) \rVert^2 / (2n).$$

    **Arguments:**

    - `dataset`: a [`lagrangian_zoo.Dataset`][] with equally spaced `ts`.
    - `window`: samples per window (at least 2, at most `len(ts)`).
    - `substeps`: solver steps per sample interval.
    - `solver`: a fixed-step solver name of [`lagrangian_zoo.rollout`][] (`"rk4"`,
        `"verlet"`, `"yoshida4"`, `"gl4"`, ...) or a Diffrax solver instance such as
        `lz.GaussLegendre(stages=3)`; it always takes fixed steps here. Gradients flow through
        an explicit solver's steps, and through an implicit one's Newton solves by the
        implicit function theorem.
    """

    y: Float[Array, "trajectories times state"]
    times: Float[Array, " window"]
    window: int = eqx.field(static=True)
    substeps: int = eqx.field(static=True)
    solver: diffrax.AbstractSolver = eqx.field(static=True)

    def __init__(self, dataset, window=5, *, substeps=2, solver="rk4"):
        # Unannotated on purpose: the checks below give users a clearer message than a type
        # checker would.
        if not isinstance(dataset, Dataset):
            raise TypeError(
                "loss='rollout' trains on windows of trajectories: `data` must be a "
                f"lz.Dataset, got {type(dataset).__name__}."
            )
        count = dataset.ts.shape[0]
        expected = f"an int in [2, {count}] (the dataset has {count} times per trajectory)"
        positive_int("", "rollout_window", window, minimum=2, maximum=count, expected=expected)
        positive_int("", "substeps", substeps)
        solver, _ = _resolve_solver(solver)
        ts = np.asarray(dataset.ts)
        gaps = np.diff(ts)
        if not np.allclose(gaps, gaps[0], rtol=1e-6, atol=0):
            raise ValueError(
                "loss='rollout' needs equally spaced `ts` in the dataset; its gaps range from "
                f"{gaps.min():.6g} to {gaps.max():.6g}."
            )
        self.y = dataset.y
        self.times = jnp.asarray(ts[:window] - ts[0], dtype=dataset.y.dtype)
        self.window = window
        self.substeps = substeps
        self.solver = solver

    def _starts(self) -> int:
        return self.y.shape[1] - self.window + 1

    def _window(self, trajectory, start) -> Float[Array, "window state"]:
        return jax.lax.dynamic_slice_in_dim(self.y[trajectory], start, self.window, axis=0)

    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch state"], Float[Array, "batch window state"]]:
        """`batch_size` random windows: their first states and the windows themselves."""
        trajectory_key, start_key = jax.random.split(key)
        trajectories = jax.random.randint(trajectory_key, (batch_size,), 0, self.y.shape[0])
        starts = jax.random.randint(start_key, (batch_size,), 0, self._starts())
        windows = jax.vmap(self._window)(trajectories, starts)
        return windows[:, 0], windows

    def states(self) -> tuple[Float[Array, "rows state"], Float[Array, "rows window state"]]:
        """Every window, as `(first states, windows)`."""
        trajectories, starts = np.meshgrid(
            np.arange(self.y.shape[0]), np.arange(self._starts()), indexing="ij"
        )
        windows = jax.vmap(self._window)(trajectories.ravel(), starts.ravel())
        return windows[:, 0], windows

    def predict(
        self, model, y0: Float[Array, "batch state"]
    ) -> Float[Array, "batch window state"]:
        """The model's rollouts from `y0` over the window's times."""
        dt = self.times[1] / self.substeps
        steps = (self.window - 1) * self.substeps

        def one(state):
            solution = diffrax.diffeqsolve(
                diffrax.ODETerm(model),
                self.solver,
                t0=self.times[0],
                t1=self.times[-1],
                dt0=dt,
                y0=state,
                saveat=diffrax.SaveAt(ts=self.times),
                stepsize_controller=diffrax.ConstantStepSize(),
                max_steps=steps + 2,
            )
            return solution.ys

        return jax.vmap(one)(y0)
