"""Models by name: `names()` and `get(name, dof, key=..., **kwargs)`."""

import difflib
import inspect
from typing import Any

from jaxtyping import PRNGKeyArray

from ._base import AbstractDynamics
from ._baseline import Baseline
from ._constrained import CHNN, CLNN
from ._delan import DeLaN
from ._hnn import HNN
from ._lgn import LGN
from ._lnn import LNN
from ._pairwise import PairwiseHamiltonian, PairwiseLagrangian
from ._pixel import PixelDynamics
from ._port_hamiltonian import PortHamiltonian


MODELS: dict[str, type[AbstractDynamics]] = {
    "baseline": Baseline,
    "hnn": HNN,
    "lnn": LNN,
    "delan": DeLaN,
    "lgn": LGN,
    "pairwise_lnn": PairwiseLagrangian,
    "pairwise_hnn": PairwiseHamiltonian,
    "clnn": CLNN,
    "chnn": CHNN,
}
# Models that `get(name, dof)` does not build (assembled from other models, or driven by
# inputs), which `lagrangian_zoo.load_model` rebuilds from their `config()` as it does those
# of `MODELS`.
COMPOSITE_MODELS: dict[str, type[AbstractDynamics]] = {
    "pixel_dynamics": PixelDynamics,
    "port_hamiltonian": PortHamiltonian,
}


def names() -> list[str]:
    """The names of the models, sorted."""
    return sorted(MODELS)


def _keywords(cls: type[AbstractDynamics]) -> list[str]:
    parameters = inspect.signature(cls.__init__).parameters
    return [
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "key"
    ]


def model_class(name: str) -> type[AbstractDynamics]:
    """The class registered under `name`, with a "did you mean" error for unknown names."""
    if not isinstance(name, str):
        raise TypeError(f"a model name must be a string, got {type(name).__name__}.")
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Known models: {', '.join(names())}.")
    return MODELS[name]


def get(name: str, dof: int, *, key: PRNGKeyArray, **kwargs) -> AbstractDynamics:
    """Builds the model `name` for `dof` degrees of freedom.

    **Arguments:**

    - `name`: one of [`lagrangian_zoo.models.names`][]`()`: `"baseline"`, `"hnn"`, `"lnn"`,
        `"delan"`, `"lgn"`, `"pairwise_lnn"`, `"pairwise_hnn"`, `"clnn"`, `"chnn"`.
    - `dof`: the number of degrees of freedom `n`.
    - `key`: a `jax.random` key for the initial parameters.
    - `**kwargs`: the model's keyword arguments (`width`, `depth`, `periodic`,
        `dimension`, ...).

    **Returns:** the model, an [`lagrangian_zoo.models.AbstractDynamics`][].

    Unknown names and keyword arguments raise a `ValueError` that lists the known ones and
    suggests the closest.
    """
    cls: Any = model_class(name)
    known = _keywords(cls)
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown keyword argument(s) {', '.join(map(repr, unknown))} for model {name!r}."
            f"{hint} Its keyword arguments are: {', '.join(known)}."
        )
    return cls(dof, key=key, **kwargs)
