"""stacked_disks: Form factor for a stacked set of non exfoliated core/shell disks.

Prior: sigma_d is relative in the kernel (Debye-Waller factor exp(-(q d sigma_d)^2/2),
sasmodels#128) although documented in Angstrom: drawn 0.01-0.3, not scaled with size.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import thicknesses
from .spec import MEDIUM, SIZE, Contrasts, Family, FitSpec, Simulation, count, value


def prior(d: Draw) -> dict:
    radius = d.length(2.5)
    repeat = radius * d.logu(0.05, 1.0)
    thick_core = repeat * d.u(0.2, 0.8)
    return dict(radius=radius, thick_core=thick_core,
                thick_layer=0.5 * (repeat - thick_core),
                n_stacking=d.integer(1, 50), sigma_d=d.logu(0.01, 0.3),
                sld_core=d.sld(), sld_layer=d.sld(), sld_solvent=d.sld())


FIT = FitSpec(
    {"thick_core": SIZE, "thick_layer": SIZE, "radius": SIZE,
     "n_stacking": count(1, 2, 4, 8, 16, 32, hi=50),
     # sigma_d is relative to the repeat distance in the kernel's Debye-Waller factor
     # exp(-(q d cos(alpha) sigma_d)^2 / 2), although documented in Angstrom
     # (SasView/sasmodels#128); stacks seen edge-on keep interfering, so the curve
     # still changes at sigma_d >> 1 and only tends to a single disk"s
     "sigma_d": value(0.01, 30.0, log=True)},
    guess=lambda v: [{"radius": R, "thick_core": 0.5 * T, "thick_layer": 0.25 * T,
                      "sigma_d": sd}
                     for R, T in product(v.radii()[:2], thicknesses(v)[:2])
                     for sd in (0.05, 0.5, 5.0)],
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_layer",)))

SIMULATION = Simulation(
    cost_us=19.9,
    family=Family(up=("radius", "thick_core", "thick_layer"), **MEDIUM))

POLYDISPERSE = ("thick_core", "thick_layer", "radius")

#: Listed in Å by sasmodels, dimensionless in the kernel's Debye-Waller factor
#: (sasmodels#128).
DIMENSIONLESS = ("sigma_d",)
