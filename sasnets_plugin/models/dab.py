"""dab: DAB (Debye Anderson Brumberger) Model.

Prior: The Debye-Anderson-Brumberger knee (q = 1/cor_length) is put in the window.
Nothing simpler is nested in it.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import xis
from .spec import LONG, FitSpec, Simulation


def prior(d: Draw) -> dict:
    return dict(cor_length=d.length(1.0))


FIT = FitSpec(
    {"cor_length": LONG},
    guess=lambda v: [{"cor_length": x} for x in xis(v) + [x / math.sqrt(2) for x in xis(v)]])

SIMULATION = Simulation()

POLYDISPERSE = ()
