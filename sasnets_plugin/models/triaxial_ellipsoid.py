"""triaxial_ellipsoid: Ellipsoid of uniform scattering length density with three
independent axes.

Prior: The two equatorial radii differ by 1.5-5x: equal radii are the ellipsoid.
"""
from __future__ import annotations

from .draw import Draw
from .spec import LONG, MEDIUM, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    a = d.length(2.5)
    sld, solvent = d.sld_pair()
    radii = sorted([a, a * d.logu(1.5, 5.0)])  # equal radii: ellipsoid
    return dict(radius_equat_minor=radii[0], radius_equat_major=radii[1],
                radius_polar=a * d.logu(0.1, 10.0), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius_equat_minor": LONG, "radius_equat_major": LONG, "radius_polar": LONG},
    order=(("radius_equat_minor", "radius_equat_major"),),
    guess=lambda v: [{"radius_equat_minor": a * r, "radius_equat_major": b * r,
                      "radius_polar": c * r}
                     for r in v.radii()[:2]
                     for a, b, c in ((1, 1, 1), (0.6, 1.2, 3), (0.8, 2, 0.3))])

SIMULATION = Simulation(
    cost_us=90.9,
    family=Family(
    up=("radius_equat_minor", "radius_equat_major", "radius_polar"), **MEDIUM))

POLYDISPERSE = ("radius_equat_minor", "radius_equat_major", "radius_polar")
