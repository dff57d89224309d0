"""The one transform from a cleaned I(q) curve to the network's 100-point input.

Training (``training/``) imports :func:`network_input` from here, and the version string
below is stored with the weights and checked when they are loaded, so the network
always sees data prepared exactly as during training.

Why this transform
------------------
User data arrive with any q window (1e-4 ... 1 1/Å), 10 to 10^6 points, arbitrary
absolute scale, a flat background and noise. The model identity lives in the *shape*
of log I versus log q (slopes, knees, oscillations, peaks), so:

* **log-log, the data's own window.** The 100 points are spaced uniformly in log10 q
  from the curve's first to its last q. Every point of the input carries data
  (a fixed global q grid would leave most of a narrow window empty), and a
  power law stays a straight line whatever the window.
* **Bin, then interpolate.** Points falling in the same log-q bin are averaged in
  log I (inverse-variance weighted by (dI/I)^2 when dI is known), which reduces a
  million-point curve to 100 robust values and damps noise; bins without data are
  filled by linear interpolation between neighbouring bins in log-log space, so a
  sparse 10-point curve is still 100 values.
* **Scale removed.** The mean of log10 I over the window is subtracted: intensities in
  arbitrary units and absolute units give the same input.
* **Absolute q kept as a second channel.** Channel 1 holds log10(q) + 2 (0 at
  q = 0.01 1/Å). It tells the network where in q the window sits, which, with the
  spacing of channel 1, also gives slopes in absolute terms (d log I / d log q).

Background and noise are left in: the training data are simulated with both, so the
network learns to read through them rather than relying on a fragile subtraction.
"""
from __future__ import annotations

import numpy as np

#: Stored with the weights; bump it whenever the output of :func:`network_input` changes.
PREPROCESSING_VERSION = "loglog-window-2ch-v1"
#: Number of points the network reads.
N_POINTS = 100
#: Channels per point: centred log10 I, then log10 q + LOG_Q_OFFSET.
N_CHANNELS = 2
LOG_Q_OFFSET = 2.0


def network_input(q: np.ndarray, I: np.ndarray, dI: np.ndarray | None = None) -> np.ndarray:  # noqa: E741
    """Resample a cleaned curve to the network input, shape ``(N_POINTS, N_CHANNELS)``.

    ``q`` must be strictly increasing and > 0 and ``I`` > 0 (see
    :func:`sasnets_plugin.cleaning.clean_curve`); ``dI``, when given, > 0.
    """
    x = np.log10(np.asarray(q, dtype=float))
    y = np.log10(np.asarray(I, dtype=float))
    grid = np.linspace(x[0], x[-1], N_POINTS)
    inner_edges = 0.5 * (grid[1:] + grid[:-1])
    bins = np.searchsorted(inner_edges, x)
    weights = np.ones_like(y) if dI is None else (np.asarray(I) / np.asarray(dI)) ** 2
    wsum = np.bincount(bins, weights, minlength=N_POINTS)
    filled = wsum > 0
    x_bin = np.bincount(bins, weights * x, minlength=N_POINTS)[filled] / wsum[filled]
    y_bin = np.bincount(bins, weights * y, minlength=N_POINTS)[filled] / wsum[filled]
    y_grid = np.interp(grid, x_bin, y_bin)
    out = np.empty((N_POINTS, N_CHANNELS), dtype=np.float32)
    out[:, 0] = y_grid - y_grid.mean()
    out[:, 1] = grid + LOG_Q_OFFSET
    return out
