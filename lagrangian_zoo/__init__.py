"""lagrangian_zoo: learn the dynamics of physical systems with networks that respect physics.

The public names load on first use: importing the package imports neither JAX (about a second
on its own) nor matplotlib, so `import lagrangian_zoo` and `lagrangian-zoo --help` are quick,
and a script pays only for what it touches.
"""

# Under private names, so that `dir(lagrangian_zoo)` and completion show the public API only.
import importlib as _importlib
import importlib.metadata as _metadata
import typing as _typing


if _typing.TYPE_CHECKING:  # what type checkers and the API reference see; `_EXPORTS` must match
    from . import metrics as metrics, models as models, plots as plots, systems as systems
    from ._cache import enable_compilation_cache as enable_compilation_cache
    from ._canonical_stream import CanonicalStream as CanonicalStream
    from ._character_data import (
        delan_character_dataset as delan_character_dataset,
        TorqueSamples as TorqueSamples,
    )
    from ._checkpoint import load_model as load_model, save_model as save_model
    from ._composition import (
        AbstractSymplecticComposition as AbstractSymplecticComposition,
        BlanesMoan4 as BlanesMoan4,
        ForestRuth as ForestRuth,
        StormerVerlet as StormerVerlet,
        Yoshida4 as Yoshida4,
        Yoshida6 as Yoshida6,
    )
    from ._constraints import (
        AbstractConstraints as AbstractConstraints,
        constrained_acceleration as constrained_acceleration,
        constrained_hamiltonian_field as constrained_hamiltonian_field,
        constraint_drift as constraint_drift,
        DistanceConstraints as DistanceConstraints,
        FunctionConstraints as FunctionConstraints,
        project_onto_constraints as project_onto_constraints,
    )
    from ._data import (
        Dataset as Dataset,
        finite_differences as finite_differences,
        generate_dataset as generate_dataset,
        real_pendulum_dataset as real_pendulum_dataset,
        states_from_trajectories as states_from_trajectories,
        StateStream as StateStream,
    )
    from ._distributed import (
        data_parallel_mesh as data_parallel_mesh,
        initialize as distributed_initialize,  # noqa: F401 - public under a clearer name
    )
    from ._energy_shaping import EnergyShapingSwingUp as EnergyShapingSwingUp
    from ._gauss_legendre import GaussLegendre as GaussLegendre
    from ._implicit_midpoint import ImplicitMidpoint as ImplicitMidpoint
    from ._input_data import (
        InputDataset as InputDataset,
        InverseDynamicsSource as InverseDynamicsSource,
    )
    from ._input_dynamics import (
        rollout_with_inputs as rollout_with_inputs,
        vector_field_with_inputs as vector_field_with_inputs,
        ZeroOrderHold as ZeroOrderHold,
    )
    from ._inverse_dynamics import (
        driven as driven,
        forward_dynamics as forward_dynamics,
        inverse_dynamics as inverse_dynamics,
        torque_decomposition as torque_decomposition,
    )
    from ._io import atomic_path as atomic_path, atomic_write as atomic_write
    from ._mechanics import (
        check_mass_structure as check_mass_structure,
        energy_along as energy_along,
        euler_lagrange as euler_lagrange,
        hamiltonian_from_lagrangian as hamiltonian_from_lagrangian,
        hamiltonian_vector_field as hamiltonian_vector_field,
        lagrangian_energy as lagrangian_energy,
        lagrangian_vector_field as lagrangian_vector_field,
        mass_matrix as mass_matrix,
        momenta as momenta,
        split_state as split_state,
        to_canonical as to_canonical,
        to_velocity as to_velocity,
        velocities as velocities,
    )
    from ._pixel_training import (
        fit_pixel_dynamics as fit_pixel_dynamics,
        pixel_dynamics_loss as pixel_dynamics_loss,
    )
    from ._pixels import (
        pixel_pendulum_dataset as pixel_pendulum_dataset,
        PixelDataset as PixelDataset,
        render_pendulum as render_pendulum,
    )
    from ._rollout import (
        cast_floating as cast_floating,
        ClassicRK4 as ClassicRK4,
        rollout as rollout,
    )
    from ._source import (
        AbstractDataSource as AbstractDataSource,
        AbstractDerivativeSource as AbstractDerivativeSource,
        AbstractFiniteSource as AbstractFiniteSource,
        AbstractInputSource as AbstractInputSource,
    )
    from ._sparse import MassGraph as MassGraph
    from ._torque_decomposition import TorqueDecomposition as TorqueDecomposition
    from ._training import fit as fit, History as History
    from ._trajectory_file import (
        load_trajectories as load_trajectories,
        save_trajectories as save_trajectories,
        Trajectories as Trajectories,
    )
    from ._windows import RolloutWindows as RolloutWindows


