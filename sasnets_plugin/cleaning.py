"""Turn a raw 1D curve into one the network can read: finite, positive, sorted, unique q.

Every step is counted in a :class:`CleaningReport`, so callers can tell the user what
was changed instead of silently altering their data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import DataError

#: Fewest usable points accepted. Ten points still show a slope or a knee; fewer than
#: that cannot distinguish 71 models and the 100-point resampling would be mostly
#: interpolation.
MIN_POINTS = 10


@dataclass(frozen=True)
class Curve:
    """A cleaned 1D curve: q strictly increasing and > 0, I > 0, dI > 0 or None.

    The resolution the file states, if any: ``dQ`` the pinhole sigma per point (> 0),
    or ``slit_length`` (1/Å, one value; 0 when not slit smeared) with its
    ``slit_width`` (usually 0). The network input carries both kinds
    (:mod:`sasnets_plugin.preprocessing`), the fits smear with them
    (:mod:`sasnets_plugin.verification.data`).
    """

    q: np.ndarray
    I: np.ndarray  # noqa: E741 - the field's physical name
    dI: np.ndarray | None = None
    dQ: np.ndarray | None = None
    slit_length: float = 0.0
    slit_width: float = 0.0


@dataclass(frozen=True)
class CleaningReport:
    """What :func:`clean_curve` did, point by point.

    ``kept`` marks the input rows that were used (finite, q > 0, I > 0), in input
    order, before sorting and merging: index raw per-point arrays with it instead of
    re-deriving the rule. ``read_notes`` are what the file reader skipped before
    cleaning saw the data (see :func:`sasnets_plugin.loading.load_1d`).
    """

    n_input: int
    n_nonfinite: int = 0
    n_bad_q: int = 0
    n_nonpositive: int = 0
    n_merged: int = 0
    reordered: bool = False
    dI_dropped: bool = False
    dQ_dropped: bool = False
    n_usable: int = 0
    read_notes: tuple[str, ...] = ()
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), compare=False,
                             repr=False)

    def notes(self) -> list[str]:
        """One short sentence per change made, empty when the data was already clean."""
        out = list(self.read_notes)
        if self.n_nonfinite:
            out.append(f"dropped {self.n_nonfinite} point(s) with NaN or infinite values")
        if self.n_bad_q:
            out.append(f"dropped {self.n_bad_q} point(s) with q <= 0")
        if self.n_nonpositive:
            out.append(f"dropped {self.n_nonpositive} point(s) with I <= 0")
        if self.reordered:
            out.append("sorted the points by q")
        if self.n_merged:
            out.append(f"merged {self.n_merged} point(s) sharing a q value with another")
        if self.dI_dropped:
            out.append("ignored the uncertainties dI (missing, zero or not finite)")
        if self.dQ_dropped:
            out.append("ignored the resolution dQ (zero or not finite at some points)")
        return out

    def as_dict(self) -> dict:
        return {
            "n_input": self.n_input,
            "n_nonfinite": self.n_nonfinite,
            "n_bad_q": self.n_bad_q,
            "n_nonpositive": self.n_nonpositive,
            "n_merged": self.n_merged,
            "reordered": self.reordered,
            "dI_dropped": self.dI_dropped,
            "dQ_dropped": self.dQ_dropped,
            "n_usable": self.n_usable,
            "read_notes": list(self.read_notes),
        }


def numbers_1d(name: str, values) -> np.ndarray:
    """``values`` as a 1D float array, or a :class:`DataError` naming ``name``.

    Complex values are refused: NumPy would keep their real part only, with a warning
    the user may never see.
    """
    if _complex(values):
        raise DataError(f"{name} holds complex numbers; SAS data are real (pass the real "
                        "values, e.g. the modulus or the real part, explicitly).")
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must hold numbers only; {_first_non_number(values)!r:.40} "
                        "is not one.") from None
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1D array of numbers, got shape {arr.shape}.")
    return arr


def _complex(values) -> bool:
    """Whether ``values`` (any array-like) holds complex numbers."""
    try:
        return bool(np.iscomplexobj(values))
    except (TypeError, ValueError):  # ragged or odd input: numbers_1d explains it
        return False


def _first_non_number(values):
    """The first element of ``values`` that is not a number (what the message quotes)."""
    for value in np.ravel(np.asarray(values, dtype=object)):
        try:
            float(value)
        except (TypeError, ValueError):
            return value.item() if isinstance(value, np.generic) else value
    return values


def _slit(slit_length) -> float:
    """One slit length from a scalar or per-point values: the median of those > 0."""
    if slit_length is None:
        return 0.0
    values = np.ravel(np.asarray(slit_length, dtype=float))
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.median(values)) if values.size else 0.0


def clean_raw(raw) -> tuple[Curve, CleaningReport]:
    """Clean a ``loading.RawCurve`` with the resolution its file states: the one cleaning
    every consumer of a user's curve shares (network, fits, SasView hand-off)."""
    return clean_curve(raw.q, raw.I, raw.dI, dQ=raw.dQ, slit_length=raw.dQl,
                       slit_width=raw.dQw, read_notes=raw.notes)


