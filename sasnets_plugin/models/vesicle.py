"""vesicle: Vesicle model representing a hollow sphere.

Prior: The shell is 2-80 % of the outer radius: a full shell is a sphere.
"""
from __future__ import annotations

from .draw import Draw
from .guess import shells
from .spec import SIZE, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    outer = d.length(3.0)
    thickness = outer * d.logu(0.02, 0.8)
    sld, solvent = d.sld_pair()
    return dict(radius=outer - thickness, thickness=thickness,
                volfraction=d.logu(0.005, 0.3), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thickness": SIZE},
    guess=lambda v: shells(v.radii()[:3], (0.05, 0.2, 0.9)),
    notes="volfraction (degenerate with scale) fixed")

SIMULATION = Simulation()

POLYDISPERSE = ("radius", "thickness")

#: Exact limit: no solvent core is a sphere.
NESTED = (Nested(
    "sphere",
    limit=lambda p: {**p, "radius": 0.0},
    same=lambda p: {"radius": p["thickness"], "sld": p["sld"], "sld_solvent": p["sld_solvent"]}),)
