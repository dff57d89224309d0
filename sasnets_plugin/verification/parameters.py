"""Which parameters of each sasmodels model are fitted, within which bounds, from where.

For every model the verification varies:

* the **linear amplitudes** — ``scale`` (or, for models that carry their own
  amplitudes such as ``broad_peak``'s ``porod_scale``/``peak_scale``, those, with
  ``scale`` held at 1) and ``background``. Being linear, they are never guessed: for
  any trial shape they are solved exactly by non-negative least squares (amplitudes
  and background are kept >= 0; only ``line``'s intercept and slope are signed);
* the **shape parameters** that change the curve's form: sizes (radius, length,
  thickness, Rg, correlation length...), aspect ratios, power-law exponents, peak
  positions and widths, structure-factor volume fractions.

Polydispersity: models with a polydisperse size parameter (a sasmodels *volume*
parameter in Å) get, on the first such fitted parameter (the *main size*, see
:attr:`Setup.pd`), a gaussian relative width ``<size>_pd`` in :data:`PD_BOUNDS`
integrated on :data:`PD_N` points (3 sigma). It is freed in a last refinement stage
only (it makes every evaluation :data:`PD_N` times dearer) but always counted in
``n_free``, so AIC/BIC stay honest.

Contrasts: with one contrast (particle against solvent) the SLDs only rescale I(q) and
are degenerate with ``scale``, so they are held at the defaults. Models with several
components (core-shell particles, head-group lamellae, micelle coronas, binary
mixtures: :data:`CONTRASTS`) change *shape* with the ratio of their contrasts, so the
fit works in relative contrast: solvent SLD 0, a reference component 1, and the other
components' SLDs fitted in :data:`CONTRAST_BOUNDS` (``scale`` carries the absolute
contrast).

Integer counts that shape the curve (number of layers, pearls, shells, stacked disks:
role ``count``) cannot be moved by a least-squares fit: the starts try a few values,
each refinement holds its count, and an integer search follows each refinement (see
:mod:`.fitting`). They count in ``n_free``.

Held at the model defaults: volume fractions that only multiply I(q), orientation
angles (1D data are orientationally averaged), other polydispersities (0), physical
constants (temperature, Bjerrum length, dielectric constant...), and a few secondary
parameters of the slowest models (documented in the table).

Bounds come from the *role* of a parameter relative to the data's q window
(``q_min``..``q_max``), intersected with the model's own limits:

=========  =====================================  ===================================
role       meaning                                bounds
=========  =====================================  ===================================
size       a length the window can resolve        ``0.3/q_max`` .. ``4/q_min``
long       a length that may exceed the window    ``0.3/q_max`` .. ``40/q_min``
           (rod length, cluster size, cutoff)
area       a squared length (star ``rg_squared``) square of the *size* bounds
ratio      aspect ratio                           0.05 .. 20
qpos       a peak / crossover position (1/Å)      ``q_min/3`` .. ``1.5 q_max``
qwidth     a peak width (1/Å)                     ``q_min/30`` .. ``q_max``
frac       structure-factor volume fraction       0.001 .. 0.6
contrast   SLD relative to the reference          :data:`CONTRAST_BOUNDS`
count      integer count                          its ``choices`` (min .. max)
value      anything else                          explicit in the table
=========  =====================================  ===================================

Start values: each model has a *guess* rule mapping the curve
:class:`~.invariants.Invariants` (Guinier radius, dip and peak positions, slopes...)
onto its parameters, usually giving a few alternative starts (e.g. rod radius from the
cross-section dip combined with several lengths). Models missing from the table get a
generic rule (lengths in Å become *size*/*long* parameters, 1/Å ones *qpos*, names
with ``exp``/``power``/``dim`` exponents in 0..6; the rest is held fixed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import product
from typing import Callable

import numpy as np

from .invariants import Invariants

LOG_ROLES = frozenset({"size", "long", "area", "ratio", "qpos", "qwidth"})
#: Bounds of the fitted relative polydispersity width of the main size parameter.
PD_BOUNDS = (0.0, 0.35)
#: Gaussian integration points of that polydispersity (3 sigma either side).
PD_N = 11
#: Bounds of a fitted relative contrast (component SLD when solvent = 0, reference = 1).
CONTRAST_BOUNDS = (-10.0, 10.0)
#: Start values tried for every relative contrast (shell weaker, stronger, opposite).
CONTRAST_STARTS = (0.5, 2.0, -1.0)


@dataclass(frozen=True)
class Free:
    """A fitted shape parameter: its role and, for ``value``/``exp`` roles, bounds."""

    role: str
    lo: float | None = None
    hi: float | None = None
    log: bool | None = None  # draw log-uniformly (default: by role)
    choices: tuple[float, ...] = ()  # the values tried for a ``count``

    def draws_log(self) -> bool:
        return self.role in LOG_ROLES if self.log is None else self.log

    @property
    def is_count(self) -> bool:
        return self.role == "count"

    @property
    def is_contrast(self) -> bool:
        return self.role == "contrast"


def size(lo=None, hi=None):
    return Free("size", lo, hi)


def long(lo=None, hi=None):
    return Free("long", lo, hi)


def exp(lo=0.0, hi=6.0):
    return Free("value", lo, hi, log=False)


def value(lo, hi, log=False):
    return Free("value", lo, hi, log=log)


def count(*choices: int) -> Free:
    """An integer count (layers, pearls, shells): tried at ``choices``, refined by search."""
    return Free("count", min(choices), max(choices), log=False, choices=tuple(map(float, choices)))


RATIO = Free("ratio")
QPOS = Free("qpos")
QWIDTH = Free("qwidth")
FRAC = Free("frac")
CONTRAST = Free("contrast", *CONTRAST_BOUNDS, log=False)
LAYERS = count(3, 5, 8, 13, 20, 32, 50, 80)
PEARLS = count(2, 3, 5, 8, 13, 20)
SIZE = size()
LONG = long()

Guess = Callable[[Invariants], list[dict]]


@dataclass(frozen=True)
class ModelSpec:
    """How one model is fitted (see the module docstring)."""

    free: dict[str, Free]
    amplitudes: tuple[str, ...] = ("scale",)
    fixed: dict[str, float] = field(default_factory=dict)
    background: bool = True
    signed: bool = False  # amplitudes may be negative (``line``)
    order: tuple[tuple[str, str], ...] = ()  # (a, b): keep a <= b in drawn starts
    guess: Guess | None = None
    notes: str = ""


# --- helpers for guess rules -------------------------------------------------------
def _clip(x, lo, hi):
    return float(min(max(x, lo), hi))


def n_high(v: Invariants) -> float:
    """High-q power-law exponent (positive), clipped to 1..6."""
    return _clip(-v.slope_high, 1.0, 6.0)


def n_low(v: Invariants) -> float:
    """Low-q power-law exponent (positive), clipped to 0..6."""
    return _clip(-v.slope_low, 0.0, 6.0)


def thicknesses(v: Invariants) -> list[float]:
    """Sheet thicknesses: first zero of a flat sheet at ``q T = 2 pi``."""
    out = []
    if v.q_dip:
        out.append(2 * math.pi / v.q_dip)
    if v.q_break:
        out.append(2.0 / v.q_break)
    out.append(6.0 / v.q_max)
    return _dd(out)


def xis(v: Invariants) -> list[float]:
    """Correlation lengths of Lorentzian-like decays (``xi = Rg/sqrt(3)``)."""
    out = []
    if v.q_break:
        out.append(1.0 / v.q_break)
    if v.rg:
        out.append(v.rg / math.sqrt(3))
    out.append(1.0 / math.sqrt(v.q_min * v.q_max))
    return _dd(out)


def peak_q(v: Invariants) -> list[float]:
    out = [v.q_peak] if v.q_peak else []
    if v.q_break:
        out.append(v.q_break)
    out.append(math.sqrt(v.q_min * v.q_max))
    return _dd(out)


def gyration(v: Invariants) -> list[float]:
    out = [v.rg] if v.rg else []
    return _dd(out + [r / 1.29 for r in v.radii()])


def _dd(values):
    from .invariants import dedupe

    return dedupe(values)


def _paracrystal(factor: float) -> Guess:
    """dnn from the first Bragg peak: ``dnn = factor * 2 pi / q_peak``."""

    def guess(v):
        dnns = [factor * 2 * math.pi / q for q in peak_q(v)[:2]] + [2 * r for r in v.radii()[:2]]
        return [{"dnn": d, "radius": f * d, "d_factor": 0.06}
                for d in _dd(dnns) for f in (0.3, 0.45)]

    return guess


def _structure(extra: dict) -> Guess:
    """Structure factors: effective radius from the peak (contact ~ 2 pi / q_peak)."""

    def guess(v):
        radii = ([0.5 * 2 * math.pi / v.q_peak * 0.9] if v.q_peak else []) + v.radii()[:2]
        return [{"radius_effective": r, **extra, "volfraction": phi}
                for r in _dd(radii) for phi in (0.1, 0.3)]

    return guess


# --- the table ----------------------------------------------------------------------
def _spacings(v: Invariants) -> list[float]:
    """Lamellar repeat distances: from the peak if any, else sheet thicknesses."""
    return _dd(([v.spacing()] if v.q_peak else []) + thicknesses(v))


def _boxes(v: Invariants, thickness: bool = False) -> list[dict]:
    """Rectangular prisms: edge ``a`` from the sphere-equivalent radius, a few shapes."""
    out = []
    for r, (b, c) in product(v.radii()[:2], ((1, 1), (1, 5), (2, 10))):
        a = 1.6 * r / (b * c) ** (1 / 3)
        out.append({"length_a": a, "b2a_ratio": b, "c2a_ratio": c,
                    **({"thickness": 0.1 * r} if thickness else {})})
    return out


def _shells(radii, fractions, **extra) -> list[dict]:
    """Core-shell spheres of outer radius r: (core radius, shell thickness) = ((1-f) r, f r)."""
    return [{"radius": (1 - f) * r, "thickness": f * r, **extra} for r in radii for f in fractions]


def _rods(v: Invariants, n_small=3, n_large=5, limit=12) -> list[tuple[float, float]]:
    """(cross-section size, length) pairs for elongated particles: the most trusted
    cross-section with every overall length, then the other cross-sections with the
    first two lengths (overall lengths are the least certain invariants)."""
    small, large = v.small_lengths()[:n_small], v.large_lengths()[:n_large]
    pairs = [(small[0], L) for L in large] + [(s, L) for s in small[1:] for L in large[:2]]
    return pairs[:limit]


SPECS: dict[str, ModelSpec] = {
    "adsorbed_layer": ModelSpec(
        {"second_moment": SIZE, "radius": LONG},
        guess=lambda v: [{"second_moment": s, "radius": L} for s, L in _rods(v, 2)]),
    "barbell": ModelSpec(
        {"radius": SIZE, "radius_bell": SIZE, "length": LONG},
        order=(("radius", "radius_bell"),),
        guess=lambda v: [{"radius": s, "radius_bell": 1.5 * s, "length": L}
                         for s, L in _rods(v, 3)]),
    "bcc_paracrystal": ModelSpec(
        {"dnn": SIZE, "d_factor": value(0.001, 0.5), "radius": SIZE},
        order=(("radius", "dnn"),), guess=_paracrystal(math.sqrt(2) * math.sqrt(3) / 2)),
    "be_polyelectrolyte": ModelSpec(
        {"monomer_length": value(1.0, 100.0, log=True),
         "ionization_degree": value(0.001, 1.0, log=True),
         "polymer_concentration": value(0.001, 10.0, log=True),
         "virial_param": value(-100.0, 100.0)},
        notes="contrast_factor (degenerate with scale), bjerrum_length and salt fixed"),
    "binary_hard_sphere": ModelSpec(
        {"radius_lg": SIZE, "radius_sm": SIZE, "volfraction_lg": FRAC, "volfraction_sm": FRAC},
        order=(("radius_sm", "radius_lg"),),
        guess=lambda v: [{"radius_lg": r, "radius_sm": 0.3 * r, "volfraction_lg": 0.1,
                          "volfraction_sm": 0.2} for r in v.radii()[:3]]),
    "broad_peak": ModelSpec(
        {"porod_exp": exp(), "correlation_length": LONG, "peak_pos": QPOS,
         "width_exp": exp(0.5, 6.0)},
        amplitudes=("porod_scale", "peak_scale"), fixed={"scale": 1.0},
        guess=lambda v: [{"peak_pos": q, "correlation_length": k / q, "width_exp": 2.0,
                          "porod_exp": _clip(n_low(v), 1, 4)}
                         for q, k in product(peak_q(v)[:3], (3.0, 10.0))],
        notes="shape_exp held at 1"),
    "capped_cylinder": ModelSpec(
        {"radius": SIZE, "radius_cap": SIZE, "length": LONG},
        order=(("radius", "radius_cap"),),
        guess=lambda v: [{"radius": s, "radius_cap": 1.2 * s, "length": L}
                         for s, L in _rods(v, 3)]),
    "core_shell_bicelle": ModelSpec(
        {"radius": SIZE, "thick_rim": SIZE, "thick_face": SIZE, "length": SIZE},
        guess=lambda v: [{"radius": R, "length": (1 - 2 * f) * T, "thick_face": f * T,
                          "thick_rim": f * T}
                         for R in v.radii()[:2] + v.large_lengths()[:1]
                         for T in thicknesses(v)[:2] for f in (0.03, 0.2)]),
    "core_shell_bicelle_elliptical": ModelSpec(
        {"radius": SIZE, "x_core": RATIO, "thick_rim": SIZE, "thick_face": SIZE,
         "length": SIZE},
        guess=lambda v: [{"radius": R, "x_core": 2.0, "length": 0.6 * T, "thick_face": 0.2 * T,
                          "thick_rim": 0.2 * T}
                         for R, T in product(v.radii()[:2], thicknesses(v)[:2])]),
    "core_shell_cylinder": ModelSpec(
        {"radius": SIZE, "thickness": SIZE, "length": LONG},
        guess=lambda v: [{"radius": (1 - f) * s, "thickness": f * s, "length": L}
                         for s, L in _rods(v, 3, 5, 9) for f in (0.05, 0.3, 0.9)]),
    "core_shell_ellipsoid": ModelSpec(
        {"radius_equat_core": SIZE, "x_core": RATIO, "thick_shell": SIZE,
         "x_polar_shell": RATIO},
        guess=lambda v: [{"radius_equat_core": (1 - f) * r / x ** (1 / 3), "x_core": x,
                          "thick_shell": f * r, "x_polar_shell": 1.0}
                         for r in v.radii()[:2] for x in (0.3, 1.0, 3.0) for f in (0.03, 0.2)]),
    "core_shell_parallelepiped": ModelSpec(
        {"length_a": SIZE, "length_b": LONG, "length_c": LONG},
        guess=lambda v: [{"length_a": 1.5 * s, "length_b": 3 * s, "length_c": L}
                         for s, L in _rods(v, 2)],
        notes="rim thicknesses held at their defaults (slow model)"),
    "core_shell_sphere": ModelSpec(
        {"radius": SIZE, "thickness": SIZE},
        guess=lambda v: _shells(v.radii()[:3], (0.03, 0.15, 0.4, 0.9))),
    "correlation_length": ModelSpec(
        {"cor_length": LONG, "porod_exp": exp(), "lorentz_exp": exp(0.5, 6.0)},
        amplitudes=("lorentz_scale", "porod_scale"), fixed={"scale": 1.0},
        guess=lambda v: [{"cor_length": x, "porod_exp": _clip(n_low(v), 1, 4),
                          "lorentz_exp": _clip(n_high(v), 1, 4)} for x in xis(v)]),
    "cylinder": ModelSpec(
        {"radius": SIZE, "length": LONG},
        guess=lambda v: [{"radius": s, "length": L} for s, L in _rods(v, 3, 5, 15)]),
    "dab": ModelSpec(
        {"cor_length": LONG},
        guess=lambda v: [{"cor_length": x} for x in xis(v) + [x / math.sqrt(2) for x in xis(v)]]),
    "ellipsoid": ModelSpec(
        {"radius_polar": LONG, "radius_equatorial": LONG},
        guess=lambda v: [{"radius_polar": p * r, "radius_equatorial": e * r}
                         for r in v.radii()[:3] for p, e in ((1, 1), (3, 0.6), (0.3, 1.5))]
        + [{"radius_equatorial": s, "radius_polar": max(L / 2, s)} for s, L in _rods(v, 2)]),
    "elliptical_cylinder": ModelSpec(
        {"radius_minor": SIZE, "axis_ratio": Free("ratio", 1.0, 20.0), "length": LONG},
        guess=lambda v: [{"radius_minor": 0.8 * s, "axis_ratio": 1.5, "length": L}
                         for s, L in _rods(v, 2)]),
    "fcc_paracrystal": ModelSpec(
        {"dnn": SIZE, "d_factor": value(0.001, 0.5), "radius": SIZE},
        order=(("radius", "dnn"),), guess=_paracrystal(math.sqrt(3) / math.sqrt(2))),
    "flexible_cylinder": ModelSpec(
        {"length": LONG, "kuhn_length": LONG, "radius": SIZE},
        order=(("kuhn_length", "length"),),
        guess=lambda v: [{"radius": s, "length": 2 * L, "kuhn_length": 0.5 * L}
                         for s, L in _rods(v, 2)]),
    "flexible_cylinder_elliptical": ModelSpec(
        {"length": LONG, "kuhn_length": LONG, "radius": SIZE, "axis_ratio": RATIO},
        order=(("kuhn_length", "length"),),
        guess=lambda v: [{"radius": s, "length": 2 * L, "kuhn_length": 0.5 * L,
                          "axis_ratio": 1.5} for s, L in _rods(v, 2)]),
    "fractal": ModelSpec(
        {"radius": SIZE, "fractal_dim": value(1.0, 3.0), "cor_length": LONG},
        order=(("radius", "cor_length"),),
        guess=lambda v: [{"radius": 0.5 * s, "cor_length": L,
                          "fractal_dim": _clip(n_low(v), 1.2, 2.9)} for s, L in _rods(v, 3)],
        notes="volfraction (degenerate with scale) fixed"),
    "fractal_core_shell": ModelSpec(
        {"radius": SIZE, "thickness": SIZE, "fractal_dim": value(1.0, 3.0), "cor_length": LONG},
        order=(("radius", "cor_length"),),
        guess=lambda v: [g for L in v.large_lengths()[:3]
                         for g in _shells(v.radii()[:2], (0.03, 0.2, 0.5), cor_length=L,
                                          fractal_dim=_clip(n_low(v), 1.2, 2.9))],
        notes="volfraction (degenerate with scale) fixed"),
    "fuzzy_sphere": ModelSpec(
        {"radius": SIZE, "fuzziness": SIZE},
        guess=lambda v: [{"radius": r, "fuzziness": f * r}
                         for r in v.radii()[:3] for f in (0.02, 0.08, 0.2)]),
    "gauss_lorentz_gel": ModelSpec(
        {"cor_length_static": LONG, "cor_length_dynamic": LONG},
        amplitudes=("gauss_scale", "lorentz_scale"), fixed={"scale": 1.0},
        guess=lambda v: [{"cor_length_static": L, "cor_length_dynamic": x}
                         for L, x in product(v.large_lengths()[:3], xis(v)[:2])]),
    "gaussian_peak": ModelSpec(
        {"peak_pos": QPOS, "sigma": QWIDTH},
        guess=lambda v: [{"peak_pos": q, "sigma": w * q}
                         for q, w in product(peak_q(v)[:3], (0.1, 0.3))]),
    "gel_fit": ModelSpec(
        {"rg": LONG, "fractal_dim": exp(0.5, 6.0), "cor_length": LONG},
        amplitudes=("guinier_scale", "lorentz_scale"), fixed={"scale": 1.0},
        guess=lambda v: [{"rg": R, "cor_length": x, "fractal_dim": 2.0}
                         for R, x in product(gyration(v)[:2] + v.large_lengths()[:2], xis(v)[:2])]),
    "guinier": ModelSpec({"rg": SIZE}, guess=lambda v: [{"rg": r} for r in gyration(v)]),
    "guinier_porod": ModelSpec(
        {"rg": LONG, "s": value(0.0, 2.9), "porod_exp": exp(1.0, 6.0)},
        guess=lambda v: [{"rg": r, "s": s, "porod_exp": max(n_high(v), s + 0.5)}
                         for r, s in product(gyration(v)[:3], (0.0, 1.0, 2.0))]),
    "hardsphere": ModelSpec(
        {"radius_effective": SIZE, "volfraction": FRAC}, guess=_structure({})),
    "hayter_msa": ModelSpec(
        {"radius_effective": SIZE, "volfraction": FRAC, "charge": value(1.0, 200.0, log=True)},
        guess=_structure({"charge": 20.0}),
        notes="temperature, salt concentration and dielectric constant fixed"),
    "hollow_cylinder": ModelSpec(
        {"radius": SIZE, "thickness": SIZE, "length": LONG},
        guess=lambda v: [{"radius": (1 - f) * s, "thickness": f * s, "length": L}
                         for s, L in _rods(v, 3, 5, 9) for f in (0.1, 0.4, 0.9)]),
    "hollow_rectangular_prism": ModelSpec(
        {"length_a": SIZE, "b2a_ratio": RATIO, "c2a_ratio": RATIO, "thickness": SIZE},
        guess=lambda v: _boxes(v, thickness=True)),
    "hollow_rectangular_prism_thin_walls": ModelSpec(
        {"length_a": SIZE, "b2a_ratio": RATIO, "c2a_ratio": RATIO}, guess=_boxes),
    "lamellar": ModelSpec(
        {"thickness": SIZE}, guess=lambda v: [{"thickness": t} for t in thicknesses(v)]),
    "lamellar_hg": ModelSpec(
        {"length_tail": SIZE, "length_head": SIZE},
        guess=lambda v: [{"length_tail": 0.35 * t, "length_head": 0.15 * t}
                         for t in thicknesses(v)]),
    "lamellar_hg_stack_caille": ModelSpec(
        {"length_tail": SIZE, "length_head": SIZE, "d_spacing": SIZE,
         "Caille_parameter": value(0.001, 0.8), "Nlayers": LAYERS},
        guess=lambda v: [{"d_spacing": d, "length_tail": 0.2 * d, "length_head": 0.08 * d,
                          "Caille_parameter": 0.1} for d in _spacings(v)]),
    "lamellar_stack_caille": ModelSpec(
        {"thickness": SIZE, "d_spacing": SIZE, "Caille_parameter": value(0.001, 0.8),
         "Nlayers": LAYERS},
        guess=lambda v: [{"d_spacing": d, "thickness": 0.3 * d, "Caille_parameter": 0.1}
                         for d in _spacings(v)]),
    "lamellar_stack_paracrystal": ModelSpec(
        # sigma_d: the relative spread of the spacing (sasmodels documents it so, its
        # parameter table says Angstrom)
        {"thickness": SIZE, "d_spacing": SIZE, "sigma_d": value(0.0, 1.0), "Nlayers": LAYERS},
        guess=lambda v: [{"d_spacing": d, "thickness": 0.3 * d, "sigma_d": sd}
                         for d in _spacings(v) for sd in (0.05, 0.2)]),
    "line": ModelSpec({}, amplitudes=("intercept", "slope"), fixed={"scale": 1.0},
                      background=False, signed=True, guess=lambda v: [{}]),
    "linear_pearls": ModelSpec(
        {"radius": SIZE, "edge_sep": LONG, "num_pearls": PEARLS},
        guess=lambda v: [{"radius": r, "edge_sep": k * r}
                         for r, k in product(v.radii()[:3], (0.5, 2.0))]),
    "lorentz": ModelSpec({"cor_length": LONG}, guess=lambda v: [{"cor_length": x} for x in xis(v)]),
    "mass_fractal": ModelSpec(
        {"radius": SIZE, "fractal_dim_mass": value(1.0, 3.0), "cutoff_length": LONG},
        order=(("radius", "cutoff_length"),),
        guess=lambda v: [{"radius": 0.5 * s, "cutoff_length": L,
                          "fractal_dim_mass": _clip(n_low(v), 1.2, 2.9)}
                         for s, L in _rods(v, 3)]),
    "mass_surface_fractal": ModelSpec(
        {"fractal_dim_mass": value(1.0, 3.0), "fractal_dim_surf": value(1.0, 3.0),
         "rg_cluster": LONG, "rg_primary": SIZE},
        order=(("rg_primary", "rg_cluster"),),
        guess=lambda v: [{"rg_primary": s, "rg_cluster": L, "fractal_dim_mass": 1.8,
                          "fractal_dim_surf": 2.3} for s, L in _rods(v, 2)]),
    "mono_gauss_coil": ModelSpec(
        {"rg": LONG}, guess=lambda v: [{"rg": r} for r in gyration(v)],
        notes="i_zero (degenerate with scale) fixed"),
    "multilayer_vesicle": ModelSpec(
        {"radius": SIZE, "thick_shell": SIZE, "thick_solvent": SIZE,
         "n_shells": count(2, 3, 4, 6, 9)},
        guess=lambda v: [{"radius": 0.6 * r, "thick_shell": 0.1 * r, "thick_solvent": 0.1 * r}
                         for r in v.radii()[:3]],
        notes="volfraction (degenerate with scale) fixed"),
    "parallelepiped": ModelSpec(
        {"length_a": SIZE, "length_b": LONG, "length_c": LONG},
        guess=lambda v: [{"length_a": 1.5 * s, "length_b": 3 * s, "length_c": L}
                         for s, L in _rods(v, 2)]),
    "peak_lorentz": ModelSpec(
        {"peak_pos": QPOS, "peak_hwhm": QWIDTH},
        guess=lambda v: [{"peak_pos": q, "peak_hwhm": w * q}
                         for q, w in product(peak_q(v)[:3], (0.1, 0.3))]),
    "pearl_necklace": ModelSpec(
        {"radius": SIZE, "edge_sep": LONG, "thick_string": SIZE, "num_pearls": PEARLS},
        guess=lambda v: [{"radius": r, "edge_sep": k * r, "thick_string": 0.1 * r}
                         for r, k in product(v.radii()[:3], (0.5, 2.0))]),
    "poly_gauss_coil": ModelSpec(
        {"rg": LONG, "polydispersity": value(1.0, 5.0)},
        guess=lambda v: [{"rg": r, "polydispersity": p}
                         for r, p in product(gyration(v), (1.2, 2.0))],
        notes="i_zero (degenerate with scale) fixed"),
    "polymer_excl_volume": ModelSpec(
        {"rg": LONG, "porod_exp": value(1.0, 4.0)},
        guess=lambda v: [{"rg": r, "porod_exp": _clip(n_high(v), 1.2, 3.5)} for r in gyration(v)]),
    "polymer_micelle": ModelSpec(
        {"radius_core": SIZE, "rg": SIZE, "n_aggreg": value(1.0, 500.0, log=True),
         "d_penetration": value(0.5, 1.5)},
        guess=lambda v: [{"radius_core": 0.6 * r, "rg": 0.2 * r, "n_aggreg": n}
                         for r in v.radii()[:3] for n in (10.0, 60.0)],
        notes="block volumes fixed (their ratio is degenerate with the contrast ratio)"),
    "porod": ModelSpec({}, guess=lambda v: [{}]),
    "power_law": ModelSpec(
        {"power": exp()},
        guess=lambda v: [{"power": p} for p in _dd([n_high(v), _clip(n_low(v), 0.5, 6),
                                                     0.5 * (n_high(v) + n_low(v))])]),
    "pringle": ModelSpec(
        {"radius": SIZE, "thickness": SIZE},
        guess=lambda v: [{"radius": R, "thickness": T}
                         for R, T in product(v.radii()[:2], thicknesses(v)[:2])],
        notes="curvatures alpha, beta held at their defaults (slow model)"),
    "raspberry": ModelSpec(
        {"radius_lg": LONG, "radius_sm": SIZE, "surface_fraction": value(0.0, 1.0)},
        order=(("radius_sm", "radius_lg"),),
        guess=lambda v: [{"radius_lg": r, "radius_sm": 0.1 * r, "surface_fraction": 0.4}
                         for r in v.radii()[:3]]
        + [{"radius_lg": L, "radius_sm": r, "surface_fraction": 0.4}
           for L, r in product(v.large_lengths()[-2:], v.radii()[:2])],
        notes="volume fractions and penetration fixed"),
    "rectangular_prism": ModelSpec(
        {"length_a": SIZE, "b2a_ratio": RATIO, "c2a_ratio": RATIO}, guess=_boxes),
    "sc_paracrystal": ModelSpec(
        {"dnn": SIZE, "d_factor": value(0.001, 0.5), "radius": SIZE},
        order=(("radius", "dnn"),), guess=_paracrystal(1.0)),
    "sphere": ModelSpec({"radius": SIZE}, guess=lambda v: [{"radius": r} for r in v.radii()]),
    "spinodal": ModelSpec(
        {"gamma": value(1.0, 8.0), "q_0": QPOS},
        guess=lambda v: [{"q_0": q, "gamma": g} for q, g in product(peak_q(v)[:3], (3.0, 4.0))]),
    "squarewell": ModelSpec(
        {"radius_effective": SIZE, "volfraction": value(0.001, 0.08),
         "welldepth": value(0.0, 1.5), "wellwidth": value(1.0, 2.0)},
        guess=lambda v: [{**g, "volfraction": 0.04}
                         for g in _structure({"welldepth": 1.0, "wellwidth": 1.2})(v)]),
    "stacked_disks": ModelSpec(
        {"thick_core": SIZE, "thick_layer": SIZE, "radius": SIZE,
         "n_stacking": count(1, 2, 4, 8, 16, 32),
         # sigma_d is relative to the repeat distance in the kernel's Debye-Waller factor
         # exp(-(q d cos(alpha) sigma_d)^2 / 2), although documented in Angstrom
         # (SasView/sasmodels#128); stacks seen edge-on keep interfering, so the curve
         # still changes at sigma_d >> 1 and only tends to a single disk's
         "sigma_d": value(0.01, 30.0, log=True)},
        guess=lambda v: [{"radius": R, "thick_core": 0.5 * T, "thick_layer": 0.25 * T,
                          "sigma_d": sd}
                         for R, T in product(v.radii()[:2], thicknesses(v)[:2])
                         for sd in (0.05, 0.5, 5.0)]),
    "star_polymer": ModelSpec(
        {"rg_squared": Free("area"), "arms": value(1.0, 6.0)},
        guess=lambda v: [{"rg_squared": r * r, "arms": 3.0} for r in gyration(v)]),
    "stickyhardsphere": ModelSpec(
        {"radius_effective": SIZE, "volfraction": FRAC,
         "stickiness": value(0.01, 5.0, log=True), "perturb": value(0.01, 0.1)},
        guess=_structure({"stickiness": 0.3, "perturb": 0.05})),
    "surface_fractal": ModelSpec(
        {"radius": SIZE, "fractal_dim_surf": value(1.0, 3.0), "cutoff_length": LONG},
        order=(("radius", "cutoff_length"),),
        guess=lambda v: [{"radius": 0.5 * s, "cutoff_length": L,
                          "fractal_dim_surf": _clip(6 - n_high(v), 1.1, 2.9)}
                         for s, L in _rods(v, 2)]),
    "teubner_strey": ModelSpec(
        {"d": LONG, "xi": LONG},
        guess=lambda v: [{"d": d, "xi": k * d} for d, k in product(
            _dd(([v.spacing()] if v.q_peak else []) + v.large_lengths()[:2]), (0.3, 1.0))],
        notes="volfraction_a (degenerate with scale) fixed"),
    "triaxial_ellipsoid": ModelSpec(
        {"radius_equat_minor": LONG, "radius_equat_major": LONG, "radius_polar": LONG},
        order=(("radius_equat_minor", "radius_equat_major"),),
        guess=lambda v: [{"radius_equat_minor": a * r, "radius_equat_major": b * r,
                          "radius_polar": c * r}
                         for r in v.radii()[:2]
                         for a, b, c in ((1, 1, 1), (0.6, 1.2, 3), (0.8, 2, 0.3))]),
    "two_lorentzian": ModelSpec(
        {"lorentz_length_1": LONG, "lorentz_exp_1": exp(0.5, 6.0),
         "lorentz_length_2": LONG, "lorentz_exp_2": exp(0.5, 6.0)},
        amplitudes=("lorentz_scale_1", "lorentz_scale_2"), fixed={"scale": 1.0},
        order=(("lorentz_length_2", "lorentz_length_1"),),
        guess=lambda v: [{"lorentz_length_1": L, "lorentz_exp_1": 2.0,
                          "lorentz_length_2": min(x, 0.5 * L), "lorentz_exp_2": 2.0}
                         for L, x in product(v.large_lengths()[:3], xis(v)[:2])]),
    "two_power_law": ModelSpec(
        {"crossover": QPOS, "power_1": exp(), "power_2": exp()},
        guess=lambda v: [{"crossover": q, "power_1": n_low(v), "power_2": n_high(v)}
                         for q in _dd(([v.q_break] if v.q_break else [])
                                      + [math.sqrt(v.q_min * v.q_max)])],
        notes="coefficent_1 held at 1 (scale is the amplitude)"),
    "unified_power_Rg": ModelSpec(
        {"rg1": LONG, "power1": exp(1.0, 6.0)},
        amplitudes=("G1", "B1"), fixed={"scale": 1.0, "level": 1},
        guess=lambda v: [{"rg1": r, "power1": n_high(v)} for r in gyration(v)],
        notes="one level"),
    "vesicle": ModelSpec(
        {"radius": SIZE, "thickness": SIZE},
        guess=lambda v: _shells(v.radii()[:3], (0.05, 0.2, 0.9)),
        notes="volfraction (degenerate with scale) fixed"),
}

#: Models whose curve shape depends on a ratio of contrasts:
#: (solvent SLD, reference component SLD, fitted component SLDs).
CONTRASTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "binary_hard_sphere": ("sld_solvent", "sld_lg", ("sld_sm",)),
    "core_shell_bicelle": ("sld_solvent", "sld_core", ("sld_face", "sld_rim")),
    "core_shell_bicelle_elliptical": ("sld_solvent", "sld_core", ("sld_face", "sld_rim")),
    "core_shell_cylinder": ("sld_solvent", "sld_core", ("sld_shell",)),
    "core_shell_ellipsoid": ("sld_solvent", "sld_core", ("sld_shell",)),
    "core_shell_sphere": ("sld_solvent", "sld_core", ("sld_shell",)),
    "fractal_core_shell": ("sld_solvent", "sld_core", ("sld_shell",)),
    "lamellar_hg": ("sld_solvent", "sld", ("sld_head",)),
    "lamellar_hg_stack_caille": ("sld_solvent", "sld", ("sld_head",)),
    "pearl_necklace": ("sld_solvent", "sld", ("sld_string",)),
    "polymer_micelle": ("sld_solvent", "sld_core", ("sld_corona",)),
    "raspberry": ("sld_solvent", "sld_lg", ("sld_sm",)),
    "stacked_disks": ("sld_solvent", "sld_core", ("sld_layer",)),
}


def within_sld_limits(name: str, values: dict[str, float]) -> dict[str, float]:
    """``values`` with the relative SLDs of a :data:`CONTRASTS` model shifted together
    (the curve depends on SLD differences only) so that none is below the model's SLD
    limit: SasView's fit page bounds each SLD by it (polymer_micelle: >= 0), so a
    corona opposite to its core (relative SLD < 0) would start outside its range."""
    if name not in CONTRASTS:
        return dict(values)
    solvent, reference, others = CONTRASTS[name]
    slds = [k for k in (solvent, reference, *others) if k in values]
    limits = {p.name: p.limits for p in model_info(name).parameters.call_parameters}
    shift = max(float(limits[k][0]) - values[k] for k in slds)
    return {k: v + shift if k in slds and shift > 0 else v for k, v in values.items()}


def _with_contrasts(spec: ModelSpec, solvent: str, reference: str,
                    others: tuple[str, ...]) -> ModelSpec:
    """``spec`` in relative contrast: solvent 0, reference 1, ``others`` fitted."""
    note = (f"SLDs relative: {solvent} = 0, {reference} = 1, {', '.join(others)} fitted "
            "(scale carries the absolute contrast)")
    return replace(spec, free={**spec.free, **{name: CONTRAST for name in others}},
                   fixed={**spec.fixed, solvent: 0.0, reference: 1.0},
                   notes="; ".join(n for n in (spec.notes, note) if n))


SPECS.update({name: _with_contrasts(SPECS[name], *c) for name, c in CONTRASTS.items()})


# --- generic rule for models outside the table -------------------------------------
_SKIP_WORDS = ("sld", "theta", "phi", "psi", "up_", "magnetic", "volfraction", "scale",
               "background", "temperature", "dielect", "bjerrum", "concentration")


def _generic_spec(info) -> ModelSpec:
    free: dict[str, Free] = {}
    for p in info.parameters.kernel_parameters:
        if p.type in ("sld", "orientation", "magnetic") or p.length > 1:
            continue
        if any(w in p.name.lower() for w in _SKIP_WORDS):
            continue
        units = (p.units or "").strip()
        if units == "Ang":
            free[p.name] = LONG if "length" in p.name else SIZE
        elif units in ("1/Ang", "Ang^-1"):
            free[p.name] = QPOS
        elif units == "Ang^2":
            free[p.name] = Free("area")
        elif any(w in p.name.lower() for w in ("exp", "power", "dim")):
            free[p.name] = exp()

    def guess(v):
        return [{name: r for name, f in free.items() if f.role in ("size", "long")}
                for r in v.radii()[:3]]

    return ModelSpec(free, guess=guess, notes="generic rule (model not in the verification table)")


@lru_cache(maxsize=None)
def model_info(name: str):
    """sasmodels model info; :class:`ValueError` for an unknown model name."""
    from sasmodels.core import list_models, load_model_info

    if name not in list_models():
        raise ValueError(f"unknown sasmodels model '{name}'")
    return load_model_info(name)


def spec_for(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of model ``name`` (table entry or generic rule)."""
    info = model_info(name)
    return SPECS.get(name) or _generic_spec(info)


