"""Analytic reference systems with exact, hand-derived equations of motion."""

from ._base import AbstractSystem as AbstractSystem
from ._pendulum import Pendulum as Pendulum
from ._registry import get as get, names as names, parameters as parameters
