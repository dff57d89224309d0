"""rectangular_prism: Rectangular parallelepiped with uniform scattering length density.

Prior: Edge ratios b/a 1-5, c/a 1-30.
"""
from __future__ import annotations

from .draw import Draw
from .guess import boxes
from .spec import MEDIUM, RATIO, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    a = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(length_a=a, b2a_ratio=d.logu(1.0, 5.0), c2a_ratio=d.logu(1.0, 30.0),
                sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"length_a": SIZE, "b2a_ratio": RATIO, "c2a_ratio": RATIO}, guess=boxes)

SIMULATION = Simulation(cost_us=141.0, family=Family(up=("length_a",), **MEDIUM))

POLYDISPERSE = ("length_a",)