def count_names(name: str) -> frozenset[str]:
    """The integer counts among the varied parameters of ``name`` (held, not fitted, by
    a least-squares fitter such as SasView's)."""
    return frozenset(p for p, f in spec_for(name).free.items() if f.is_count)


@dataclass(frozen=True)
class Setup:
    """A model's fit setup for one q window: shape parameters with bounds, amplitudes,
    fixed values (non-default ones only) and the model defaults."""

    name: str
    spec: ModelSpec
    shape: dict[str, tuple[float, float]]
    amplitudes: tuple[str, ...]
    fixed: dict[str, float]
    defaults: dict[str, float]
    pd: str | None = None  # ``<main size>_pd`` when the model gets a polydispersity

    @property
    def n_free(self) -> int:
        """Varied parameters, the polydispersity included (also while it is held at 0)."""
        extra = int(self.pd is not None and self.pd not in self.shape)
        return len(self.shape) + len(self.amplitudes) + int(self.spec.background) + extra

    def free_names(self) -> list[str]:
        bg = ["background"] if self.spec.background else []
        pd = [self.pd] if self.pd is not None and self.pd not in self.shape else []
        return list(self.shape) + pd + list(self.amplitudes) + bg

    def with_pd(self) -> "Setup":
        """This setup with the polydispersity width among the shape parameters."""
        if self.pd is None or self.pd in self.shape:
            return self
        spec = replace(self.spec, free={**self.spec.free, self.pd: value(*PD_BOUNDS)})
        return replace(self, spec=spec, shape={**self.shape, self.pd: PD_BOUNDS})

    def amplitude_bounds(self) -> tuple[float, float]:
        return (-np.inf, np.inf) if self.spec.signed else (0.0, np.inf)


