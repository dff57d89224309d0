"""stickyhardsphere: 'Sticky' hard sphere structure factor with Percus-Yevick closure.

Prior: Draws where Baxter's adhesive-sphere solution does not exist (the kernel returns
S(q) = -1) are redrawn.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import structure
from .spec import FRAC, SIZE, FitSpec, Simulation, value


def _sticky_ok(volfraction: float, perturb: float, stickiness: float) -> bool:
    """Baxter's adhesive sphere solution exists (real, physical root lambda);
    otherwise the sasmodels kernel returns S(q) = -1."""
    eta = volfraction / (1.0 - perturb) ** 3
    qa = eta / 6.0
    qb = stickiness + eta / (1.0 - eta)
    qc = (1.0 + eta / 2.0) / (1.0 - eta) ** 2
    disc = qb * qb - 2.0 * qa * qc
    if disc < 0:
        return False
    lam = min((qb - math.sqrt(disc)) / qa, (qb + math.sqrt(disc)) / qa)
    return lam * eta * (1.0 - eta) <= 1.0 + 2.0 * eta


def prior(d: Draw) -> dict:
    radius = d.length(math.pi)
    while True:
        pars = dict(radius_effective=radius, volfraction=d.u(0.02, 0.4),
                    perturb=d.u(0.01, 0.1), stickiness=d.u(0.05, 0.4))
        if _sticky_ok(pars["volfraction"], pars["perturb"], pars["stickiness"]):
            return pars


FIT = FitSpec(
    {"radius_effective": SIZE, "volfraction": FRAC,
     "stickiness": value(0.01, 5.0, log=True), "perturb": value(0.01, 0.1)},
    guess=structure({"stickiness": 0.3, "perturb": 0.05}))

SIMULATION = Simulation()

POLYDISPERSE = ()
