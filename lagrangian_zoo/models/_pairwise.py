"""Pairwise many-body models: a kinetic energy per body and one learned potential per pair."""

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree, Scalar

from .._mechanics import euler_lagrange, hamiltonian_vector_field, lagrangian_energy
from .._validation import flag, one_of, positive_int
from ._base import (
    AbstractEnergyModel,
    AbstractLagrangianModel,
    check_choice,
    check_dof,
    COORDINATES,
    split_model_state,
)
from ._construction import constructor_config, hidden_mlp, init_network_options
from ._dissipation import RayleighDissipation
from ._normaliser import as_periodic, Normaliser


_FORMS = ("potential", "general")
# Inputs of the potential network: r/l, l/r and log(r/l) for a length scale l.
_DISTANCE_FEATURES = 3
# Inputs of the edge network: the distance features, then the radial relative velocity
# (d . u)/(r s) and the squared relative speed |u|^2/s^2 for a speed scale s.
_EDGE_FEATURES = _DISTANCE_FEATURES + 2

_Model = TypeVar("_Model", bound="AbstractPairwiseModel")


def bodies_of(owner: str, dof: int, dimension: int) -> int:
    """The number of bodies in `dof` coordinates of `dimension` each, refusing a bad layout."""
    check_dof(owner, dof)
    expected = "the int 2 or 3 (the space the bodies move in)"
    one_of(f"{owner}:", "dimension", dimension, (2, 3), expected=expected)
    if dof % dimension:
        raise ValueError(
            f"{owner}: `dof` must be a multiple of `dimension`, since q = (x1, y1, x2, y2, ...) "
            f"holds `dimension` coordinates per body; got dof={dof} and dimension={dimension} "
            f"({dof // dimension} bodies and {dof % dimension} coordinate(s) over)."
        )
    return dof // dimension


def _cartesian(owner: str, dof: int, periodic: Sequence[bool] | None) -> tuple[bool, ...]:
    periodic = as_periodic(dof, periodic)
    if any(periodic):
        raise ValueError(
            f"{owner}: `periodic` must mark no coordinate: the coordinates are the Cartesian "
            f"positions of bodies, not angles; got {list(periodic)!r}."
        )
    return periodic


def _pair_geometry(
    q: Float[Array, " n"], v: Float[Array, " n"], bodies: int, dimension: int
) -> tuple[Float[Array, " pairs"], Float[Array, " pairs"], Float[Array, " pairs"]]:
    """The distance, `d . u` and `|u|^2` of every pair `i < j`, with `d = x_i - x_j` and
    `u = v_i - v_j`: the invariants of a pair under translations, rotations and reflections."""
    # Static index arrays: the pairs are vectorised, not looped over.
    first, second = np.triu_indices(bodies, k=1)
    x = q.reshape(bodies, dimension)
    u = v.reshape(bodies, dimension)
    d = x[first] - x[second]
    w = u[first] - u[second]
    return jnp.sqrt(jnp.sum(d * d, axis=1)), jnp.sum(d * w, axis=1), jnp.sum(w * w, axis=1)


# Compiled once per shape: as separate eager operations, the statistics of a new shape of
# states cost a compilation each.
@functools.partial(jax.jit, static_argnums=(1, 2))
def _pooled_scales(
    states: Float[Array, "N state"], bodies: int, dimension: int
) -> Float[Array, " state"]:
    """The length scale (mean pair distance) for every position and the speed scale (root
    mean square relative velocity) for every velocity; 1 where there is no pair or the
    statistic is zero."""
    n = bodies * dimension
    one = jnp.ones((), states.dtype)
    if bodies < 2:
        length, speed = one, one
    else:
        r, _, speed2 = jax.vmap(lambda y: _pair_geometry(y[:n], y[n:], bodies, dimension))(states)
        tiny = 100 * jnp.finfo(states.dtype).tiny
        length, speed = jnp.mean(r), jnp.sqrt(jnp.mean(speed2))
        length = jnp.where(length > tiny, length, one)
        speed = jnp.where(speed > tiny, speed, one)
    return jnp.concatenate([jnp.full(n, length), jnp.full(n, speed)])


