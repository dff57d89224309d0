"""hollow_cylinder: .

Prior: The wall is 5-70 % of the outer radius: a wall of the full radius is a cylinder.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    outer = d.length(2.5)
    thickness = outer * d.logu(0.05, 0.7)
    sld, solvent = d.sld_pair()
    return dict(radius=outer - thickness, thickness=thickness,
                length=outer * d.logu(0.3, 30.0), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thickness": SIZE, "length": LONG},
    guess=lambda v: [{"radius": (1 - f) * s, "thickness": f * s, "length": L}
                     for s, L in rods(v, 3, 5, 9) for f in (0.1, 0.4, 0.9)])

SIMULATION = Simulation(cost_us=6.08, family=Family(
    up=("radius", "thickness", "length"), **MEDIUM))

POLYDISPERSE = ("radius", "thickness", "length")
