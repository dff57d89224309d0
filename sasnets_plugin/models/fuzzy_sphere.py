"""fuzzy_sphere: Scattering from spheres with a Gaussian interface.

Prior: Fuzziness is 8-35 % of the radius: zero fuzziness is a sphere.
"""
from __future__ import annotations

from .draw import Draw
from .spec import SIZE, FitSpec, Nested, Simulation


def prior(d: Draw) -> dict:
    radius = d.length(3.0)
    sld, solvent = d.sld_pair()
    return dict(radius=radius, fuzziness=radius * d.logu(0.08, 0.35),
                sld=sld, sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "fuzziness": SIZE},
    guess=lambda v: [{"radius": r, "fuzziness": f * r}
                     for r in v.radii()[:3] for f in (0.02, 0.08, 0.2)])

SIMULATION = Simulation()

POLYDISPERSE = ("radius", "fuzziness")

#: Exact limit: no fuzziness is a sphere.
NESTED = (Nested(
    "sphere",
    limit=lambda p: {**p, "fuzziness": 0.0},
    same=lambda p: {"radius": p["radius"], "sld": p["sld"], "sld_solvent": p["sld_solvent"]}),)
