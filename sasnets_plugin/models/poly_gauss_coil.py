"""poly_gauss_coil: Scattering from polydisperse polymer coils.

Prior: Mw/Mn -> 1 is mono_gauss_coil and Mw/Mn = 2 (Schulz-Zimm) is exactly a Lorentzian
in q^2 Rg^2: drawn on either side of the latter (1.25-1.7 or 2.5-5).
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import gyration
from .spec import LONG, FitSpec, Nested, Simulation, value


def prior(d: Draw) -> dict:
    # Mw/Mn -> 1 is mono_gauss_coil and Mw/Mn = 2 (Schulz-Zimm) is exactly a
    # Lorentzian in q^2 Rg^2: draw on either side of the latter.
    pdi = d.u(1.25, 1.7) if d.chance(0.5) else d.u(2.5, 5.0)
    return dict(i_zero=1.0, rg=d.length(1.5), polydispersity=pdi)


FIT = FitSpec(
    {"rg": LONG, "polydispersity": value(1.0, 5.0)},
    guess=lambda v: [{"rg": r, "polydispersity": p}
                     for r, p in product(gyration(v), (1.2, 2.0))],
    notes="i_zero (degenerate with scale) fixed")

SIMULATION = Simulation()

POLYDISPERSE = ()

#: Exact limit: Mw/Mn = 1 is the monodisperse coil.
NESTED = (Nested(
    "mono_gauss_coil",
    limit=lambda p: {**p, "polydispersity": 1.0},
    same=lambda p: {"rg": p["rg"], "i_zero": p["i_zero"]}),)
