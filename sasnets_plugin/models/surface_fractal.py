"""surface_fractal: Fractal-like aggregates based on the Mildner reference.

Prior: The sasmodels formula is only positive (valid) for atan(q xi) > pi/(5 - Ds); the
kernel clamps it to 0 below, so the cutoff length keeps that region under the window.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import clip, n_high, rods
from .spec import FAR, SIZE, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    # The sasmodels formula (sin(-(5-Ds) atan(q xi)) / q) is only positive,
    # hence only valid, for atan(q xi) > pi/(5-Ds); the kernel clamps it to 0
    # below.  Keep that region under the window: xi > tan(pi/(5-Ds)) / q_min.
    radius = d.length(1.5)
    dim = d.u(1.1, 2.9)
    xi_min = 1.5 * math.tan(math.pi / (5.0 - dim)) / (0.5 * d.q_lo)
    return dict(radius=radius, fractal_dim_surf=dim,
                cutoff_length=max(radius * d.logu(10.0, 1000.0), xi_min * d.logu(1.0, 10.0)))


FIT = FitSpec(
    {"radius": SIZE, "fractal_dim_surf": value(1.0, 3.0), "cutoff_length": FAR},
    order=(("radius", "cutoff_length"),),
    guess=lambda v: [{"radius": 0.5 * s, "cutoff_length": L,
                      "fractal_dim_surf": clip(6 - n_high(v), 1.1, 2.9)}
                     for s, L in rods(v, 2)])

SIMULATION = Simulation()

POLYDISPERSE = ()
