"""core_shell_bicelle: Circular cylinder with a core-shell scattering length density
profile.

Prior: Face and rim differ from both core and solvent by at least MIN_SHELL_CONTRAST
(without contrast the bicelle is a cylinder); rim 5-50 % of the outer radius, faces 5-30
% of the total length.
"""
from __future__ import annotations

from .draw import Draw
from .guess import thicknesses
from .spec import MEDIUM, SIZE, Contrasts, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    outer = d.length(2.5)
    thick_rim = outer * d.logu(0.05, 0.5)
    radius = outer - thick_rim
    total_length = outer * d.logu(0.1, 10.0)
    thick_face = total_length * d.logu(0.05, 0.3)
    core, solvent = d.sld(), d.sld()
    return dict(radius=radius, thick_rim=thick_rim, thick_face=thick_face,
                length=max(total_length - 2 * thick_face, 1.0),
                sld_core=core, sld_face=d.sld_apart(core, solvent),
                sld_rim=d.sld_apart(core, solvent), sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thick_rim": SIZE, "thick_face": SIZE, "length": SIZE},
    guess=lambda v: [{"radius": R, "length": (1 - 2 * f) * T, "thick_face": f * T,
                      "thick_rim": f * T}
                     for R in v.radii()[:2] + v.large_lengths()[:1]
                     for T in thicknesses(v)[:2] for f in (0.03, 0.2)],
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_face", "sld_rim")))

SIMULATION = Simulation(cost_us=7.5, family=Family(
    up=("radius", "thick_rim", "thick_face", "length"), **MEDIUM))

POLYDISPERSE = ("radius", "thick_rim", "thick_face", "length")
