r"""Holonomic constraints on bodies in Cartesian coordinates, and the motion they allow.

Bodies at positions $x \in \mathbb{R}^{n \times d}$ with a constant mass matrix $M$, a force
$f(x) = -\nabla V(x)$ and constraints $\Phi(x) = 0$ move by
$$M \ddot x = f + D\Phi^\top \lambda, \qquad D\Phi\, \ddot x = -(\tfrac{d}{dt} D\Phi)\, \dot x,$$
the second equation being $\ddot \Phi = 0$. Eliminating $\ddot x$ leaves one symmetric
positive-definite system for the multipliers,
$$(D\Phi M^{-1} D\Phi^\top)\, \lambda = -(\tfrac{d}{dt} D\Phi)\, \dot x - D\Phi M^{-1} f.$$
Distance constraints have a closed-form Jacobian, and for a chain the matrix on the left is
tridiagonal, solved in linear time by the banded machinery of `_sparse`.
"""

import abc
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jaxtyping import Array, ArrayLike, Float, Scalar

from ._sparse import solve_banded_with_pivots
from ._validation import one_of, positive_int


_SOLVERS = ("auto", "dense", "banded")

_DEGENERATE_MESSAGE = (
    "the constraint Jacobian DPhi is rank-deficient (or non-finite) at this state, so the "
    "Lagrange multipliers are not unique: two constraints act along the same direction (a "
    "constraint given twice, a closed loop that over-determines the bodies), or two bodies "
    "tied by a distance constraint sit at the same point. Check the constraints and the state "
    "(project_onto_constraints puts a state back on them)."
)


def _degenerate(pivots: Float[Array, " m"], scales: Float[Array, " m"], terms: int) -> Array:
    """Whether the pivots of an elimination show a singular (or non-finite) matrix.

    A pivot is compared with the largest entry of its own column: rounding moves it by a few
    ulps of the entries it is made of, so a pivot at or below `terms` ulps of that size is a
    zero pivot, whatever the scale of the constraint.
    """
    tolerance = terms * jnp.finfo(pivots.dtype).eps * scales
    # `~(a > b)` rather than `a <= b`, so that a nan pivot counts as degenerate.
    return jnp.any(~(jnp.abs(pivots) > tolerance)) | ~jnp.all(jnp.isfinite(scales))


def inverse_mass_times(
    masses: Float[Array, " bodies"] | Float[Array, "bodies bodies"],
    f: Float[Array, "*rows bodies dimension"],
) -> Float[Array, "*rows bodies dimension"]:
    """`M^{-1} f` for per-body masses `(n,)` or a body mass matrix `(n, n)` (the same for
    every axis of space)."""
    masses = masses.astype(f.dtype)
    if masses.ndim == 1:
        return f / masses.reshape((1,) * (f.ndim - 2) + (-1, 1))
    n = masses.shape[0]
    moved = jnp.moveaxis(f, -2, 0)
    factor = jax.scipy.linalg.cho_factor(masses, lower=True)
    solved = jax.scipy.linalg.cho_solve(factor, moved.reshape(n, -1))
    return jnp.moveaxis(solved.reshape(moved.shape), 0, -2)


def _dense_gram_solve(
    jacobian: Float[Array, "constraints bodies dimension"],
    masses: Float[Array, " bodies"] | Float[Array, "bodies bodies"],
    rhs: Float[Array, " constraints"],
    checks: bool,
) -> Float[Array, " constraints"]:
    """Solves `(DPhi M^-1 DPhi^T) lambda = rhs` by a Cholesky factorisation."""
    gram = jnp.einsum("cnd,knd->ck", jacobian, inverse_mass_times(masses, jacobian))
    factor = jnp.linalg.cholesky(gram)
    lower = jax.scipy.linalg.solve_triangular(factor, rhs, lower=True)
    multipliers = jax.scipy.linalg.solve_triangular(factor.T, lower, lower=False)
    if checks:
        # The squared diagonal of the Cholesky factor holds the pivots of the elimination.
        pivots = jnp.diagonal(factor) ** 2
        scales = jnp.max(jnp.abs(gram), axis=0)
        multipliers = eqx.error_if(
            multipliers,
            _degenerate(pivots, scales, gram.shape[0]) | ~jnp.all(jnp.isfinite(multipliers)),
            _DEGENERATE_MESSAGE,
        )
    return multipliers


