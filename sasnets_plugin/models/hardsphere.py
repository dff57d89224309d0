"""hardsphere: Hard sphere structure factor, with Percus-Yevick closure.

Prior: The main peak near q = 2 pi/(2 R) is put in the window; volume fractions
0.05-0.5.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import structure
from .spec import FRAC, SIZE, FitSpec, Simulation


def prior(d: Draw) -> dict:
    # main peak at q ~ 2 pi / (2 R)
    return dict(radius_effective=d.length(math.pi), volfraction=d.u(0.05, 0.5))


FIT = FitSpec(
    {"radius_effective": SIZE, "volfraction": FRAC}, guess=structure({}))

SIMULATION = Simulation()

POLYDISPERSE = ()
