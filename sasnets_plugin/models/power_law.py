"""power_law: Simple power law with a flat background.

Prior: Exponents 1-4.5.
"""
from __future__ import annotations

from .draw import Draw
from .guess import clip, dedupe, n_high, n_low
from .spec import FitSpec, Simulation, exp


def prior(d: Draw) -> dict:
    return dict(power=d.u(1.0, 4.5))


FIT = FitSpec(
    {"power": exp()},
    guess=lambda v: [{"power": p} for p in dedupe([n_high(v), clip(n_low(v), 0.5, 6),
                                                 0.5 * (n_high(v) + n_low(v))])])

SIMULATION = Simulation()

POLYDISPERSE = ()