class AbstractConstraints(eqx.Module):
    r"""Holonomic constraints $\Phi(x) = 0$ on the positions $x$ of `bodies` bodies in
    `dimension` dimensions, of shape `(bodies, dimension)`.

    Subclasses give the constraint values and the products with their Jacobian $D\Phi$ that
    the constrained equations of motion need (see
    [`lagrangian_zoo.constrained_acceleration`][]):

    - `__call__(x)`: $\Phi(x)$, shape `(constraints,)`;
    - `jacobian(x)`: $D\Phi(x)$, shape `(constraints, bodies, dimension)`;
    - `rate(x, v)`: $D\Phi\, v = \tfrac{d}{dt}\Phi$;
    - `reaction(x, multipliers)`: $D\Phi^\top \lambda$, the constraint forces on the bodies;
    - `curvature(x, v)`: $(\tfrac{d}{dt} D\Phi)\, v$, the second derivative of $\Phi$ along
        a straight line through $x$ with velocity $v$;
    - `solve_gram(x, masses, rhs, checks)`: $\lambda$ with
        $D\Phi M^{-1} D\Phi^\top \lambda = \mathrm{rhs}$.
    """

    bodies: eqx.AbstractVar[int]
    dimension: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "bodies dimension"]) -> Float[Array, " constraints"]:
        """The constraint values $\\Phi(x)$, zero on the constraint manifold."""

    @abc.abstractmethod
    def jacobian(
        self, x: Float[Array, "bodies dimension"]
    ) -> Float[Array, "constraints bodies dimension"]:
        """The Jacobian $D\\Phi(x)$ as a dense array."""

    @abc.abstractmethod
    def rate(
        self, x: Float[Array, "bodies dimension"], v: Float[Array, "bodies dimension"]
    ) -> Float[Array, " constraints"]:
        """$D\\Phi(x)\\, v$: the rate of change of $\\Phi$ at velocities $v$."""

    @abc.abstractmethod
    def reaction(
        self, x: Float[Array, "bodies dimension"], multipliers: Float[Array, " constraints"]
    ) -> Float[Array, "bodies dimension"]:
        """$D\\Phi(x)^\\top \\lambda$: the force of the multipliers $\\lambda$ on each body."""

    @abc.abstractmethod
    def curvature(
        self, x: Float[Array, "bodies dimension"], v: Float[Array, "bodies dimension"]
    ) -> Float[Array, " constraints"]:
        """$(\\tfrac{d}{dt} D\\Phi)\\, v = \\tfrac{d^2}{ds^2} \\Phi(x + s v)$ at $s = 0$."""

    @abc.abstractmethod
    def solve_gram(
        self,
        x: Float[Array, "bodies dimension"],
        masses: Float[Array, " bodies"] | Float[Array, "bodies bodies"],
        rhs: Float[Array, " constraints"],
        checks: bool,
    ) -> Float[Array, " constraints"]:
        """Solves $D\\Phi M^{-1} D\\Phi^\\top \\lambda = \\mathrm{rhs}$ for $\\lambda$; with
        `checks`, a rank-deficient $D\\Phi$ raises an error (also under `jit`)."""


