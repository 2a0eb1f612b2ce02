"""lagrangian_zoo: learn the dynamics of physical systems with networks that respect physics."""

import importlib.metadata

from . import metrics as metrics, models as models, plots as plots, systems as systems
from ._checkpoint import load_model as load_model, save_model as save_model
from ._data import (
    Dataset as Dataset,
    generate_dataset as generate_dataset,
    real_pendulum_dataset as real_pendulum_dataset,
    StateStream as StateStream,
)
from ._distributed import (
    data_parallel_mesh as data_parallel_mesh,
    initialize as distributed_initialize,  # noqa: F401 - public under a clearer name
)
from ._mechanics import (
    energy_along as energy_along,
    euler_lagrange as euler_lagrange,
    hamiltonian_from_lagrangian as hamiltonian_from_lagrangian,
    hamiltonian_vector_field as hamiltonian_vector_field,
    lagrangian_energy as lagrangian_energy,
    lagrangian_vector_field as lagrangian_vector_field,
    mass_matrix as mass_matrix,
    momenta as momenta,
    split_state as split_state,
    velocities as velocities,
)
from ._rollout import rollout as rollout
from ._training import fit as fit, History as History
from ._verlet import StormerVerlet as StormerVerlet


try:
    __version__ = importlib.metadata.version("lagrangian_zoo")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"
