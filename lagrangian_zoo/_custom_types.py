"""Shape aliases shared across the package.

`n` is the number of degrees of freedom; a state `y = [q, q_t]` (or `[q, p]`) has `state = 2n`
entries (jaxtyping cannot name `2n` directly).
"""

from collections.abc import Callable
from typing import TypeAlias

from jaxtyping import Array, ArrayLike, Float, PyTree, Scalar


Coordinates: TypeAlias = Float[Array, " n"]
Velocities: TypeAlias = Float[Array, " n"]
Momenta: TypeAlias = Float[Array, " n"]
Accelerations: TypeAlias = Float[Array, " n"]
State: TypeAlias = Float[Array, " state"]
BatchedState: TypeAlias = Float[Array, "*batch state"]
Times: TypeAlias = Float[Array, " times"]
Args: TypeAlias = PyTree

# A scalar function of a configuration and its velocities (or momenta): a Lagrangian L(q, q_t)
# or a Hamiltonian H(q, p).
ScalarFunction: TypeAlias = Callable[[Float[Array, " n"], Float[Array, " n"]], Scalar]
# A generalized force Q(q, q_t), added to the right side of the Euler-Lagrange equation.
GeneralizedForce: TypeAlias = Callable[[Coordinates, Velocities], Float[Array, " n"]]
# Diffrax's convention: f(t, y, args) -> dy/dt.
VectorField: TypeAlias = Callable[[Float[ArrayLike, ""], State, Args], State]