def _index_list(owner: str, name: str, values: Any, width: int) -> tuple[tuple[int, ...], ...]:
    """A sequence of `width`-tuples of ints (or of ints, for width 1) as nested tuples."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{owner}: `{name}` must be a sequence, got {type(values).__name__}.")
    out = []
    for entry in values:
        entry = (entry,) if width == 1 and not isinstance(entry, Sequence | np.ndarray) else entry
        try:
            numbers = tuple(entry)
        except TypeError:
            numbers = ()
        if len(numbers) != width or not all(
            isinstance(i, int | np.integer) and not isinstance(i, bool) for i in numbers
        ):
            shape = "a body index" if width == 1 else "a pair of body indices (i, j)"
            raise ValueError(f"{owner}: every entry of `{name}` must be {shape}, got {entry!r}.")
        out.append(tuple(int(i) for i in numbers))
    return tuple(out)


def _plain(values: Any) -> Any:
    """`values` as a NumPy array when it holds no JAX array: the arithmetic of building
    constraints then runs in NumPy rather than as a compiled operation per shape."""
    if isinstance(values, jax.Array):
        return values
    if isinstance(values, (list, tuple)) and any(isinstance(v, jax.Array) for v in values):
        return jnp.asarray(values, dtype=float)
    return np.asarray(values, dtype=float)


def _lengths(owner: str, name: str, values: Any, count: int) -> Any:
    array = _plain(values)
    if array.shape != (count,):
        raise ValueError(
            f"{owner}: `{name}` must hold one length per constraint, shape ({count},), got "
            f"shape {array.shape}."
        )
    if not isinstance(array, Tracer) and not np.all(np.isfinite(array) & (np.asarray(array) > 0)):
        raise ValueError(
            f"{owner}: `{name}` must be positive and finite, got {np.asarray(array)}."
        )
    return array


class DistanceConstraints(AbstractConstraints):
    r"""Rods of fixed length between bodies, and between bodies and fixed points.

    Each constraint ties two points $a$ and $b$ (two bodies, or a body and a fixed anchor
    point) at a distance $\ell$:
    $$\Phi_k(x) = \frac{|x_a - x_b|^2 - \ell_k^2}{2 \ell_k},$$
    which is $|x_a - x_b| - \ell_k$ to first order (a length), smooth everywhere, and whose
    Jacobian rows $\pm (x_a - x_b)/\ell_k$ and curvature $|v_a - v_b|^2 / \ell_k$ are written
    out rather than differentiated. The constraints are numbered anchors first, then edges, in
    the order given; with that order a chain (anchor, then each link to the next) has a
    tridiagonal $D\Phi M^{-1} D\Phi^\top$, and the multipliers cost linear time.

    **Arguments:**

    - `bodies`: the number of bodies $n$.
    - `dimension`: the dimension $d$ of space (2 by default).
    - `edges`: pairs of body indices `(i, j)`, one rod each.
    - `lengths`: the rods' lengths, one per edge.
    - `anchors`: body indices tied to fixed points, one rod each.
    - `points`: the fixed points, shape `(len(anchors), dimension)`; the origin by default.
    - `anchor_lengths`: the lengths of the anchors' rods.
    - `solver`: `"auto"` (default): the banded solve where the constraint graph is banded
        (a chain of four links or more) and the masses are diagonal, else a dense Cholesky
        factorisation; `"dense"` or `"banded"` to choose.

    Build a chain hanging from a pivot with [`lagrangian_zoo.DistanceConstraints.chain`][].
    """

    bodies: int = eqx.field(static=True)
    dimension: int = eqx.field(static=True)
    # Endpoints of every constraint; an index `bodies + a` is the fixed point of anchor `a`.
    first: tuple[int, ...] = eqx.field(static=True)
    second: tuple[int, ...] = eqx.field(static=True)
    lengths: Float[Array, " constraints"]
    points: Float[Array, "anchors dimension"]
    solver: str = eqx.field(static=True)
    bandwidth: int = eqx.field(static=True)

    def __init__(
        self,
        bodies: int,
        *,
        dimension: int = 2,
        edges: Sequence[Sequence[int]] = (),
        lengths: Sequence[float] | ArrayLike = (),
        anchors: Sequence[int] = (),
        points: Sequence[Sequence[float]] | ArrayLike | None = None,
        anchor_lengths: Sequence[float] | ArrayLike = (),
        solver: str = "auto",
    ):
        owner = "DistanceConstraints:"
        bodies = positive_int(owner, "bodies", bodies)
        dimension = positive_int(owner, "dimension", dimension)
        one_of(owner, "solver", solver, _SOLVERS)
        pairs = _index_list(owner[:-1], "edges", edges, 2)
        tied = tuple(i for (i,) in _index_list(owner[:-1], "anchors", anchors, 1))
        for label, indices in (("edges", [i for pair in pairs for i in pair]), ("anchors", tied)):
            bad = [i for i in indices if not 0 <= i < bodies]
            if bad:
                raise ValueError(
                    f"{owner} `{label}` refers to body {bad[0]}, but there are {bodies} bodies "
                    f"(indices 0 to {bodies - 1})."
                )
        loops = [pair for pair in pairs if pair[0] == pair[1]]
        if loops:
            raise ValueError(
                f"{owner} the edge {loops[0]} ties a body to itself; an edge joins two bodies."
            )
        if not pairs and not tied:
            raise ValueError(f"{owner} give at least one constraint (`edges` or `anchors`).")
        edge_lengths = _lengths(owner[:-1], "lengths", lengths, len(pairs))
        tie_lengths = _lengths(owner[:-1], "anchor_lengths", anchor_lengths, len(tied))
        points = _plain(np.zeros((len(tied), dimension)) if points is None else points)
        if points.shape != (len(tied), dimension):
            raise ValueError(
                f"{owner} `points` must have shape (anchors, dimension) = ({len(tied)}, "
                f"{dimension}), got shape {points.shape}."
            )
        self.bodies = bodies
        self.dimension = dimension
        self.first = tied + tuple(i for i, _ in pairs)
        self.second = tuple(bodies + a for a in range(len(tied))) + tuple(j for _, j in pairs)
        if isinstance(tie_lengths, np.ndarray) and isinstance(edge_lengths, np.ndarray):
            self.lengths = jnp.asarray(np.concatenate([tie_lengths, edge_lengths]))
        else:
            self.lengths = jnp.concatenate([tie_lengths, edge_lengths])
        self.points = jnp.asarray(points)
        self.solver = solver
        # The widest gap between two constraints that share a body: the half-bandwidth of
        # DPhi M^-1 DPhi^T for diagonal masses.
        touching: dict[int, list[int]] = {}
        for k, ends in enumerate(zip(self.first, self.second)):
            for end in ends:
                if end < bodies:
                    touching.setdefault(end, []).append(k)
        self.bandwidth = max((max(ks) - min(ks) for ks in touching.values()), default=0)

    @classmethod
    def chain(
        cls,
        lengths: Sequence[float] | ArrayLike,
        *,
        dimension: int = 2,
        pivot: Sequence[float] | ArrayLike | None = None,
        solver: str = "auto",
    ) -> "DistanceConstraints":
        """A chain of bodies hanging from a pivot: body 0 at `lengths[0]` from the pivot, body
        `k` at `lengths[k]` from body `k - 1`.

        **Arguments:**

        - `lengths`: the rods' lengths, top to bottom; one body per length.
        - `dimension`: the dimension of space (2 by default).
        - `pivot`: the fixed point, shape `(dimension,)`; the origin by default.
        - `solver`: as for [`lagrangian_zoo.DistanceConstraints`][].

        **Returns:** the constraints, numbered from the pivot down (a tridiagonal system).
        """
        lengths = _plain(lengths)
        if lengths.ndim != 1 or lengths.shape[0] < 1:
            raise ValueError(
                "DistanceConstraints.chain: `lengths` must be a 1-D sequence of at least one "
                f"length, got shape {lengths.shape}."
            )
        n = lengths.shape[0]
        points = None if pivot is None else _plain(pivot).reshape(1, -1)
        return cls(
            n,
            dimension=dimension,
            edges=[(k - 1, k) for k in range(1, n)],
            lengths=lengths[1:],
            anchors=[0],
            points=points,
            anchor_lengths=lengths[:1],
            solver=solver,
        )

    @property
    def anchors(self) -> int:
        """The number of anchors (constraints to fixed points)."""
        return self.points.shape[0]

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments as plain lists (JSON-able), `bodies` included:
        `DistanceConstraints(**c.config())` rebuilds `c`."""
        if isinstance(self.lengths, Tracer) or isinstance(self.points, Tracer):
            raise ValueError(
                "DistanceConstraints.config: the lengths or points are traced (inside jit); "
                "call config() on concrete constraints."
            )
        a = self.anchors
        lengths = np.asarray(self.lengths).tolist()
        return {
            "bodies": self.bodies,
            "dimension": self.dimension,
            "edges": [[i, j] for i, j in zip(self.first[a:], self.second[a:])],
            "lengths": lengths[a:],
            "anchors": list(self.first[:a]),
            "points": np.asarray(self.points).tolist(),
            "anchor_lengths": lengths[:a],
            "solver": self.solver,
        }

    def _ends(
        self, x: Float[Array, "bodies dimension"], v: Float[Array, "bodies dimension"] | None
    ) -> tuple[Float[Array, "constraints dimension"], Float[Array, "constraints dimension"]]:
        """`x_a - x_b` for every constraint, and the same for the velocities (zero at the
        fixed points)."""
        first, second = np.asarray(self.first), np.asarray(self.second)
        points = self.points.astype(x.dtype)
        extended = jnp.concatenate([x, points])
        d = extended[first] - extended[second]
        if v is None:
            return d, d
        moving = jnp.concatenate([v, jnp.zeros_like(points)])
        return d, moving[first] - moving[second]

    def __call__(self, x: Float[Array, "bodies dimension"]) -> Float[Array, " constraints"]:
        d, _ = self._ends(x, None)
        lengths = self.lengths.astype(x.dtype)
        return (jnp.sum(d * d, axis=1) - lengths**2) / (2 * lengths)

    def jacobian(
        self, x: Float[Array, "bodies dimension"]
    ) -> Float[Array, "constraints bodies dimension"]:
        d, _ = self._ends(x, None)
        rows = d / self.lengths.astype(x.dtype)[:, None]
        count = rows.shape[0]
        k = np.arange(count)
        full = jnp.zeros((count, self.bodies + self.anchors, self.dimension), x.dtype)
        full = (
            full.at[k, np.asarray(self.first)].add(rows).at[k, np.asarray(self.second)].add(-rows)
        )
        return full[:, : self.bodies]

    def rate(
        self, x: Float[Array, "bodies dimension"], v: Float[Array, "bodies dimension"]
    ) -> Float[Array, " constraints"]:
        d, u = self._ends(x, v)
        return jnp.sum(d * u, axis=1) / self.lengths.astype(x.dtype)

    def reaction(
        self, x: Float[Array, "bodies dimension"], multipliers: Float[Array, " constraints"]
    ) -> Float[Array, "bodies dimension"]:
        d, _ = self._ends(x, None)
        rows = d * (multipliers / self.lengths.astype(x.dtype))[:, None]
        out = jnp.zeros((self.bodies + self.anchors, self.dimension), x.dtype)
        out = out.at[np.asarray(self.first)].add(rows).at[np.asarray(self.second)].add(-rows)
        return out[: self.bodies]

    def curvature(
        self, x: Float[Array, "bodies dimension"], v: Float[Array, "bodies dimension"]
    ) -> Float[Array, " constraints"]:
        _, u = self._ends(x, v)
        return jnp.sum(u * u, axis=1) / self.lengths.astype(x.dtype)

    def _banded(self, masses: Array) -> bool:
        if self.solver == "banded":
            if masses.ndim != 1:
                raise ValueError(
                    "DistanceConstraints: solver='banded' needs one mass per body, `masses` of "
                    f"shape ({self.bodies},); got a mass matrix of shape {masses.shape}. Use "
                    "solver='dense' or 'auto' for coupled masses."
                )
            return True
        count = len(self.first)
        return self.solver == "auto" and masses.ndim == 1 and 2 * self.bandwidth + 1 < count

    def _gram_band(
        self, x: Float[Array, "bodies dimension"], masses: Float[Array, " bodies"]
    ) -> Float[Array, "band constraints"]:
        """`DPhi M^-1 DPhi^T` in band storage, `band[o, i] = G[i, i + o - k]`, from the
        bodies that each pair of nearby constraints shares."""
        k, count, n = self.bandwidth, len(self.first), self.bodies
        rows = np.arange(count)[None, :]
        columns = rows + np.arange(2 * k + 1)[:, None] - k
        inside = (columns >= 0) & (columns < count)
        columns = np.clip(columns, 0, count - 1)
        ends = np.stack([np.asarray(self.first), np.asarray(self.second)])
        # A zero inverse mass at index n stands for "no shared body" (and for fixed points).
        inverse = jnp.concatenate([1 / masses.astype(x.dtype), jnp.zeros(1, x.dtype)])
        coefficient = jnp.zeros(columns.shape, x.dtype)
        for s, sign_s in ((0, 1.0), (1, -1.0)):
            for t, sign_t in ((0, 1.0), (1, -1.0)):
                end = ends[s][np.broadcast_to(rows, columns.shape)]
                shared = inside & (end == ends[t][columns]) & (end < n)
                coefficient = coefficient + sign_s * sign_t * inverse[np.where(shared, end, n)]
        d, _ = self._ends(x, None)
        g = d / self.lengths.astype(x.dtype)[:, None]
        dots = jnp.sum(g[np.broadcast_to(rows, columns.shape)] * g[columns], axis=-1)
        return dots * coefficient

    def solve_gram(
        self,
        x: Float[Array, "bodies dimension"],
        masses: Float[Array, " bodies"] | Float[Array, "bodies bodies"],
        rhs: Float[Array, " constraints"],
        checks: bool,
    ) -> Float[Array, " constraints"]:
        if not self._banded(masses):
            return _dense_gram_solve(self.jacobian(x), masses, rhs, checks)
        band = self._gram_band(x, masses)
        multipliers, pivots, scales = solve_banded_with_pivots(band, rhs)
        if checks:
            multipliers = eqx.error_if(
                multipliers,
                _degenerate(pivots, scales, band.shape[0]) | ~jnp.all(jnp.isfinite(multipliers)),
                _DEGENERATE_MESSAGE,
            )
        return multipliers


