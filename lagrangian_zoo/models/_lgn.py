"""Lagrangian graph networks: a learned density on each edge of a grid or graph, summed into L."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray, Scalar

from .._mechanics import euler_lagrange, lagrangian_energy, solve_mass_band
from .._sparse import MassGraph
from .._validation import flag
from ._base import AbstractLagrangianModel, check_choice, check_dof
from ._construction import constructor_config, hidden_mlp, init_network_options
from ._dissipation import RayleighDissipation
from ._mlp import check_size, MLP
from ._normaliser import as_periodic, Normaliser


BOUNDARIES = ("fixed", "free", "periodic")
# Edges per pass of the local derivatives: a block's intermediates stay in the CPU's cache
# (about 1 MB at width 32), where one pass over a whole string of 10^6 points would stream
# gigabytes through memory.
_EDGES_PER_PASS = 1024
# With the mass prior, the densities see velocities at a tenth of their scale, so that their
# share of the mass matrix starts 100 times below their other derivatives and grows only as
# their weights on velocities grow. Seeing them at full scale, training on the wave system
# drove the mass matrix through zero within 40 to 60 steps (shrinking it is the quickest way
# to enlarge every acceleration at once) and the loss jumped by orders of magnitude.
_PRIOR_VELOCITY_SPREAD = 10.0
# The prior's initial mass in scaled units: with Equinox's initialisation the densities'
# slopes are 0.01 to 0.1, which this mass turns into accelerations of about the data's scale
# (a mass of 1 left them ten times smaller, and training slower).
_PRIOR_INITIAL_MASS = 0.1


def grid_edges(n: int, neighbourhood: int, boundary: str) -> tuple[np.ndarray, np.ndarray]:
    """The edges of a 1D grid of `n` points and their lengths `1 .. neighbourhood`.

    Indices refer to the grid padded with `neighbourhood` ghost points at each end for
    `"fixed"` (points `r .. r + n - 1` move, the ghosts stay at rest); to the points themselves
    otherwise. Ghost-to-ghost edges are left out (they do not depend on the state).

    **Returns:** `(edges, lengths)`, NumPy int arrays of shapes `(E, 2)` and `(E,)`.
    """
    r = neighbourhood
    pairs, lengths = [], []
    for d in range(1, r + 1):
        if boundary == "periodic":
            start = np.arange(n)
            pair = np.stack([start, (start + d) % n], axis=1)
        elif boundary == "free":
            start = np.arange(max(n - d, 0))
            pair = np.stack([start, start + d], axis=1)
        else:
            start = np.arange(n + 2 * r - d)
            pair = np.stack([start, start + d], axis=1)
            moving = (pair >= r) & (pair < r + n)
            pair = pair[moving.any(axis=1)]
        pairs.append(pair)
        lengths.append(np.full(len(pair), d))
    return np.concatenate(pairs).reshape(-1, 2), np.concatenate(lengths)


class LGN(AbstractLagrangianModel):
    r"""A Lagrangian graph network: one learned density per edge and per point, summed into L.

    With site features $x_i = (q_i, \dot q_i)$ (scaled by the normaliser; an angle as
    $(\cos q_i, \sin q_i)$),
    $$L_\theta(q, \dot q) = \sum_{(i, j) \in E} \phi_\theta(x_i, x_j, d_{ij}/r)
    + \sum_i \psi_\theta(x_i) + \frac{e^{s}}{2} \sum_i v_i^2,$$
    where $\phi_\theta$ and $\psi_\theta$ are MLPs shared by every edge and every point,
    $d_{ij}$ is the grid distance of an edge, and the last sum, the mass prior, gives every
    point the kinetic energy of a free particle in its scaled velocity
    $v_i = (\dot q_i - \mu_{\dot q}) / s_{\dot q}$, with a learned $s$ (see `mass_prior`).
    On a grid, $E$ joins the points up to
    `neighbourhood` $= r$ apart (plus, for fixed ends, edges to ghost points at rest beyond
    each end); on a graph, $E$ is the user's `edges` (all of length 1). The mass matrix
    $\partial^2 L_\theta / \partial \dot q^2$ is then banded with half-bandwidth $r$ (wrapping
    around for a periodic grid), or has the graph's sparsity. On a grid the accelerations are
    assembled from each edge's and point's own derivatives, a block of edges at a time, and one
    banded solve: the numbers of [`lagrangian_zoo.euler_lagrange`][] with `mass_bandwidth=r`
    (and `mass_periodic`), in time linear in the number of points and memory that stays in
    the cache. A graph uses the engine with `mass_graph`.

    The densities do not depend on the grid size: a model trained on $n$ points runs on any
    other size through `model.resized(m)` (grids only; a graph fixes its points). The
    normaliser holds one mean and scale for positions and one for velocities, pooled over the
    points (`adapt` pools them), so that every point is scaled alike.

    The defaults make training start well and stay stable. The accelerations are
    $s_{\dot q}^2 / s_q$ (set by `adapt`) times those of $L_\theta$ in the scaled
    variables, where the mass matrix is $e^s I$ plus the densities' share. Equinox's
    initialisation keeps that share small, and with the prior the densities see $v_i / 10$,
    which keeps it 100 times smaller still and lets it grow only slowly: so the matrix starts
    well conditioned and training does not drive it through zero. With the LNN paper's
    initialisation and no prior (`init="lnn", mass_prior=False`) it starts indefinite and
    at some states nearly singular, and on the wave system the loss started up to $10^5$
    times that of predicting no acceleration (see the LGN page).

    **Arguments:**

    - `dof`: the number of points $n$.
    - `key`: a `jax.random` key.
    - `neighbourhood`: $r \ge 1$, how far apart two grid points an edge joins.
    - `width`, `depth`: the hidden layers of both MLPs.
    - `activation`: with a non-zero second derivative (`"softplus"` by default).
    - `init`: `"default"` (Equinox's, default) or `"lnn"`, as for
        [`lagrangian_zoo.models.MLP`][].
    - `boundary`: `"fixed"` (default), `"free"` or `"periodic"`, for a grid.
    - `edges`: an int array `(E, 2)` of coupled points for a graph instead of a grid; then
        `neighbourhood` and `boundary` are unused. The mass matrix must be positive definite
        for the graph's conjugate-gradient solve (that of a physical kinetic energy is).
    - `periodic`: `n` bools marking angles; all equal (the density is shared). Default none.
    - `mass_prior`: add the free particles' kinetic energy $\tfrac12 e^s \sum_i v_i^2$ above,
        $e^s$ starting at 0.1, and give the densities the velocities as $v_i / 10$ (default
        `True`); they learn the rest and can cancel the prior, velocity-dependent terms more
        slowly. `False`: $L_\theta$ is the two MLPs' sum, of the velocities $v_i$.
    - `checks`: raise an error (also under `jit`) where the learned mass matrix is singular.

    ??? cite "Reference"

        The Lagrangian graph network of Cranmer et al. (2020), *Lagrangian Neural Networks*:
        BibTeX under [`lagrangian_zoo.models.LNN`][].
    """

    edge_density: MLP
    node_density: MLP
    normaliser: Normaliser
    dissipation_function: RayleighDissipation | None
    graph: MassGraph | None
    edges: Int[Array, "edges 2"] | None
    log_prior_mass: Float[Array, ""] | None
    dof: int = eqx.field(static=True)
    neighbourhood: int = eqx.field(static=True)
    boundary: str = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    checks: bool = eqx.field(static=True)

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        neighbourhood: int = 1,
        width: int = 64,
        depth: int = 2,
        activation: str = "softplus",
        init: str = "default",
        boundary: str = "fixed",
        edges: ArrayLike | Sequence[Sequence[int]] | None = None,
        periodic: Sequence[bool] | None = None,
        mass_prior: bool = True,
        checks: bool = True,
    ):
        check_dof("LGN", dof)
        check_size("LGN", "neighbourhood", neighbourhood)
        init_network_options(self, dof, width, depth, activation, init, curved=True)
        check_choice("LGN", "boundary", boundary, BOUNDARIES)
        flag("LGN:", "mass_prior", mass_prior)
        periodic = as_periodic(dof, periodic)
        if len(set(periodic)) > 1:
            raise ValueError(
                "LGN: `periodic` must mark every point alike (the density is shared by all "
                f"points), got {list(periodic)!r}."
            )
        if boundary == "periodic" and edges is None and dof < 2 * neighbourhood + 1:
            raise ValueError(
                f"LGN: a periodic grid with neighbourhood={neighbourhood} needs dof >= "
                f"{2 * neighbourhood + 1} (edges of distinct points), got dof={dof}."
            )
        if edges is not None:
            self.graph = MassGraph(edges, size=dof)
            self.edges = jnp.asarray(np.asarray(edges, dtype=np.int64).reshape(-1, 2))
        else:
            self.graph = None
            self.edges = None
        self.neighbourhood = neighbourhood
        self.boundary = boundary
        self.checks = bool(checks)
        self.dissipation_function = None
        # In the parameters' default dtype (float64 when x64 is on).
        self.log_prior_mass = (
            jnp.asarray(np.log(_PRIOR_INITIAL_MASS), jnp.result_type(float))
            if mass_prior
            else None
        )
        self.normaliser = Normaliser.identity(periodic)
        site = 3 if periodic[0] else 2
        edge_key, node_key = jax.random.split(key)
        self.edge_density = hidden_mlp(self, 2 * site + 1, "scalar", key=edge_key)
        self.node_density = hidden_mlp(self, site, "scalar", key=node_key)

    def config(self) -> dict[str, Any]:
        return constructor_config(
            self,
            edges=None if self.edges is None else np.asarray(self.edges).tolist(),
            mass_prior=self.log_prior_mass is not None,
        )

    # The density is shared by every point, so the statistics are too: pooled over the points
    # rather than per coordinate as `AbstractDynamics.adapt` would make them.
    def adapt(self, states: Float[ArrayLike, "*batch state"]) -> "LGN":
        r"""A copy whose normaliser holds the position and velocity statistics of `states`,
        pooled over every point (see [`lagrangian_zoo.models.AbstractDynamics.adapt`][]).

        The statistics also set the scale of the accelerations, $s_{\dot q}^2 / s_q$ (the
        velocity scale squared over the position scale): with the prior, an adapted model
        starts with the mass matrix $e^s / s_{\dot q}^2$ at every point and accelerations of
        that scale times the densities' slopes over $e^s$, about those of the data.

        **Arguments:**

        - `states`: training states of shape `(N, 2n)` (or more leading batch axes).

        **Returns:** the adapted model; the parameters are shared with this one.
        """
        per_point = self.normaliser.adapt(states)  # validates shape and values
        states = jnp.asarray(states).reshape(-1, 2 * self.dof).astype(per_point.mean.dtype)
        n = self.dof
        sites = jnp.stack([states[:, :n].reshape(-1), states[:, n:].reshape(-1)], axis=1)
        site = Normaliser.identity(self.periodic[:1]).adapt(sites)
        mean = jnp.repeat(site.mean.astype(per_point.mean.dtype), n)
        scale = jnp.repeat(site.scale.astype(per_point.scale.dtype), n)
        normaliser = Normaliser(mean=mean, scale=scale, periodic=self.periodic)
        return eqx.tree_at(lambda model: model.normaliser, self, normaliser)

    def resized(self, dof: int) -> "LGN":
        """The same densities and statistics on a grid of `dof` points.

        **Returns:** a new LGN sharing this one's parameters.
        """
        if self.edges is not None:
            raise ValueError(
                "LGN: a model on a graph (`edges`) cannot be resized; its points are fixed by "
                "the graph."
            )
        config = self.config()
        config.update(dof=dof, periodic=[self.periodic[0]] * dof if dof > 0 else None)
        fresh = LGN(**config, key=jax.random.key(0))
        n = self.dof
        site_mean, site_scale = self.normaliser.mean[::n], self.normaliser.scale[::n]
        normaliser = Normaliser(
            mean=jnp.repeat(site_mean, dof),
            scale=jnp.repeat(site_scale, dof),
            periodic=fresh.periodic,
        )
        return eqx.tree_at(
            lambda model: (
                model.edge_density,
                model.node_density,
                model.log_prior_mass,
                model.normaliser,
            ),
            fresh,
            (self.edge_density, self.node_density, self.log_prior_mass, normaliser),
            is_leaf=lambda leaf: leaf is None,
        )

    @property
    def _velocity_spread(self) -> float:
        return 1.0 if self.log_prior_mass is None else _PRIOR_VELOCITY_SPREAD

    def _sites(self, q: Array, q_t: Array) -> Float[Array, "n site"]:
        n = self.dof
        mean, scale = self.normaliser.mean, self.normaliser.scale
        velocity = (q_t - mean[n]) / (scale[n] * self._velocity_spread)
        if self.periodic[0]:
            return jnp.stack([jnp.cos(q), jnp.sin(q), velocity], axis=1)
        return jnp.stack([(q - mean[0]) / scale[0], velocity], axis=1)

    def _node_term(self, site: Float[Array, " site"]) -> Scalar:
        """The density of one point, with the prior's kinetic energy of its scaled velocity."""
        value = self.node_density(site)
        if self.log_prior_mass is None:
            return value
        velocity = self._velocity_spread * site[-1]  # the scaled velocity v_i
        return value + 0.5 * jnp.exp(self.log_prior_mass) * velocity**2

    def lagrangian(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Lagrangian: the sum of the edge and point densities (and the prior)."""
        q, q_t = jnp.asarray(q), jnp.asarray(q_t)
        n = self.dof
        if q.shape != (n,) or q_t.shape != (n,):
            raise ValueError(
                f"LGN with dof={n} expects `q` and `q_t` of shape ({n},), got {q.shape} and "
                f"{q_t.shape}; use model.resized(m) for a grid of another size."
            )
        sites = self._sites(q, q_t)
        if self.edges is not None:
            edges = self.edges
            lengths = jnp.ones(edges.shape[0], sites.dtype)
            padded = sites
        else:
            edge_array, length_array = grid_edges(n, self.neighbourhood, self.boundary)
            edges = jnp.asarray(edge_array)
            lengths = jnp.asarray(length_array / self.neighbourhood, sites.dtype)
            padded = sites
            if self.boundary == "fixed":
                r = self.neighbourhood
                ghost = self._sites(jnp.zeros(r, q.dtype), jnp.zeros(r, q.dtype))
                padded = jnp.concatenate([ghost, sites, ghost])
        inputs = jnp.concatenate([padded[edges[:, 0]], padded[edges[:, 1]], lengths[:, None]], 1)
        edge_terms = jax.vmap(self.edge_density)(inputs)
        node_terms = jax.vmap(self._node_term)(sites)
        return jnp.sum(edge_terms) + jnp.sum(node_terms)

    def energy(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        r"""The energy $E = \dot q \cdot \partial L / \partial \dot q - L$ of the learned $L$."""
        return lagrangian_energy(self.lagrangian)(jnp.asarray(q), jnp.asarray(q_t))

    def acceleration(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, " n"]:
        """The accelerations of the learned `L`, by the structured Euler-Lagrange solve.

        On a grid, `L` is a sum of terms that each see two points (an edge) or one, so its
        derivatives are assembled from each term's own: the gradient and two mass-matrix
        columns of a 4-input function per edge, a block of edges at a time, then one banded
        solve. That is the banded path of [`lagrangian_zoo.euler_lagrange`][] (the same
        numbers), in memory that does not grow with the grid. A graph, and a grid too small
        for a band, use the engine itself.
        """
        q, q_t = jnp.asarray(q), jnp.asarray(q_t)
        n, r = self.dof, self.neighbourhood
        banded = self.boundary != "periodic" and r < n - 1
        periodic = self.boundary == "periodic" and n >= 2 * r + 2
        if self.graph is not None or not (banded or periodic):
            return self._engine_acceleration(q, q_t)
        # The lagrangian's own shape check, with its message.
        jax.eval_shape(self.lagrangian, q, q_t)
        dL_dq, mixed, band = self._local_terms(q, q_t)
        return solve_mass_band(band, dL_dq - mixed, r, periodic, self.checks)

    def _engine_acceleration(self, q: Array, q_t: Array) -> Float[Array, " n"]:
        if self.graph is not None:
            solve = euler_lagrange(self.lagrangian, mass_graph=self.graph, checks=self.checks)
        else:
            solve = euler_lagrange(
                self.lagrangian,
                mass_bandwidth=self.neighbourhood,
                mass_periodic=self.boundary == "periodic",
                checks=self.checks,
            )
        return solve(q, q_t)

    def _local_terms(
        self, q: Array, q_t: Array
    ) -> tuple[Float[Array, " n"], Float[Array, " n"], Float[Array, "colours n"]]:
        """`dL/dq`, the mixed term `(d2L/dq_t dq) q_t` and the band of `d2L/dq_t2` on a grid."""
        n, r = self.dof, self.neighbourhood
        edge_array, length_array = grid_edges(n, r, self.boundary)
        ghosts = r if self.boundary == "fixed" else 0
        # Ghost points (fixed ends) are at rest: raw q = q_t = 0, as in `lagrangian`.
        q_all = jnp.pad(q, ghosts)
        q_t_all = jnp.pad(q_t, ghosts)
        first, second = edge_array[:, 0], edge_array[:, 1]
        inputs = jnp.stack([q_all[first], q_t_all[first], q_all[second], q_t_all[second]], 1)
        lengths = jnp.asarray(length_array / r, q.dtype)
        # Unit tangents along each end's velocity: two columns of the edge term's Hessian.
        velocity_tangents = jnp.asarray([[0, 1, 0, 0], [0, 0, 0, 1]], q.dtype)

        def edge_term(x, length):
            sites = self._sites(x[0::2], x[1::2])
            return self.edge_density(jnp.concatenate([sites[0], sites[1], length[None]]))

        def edge_derivatives(args):
            x, length = args
            gradient = jax.grad(edge_term)

            def column(tangent):
                return jax.jvp(lambda x: gradient(x, length), (x,), (tangent,))

            grads, columns = jax.vmap(column)(velocity_tangents)
            return grads[0], columns  # columns[c, i] = d2 phi / dx_i dx_(2c+1)

        grads, columns = jax.lax.map(
            edge_derivatives, (inputs, lengths), batch_size=_EDGES_PER_PASS
        )

        def node_term(x):
            return self._node_term(self._sites(x[:1], x[1:])[0])

        def node_derivatives(x):
            return jax.jvp(jax.grad(node_term), (x,), (jnp.asarray([0, 1], x.dtype),))

        node_inputs = jnp.stack([q, q_t], axis=1)
        node_grads, node_columns = jax.lax.map(
            node_derivatives, node_inputs, batch_size=_EDGES_PER_PASS
        )

        # Ghost ends drop out: their rows and columns are not in the matrix.
        moving = (edge_array >= ghosts) & (edge_array < ghosts + n)
        index = np.where(moving, edge_array - ghosts, n)  # n: a scratch slot, cut off below
        keep = jnp.asarray(moving, q.dtype)
        ends_q_t = inputs[:, 1::2]  # (E, 2): q_t of both ends
        dL_dq = jnp.zeros(n + 1, q.dtype).at[index.ravel()].add((grads[:, 0::2] * keep).ravel())
        # Row of end c: sum over both ends e of d2 phi / dq_t(c) dq(e) * q_t(e).
        mixed_rows = jnp.einsum("kce,ke->kc", columns[:, :, 0::2], ends_q_t)
        mixed = jnp.zeros(n + 1, q.dtype).at[index.ravel()].add((mixed_rows * keep).ravel())
        dL_dq = dL_dq[:n] + node_grads[:, 0]
        mixed = mixed[:n] + node_columns[:, 0] * q_t

        # band[d, i] = M[i, i + d - r]: the two ends' own entries on the diagonal (d = r), and
        # M[a, b] at d = r + (b - a), M[b, a] at d = r - (b - a), wrapped on a ring.
        offset = np.asarray(index[:, 1] - index[:, 0])
        if self.boundary == "periodic":
            offset = (offset + r) % n - r
        both = keep[:, 0] * keep[:, 1]
        colours = 2 * r + 1
        flat = jnp.zeros(colours * (n + 1), q.dtype)
        flat = flat.at[r * (n + 1) + index[:, 0]].add(columns[:, 0, 1] * keep[:, 0])
        flat = flat.at[r * (n + 1) + index[:, 1]].add(columns[:, 1, 3] * keep[:, 1])
        flat = flat.at[(r + offset) * (n + 1) + index[:, 0]].add(columns[:, 1, 1] * both)
        flat = flat.at[(r - offset) * (n + 1) + index[:, 1]].add(columns[:, 0, 3] * both)
        band = flat.reshape(colours, n + 1)[:, :n]
        band = band.at[r].add(node_columns[:, 1])
        return dL_dq, mixed, band