def _role_bounds(role: Free, q_min: float, q_max: float) -> tuple[float, float]:
    small, big = 0.3 / q_max, 4.0 / q_min
    if role.role == "size":
        lo, hi = small, big
    elif role.role == "long":
        lo, hi = small, 40.0 / q_min
    elif role.role == "area":
        lo, hi = small**2, big**2
    elif role.role == "ratio":
        lo, hi = 0.05, 20.0
    elif role.role == "qpos":
        lo, hi = q_min / 3.0, 1.5 * q_max
    elif role.role == "qwidth":
        lo, hi = q_min / 30.0, q_max
    elif role.role == "frac":
        lo, hi = 0.001, 0.6
    else:
        lo, hi = role.lo, role.hi
    if role.lo is not None:
        lo = role.lo
    if role.hi is not None:
        hi = role.hi
    return float(lo), float(hi)


def setup_for(name: str, q_min: float, q_max: float) -> Setup:
    """Bounds of the fitted parameters of ``name`` for data covering ``q_min..q_max``."""
    info = model_info(name)
    spec = spec_for(name)
    table = {p.name: p for p in info.parameters.call_parameters}
    defaults = {p.name: float(p.default) for p in info.parameters.call_parameters
                if p.type not in ("orientation", "magnetic") and not isinstance(p.default, str)}
    shape = {}
    for pname, role in spec.free.items():
        if pname not in table:
            raise ValueError(f"model '{name}' has no parameter '{pname}'")
        lo, hi = _role_bounds(role, q_min, q_max)
        if not role.is_contrast:  # a relative contrast is not an SLD: no SLD limits
            mlo, mhi = table[pname].limits
            lo, hi = max(lo, float(mlo)), min(hi, float(mhi))
        if role.draws_log() and lo <= 0:
            lo = min(hi * 1e-6, 1e-6) if hi > 0 else lo
        if not lo < hi:
            continue  # the window cannot constrain it: keep the default
        shape[pname] = (lo, hi)
    fixed = dict(spec.fixed)
    pd = _pd_parameter(info, shape)
    if pd is not None:
        fixed.update({f"{pd}_n": PD_N, f"{pd}_nsigma": 3.0})
    return Setup(name, spec, shape, tuple(spec.amplitudes), fixed, defaults, pd)


def _pd_parameter(info, shape: dict) -> str | None:
    """``<name>_pd`` of the first fitted size parameter sasmodels can make polydisperse."""
    sizes = {p.name for p in info.parameters.kernel_parameters
             if p.polydisperse and p.type == "volume" and p.units == "Ang" and p.length == 1}
    return next((f"{name}_pd" for name in shape if name in sizes), None)
