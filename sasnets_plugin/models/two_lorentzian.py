"""two_lorentzian: This model calculates an empirical functional form for SAS data
characterized by two Lorentzian-type functions.

Prior: The second length is 1-30 % of the first and its amplitude 1e-3-1: equal lengths
are one Lorentzian.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import xis
from .spec import LONG, FitSpec, Simulation, exp


def prior(d: Draw) -> dict:
    l1 = d.length(1.0)
    return dict(lorentz_length_1=l1, lorentz_length_2=l1 * d.logu(0.01, 0.3),
                lorentz_exp_1=d.u(1.5, 4.0), lorentz_exp_2=d.u(1.5, 4.0),
                lorentz_scale_1=1.0, lorentz_scale_2=d.logu(1e-3, 1.0))


FIT = FitSpec(
    {"lorentz_length_1": LONG, "lorentz_exp_1": exp(0.5, 6.0),
     "lorentz_length_2": LONG, "lorentz_exp_2": exp(0.5, 6.0)},
    amplitudes=("lorentz_scale_1", "lorentz_scale_2"), fixed={"scale": 1.0},
    order=(("lorentz_length_2", "lorentz_length_1"),),
    guess=lambda v: [{"lorentz_length_1": L, "lorentz_exp_1": 2.0,
                      "lorentz_length_2": min(x, 0.5 * L), "lorentz_exp_2": 2.0}
                     for L, x in product(v.large_lengths()[:3], xis(v)[:2])])

SIMULATION = Simulation()

POLYDISPERSE = ()
