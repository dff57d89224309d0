"""core_shell_bicelle_elliptical: Elliptical cylinder with a core-shell scattering length
density profile.

Prior: The core_shell_bicelle prior with a cross-section ratio x_core of 1.5-4: x_core =
1 is the circular bicelle.
"""
from __future__ import annotations

from itertools import product

from . import core_shell_bicelle
from .draw import Draw
from .guess import thicknesses
from .spec import MEDIUM, RATIO, SIZE, Contrasts, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    pars = core_shell_bicelle.prior(d)
    pars["x_core"] = d.logu(1.5, 4.0)
    return pars


FIT = FitSpec(
    {"radius": SIZE, "x_core": RATIO, "thick_rim": SIZE, "thick_face": SIZE,
     "length": SIZE},
    guess=lambda v: [{"radius": R, "x_core": 2.0, "length": 0.6 * T, "thick_face": 0.2 * T,
                      "thick_rim": 0.2 * T}
                     for R, T in product(v.radii()[:2], thicknesses(v)[:2])],
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_face", "sld_rim")))

SIMULATION = Simulation(
    cost_us=281.0,
    family=Family(
    up=("radius", "thick_rim", "thick_face", "length"), **MEDIUM))

POLYDISPERSE = ("radius", "thick_rim", "thick_face", "length")