class FunctionConstraints(AbstractConstraints):
    r"""Any differentiable constraint function $\Phi(x)$, differentiated automatically.

    For constraints that are not distances (a body on a surface, a rolling contact written as
    a holonomic constraint). $D\Phi$ comes from forward-mode differentiation, its products by
    `jax.jvp`/`jax.vjp`, and the curvature from two nested `jax.jvp`s; the multipliers by a
    dense Cholesky solve.

    **Arguments:**

    - `function`: $\Phi$, mapping positions of shape `(bodies, dimension)` to a 1-D array of
        constraint values.
    - `bodies`: the number of bodies $n$.
    - `dimension`: the dimension $d$ of space (2 by default).
    """

    function: Callable[[Float[Array, "bodies dimension"]], Float[Array, " constraints"]]
    bodies: int = eqx.field(static=True)
    dimension: int = eqx.field(static=True)

    def __init__(
        self,
        function: Callable[[Float[Array, "bodies dimension"]], Float[Array, " constraints"]],
        bodies: int,
        *,
        dimension: int = 2,
    ):
        if not callable(function):
            raise TypeError(
                "FunctionConstraints: `function` must be a callable Phi(x) -> (constraints,), "
                f"got {type(function).__name__}."
            )
        self.function = function
        self.bodies = positive_int("FunctionConstraints:", "bodies", bodies)
        self.dimension = positive_int("FunctionConstraints:", "dimension", dimension)

    def __call__(self, x: Float[Array, "bodies dimension"]) -> Float[Array, " constraints"]:
        out = jnp.asarray(self.function(x))
        if out.ndim != 1:
            raise ValueError(
                "FunctionConstraints: the constraint function must return a 1-D array (one "
                f"value per constraint), but it returned shape {out.shape}."
            )
        return out

    def jacobian(
        self, x: Float[Array, "bodies dimension"]
    ) -> Float[Array, "constraints bodies dimension"]:
        return jax.jacfwd(self)(x)

    def rate(
        self, x: Float[Array, "bodies dimension"], v: Float[Array, "bodies dimension"]
    ) -> Float[Array, " constraints"]:
        return jax.jvp(self, (x,), (v,))[1]

    def reaction(
        self, x: Float[Array, "bodies dimension"], multipliers: Float[Array, " constraints"]
    ) -> Float[Array, "bodies dimension"]:
        _, pullback = jax.vjp(self, x)
        return pullback(multipliers)[0]

    def curvature(
        self, x: Float[Array, "bodies dimension"], v: Float[Array, "bodies dimension"]
    ) -> Float[Array, " constraints"]:
        return jax.jvp(lambda y: self.rate(y, v), (x,), (v,))[1]

    def solve_gram(
        self,
        x: Float[Array, "bodies dimension"],
        masses: Float[Array, " bodies"] | Float[Array, "bodies bodies"],
        rhs: Float[Array, " constraints"],
        checks: bool,
    ) -> Float[Array, " constraints"]:
        return _dense_gram_solve(self.jacobian(x), masses, rhs, checks)


