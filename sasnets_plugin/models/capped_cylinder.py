"""capped_cylinder: Right circular cylinder with spherical end caps and uniform SLD.

Prior: Caps of large radius are flat and short caps on long rods are invisible: both are
cylinders. The cap radius is kept 1.02-1.7 x the rod radius and the length at most 6 cap
radii.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    # caps of large radius are flat and short caps on long rods are invisible:
    # both are cylinders
    radius_cap = d.length(2.0)
    radius = radius_cap * d.logu(0.6, 0.98)
    length = radius_cap * d.logu(0.5, 6.0)
    sld, solvent = d.sld_pair()
    return dict(radius_cap=radius_cap, radius=radius, length=length,
                sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "radius_cap": SIZE, "length": LONG},
    order=(("radius", "radius_cap"),),
    guess=lambda v: [{"radius": s, "radius_cap": 1.2 * s, "length": L}
                     for s, L in rods(v, 3)])

SIMULATION = Simulation(
    cost_us=87.4,
    family=Family(up=("radius_cap", "radius", "length"), **MEDIUM))

POLYDISPERSE = ("radius", "radius_cap", "length")
