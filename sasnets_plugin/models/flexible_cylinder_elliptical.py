"""flexible_cylinder_elliptical: Flexible cylinder wth an elliptical cross section and a
uniform scattering length density.

Prior: The elliptical cross-section is what tells it from flexible_cylinder: the cross-
section feature (not the Kuhn length) is put in the window, with axis_ratio 1.8-5.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import FAR, MEDIUM, RATIO, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    # the elliptical cross-section is what tells it from flexible_cylinder:
    # put the cross-section feature (not the Kuhn length) in the window
    radius = max(d.length(2.5), 1.0)
    sld, solvent = d.sld_pair()
    kuhn = radius * d.logu(3.0, 100.0)
    return dict(radius=radius, axis_ratio=d.logu(1.8, 5.0), kuhn_length=kuhn,
                length=kuhn * d.logu(2.0, 100.0), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"length": FAR, "kuhn_length": FAR, "radius": SIZE, "axis_ratio": RATIO},
    order=(("kuhn_length", "length"),),
    guess=lambda v: [{"radius": s, "length": 2 * L, "kuhn_length": 0.5 * L,
                      "axis_ratio": 1.5} for s, L in rods(v, 2)])

SIMULATION = Simulation(cost_us=2.22, family=Family(
    up=("radius", "kuhn_length", "length"), **MEDIUM))

POLYDISPERSE = ("length", "kuhn_length", "radius")
