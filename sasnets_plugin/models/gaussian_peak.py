"""gaussian_peak: Gaussian shaped peak.

Prior: The peak position is put in the window, widths 3-40 % of it.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import peak_q
from .spec import QPOS, QWIDTH, FitSpec, Simulation


def prior(d: Draw) -> dict:
    q0 = d.qstar(1.3)
    return dict(peak_pos=q0, sigma=q0 * d.logu(0.03, 0.4))


FIT = FitSpec(
    {"peak_pos": QPOS, "sigma": QWIDTH},
    guess=lambda v: [{"peak_pos": q, "sigma": w * q}
                     for q, w in product(peak_q(v)[:3], (0.1, 0.3))])

SIMULATION = Simulation()

POLYDISPERSE = ()
