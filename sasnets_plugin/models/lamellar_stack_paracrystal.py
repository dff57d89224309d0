"""lamellar_stack_paracrystal: Random lamellar sheet with paracrystal structure factor.

Prior: At least 2 layers (one layer is lamellar); sigma_d is the relative spread of the
spacing (sasmodels' documentation; its parameter table says Angstrom), drawn 0.01-0.3.
"""
from __future__ import annotations

from .draw import Draw
from .guess import spacings
from .shared import stack_prior
from .spec import LAYERS, SIZE, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    d_spacing, thickness, nlayers = stack_prior(d)
    sld, solvent = d.sld_pair()
    return dict(d_spacing=d_spacing, thickness=thickness, Nlayers=nlayers,
                sigma_d=d.logu(0.01, 0.3), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    # sigma_d: the relative spread of the spacing (sasmodels documents it so, its
    # parameter table says Angstrom)
    {"thickness": SIZE, "d_spacing": SIZE, "sigma_d": value(0.0, 1.0), "Nlayers": LAYERS},
    guess=lambda v: [{"d_spacing": d, "thickness": 0.3 * d, "sigma_d": sd}
                     for d in spacings(v) for sd in (0.05, 0.2)])

SIMULATION = Simulation()

POLYDISPERSE = ("thickness",)

#: Listed in Å by sasmodels, dimensionless in the kernel: the relative spread of the spacing.
DIMENSIONLESS = ("sigma_d",)
