"""hayter_msa: Hayter-Penfold Rescaled Mean Spherical Approximation (RMSA) structure factor
for charged spheres.

Prior: Charged micelles and proteins: the peak near 2 pi / mean distance is put in the
window; radii are kept in 10-250 A because the MSA solver fails for larger radii or
strong screening. Volume fractions of 0.3 % to 30 % (most measured samples are a few
percent), charges of 5-80 e (ionic micelles 10-40, proteins near their pI less), added
salt up to 0.1 M in 70 % of the draws (buffers), none otherwise (generator v4; v3 drew
1 %-30 %, 8-100 e, salt up to 0.02 M in 80 %).
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import structure
from .spec import FRAC, SIZE, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    volfraction = d.logu(0.003, 0.3)
    # the peak sits near 2 pi / (mean distance) = 2 pi / (2 R phi^-1/3)
    # (charged micelles/proteins: the MSA solver fails for radii above a few
    # hundred Angstrom or strong screening)
    radius = d.length_in(math.pi * volfraction ** (1.0 / 3.0), 10.0, 250.0)
    return dict(radius_effective=radius, volfraction=volfraction,
                charge=d.logu(5.0, 80.0), temperature=d.u(280.0, 350.0),
                concentration_salt=d.logu(1e-4, 0.1) if d.chance(0.7) else 0.0,
                dielectconst=d.u(30.0, 80.0))


FIT = FitSpec(
    {"radius_effective": SIZE, "volfraction": FRAC, "charge": value(1.0, 200.0, log=True)},
    guess=structure({"charge": 20.0}),
    notes="temperature, salt concentration and dielectric constant fixed")

SIMULATION = Simulation(cost_us=3.64)

POLYDISPERSE = ()
