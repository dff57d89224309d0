"""multilayer_vesicle: Calculate form factor for a multi-lamellar vesicle.

Prior: At least 2 shells: one shell is the vesicle model.
"""
from __future__ import annotations

from .draw import Draw
from .spec import SIZE, FitSpec, Nested, Simulation, count


def prior(d: Draw) -> dict:
    outer = d.length(3.0)
    n_shells = d.integer(2, 10)  # one shell is the vesicle model
    one = outer * d.u(0.2, 0.8) / n_shells
    thick_shell = one * d.u(0.2, 0.8)
    sld, solvent = d.sld_pair()
    return dict(radius=max(outer - n_shells * one, 1.0), n_shells=n_shells,
                thick_shell=thick_shell, thick_solvent=one - thick_shell,
                volfraction=d.logu(0.005, 0.3), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thick_shell": SIZE, "thick_solvent": SIZE,
     "n_shells": count(2, 3, 4, 6, 9, hi=10)},
    guess=lambda v: [{"radius": 0.6 * r, "thick_shell": 0.1 * r, "thick_solvent": 0.1 * r}
                     for r in v.radii()[:3]],
    notes="volfraction (degenerate with scale) fixed")

SIMULATION = Simulation()

POLYDISPERSE = ("radius", "thick_shell", "thick_solvent")

#: Exact limit: one shell is a vesicle.
NESTED = (Nested(
    "vesicle",
    limit=lambda p: {**p, "n_shells": 1},
    same=lambda p: {"radius": p["radius"], "thickness": p["thick_shell"], "sld": p["sld"],
                    "sld_solvent": p["sld_solvent"], "volfraction": p["volfraction"]}),)
