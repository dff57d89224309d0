"""lamellar_stack_caille: Random lamellar sheet with Caille structure factor.

Prior: At least 2 layers: one layer is lamellar.
"""
from __future__ import annotations

from .draw import Draw
from .guess import spacings
from .shared import stack_prior
from .spec import LAYERS, SIZE, FitSpec, Nested, Simulation, value


def prior(d: Draw) -> dict:
    d_spacing, thickness, nlayers = stack_prior(d)
    sld, solvent = d.sld_pair()
    return dict(d_spacing=d_spacing, thickness=thickness, Nlayers=nlayers,
                Caille_parameter=d.logu(0.005, 0.4), sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"thickness": SIZE, "d_spacing": SIZE, "Caille_parameter": value(0.001, 0.8),
     "Nlayers": LAYERS},
    guess=lambda v: [{"d_spacing": d, "thickness": 0.3 * d, "Caille_parameter": 0.1}
                     for d in spacings(v)])

SIMULATION = Simulation(cost_us=1.12)

POLYDISPERSE = ("thickness", "d_spacing")

#: Exact limit: one layer is a single sheet.
NESTED = (Nested(
    "lamellar",
    limit=lambda p: {**p, "Nlayers": 1},
    same=lambda p: {"thickness": p["thickness"], "sld": p["sld"],
                    "sld_solvent": p["sld_solvent"]}),)
