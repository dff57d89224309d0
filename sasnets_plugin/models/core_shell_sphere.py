"""core_shell_sphere: Form factor for a monodisperse spherical particle with particle with
a core-shell structure.

Prior: The shell differs from core and solvent by at least MIN_SHELL_CONTRAST and is
8-60 % of the outer radius: no contrast or no thickness is a sphere.
"""
from __future__ import annotations

from .draw import Draw
from .guess import shells
from .spec import SIZE, Contrasts, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    outer = d.length(3.0)
    thickness = outer * d.logu(0.08, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius=outer - thickness, thickness=thickness,
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thickness": SIZE},
    guess=lambda v: shells(v.radii()[:3], (0.03, 0.15, 0.4, 0.9)),
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_shell",)))

SIMULATION = Simulation()

POLYDISPERSE = ("radius", "thickness")

#: Exact limit: a shell like the core is a sphere.
NESTED = (Nested(
    "sphere",
    limit=lambda p: {**p, "sld_shell": p["sld_core"]},
    same=lambda p: {"radius": p["radius"] + p["thickness"], "sld": p["sld_core"],
                    "sld_solvent": p["sld_solvent"]}),)