# Public entry points ---------------------------------------------------------------------------


def _checked_dynamics_inputs(owner, constraints, x, second, masses, potential, force):
    """The checked constraints, positions, velocities (or momenta), masses and applied force
    of the two constrained equations of motion; `second` is `(name, value)`."""
    constraints = _as_constraints(owner, constraints)
    x = _as_positions(owner, "x", x, constraints)
    y = _as_positions(owner, second[0], second[1], constraints)
    masses = _as_masses(owner, masses, constraints, x.dtype)
    return constraints, x, y, masses, _check_force(owner, x, potential, force)


def _as_constraints(owner: str, constraints: Any) -> AbstractConstraints:
    if isinstance(constraints, AbstractConstraints):
        return constraints
    raise TypeError(
        f"{owner}: `constraints` must be a DistanceConstraints, a FunctionConstraints or "
        f"another AbstractConstraints, got {type(constraints).__name__}; wrap a function "
        "Phi(x) as FunctionConstraints(Phi, bodies, dimension=d)."
    )


def _as_positions(
    owner: str, name: str, value: ArrayLike, constraints: AbstractConstraints
) -> Float[Array, "bodies dimension"]:
    value = jnp.asarray(value)
    shape = (constraints.bodies, constraints.dimension)
    if value.shape != shape:
        raise ValueError(
            f"{owner}: `{name}` must have shape (bodies, dimension) = {shape}, one row per "
            f"body, got shape {value.shape}. For a batch of states, wrap the call in jax.vmap."
        )
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise TypeError(f"{owner}: `{name}` must be a floating-point array, got {value.dtype}.")
    return value


