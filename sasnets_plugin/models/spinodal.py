"""spinodal: Spinodal decomposition model.

Prior: The peak position q_0 is put in the window.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import peak_q
from .spec import QPOS, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    return dict(q_0=d.qstar(1.5), gamma=d.u(2.0, 6.0))


FIT = FitSpec(
    {"gamma": value(1.0, 8.0), "q_0": QPOS},
    guess=lambda v: [{"q_0": q, "gamma": g} for q, g in product(peak_q(v)[:3], (3.0, 4.0))])

SIMULATION = Simulation()

POLYDISPERSE = ()
