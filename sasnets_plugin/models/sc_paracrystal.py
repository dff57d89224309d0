"""sc_paracrystal: Simple cubic lattice with paracrystalline distortion.

Prior: As bcc_paracrystal: the first simple-cubic Bragg peak (q = 2 pi / dnn) in the
window, no size polydispersity in training; SLDs >= 0 (the kernel's limit).
"""
from __future__ import annotations

from .draw import Draw
from .guess import paracrystal
from .shared import paracrystal_prior
from .spec import LATTICE, SIZE, Family, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    return paracrystal_prior(d, 1.0)


FIT = FitSpec(
    {"dnn": SIZE, "d_factor": value(0.001, 0.5), "radius": SIZE},
    order=(("radius", "dnn"),), guess=paracrystal(1.0))

SIMULATION = Simulation(cost_us=1450.0, family=Family(up=("dnn", "radius"), **LATTICE))

POLYDISPERSE = ("radius",)
