"""hollow_rectangular_prism_thin_walls: Hollow rectangular parallelepiped with thin walls.

Prior: The rectangular_prism prior (edge ratios b/a 1-5, c/a 1-30) for an infinitely
thin shell; fitted like rectangular_prism (the same parameters shape both curves).
"""
from __future__ import annotations

from . import rectangular_prism
from .spec import MEDIUM, Family, Simulation

prior = rectangular_prism.prior

FIT = rectangular_prism.FIT

SIMULATION = Simulation(cost_us=159.0, family=Family(up=("length_a",), **MEDIUM))

POLYDISPERSE = ("length_a",)

#: Listed in Å by sasmodels, dimensionless in the kernel: edge ratios.
DIMENSIONLESS = ("b2a_ratio", "c2a_ratio")