class AbstractPairwiseModel(AbstractEnergyModel):
    r"""A model of bodies that interact in pairs: what `PairwiseLagrangian` and
    `PairwiseHamiltonian` share.

    The state holds the Cartesian positions of `bodies` equal-kind bodies in `dimension`
    dimensions, body after body, $q = (x_1, y_1, x_2, y_2, \dots)$ (as the library's n-body
    systems), then their velocities (or momenta). With $d = x_i - x_j$, $r_{ij} = |d|$, a length
    scale $\ell$ and learned weights $a$, the pair potential is one function of the distance
    shared by every pair,
    $$V_\theta(r) = \mathrm{MLP}_\theta(f) + a \cdot f, \qquad
    f = \big(r/\ell,\ \ell/r,\ \log(r/\ell)\big):$$
    the network sees $r$ near and far on a scale of order one, and the linear part holds a
    $1/r$ (gravity, Coulomb) or a $\log r$ (planar vortices) exactly, however far the bodies
    are from the distances of the training data. The masses are $m_i = e^{s_i}$: one shared
    by all bodies (default) or one per body (`masses_per_body=True`).

    Only distances (and, in the general form, the dot products of relative positions and
    velocities) enter, so the model is invariant to translations, rotations and reflections of
    all bodies by construction, and to relabelling them when the mass is shared; the same
    networks serve any number of bodies (`model.resized(bodies)`).
    `adapt` sets $\ell$ to the mean distance of the pairs in the training states and the
    speed scale $s$ (general form) to the root-mean-square relative speed (of momenta, for a
    Hamiltonian), held in the normaliser as one position scale and one velocity scale that
    depend on no axis and no body.
    """

    potential_network: eqx.AbstractVar[Callable[[Float[Array, " 3"]], Scalar]]
    potential_linear: eqx.AbstractVar[Float[Array, " 3"]]
    edge_network: eqx.AbstractVar[Callable[[Float[Array, " 5"]], Scalar] | None]
    log_mass: eqx.AbstractVar[Float[Array, " masses"]]
    dimension: eqx.AbstractVar[int]
    width: eqx.AbstractVar[int]
    depth: eqx.AbstractVar[int]
    activation: eqx.AbstractVar[str]
    init: eqx.AbstractVar[str]
    form: eqx.AbstractVar[str]
    masses_per_body: eqx.AbstractVar[bool]
    checks: eqx.AbstractVar[bool]
    # The string options of a concrete model beyond the shared ones (the Hamiltonian's
    # `coordinates`), each with its choices: checked on construction (and listed in
    # `config()`, as every argument of the constructor is).
    _options: eqx.AbstractClassVar[tuple[tuple[str, tuple[str, ...]], ...]]

    def _init_shared(
        self,
        dof: int,
        key: PRNGKeyArray,
        dimension: int,
        width: int,
        depth: int,
        activation: str,
        init: str,
        masses_per_body: bool,
        form: str,
        periodic: Sequence[bool] | None,
        checks: bool,
        /,
        **options: str,
    ) -> None:
        """Checks the constructor's arguments and sets the fields both models share (and the
        model's `_options`); called from `__init__` with the shared arguments in the order of
        the constructor's signature."""
        owner = type(self).__name__
        bodies = bodies_of(owner, dof, dimension)
        periodic = _cartesian(owner, dof, periodic)
        for name, choices in self._options:
            check_choice(owner, name, options[name], choices)
        init_network_options(self, dof, width, depth, activation, init)
        check_choice(owner, "form", form, _FORMS)
        flag(f"{owner}:", "masses_per_body", masses_per_body)
        potential_key, edge_key = jax.random.split(key)
        self.potential_network = hidden_mlp(self, _DISTANCE_FEATURES, "scalar", key=potential_key)
        edge_network = None
        if form == "general":
            edge_network = hidden_mlp(self, _EDGE_FEATURES, "scalar", key=edge_key)
            # A zero output layer: the edge term starts at zero, so a new model's mass matrix
            # is the positive diagonal of its masses rather than that plus a random indefinite
            # part.
            last = edge_network.layers[-1]
            edge_network = eqx.tree_at(
                lambda net: (net.layers[-1].weight, net.layers[-1].bias),
                edge_network,
                (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)),
            )
        self.edge_network = edge_network
        # Parameters in the default float dtype (float64 when x64 is on). The linear part
        # starts at zero, so a new potential is the network's alone.
        dtype = jnp.result_type(float)
        self.potential_linear = jnp.zeros(_DISTANCE_FEATURES, dtype)
        self.log_mass = jnp.zeros(bodies if masses_per_body else 1, dtype)
        self.normaliser = Normaliser.identity(periodic)
        self.dimension = dimension
        self.form = form
        self.masses_per_body = masses_per_body
        for name, value in options.items():
            setattr(self, name, value)
        self.checks = bool(checks)

    def __check_init__(self):
        owner = type(self).__name__
        check_choice(owner, "form", self.form, _FORMS)
        for name, choices in self._options:
            check_choice(owner, name, getattr(self, name), choices)

    def config(self) -> dict[str, Any]:
        return constructor_config(self)

    @property
    def bodies(self) -> int:
        """The number of bodies, `dof // dimension`."""
        return self.dof // self.dimension

    @property
    def masses(self) -> Float[Array, " bodies"]:
        """The learned masses $m_i = e^{s_i}$, one per body (a shared mass repeated)."""
        return jnp.broadcast_to(jnp.exp(self.log_mass), (self.bodies,))

    @property
    def length_scale(self) -> Float[Array, ""]:
        r"""The length scale $\ell$ of the distance features (1 until `adapt`)."""
        return self.normaliser.scale[0]

    @property
    def speed_scale(self) -> Float[Array, ""]:
        """The speed (or momentum) scale of the general form's edge features (1 until
        `adapt`)."""
        return self.normaliser.scale[self.dof]

    def pair_potential(self, r: Float[ArrayLike, "*pairs"]) -> Float[Array, "*pairs"]:
        r"""The learned pair potential $V_\theta(r)$ at the distances `r` (any shape).

        **Arguments:**

        - `r`: positive distances, an array of any shape.

        **Returns:** $V_\theta$ at each distance, in the shape of `r`.
        """
        r = jnp.asarray(r)
        if not jnp.issubdtype(r.dtype, jnp.floating):
            raise TypeError(
                f"{type(self).__name__}.pair_potential: `r` must be a floating-point array of "
                f"distances, got dtype {r.dtype}."
            )
        features = self._distance_features(r.reshape(-1))
        values = jax.vmap(self.potential_network)(features) + features @ self.potential_linear
        return values.reshape(r.shape)

    def _distance_features(self, r: Float[Array, " pairs"]) -> Float[Array, "pairs 3"]:
        x = r / self.length_scale.astype(r.dtype)
        return jnp.stack([x, 1 / x, jnp.log(x)], axis=1)

    def _pair_sums(self, q: Array, v: Array) -> tuple[Scalar, Scalar]:
        """The sums over pairs of the potential and of the edge function (zero in the
        potential form)."""
        r, radial, speed2 = _pair_geometry(q, v, self.bodies, self.dimension)
        potential = jnp.sum(self.pair_potential(r))
        if self.edge_network is None:
            return potential, jnp.zeros((), r.dtype)
        s = self.speed_scale.astype(r.dtype)
        features = jnp.concatenate(
            [self._distance_features(r), (radial / (r * s))[:, None], (speed2 / s**2)[:, None]],
            axis=1,
        )
        return potential, jnp.sum(jax.vmap(self.edge_network)(features))

    def _apart(self, q: Array) -> Array:
        """`q`, with an error (also under `jit`) where two bodies coincide, if `checks`."""
        if not self.checks or self.bodies < 2:
            return q
        r, _, _ = _pair_geometry(q, q, self.bodies, self.dimension)
        return eqx.error_if(
            q,
            jnp.any(r == 0),
            f"{type(self).__name__}: two bodies are at the same position, where the pair "
            "potential (a function of r, 1/r and log r) and its force are undefined: a "
            "collision. Check the state; a state of zeros puts every body at the origin.",
        )

    def _check_state(self, q: ArrayLike, v: ArrayLike, name: str) -> tuple[Array, Array]:
        q, v = jnp.asarray(q), jnp.asarray(v)
        n = self.dof
        if q.shape != (n,) or v.shape != (n,):
            raise ValueError(
                f"{type(self).__name__} with dof={n} ({self.bodies} bodies in dimension "
                f"{self.dimension}) expects `q` and `{name}` of shape ({n},), got {q.shape} and "
                f"{v.shape}; use model.resized(bodies) for another number of bodies."
            )
        return q, v

    # One length and one speed, pooled over all pairs, rather than the per-coordinate
    # statistics of `AbstractDynamics.adapt`: the features are scaled alike for every pair,
    # and the scales do not change when the training states are rotated or relabelled.
    def adapt(self: _Model, states: Float[ArrayLike, "*batch state"]) -> _Model:
        """A copy whose normaliser holds the model's length and speed scales from `states`.

        The length scale is the mean distance of the pairs, the speed scale the root mean
        square of their relative velocities (momenta, for a Hamiltonian); with a single body,
        or states where either is zero, it stays 1.

        **Arguments:**

        - `states`: training states of shape `(N, 2n)` (or more leading batch axes).

        **Returns:** the adapted model; the parameters are shared with this one.
        """
        # The normaliser's checks of shape, dtype and emptiness, with their messages, traced
        # rather than run: its own statistics are not needed, and compiling them is not free.
        checked = jax.eval_shape(self.normaliser.adapt, states)
        states = jnp.asarray(states)
        if not isinstance(states, Tracer) and not np.all(np.isfinite(np.asarray(states))):
            raise ValueError("`states` contains non-finite values (nan or inf).")
        flat = states.reshape(-1, 2 * self.dof).astype(checked.mean.dtype)
        scale = _pooled_scales(flat, self.bodies, self.dimension)
        normaliser = Normaliser(
            mean=jnp.zeros_like(scale), scale=scale, periodic=(False,) * self.dof
        )
        return eqx.tree_at(lambda model: model.normaliser, self, normaliser)

    def resized(
        self: _Model, bodies: int, *, masses: ArrayLike | Sequence[float] | None = None
    ) -> _Model:
        """The same pair potential (and edge function) for another number of bodies.

        A shared mass carries over as it is. Per-body masses carry over for the same number of
        bodies; for another number the new bodies' masses must be given.

        **Arguments:**

        - `bodies`: the new number of bodies.
        - `masses`: for a model with `masses_per_body=True`, the `bodies` positive masses of the
            resized model (required when the number of bodies changes); refused otherwise.

        **Returns:** a new model of `bodies * dimension` coordinates that shares this one's
        networks, scales and (shared) mass.
        """
        owner = f"{type(self).__name__}.resized"
        bodies = positive_int(f"{owner}:", "bodies", bodies)
        config = self.config()
        per_body = self.masses_per_body
        log_mass = self.log_mass
        if masses is not None:
            if not per_body:
                raise ValueError(
                    f"{owner}: this model shares one mass among all its bodies, so it takes no "
                    "`masses`; build it with masses_per_body=True for a mass per body."
                )
            values = jnp.asarray(masses, dtype=self.log_mass.dtype)
            if values.shape != (bodies,):
                raise ValueError(
                    f"{owner}: `masses` must have one entry per body, shape ({bodies},), got "
                    f"shape {values.shape}."
                )
            concrete = not isinstance(values, Tracer)
            if concrete and not np.all(np.isfinite(values) & (np.asarray(values) > 0)):
                raise ValueError(
                    f"{owner}: `masses` must be positive and finite, got {np.asarray(values)}."
                )
            log_mass = jnp.log(values)
        elif per_body and bodies != self.bodies:
            raise ValueError(
                f"{owner}: the model learned one mass per body for {self.bodies} bodies, which "
                f"says nothing of the masses of {bodies}; give them: "
                f"model.resized({bodies}, masses=...)."
            )
        config.update(dof=bodies * self.dimension, periodic=None)
        # The structure only (every array is replaced below), without initialising networks.
        fresh = eqx.filter_eval_shape(type(self), **config, key=jax.random.key(0))
        scale = self.normaliser.scale
        normaliser = Normaliser(
            mean=jnp.zeros(2 * fresh.dof, scale.dtype),
            scale=jnp.repeat(scale[jnp.asarray([0, self.dof])], fresh.dof),
            periodic=fresh.periodic,
        )
        fresh = eqx.tree_at(
            lambda model: (
                model.potential_network,
                model.potential_linear,
                model.log_mass,
                model.normaliser,
            ),
            fresh,
            (self.potential_network, self.potential_linear, log_mass, normaliser),
        )
        if self.edge_network is not None:
            fresh = eqx.tree_at(lambda model: model.edge_network, fresh, self.edge_network)
        return fresh


