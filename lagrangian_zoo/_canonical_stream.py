"""Fresh random states in canonical coordinates, for models that take `[q, p]`."""

from jaxtyping import Array, Float, PRNGKeyArray

from ._data import StateStream
from ._mechanics import to_canonical
from ._source import AbstractDerivativeSource


class CanonicalStream(AbstractDerivativeSource):
    r"""A [`lagrangian_zoo.StateStream`][] in canonical coordinates: states `[q, p]` with
    their derivatives `[q_t, p_t]`.

    A Hamiltonian model's symplectic gradient is right only in canonical coordinates
    (`model.coordinates == "canonical"`). Each batch of the stream's velocity states and exact
    derivatives is mapped by [`lagrangian_zoo.to_canonical`][] with the system's own Lagrangian:
    $p = \partial L / \partial \dot q$, and $\dot p$ by the chain rule along the exact
    accelerations (as `generate_dataset(..., coordinates="canonical")` maps trajectories).

    **Fields:**

    - `stream`: a `StateStream` of a system with a `lagrangian(q, q_t)`.

    !!! example

        ```python
        system = lz.systems.get("double_pendulum")
        data = lz.CanonicalStream(lz.StateStream(system))
        hnn = lz.models.HNN(2, key=jax.random.key(0))
        hnn, history = lz.fit(hnn, data, steps=10, key=jax.random.key(1))
        ```
    """

    stream: StateStream

    def __check_init__(self):
        if not isinstance(self.stream, StateStream):
            raise TypeError(
                f"CanonicalStream: `stream` must be an lz.StateStream, got "
                f"{type(self.stream).__name__}."
            )
        if not callable(getattr(self.stream.system, "lagrangian", None)):
            raise TypeError(
                f"CanonicalStream: the stream's system ({type(self.stream.system).__name__}) has "
                "no lagrangian(q, q_t) to map velocities to momenta; use a system of "
                "lz.systems, or map your states with lz.to_canonical."
            )

    def sample(
        self, key: PRNGKeyArray, batch_size: int
    ) -> tuple[Float[Array, "batch state"], Float[Array, "batch state"]]:
        """`batch_size` fresh random states `[q, p]` and their exact derivatives `[q_t, p_t]`."""
        y, dy = self.stream.sample(key, batch_size)
        return to_canonical(self.stream.system.lagrangian, y, dy)
