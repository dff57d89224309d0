"""fractal_core_shell: Scattering from a fractal structure formed from core shell spheres.

Prior: Shell contrast as for every core-shell model (no contrast: the fractal model).
"""
from __future__ import annotations

from .draw import Draw
from .guess import clip, n_low, shells
from .spec import FAR, SIZE, Contrasts, FitSpec, Simulation, value


def prior(d: Draw) -> dict:
    outer = d.length(2.0)
    thickness = outer * d.logu(0.1, 0.6)
    core, solvent = d.sld(), d.sld()
    return dict(radius=outer - thickness, thickness=thickness,
                cor_length=outer * d.logu(5.0, 100.0),
                fractal_dim=d.u(1.2, 3.0), volfraction=d.logu(0.001, 0.3),
                sld_core=core, sld_shell=d.sld_apart(core, solvent), sld_solvent=solvent)


FIT = FitSpec(
    {"radius": SIZE, "thickness": SIZE, "fractal_dim": value(1.0, 3.0), "cor_length": FAR},
    order=(("radius", "cor_length"),),
    guess=lambda v: [g for L in v.large_lengths()[:3]
                     for g in shells(v.radii()[:2], (0.03, 0.2, 0.5), cor_length=L,
                                      fractal_dim=clip(n_low(v), 1.2, 2.9))],
    notes="volfraction (degenerate with scale) fixed",
    contrasts=Contrasts("sld_solvent", "sld_core", ("sld_shell",)))

SIMULATION = Simulation(cost_us=1.28)

POLYDISPERSE = ("radius", "thickness")
