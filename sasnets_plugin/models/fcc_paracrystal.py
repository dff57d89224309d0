"""fcc_paracrystal: Face-centred cubic lattic with paracrystalline distortion.

Prior: As bcc_paracrystal: the first fcc Bragg peak in the window, no size
polydispersity in training.
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
    order=(("radius", "dnn"),), guess=paracrystal(math.sqrt(3) / math.sqrt(2)))

SIMULATION = Simulation(cost_us=1570.0, family=Family(up=("dnn", "radius"), **LATTICE))

POLYDISPERSE = ("radius",)
