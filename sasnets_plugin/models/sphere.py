"""sphere: Spheres with uniform scattering length density.

Prior: The first form-factor minimum (q ~ 4.5/R) region is put in the window. Nothing
simpler is nested in it.
"""
from __future__ import annotations

from .draw import Draw
from .spec import SIZE, FitSpec, Simulation


def prior(d: Draw) -> dict:
    sld, solvent = d.sld_pair()
    return dict(radius=d.length(3.0), sld=sld, sld_solvent=solvent)


FIT = FitSpec({"radius": SIZE}, guess=lambda v: [{"radius": r} for r in v.radii()])

SIMULATION = Simulation()

POLYDISPERSE = ("radius",)
