"""ellipsoid: Ellipsoid of revolution with uniform scattering length density.

Prior: The polar/equatorial ratio stays outside 1/1.4..1.4: a ratio of 1 is a sphere.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, Family, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    re = d.length(2.5)
    sld, solvent = d.sld_pair()
    return dict(radius_equatorial=re, radius_polar=re * d.ratio_apart(0.1, 10.0),
                sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius_polar": LONG, "radius_equatorial": LONG},
    guess=lambda v: [{"radius_polar": p * r, "radius_equatorial": e * r}
                     for r in v.radii()[:3] for p, e in ((1, 1), (3, 0.6), (0.3, 1.5))]
    + [{"radius_equatorial": s, "radius_polar": max(L / 2, s)} for s, L in rods(v, 2)])

SIMULATION = Simulation(cost_us=3.96, family=Family(
    up=("radius_equatorial", "radius_polar"), **MEDIUM))

POLYDISPERSE = ("radius_polar", "radius_equatorial")

#: Exact limit: equal radii are a sphere.
NESTED = (Nested(
    "sphere",
    limit=lambda p: {**p, "radius_polar": p["radius_equatorial"]},
    same=lambda p: {"radius": p["radius_equatorial"], "sld": p["sld"],
                    "sld_solvent": p["sld_solvent"]}),)
