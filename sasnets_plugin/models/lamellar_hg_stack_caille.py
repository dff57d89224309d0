"""lamellar_hg_stack_caille: Random lamellar head/tail/tail/head sheet with Caille
structure factor.

Prior: At least 2 layers (one layer is lamellar_hg) and head contrast as in lamellar_hg;
Caille parameters 0.005-0.4.
"""
from __future__ import annotations

from .draw import Draw
from .guess import spacings
from .shared import stack_prior
from .spec import LAYERS, SIZE, Contrasts, FitSpec, Nested, Simulation, value


def prior(d: Draw) -> dict:
    d_spacing, thickness, nlayers = stack_prior(d)
    head = 0.5 * thickness * d.u(0.2, 0.6)
    tail, solvent = d.sld(), d.sld()
    return dict(d_spacing=d_spacing, length_tail=0.5 * thickness - head,
                length_head=head, Nlayers=nlayers,
                Caille_parameter=d.logu(0.005, 0.4),
                sld=tail, sld_head=d.sld_apart(tail, solvent), sld_solvent=solvent)


FIT = FitSpec(
    {"length_tail": SIZE, "length_head": SIZE, "d_spacing": SIZE,
     "Caille_parameter": value(0.001, 0.8), "Nlayers": LAYERS},
    guess=lambda v: [{"d_spacing": d, "length_tail": 0.2 * d, "length_head": 0.08 * d,
                      "Caille_parameter": 0.1} for d in spacings(v)],
    contrasts=Contrasts("sld_solvent", "sld", ("sld_head",)))

SIMULATION = Simulation(cost_us=1.2)

POLYDISPERSE = ("length_tail", "length_head", "d_spacing")

#: Exact limit: one layer is a single head-group bilayer.
NESTED = (Nested(
    "lamellar_hg",
    limit=lambda p: {**p, "Nlayers": 1},
    same=lambda p: {"length_tail": p["length_tail"], "length_head": p["length_head"],
                    "sld": p["sld"], "sld_head": p["sld_head"], "sld_solvent": p["sld_solvent"]}),)