def _as_masses(
    owner: str, masses: ArrayLike, constraints: AbstractConstraints, dtype: Any
) -> Float[Array, " bodies"] | Float[Array, "bodies bodies"]:
    masses = jnp.asarray(masses)
    n = constraints.bodies
    if masses.shape not in ((n,), (n, n)):
        raise ValueError(
            f"{owner}: `masses` must have shape ({n},) (one mass per body) or ({n}, {n}) (a "
            f"body mass matrix), got shape {masses.shape}."
        )
    if not isinstance(masses, Tracer) and masses.ndim == 1:
        values = np.asarray(masses, dtype=float)
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"{owner}: `masses` must be positive and finite, got {values}.")
    return masses


def _check_force(
    owner: str,
    x: Float[Array, "bodies dimension"],
    potential: Callable[[Float[Array, "bodies dimension"]], Scalar] | None,
    force: ArrayLike | None,
) -> Float[Array, "bodies dimension"] | None:
    """Refuses a potential that is not a scalar function and a force of the wrong shape."""
    if potential is not None:
        if not callable(potential):
            raise TypeError(
                f"{owner}: `potential` must be a callable V(x) -> scalar, got "
                f"{type(potential).__name__}."
            )
        shape = jax.eval_shape(potential, x).shape
        if shape != ():
            raise ValueError(
                f"{owner}: the potential must return a scalar (shape ()), but it returned "
                f"shape {shape}."
            )
    if force is None:
        return None
    force = jnp.asarray(force)
    if force.shape != x.shape:
        raise ValueError(
            f"{owner}: `force` must have the shape of the positions {x.shape}, got shape "
            f"{force.shape}."
        )
    return force


def _applied_force(
    x: Float[Array, "bodies dimension"],
    potential: Callable[[Float[Array, "bodies dimension"]], Scalar] | None,
    force: Float[Array, "bodies dimension"] | None,
) -> Float[Array, "bodies dimension"]:
    total = jnp.zeros_like(x)
    if potential is not None:
        total = total - jax.grad(potential)(x)
    if force is not None:
        total = total + force.astype(x.dtype)
    return total


def _acceleration(
    constraints: AbstractConstraints,
    x: Float[Array, "bodies dimension"],
    v: Float[Array, "bodies dimension"],
    masses: Float[Array, " bodies"] | Float[Array, "bodies bodies"],
    force: Float[Array, "bodies dimension"],
    checks: bool,
) -> Float[Array, "bodies dimension"]:
    free = inverse_mass_times(masses, force)
    rhs = -constraints.curvature(x, v) - constraints.rate(x, free)
    multipliers = constraints.solve_gram(x, masses, rhs, checks)
    return free + inverse_mass_times(masses, constraints.reaction(x, multipliers))


