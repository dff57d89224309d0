"""guinier_porod: Guinier-Porod function.

Prior: porod_exp exceeds the dimension variable s by at least 0.5 (their equality has no
Guinier-Porod crossover).
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import n_high, gyration
from .spec import LONG, FitSpec, Simulation, exp, value


def prior(d: Draw) -> dict:
    s = d.u(0.0, 2.5)
    return dict(rg=d.length(1.7), s=s, porod_exp=s + d.u(0.5, 3.0))


FIT = FitSpec(
    {"rg": LONG, "s": value(0.0, 2.9), "porod_exp": exp(0.5, 6.0)},
    guess=lambda v: [{"rg": r, "s": s, "porod_exp": max(n_high(v), s + 0.5)}
                     for r, s in product(gyration(v)[:3], (0.0, 1.0, 2.0))])

SIMULATION = Simulation()

POLYDISPERSE = ()