# Public name -> (module, name in that module); a module name alone is a subpackage.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "metrics": (".metrics", None),
    "models": (".models", None),
    "plots": (".plots", None),
    "systems": (".systems", None),
    "enable_compilation_cache": ("._cache", "enable_compilation_cache"),
    "CanonicalStream": ("._canonical_stream", "CanonicalStream"),
    "delan_character_dataset": ("._character_data", "delan_character_dataset"),
    "TorqueSamples": ("._character_data", "TorqueSamples"),
    "load_model": ("._checkpoint", "load_model"),
    "save_model": ("._checkpoint", "save_model"),
    "AbstractSymplecticComposition": ("._composition", "AbstractSymplecticComposition"),
    "BlanesMoan4": ("._composition", "BlanesMoan4"),
    "ForestRuth": ("._composition", "ForestRuth"),
    "StormerVerlet": ("._composition", "StormerVerlet"),
    "Yoshida4": ("._composition", "Yoshida4"),
    "Yoshida6": ("._composition", "Yoshida6"),
    "AbstractConstraints": ("._constraints", "AbstractConstraints"),
    "constrained_acceleration": ("._constraints", "constrained_acceleration"),
    "constrained_hamiltonian_field": ("._constraints", "constrained_hamiltonian_field"),
    "constraint_drift": ("._constraints", "constraint_drift"),
    "DistanceConstraints": ("._constraints", "DistanceConstraints"),
    "FunctionConstraints": ("._constraints", "FunctionConstraints"),
    "project_onto_constraints": ("._constraints", "project_onto_constraints"),
    "Dataset": ("._data", "Dataset"),
    "finite_differences": ("._data", "finite_differences"),
    "generate_dataset": ("._data", "generate_dataset"),
    "real_pendulum_dataset": ("._data", "real_pendulum_dataset"),
    "StateStream": ("._data", "StateStream"),
    "states_from_trajectories": ("._data", "states_from_trajectories"),
    "InputDataset": ("._input_data", "InputDataset"),
    "InverseDynamicsSource": ("._input_data", "InverseDynamicsSource"),
    "rollout_with_inputs": ("._input_dynamics", "rollout_with_inputs"),
    "vector_field_with_inputs": ("._input_dynamics", "vector_field_with_inputs"),
    "ZeroOrderHold": ("._input_dynamics", "ZeroOrderHold"),
    "load_trajectories": ("._trajectory_file", "load_trajectories"),
    "save_trajectories": ("._trajectory_file", "save_trajectories"),
    "Trajectories": ("._trajectory_file", "Trajectories"),
    "RolloutWindows": ("._windows", "RolloutWindows"),
    "data_parallel_mesh": ("._distributed", "data_parallel_mesh"),
    "EnergyShapingSwingUp": ("._energy_shaping", "EnergyShapingSwingUp"),
    "distributed_initialize": ("._distributed", "initialize"),
    "GaussLegendre": ("._gauss_legendre", "GaussLegendre"),
    "ImplicitMidpoint": ("._implicit_midpoint", "ImplicitMidpoint"),
    "driven": ("._inverse_dynamics", "driven"),
    "forward_dynamics": ("._inverse_dynamics", "forward_dynamics"),
    "inverse_dynamics": ("._inverse_dynamics", "inverse_dynamics"),
    "torque_decomposition": ("._inverse_dynamics", "torque_decomposition"),
    "TorqueDecomposition": ("._torque_decomposition", "TorqueDecomposition"),
    "atomic_path": ("._io", "atomic_path"),
    "atomic_write": ("._io", "atomic_write"),
    "check_mass_structure": ("._mechanics", "check_mass_structure"),
    "energy_along": ("._mechanics", "energy_along"),
    "euler_lagrange": ("._mechanics", "euler_lagrange"),
    "hamiltonian_from_lagrangian": ("._mechanics", "hamiltonian_from_lagrangian"),
    "hamiltonian_vector_field": ("._mechanics", "hamiltonian_vector_field"),
    "lagrangian_energy": ("._mechanics", "lagrangian_energy"),
    "lagrangian_vector_field": ("._mechanics", "lagrangian_vector_field"),
    "mass_matrix": ("._mechanics", "mass_matrix"),
    "momenta": ("._mechanics", "momenta"),
    "split_state": ("._mechanics", "split_state"),
    "to_canonical": ("._mechanics", "to_canonical"),
    "to_velocity": ("._mechanics", "to_velocity"),
    "velocities": ("._mechanics", "velocities"),
    "fit_pixel_dynamics": ("._pixel_training", "fit_pixel_dynamics"),
    "pixel_dynamics_loss": ("._pixel_training", "pixel_dynamics_loss"),
    "pixel_pendulum_dataset": ("._pixels", "pixel_pendulum_dataset"),
    "PixelDataset": ("._pixels", "PixelDataset"),
    "render_pendulum": ("._pixels", "render_pendulum"),
    "cast_floating": ("._rollout", "cast_floating"),
    "ClassicRK4": ("._rollout", "ClassicRK4"),
    "rollout": ("._rollout", "rollout"),
    "MassGraph": ("._sparse", "MassGraph"),
    "AbstractDataSource": ("._source", "AbstractDataSource"),
    "AbstractDerivativeSource": ("._source", "AbstractDerivativeSource"),
    "AbstractFiniteSource": ("._source", "AbstractFiniteSource"),
    "AbstractInputSource": ("._source", "AbstractInputSource"),
    "fit": ("._training", "fit"),
    "History": ("._training", "History"),
}


