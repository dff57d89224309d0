"""The user's curve as the fits see it: cleaned, with weights and resolution.

:func:`fit_data` turns a cleaned curve (``cleaning.Curve``, the one ``suggestion.prepare``
gives the network too) into :class:`FitData`: its resolution (the pinhole dQ, or the slit
length and width, as cleaning kept them) and the weighting chosen (the file's dI when
every point has one, otherwise one relative error estimated from the curve's scatter, see
:mod:`.fitting`). :func:`prepare_data` is the same from a raw curve. The network, the
fits and the SasView hand-off thus read one cleaned curve under one rule (a dQ missing at
some points is dropped with a note, as the network drops it).

Long curves (more than :data:`.invariants.MAX_POINTS` points, e.g. a 10^6-point
reduction) are averaged into that many log-q bins first, so that one model evaluation
costs the same whatever the file holds: intensities inverse-variance weighted (plain
means without dI), the spread of q within a bin added to its pinhole resolution
(``dQ^2 = <dQ^2> + var(q)``, the box of q a bin averages over).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..cleaning import CleaningReport, Curve, clean_raw
from .invariants import MAX_POINTS, bin_average, log_bins, relative_noise

#: Relative error assumed for data without dI: the estimated scatter, clipped to this.
REL_ERROR_RANGE = (0.01, 0.25)
#: Relative precision of the model evaluations themselves (polydispersity and
#: resolution integrated on finite grids): no point's error is taken below it, so that
#: a curve measured more precisely than the models compute is still "within the noise"
#: of the right model. Chosen on 71 simulated validation curves (one per class): with it,
#: the true parameters fit within the noise (chi2r <= 2) on 90 % of them, without it
#: on 82 % (larger floors up to 1 % gain nothing more; the rest are simulation
#: artefacts of a few classes, chi2r 5-3000).
MODEL_PRECISION = 0.002


@dataclass(frozen=True)
class FitData:
    """A cleaned curve with the weights and resolution the fits use."""

    q: np.ndarray
    I: np.ndarray  # noqa: E741
    sigma: np.ndarray
    dQ: np.ndarray | None = None
    slit_length: np.ndarray | None = None
    slit_width: np.ndarray | None = None
    relative_error: float | None = None  # set when sigma = relative_error * I (no dI)
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return int(self.q.size)

    @property
    def sigma_estimated(self) -> bool:
        return self.relative_error is not None

    @property
    def resolution(self) -> str:
        """``"slit"``, ``"pinhole"`` or ``"none"``."""
        if self.slit_length is not None or self.slit_width is not None:
            return "slit"
        return "pinhole" if self.dQ is not None else "none"

    def describe_resolution(self) -> str:
        if self.resolution == "slit":
            parts = []
            if self.slit_length is not None:
                parts.append(f"length {np.median(self.slit_length):.3g} 1/Å")
            if self.slit_width is not None:
                parts.append(f"width {np.median(self.slit_width):.3g} 1/Å")
            return "slit smearing (" + ", ".join(parts) + ")"
        if self.resolution == "pinhole":
            return f"pinhole dQ from the file (median dQ/q = {np.median(self.dQ / self.q):.3g})"
        return "none (no dQ in the file)"

    def describe_weighting(self) -> str:
        if self.sigma_estimated:
            return (f"no dI in the data: relative errors dI = {self.relative_error:.3g} * I "
                    "(estimated from the curve's point-to-point scatter)")
        return f"dI from the file (at least {MODEL_PRECISION:.1%} of I, the models' precision)"

    def subset(self, index) -> "FitData":
        pick = (lambda a: None if a is None else a[index])
        return replace(self, q=self.q[index], I=self.I[index], sigma=self.sigma[index],
                       dQ=pick(self.dQ), slit_length=pick(self.slit_length),
                       slit_width=pick(self.slit_width))

    def sasmodels_data(self):
        from sasmodels.data import Data1D

        data = Data1D(x=self.q, y=self.I, dx=None, dy=self.sigma)
        data.dxl = data.dxw = None
        if self.resolution == "slit":
            zeros = np.zeros_like(self.q)
            data.dxl = zeros if self.slit_length is None else self.slit_length
            data.dxw = zeros if self.slit_width is None else self.slit_width
        elif self.resolution == "pinhole":
            data.dx = self.dQ
        return data


def _per_point(name, values, n) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values, float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} has {arr.size} values for {n} points")
    return arr


def make_fit_data(q, I, dI=None, dQ=None, slit_length=None,  # noqa: E741
                  slit_width=None) -> FitData:
    """:class:`FitData` from an already *cleaned* curve (see ``cleaning.clean_curve``).

    ``dI`` must be all > 0 or None (then relative errors are estimated, see module doc);
    errors below :data:`MODEL_PRECISION` of I are raised to it.
    ``dQ`` (pinhole 1-sigma) is used when some value is > 0; missing/zero entries are
    filled with the median relative resolution. Slit ``slit_length``/``slit_width``
    (scalars or per point) take precedence over ``dQ`` when one of them is > 0.
    """
    q = np.asarray(q, float)
    I = np.asarray(I, float)  # noqa: E741
    n = q.size
    notes = []
    dI = _per_point("dI", dI, n)
    if dI is not None and not np.all(np.isfinite(dI) & (dI > 0)):
        notes.append("dI ignored: not all finite and > 0")
        dI = None
    if dI is None:
        f = float(np.clip(relative_noise(q, I), *REL_ERROR_RANGE))
        sigma, rel = f * I, f
    else:
        sigma, rel = np.hypot(dI, MODEL_PRECISION * I), None
    sl = _per_point("slit length", slit_length, n)
    sw = _per_point("slit width", slit_width, n)
    if sl is not None and not np.any(np.isfinite(sl) & (sl > 0)):
        sl = None
    if sw is not None and not np.any(np.isfinite(sw) & (sw > 0)):
        sw = None
    if sl is not None:
        sl = np.where(np.isfinite(sl) & (sl > 0), sl, 0.0)
    if sw is not None:
        sw = np.where(np.isfinite(sw) & (sw > 0), sw, 0.0)
    dq = _per_point("dQ", dQ, n)
    if sl is not None or sw is not None:
        if dq is not None and np.any(dq > 0):
            notes.append("slit and pinhole resolution both given: slit smearing used")
        dq = None
    elif dq is not None:
        good = np.isfinite(dq) & (dq > 0)
        if not good.any():
            dq = None
        elif not good.all():
            dq = np.where(good, dq, np.median(dq[good] / q[good]) * q)
            notes.append(f"{np.count_nonzero(~good)} point(s) without dQ given the median dQ/q")
    return FitData(q, I, sigma, dq, sl, sw, rel, tuple(notes))


def fit_data(curve: Curve) -> FitData:
    """:class:`FitData` of a cleaned curve (``cleaning.clean_raw``): its dI or estimated
    errors, its pinhole dQ or slit, averaged into log-q bins when it is long (module
    docstring). The network read the same curve: nothing is cleaned a second time."""
    n = curve.q.size
    slit = (None if not curve.slit_length else np.full(n, curve.slit_length),
            None if not curve.slit_width else np.full(n, curve.slit_width))
    columns = (curve.q, curve.I, curve.dI, curve.dQ, *slit)
    note = ()
    if n > MAX_POINTS:
        columns = _binned(*columns)
        note = (f"{n} points averaged into {columns[0].size} log-q bins for the fits",)
    q, I, dI, dQ, sl, sw = columns  # noqa: E741
    data = make_fit_data(q, I, dI, dQ=dQ, slit_length=sl, slit_width=sw)
    return replace(data, notes=data.notes + note)


def prepare_data(raw) -> tuple[FitData, CleaningReport]:
    """Clean ``raw`` (a ``loading.RawCurve``, its resolution included) the one way the
    plugin cleans (``cleaning.clean_raw``) and make its :class:`FitData`; what
    ``suggestion.prepare`` holds as ``Prepared.data``."""
    curve, report = clean_raw(raw)
    return fit_data(curve), report


def _binned(q, I, dI, dQ, slit_length, slit_width):  # noqa: E741
    """Every column averaged into :data:`MAX_POINTS` log-q bins (module docstring)."""
    index, n = log_bins(q, MAX_POINTS)
    w = np.ones_like(q) if dI is None else dI**-2.0
    q_bin = bin_average(index, n, q, w)
    spread = bin_average(index, n, (q - q_bin[index]) ** 2, w)

    def mean(values):
        if values is None:
            return None
        good = np.isfinite(values)
        with np.errstate(invalid="ignore"):  # a bin without any value: NaN
            return bin_average(index, n, np.where(good, values, 0.0), good.astype(float))

    dQ_bin = None if dQ is None else np.sqrt(mean(dQ ** 2) + spread)
    return (q_bin, bin_average(index, n, I, w),
            None if dI is None else np.bincount(index, w, n) ** -0.5,
            dQ_bin, mean(slit_length), mean(slit_width))
