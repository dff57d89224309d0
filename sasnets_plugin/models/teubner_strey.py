"""teubner_strey: Teubner-Strey model of microemulsions.

Prior: The period puts its peak in the window; xi 0.2-5 periods.
"""
from __future__ import annotations

import math
from itertools import product

from .draw import Draw
from .guess import dedupe
from .spec import LONG, FitSpec, Simulation


def prior(d: Draw) -> dict:
    period = d.length(2 * math.pi)
    sld_a, sld_b = d.sld_pair()
    return dict(d=period, xi=period * d.logu(0.2, 5.0),
                volfraction_a=d.u(0.1, 0.9), sld_a=sld_a, sld_b=sld_b)


FIT = FitSpec(
    {"d": LONG, "xi": LONG},
    guess=lambda v: [{"d": d, "xi": k * d} for d, k in product(
        dedupe(([v.spacing()] if v.q_peak else []) + v.large_lengths()[:2]), (0.3, 1.0))],
    notes="volfraction_a (degenerate with scale) fixed")

SIMULATION = Simulation()

POLYDISPERSE = ()
