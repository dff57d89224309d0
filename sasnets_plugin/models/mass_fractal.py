"""mass_fractal: Mass Fractal model.

Prior: The building-block radius puts its knee in the window; cutoff 5-100x larger.
"""
from __future__ import annotations

from .draw import Draw
from .guess import clip, n_low, rods
from .spec import FAR, SIZE, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    radius = d.length(2.0)
    return dict(radius=radius, cutoff_length=radius * d.logu(5.0, 100.0),
                fractal_dim_mass=d.u(1.2, 3.0))


FIT = FitSpec(
    {"radius": SIZE, "fractal_dim_mass": value(1.0, 3.0), "cutoff_length": FAR},
    order=(("radius", "cutoff_length"),),
    guess=lambda v: [{"radius": 0.5 * s, "cutoff_length": L,
                      "fractal_dim_mass": clip(n_low(v), 1.2, 2.9)}
                     for s, L in rods(v, 3)])

SIMULATION = Simulation()

POLYDISPERSE = ()
