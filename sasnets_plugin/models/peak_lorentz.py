"""peak_lorentz: A Lorentzian peak on a flat background.

Prior: The peak position is put in the window, half widths 2-50 % of it.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import peak_q
from .spec import QPOS, QWIDTH, FitSpec, Simulation


def prior(d: Draw) -> dict:
    q0 = d.qstar(1.3)
    return dict(peak_pos=q0, peak_hwhm=q0 * d.logu(0.02, 0.5))


FIT = FitSpec(
    {"peak_pos": QPOS, "peak_hwhm": QWIDTH},
    guess=lambda v: [{"peak_pos": q, "peak_hwhm": w * q}
                     for q, w in product(peak_q(v)[:3], (0.1, 0.3))])

SIMULATION = Simulation()

POLYDISPERSE = ()
