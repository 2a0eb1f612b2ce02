"""Analytic reference systems with exact, hand-derived equations of motion."""

from ._actuated import (
    AbstractActuatedSystem as AbstractActuatedSystem,
    DrivenSystem as DrivenSystem,
)
from ._base import AbstractSystem as AbstractSystem
from ._cart_pole import CartPole as CartPole
from ._cartesian_chain import CartesianChain as CartesianChain
from ._chain import PendulumChain as PendulumChain
from ._coupled_pendulum import CoupledPendulum as CoupledPendulum
from ._double_pendulum import DoublePendulum as DoublePendulum
from ._falling_ball import FallingBall as FallingBall
from ._gyroscope import Gyroscope as Gyroscope
from ._kepler import Kepler as Kepler
from ._n_body import (
    AbstractNBody as AbstractNBody,
    NBody as NBody,
    ThreeBody as ThreeBody,
    TwoBody as TwoBody,
)
from ._pendulum import Pendulum as Pendulum
from ._registry import get as get, names as names, parameters as parameters
from ._relativistic import RelativisticParticle as RelativisticParticle
from ._spring import Spring as Spring
from ._two_link_arm import TwoLinkArm as TwoLinkArm
from ._wave import Wave as Wave
