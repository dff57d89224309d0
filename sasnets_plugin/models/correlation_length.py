"""correlation_length: Calculates an empirical functional form for SAS data characterized
by a low-Q signal and a high-Q signal.

Prior: The Lorentzian is made 1-300x the Porod term at q = 1/xi, so the curve is not a
plain power law.
"""
from __future__ import annotations

from .draw import Draw
from .guess import clip, n_high, n_low, xis
from .spec import LONG, FitSpec, Simulation, exp


def prior(d: Draw) -> dict:
    xi = d.length(1.0)
    porod_exp = d.u(1.0, 4.0)
    porod_scale = 1e-6
    lorentz_scale = porod_scale * (1.0 / xi) ** -porod_exp * d.logu(1.0, 300.0)
    return dict(cor_length=xi, porod_exp=porod_exp, porod_scale=porod_scale,
                lorentz_scale=lorentz_scale, lorentz_exp=d.u(1.5, 4.0))


FIT = FitSpec(
    {"cor_length": LONG, "porod_exp": exp(), "lorentz_exp": exp(0.5, 6.0)},
    amplitudes=("lorentz_scale", "porod_scale"), fixed={"scale": 1.0},
    guess=lambda v: [{"cor_length": x, "porod_exp": clip(n_low(v), 1, 4),
                      "lorentz_exp": clip(n_high(v), 1, 4)} for x in xis(v)])

SIMULATION = Simulation()

POLYDISPERSE = ()
