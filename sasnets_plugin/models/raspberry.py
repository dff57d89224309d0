"""raspberry: Calculates the form factor, *P(q)*, for a 'Raspberry-like' structure where
there are smaller spheres at the surface of a larger sphere, such as the structure of a
Pickering emulsion.

Prior: Small spheres 3-30 % of the large radius, surface coverage 0.2-0.9.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .spec import LONG, SIZE, Contrasts, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    radius_lg = d.length(3.0)
    return dict(radius_lg=radius_lg, radius_sm=radius_lg * d.logu(0.03, 0.3),
                penetration=d.u(0.0, 0.5), surface_fraction=d.u(0.2, 0.9),
                volfraction_lg=d.logu(0.005, 0.2), volfraction_sm=d.logu(0.002, 0.1),
                sld_lg=d.sld(), sld_sm=d.sld(), sld_solvent=d.sld())


FIT = FitSpec(
    {"radius_lg": LONG, "radius_sm": SIZE, "surface_fraction": value(0.0, 1.0)},
    order=(("radius_sm", "radius_lg"),),
    guess=lambda v: [{"radius_lg": r, "radius_sm": 0.1 * r, "surface_fraction": 0.4}
                     for r in v.radii()[:3]]
    + [{"radius_lg": L, "radius_sm": r, "surface_fraction": 0.4}
       for L, r in product(v.large_lengths()[-2:], v.radii()[:2])],
    notes="volume fractions and penetration fixed",
    contrasts=Contrasts("sld_solvent", "sld_lg", ("sld_sm",)))

SIMULATION = Simulation()

POLYDISPERSE = ("radius_lg", "radius_sm")

#: Listed in Å by sasmodels, dimensionless in the kernel: fractional penetration depth.
DIMENSIONLESS = ("penetration",)
