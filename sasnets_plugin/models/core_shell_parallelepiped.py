"""core_shell_parallelepiped: Rectangular solid with a core-shell structure.

Prior: Each rim differs from core and solvent by at least MIN_SHELL_CONTRAST and is 8-40
% of its edge: no rim is a parallelepiped.
"""
from __future__ import annotations

from .draw import Draw
from .guess import rods
from .spec import LONG, MEDIUM, SIZE, Family, FitSpec, Simulation


def prior(d: Draw) -> dict:
    a = d.length(3.0)
    lengths = sorted([a, a * d.logu(1.0, 5.0), a * d.logu(1.0, 30.0)])
    thick = [x * d.logu(0.08, 0.4) for x in lengths]
    core, solvent = d.sld(), d.sld()
    return dict(length_a=lengths[0], length_b=lengths[1], length_c=lengths[2],
                thick_rim_a=thick[0], thick_rim_b=thick[1], thick_rim_c=thick[2],
                sld_core=core, sld_a=d.sld_apart(core, solvent),
                sld_b=d.sld_apart(core, solvent), sld_c=d.sld_apart(core, solvent),
                sld_solvent=solvent)


FIT = FitSpec(
    {"length_a": SIZE, "length_b": LONG, "length_c": LONG},
    guess=lambda v: [{"length_a": 1.5 * s, "length_b": 3 * s, "length_c": L}
                     for s, L in rods(v, 2)],
    notes="rim thicknesses held at their defaults (slow model)")

SIMULATION = Simulation(
    cost_us=382.0,
    family=Family(
    up=("length_a", "length_b", "length_c", "thick_rim_a", "thick_rim_b",
        "thick_rim_c"), **MEDIUM))

POLYDISPERSE = ("length_a", "length_b", "length_c", "thick_rim_a", "thick_rim_b", "thick_rim_c")
