"""hollow_rectangular_prism: Hollow rectangular parallelepiped with uniform scattering
length density.

Prior: Walls are 10-40 % of the shortest edge: thin walls are
hollow_rectangular_prism_thin_walls, a full box is rectangular_prism.
"""
from __future__ import annotations

from . import rectangular_prism
from .draw import Draw
from .guess import boxes
from .spec import MEDIUM, RATIO, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    pars = rectangular_prism.prior(d)
    # thin walls are the hollow_rectangular_prism_thin_walls model
    pars["thickness"] = 0.5 * pars["length_a"] * d.logu(0.2, 0.8)
    return pars


FIT = FitSpec(
    {"length_a": SIZE, "b2a_ratio": RATIO, "c2a_ratio": RATIO, "thickness": SIZE},
    guess=lambda v: boxes(v, thickness=True))

SIMULATION = Simulation(cost_us=263.0, family=Family(up=("length_a", "thickness"), **MEDIUM))

POLYDISPERSE = ("length_a", "thickness")

#: Listed in Å by sasmodels, dimensionless in the kernel: edge ratios.
DIMENSIONLESS = ("b2a_ratio", "c2a_ratio")
