"""mono_gauss_coil: Scattering from monodisperse polymer coils.

Prior: The Debye knee (q ~ 1.5/Rg) is put in the window.
"""
from __future__ import annotations

from .draw import Draw
from .guess import gyration
from .spec import LONG, FitSpec, Simulation


def prior(d: Draw) -> dict:
    return dict(i_zero=1.0, rg=d.length(1.5))


FIT = FitSpec(
    {"rg": LONG}, guess=lambda v: [{"rg": r} for r in gyration(v)],
    notes="i_zero (degenerate with scale) fixed")

SIMULATION = Simulation()

POLYDISPERSE = ("rg",)
