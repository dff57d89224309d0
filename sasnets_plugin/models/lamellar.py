"""lamellar: Lyotropic lamellar phase with uniform SLD and random distribution.

Prior: Form-factor minima at q = 2 pi n / thickness: the first is put in the window.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import thicknesses
from .spec import SIZE, FitSpec, Simulation


def prior(d: Draw) -> dict:
    # form factor minima at q = 2 pi n / thickness
    sld, solvent = d.sld_pair()
    return dict(thickness=d.length(2 * math.pi), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"thickness": SIZE}, guess=lambda v: [{"thickness": t} for t in thicknesses(v)])

SIMULATION = Simulation()

POLYDISPERSE = ("thickness",)
