"""polymer_excl_volume: Polymer Excluded Volume model.

Prior: porod_exp = 1/nu; nu = 1/2 (theta solvent) is the Gaussian coil: exponents
1.5-1.8 or 2.3-3.5.
"""
from __future__ import annotations

from .draw import Draw
from .guess import clip, n_high, gyration
from .spec import LONG, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    # porod_exp = 1/nu; nu = 1/2 (theta solvent) is the Gaussian coil
    exponent = d.u(1.5, 1.8) if d.chance(0.5) else d.u(2.3, 3.5)
    return dict(rg=d.length(1.5), porod_exp=exponent)


FIT = FitSpec(
    {"rg": LONG, "porod_exp": value(1.0, 4.0)},
    guess=lambda v: [{"rg": r, "porod_exp": clip(n_high(v), 1.2, 3.5)} for r in gyration(v)])

SIMULATION = Simulation()

POLYDISPERSE = ()