# `from lagrangian_zoo import *` and tools that list the public names see every one of them,
# loaded or not.
__all__ = list(_EXPORTS)

# Old class names of the mechanics -> (the class now, the function that returns it). One name
# per concept: the function is the public form. Kept, with a warning, for one release only;
# outside `__all__` and `dir()`, so nothing new finds them.
_DEPRECATED: dict[str, tuple[str, str]] = {
    "EulerLagrange": ("EulerLagrange", "euler_lagrange"),
    "HamiltonianVectorField": ("HamiltonianVectorField", "hamiltonian_vector_field"),
    "InverseLegendre": ("Velocities", "velocities"),
    "LagrangianEnergy": ("LagrangianEnergy", "lagrangian_energy"),
    "LagrangianVectorField": ("LagrangianVectorField", "lagrangian_vector_field"),
    "LegendreHamiltonian": ("HamiltonianFromLagrangian", "hamiltonian_from_lagrangian"),
    "MassMatrix": ("MassMatrix", "mass_matrix"),
    "Momentum": ("Momenta", "momenta"),
}


def __getattr__(name: str) -> _typing.Any:
    if name in _DEPRECATED:
        import warnings

        new_name, function = _DEPRECATED[name]
        warnings.warn(
            f"`lagrangian_zoo.{name}` is deprecated and will be removed in the next release: "
            f"call `lagrangian_zoo.{function}(...)`, which returns this module (the class "
            f"`{new_name}`; `type(lagrangian_zoo.{function}(...))` for isinstance checks).",
            DeprecationWarning,
            stacklevel=2,
        )
        # Not cached in globals(), so that every use warns.
        return getattr(_importlib.import_module("._mechanics", __name__), new_name)
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lagrangian_zoo' has no attribute {name!r}")
    module_name, attribute = _EXPORTS[name]
    module = _importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    # The loaded private submodules (`_data`, ...) and helpers live in globals() too; not shown.
    dunders = {name for name in globals() if name.startswith("__") and name.endswith("__")}
    return sorted(set(__all__) | dunders)


try:
    __version__ = _metadata.version("lagrangian_zoo")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"
