"""unified_power_Rg: Unified Power Rg.

Prior: 1-4 levels, each Rg at least 4x the previous one, with G and B consistent with
Beaucage's relations.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import n_high, gyration
from .spec import LONG, FitSpec, Simulation, exp


def prior(d: Draw) -> dict:
    level = 1 + min(int(d.rng.poisson(0.7)), 3)
    # hierarchical structure: each level at least 4x larger than the previous
    rgs = [d.length(1.7)]
    for _ in range(level - 1):
        rgs.append(rgs[-1] * d.logu(4.0, 30.0))
    rgs = sorted(rgs)
    pars: dict = dict(level=level)
    g = 1.0
    for k, rg in enumerate(rgs, start=1):
        power = d.u(1.5, 4.0)
        if k > 1:
            g *= d.logu(10.0, 1e3) * (rg / rgs[k - 2]) ** 1.5
        b = g * power / rg ** power * math.gamma(power / 2.0)
        pars.update({f"rg{k}": rg, f"power{k}": power, f"G{k}": g, f"B{k}": b})
    return pars


FIT = FitSpec(
    {"rg1": LONG, "power1": exp(1.0, 6.0)},
    amplitudes=("G1", "B1"), fixed={"scale": 1.0, "level": 1},
    guess=lambda v: [{"rg1": r, "power1": n_high(v)} for r in gyration(v)],
    notes="one level")

SIMULATION = Simulation()

POLYDISPERSE = ()
