"""parallelepiped: Rectangular parallelepiped with uniform scattering length density.

Prior: Edges a <= b <= c with b/a 1-5 and c/a 1-30.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    a = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(length_a=a, length_b=a * d.logu(1.0, 5.0),
                length_c=a * d.logu(1.0, 30.0), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"length_a": SIZE, "length_b": LONG, "length_c": LONG},
    guess=lambda v: [{"length_a": 1.5 * s, "length_b": 3 * s, "length_c": L}
                     for s, L in rods(v, 2)])

SIMULATION = Simulation(
    cost_us=136.0,
    family=Family(up=("length_a", "length_b", "length_c"), **MEDIUM))

POLYDISPERSE = ("length_a", "length_b", "length_c")
