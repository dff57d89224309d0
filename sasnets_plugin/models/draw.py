"""Random helpers of the training priors, bound to one generator and one q window.

The central idea of every prior (one per model, in ``models/<name>.py``): a model has
one or more characteristic lengths (radius, correlation length, lattice spacing...)
that put a *feature* (Guinier knee, form-factor minima, Bragg or correlation peak,
change of slope) at a scattering vector of roughly ``c / length``. Instead of drawing
the lengths blindly, :meth:`Draw.qstar` draws the feature position log-uniformly inside
the q window of the simulated instrument (most of the time; sometimes outside it, as in
experiments where a feature is only partly seen) and :meth:`Draw.length` derives the main
length from it. Secondary lengths are drawn as ratios of the main one. Lengths therefore
stay log-uniformly distributed while their features usually land in the window.

Nested models: many models contain a simpler one as a limit (a vesicle is a multilayer
vesicle with one shell, a core-shell sphere without shell contrast is a sphere). A curve
drawn in such a limit carries the simpler model's label in disguise, so the richer
models' priors keep their distinguishing feature visible (:data:`MIN_SHELL_CONTRAST`,
:meth:`Draw.sld_apart`, :meth:`Draw.ratio_apart`); each model file says which limits its
prior avoids.

Broad priors (``Draw(..., broad=True)``): real samples do not place their features for
the instrument, and they sit wherever nature puts them, nested limits included. In broad
mode the same priors draw feature positions log-uniformly over a window widened by
:data:`BROAD_SPAN` on both sides (features partly or wholly outside), and the helpers
that keep richer models away from their simpler limits (:meth:`Draw.sld_apart`,
:meth:`Draw.ratio_apart`) stop doing so. Training mixes both (``training.priors``).

Only numpy: the priors live beside the runtime without pulling in the training stack.
"""
from __future__ import annotations

import math

import numpy as np

#: q window assumed when the caller does not give one (1/Angstrom).
DEFAULT_Q_RANGE = (1e-3, 0.5)
#: Fraction of curves whose feature position is drawn in a wider range than
#: the window (feature partly or not at all visible, as in practice).
OUTSIDE_FRACTION = 0.15
#: Minimum SLD difference (1e-6/Ang^2) between a shell, rim or head group and
#: its neighbours, so the layer is visible in the curve.
MIN_SHELL_CONTRAST = 1.0
#: Broad priors: feature positions anywhere within this factor beyond the window.
BROAD_SPAN = 30.0


class Draw:
    """Random helpers bound to one generator and one q window."""

    def __init__(self, rng: np.random.Generator, q_range=DEFAULT_Q_RANGE, broad: bool = False):
        self.rng = rng
        self.broad = broad
        self.q_lo, self.q_hi = float(q_range[0]), float(q_range[1])
        if not 0 < self.q_lo < self.q_hi:
            raise ValueError(f"bad q range {q_range!r}")

    # --- primitive distributions -------------------------------------
    def u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    def logu(self, a: float, b: float) -> float:
        return float(math.exp(self.rng.uniform(math.log(a), math.log(b))))

    def integer(self, a: int, b: int) -> int:
        """Integer in [a, b], log-uniformly distributed."""
        return int(min(b, max(a, round(self.logu(a, b + 0.499)))))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def sld(self, lo: float = -0.5, hi: float = 7.0) -> float:
        """A neutron/X-ray scattering length density in 1e-6/Ang^2."""
        return self.u(lo, hi)

    def sld_pair(self, min_contrast: float = 0.3, lo: float = -0.5,
                 hi: float = 7.0) -> tuple[float, float]:
        """(particle, solvent) SLDs with a non-negligible contrast."""
        while True:
            a, b = self.sld(lo, hi), self.sld(lo, hi)
            if abs(a - b) >= min_contrast:
                return a, b

    def sld_apart(self, *others: float, gap: float = MIN_SHELL_CONTRAST,
                  lo: float = -0.5, hi: float = 7.0) -> float:
        """An SLD at least *gap* away from each of *others* (a visible layer; any SLD
        for a broad prior)."""
        if self.broad:
            return self.sld(lo, hi)
        while True:
            value = self.sld(lo, hi)
            if all(abs(value - other) >= gap for other in others):
                return value

    def ratio_apart(self, lo: float, hi: float, gap: float = 1.4) -> float:
        """A log-uniform aspect ratio in [lo, hi] outside [1/gap, gap], so the
        shape differs visibly from the isotropic one (any ratio for a broad prior)."""
        if self.broad:
            return self.logu(lo, hi)
        while True:
            value = self.logu(lo, hi)
            if not 1.0 / gap < value < gap:
                return value

    # --- window-aware feature positions -------------------------------
    def qstar(self, margin: float = 1.5) -> float:
        """Position of a feature: inside the window (shrunk by *margin* on
        both sides) most of the time, within a 4x wider window otherwise; anywhere
        within :data:`BROAD_SPAN` of the window for a broad prior."""
        if self.broad:
            return self.logu(self.q_lo / BROAD_SPAN, self.q_hi * BROAD_SPAN)
        lo, hi = self.q_lo * margin, self.q_hi / margin
        if hi <= lo or self.chance(OUTSIDE_FRACTION):
            lo, hi = self.q_lo / 4, self.q_hi * 4
        return self.logu(lo, hi)

    def length(self, c: float = 1.0, margin: float = 1.5) -> float:
        """A length whose feature at q ~ c/length lies in the window."""
        return c / self.qstar(margin)

    def length_in(self, c: float, lo: float, hi: float, tries: int = 20) -> float:
        """Like :meth:`length`, restricted to the physical range [lo, hi]
        (redrawn up to *tries* times, then clipped)."""
        for _ in range(tries):
            value = self.length(c)
            if lo <= value <= hi:
                return value
        return clip(value, lo, hi)


def clip(x: float, lo: float, hi: float) -> float:
    return float(min(hi, max(lo, x)))
