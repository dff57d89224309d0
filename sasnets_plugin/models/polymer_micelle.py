"""polymer_micelle: Polymer micelle model.

Prior: Core volume from the core radius and aggregation number (68 % packing), corona
volume from its Rg; the corona differs from the solvent by at least MIN_SHELL_CONTRAST
(SLDs >= 0, the model's limit).
"""
from __future__ import annotations

import math

from .draw import Draw
from .spec import SIZE, Contrasts, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    radius_core = d.length(3.0)
    rg = radius_core * d.logu(0.05, 0.5)
    n_aggreg = d.integer(5, 200)
    v_core = 4 * math.pi / 3 * radius_core ** 3 / n_aggreg * 0.68
    segments = d.integer(6, 50)
    v_corona = math.pi * rg ** 3 * math.sqrt(6.0 / segments)
    solvent = d.u(0.0, 6.5)
    return dict(radius_core=radius_core, rg=rg, n_aggreg=n_aggreg,
                v_core=v_core, v_corona=v_corona, ndensity=d.logu(0.1, 50.0),
                d_penetration=d.u(0.8, 1.2), sld_solvent=solvent,
                sld_core=d.u(0.0, 6.5), sld_corona=d.sld_apart(solvent, lo=0.0, hi=6.5))


FIT = FitSpec(
    {"radius_core": SIZE, "rg": SIZE, "n_aggreg": value(1.0, 500.0, log=True),
     "d_penetration": value(0.5, 1.5)},
    guess=lambda v: [{"radius_core": 0.6 * r, "rg": 0.2 * r, "n_aggreg": n}
                     for r in v.radii()[:3] for n in (10.0, 60.0)],
    notes="block volumes fixed (their ratio is degenerate with the contrast ratio)",
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_corona",)))

SIMULATION = Simulation()

POLYDISPERSE = ()
