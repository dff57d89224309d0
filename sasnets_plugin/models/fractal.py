"""fractal: Calculates the scattering from fractal-like aggregates of spheres following
theTexiera reference.

Prior: The building-block radius puts its knee in the window; the correlation length is
5-100x larger.
"""
from __future__ import annotations

from .draw import Draw
from .guess import clip, n_low, rods
from .spec import FAR, SIZE, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    radius = d.length(1.5)
    return dict(radius=radius, cor_length=radius * d.logu(5.0, 100.0),
                fractal_dim=d.u(1.2, 3.0), volfraction=d.logu(0.001, 0.3),
                sld_block=d.sld(), sld_solvent=d.sld())


FIT = FitSpec(
    {"radius": SIZE, "fractal_dim": value(1.0, 3.0), "cor_length": FAR},
    order=(("radius", "cor_length"),),
    guess=lambda v: [{"radius": 0.5 * s, "cor_length": L,
                      "fractal_dim": clip(n_low(v), 1.2, 2.9)} for s, L in rods(v, 3)],
    notes="volfraction (degenerate with scale) fixed")

SIMULATION = Simulation(cost_us=1.11)

POLYDISPERSE = ("radius",)
