"""gauss_lorentz_gel: Gauss Lorentz Gel model of scattering from a gel structure.

Prior: The dynamic length is 2-50 % of the static one, and the Lorentzian 0.01-3x the
Gaussian: either term alone would be a Gaussian or a Lorentzian.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import xis
from .spec import LONG, FitSpec, Simulation


def prior(d: Draw) -> dict:
    xs = d.length(1.5)
    return dict(cor_length_static=xs, cor_length_dynamic=xs * d.logu(0.02, 0.5),
                gauss_scale=100.0, lorentz_scale=100.0 * d.logu(0.01, 3.0))


FIT = FitSpec(
    {"cor_length_static": LONG, "cor_length_dynamic": LONG},
    amplitudes=("gauss_scale", "lorentz_scale"), fixed={"scale": 1.0},
    guess=lambda v: [{"cor_length_static": L, "cor_length_dynamic": x}
                     for L, x in product(v.large_lengths()[:3], xis(v)[:2])])

SIMULATION = Simulation()

POLYDISPERSE = ()
