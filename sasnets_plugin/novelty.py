"""How unlike its training data a curve is: the out-of-distribution (OOD) score.

A network ranks whatever it is given; on a curve unlike everything it was trained on the
ranking is meaningless, yet its probabilities can look confident. Two things make a curve
unlike the training data, and each has its own measure:

* **The q window.** The v3 input is shift-invariant in log q (a shape at size s·L is the
  curve at L shifted), so the network itself cannot see a window where no SAS instrument
  measures, or q in 1/nm passed as 1/Å (every q ten times too large). The window
  component is the distance, in decades of (log10 q_min, log10 q_max), from the curve's
  window to the :data:`K_NEAREST`-th nearest of a sample of training windows.
* **The shape.** The exported network has a second output: the squared Mahalanobis
  distance of its penultimate features to the nearest class mean (shared covariance,
  both fitted on training curves; Lee et al. 2018), log10. A curve of a model never seen,
  or data no model describes, lands far from every class.

Each component is put on one scale by the validation split: 0 at its validation median,
1 at its 99th percentile. The score is the larger of the two, and a curve is *unusual*
when it exceeds the threshold stored with the weights: the score that a set fraction of
validation curves exceed (``training.ood``). Both the numbers and the threshold are in
the network's ``metadata.json`` (``"novelty"``); a network without them (v2)
reports no score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import WeightsError

#: Key of the OOD reference in ``metadata.json``.
METADATA_KEY = "novelty"
#: Neighbours of the window distance (robust to a single odd training window).
K_NEAREST = 5
#: Largest q (1/Å) of any training window: above it, q is probably not in 1/Å.
Q_CAP = 3.0
#: A q in 1/nm read as 1/Å is this many times too large.
NM_PER_ANGSTROM = 10.0


@dataclass(frozen=True)
class Assessment:
    """The OOD score of one curve and what it means for the user."""

    score: float
    threshold: float
    window: float        # the window component (scaled; see the module docstring)
    shape: float | None  # the shape component, None when the network has no such output
    warning: str | None  # for the user, when ``score > threshold``

    @property
    def unusual(self) -> bool:
        return self.score > self.threshold

    def as_dict(self) -> dict:
        return {"score": round(self.score, 3), "threshold": round(self.threshold, 3),
                "unusual": self.unusual, "window": round(self.window, 3),
                "shape": None if self.shape is None else round(self.shape, 3),
                "warning": self.warning}


def window_features(q_min, q_max) -> np.ndarray:
    """``(n, 2)`` log10 (q_min, q_max) of windows (the space the window distance is in)."""
    return np.column_stack([np.log10(np.ravel(q_min)), np.log10(np.ravel(q_max))])


def window_distance(reference: np.ndarray, windows: np.ndarray, k: int = K_NEAREST) -> np.ndarray:
    """Distance in decades from each of ``windows`` to its k-th nearest ``reference`` window."""
    k = min(k, len(reference))
    out = np.empty(len(windows))
    for start in range(0, len(windows), 4096):  # bounded memory for big evaluations
        part = windows[start:start + 4096]
        d = np.sqrt(((part[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2))
        out[start:start + len(part)] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return out


class Novelty:
    """The OOD reference of one network (``metadata.json`` → ``"novelty"``)."""

    def __init__(self, record: dict):
        try:
            self.reference = np.asarray(record["window"]["reference"], dtype=float)
            self.window_median = float(record["window"]["median"])
            self.window_scale = float(record["window"]["scale"])
            self.shape_median = float(record["shape"]["median"])
            self.shape_scale = float(record["shape"]["scale"])
            self.threshold = float(record["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsError(f"The network's OOD reference ({METADATA_KEY!r} in its "
                               f"metadata) is incomplete or malformed ({exc!r}).") from exc
        if self.reference.ndim != 2 or self.reference.shape[1] != 2 or not len(self.reference) \
                or not (self.window_scale > 0 and self.shape_scale > 0):
            raise WeightsError(f"The network's OOD reference ({METADATA_KEY!r} in its "
                               "metadata) holds no usable training windows or scales.")
        numbers = (self.window_median, self.window_scale, self.shape_median, self.shape_scale,
                   self.threshold)
        if not (np.all(np.isfinite(numbers)) and np.all(np.isfinite(self.reference))):
            # a NaN threshold would call every curve "like the training data"
            raise WeightsError(f"The network's OOD reference ({METADATA_KEY!r} in its "
                               "metadata) holds NaN or infinite values; restore the "
                               "exported metadata.json.")

    @classmethod
    def from_metadata(cls, metadata: dict) -> Novelty | None:
        record = metadata.get(METADATA_KEY)
        return None if record is None else cls(record)

    def components(self, windows: np.ndarray, shape_distance: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
        """Scaled window and shape components of many curves (``windows`` as
        :func:`window_features`, ``shape_distance`` the network's second output)."""
        window = (window_distance(self.reference, windows) - self.window_median) / self.window_scale
        if shape_distance is None:
            return window, None
        log_d = np.log10(np.maximum(np.asarray(shape_distance, dtype=float), 1e-12))
        return window, (log_d - self.shape_median) / self.shape_scale

    def assess(self, q_min: float, q_max: float, shape_distance: float | None) -> Assessment:
        """The assessment of one curve with window ``q_min``..``q_max`` (1/Å)."""
        (window,), shape = self.components(window_features(q_min, q_max),
                                           None if shape_distance is None else [shape_distance])
        shape_value = None if shape is None else float(shape[0])
        score = max(float(window), -np.inf if shape_value is None else shape_value)
        warning = None
        if score > self.threshold:
            warning = self._warning(q_min, q_max, float(window), shape_value)
        return Assessment(score, self.threshold, float(window), shape_value, warning)

    def _warning(self, q_min: float, q_max: float, window: float, shape: float | None) -> str:
        """Every reason that applies: a window no instrument measures is named even when
        the shape stands out more (an unknown window makes every shape unusual too, and
        the window is what the user can correct)."""
        reasons = []
        if shape is None or window > self.threshold or q_max > Q_CAP:
            lowest = 10 ** float(self.reference[:, 0].min())
            reason = (f"its q window ({q_min:.3g} to {q_max:.3g} 1/Å) lies outside the "
                      "windows the network was trained on")
            if q_max > Q_CAP:
                reason += (f"; no SAS instrument measures up to q = {q_max:.3g} 1/Å: if q is "
                           f"in 1/nm, divide it by {NM_PER_ANGSTROM:g}")
            elif q_max < lowest:
                reason += "; is q in 1/Å?"
            reasons.append(reason)
        if shape is not None and shape > self.threshold:
            reasons.append("its shape is unlike every curve the network was trained on (a "
                           "model it does not know, a mixture, or an artefact such as a bad "
                           "background subtraction)")
        return (f"This curve is unlike the training data: {'; and '.join(reasons)}. Treat "
                "the ranking with caution and check the fits.")
