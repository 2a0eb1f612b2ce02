"""Constrained Lagrangian and Hamiltonian networks: bodies in Cartesian coordinates, a learned
potential and masses, and known distance constraints enforced by Lagrange multipliers."""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree, Scalar

from .._constraints import _acceleration, DistanceConstraints, inverse_mass_times
from .._validation import one_of, positive_int
from ._base import AbstractEnergyModel, check_choice, check_dof, COORDINATES, split_model_state
from ._mlp import check_activation, check_init, check_size, MLP
from ._normaliser import as_periodic, Normaliser


def _freeze(value: Any) -> Any:
    """A JSON-like value (dicts, lists, numbers) as nested tuples: hashable, for a static
    field."""
    if isinstance(value, Mapping):
        return tuple((key, _freeze(value[key])) for key in sorted(value))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(entry) for entry in value)
    return value


def _thaw(value: Any, mapping: bool = True) -> Any:
    """The inverse of `_freeze` for the constraints' configuration: a dict of lists."""
    if mapping:
        return {key: _thaw(entry, mapping=False) for key, entry in value}
    if isinstance(value, tuple):
        return [_thaw(entry, mapping=False) for entry in value]
    return value


POTENTIALS = ("full", "shared")


class BodyJointPotential(eqx.Module):
    r"""A potential of bodies joined by rods: one learned term per body and one per joint,
    the same two networks for every body and every joint,
    $$V_\theta(x) = \sum_i U_\theta(x_i) + \sum_{(a, b)} W_\theta(x_b - x_a),$$
    the second sum over the constraints: an edge $(a, b)$ between two bodies, or a body $b$
    tied to a fixed point $a$. It is defined for any number of bodies, so a model trained on
    one chain runs on a longer one; it assumes bodies alike and joints alike (gravity on equal
    masses, the same spring in every joint).
    """

    body: MLP
    joint: MLP

    def __init__(
        self,
        dimension: int,
        *,
        width: int,
        depth: int,
        activation: str,
        init: str,
        key: PRNGKeyArray,
    ):
        body_key, joint_key = jax.random.split(key)
        hidden = (width,) * depth
        self.body = MLP(
            dimension, "scalar", hidden, activation=activation, init=init, key=body_key
        )
        self.joint = MLP(
            dimension, "scalar", hidden, activation=activation, init=init, key=joint_key
        )

    def __call__(
        self, x: Float[Array, "bodies dimension"], constraints: DistanceConstraints
    ) -> Scalar:
        """The potential of positions `x` joined by `constraints`."""
        bodies = x.shape[0]
        ends = jnp.concatenate([x, constraints.points.astype(x.dtype)])
        first, second = np.asarray(constraints.first), np.asarray(constraints.second)
        # A fixed point is a constraint's second end: its relative position is taken from the
        # fixed point to the body, as an edge's from its first body to its second (down a
        # chain, each joint's term sees the lower end from the upper one).
        anchored = second >= bodies
        start = np.where(anchored, second, first)
        end = np.where(anchored, first, second)
        relative = ends[end] - ends[start]
        return jnp.sum(jax.vmap(self.body)(x)) + jnp.sum(jax.vmap(self.joint)(relative))


