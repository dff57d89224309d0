"""mass_surface_fractal: Mass Surface Fractal model.

Prior: The cluster Rg puts its knee in the window; primary particles 1-20 % of it.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, SIZE, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    rg_cluster = d.length(1.5)
    return dict(rg_cluster=rg_cluster, rg_primary=rg_cluster * d.logu(0.01, 0.2),
                fractal_dim_mass=d.u(1.2, 3.0), fractal_dim_surf=d.u(1.2, 3.0))


FIT = FitSpec(
    {"fractal_dim_mass": value(1.0, 3.0), "fractal_dim_surf": value(1.0, 3.0),
     "rg_cluster": LONG, "rg_primary": SIZE},
    order=(("rg_primary", "rg_cluster"),),
    guess=lambda v: [{"rg_primary": s, "rg_cluster": L, "fractal_dim_mass": 1.8,
                      "fractal_dim_surf": 2.3} for s, L in rods(v, 2)])

SIMULATION = Simulation()

POLYDISPERSE = ()
