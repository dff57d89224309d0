"""superball: Superball with uniform scattering length density.

Not one of the shipped network's classes: the README's worked example of adding a model
(``python -m training.run --models +superball ...`` trains the 71 classes and this one).

Prior: exponent_p = 1 is a sphere of diameter length_a (p -> infinity a cube, p = 0.5 an
octahedron): drawn 1.5-10, rounded cubes to cubes, so no curve is a sphere in disguise.
The edge puts the cube's first form-factor minimum (q ~ 2 pi / length_a) in the window.
"""
from __future__ import annotations

import math

from .draw import Draw
from .spec import SIZE, SLOW, Family, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    sld, solvent = d.sld_pair()
    return dict(length_a=d.length(2 * math.pi), exponent_p=d.logu(1.5, 10.0),
                sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"length_a": SIZE, "exponent_p": value(0.5, 20.0, log=True)},
    guess=lambda v: [{"length_a": 2 * r, "exponent_p": p}
                     for r in v.radii()[:2] for p in (1.5, 4.0)])

# 9850 µs per q point: a size family of 16 curves shares each kernel evaluation.
SIMULATION = Simulation(cost_us=9850.0, family=Family(up=("length_a",), **SLOW))

POLYDISPERSE = ("length_a",)
