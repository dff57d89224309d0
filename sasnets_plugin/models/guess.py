"""Start values from the curve: rules shared by the models' fit specifications.

Each model's ``FIT.guess`` maps the curve invariants (Guinier radius, dip and peak
positions, slopes...: :class:`~sasnets_plugin.verification.invariants.Invariants`) onto
its parameters, usually giving a few alternative starts. These helpers turn invariants
into the quantities several models share: exponents, sheet thicknesses, correlation
lengths, peak positions, rod dimensions.
"""
from __future__ import annotations

import math
from itertools import product
from typing import TYPE_CHECKING

from .draw import clip
from .spec import Guess

if TYPE_CHECKING:
    from ..verification.invariants import Invariants


def dedupe(values) -> list[float]:
    """:func:`~sasnets_plugin.verification.invariants.dedupe` (imported when a guess runs,
    so that the training priors beside these rules need numpy only)."""
    from ..verification.invariants import dedupe as drop_near_duplicates

    return drop_near_duplicates(values)


def n_high(v: Invariants) -> float:
    """High-q power-law exponent (positive), clipped to 1..6."""
    return clip(-v.slope_high, 1.0, 6.0)


def n_low(v: Invariants) -> float:
    """Low-q power-law exponent (positive), clipped to 0..6."""
    return clip(-v.slope_low, 0.0, 6.0)


def thicknesses(v: Invariants) -> list[float]:
    """Sheet thicknesses: first zero of a flat sheet at ``q T = 2 pi``."""
    out = []
    if v.q_dip:
        out.append(2 * math.pi / v.q_dip)
    if v.q_break:
        out.append(2.0 / v.q_break)
    out.append(6.0 / v.q_max)
    return dedupe(out)


def xis(v: Invariants) -> list[float]:
    """Correlation lengths of Lorentzian-like decays (``xi = Rg/sqrt(3)``)."""
    out = []
    if v.q_break:
        out.append(1.0 / v.q_break)
    if v.rg:
        out.append(v.rg / math.sqrt(3))
    out.append(1.0 / math.sqrt(v.q_min * v.q_max))
    return dedupe(out)


def peak_q(v: Invariants) -> list[float]:
    out = [v.q_peak] if v.q_peak else []
    if v.q_break:
        out.append(v.q_break)
    out.append(math.sqrt(v.q_min * v.q_max))
    return dedupe(out)


def gyration(v: Invariants) -> list[float]:
    out = [v.rg] if v.rg else []
    return dedupe(out + [r / 1.29 for r in v.radii()])


def paracrystal(factor: float) -> Guess:
    """dnn from the first Bragg peak: ``dnn = factor * 2 pi / q_peak``."""

    def guess(v):
        dnns = [factor * 2 * math.pi / q for q in peak_q(v)[:2]] + [2 * r for r in v.radii()[:2]]
        return [{"dnn": d, "radius": f * d, "d_factor": 0.06}
                for d in dedupe(dnns) for f in (0.3, 0.45)]

    return guess


def structure(extra: dict) -> Guess:
    """Structure factors: effective radius from the peak (contact ~ 2 pi / q_peak)."""

    def guess(v):
        radii = ([0.5 * 2 * math.pi / v.q_peak * 0.9] if v.q_peak else []) + v.radii()[:2]
        return [{"radius_effective": r, **extra, "volfraction": phi}
                for r in dedupe(radii) for phi in (0.1, 0.3)]

    return guess


def spacings(v: Invariants) -> list[float]:
    """Lamellar repeat distances: from the peak if any, else sheet thicknesses."""
    return dedupe(([v.spacing()] if v.q_peak else []) + thicknesses(v))


def boxes(v: Invariants, thickness: bool = False) -> list[dict]:
    """Rectangular prisms: edge ``a`` from the sphere-equivalent radius, a few shapes."""
    out = []
    for r, (b, c) in product(v.radii()[:2], ((1, 1), (1, 5), (2, 10))):
        a = 1.6 * r / (b * c) ** (1 / 3)
        out.append({"length_a": a, "b2a_ratio": b, "c2a_ratio": c,
                    **({"thickness": 0.1 * r} if thickness else {})})
    return out


def shells(radii, fractions, **extra) -> list[dict]:
    """Core-shell spheres of outer radius r: (core radius, shell thickness) = ((1-f) r, f r)."""
    return [{"radius": (1 - f) * r, "thickness": f * r, **extra} for r in radii for f in fractions]


def rods(v: Invariants, n_small=3, n_large=5, limit=12) -> list[tuple[float, float]]:
    """(cross-section size, length) pairs for elongated particles: the most trusted
    cross-section with every overall length, then the other cross-sections with the
    first two lengths (overall lengths are the least certain invariants)."""
    small, large = v.small_lengths()[:n_small], v.large_lengths()[:n_large]
    pairs = [(small[0], L) for L in large] + [(s, L) for s in small[1:] for L in large[:2]]
    return pairs[:limit]
