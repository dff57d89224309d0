"""lamellar_hg: Random lamellar phase with Head and Tail Groups.

Prior: The head group differs from tail and solvent by at least MIN_SHELL_CONTRAST and
is 20-60 % of the half bilayer: without head contrast the bilayer is lamellar.
"""
from __future__ import annotations

import math

from .draw import Draw
from .guess import thicknesses
from .spec import SIZE, Contrasts, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    total = d.length(2 * math.pi)  # full bilayer = 2 (tail + head)
    head = 0.5 * total * d.u(0.2, 0.6)
    tail, solvent = d.sld(), d.sld()
    return dict(length_tail=0.5 * total - head, length_head=head,
                sld=tail, sld_head=d.sld_apart(tail, solvent), sld_solvent=solvent)


FIT = FitSpec(
    {"length_tail": SIZE, "length_head": SIZE},
    guess=lambda v: [{"length_tail": 0.35 * t, "length_head": 0.15 * t}
                     for t in thicknesses(v)],
    contrasts=Contrasts("sld_solvent", "sld", ("sld_head",)))

SIMULATION = Simulation()

POLYDISPERSE = ("length_tail", "length_head")

#: Exact limit: head groups like the tails are a plain sheet.
NESTED = (Nested(
    "lamellar",
    limit=lambda p: {**p, "sld_head": p["sld"]},
    same=lambda p: {"thickness": 2 * (p["length_tail"] + p["length_head"]), "sld": p["sld"],
                    "sld_solvent": p["sld_solvent"]}),)
