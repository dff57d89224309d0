"""binary_hard_sphere: binary mixture of hard spheres with hard sphere interactions.

Prior: The small spheres are 0.1-0.9 of the large radius: equal radii are a one-
component hard-sphere fluid.
"""
from __future__ import annotations

from .draw import Draw
from .spec import FRAC, SIZE, Contrasts, FitSpec, Simulation


def prior(d: Draw) -> dict:
    radius_lg = d.length(3.0)
    radius_sm = radius_lg * d.logu(0.1, 0.9)
    vf_lg = d.u(0.02, 0.3)
    vf_sm = d.u(0.02, 0.3)
    return dict(radius_lg=radius_lg, radius_sm=radius_sm,
                volfraction_lg=vf_lg, volfraction_sm=vf_sm,
                sld_lg=d.sld(), sld_sm=d.sld(), sld_solvent=d.sld())


FIT = FitSpec(
    {"radius_lg": SIZE, "radius_sm": SIZE, "volfraction_lg": FRAC, "volfraction_sm": FRAC},
    order=(("radius_sm", "radius_lg"),),
    guess=lambda v: [{"radius_lg": r, "radius_sm": 0.3 * r, "volfraction_lg": 0.1,
                      "volfraction_sm": 0.2} for r in v.radii()[:3]],
    contrasts=Contrasts("sld_solvent", "sld_lg", ("sld_sm",)))

SIMULATION = Simulation()

POLYDISPERSE = ()
