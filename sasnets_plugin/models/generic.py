"""What the project can say about a sasmodels model that has no file here.

Everything is read off sasmodels' parameter table (units, limits, defaults), so
``--models all`` and fits of any model work, less well than a model with its own file:

* prior: lengths (Å) at ``0.5..5 / q*`` for one feature position ``q*`` in the window,
  1/Å parameters at ``q*``, SLDs in the usual range, bounded values uniformly, others
  around their defaults;
* fit: lengths (Å) become *size* (*long* when named ``length``) parameters, 1/Å ones
  *qpos*, Å² ones *area*, exponents (names with ``exp``/``power``/``dim``) 0..6; the rest
  (SLDs, orientations, volume fractions, physical constants) is held;
* simulation cost: measured for the models listed in :data:`MEASURED_COST_US`, else 1 µs
  per point;
* polydispersity: every polydisperse volume parameter in Å.
"""
from __future__ import annotations

import math
from functools import partial

from .draw import Draw, clip
from .spec import AREA, LONG, QPOS, SIZE, FitSpec, Free, Model, Simulation, exp

#: Kernel time per q point (µs) of sasmodels models without a file here, measured with
#: ``python -m training.simulate NAME`` (2-core x86 box, sasmodels 1.1.0 DLL kernels).
MEASURED_COST_US = {
    "prism": 594.0, "core_shell_bicelle_elliptical_belt_rough": 484.0,
    "micromagnetic_FF_3D": 475.0, "truncated_tetrahedron": 305.0, "two_yukawa": 205.0,
    "truncated_octahedron": 176.0, "tetrahedron": 100.0, "spherical_sld": 35.1,
    "core_multi_shell": 2.11, "onion": 1.85, "rpa": 1.04,
}

#: Parameter names the generic fit holds (contrasts, orientations, amplitudes, constants).
_HELD_WORDS = ("sld", "theta", "phi", "psi", "up_", "magnetic", "volfraction", "scale",
               "background", "temperature", "dielect", "bjerrum", "concentration")


def prior(info, d: Draw) -> dict:
    """One parameter set for ``info`` (a sasmodels ModelInfo) in the window of ``d``."""
    pars: dict = {}
    qstar = d.qstar()
    for p in info.parameters.kernel_parameters:
        if p.type in ("orientation", "magnetic") or p.length > 1:
            continue
        lo, hi = p.limits
        if p.choices:
            pars[p.name] = int(d.rng.integers(len(p.choices)))
        elif p.type == "sld":
            pars[p.name] = d.sld(max(lo, -0.5), min(hi, 7.0))
        elif p.units == "Ang":
            value = d.logu(0.5, 5.0) / qstar
            pars[p.name] = clip(value, max(lo, 1.0) if lo >= 0 else lo, hi)
        elif p.units in ("1/Ang", "1/A"):
            pars[p.name] = clip(qstar, lo, hi)
        elif math.isfinite(lo) and math.isfinite(hi):
            pars[p.name] = d.u(lo, hi)
        else:
            default = float(p.default)
            if default == 0.0:
                pars[p.name] = 0.0
            else:
                value = default * d.logu(0.5, 2.0)
                pars[p.name] = clip(value, lo, hi)
    return pars


def fit_spec(info) -> FitSpec:
    """The generic fit rule for ``info`` (see the module docstring)."""
    free: dict[str, Free] = {}
    for p in info.parameters.kernel_parameters:
        if p.type in ("sld", "orientation", "magnetic") or p.length > 1:
            continue
        if any(w in p.name.lower() for w in _HELD_WORDS):
            continue
        units = (p.units or "").strip()
        if units == "Ang":
            free[p.name] = LONG if "length" in p.name else SIZE
        elif units in ("1/Ang", "Ang^-1"):
            free[p.name] = QPOS
        elif units == "Ang^2":
            free[p.name] = AREA
        elif any(w in p.name.lower() for w in ("exp", "power", "dim")):
            free[p.name] = exp()

    def guess(v):
        return [{name: r for name, f in free.items() if f.role in ("size", "long")}
                for r in v.radii()[:3]]

    return FitSpec(free, guess=guess, notes="generic rule (model without its own file)")


def polydisperse(info) -> tuple[str, ...]:
    """Size parameters sasmodels can make polydisperse."""
    return tuple(p.name for p in info.parameters.kernel_parameters
                 if p.polydisperse and p.type == "volume" and p.units == "Ang"
                 and p.length == 1)


def model(info) -> Model:
    """The generic :class:`Model` of ``info``."""
    return Model(info.id, partial(prior, info), fit_spec(info),
                 Simulation(MEASURED_COST_US.get(info.id, 1.0)), polydisperse(info),
                 doc=__doc__)
