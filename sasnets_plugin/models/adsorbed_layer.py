"""adsorbed_layer: Scattering from an adsorbed layer on particles.

Prior: The knee of I ~ exp(-(q sigma)^2)/q^2 sits at q = 1/second_moment: the prior puts
it in the window.
"""
from __future__ import annotations

from .draw import Draw, clip
from .guess import rods
from .spec import LONG, SIZE, FitSpec, Simulation


def prior(d: Draw) -> dict:
    # I ~ exp(-(q sigma)^2)/q^2: the knee sits at q = 1/second_moment.
    return dict(
        second_moment=clip(d.length(1.0), 2.0, 5000.0),
        adsorbed_amount=d.u(0.5, 5.0), density_shell=d.u(0.5, 1.5),
        radius=d.logu(100.0, 5000.0), volfraction=d.logu(0.01, 0.3),
        sld_shell=d.sld(), sld_solvent=d.sld())


FIT = FitSpec(
    {"second_moment": SIZE, "radius": LONG},
    guess=lambda v: [{"second_moment": s, "radius": L} for s, L in rods(v, 2)])

SIMULATION = Simulation(cost_us=1.19)

POLYDISPERSE = ()
