"""pringle: The Pringle model provides the form factor, $P(q)$, for a 'pringle' or 'saddle-
shaped' disc that is bent in two directions.

Prior: Saddle-shaped discs of 20-500 A (larger ones also cost seconds per curve); the
curvatures alpha, beta (1/A) keep alpha R^2 and beta R^2 comparable to the radius so the
saddle shape matters (zero curvature is a flat disc, a cylinder).
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .guess import thicknesses
from .spec import SIZE, SLOW, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    # saddle-shaped discs of 20-500 A (larger ones also cost seconds per curve)
    radius = d.length_in(2.5, 20.0, 500.0)
    sld, solvent = d.sld_pair()
    # alpha and beta are curvatures (1/Ang): keep alpha*R^2 and beta*R^2
    # comparable to the radius so the saddle shape matters.
    return dict(radius=radius, thickness=radius * d.logu(0.02, 0.4),
                alpha=d.logu(0.01, 0.5) / radius, beta=d.logu(0.01, 0.5) / radius,
                sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thickness": SIZE},
    guess=lambda v: [{"radius": R, "thickness": T}
                     for R, T in product(v.radii()[:2], thicknesses(v)[:2])],
    notes="curvatures alpha, beta held at their defaults (slow model)")

SIMULATION = Simulation(
    cost_us=1240.0,
    family=Family(up=("radius", "thickness"), down=("alpha", "beta"),
                  **SLOW))

POLYDISPERSE = ("radius", "thickness")
