"""Model-independent numbers read off a 1D curve, used to seed the fits.

Everything here is cheap (no model evaluation) and robust rather than exact: the
values only have to put a start point in the right basin; the fit does the rest.

* **Guinier radius** ``rg`` and forward intensity ``i0``: ``ln I = ln I0 - Rg^2 q^2 / 3``
  fitted on the low-q points with ``q Rg <= 1.3``, iterated until the range is
  self-consistent. ``None`` when the low-q data rise with q or are not curved down.
* **Power-law slopes** ``slope_low`` / ``slope_high``: least-squares slopes of
  ``ln I`` versus ``ln q`` over the first / last fifth of the log-q span (the high-q one
  after subtracting the background estimate).
* **Background** ``background``: intercept ``B`` of ``I = A q^-4 + B`` fitted to the
  last quarter of the points (non-negative, never above the lowest intensity there).
* **Peak** ``q_peak``: the most prominent local maximum of (lightly smoothed) ``ln I``
  — a correlation, structure-factor or Bragg peak, i.e. a spacing ``2 pi / q_peak``.
* **Dip** ``q_dip``: the first prominent local minimum of ``ln((I - B) q^4)`` — the first
  form-factor zero of a fairly monodisperse particle (``q R = 4.49`` for a sphere,
  ``3.83`` for a cylinder cross-section, ``2 pi`` for a flat sheet's thickness).
* **Break** ``q_break``: where the local log-log slope is half-way between the low- and
  high-q slopes, i.e. the knee between two regimes (``q ~ 1/size``).
* **Correlation peak** ``q_corr``: where the curve *rises* to a maximum inside the window
  and falls after it (the interaction peak of a concentrated or charged sample; a
  form-factor ripple on a decaying curve is not one).
* **Relative noise** ``noise``: the point-to-point scatter of ``ln I`` about the line
  through each point's neighbours (robust: median absolute deviation).

Cost: curves longer than :data:`MAX_POINTS` are first averaged into that many log-q bins
(:func:`log_bins`), so every step below works on at most that many points whatever the
file holds (10^6-point files included); the binning itself is O(n log n).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Guinier approximation's usual validity limit q·Rg.
GUINIER_QRG = 1.3
#: Most points the verification works on: longer curves are averaged into this many
#: log-q bins first (invariants here, fits in :func:`.data.prepare_data`). Measured
#: curves rarely have more (the labelled real files: 20-364 points).
MAX_POINTS = 500


@dataclass(frozen=True)
class Invariants:
    """What :func:`curve_invariants` found; ``None`` where a feature is absent."""

    q_min: float
    q_max: float
    n: int
    i_low: float
    i_high: float
    background: float
    noise: float
    slope_low: float
    slope_high: float
    rg: float | None = None
    i0: float | None = None
    q_peak: float | None = None
    q_dip: float | None = None
    q_break: float | None = None
    q_corr: float | None = None
    notes: tuple[str, ...] = field(default=())

    # --- derived length hypotheses (Angstrom) ------------------------------------
    def radii(self) -> list[float]:
        """Sphere-equivalent radii suggested by the curve, most trustworthy first."""
        out = []
        if self.q_dip:
            out.append(4.49 / self.q_dip)
        if self.rg:
            out.append(math.sqrt(5.0 / 3.0) * self.rg)
        if self.q_break:
            out.append(2.5 / self.q_break)
        if self.q_peak:
            out.append(math.pi / self.q_peak)
        if not out:
            out.append(2.0 / math.sqrt(self.q_min * self.q_max))
        return dedupe(out)

    def small_lengths(self) -> list[float]:
        """Cross-section sizes (radius of a rod, thickness of a sheet) suggested by the
        high-q side of the curve."""
        out = []
        if self.q_dip:
            out.append(3.83 / self.q_dip)
        if self.q_break:
            out.append(2.0 / self.q_break)
        out.append(3.0 / self.q_max)
        out.append(1.0 / math.sqrt(self.q_min * self.q_max))
        return dedupe(out)

    def large_lengths(self) -> list[float]:
        """Overall sizes (rod length, cluster size, correlation length)."""
        out = []
        if self.rg:
            out.append(math.sqrt(12.0) * self.rg)
            out.append(self.rg)
        if self.q_break:
            out.append(3.0 / self.q_break)
        out.append(2.0 / self.q_min)
        out.append(10.0 / self.q_min)
        return dedupe(out)

    def spacing(self) -> float | None:
        """Repeat distance ``2 pi / q_peak``, if there is a peak."""
        return 2.0 * math.pi / self.q_peak if self.q_peak else None

    def as_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in ("q_min", "q_max", "n", "i_low", "i_high", "background", "noise",
                      "slope_low", "slope_high", "rg", "i0", "q_peak", "q_dip", "q_break",
                      "q_corr")
        }


def dedupe(values, rel: float = 0.15) -> list[float]:
    """Drop non-finite / non-positive values and those within ``rel`` of an earlier one."""
    out: list[float] = []
    for v in values:
        if v is None or not np.isfinite(v) or v <= 0:
            continue
        if all(abs(math.log(v / w)) > rel for w in out):
            out.append(float(v))
    return out


def _linfit(x, y, w=None):
    """Weighted straight line ``y = a + b x``; returns (a, b)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    sw = w.sum()
    xm, ym = (w * x).sum() / sw, (w * y).sum() / sw
    sxx = (w * (x - xm) ** 2).sum()
    if sxx <= 0:
        return ym, 0.0
    b = (w * (x - xm) * (y - ym)).sum() / sxx
    return ym - b * xm, b


