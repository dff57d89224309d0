"""Prior pieces shared by sibling models (the three paracrystals, the lamellar stacks)."""
from __future__ import annotations

import math

from .draw import Draw


def paracrystal_prior(d: Draw, first_peak: float) -> dict:
    """Spheres on a lattice whose first Bragg peak, at ``q ~ first_peak * 2 pi / dnn``,
    lies in the window."""
    dnn = d.length(first_peak * 2 * math.pi)
    radius = 0.5 * dnn * d.u(0.4, 0.95)
    sld, solvent = d.sld_pair(lo=0.0)  # sc_paracrystal requires SLD >= 0
    return dict(dnn=dnn, radius=radius, d_factor=d.logu(0.01, 0.15),
                sld=sld, sld_solvent=solvent)


def stack_prior(d: Draw) -> tuple[float, float, int]:
    """(repeat distance, layer thickness, number of layers) of a lamellar stack: the
    first Bragg peak in the window, at least 2 layers (one layer is no stack)."""
    d_spacing = d.length(2 * math.pi)
    thickness = d_spacing * d.u(0.1, 0.8)
    nlayers = d.integer(2, 100)
    return d_spacing, thickness, nlayers