class AbstractConstrainedModel(AbstractEnergyModel):
    r"""What [`lagrangian_zoo.models.CLNN`][] and [`lagrangian_zoo.models.CHNN`][] share.

    The state holds the Cartesian positions of `bodies` bodies in `dimension` dimensions, body
    after body, $x = (x_1, y_1, x_2, y_2, \dots)$, then their velocities (or momenta). The
    model learns a potential $V_\theta(x)$, a network of all the (normalised) positions as in
    Finzi, Wang and Wilson (2020), and the masses $m_i = e^{s_i}$ of the bodies (or takes them
    as given), so that the mass matrix is the constant diagonal of the masses. The joints are
    not learned: they are known [`lagrangian_zoo.DistanceConstraints`][], enforced by Lagrange
    multipliers ([`lagrangian_zoo.constrained_acceleration`][]), so the model moves on the
    constraint manifold whatever its parameters.
    """

    potential_network: eqx.AbstractVar[MLP | BodyJointPotential]
    log_mass: eqx.AbstractVar[Float[Array, " bodies"] | Float[Array, ""] | None]
    potential_kind: eqx.AbstractVar[str]
    given_masses: eqx.AbstractVar[tuple[float, ...] | None]
    constraint_config: eqx.AbstractVar[tuple]
    dimension: eqx.AbstractVar[int]
    width: eqx.AbstractVar[int]
    depth: eqx.AbstractVar[int]
    activation: eqx.AbstractVar[str]
    init: eqx.AbstractVar[str]
    checks: eqx.AbstractVar[bool]

    def _init_shared(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        dimension: int,
        constraints: DistanceConstraints | Mapping[str, Any] | None,
        masses: Sequence[float] | None,
        width: int,
        depth: int,
        activation: str,
        init: str,
        periodic: Sequence[bool] | None,
        checks: bool,
        potential: str,
    ) -> None:
        """Checks the constructor's arguments and sets the fields both models share."""
        owner = type(self).__name__
        check_dof(owner, dof)
        periodic = as_periodic(dof, periodic)
        if any(periodic):
            raise ValueError(
                f"{owner}: `periodic` must mark no coordinate: the coordinates are the "
                f"Cartesian positions of bodies, not angles; got {list(periodic)!r}."
            )
        dimension = positive_int(f"{owner}:", "dimension", dimension)
        if dof % dimension:
            raise ValueError(
                f"{owner}: `dof` must be a multiple of `dimension`, since x = (x1, y1, x2, y2, "
                f"...) holds `dimension` coordinates per body; got dof={dof} and "
                f"dimension={dimension}."
            )
        bodies = dof // dimension
        check_size(owner, "width", width)
        check_size(owner, "depth", depth)
        check_activation(activation)
        check_init(init)
        one_of(f"{owner}:", "potential", potential, POTENTIALS)
        if constraints is None:
            constraints = DistanceConstraints.chain((1.0,) * bodies, dimension=dimension)
        if isinstance(constraints, DistanceConstraints):
            config = constraints.config()
        elif isinstance(constraints, Mapping):
            config = dict(constraints)
            # Built once to check it (and to refuse unknown keys), from plain values.
            DistanceConstraints(**config)
        else:
            raise TypeError(
                f"{owner}: `constraints` must be a DistanceConstraints (or its config() dict), "
                f"got {type(constraints).__name__}."
            )
        if (config.get("bodies"), config.get("dimension", 2)) != (bodies, dimension):
            raise ValueError(
                f"{owner}: the constraints hold {config.get('bodies')} bodies in dimension "
                f"{config.get('dimension', 2)}, but dof={dof} and dimension={dimension} make "
                f"{bodies} bodies in dimension {dimension}."
            )
        given = None
        if masses is not None:
            values = np.asarray(masses, dtype=float)
            if values.shape != (bodies,) or not np.all(np.isfinite(values) & (values > 0)):
                raise ValueError(
                    f"{owner}: `masses` must hold one positive mass per body, shape ({bodies},), "
                    f"got {masses!r}; leave it None to learn them."
                )
            given = tuple(float(m) for m in values)
        if potential == "shared":
            self.potential_network = BodyJointPotential(
                dimension, width=width, depth=depth, activation=activation, init=init, key=key
            )
        else:
            self.potential_network = MLP(
                dof, "scalar", (width,) * depth, activation=activation, init=init, key=key
            )
        # Learned masses start at 1, in the default float dtype (float64 when x64 is on); with
        # a shared potential, one mass for every body, so that the model runs on any number.
        shape = () if potential == "shared" else (bodies,)
        self.log_mass = None if given else jnp.asarray(np.zeros(shape))
        self.potential_kind = potential
        self.given_masses = given
        self.constraint_config = _freeze(config)
        self.normaliser = Normaliser.identity(periodic)
        self.dof = dof
        self.dimension = dimension
        self.width = width
        self.depth = depth
        self.activation = activation
        self.init = init
        self.checks = bool(checks)

    def _shared_config(self) -> dict[str, Any]:
        return {
            "dof": self.dof,
            "dimension": self.dimension,
            "constraints": _thaw(self.constraint_config),
            "masses": None if self.given_masses is None else list(self.given_masses),
            "width": self.width,
            "depth": self.depth,
            "activation": self.activation,
            "init": self.init,
            "periodic": list(self.periodic),
            "checks": self.checks,
            "potential": self.potential_kind,
        }

    @property
    def bodies(self) -> int:
        """The number of bodies, `dof // dimension`."""
        return self.dof // self.dimension

    @property
    def constraints(self) -> DistanceConstraints:
        """The known constraints, a [`lagrangian_zoo.DistanceConstraints`][]."""
        return DistanceConstraints(**_thaw(self.constraint_config))

    @property
    def masses(self) -> Float[Array, " bodies"]:
        """The masses of the bodies: learned, $m_i = e^{s_i}$, or the given ones."""
        if self.log_mass is None:
            return jnp.asarray(self.given_masses)
        return jnp.broadcast_to(jnp.exp(self.log_mass), (self.bodies,))

    def potential(self, q: Float[ArrayLike, " n"]) -> Scalar:
        """The learned potential $V_\\theta(x)$ of the positions `q`, shape `(n,)`."""
        if isinstance(self.potential_network, BodyJointPotential):
            x = jnp.asarray(q).reshape(self.bodies, self.dimension)
            return self.potential_network(x, self.constraints)
        return self.potential_network(self.normaliser.positions(q))

    def with_constraints(
        self,
        constraints: DistanceConstraints | Mapping[str, Any],
        *,
        masses: Sequence[float] | None = None,
    ) -> "AbstractConstrainedModel":
        """The same learned potential and mass on other bodies and joints: a model of
        `potential="shared"` trained on a chain of three links, run on one of ten.

        **Arguments:**

        - `constraints`: the new [`lagrangian_zoo.DistanceConstraints`][] (or their
            `config()` dict), any number of bodies in the same dimension.
        - `masses`: the new bodies' masses, one per body: required where the model was
            given its masses, refused where it learned one.

        **Returns:** a model of the same class and options on the new constraints.
        """
        owner = f"{type(self).__name__}.with_constraints:"
        if self.potential_kind != "shared":
            raise ValueError(
                f"{owner} the model's potential is {self.potential_kind!r}, one network of "
                "all the positions, which takes a fixed number of bodies; build it with "
                "potential='shared' to move it to other constraints."
            )
        if isinstance(constraints, Mapping):
            constraints = DistanceConstraints(**constraints)
        if not isinstance(constraints, DistanceConstraints):
            raise TypeError(
                f"{owner} `constraints` must be a DistanceConstraints (or its config() dict), "
                f"got {type(constraints).__name__}."
            )
        if constraints.dimension != self.dimension:
            raise ValueError(
                f"{owner} the constraints are in dimension {constraints.dimension}, the model "
                f"in dimension {self.dimension}."
            )
        if (masses is None) != (self.given_masses is None):
            expected = "one per body" if self.given_masses is not None else "none"
            raise ValueError(
                f"{owner} `masses`: the model {'was given' if self.given_masses else 'learned'}"
                f" its masses, so give {expected}; got {masses!r}."
            )
        config = {
            **self.config(),
            "dof": constraints.bodies * self.dimension,
            "constraints": constraints,
            "masses": masses,
            "periodic": None,
        }
        fresh = type(self)(key=jax.random.key(0), **config)
        if self.log_mass is None:
            return eqx.tree_at(lambda m: m.potential_network, fresh, self.potential_network)
        return eqx.tree_at(
            lambda m: (m.potential_network, m.log_mass),
            fresh,
            (self.potential_network, self.log_mass),
        )

    def kinetic(self, q_t: Float[ArrayLike, " n"]) -> Scalar:
        r"""The kinetic energy $\tfrac12 \sum_i m_i |\dot x_i|^2$ of the velocities `q_t`."""
        q_t = jnp.asarray(q_t)
        v = q_t.reshape(self.bodies, self.dimension)
        return 0.5 * jnp.sum(self.masses.astype(q_t.dtype)[:, None] * v * v)

    def acceleration(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Array:
        """The constrained accelerations of positions `q` and velocities `q_t`, each of shape
        `(n,)`, under the learned potential and masses."""
        q, q_t = jnp.asarray(q), jnp.asarray(q_t)
        shape = (self.bodies, self.dimension)
        x, v = q.reshape(shape), q_t.reshape(shape)
        force = -jax.grad(self.potential)(q).reshape(shape)
        masses = self.masses.astype(q.dtype)
        a = _acceleration(self.constraints, x, v, masses, force, self.checks)
        return a.reshape(self.dof)


class CLNN(AbstractConstrainedModel):
    r"""A constrained Lagrangian neural network (CLNN).

    In velocity coordinates $y = (x, \dot x)$, with the Lagrangian of free bodies
    $$L_\theta = \sum_i \tfrac12 m_i |\dot x_i|^2 - V_\theta(x)$$
    and the known constraints $\Phi(x) = 0$, the accelerations solve
    $$M \ddot x = -\nabla V_\theta + D\Phi^\top \lambda, \qquad
    D\Phi\, \ddot x = -(\tfrac{d}{dt} D\Phi)\, \dot x,$$
    with $M = \mathrm{diag}(m)$ constant: one solve for the multipliers $\lambda$, banded for
    a chain, instead of the dense, state-dependent mass matrix an LNN in angles inverts. See
    [`lagrangian_zoo.models.AbstractConstrainedModel`][] for the potential and masses.

    **Arguments:**

    - `dof`: the number of coordinates, `bodies * dimension`.
    - `key`: a `jax.random` key for the initial parameters.
    - `dimension`: the dimension of space (2 by default).
    - `constraints`: the known [`lagrangian_zoo.DistanceConstraints`][] (or their `config()`
        dict); by default a chain of unit rods from the origin, as
        [`lagrangian_zoo.systems.CartesianChain`][]'s default: give a system's own,
        `constraints=system.constraints`, for any other.
    - `masses`: the bodies' masses, if known; learned (starting at 1) when `None`.
    - `width`, `depth`: the hidden layers of the potential network (256, 3: the paper's).
    - `activation`: `"tanh"` (the paper's) or another name of [`lagrangian_zoo.models.MLP`][].
    - `init`: `"default"` or `"lnn"` (see [`lagrangian_zoo.models.MLP`][]).
    - `periodic`: accepted for the common interface; every entry must be `False`.
    - `checks`: raise an error (also under `jit`) where the constraint Jacobian is
        rank-deficient.
    - `potential`: `"full"` (the paper's: one network of all the positions, one mass per
        body) or `"shared"`: one network of a body's position and one of a joint's relative
        position, summed over the bodies and the constraints, and one mass for every body, so
        that the model runs on any number of bodies (`model.with_constraints(...)`).

    ??? cite "Reference"

        Finzi, Wang and Wilson (2020), *Simplifying Hamiltonian and Lagrangian Neural
        Networks via Explicit Constraints*: BibTeX under
        [`lagrangian_zoo.constrained_acceleration`][].
    """

    potential_network: MLP | BodyJointPotential
    log_mass: Float[Array, " bodies"] | Float[Array, ""] | None
    normaliser: Normaliser
    given_masses: tuple[float, ...] | None = eqx.field(static=True)
    constraint_config: tuple = eqx.field(static=True)
    dof: int = eqx.field(static=True)
    dimension: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    checks: bool = eqx.field(static=True)
    potential_kind: str = eqx.field(static=True)
    coordinates: ClassVar[str] = "velocity"

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        dimension: int = 2,
        constraints: DistanceConstraints | Mapping[str, Any] | None = None,
        masses: Sequence[float] | None = None,
        width: int = 256,
        depth: int = 3,
        activation: str = "tanh",
        init: str = "default",
        periodic: Sequence[bool] | None = None,
        checks: bool = True,
        potential: str = "full",
    ):
        self._init_shared(
            dof,
            key=key,
            dimension=dimension,
            constraints=constraints,
            masses=masses,
            width=width,
            depth=depth,
            activation=activation,
            init=init,
            periodic=periodic,
            checks=checks,
            potential=potential,
        )

    def config(self) -> dict[str, Any]:
        return self._shared_config()

    def lagrangian(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Lagrangian of the free bodies, `L = T(q_t) - V(q)` (the constraints do
        no work)."""
        return self.kinetic(q_t) - self.potential(q)

    def energy(self, q: Float[ArrayLike, " n"], q_t: Float[ArrayLike, " n"]) -> Scalar:
        """The energy `T(q_t) + V(q)` at the velocity state `[q, q_t]`."""
        return self.kinetic(q_t) + self.potential(q)

    # Compiled as one program per architecture and shapes: an eager call reuses it for any
    # parameters; inside `rollout` or `fit` it is inlined.
    @eqx.filter_jit
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        del t, args
        q, q_t = split_model_state(self, y)
        return jnp.concatenate([q_t, self.acceleration(q, q_t)])


class CHNN(AbstractConstrainedModel):
    r"""A constrained Hamiltonian neural network (CHNN).

    In canonical coordinates $y = (x, p)$, with the Hamiltonian of free bodies
    $$H_\theta = \sum_i \frac{|p_i|^2}{2 m_i} + V_\theta(x)$$
    and the known constraints $\Phi(x) = 0$, Hamilton's equations with the constraint forces,
    $$\dot x = M^{-1} p, \qquad \dot p = -\nabla V_\theta + D\Phi^\top \lambda,$$
    with the multipliers that keep the motion on the constraints
    ([`lagrangian_zoo.constrained_hamiltonian_field`][]). On the constraint manifold this is
    the paper's projected symplectic gradient; the mass matrix is the constant diagonal of the
    (learned) masses, so $H_\theta$ is conserved along the model's flow.

    `coordinates` records what the state holds: `"canonical"` $(x, p)$ (default, as for the
    [`lagrangian_zoo.models.HNN`][]), or `"velocity"` $(x, \dot x)$, which the model maps to
    $p = M \dot x$ with its own masses and back, as the paper's code integrates; in velocity
    coordinates its vector field equals that of a [`lagrangian_zoo.models.CLNN`][] of the same
    potential and masses.

    **Arguments:** those of [`lagrangian_zoo.models.CLNN`][], and

    - `coordinates`: `"canonical"` or `"velocity"`, as above.

    ??? cite "Reference"

        Finzi, Wang and Wilson (2020), *Simplifying Hamiltonian and Lagrangian Neural
        Networks via Explicit Constraints*: BibTeX under
        [`lagrangian_zoo.constrained_acceleration`][].
    """

    potential_network: MLP | BodyJointPotential
    log_mass: Float[Array, " bodies"] | Float[Array, ""] | None
    normaliser: Normaliser
    given_masses: tuple[float, ...] | None = eqx.field(static=True)
    constraint_config: tuple = eqx.field(static=True)
    dof: int = eqx.field(static=True)
    dimension: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    init: str = eqx.field(static=True)
    coordinates: str = eqx.field(static=True)
    checks: bool = eqx.field(static=True)
    potential_kind: str = eqx.field(static=True)

    def __init__(
        self,
        dof: int,
        *,
        key: PRNGKeyArray,
        dimension: int = 2,
        constraints: DistanceConstraints | Mapping[str, Any] | None = None,
        masses: Sequence[float] | None = None,
        width: int = 256,
        depth: int = 3,
        activation: str = "tanh",
        init: str = "default",
        coordinates: str = "canonical",
        periodic: Sequence[bool] | None = None,
        checks: bool = True,
        potential: str = "full",
    ):
        self._init_shared(
            dof,
            key=key,
            dimension=dimension,
            constraints=constraints,
            masses=masses,
            width=width,
            depth=depth,
            activation=activation,
            init=init,
            periodic=periodic,
            checks=checks,
            potential=potential,
        )
        check_choice("CHNN", "coordinates", coordinates, COORDINATES)
        self.coordinates = coordinates

    def __check_init__(self):
        check_choice("CHNN", "coordinates", self.coordinates, COORDINATES)

    def config(self) -> dict[str, Any]:
        return {**self._shared_config(), "coordinates": self.coordinates}

    def hamiltonian(self, q: Float[ArrayLike, " n"], p: Float[ArrayLike, " n"]) -> Scalar:
        """The learned Hamiltonian of the free bodies, `H = |p|^2 / 2m + V(q)`."""
        p = jnp.asarray(p)
        momenta = p.reshape(self.bodies, self.dimension)
        kinetic = 0.5 * jnp.sum(momenta * inverse_mass_times(self.masses, momenta))
        return kinetic + self.potential(q)

    def energy(self, q: Float[ArrayLike, " n"], v: Float[ArrayLike, " n"]) -> Scalar:
        """The energy at the state `[q, v]` the model reads: `H(q, p)` for momenta `v = p`
        (canonical coordinates), `T(v) + V(q)` for velocities."""
        if self.coordinates == "canonical":
            return self.hamiltonian(q, v)
        return self.kinetic(v) + self.potential(q)

    @eqx.filter_jit
    def __call__(
        self, t: Float[ArrayLike, ""], y: Float[ArrayLike, " state"], args: PyTree
    ) -> Float[Array, " state"]:
        del t, args
        q, second = split_model_state(self, y)
        if self.coordinates == "velocity":
            return jnp.concatenate([second, self.acceleration(q, second)])
        masses = jnp.repeat(self.masses, self.dimension).astype(second.dtype)
        q_t = second / masses
        return jnp.concatenate([q_t, masses * self.acceleration(q, q_t)])
