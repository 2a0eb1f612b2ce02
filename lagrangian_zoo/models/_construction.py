"""What the model constructors share: the checked options of the hidden layers, the networks and
the learned dissipation built from them, and `config()` read back from the constructor."""

import inspect
from typing import Any, Literal

from jaxtyping import PRNGKeyArray

from .._validation import flag
from ._base import check_dof
from ._dissipation import RayleighDissipation
from ._mlp import check_activation, check_curved_activation, check_init, check_size, MLP


def init_network_options(
    model: Any,
    dof: int,
    width: int,
    depth: int,
    activation: str,
    init: str,
    *,
    curved: bool = False,
) -> None:
    """Checks a model's `dof` and the options of its hidden layers, and sets the static fields
    of the same names; called from the model's `__init__`.

    **Arguments:**

    - `model`: the model being built; its class name starts every error message.
    - `dof`, `width`, `depth`, `activation`, `init`: the constructor's arguments.
    - `curved`: refuse an activation whose second derivative vanishes (for a model that solves
        with the Hessian of its network).
    """
    owner = type(model).__name__
    check_dof(owner, dof)
    check_size(owner, "width", width)
    check_size(owner, "depth", depth)
    if curved:
        check_curved_activation(owner, activation)
    else:
        check_activation(activation)
    check_init(init)
    fields = {"dof": dof, "width": width, "depth": depth, "activation": activation, "init": init}
    for name, value in fields.items():
        setattr(model, name, value)


def hidden_mlp(
    model: Any, in_size: int, out_size: int | Literal["scalar"], *, key: PRNGKeyArray
) -> MLP:
    """An [`lagrangian_zoo.models.MLP`][] with the model's hidden layers: `depth` layers of
    `width` units, the model's `activation` and `init`."""
    return MLP(
        in_size,
        out_size,
        (model.width,) * model.depth,
        activation=model.activation,
        init=model.init,
        key=key,
    )


def init_dissipation(
    model: Any, dissipation: bool, width: int, depth: int, *, key: PRNGKeyArray
) -> None:
    """Checks the options of a learned Rayleigh dissipation and sets `dissipation_width`,
    `dissipation_depth` and `dissipation_function`: a
    [`lagrangian_zoo.models.RayleighDissipation`][] of the model's embedded positions, with the
    model's activation, if `dissipation`, else `None`. The model's `dof`, `activation` and
    `normaliser` must be set."""
    owner = type(model).__name__
    check_size(owner, "dissipation_width", width)
    check_size(owner, "dissipation_depth", depth)
    flag(f"{owner}:", "dissipation", dissipation)
    model.dissipation_width = width
    model.dissipation_depth = depth
    model.dissipation_function = None
    if dissipation:
        model.dissipation_function = RayleighDissipation(
            model.dof,
            model.normaliser.position_size,
            width=width,
            depth=depth,
            activation=model.activation,
            key=key,
        )


def constructor_config(model: Any, **derived: Any) -> dict[str, Any]:
    """The keyword arguments that rebuild `model`'s architecture, for its `config()`.

    Every parameter of `type(model).__init__` but `key`, in the signature's order, so that the
    config and the constructor cannot drift apart. Each is read from the model's field of the
    same name (a tuple, such as `periodic`, as a list), unless `derived` gives it: an argument
    the model keeps in another form (`mass_prior` as a parameter that is `None` or not).
    """
    names = [name for name in inspect.signature(type(model).__init__).parameters if name != "self"]
    names.remove("key")
    unknown = set(derived) - set(names)
    if unknown:
        raise TypeError(
            f"{type(model).__name__}.config: {sorted(unknown)} are not arguments of the "
            "constructor."
        )
    config = {}
    for name in names:
        value = derived[name] if name in derived else getattr(model, name)
        config[name] = list(value) if isinstance(value, tuple) else value
    return config
