"""cylinder: Right circular cylinder with uniform scattering length density.

Prior: Either the radius or the length puts its feature in the window (half the draws
each), aspect ratios from discs to long rods.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    # either the radius or the length sets the feature in the window
    if d.chance(0.5):
        radius = d.length(2.5)
        length = radius * d.logu(0.2, 50.0)
    else:
        length = d.length(4.0)
        radius = length * d.logu(0.01, 2.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, length=length, sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "length": LONG},
    guess=lambda v: [{"radius": s, "length": L} for s, L in rods(v, 3, 5, 15)])

SIMULATION = Simulation(cost_us=7.08, family=Family(
    up=("radius", "length"), **MEDIUM))

POLYDISPERSE = ("radius", "length")
