"""Learned dynamics models: every model is a vector field `model(t, y, args) -> dy/dt`."""

from ._autoencoder import Autoencoder as Autoencoder
from ._base import (
    AbstractDynamics as AbstractDynamics,
    AbstractEnergyModel as AbstractEnergyModel,
    AbstractLagrangianModel as AbstractLagrangianModel,
    trainable_filter as trainable_filter,
)
from ._baseline import Baseline as Baseline
from ._constrained import (
    AbstractConstrainedModel as AbstractConstrainedModel,
    CHNN as CHNN,
    CLNN as CLNN,
)
from ._delan import DeLaN as DeLaN
from ._dissipation import RayleighDissipation as RayleighDissipation
from ._hnn import HNN as HNN
from ._lgn import LGN as LGN
from ._lnn import LNN as LNN
from ._mlp import ACTIVATIONS as ACTIVATIONS, MLP as MLP
from ._normaliser import Normaliser as Normaliser
from ._pair_prior import (
    pair_potential_decay as pair_potential_decay,
    PAIR_TERMS as PAIR_TERMS,
)
from ._pairwise import (
    AbstractPairwiseModel as AbstractPairwiseModel,
    PairwiseHamiltonian as PairwiseHamiltonian,
    PairwiseLagrangian as PairwiseLagrangian,
)
from ._pixel import PixelDynamics as PixelDynamics
from ._port_hamiltonian import PortHamiltonian as PortHamiltonian
from ._registry import (
    COMPOSITE_MODELS as COMPOSITE_MODELS,
    get as get,
    MODELS as MODELS,
    names as names,
)
