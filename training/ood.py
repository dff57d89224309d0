"""Fit a trained network's out-of-distribution reference (what :mod:`sasnets_plugin.novelty`
reads from ``metadata.json``) and measure how well the score separates unusual curves.

* Shape: class means of the ``embedding`` features and one shared covariance (shrunk
  towards its diagonal so that it stays invertible) from at most :data:`N_FIT` training
  curves; the squared Mahalanobis distance to the nearest class mean is exported as a
  second network output (:func:`keras_distance`), computed the same way here in numpy.
* Window: :data:`N_REFERENCE_WINDOWS` training windows are the reference sample.
* Each component is scaled on the validation split (0 at the median, 1 at the
  :data:`SCALE_QUANTILE` quantile) and the threshold is the score exceeded by
  :data:`FALSE_ALARM` of validation curves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from sasnets_plugin.novelty import K_NEAREST, Novelty, window_distance

#: Share of in-distribution (validation) curves flagged as unusual.
FALSE_ALARM = 0.01
#: Quantile of a validation component that maps to 1 on the common scale.
SCALE_QUANTILE = 0.99
#: Training windows kept as the window reference (stored in metadata.json).
N_REFERENCE_WINDOWS = 2000
#: Training curves whose features fit the class means and covariance.
N_FIT = 50_000
#: Covariance shrinkage towards its diagonal (share of the diagonal mixed in).
SHRINKAGE = 0.05


@dataclass(frozen=True)
class Mahalanobis:
    """Class means and the Cholesky factor ``L`` of the shared precision (P = L Lᵀ)."""

    means: np.ndarray     # (n_classes_seen, n_features)
    cholesky: np.ndarray  # (n_features, n_features)

    def whitened_means(self) -> tuple[np.ndarray, np.ndarray]:
        """``(centre, class means - centre)`` in whitened coordinates. Distances are taken
        from the centre of the class means: in float32 (the exported network), expanding
        |u - nu|² around the origin of ReLU features, far from the data, loses digits."""
        nu = self.means @ self.cholesky
        centre = nu.mean(axis=0)
        return centre, nu - centre

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row to the nearest class mean."""
        centre, nu = self.whitened_means()
        u = features @ self.cholesky - centre
        d = (u * u).sum(axis=1, keepdims=True) - 2.0 * u @ nu.T + (nu * nu).sum(axis=1)
        return np.maximum(d.min(axis=1), 0.0)


def fit_mahalanobis(features: np.ndarray, classes: np.ndarray) -> Mahalanobis:
    """Means per class present in ``classes`` and the shared, shrunk covariance."""
    features = np.asarray(features, dtype=np.float64)
    present = np.unique(classes)
    means = np.stack([features[classes == c].mean(axis=0) for c in present])
    centred = features - means[np.searchsorted(present, classes)]
    cov = centred.T @ centred / max(len(features) - len(present), 1)
    diagonal = np.diag(np.maximum(np.diag(cov), 1e-8))
    cov = (1.0 - SHRINKAGE) * cov + SHRINKAGE * diagonal
    precision = np.linalg.inv(cov)
    precision = 0.5 * (precision + precision.T)
    return Mahalanobis(means, np.linalg.cholesky(precision))


def keras_distance(embedding, mahalanobis: Mahalanobis):
    """The distance of :meth:`Mahalanobis.distance` as Keras layers on ``embedding``
    (frozen Dense layers: nothing the runtime needs beyond the exported network)."""
    from keras import layers, ops

    n_features, n_classes = mahalanobis.cholesky.shape[0], mahalanobis.means.shape[0]
    centre, nu = mahalanobis.whitened_means()
    whiten = layers.Dense(n_features, trainable=False, name="ood_whiten", dtype="float32")
    cross = layers.Dense(n_classes, trainable=False, name="ood_cross", dtype="float32")
    u = whiten(embedding)
    whiten.set_weights([mahalanobis.cholesky.astype(np.float32), (-centre).astype(np.float32)])
    d = cross(u)
    cross.set_weights([(-2.0 * nu.T).astype(np.float32), (nu * nu).sum(axis=1).astype(np.float32)])
    d = d + ops.sum(u * u, axis=-1, keepdims=True)
    return ops.maximum(ops.min(d, axis=-1, keepdims=True), 0.0)


def _scale(values: np.ndarray) -> dict:
    median = float(np.median(values))
    spread = float(np.quantile(values, SCALE_QUANTILE)) - median
    return {"median": median, "scale": max(spread, 1e-6)}


def fit_record(train_windows: np.ndarray, val_windows: np.ndarray, val_distance: np.ndarray,
               seed: int) -> dict:
    """The ``"novelty"`` record of ``metadata.json`` (module docstring)."""
    rng = np.random.default_rng(seed)
    n = len(train_windows)
    keep = rng.choice(n, min(N_REFERENCE_WINDOWS, n), replace=False)
    reference = np.round(train_windows[np.sort(keep)], 4)
    window = window_distance(reference, val_windows)
    shape = np.log10(np.maximum(val_distance, 1e-12))
    record = {
        "method": "max of window (k-nearest training windows) and shape (Mahalanobis "
                  "distance of the features to the nearest class mean), each scaled on "
                  "validation: 0 at the median, 1 at the 99th percentile",
        "window": {"reference": reference.tolist(), "k": K_NEAREST, **_scale(window)},
        "shape": _scale(shape),
        "false_alarm": FALSE_ALARM,
        "threshold": 0.0,
    }
    novelty = Novelty(record)
    w, s = novelty.components(val_windows, val_distance)
    record["threshold"] = float(np.quantile(np.maximum(w, s), 1.0 - FALSE_ALARM))
    return record


def scores(novelty: Novelty, windows: np.ndarray, distance: np.ndarray | None) -> np.ndarray:
    """The OOD score of many curves (the larger scaled component)."""
    w, s = novelty.components(windows, distance)
    return w if s is None else np.maximum(w, s)


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """Probability that an ``outside`` curve scores above an ``inside`` one (ties: half)."""
    ranks = rankdata(np.concatenate([inside, outside]))
    n_in, n_out = len(inside), len(outside)
    return float((ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))