# The public functions check their arguments, then run one compiled program per structure of
# constraints and shapes: called eagerly, the many small operations of a solve would each
# dispatch (and compile) on their own; inside `rollout` or `fit` the program is inlined.
@eqx.filter_jit
def _compiled_acceleration(constraints, x, v, masses, potential, force, checks):
    v, masses = v.astype(x.dtype), masses.astype(x.dtype)
    return _acceleration(constraints, x, v, masses, _applied_force(x, potential, force), checks)


@eqx.filter_jit
def _compiled_hamiltonian_field(constraints, x, p, masses, potential, force, checks):
    masses = masses.astype(x.dtype)
    v = inverse_mass_times(masses, p.astype(x.dtype))
    a = _acceleration(constraints, x, v, masses, _applied_force(x, potential, force), checks)
    if masses.ndim == 1:
        return v, a * masses[:, None]
    return v, jnp.einsum("ij,jd->id", masses, a)


@eqx.filter_jit
def _compiled_projection(constraints, x, v, masses, iterations, checks):
    v, masses = v.astype(x.dtype), masses.astype(x.dtype)

    def newton(_, y):
        multipliers = constraints.solve_gram(y, masses, constraints(y), checks)
        return y - inverse_mass_times(masses, constraints.reaction(y, multipliers))

    x = jax.lax.fori_loop(0, iterations, newton, x)
    multipliers = constraints.solve_gram(x, masses, constraints.rate(x, v), checks)
    return x, v - inverse_mass_times(masses, constraints.reaction(x, multipliers))


@eqx.filter_jit
def _compiled_drift(constraints, states):
    def one(y):
        x, v = y[0], y[1]
        return jnp.max(jnp.abs(constraints(x))), jnp.max(jnp.abs(constraints.rate(x, v)))

    return jax.vmap(one)(states)


def constrained_acceleration(
    constraints: AbstractConstraints,
    x: ArrayLike,
    v: ArrayLike,
    masses: ArrayLike,
    *,
    potential: Callable[[Float[Array, "bodies dimension"]], Scalar] | None = None,
    force: ArrayLike | None = None,
    checks: bool = True,
) -> Float[Array, "bodies dimension"]:
    r"""The accelerations of bodies held by holonomic constraints (Lagrange multipliers).

    Solves
    $$M \ddot x = f + D\Phi^\top \lambda, \qquad D\Phi\, \ddot x = -(\tfrac{d}{dt} D\Phi)\,
    \dot x,$$
    with $f = -\nabla V + F$, for $\ddot x$ and the multipliers $\lambda$: one solve with the
    symmetric positive-definite $D\Phi M^{-1} D\Phi^\top$ (banded for chains, see
    [`lagrangian_zoo.DistanceConstraints`][]). The accelerations keep $\ddot \Phi = 0$, so a
    state on the constraints ($\Phi = 0$, $D\Phi\, \dot x = 0$) stays on them up to the
    integrator's error; [`lagrangian_zoo.constraint_drift`][] measures what is left.

    **Arguments:**

    - `constraints`: an [`lagrangian_zoo.AbstractConstraints`][], such as
        [`lagrangian_zoo.DistanceConstraints`][] or [`lagrangian_zoo.FunctionConstraints`][].
    - `x`, `v`: positions and velocities, each of shape `(bodies, dimension)`.
    - `masses`: per-body masses `(bodies,)`, or a constant body mass matrix
        `(bodies, bodies)` acting alike on every axis.
    - `potential`: a differentiable $V(x) \to$ scalar; its force $-\nabla V$ by autodiff.
    - `force`: an applied force $F$ of shape `(bodies, dimension)` (a closed-form
        $-\nabla V$, a drive), added to the potential's.
    - `checks`: raise an error (also under `jit`) where $D\Phi$ is rank-deficient.

    **Returns:** $\ddot x$ of shape `(bodies, dimension)`.

    ??? cite "Reference"

        ```bibtex
        @inproceedings{finzi2020simplifying,
          title={Simplifying Hamiltonian and Lagrangian Neural Networks via Explicit
                 Constraints},
          author={Finzi, Marc and Wang, Ke Alexander and Wilson, Andrew Gordon},
          booktitle={Advances in Neural Information Processing Systems},
          volume={33},
          year={2020}
        }
        ```
    """
    constraints, x, v, masses, force = _checked_dynamics_inputs(
        "constrained_acceleration", constraints, x, ("v", v), masses, potential, force
    )
    return _compiled_acceleration(constraints, x, v, masses, potential, force, checks)