def relative_noise(q, I) -> float:  # noqa: E741
    """Robust relative point-to-point scatter of ``I`` (0.02 means about 2 %).

    Each point is compared with the parabola (in log-log) through its four nearest
    neighbours; the median absolute deviation of those residuals, divided by the
    factor the residual's own error carries, estimates the scatter. Smooth
    (simulated) curves give values near 0; sparse, strongly curved ones are
    overestimated (the parabola cannot follow them), which errs on the safe side.
    Vectorised: O(n).
    """
    x, y = np.log(q), np.log(I)
    n = x.size
    if n < 7:
        return 0.0
    centre = np.arange(2, n - 2)
    neighbours = centre[:, None] + np.array([-2, -1, 1, 2])
    dx = x[neighbours] - x[centre, None]
    design = np.stack([np.ones_like(dx), dx, dx**2], axis=2)  # (n - 4, 4, 3)
    c = np.linalg.pinv(design)[:, 0, :]  # weights giving each parabola's value at x[i]
    res = (y[centre] - np.einsum("ij,ij->i", c, y[neighbours])) / np.sqrt(1.0 + (c * c).sum(1))
    return float(1.4826 * np.median(np.abs(res - np.median(res))))


def log_bins(q, n_bins: int = MAX_POINTS) -> tuple[np.ndarray, int]:
    """Bin number of every point of increasing ``q`` on ``n_bins`` equal log-q bins,
    empty bins skipped: ``(index, number of bins used)``."""
    edges = np.geomspace(q[0], q[-1] * (1 + 1e-12), n_bins + 1)
    raw = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, n_bins - 1)
    used, index = np.unique(raw, return_inverse=True)
    return index, used.size


def bin_average(index, n: int, values, weights) -> np.ndarray:
    """Weighted mean of ``values`` within each bin of :func:`log_bins`."""
    return np.bincount(index, weights * values, n) / np.bincount(index, weights, n)


def binned(q, I, dI=None, n_bins: int = MAX_POINTS):  # noqa: E741
    """``(q, I, dI)`` averaged into at most ``n_bins`` log-q bins (inverse-variance
    weighted when ``dI`` is given, else plain means and ``dI`` None); unchanged when the
    curve is no longer than that."""
    if q.size <= n_bins:
        return q, I, dI
    index, n = log_bins(q, n_bins)
    w = np.ones_like(q) if dI is None else dI**-2.0
    out_dI = None if dI is None else np.bincount(index, w, n) ** -0.5
    return bin_average(index, n, q, w), bin_average(index, n, I, w), out_dI


def _smooth(y, noise: float) -> np.ndarray:
    """Light running mean (5 points) when the curve is noisy and dense, else unchanged."""
    if noise < 0.03 or y.size < 40:
        return y
    kernel = np.ones(5) / 5
    padded = np.concatenate([np.full(2, y[0]), y, np.full(2, y[-1])])
    return np.convolve(padded, kernel, mode="valid")


