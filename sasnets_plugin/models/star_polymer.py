"""star_polymer: Star polymer model with Gaussian statistics.

Prior: 3-6 arms (sasmodels' limits are 1-6): one or two arms make a linear chain
(mono_gauss_coil).
"""
from __future__ import annotations

from .draw import Draw
from .guess import gyration
from .spec import AREA, FitSpec, Nested, Simulation, value


def prior(d: Draw) -> dict:
    rg = d.length(1.5)
    # one or two arms make a linear chain (mono_gauss_coil)
    return dict(rg_squared=rg * rg, arms=d.u(3.0, 6.0))


FIT = FitSpec(
    {"rg_squared": AREA, "arms": value(1.0, 6.0)},
    guess=lambda v: [{"rg_squared": r * r, "arms": 3.0} for r in gyration(v)])

SIMULATION = Simulation()

POLYDISPERSE = ()

#: Exact limit: one arm is a Gaussian coil.
NESTED = (Nested(
    "mono_gauss_coil",
    limit=lambda p: {**p, "arms": 1.0},
    same=lambda p: {"rg": p["rg_squared"] ** 0.5}),)