def constrained_hamiltonian_field(
    constraints: AbstractConstraints,
    x: ArrayLike,
    p: ArrayLike,
    masses: ArrayLike,
    *,
    potential: Callable[[Float[Array, "bodies dimension"]], Scalar] | None = None,
    force: ArrayLike | None = None,
    checks: bool = True,
) -> tuple[Float[Array, "bodies dimension"], Float[Array, "bodies dimension"]]:
    r"""Constrained Hamilton's equations for $H = \tfrac12 p^\top M^{-1} p + V(x)$.

    $$\dot x = M^{-1} p, \qquad \dot p = -\nabla V + F + D\Phi^\top \lambda,$$
    with the multipliers of [`lagrangian_zoo.constrained_acceleration`][] at $v = M^{-1} p$
    (the mass matrix is constant, so $\dot p = M \ddot x$).

    **Arguments:** as for [`lagrangian_zoo.constrained_acceleration`][], with the momenta `p`
    of shape `(bodies, dimension)` in place of the velocities.

    **Returns:** `(x_t, p_t)`, each of shape `(bodies, dimension)`.
    """
    constraints, x, p, masses, force = _checked_dynamics_inputs(
        "constrained_hamiltonian_field", constraints, x, ("p", p), masses, potential, force
    )
    return _compiled_hamiltonian_field(constraints, x, p, masses, potential, force, checks)


def project_onto_constraints(
    constraints: AbstractConstraints,
    x: ArrayLike,
    v: ArrayLike,
    masses: ArrayLike | None = None,
    *,
    iterations: int = 10,
    checks: bool = True,
) -> tuple[Float[Array, "bodies dimension"], Float[Array, "bodies dimension"]]:
    r"""The nearest state on the constraints: positions with $\Phi = 0$, velocities with
    $D\Phi\, v = 0$.

    Positions move by Gauss-Newton steps of least (mass-weighted) length,
    $x \leftarrow x - M^{-1} D\Phi^\top (D\Phi M^{-1} D\Phi^\top)^{-1} \Phi(x)$, which
    converge quadratically from a nearby state; then the velocities lose their component
    along the constraint normals, $v \leftarrow v - M^{-1} D\Phi^\top
    (D\Phi M^{-1} D\Phi^\top)^{-1} D\Phi\, v$ (the closest admissible velocity in the
    kinetic-energy norm).

    **Arguments:**

    - `constraints`, `x`, `v`: as for [`lagrangian_zoo.constrained_acceleration`][].
    - `masses`: the metric of the projection, per-body `(bodies,)` or `(bodies, bodies)`;
        unit masses by default.
    - `iterations`: Gauss-Newton steps (10 by default: far more than a state within a
        fraction of a rod length needs).
    - `checks`: raise an error (also under `jit`) where $D\Phi$ is rank-deficient.

    **Returns:** `(x, v)` on the constraints, each of shape `(bodies, dimension)`.
    """
    owner = "project_onto_constraints"
    constraints = _as_constraints(owner, constraints)
    x = _as_positions(owner, "x", x, constraints)
    v = _as_positions(owner, "v", v, constraints)
    iterations = positive_int(f"{owner}:", "iterations", iterations)
    masses = _as_masses(
        owner, np.ones(constraints.bodies) if masses is None else masses, constraints, x.dtype
    )
    return _compiled_projection(constraints, x, v, masses, iterations, checks)


def constraint_drift(
    constraints: AbstractConstraints, ys: Float[ArrayLike, "*batch state"]
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    r"""How far states are off their constraints: $\max_k |\Phi_k(x)|$ and
    $\max_k |(D\Phi\, v)_k|$ for each state.

    For [`lagrangian_zoo.DistanceConstraints`][], $\Phi_k$ is to first order the error of a
    rod's length and $D\Phi\, v$ its rate of stretching, so both read in the units of the
    positions and velocities.

    **Arguments:**

    - `constraints`: the constraints the states should satisfy.
    - `ys`: velocity states `[x, v]` of shape `(..., 2 * bodies * dimension)`, the positions
        body after body (`(x1, y1, x2, y2, ...)`), as a rollout returns them. Convert
        canonical states first ([`lagrangian_zoo.to_velocity`][]).

    **Returns:** `(position_drift, velocity_drift)`, each of shape `ys.shape[:-1]`.
    """
    owner = "constraint_drift"
    constraints = _as_constraints(owner, constraints)
    ys = jnp.asarray(ys)
    n, d = constraints.bodies, constraints.dimension
    if ys.ndim < 1 or ys.shape[-1] != 2 * n * d:
        raise ValueError(
            f"{owner}: `ys` must have shape (..., 2 * bodies * dimension) = (..., {2 * n * d}) "
            f"for {n} bodies in {d} dimensions, got shape {ys.shape}."
        )
    if not jnp.issubdtype(ys.dtype, jnp.floating):
        raise TypeError(f"{owner}: `ys` must be a floating-point array, got {ys.dtype}.")
    position, velocity = _compiled_drift(constraints, ys.reshape(-1, 2, n, d))
    return position.reshape(ys.shape[:-1]), velocity.reshape(ys.shape[:-1])
