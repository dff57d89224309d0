"""elliptical_cylinder: Form factor for an elliptical cylinder.

Prior: axis_ratio of 1.4-6: a ratio of 1 is the cylinder.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Family, FitSpec, Free, Simulation


def prior(d: Draw) -> dict:
    r = d.length(2.5)
    sld, solvent = d.sld_pair()
    return dict(radius_minor=r, axis_ratio=d.logu(1.4, 6.0),
                length=max(r * d.logu(0.3, 50.0), 1.0), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius_minor": SIZE, "axis_ratio": Free("ratio", 1.0, 20.0), "length": LONG},
    guess=lambda v: [{"radius_minor": 0.8 * s, "axis_ratio": 1.5, "length": L}
                     for s, L in rods(v, 2)])

SIMULATION = Simulation(cost_us=249.0, family=Family(up=("radius_minor", "length"), **MEDIUM))

POLYDISPERSE = ("radius_minor", "length")
