"""squarewell: Square well structure factor with Mean Spherical Approximation closure.

Prior: Low volume fractions (0.01-0.08), where the square-well approximation holds.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import structure
from .spec import SIZE, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    return dict(radius_effective=d.length(math.pi), volfraction=d.u(0.01, 0.08),
                welldepth=d.u(0.1, 1.5), wellwidth=d.u(1.0, 1.5))


FIT = FitSpec(
    {"radius_effective": SIZE, "volfraction": value(0.001, 0.08),
     "welldepth": value(0.0, 1.5), "wellwidth": value(1.0, 2.0)},
    guess=lambda v: [{**g, "volfraction": 0.04}
                     for g in structure({"welldepth": 1.0, "wellwidth": 1.2})(v)])

SIMULATION = Simulation()

POLYDISPERSE = ()
