"""line: Line model.

Prior: Mostly rising lines whose linear term equals the intercept inside the window;
otherwise decreasing lines that stay positive in it.
"""
from __future__ import annotations

from .draw import Draw
from .spec import FitSpec, Simulation


def prior(d: Draw) -> dict:
    intercept = d.logu(0.1, 10.0)
    qc = d.qstar(1.2)  # where the linear term equals the intercept
    if d.chance(0.8):
        slope = intercept / qc
    else:  # decreasing line that stays positive in the window
        slope = -intercept / d.q_hi * d.u(0.05, 0.7)
    return dict(intercept=intercept, slope=slope)


FIT = FitSpec({}, amplitudes=("intercept", "slope"), fixed={"scale": 1.0},
                  background=False, signed=True, guess=lambda v: [{}])

SIMULATION = Simulation()

POLYDISPERSE = ()
