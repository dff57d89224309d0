"""linear_pearls: Linear pearls model of scattering from spherical pearls.

Prior: At least 2 pearls: one pearl is a sphere.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .spec import LONG, PEARLS, SIZE, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    radius = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, edge_sep=radius * d.logu(0.05, 5.0),
                num_pearls=d.integer(2, 20), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "edge_sep": LONG, "num_pearls": PEARLS},
    guess=lambda v: [{"radius": r, "edge_sep": k * r}
                     for r, k in product(v.radii()[:3], (0.5, 2.0))])

SIMULATION = Simulation()

POLYDISPERSE = ()

#: Exact limit: one pearl is a sphere.
NESTED = (Nested(
    "sphere",
    limit=lambda p: {**p, "num_pearls": 1},
    same=lambda p: {"radius": p["radius"], "sld": p["sld"], "sld_solvent": p["sld_solvent"]}),)
