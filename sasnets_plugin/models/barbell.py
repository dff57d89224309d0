"""barbell: Cylinder with spherical end caps.

Prior: The bells are wider than the rod (radius 0.2-0.95 of radius_bell): equal radii
make a capped cylinder with hemispherical caps, a limit this prior avoids.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    radius_bell = d.length(2.0)
    radius = radius_bell * d.logu(0.2, 0.95)
    length = radius_bell * d.logu(0.5, 20.0)
    sld, solvent = d.sld_pair()
    return dict(radius_bell=radius_bell, radius=radius, length=length,
                sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "radius_bell": SIZE, "length": LONG},
    order=(("radius", "radius_bell"),),
    guess=lambda v: [{"radius": s, "radius_bell": 1.5 * s, "length": L}
                     for s, L in rods(v, 3)])

SIMULATION = Simulation(
    cost_us=163.0,
    family=Family(up=("radius_bell", "radius", "length"), **MEDIUM))

POLYDISPERSE = ("radius_bell", "radius", "length")
