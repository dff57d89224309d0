"""bcc_paracrystal: Body-centred cubic lattic with paracrystalline distortion.

Prior: The first Bragg peak of the bcc lattice (q = sqrt(3/2) 2 pi / dnn) is put in the
window; spheres fill 40-95 % of the nearest-neighbour distance. No size polydispersity
in training: it only damps the sphere form factor while costing 5x the kernel points,
and d_factor already broadens the peaks.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import paracrystal
from .shared import paracrystal_prior
from .spec import LATTICE, SIZE, Family, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    return paracrystal_prior(d, math.sqrt(3.0) / math.sqrt(2.0))


FIT = FitSpec(
    {"dnn": SIZE, "d_factor": value(0.001, 0.5), "radius": SIZE},
    order=(("radius", "dnn"),), guess=paracrystal(math.sqrt(2) * math.sqrt(3) / 2))

SIMULATION = Simulation(cost_us=1550.0, family=Family(up=("dnn", "radius"), **LATTICE))

POLYDISPERSE = ("radius",)
