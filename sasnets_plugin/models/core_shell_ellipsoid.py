"""core_shell_ellipsoid: Form factor for an spheroid ellipsoid particle with a core shell
structure.

Prior: Shell contrast as for every core-shell model; the core aspect ratio x_core stays
outside 1/1.4..1.4, since a spherical core is the core-shell sphere.
"""
from __future__ import annotations

from .draw import Draw
from .spec import MEDIUM, RATIO, SIZE, Contrasts, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    outer = d.length(2.5)
    thick = outer * d.logu(0.1, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius_equat_core=outer - thick, x_core=d.ratio_apart(0.2, 5.0),
                thick_shell=thick, x_polar_shell=d.logu(0.3, 3.0),
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


FIT = FitSpec(
    {"radius_equat_core": SIZE, "x_core": RATIO, "thick_shell": SIZE,
     "x_polar_shell": RATIO},
    guess=lambda v: [{"radius_equat_core": (1 - f) * r / x ** (1 / 3), "x_core": x,
                      "thick_shell": f * r, "x_polar_shell": 1.0}
                     for r in v.radii()[:2] for x in (0.3, 1.0, 3.0) for f in (0.03, 0.2)],
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_shell",)))

SIMULATION = Simulation(cost_us=2.82, family=Family(
    up=("radius_equat_core", "thick_shell"), **MEDIUM))

POLYDISPERSE = ("radius_equat_core", "thick_shell")
