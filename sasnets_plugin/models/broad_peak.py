"""broad_peak: Broad peak on top of a power law decay.

Prior: The peak is put in the window and made 0.3-300x the Porod term there, so that
neither term alone (a power law, a peak) describes the curve.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import clip, n_low, peak_q
from .spec import LONG, QPOS, FitSpec, Simulation, exp


def prior(d: Draw) -> dict:
    peak_pos = d.qstar(2.0)
    porod_exp = d.u(1.0, 4.5)
    porod_scale = 1e-6
    peak_scale = porod_scale / peak_pos ** porod_exp * d.logu(0.3, 300.0)
    return dict(porod_scale=porod_scale, porod_exp=porod_exp,
                peak_scale=peak_scale, peak_pos=peak_pos,
                correlation_length=d.logu(3.0, 50.0) / peak_pos,
                width_exp=d.u(1.0, 4.0), shape_exp=d.u(1.0, 3.0))


FIT = FitSpec(
    {"porod_exp": exp(), "correlation_length": LONG, "peak_pos": QPOS,
     "width_exp": exp(0.5, 6.0)},
    amplitudes=("porod_scale", "peak_scale"), fixed={"scale": 1.0},
    guess=lambda v: [{"peak_pos": q, "correlation_length": k / q, "width_exp": 2.0,
                      "porod_exp": clip(n_low(v), 1, 4)}
                     for q, k in product(peak_q(v)[:3], (3.0, 10.0))],
    notes="shape_exp held at 1")

SIMULATION = Simulation()

POLYDISPERSE = ()