def guinier(q, I, dI=None):  # noqa: E741
    """``(Rg, I0)`` from the low-q Guinier region, or ``(None, None)``."""
    n = q.size
    if n < 4:
        return None, None
    y = np.log(I)
    w = None if dI is None else (I / dI) ** 2
    m = int(np.clip(n // 8, 4, 10))
    rg = i0 = None
    for _ in range(10):
        a, b = _linfit(q[:m] ** 2, y[:m], None if w is None else w[:m])
        if not b < 0:
            break
        rg, i0 = math.sqrt(-3.0 * b), math.exp(a)
        new_m = int(np.clip(np.count_nonzero(q * rg <= GUINIER_QRG), 4, max(4, n // 2)))
        if new_m == m:
            break
        m = new_m
    if rg is None or not np.isfinite(rg):
        return None, None
    return rg, i0


def _slope(x, y):
    return _linfit(x, y)[1] if x.size >= 2 else 0.0


def _background(q, I):  # noqa: E741
    """Non-negative ``B`` of ``I = A q^-4 + B`` on the last quarter of the points."""
    k = max(4, q.size // 4)
    qt, it = q[-k:], I[-k:]
    A = np.column_stack([qt**-4.0, np.ones_like(qt)])
    scale = np.abs(A).max(axis=0)
    try:
        coef, *_ = np.linalg.lstsq(A / scale, it, rcond=None)
    except np.linalg.LinAlgError:
        return 0.0
    B = coef[1] / scale[1]
    if not np.isfinite(B) or B <= 0:
        return 0.0
    return float(min(B, 0.95 * it.min()))


def _prominent_extremum(x, y, maximum: bool, threshold: float, first: bool):
    """Index of a local max (or min) of ``y`` whose prominence within ±0.25 of the
    x-span exceeds ``threshold``: the most prominent one, or the first for ``first``."""
    n = y.size
    if n < 5:
        return None
    s = y if maximum else -y
    half = 0.25 * (x[-1] - x[0])
    best, best_prom = None, threshold
    for i in range(1, n - 1):
        if not (s[i] >= s[i - 1] and s[i] > s[i + 1]):
            continue
        left = s[(x >= x[i] - half) & (x < x[i])]
        right = s[(x <= x[i] + half) & (x > x[i])]
        if left.size == 0 or right.size == 0:
            continue
        prom = min(s[i] - left.min(), s[i] - right.min())
        if prom > best_prom:
            if first:
                return i
            best, best_prom = i, prom
    return best


def curve_invariants(q, I, dI=None) -> Invariants:  # noqa: E741
    """Compute :class:`Invariants` of a cleaned curve (q > 0 increasing, I > 0); longer
    curves than :data:`MAX_POINTS` are binned first."""
    q, I, dI = binned(np.asarray(q, float), np.asarray(I, float),  # noqa: E741
                      None if dI is None else np.asarray(dI, float))
    n = q.size
    x, y = np.log(q), np.log(I)
    span = x[-1] - x[0] if n > 1 else 1.0
    noise = relative_noise(q, I)
    notes = []

    bg = _background(q, I)

    low = x <= x[0] + 0.2 * span
    if np.count_nonzero(low) < 3:
        low = np.arange(n) < min(n, 3)
    slope_low = _slope(x[low], y[low])

    high = x >= x[-1] - 0.2 * span
    if np.count_nonzero(high) < 3:
        high = np.arange(n) >= n - min(n, 3)
    sub = I - bg
    ok = high & (sub > 0.3 * I)
    if np.count_nonzero(ok) >= 3:
        slope_high = _slope(x[ok], np.log(sub[ok]))
    else:
        slope_high = _slope(x[high], y[high])

    rg, i0 = guinier(q, I, dI)
    if rg is not None and q[0] * rg > GUINIER_QRG:
        notes.append("no Guinier region in the window (q_min*Rg > 1.3): Rg is a lower bound")

    ys = _smooth(y, noise)
    threshold = max(0.05, 4 * noise)
    ip = _prominent_extremum(x, ys, maximum=True, threshold=threshold, first=False)
    q_peak = float(q[ip]) if ip is not None else None

    q_corr = None
    top = int(np.argmax(ys))
    if 0 < top < n - 1 and min(ys[top] - ys[0], ys[top] - ys[top:].min()) > threshold:
        q_corr = float(q[top])

    q_dip = None
    usable = sub > max(3 * noise, 0.05) * I
    if np.count_nonzero(usable) >= 5:
        xs = x[usable]
        z = _smooth(np.log(sub[usable]) + 4 * xs, noise)
        idip = _prominent_extremum(xs, z, maximum=False, threshold=max(0.3, 3 * noise), first=True)
        if idip is not None:
            q_dip = float(np.exp(xs[idip]))

    q_break = None
    if abs(slope_high - slope_low) > 0.7 and n >= 6:
        # local slopes by regression over a window of 0.15 of the log span
        local = np.empty(n)
        for i in range(n):
            win = np.abs(x - x[i]) <= 0.075 * span
            if np.count_nonzero(win) < 3:
                win = np.abs(np.arange(n) - i) <= 1
            local[i] = _slope(x[win], np.log(np.clip(sub[win], 1e-300, None))
                              if np.all(sub[win] > 0) else y[win])
        mid = 0.5 * (slope_low + slope_high)
        sign = np.sign(local - mid)
        cross = np.nonzero(sign[:-1] != sign[1:])[0]
        if cross.size:
            i = cross[0]
            q_break = float(np.exp(0.5 * (x[i] + x[i + 1])))

    return Invariants(
        q_min=float(q[0]), q_max=float(q[-1]), n=n,
        i_low=float(np.median(I[: min(3, n)])), i_high=float(np.median(I[-min(3, n):])),
        background=bg, noise=noise, slope_low=float(slope_low), slope_high=float(slope_high),
        rg=rg, i0=i0, q_peak=q_peak, q_dip=q_dip, q_break=q_break, q_corr=q_corr,
        notes=tuple(notes),
    )
