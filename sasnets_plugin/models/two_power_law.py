"""two_power_law: This model calculates an empirical functional form for SAS data
characterized by two power laws.

Prior: The exponents differ by at least 0.5: equal exponents are power_law.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import dedupe, n_high, n_low
from .spec import QPOS, FitSpec, Nested, Simulation, exp


def prior(d: Draw) -> dict:
    p1 = d.u(0.5, 4.5)
    while True:
        p2 = d.u(1.0, 5.0)
        if abs(p2 - p1) >= 0.5:
            break
    # NB: the sasmodels parameter really is spelled "coefficent_1".
    return dict(coefficent_1=1.0, crossover=d.qstar(1.5), power_1=p1, power_2=p2)


FIT = FitSpec(
    {"crossover": QPOS, "power_1": exp(), "power_2": exp()},
    guess=lambda v: [{"crossover": q, "power_1": n_low(v), "power_2": n_high(v)}
                     for q in dedupe(([v.q_break] if v.q_break else [])
                                  + [math.sqrt(v.q_min * v.q_max)])],
    notes="coefficent_1 held at 1 (scale is the amplitude)")

SIMULATION = Simulation()

POLYDISPERSE = ()

#: Exact limit: equal exponents are one power law.
NESTED = (Nested(
    "power_law",
    limit=lambda p: {**p, "power_2": p["power_1"]},
    same=lambda p: {"power": p["power_1"]}),)
