"""pearl_necklace: Colloidal spheres chained together with no preferential orientation.

Prior: At least 2 pearls: one pearl is a sphere.
"""
from __future__ import annotations

from itertools import product

from .draw import Draw
from .spec import LONG, PEARLS, SIZE, Contrasts, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    radius = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, edge_sep=radius * d.logu(0.2, 10.0),
                thick_string=radius * d.logu(0.02, 0.3),
                num_pearls=d.integer(2, 20), sld=sld,
                sld_string=d.sld(), sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "edge_sep": LONG, "thick_string": SIZE, "num_pearls": PEARLS},
    guess=lambda v: [{"radius": r, "edge_sep": k * r, "thick_string": 0.1 * r}
                     for r, k in product(v.radii()[:3], (0.5, 2.0))],
    contrasts=Contrasts("sld_solvent", "sld", ("sld_string",)))

SIMULATION = Simulation()

POLYDISPERSE = ("radius", "edge_sep", "thick_string")

#: Exact limit: one pearl (no string) is a sphere.
NESTED = (Nested(
    "sphere",
    limit=lambda p: {**p, "num_pearls": 1},
    same=lambda p: {"radius": p["radius"], "sld": p["sld"], "sld_solvent": p["sld_solvent"]}),)