def clean_curve(q, I, dI=None, *, dQ=None, slit_length=None,  # noqa: E741
                slit_width=None, read_notes: Sequence[str] = ()) -> tuple[Curve, CleaningReport]:
    """Drop unusable points, sort by q and merge duplicate q values.

    Rows with a non-finite q or I, q <= 0 or I <= 0 are dropped (a log-scale model
    cannot use them). dI is kept only when every remaining value is finite and > 0;
    files without uncertainties arrive with dI all zero and are treated as "no dI".
    The pinhole ``dQ`` follows the same rule. ``slit_length`` (a scalar or per-point
    values, e.g. USANS ``dQl``) becomes one value, the median of those > 0, and so does
    ``slit_width`` (kept only with a slit length); when a file states both a slit and
    ``dQ``, the slit is what its instrument did and ``dQ`` is dropped.
    Points sharing a q are merged into their (inverse-variance) weighted mean.

    ``read_notes`` (what the file reader skipped) are passed on to the report.
    Raises :class:`DataError` when fewer than :data:`MIN_POINTS` usable points remain.
    """
    q = numbers_1d("q", q)
    I = numbers_1d("I", I)  # noqa: E741
    if q.shape != I.shape:
        raise DataError(f"q and I have different lengths ({q.size} and {I.size}).")
    if dI is not None:
        dI = numbers_1d("dI", dI)
        if dI.shape != q.shape:
            raise DataError(f"dI has {dI.size} values but q has {q.size}.")
    slit = _slit(slit_length)
    width = _slit(slit_width) if slit else 0.0
    if dQ is not None and not slit:
        dQ = numbers_1d("dQ", dQ)
        if dQ.shape != q.shape:
            raise DataError(f"dQ has {dQ.size} values but q has {q.size}.")
    else:
        dQ = None
    n_input = q.size

    finite = np.isfinite(q) & np.isfinite(I)
    good_q = finite & (q > 0)
    keep = good_q & (I > 0)
    n_nonfinite = int(np.count_nonzero(~finite))
    n_bad_q = int(np.count_nonzero(finite & ~good_q))
    n_nonpositive = int(np.count_nonzero(good_q & ~keep))
    q, I = q[keep], I[keep]  # noqa: E741
    dI_dropped = False
    if dI is not None:
        dI = dI[keep]
        if dI.size and not np.all(np.isfinite(dI) & (dI > 0)):
            dI_dropped = bool(np.any(dI != 0))  # all-zero dI just means "not given"
            dI = None
    dQ_dropped = False
    if dQ is not None:
        dQ = dQ[keep]
        if dQ.size and not np.all(np.isfinite(dQ) & (dQ > 0)):
            dQ_dropped = bool(np.any(dQ != 0))
            dQ = None

    order = np.argsort(q, kind="stable")
    reordered = bool(np.any(order != np.arange(q.size)))
    q, I = q[order], I[order]  # noqa: E741
    if dI is not None:
        dI = dI[order]
    if dQ is not None:
        dQ = dQ[order]

    unique_q, first, counts = np.unique(q, return_index=True, return_counts=True)
    n_merged = int(q.size - unique_q.size)
    if n_merged:
        group = np.repeat(np.arange(unique_q.size), counts)
        weights = np.ones_like(I) if dI is None else dI**-2
        wsum = np.bincount(group, weights)
        I = np.bincount(group, weights * I) / wsum  # noqa: E741
        dI = None if dI is None else wsum**-0.5
        dQ = None if dQ is None else np.bincount(group, dQ) / counts
        q = unique_q

    report = CleaningReport(
        n_input=n_input,
        n_nonfinite=n_nonfinite,
        n_bad_q=n_bad_q,
        n_nonpositive=n_nonpositive,
        n_merged=n_merged,
        reordered=reordered,
        dI_dropped=dI_dropped,
        dQ_dropped=dQ_dropped,
        n_usable=int(q.size),
        read_notes=tuple(read_notes),
        kept=keep,
    )
    if q.size < MIN_POINTS:
        raise DataError(_too_few_message(report))
    return Curve(q=q, I=I, dI=dI, dQ=dQ, slit_length=slit, slit_width=width), report


def _too_few_message(report: CleaningReport) -> str:
    if report.n_input == 0:
        return "The data set contains no points."
    if report.n_nonpositive and report.n_usable == 0:
        return (
            f"All {report.n_input} intensities are zero, negative or invalid; the model "
            "suggestion needs positive I(q) (check the background subtraction)."
        )
    detail = "; ".join(report.notes())
    return (
        f"Only {report.n_usable} usable point(s) out of {report.n_input}"
        + (f" ({detail})" if detail else "")
        + f"; at least {MIN_POINTS} are needed to suggest a model."
    )