class PairwiseLagrangian(AbstractPairwiseModel, AbstractLagrangianModel):
    r"""A pairwise Lagrangian: a kinetic energy per body and one learned potential per pair.

    In velocity coordinates $y = (q, \dot q)$, with $v_i$ the velocity of body $i$,
    $$L_\theta = \sum_i \tfrac12 m_i |v_i|^2 - \sum_{i<j} V_\theta(r_{ij})
    \;\Big[ + \sum_{i<j} \phi_\theta\big(r_{ij},\ d_{ij} \cdot u_{ij} / r_{ij},\
    |u_{ij}|^2\big) \Big],$$
    where $d_{ij} = x_i - x_j$, $u_{ij} = v_i - v_j$, and the bracket is the general form's
    learned edge function (a Lagrangian graph network's, with scaled inputs; see
    [`lagrangian_zoo.models.AbstractPairwiseModel`][] for $V_\theta$, the masses and the
    scales). The accelerations solve the Euler-Lagrange equation: in the potential form, whose
    mass matrix is the constant diagonal of the masses and whose mixed term vanishes, by one
    gradient, $m_i \ddot x_i = \partial L_\theta / \partial x_i$; in the general form, whose
    edge function couples the velocities of every pair, by the dense solve of
    [`lagrangian_zoo.euler_lagrange`][].

    Use it for $N$ bodies of one kind with central pair forces (gravity, springs, Coulomb
    between like charges); it is invariant to translations, rotations and relabelling of the
    bodies by construction and runs, once trained, on any number of bodies
    (`model.resized(bodies)`). With one potential shared by every pair it cannot tell bodies
    apart: gravity between unequal masses ($V_{ij} \propto m_i m_j$) is outside it.
    A shared mass and the scale of $V_\theta$ are one degree of freedom for the dynamics (only
    $V_\theta / m$ moves the bodies), so the learned mass fixes the energy's unit rather than
    being measured.

    **Arguments:**

    - `dof`: the number of coordinates, `bodies * dimension`.
    - `key`: a `jax.random` key for the initial parameters.
    - `dimension`: 2 (default; the plane, as the two- and three-body systems) or 3.
    - `width`, `depth`: the hidden layers of the potential (and edge) network (64, 2).
    - `activation`: `"softplus"` (default; smooth forces) or another name of
        [`lagrangian_zoo.models.MLP`][].
    - `init`: `"default"` or `"lnn"` (see [`lagrangian_zoo.models.MLP`][]).
    - `masses_per_body`: `False` (default): one mass shared by every body, which keeps the
        model invariant to relabelling the bodies and carries over to any number of them;
        `True`: a mass per body, for bodies of one kind of interaction but unequal inertia.
    - `form`: `"potential"` (default; velocity-independent central forces) or `"general"`,
        which adds the learned edge function $\phi_\theta$ (its output layer starts at zero).
    - `periodic`: accepted for the common interface; every entry must be `False`.
    - `checks`: raise an error (also under `jit`) where two bodies coincide or the mass matrix
        is singular.

    ??? cite "References"

        ```bibtex
        @article{bhattoo2023learning,
          title={Learning the dynamics of particle-based systems with Lagrangian graph neural
                 networks},
          author={Bhattoo, Ravinder and Ranu, Sayan and Krishnan, N. M. Anoop},
          journal={Machine Learning: Science and Technology},
          volume={4},
          number={1},
          pages={015003},
          year={2023}
        }
        ```

        The Lagrangian neural network it builds on, Cranmer et al. (2020): BibTeX under
        [`lagrangian_zoo.models.LNN`][].
    """

    potential_network: Callable[[Float[Array, " 3"]], Scalar]
    potential_linear: Float[Array, " 3"]
    edge_network: Callable[[Float[Array, " 5"]], Scalar] | None
    log_mass: Float[Array, " masses"]
    normaliser: Normaliser
    dissipation_function: RayleighDissipation | None
    dof: int = eqx.field(static=True)
    dimension: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    form: str = eqx.field(static=True)
    masses_per_body: bool = eqx.field(static=True)
    checks: bool = eqx.field(static=True)
    _options: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        dimension: int = 2,
        width: int = 64,
        depth: int = 2,
        activation: str = "softplus",
        init: str = "default",
        masses_per_body: bool = False,
        form: str = "potential",
        periodic: Sequence[bool] | None = None,
        checks: bool = True,
    ):
        shared = (dof, key, dimension, width, depth, activation, init, masses_per_body, form)
        self._init_shared(*shared, periodic, checks)
        self.dissipation_function = None

    def lagrangian(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Lagrangian `L(q, q_t)`, kinetic energy less the pair terms."""
        q, q_t = self._check_state(q, q_t, "q_t")
        masses = jnp.repeat(self.masses, self.dimension).astype(q_t.dtype)
        potential, edges = self._pair_sums(q, q_t)
        return 0.5 * jnp.sum(masses * q_t**2) - potential + edges

    def energy(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        r"""The energy $E = \dot q \cdot \partial L / \partial \dot q - L$ of the learned $L$:
        the kinetic energy plus the pair potentials in the potential form."""
        if self.edge_network is not None:
            return lagrangian_energy(self.lagrangian)(jnp.asarray(q), jnp.asarray(q_t))
        # L is quadratic in the velocities, so E = T + V without differentiating.
        q, q_t = self._check_state(q, q_t, "q_t")
        masses = jnp.repeat(self.masses, self.dimension).astype(q_t.dtype)
        potential, _ = self._pair_sums(q, q_t)
        return 0.5 * jnp.sum(masses * q_t**2) + potential

    def acceleration(
        self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]
    ) -> Float[Array, " n"]:
        """The accelerations `q_tt` of the Euler-Lagrange equation of the learned `L`."""
        q, q_t = self._check_state(q, q_t, "q_t")
        q = self._apart(q)
        if self.edge_network is None:
            # L = T(q_t) - U(q) with T = sum m_i |v_i|^2 / 2: the mass matrix is the constant
            # diagonal of the masses and the mixed term vanishes, so the Euler-Lagrange
            # equation m q_tt = dL/dq is solved exactly by one gradient and a division.
            masses = jnp.repeat(self.masses, self.dimension).astype(q.dtype)
            return jax.grad(self.lagrangian)(q, q_t) / masses
        solve = euler_lagrange(self.lagrangian, checks=self.checks)
        return solve(q, q_t)


class PairwiseHamiltonian(AbstractPairwiseModel):
    r"""A pairwise Hamiltonian: a kinetic energy per body and one learned potential per pair.

    In canonical coordinates $y = (q, p)$, with $p_i$ the momentum of body $i$,
    $$H_\theta = \sum_i \frac{|p_i|^2}{2 m_i} + \sum_{i<j} V_\theta(r_{ij})
    \;\Big[ + \sum_{i<j} \phi_\theta\big(r_{ij},\ d_{ij} \cdot w_{ij} / r_{ij},\
    |w_{ij}|^2\big) \Big],$$
    where $d_{ij} = x_i - x_j$, $w_{ij} = p_i - p_j$, and the bracket is the general form's
    learned edge function (a Hamiltonian graph network's, with scaled inputs; see
    [`lagrangian_zoo.models.AbstractPairwiseModel`][]). The model returns the symplectic
    gradient $(\partial H_\theta / \partial p, -\partial H_\theta / \partial q)$ through
    [`lagrangian_zoo.hamiltonian_vector_field`][], so $H_\theta$ is conserved along its flow.

    As for the [`lagrangian_zoo.models.HNN`][], the second half of the state is read as the
    momenta, and `coordinates` records what the data hold: `"canonical"` $(q, p)$, or
    `"velocity"` $(q, \dot q)$, where the model is right only for unit masses ($p = \dot q$).
    In canonical coordinates $\dot q_i = p_i / m_i$ measures the masses, unlike in the
    Lagrangian's velocity data. Invariances, body count and when to use it are as for
    [`lagrangian_zoo.models.PairwiseLagrangian`][].

    **Arguments:**

    - `dof`: the number of coordinates, `bodies * dimension`.
    - `key`: a `jax.random` key for the initial parameters.
    - `dimension`: 2 (default) or 3.
    - `width`, `depth`: the hidden layers of the potential (and edge) network (64, 2).
    - `activation`: `"softplus"` (default) or another name of [`lagrangian_zoo.models.MLP`][].
    - `init`: `"default"` or `"lnn"`.
    - `masses_per_body`: `False` (default, one shared mass) or `True` (a mass per body).
    - `form`: `"potential"` (default) or `"general"` (adds the edge function $\phi_\theta$).
    - `coordinates`: `"canonical"` (default) or `"velocity"`, as above.
    - `periodic`: accepted for the common interface; every entry must be `False`.
    - `checks`: raise an error (also under `jit`) where two bodies coincide.

    ??? cite "Reference"

        ```bibtex
        @article{sanchezgonzalez2019hamiltonian,
          title={Hamiltonian Graph Networks with ODE Integrators},
          author={Sanchez-Gonzalez, Alvaro and Bapst, Victor and Cranmer, Kyle and
                  Battaglia, Peter},
          journal={arXiv preprint arXiv:1909.12790},
          year={2019}
        }
        ```
    """

    potential_network: Callable[[Float[Array, " 3"]], Scalar]
    potential_linear: Float[Array, " 3"]
    edge_network: Callable[[Float[Array, " 5"]], Scalar] | None
    log_mass: Float[Array, " masses"]
    normaliser: Normaliser
    dof: int = eqx.field(static=True)
    dimension: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    form: str = eqx.field(static=True)
    masses_per_body: bool = eqx.field(static=True)
    coordinates: str = eqx.field(static=True)
    checks: bool = eqx.field(static=True)
    _options: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = (("coordinates", COORDINATES),)

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        dimension: int = 2,
        width: int = 64,
        depth: int = 2,
        activation: str = "softplus",
        init: str = "default",
        masses_per_body: bool = False,
        form: str = "potential",
        coordinates: str = "canonical",
        periodic: Sequence[bool] | None = None,
        checks: bool = True,
    ):
        shared = (dof, key, dimension, width, depth, activation, init, masses_per_body, form)
        self._init_shared(*shared, periodic, checks, coordinates=coordinates)

    def hamiltonian(self, q: Float[ArrayLike, " n"], p: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Hamiltonian `H(q, p)`, kinetic energy plus the pair terms."""
        q, p = self._check_state(q, p, "p")
        masses = jnp.repeat(self.masses, self.dimension).astype(p.dtype)
        potential, edges = self._pair_sums(q, p)
        return 0.5 * jnp.sum(p**2 / masses) + potential + edges

    def energy(self, q: Float[ArrayLike, " n"], p: Float[ArrayLike, " n"]) -> Scalar:
        """The energy of a Hamiltonian model, `H(q, p)`, at the state `[q, p]` it reads."""
        return self.hamiltonian(q, p)

    @eqx.filter_jit
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        del t, args
        q, p = split_model_state(self, y)
        q_t, p_t = hamiltonian_vector_field(self.hamiltonian)(self._apart(q), p)
        return jnp.concatenate([q_t, p_t])
