"""flexible_cylinder: Flexible cylinder where the form factor is normalized by the volume
of the cylinder.

Prior: The Kuhn length is put in the window; contour lengths of 2-100 Kuhn lengths
(shorter chains are rigid rods: cylinders).
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import FAR, LONG, SIZE, FitSpec, Simulation


def prior(d: Draw) -> dict:
    kuhn = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(kuhn_length=kuhn, length=kuhn * d.logu(2.0, 100.0),
                radius=kuhn * d.logu(0.01, 0.3), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"length": FAR, "kuhn_length": LONG, "radius": SIZE},
    order=(("kuhn_length", "length"),),
    guess=lambda v: [{"radius": s, "length": 2 * L, "kuhn_length": 0.5 * L}
                     for s, L in rods(v, 2)])

SIMULATION = Simulation(cost_us=1.13)

POLYDISPERSE = ("length", "kuhn_length", "radius")
