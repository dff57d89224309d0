"""porod: Porod function.

Prior: No free shape parameter: I = scale/q^4.
"""
from __future__ import annotations

from .draw import Draw
from .spec import FitSpec, Simulation


def prior(d: Draw) -> dict:
    return {}


FIT = FitSpec({}, guess=lambda v: [{}])

SIMULATION = Simulation()

POLYDISPERSE = ()
