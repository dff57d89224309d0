"""guinier: .

Prior: The Guinier knee (q ~ 1.7/Rg) is put in the window. Nothing simpler is nested in
it.
"""
from __future__ import annotations

from .draw import Draw
from .guess import gyration
from .spec import SIZE, FitSpec, Simulation


def prior(d: Draw) -> dict:
    return dict(rg=d.length(1.7))


FIT = FitSpec({"rg": SIZE}, guess=lambda v: [{"rg": r} for r in gyration(v)])

SIMULATION = Simulation()

POLYDISPERSE = ()
