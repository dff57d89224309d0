"""core_shell_cylinder: Right circular cylinder with a core-shell scattering length density
profile.

Prior: The shell differs from core and solvent by at least MIN_SHELL_CONTRAST and is
10-60 % of the outer radius: no contrast or no thickness is a cylinder.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Contrasts, Family, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    outer = d.length(2.5)
    thickness = outer * d.logu(0.1, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius=outer - thickness, thickness=thickness,
                length=outer * d.logu(0.3, 30.0),
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thickness": SIZE, "length": LONG},
    guess=lambda v: [{"radius": (1 - f) * s, "thickness": f * s, "length": L}
                     for s, L in rods(v, 3, 5, 9) for f in (0.05, 0.3, 0.9)],
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_shell",)))

SIMULATION = Simulation(cost_us=5.61, family=Family(
    up=("radius", "thickness", "length"), **MEDIUM))

POLYDISPERSE = ("radius", "thickness", "length")

#: Exact limit: a shell like the core is a cylinder.
NESTED = (Nested(
    "cylinder",
    limit=lambda p: {**p, "sld_shell": p["sld_core"]},
    same=lambda p: {"radius": p["radius"] + p["thickness"],
                    "length": p["length"] + 2 * p["thickness"], "sld": p["sld_core"],
                    "sld_solvent": p["sld_solvent"]}),)
