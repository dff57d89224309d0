"""gel_fit: Fitting using fine-scale polymer distribution in a gel.

Prior: The Guinier knee is put in the window, the Lorentzian correlation length 2-50 %
of Rg.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import xis, gyration
from .spec import LONG, FitSpec, Simulation, exp


def prior(d: Draw) -> dict:
    rg = max(d.length(2.0), 2.0)
    return dict(rg=rg, cor_length=rg * d.logu(0.02, 0.5),
                fractal_dim=d.u(1.0, 3.0), guinier_scale=1.0,
                lorentz_scale=d.logu(0.01, 1.0))


FIT = FitSpec(
    {"rg": LONG, "fractal_dim": exp(0.5, 6.0), "cor_length": LONG},
    amplitudes=("guinier_scale", "lorentz_scale"), fixed={"scale": 1.0},
    guess=lambda v: [{"rg": R, "cor_length": x, "fractal_dim": 2.0}
                     for R, x in product(gyration(v)[:2] + v.large_lengths()[:2], xis(v)[:2])])

SIMULATION = Simulation()

POLYDISPERSE = ()
