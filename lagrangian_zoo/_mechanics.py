"""The Euler-Lagrange engine, Hamilton's equations and the Legendre maps.

Everything here takes a plain differentiable scalar function, a Lagrangian `L(q, q_t)` or a
Hamiltonian `H(q, p)` on vectors of shape `(n,)`, and knows nothing of systems or models.
"""

import operator
from collections.abc import Callable
from typing import Any, Literal, SupportsIndex

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Scalar, Shaped

from ._custom_types import (
    Accelerations,
    Coordinates,
    GeneralizedForce,
    Momenta as MomentaArray,
    ScalarFunction,
    Velocities as VelocitiesArray,
)
from ._sparse import (
    colour_tangents,
    decompress_band,
    decompress_periodic_band,
    lu_solve,
    MassGraph,
    periodic_colour_tangents,
    solve_banded_with_pivots,
    solve_graph,
    solve_periodic_banded_with_pivots,
)
from ._validation import positive_int, positive_number


Method = Literal["jvp", "paper"]
_METHODS = ("jvp", "paper")


def _describe(fn: Callable) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return f"`{name}`" if name else f"of type {type(fn).__name__}"


def _as_pair(
    q: ArrayLike, q_t: ArrayLike, names: tuple[str, str] = ("q", "q_t")
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Validates a configuration and its velocities (or momenta) at trace time."""
    a_name, b_name = names
    q, q_t = jnp.asarray(q), jnp.asarray(q_t)
    if q.ndim != 1 or q_t.ndim != 1 or q.shape != q_t.shape:
        hint = (
            " For a batch of states, wrap the function in jax.vmap."
            if q.ndim > 1 or q_t.ndim > 1
            else ""
        )
        raise ValueError(
            f"`{a_name}` and `{b_name}` must both be 1-D arrays of the same shape (n,), got "
            f"{a_name} of shape {q.shape} and {b_name} of shape {q_t.shape}.{hint}"
        )
    for name, value in ((a_name, q), (b_name, q_t)):
        if not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(
                f"`{name}` must be a real floating-point array, got dtype {value.dtype}; "
                f"convert it first, e.g. jnp.asarray({name}, dtype=float)."
            )
    # Mixed precision is resolved explicitly, so that strict dtype promotion never trips here.
    with jax.numpy_dtype_promotion("standard"):
        dtype = jnp.promote_types(q.dtype, q_t.dtype)
    return q.astype(dtype), q_t.astype(dtype)


def _check_callable(fn: object, name: str, signature: str) -> None:
    if not callable(fn):
        raise TypeError(f"`{name}` must be a callable {signature}, got {type(fn).__name__}.")


def _check_scalar(fn: Callable, kind: str, a: Array, b: Array) -> None:
    out = jax.eval_shape(fn, a, b)
    shape = getattr(out, "shape", None)
    if shape != ():
        got = f"shape {shape}" if shape is not None else f"a {type(out).__name__}"
        raise ValueError(
            f"the {kind} {_describe(fn)} must return a scalar (shape ()), but it returned "
            f"{got}. Sum or index it to a scalar, e.g. return jnp.sum(...)."
        )


def _check_force(force: Callable, q: Array, q_t: Array) -> None:
    out = jax.eval_shape(force, q, q_t)
    shape = getattr(out, "shape", None)
    if shape != q.shape:
        raise ValueError(
            f"the generalized force {_describe(force)} must return shape {q.shape} (one "
            f"component per coordinate), but it returned shape {shape}."
        )


_SINGULAR_MESSAGE = (
    "the mass matrix d2L/dq_t2 is singular or non-finite at this state, so the Euler-Lagrange "
    "equation has no unique solution. Check that the Lagrangian depends on every velocity (a "
    "kinetic term){extra}, or use method='paper' for the pseudo-inverse."
)


def _singular(pivots: Float[Array, " m"], scales: Float[Array, " m"], terms: int) -> Array:
    """Whether the pivots of a factorisation show a singular (or non-finite) matrix.

    Each pivot is compared with the largest entry of the column it eliminates (`scales`), not
    with the largest pivot: rounding moves a pivot by a few ulps of the entries it is made of,
    which all lie in its column, and scaling a column scales its pivot and this size alike.
    So a mass matrix `diag(1e-7, 1)` (a light coordinate beside a heavy one) is as regular as
    the identity, in float32 too, while a pivot at or below `terms` ulps of its column (a
    column that is a combination of the others, as in `[[1, 1], [1, 1]]`), a zero column, or
    a non-finite entry counts as singular. `terms` is the number of entries a column holds.
    """
    eps = jnp.finfo(pivots.dtype).eps
    tolerance = terms * eps * scales
    # `~(a > b)` rather than `a <= b`, so that a nan pivot counts as singular.
    return jnp.any(~(jnp.abs(pivots) > tolerance)) | ~jnp.all(jnp.isfinite(scales))


def _solve_checked(
    mass: Float[Array, "n n"], rhs: Float[Array, " n"], checks: bool
) -> Float[Array, " n"]:
    acc, pivots = lu_solve(mass, rhs[:, None])
    acc = acc[:, 0]
    if checks:
        # The LU permutes rows only, so pivot j eliminates column j of `mass`.
        scales = jnp.max(jnp.abs(mass), axis=0)
        singular = _singular(pivots, scales, mass.shape[0])
        acc = eqx.error_if(acc, singular, _SINGULAR_MESSAGE.format(extra=""))
    return acc


def _jvp_terms(
    lagrangian: ScalarFunction,
    q: Array,
    q_t: Array,
    tangents: Float[Array, "k n"],
) -> tuple[Float[Array, " n"], Float[Array, " n"], Float[Array, "k n"]]:
    """`dL/dq`, the mixed term `(d2L/dq dq_t) q_t`, and `(d2L/dq_t2) v` for each tangent `v`.

    One vmapped forward-over-reverse product: the first direction moves `q` along `q_t` (the
    mixed term), the others move `q_t` along `tangents` (columns of the mass matrix). The
    gradient itself is shared by all directions.
    """
    gradients = jax.grad(lagrangian, argnums=(0, 1))
    k, n = tangents.shape
    tangents_q = jnp.concatenate([q_t[None], jnp.zeros((k, n), q.dtype)])
    tangents_qt = jnp.concatenate([jnp.zeros((1, n), q.dtype), tangents])

    def directional(tq, tqt):
        (dL_dq, _), (_, product) = jax.jvp(gradients, (q, q_t), (tq, tqt))
        return dL_dq, product

    # `out_axes=0` rather than `None` for the gradient: a user's Lagrangian may batch its primal
    # (through a custom rule or a data-dependent branch), and row 0 is the same value anyway.
    dL_dq, products = jax.vmap(directional)(tangents_q, tangents_qt)
    return dL_dq[0], products[0], products[1:]


def _acceleration_jvp(lagrangian, q, q_t, rhs_force, checks):
    n = q.shape[0]
    dL_dq, mixed, columns = _jvp_terms(lagrangian, q, q_t, jnp.eye(n, dtype=q.dtype))
    # Hessians are symmetric, but transposing keeps `mass[i, j] = d2L/dq_t_i dq_t_j` exact for
    # Lagrangians whose second derivatives are not evaluated symmetrically in floating point.
    mass = columns.T
    return _solve_checked(mass, dL_dq - mixed + rhs_force, checks)


def solve_mass_band(
    band: Float[Array, "colours n"],
    rhs: Float[Array, " n"],
    bandwidth: int,
    periodic: bool,
    checks: bool,
) -> Float[Array, " n"]:
    """Solves `M q_tt = rhs` for a band-stored mass matrix, refusing a singular one.

    `band[d, i] = M[i, i + d - k]` (mod n when `periodic`, which needs n >= 2k + 2); with
    `checks`, a pivot that is zero against its own column (see `_singular`) or a non-finite
    entry raises the engine's singular-matrix error, also under `jit`.
    """
    if periodic and bandwidth > 0:
        acc, pivots, scales = solve_periodic_banded_with_pivots(band, rhs)
        extra = (
            f" and that mass_bandwidth={bandwidth} (periodic) covers every coupling between "
            "velocities"
        )
    else:
        acc, pivots, scales = solve_banded_with_pivots(band, rhs)
        extra = f" and that mass_bandwidth={bandwidth} covers every coupling between velocities"
    if checks:
        acc = eqx.error_if(
            acc,
            _singular(pivots, scales, 2 * bandwidth + 1) | ~jnp.all(jnp.isfinite(acc)),
            _SINGULAR_MESSAGE.format(extra=extra),
        )
    return acc


def _acceleration_banded(lagrangian, q, q_t, rhs_force, bandwidth, periodic, checks):
    n = q.shape[0]
    tangents = (periodic_colour_tangents if periodic else colour_tangents)(n, bandwidth, q.dtype)
    dL_dq, mixed, compressed = _jvp_terms(lagrangian, q, q_t, tangents)
    band = (decompress_periodic_band if periodic else decompress_band)(compressed, bandwidth)
    return solve_mass_band(band, dL_dq - mixed + rhs_force, bandwidth, periodic, checks)


def _acceleration_graph(lagrangian, q, q_t, rhs_force, graph, checks):
    dL_dq, mixed, compressed = _jvp_terms(lagrangian, q, q_t, graph.tangents(q.dtype))
    values = graph.entries(compressed)
    acc, residual = solve_graph(graph, values, dL_dq - mixed + rhs_force)
    if checks:
        rtol = float(jnp.finfo(q.dtype).eps) ** 0.75
        acc = eqx.error_if(
            acc,
            ~(residual <= 100 * rtol),
            "the conjugate-gradient solve of the graph-sparse mass matrix d2L/dq_t2 did not "
            "converge at this state: the matrix is singular, indefinite or non-finite (CG needs "
            "it symmetric positive definite). Check that the Lagrangian has a kinetic term for "
            "every velocity and that `mass_graph` holds every pair of coupled velocities "
            "(lagrangian_zoo.check_mass_structure tests it), or drop mass_graph for the dense "
            "LU solve.",
        )
    return acc


def _acceleration_paper(lagrangian, q, q_t, rhs_force):
    # The formulation of Cranmer et al. (2020): full Hessians and a pseudo-inverse. Kept for
    # comparison and for Lagrangians whose mass matrix is singular on purpose.
    mass = jax.hessian(lagrangian, argnums=1)(q, q_t)
    mixed = jax.jacobian(jax.jacobian(lagrangian, argnums=1), argnums=0)(q, q_t)
    dL_dq = jax.grad(lagrangian, argnums=0)(q, q_t)
    return jnp.linalg.pinv(mass) @ (dL_dq - mixed @ q_t + rhs_force)


def euler_lagrange(
    lagrangian: ScalarFunction,
    *,
    force: GeneralizedForce | None = None,
    mass_bandwidth: SupportsIndex | None = None,
    mass_periodic: bool = False,
    mass_graph: "MassGraph | ArrayLike | None" = None,
    method: Method = "jvp",
    checks: bool = True,
) -> "EulerLagrange":
    r"""Turns a Lagrangian into its accelerations by the Euler-Lagrange equation.

    Solves
    $$\ddot q = \left(\frac{\partial^2 L}{\partial \dot q^2}\right)^{-1}
    \left[\frac{\partial L}{\partial q} - \frac{\partial^2 L}{\partial q\,\partial \dot q}\dot q
    + Q(q, \dot q)\right]$$
    for any differentiable scalar `L(q, q_t)`: velocity-dependent, relativistic, in any
    coordinates. The mixed term is one Jacobian-vector product, the mass matrix comes from
    forward-over-reverse products, and the solve is an LU factorisation.

    **Arguments:**

    - `lagrangian`: `L(q, q_t) -> scalar`, with `q` and `q_t` of shape `(n,)`.
    - `force`: optional generalized force `Q(q, q_t) -> (n,)` (damping, drive), added to the
        right-hand side.
    - `mass_bandwidth`: if the mass matrix `d2L/dq_t2` is banded with this half-bandwidth `k`
        (local couplings on a chain or grid), it is built from `2k + 1` coloured products and
        solved banded, so the cost is linear in `n`.
    - `mass_periodic`: with `mass_bandwidth=k`, the band wraps around (a ring: coordinate `i`
        couples to `(i ± 1, ..., i ± k) mod n`). The columns are coloured so that no row sees
        two of one colour across the wrap (at most `4k + 1` products, whatever `n`), and the
        band plus its two corner blocks is solved by the Woodbury identity: `2k + 1` banded
        solves and one `2k x 2k` solve, `O(n k^3)`.
    - `mass_graph`: the coupled pairs of velocities as an int array of shape `(E, 2)`, or a
        [`lagrangian_zoo.MassGraph`][] built from one (build it once when `n` is large: the
        colouring runs on the host). A greedy distance-2 colouring gives one product per
        colour (a number set by the graph's degrees, not by `n`), and Jacobi-preconditioned
        conjugate gradients on a segment-sum product solve it, `O(n + E)` per step; the mass
        matrix must be symmetric positive definite (as for every physical kinetic energy),
        and `checks` verifies the residual. Exclusive with `mass_bandwidth`.
    - `method`: `"jvp"` (default) as above; `"paper"` is the formulation of Cranmer et al.:
        full Hessians, a Jacobian of a Jacobian, and a pseudo-inverse.
    - `checks`: if `True`, a singular or non-finite mass matrix raises an error (also under
        `jit`, through `equinox.error_if`). Turn off for speed once a model is known to be safe.

    A declared structure is trusted: a Lagrangian whose velocities couple beyond it gives
    wrong accelerations, not an error. [`lagrangian_zoo.check_mass_structure`][] compares the
    structure against exact columns of the mass matrix at a state.

    **Returns:**

    An [`EulerLagrange`][lagrangian_zoo._mechanics.EulerLagrange] module, called as
    `acc(q, q_t) -> q_tt` of shape `(n,)`, in the dtype of its inputs; it works under
    `jax.jit`, `jax.vmap` and `jax.grad`. It is compiled at its first call and reused by later
    ones (new states, or new parameters of a model whose method is the Lagrangian); build it
    once rather than per call when the Lagrangian is a fresh closure, since a new function is a
    new program.

    !!! example

        ```python
        def lagrangian(q, q_t):  # a pendulum
            return 0.5 * q_t @ q_t + 9.81 * jnp.cos(q[0])

        acc = lz.euler_lagrange(lagrangian)
        acc(jnp.array([0.3]), jnp.array([0.0]))  # -9.81 sin(0.3)
        ```

    ??? cite "Reference"

        The method of Cranmer et al. (2020), *Lagrangian Neural Networks*: BibTeX under
        [`lagrangian_zoo.models.LNN`][].
    """
    if not callable(lagrangian):
        raise TypeError(
            "`lagrangian` must be a callable L(q, q_t) -> scalar, got "
            f"{type(lagrangian).__name__}."
        )
    if force is not None and not callable(force):
        raise TypeError(
            f"`force` must be a callable Q(q, q_t) -> (n,) or None, got {type(force).__name__}."
        )
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}.")
    if mass_bandwidth is not None:
        mass_bandwidth = positive_int(
            "",
            "mass_bandwidth",
            mass_bandwidth,
            minimum=0,
            expected="a non-negative int or None",
            expected_value=">= 0",
        )
        if method == "paper":
            raise ValueError("`mass_bandwidth` cannot be combined with method='paper'.")
    if not isinstance(mass_periodic, (bool, np.bool_)):
        raise TypeError(f"`mass_periodic` must be a bool, got {mass_periodic!r}.")
    if mass_periodic and mass_bandwidth is None:
        raise ValueError(
            "`mass_periodic=True` needs `mass_bandwidth=k`: the half-bandwidth of the band that "
            "wraps around."
        )
    if mass_graph is not None:
        if mass_bandwidth is not None:
            raise ValueError(
                "give either `mass_bandwidth` (a band) or `mass_graph` (coupled pairs), not both."
            )
        if method == "paper":
            raise ValueError("`mass_graph` cannot be combined with method='paper'.")
        if not isinstance(mass_graph, MassGraph):
            mass_graph = MassGraph(mass_graph)

    return EulerLagrange(
        lagrangian,
        force,
        mass_graph,
        mass_bandwidth=mass_bandwidth,
        mass_periodic=bool(mass_periodic),
        method=method,
        checks=bool(checks),
    )


class EulerLagrange(eqx.Module):
    """The accelerations `q_tt(q, q_t)` of a Lagrangian: what [`lagrangian_zoo.euler_lagrange`][]
    returns.

    A pytree: a Lagrangian that is a method of an Equinox module (a model's
    `model.lagrangian`) carries the module's arrays as leaves, so they are inputs of the
    compiled program, not constants baked into it. Calling it compiles once per Lagrangian,
    argument shapes and dtypes; later calls, with new states or new parameters, reuse the
    program. Inside a user's `jit` the call is inlined.
    """

    lagrangian: ScalarFunction
    force: GeneralizedForce | None
    mass_graph: MassGraph | None
    mass_bandwidth: int | None = eqx.field(static=True)
    mass_periodic: bool = eqx.field(static=True)
    method: str = eqx.field(static=True)
    checks: bool = eqx.field(static=True)

    # Arguments are validated (with friendlier messages) by `_as_pair`, hence `ArrayLike`.
    @eqx.filter_jit
    def __call__(self, q: ArrayLike, q_t: ArrayLike) -> Accelerations:
        q, q_t = _as_pair(q, q_t)
        _check_scalar(self.lagrangian, "Lagrangian", q, q_t)
        if self.force is None:
            rhs_force = jnp.zeros_like(q)
        else:
            _check_force(self.force, q, q_t)
            rhs_force = jnp.asarray(self.force(q, q_t)).astype(q.dtype)
        bandwidth, n = self.mass_bandwidth, q.shape[0]
        graph = self.mass_graph
        if graph is not None and graph.size != n:
            raise ValueError(
                f"`mass_graph` has {graph.size} coordinates but `q` has shape ({n},); build the "
                "MassGraph with size=n."
            )
        if self.method == "paper":
            acc = _acceleration_paper(self.lagrangian, q, q_t, rhs_force)
        elif graph is not None:
            acc = _acceleration_graph(self.lagrangian, q, q_t, rhs_force, graph, self.checks)
        elif self.mass_periodic and bandwidth is not None and bandwidth == 0:
            acc = _acceleration_banded(self.lagrangian, q, q_t, rhs_force, 0, False, self.checks)
        elif self.mass_periodic and bandwidth is not None and n >= 2 * bandwidth + 2:
            acc = _acceleration_banded(
                self.lagrangian, q, q_t, rhs_force, bandwidth, True, self.checks
            )
        elif not self.mass_periodic and bandwidth is not None and bandwidth < n - 1:
            acc = _acceleration_banded(
                self.lagrangian, q, q_t, rhs_force, bandwidth, False, self.checks
            )
        else:
            acc = _acceleration_jvp(self.lagrangian, q, q_t, rhs_force, self.checks)
        return acc.astype(q.dtype)


def mass_matrix(lagrangian: ScalarFunction) -> "MassMatrix":
    """The generalized mass matrix `d2L/dq_t2` of a Lagrangian, as a function of `(q, q_t)`.

    **Returns:** a [`MassMatrix`][lagrangian_zoo._mechanics.MassMatrix] module, called as
    `(q, q_t) -> (n, n)` matrix.
    """
    _check_callable(lagrangian, "lagrangian", "L(q, q_t) -> scalar")
    return MassMatrix(lagrangian)


class MassMatrix(eqx.Module):
    """`(q, q_t) -> d2L/dq_t2`: what [`lagrangian_zoo.mass_matrix`][] returns, compiled once
    per Lagrangian and shapes (see `EulerLagrange`)."""

    lagrangian: ScalarFunction

    @eqx.filter_jit
    def __call__(self, q: ArrayLike, q_t: ArrayLike) -> Float[Array, "n n"]:
        q, q_t = _as_pair(q, q_t)
        _check_scalar(self.lagrangian, "Lagrangian", q, q_t)
        return jax.jacfwd(jax.grad(self.lagrangian, argnums=1), argnums=1)(q, q_t)


def _declared_pattern(
    n: int, bandwidth: int | None, periodic: bool, graph: MassGraph | None
) -> np.ndarray:
    """`allowed[i, j]`: whether the declared structure lets `M[i, j]` be non-zero."""
    rows, columns = np.indices((n, n))
    if graph is not None:
        allowed = np.zeros((n, n), dtype=bool)
        allowed[np.asarray(graph.rows), np.asarray(graph.columns)] = True
        return allowed
    distance = np.abs(rows - columns)
    if periodic:
        distance = np.minimum(distance, n - distance)
    return distance <= bandwidth


def check_mass_structure(
    lagrangian: ScalarFunction,
    q: ArrayLike,
    q_t: ArrayLike,
    *,
    mass_bandwidth: SupportsIndex | None = None,
    mass_periodic: bool = False,
    mass_graph: "MassGraph | ArrayLike | None" = None,
    columns: int | ArrayLike = 16,
    rtol: float = 1e-8,
) -> None:
    """Checks at one state that the mass matrix has the structure declared to the engine.

    The structured paths of [`lagrangian_zoo.euler_lagrange`][] trust `mass_bandwidth`,
    `mass_periodic` and `mass_graph`: a Lagrangian that couples velocities further apart mixes
    the coloured products and gives wrong accelerations, silently. This computes exact columns
    of `d2L/dq_t2` (one forward-over-reverse product each) and raises a `ValueError` naming the
    first entry outside the declared structure. Run it eagerly, once, on a typical state (for a
    learned Lagrangian, one with random weights) before a long run.

    **Arguments:**

    - `lagrangian`, `mass_bandwidth`, `mass_periodic`, `mass_graph`: as for
        [`lagrangian_zoo.euler_lagrange`][].
    - `q`, `q_t`: the state, shape `(n,)` each.
    - `columns`: how many columns to check, spread evenly over `0 .. n - 1` (both ends
        included, where the boundary couplings live), or an int array of column indices.
    - `rtol`: an entry counts as a coupling when it exceeds `rtol` times the largest entry of
        the checked columns.

    **Returns:** `None`; raises `ValueError` when the structure does not hold.
    """
    _check_callable(lagrangian, "lagrangian", "L(q, q_t) -> scalar")
    q, q_t = _as_pair(q, q_t)
    n = q.shape[0]
    if mass_graph is not None and not isinstance(mass_graph, MassGraph):
        mass_graph = MassGraph(mass_graph, size=n)
    if (mass_bandwidth is None) == (mass_graph is None):
        raise ValueError("give one declared structure: `mass_bandwidth=k` or `mass_graph=edges`.")
    if mass_graph is not None and mass_graph.size != n:
        raise ValueError(f"`mass_graph` has {mass_graph.size} coordinates, `q` has {n}.")
    bandwidth = None if mass_bandwidth is None else operator.index(mass_bandwidth)
    if isinstance(columns, int):
        picked = np.unique(np.linspace(0, n - 1, min(columns, n)).round().astype(int))
    else:
        picked = np.unique(np.asarray(columns, dtype=int))
        if picked.size == 0 or picked.min() < 0 or picked.max() >= n:
            raise ValueError(f"`columns` must index 0 .. {n - 1}, got {columns!r}.")
    tangents = jnp.zeros((picked.size, n), q.dtype).at[np.arange(picked.size), picked].set(1)
    gradient = jax.grad(lagrangian, argnums=1)

    def column(tangent):
        return jax.jvp(lambda v: gradient(q, v), (q_t,), (tangent,))[1]

    exact = np.asarray(jax.vmap(column)(tangents)).T  # exact[:, c] = M[:, picked[c]]
    allowed = _declared_pattern(n, bandwidth, bool(mass_periodic), mass_graph)[:, picked]
    scale = np.max(np.abs(exact))
    outside = np.where(allowed, 0.0, np.abs(exact))
    if not np.all(np.isfinite(exact)):
        raise ValueError("the mass matrix d2L/dq_t2 is non-finite at this state.")
    if scale > 0 and outside.max() > rtol * scale:
        i, c = np.unravel_index(np.argmax(outside), outside.shape)
        j = int(picked[c])
        if mass_graph is not None:
            declared = f"mass_graph (which has no edge ({i}, {j}))"
            hint = f"Add the edge ({i}, {j}) to the graph"
        else:
            distance = abs(int(i) - j)
            if mass_periodic:
                distance = min(distance, n - distance)
            declared = f"mass_bandwidth={bandwidth}" + (" (periodic)" if mass_periodic else "")
            hint = f"Declare mass_bandwidth={distance} or more"
            if not mass_periodic and min(distance, n - distance) <= bandwidth:
                hint = "The coupling wraps around the ends: declare mass_periodic=True"
        raise ValueError(
            f"the mass matrix d2L/dq_t2 couples velocities {int(i)} and {j} "
            f"(entry {exact[i, c]:.3g}, largest {scale:.3g}), outside the declared {declared}; "
            f"the structured solve would give wrong accelerations. {hint}, or leave the "
            "structure out for the dense solve."
        )


def lagrangian_vector_field(
    lagrangian: ScalarFunction,
    *,
    force: GeneralizedForce | None = None,
    mass_bandwidth: SupportsIndex | None = None,
    mass_periodic: bool = False,
    mass_graph: "MassGraph | ArrayLike | None" = None,
    method: Method = "jvp",
    checks: bool = True,
) -> "LagrangianVectorField":
    """The first-order vector field `f(t, y, args) = [q_t, q_tt]` of a Lagrangian.

    `y = concatenate([q, q_t])`; the signature is Diffrax's, so the result goes straight into
    [`lagrangian_zoo.rollout`][]. Keyword arguments are those of
    [`lagrangian_zoo.euler_lagrange`][].

    **Returns:** a [`LagrangianVectorField`][lagrangian_zoo._mechanics.LagrangianVectorField]
    module: `field(t, y, args) -> dy/dt`, or `field(q, q_t) -> (q_t, q_tt)`, the same two forms as
    [`lagrangian_zoo.hamiltonian_vector_field`][].
    """
    acceleration = euler_lagrange(
        lagrangian,
        force=force,
        mass_bandwidth=mass_bandwidth,
        mass_periodic=mass_periodic,
        mass_graph=mass_graph,
        method=method,
        checks=checks,
    )
    return LagrangianVectorField(acceleration)


class LagrangianVectorField(eqx.Module):
    """The vector field of a Lagrangian: what [`lagrangian_zoo.lagrangian_vector_field`][]
    returns, wrapping an [`EulerLagrange`][lagrangian_zoo._mechanics.EulerLagrange].

    Called with Diffrax's three arguments, `field(t, y, args)` returns `dy/dt = [q_t, q_tt]`
    on `y = [q, q_t]` (for [`lagrangian_zoo.rollout`][]); called with two, `field(q, q_t)`
    returns the pair `(q_t, q_tt)`, as a
    [`HamiltonianVectorField`][lagrangian_zoo._mechanics.HamiltonianVectorField] returns
    `(q_t, p_t)` for `(q, p)`. Both vector fields take both forms.
    """

    acceleration: EulerLagrange

    @eqx.filter_jit
    def __call__(self, *arguments: Any) -> Any:
        if len(arguments) == 3:
            _, y, _ = arguments
            q, q_t = split_state(y)
            return jnp.concatenate([q_t, self.acceleration(q, q_t)])
        if len(arguments) == 2:
            q, q_t = _as_pair(*arguments)
            return q_t, self.acceleration(q, q_t)
        raise TypeError(
            _CALL_FORMS.format(name="a Lagrangian vector field", b="q_t", count=len(arguments))
        )


_CALL_FORMS = (
    "{name} is called as field(t, y, args) (Diffrax's convention, y = [q, {b}]) or "
    "field(q, {b}); got {count} arguments."
)


def split_state(y: ArrayLike) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    """Splits `y = [q, q_t]` (or `[q, p]`) of shape `(2n,)` into its two halves."""
    y = jnp.asarray(y)
    if y.ndim != 1 or y.shape[0] % 2 != 0:
        raise ValueError(
            f"a state `y` must be 1-D of even length 2n (positions then velocities), got shape "
            f"{y.shape}."
        )
    n = y.shape[0] // 2
    return y[:n], y[n:]


def hamiltonian_vector_field(
    hamiltonian: ScalarFunction,
) -> "HamiltonianVectorField":
    r"""Hamilton's equations of a scalar `H(q, p)`.

    $$\dot q = \frac{\partial H}{\partial p}, \qquad \dot p = -\frac{\partial H}{\partial q}.$$

    **Returns:** a
    [`HamiltonianVectorField`][lagrangian_zoo._mechanics.HamiltonianVectorField] module:
    `field(q, p) -> (q_t, p_t)`, each of shape `(n,)`, or `field(t, y, args) -> dy/dt` on
    `y = [q, p]` for [`lagrangian_zoo.rollout`][].
    """
    if not callable(hamiltonian):
        raise TypeError(
            f"`hamiltonian` must be a callable H(q, p) -> scalar, got "
            f"{type(hamiltonian).__name__}."
        )

    return HamiltonianVectorField(hamiltonian)


class HamiltonianVectorField(eqx.Module):
    """Hamilton's equations of a scalar `H(q, p)`: what
    [`lagrangian_zoo.hamiltonian_vector_field`][] returns.

    Called with two arguments, `field(q, p)` returns `(dH/dp, -dH/dq)`; called with Diffrax's
    three, `field(t, y, args)` returns `dy/dt` on `y = [q, p]`, so it goes straight into
    [`lagrangian_zoo.rollout`][], like a
    [`LagrangianVectorField`][lagrangian_zoo._mechanics.LagrangianVectorField]. Compiled once
    per Hamiltonian and shapes; a module's arrays are inputs (see `EulerLagrange`).
    """

    hamiltonian: ScalarFunction

    @eqx.filter_jit
    def __call__(self, *arguments: Any) -> Any:
        if len(arguments) == 3:
            _, y, _ = arguments
            q_t, p_t = self._equations(*split_state(y))
            return jnp.concatenate([q_t, p_t])
        if len(arguments) == 2:
            return self._equations(*arguments)
        raise TypeError(
            _CALL_FORMS.format(name="a Hamiltonian vector field", b="p", count=len(arguments))
        )

    def _equations(self, q: ArrayLike, p: ArrayLike) -> tuple[VelocitiesArray, MomentaArray]:
        q, p = _as_pair(q, p, ("q", "p"))
        _check_scalar(self.hamiltonian, "Hamiltonian", q, p)
        dH_dq, dH_dp = jax.grad(self.hamiltonian, argnums=(0, 1))(q, p)
        return dH_dp, -dH_dq


def momenta(lagrangian: ScalarFunction) -> "Momenta":
    """The canonical momenta `p = dL/dq_t`: the Legendre map from `(q, q_t)` to `(q, p)`.

    **Returns:** a [`Momenta`][lagrangian_zoo._mechanics.Momenta] module, called as
    `(q, q_t) -> p` of shape `(n,)`.
    """
    _check_callable(lagrangian, "lagrangian", "L(q, q_t) -> scalar")
    return Momenta(lagrangian)


class Momenta(eqx.Module):
    """`(q, q_t) -> dL/dq_t`: what [`lagrangian_zoo.momenta`][] returns, compiled once per
    Lagrangian and shapes (see `EulerLagrange`)."""

    lagrangian: ScalarFunction

    @eqx.filter_jit
    def __call__(self, q: ArrayLike, q_t: ArrayLike) -> MomentaArray:
        q, q_t = _as_pair(q, q_t)
        _check_scalar(self.lagrangian, "Lagrangian", q, q_t)
        return jax.grad(self.lagrangian, argnums=1)(q, q_t)


def velocities(
    lagrangian: ScalarFunction, *, max_steps: int = 100, rtol: float | None = None
) -> "Velocities":
    """The inverse Legendre map: velocities `q_t` whose momenta `dL/dq_t` equal `p`.

    Damped Newton iterations on `dL/dq_t(q, q_t) = p`, starting at rest; each step solves with
    the mass matrix and halves itself until the residual is finite and decreases, which keeps
    relativistic Lagrangians inside `|q_t| < c`. For a quadratic kinetic energy one step is exact.
    Derivatives (of any order, with respect to `q`, `p` and anything the Lagrangian closes over)
    come from the implicit function theorem, not from unrolling the iterations.

    **Arguments:**

    - `lagrangian`: `L(q, q_t) -> scalar`.
    - `max_steps`: the most Newton steps.
    - `rtol`: relative tolerance on the momenta; defaults to a few hundred ulps of the dtype.

    **Returns:** a [`Velocities`][lagrangian_zoo._mechanics.Velocities] module, called as
    `(q, p) -> q_t`.
    """
    if not callable(lagrangian):
        raise TypeError(
            "`lagrangian` must be a callable L(q, q_t) -> scalar, got "
            f"{type(lagrangian).__name__}."
        )
    max_steps = positive_int("", "max_steps", max_steps)
    if rtol is not None:
        wording = "a positive number or None"
        positive_number("", "rtol", rtol, expected=wording, expected_value=wording)

    return Velocities(lagrangian, max_steps=max_steps, rtol=rtol)


class Velocities(eqx.Module):
    """`(q, p) -> q_t`: what [`lagrangian_zoo.velocities`][] returns, compiled once per
    Lagrangian and shapes (see `EulerLagrange`)."""

    lagrangian: ScalarFunction
    max_steps: int = eqx.field(static=True)
    rtol: float | None = eqx.field(static=True)

    @eqx.filter_jit
    def __call__(self, q: ArrayLike, p: ArrayLike) -> VelocitiesArray:
        q, p = _as_pair(q, p, ("q", "p"))
        _check_scalar(self.lagrangian, "Lagrangian", q, p)
        tol = (300 * jnp.finfo(q.dtype).eps) if self.rtol is None else self.rtol
        scale = 1 + jnp.max(jnp.abs(p))

        def residual(v):
            return jax.grad(self.lagrangian, argnums=1)(q, v) - p

        def newton(residual_fn, v0):
            mass = jax.jacfwd(residual_fn)

            def residual_norm(v):
                norm = jnp.max(jnp.abs(residual_fn(v)))
                return jnp.where(jnp.isfinite(norm), norm, jnp.inf)

            def cond(carry):
                step, _, norm = carry
                return (step < self.max_steps) & (norm > tol * scale)

            def body(carry):
                step, v, norm = carry
                direction = -jnp.linalg.solve(mass(v), residual_fn(v))

                def halve(c):
                    size, _ = c
                    return size / 2, residual_norm(v + size / 2 * direction)

                def worse(c):
                    size, new_norm = c
                    return (new_norm >= norm) & (size > 1e-6)

                size, new_norm = jax.lax.while_loop(
                    worse, halve, (jnp.ones((), v.dtype), residual_norm(v + direction))
                )
                return step + 1, v + size * direction, new_norm

            _, v, _ = jax.lax.while_loop(cond, body, (0, v0, residual_norm(v0)))
            return v

        def tangent_solve(linear, rhs):
            return jnp.linalg.solve(jax.jacfwd(linear)(rhs), rhs)

        v = jax.lax.custom_root(residual, jnp.zeros_like(p), newton, tangent_solve)
        norm = jnp.max(jnp.abs(residual(v)))
        return eqx.error_if(
            v,
            ~(norm <= 1e3 * tol * scale),
            "the inverse Legendre map did not converge: no velocities found whose momenta "
            "dL/dq_t equal p. Check that the mass matrix d2L/dq_t2 is non-singular and that p "
            "is a momentum the Lagrangian can reach, or raise max_steps.",
        )


def _check_states(y: Any, name: str) -> Array:
    """`y` as a floating-point array of states `(..., 2n)`, or a clear error naming it."""
    y = jnp.asarray(y)
    if not jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError(
            f"`{name}` must be a real floating-point array of states, got dtype {y.dtype}."
        )
    if y.ndim == 0 or y.shape[-1] == 0 or y.shape[-1] % 2:
        raise ValueError(
            f"`{name}` must hold states of shape (..., 2n), two halves of n entries each, got "
            f"shape {y.shape}."
        )
    return y


def to_canonical(
    lagrangian: ScalarFunction,
    y: Shaped[ArrayLike, "*batch two_n"],
    dy: Shaped[ArrayLike, "*batch two_n"] | None = None,
) -> (
    Float[Array, "*batch two_n"]
    | tuple[Float[Array, "*batch two_n"], Float[Array, "*batch two_n"]]
):
    r"""Velocity states `[q, q_t]` as canonical states `[q, p]`, with `p = dL/dq_t`.

    The Legendre map of [`lagrangian_zoo.momenta`][] on every state, for the data and initial
    states of a model that takes canonical states (`model.coordinates == "canonical"`, an
    HNN). Given the time derivatives $(\dot q, \ddot q)$ too, they become $(\dot q, \dot p)$
    by the chain rule along the motion,
    $$\dot p = \frac{\partial p}{\partial q}\,\dot q
    + \frac{\partial p}{\partial \dot q}\,\ddot q,$$
    one Jacobian-vector product per state.

    **Arguments:**

    - `lagrangian`: `L(q, q_t) -> scalar`: a system's or a model's `lagrangian`, or a function
        of your own.
    - `y`: states `[q, q_t]` of shape `(..., 2n)`.
    - `dy`: their time derivatives `[q_t, q_tt]`, of the shape of `y`; optional.

    **Returns:** the states `[q, p]`, of the shape of `y`; with `dy`, the pair
    `([q, p], [q_t, p_t])`.

    !!! example

        ```python
        system = lz.systems.get("double_pendulum")
        y, dy = lz.StateStream(system).sample(jax.random.key(0), 8)
        canonical_y, canonical_dy = lz.to_canonical(system.lagrangian, y, dy)
        ```
    """
    _check_callable(lagrangian, "lagrangian", "L(q, q_t) -> scalar")
    y = _check_states(y, "y")
    momentum = Momenta(lagrangian)
    flat = y.reshape(-1, y.shape[-1])
    if dy is None:

        def one_state(state):
            q, q_t = split_state(state)
            return jnp.concatenate([q, momentum(q, q_t)])

        return jax.vmap(one_state)(flat).reshape(y.shape)
    dy = _check_states(dy, "dy")
    if dy.shape != y.shape:
        raise ValueError(
            f"`dy` must have the shape of `y`, {y.shape}, one derivative per state; got shape "
            f"{dy.shape}."
        )

    def one_pair(state, rate):
        q, q_t = split_state(state)
        _, q_tt = split_state(rate)
        p, p_t = jax.jvp(momentum, (q, q_t), (q_t, q_tt))
        return jnp.concatenate([q, p]), jnp.concatenate([q_t, p_t])

    canonical, rates = jax.vmap(one_pair)(flat, dy.reshape(flat.shape))
    return canonical.reshape(y.shape), rates.reshape(y.shape)


def to_velocity(
    lagrangian: ScalarFunction,
    y: Shaped[ArrayLike, "*batch two_n"],
    *,
    max_steps: int = 100,
    rtol: float | None = None,
) -> Float[Array, "*batch two_n"]:
    r"""Canonical states `[q, p]` as velocity states `[q, q_t]`: the inverse of `to_canonical`.

    The velocities solve $\partial L / \partial \dot q\,(q, \dot q) = p$ by the Newton
    iterations of [`lagrangian_zoo.velocities`][], state by state. A state with a non-finite
    entry (a rollout that failed, run with `checks=False`) comes back as `nan`, never solved
    for, so failed rollouts stay recognisable.

    **Arguments:**

    - `lagrangian`: `L(q, q_t) -> scalar`.
    - `y`: states `[q, p]` of shape `(..., 2n)`.
    - `max_steps`, `rtol`: of the Newton iterations, as for [`lagrangian_zoo.velocities`][].

    **Returns:** the states `[q, q_t]`, of the shape of `y`.
    """
    inverse = velocities(lagrangian, max_steps=max_steps, rtol=rtol)
    y = _check_states(y, "y")
    flat = y.reshape(-1, y.shape[-1])

    def one_state(state):
        q, p = split_state(state)
        return jnp.concatenate([q, inverse(q, p)])

    finite = jnp.all(jnp.isfinite(flat), axis=-1, keepdims=True)
    converted = jax.vmap(one_state)(jnp.where(finite, flat, 0.0))
    return jnp.where(finite, converted, jnp.nan).reshape(y.shape)


def lagrangian_energy(lagrangian: ScalarFunction) -> "LagrangianEnergy":
    r"""The energy function of a Lagrangian, $E = \dot q \cdot \partial L / \partial \dot q - L$.

    Conserved along every solution when `L` does not depend on time.

    **Returns:** a [`LagrangianEnergy`][lagrangian_zoo._mechanics.LagrangianEnergy] module,
    called as `(q, q_t) -> scalar`.
    """

    _check_callable(lagrangian, "lagrangian", "L(q, q_t) -> scalar")
    return LagrangianEnergy(lagrangian)


class LagrangianEnergy(eqx.Module):
    """`(q, q_t) -> q_t . dL/dq_t - L`: what [`lagrangian_zoo.lagrangian_energy`][] returns,
    compiled once per Lagrangian and shapes."""

    lagrangian: ScalarFunction

    @eqx.filter_jit
    def __call__(self, q: ArrayLike, q_t: ArrayLike) -> Scalar:
        q, q_t = _as_pair(q, q_t)
        _check_scalar(self.lagrangian, "Lagrangian", q, q_t)
        value, p = jax.value_and_grad(self.lagrangian, argnums=1)(q, q_t)
        return q_t @ p - value


def hamiltonian_from_lagrangian(
    lagrangian: ScalarFunction, **velocities_kwargs
) -> "HamiltonianFromLagrangian":
    """The Hamiltonian `H(q, p) = p . q_t - L(q, q_t)` with `q_t` from the inverse Legendre map.

    Keyword arguments (`max_steps`, `rtol`) are those of [`lagrangian_zoo.velocities`][].

    **Returns:** a
    [`HamiltonianFromLagrangian`][lagrangian_zoo._mechanics.HamiltonianFromLagrangian]
    module, called as `(q, p) -> scalar`.
    """
    return HamiltonianFromLagrangian(velocities(lagrangian, **velocities_kwargs))


class HamiltonianFromLagrangian(eqx.Module):
    """`(q, p) -> p . q_t - L(q, q_t)` with `q_t` from a
    [`Velocities`][lagrangian_zoo._mechanics.Velocities]: what
    [`lagrangian_zoo.hamiltonian_from_lagrangian`][] returns."""

    velocities: Velocities

    @eqx.filter_jit
    def __call__(self, q: ArrayLike, p: ArrayLike) -> Scalar:
        q_t = self.velocities(q, p)
        return p @ q_t - self.velocities.lagrangian(q, q_t)


def energy_along(
    energy: Callable[[Coordinates, VelocitiesArray], Scalar], ys: Float[ArrayLike, "*batch two_n"]
) -> Float[Array, "*batch"]:
    """Evaluates `energy(q, q_t)` on every state of a (batched) trajectory `ys[..., 2n]`."""
    ys = jnp.asarray(ys)
    flat = ys.reshape(-1, ys.shape[-1])
    values = jax.vmap(lambda y: energy(*split_state(y)))(flat)
    return values.reshape(ys.shape[:-1])


__all__ = [
    "EulerLagrange",
    "HamiltonianVectorField",
    "Velocities",
    "LagrangianEnergy",
    "LagrangianVectorField",
    "HamiltonianFromLagrangian",
    "MassMatrix",
    "Momenta",
    "euler_lagrange",
    "check_mass_structure",
    "mass_matrix",
    "lagrangian_vector_field",
    "hamiltonian_vector_field",
    "momenta",
    "velocities",
    "lagrangian_energy",
    "hamiltonian_from_lagrangian",
    "split_state",
    "energy_along",
    "to_canonical",
    "to_velocity",
]
