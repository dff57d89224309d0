"""The transforms from a cleaned I(q) curve to the network's input, one per version.

Training (``training/``) imports the transforms from here, and the version string is
stored with the weights: the runtime prepares each curve with the transform the loaded
network was trained with (:func:`get_transform`) and refuses a version it does not know,
so a network always sees data prepared exactly as during training. Two versions exist:
:data:`V1` (the v2 network's, shipped until network v3; kept so that v2 weights still
load and can be scored as a baseline row) and :data:`V3` (the shipped network's, what
training writes now).

Why the v3 transform
--------------------
User data arrive with any q window (1e-5 ... 3 1/Å), 10 to 10^6 points, arbitrary
absolute scale, a flat background, noise, and a resolution the file may or may not state.
The model identity lives in the *shape* of log I versus log q (slopes, knees,
oscillations, peaks). For every sasmodels model, a sample whose lengths are all s times
larger scatters ``I(q; s L) ∝ I(s q; L)``: **the same curve shifted in log q**. So the
input must not tell where the window sits in absolute q, only what the curve does:

* **A log-q grid of fixed density anchored at the window's first q.** 40 points per
  decade from q_min (:data:`DECADE_POINTS`), 160 points (4 decades,
  :data:`WINDOW_DECADES`); points beyond the window's end are padding, marked by a mask
  channel. A shape at size s·L is then the same input moved along the grid, which
  convolutions followed by (masked) global pooling read the same way wherever it sits
  (v1 stretched every window over 100 points and added absolute log q, which tied each
  model to the sizes of its training windows: a 1 µm sphere on USANS ranked 51st).
  Windows wider than 4 decades (merged SANS + USANS) are compressed to fit; the
  position channel says so.
* **Bin, then interpolate** (as in v1). Points in the same log-q bin are averaged in
  log I, weighted by (I/dI)² when dI is known, so a million points become robust values;
  bins without data inside the window are interpolated linearly in log-log, and the
  edge bins extrapolated (v1 held them flat, which bent the slope at both ends).
* **Scale removed.** The mean of log10 I over the window is subtracted.
* **What the file knows about its own quality.** The relative standard error of each
  bin's mean, 1 / sqrt(Σ (I/dI)²), tells noise from structure (a flag says when the
  file has no dI). The resolution relative to q, dQ/Q for pinhole data or slit length /
  q for slit-smeared data, tells how much of the smoothness is the instrument's (a flag
  says which kind, both 0 when the file states none). Both are ratios, so they are
  shift-invariant too.

Background and noise are left in: the training data are simulated with both, so the
network learns to read through them rather than relying on a fragile subtraction. What
the shifted input cannot tell (a window where no SAS instrument measures, q in nm⁻¹
passed as Å⁻¹) is the out-of-distribution score's job (:mod:`sasnets_plugin.novelty`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .cleaning import Curve

#: The v2 network's transform (100 points over the window, absolute log q channel).
V1 = "loglog-window-2ch-v1"
#: The shift-invariant transform with dI and resolution channels (module docstring).
V3 = "logq-shift-invariant-8ch-v3"
#: What training writes now; the runtime follows the version stored with the weights.
PREPROCESSING_VERSION = V3

# --- v1 ------------------------------------------------------------------------------
#: v1: points and channels (centred log10 I, then log10 q + LOG_Q_OFFSET).
N_POINTS_V1 = 100
N_CHANNELS_V1 = 2
LOG_Q_OFFSET = 2.0

# --- v3 ------------------------------------------------------------------------------
#: v3 grid: points per decade of q and decades covered before a window is compressed.
DECADE_POINTS = 40
WINDOW_DECADES = 4.0
N_POINTS_V3 = int(DECADE_POINTS * WINDOW_DECADES)
#: v3 channels, in order (:func:`shift_invariant_v3`).
V3_CHANNELS = ("log_i", "position", "mask", "relative_error", "has_error", "resolution",
               "pinhole", "slit")
CHANNEL = {name: i for i, name in enumerate(V3_CHANNELS)}
#: Encoding of log10(relative error) and log10(resolution / q): (value - centre) / width,
#: clipped to +-ENCODED_LIMIT (relative errors 1e-4..1 -> -1..1; dQ/Q 0.5-20 % -> about
#: -0.6..0.15, slit length / q 1e-2..1e4 -> -0.5..2.5).
ERROR_CENTRE, ERROR_WIDTH = -2.0, 2.0
RESOLUTION_CENTRE, RESOLUTION_WIDTH = -1.0, 2.0
ENCODED_LIMIT = 3.0


@dataclass(frozen=True)
class Transform:
    """One version of the network input: its shape and how a curve becomes it."""

    version: str
    n_points: int
    n_channels: int
    encode: Callable[[Curve], np.ndarray]
    #: ``(inputs, curve) -> (q, I relative)``: the points the network read, for plots.
    display: Callable[[np.ndarray, Curve], tuple[np.ndarray, np.ndarray]]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_points, self.n_channels)


def _bin_means(x: np.ndarray, edges: np.ndarray, n: int, values: list[np.ndarray],
               weights: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Weighted means of each of ``values`` per bin (bins given by inner ``edges``).

    Returns the filled bins' mean x, the means of each value array there, and the sum of
    weights per bin (all ``n`` bins).
    """
    bins = np.minimum(np.searchsorted(edges, x), n - 1)
    wsum = np.bincount(bins, weights, minlength=n)
    filled = wsum > 0
    x_bin = np.bincount(bins, weights * x, minlength=n)[filled] / wsum[filled]
    means = [np.bincount(bins, weights * v, minlength=n)[filled] / wsum[filled] for v in values]
    return x_bin, means, wsum


def loglog_window_v1(q: np.ndarray, I: np.ndarray,  # noqa: E741
                     dI: np.ndarray | None = None) -> np.ndarray:
    """v1 input, shape ``(100, 2)``: 100 points uniform in log q over the data's own window,
    log I (binned, weighted by (I/dI)², interpolated, centred) and log10 q + 2."""
    x = np.log10(np.asarray(q, dtype=float))
    y = np.log10(np.asarray(I, dtype=float))
    grid = np.linspace(x[0], x[-1], N_POINTS_V1)
    weights = np.ones_like(y) if dI is None else (np.asarray(I) / np.asarray(dI)) ** 2
    x_bin, (y_bin,), _ = _bin_means(x, 0.5 * (grid[1:] + grid[:-1]), N_POINTS_V1, [y], weights)
    y_grid = np.interp(grid, x_bin, y_bin)
    out = np.empty((N_POINTS_V1, N_CHANNELS_V1), dtype=np.float32)
    out[:, 0] = y_grid - y_grid.mean()
    out[:, 1] = grid + LOG_Q_OFFSET
    return out


def _interp(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linear interpolation of bin means, extended linearly past the first and last.

    The edge bins hold data from one side of their grid point only, so their mean sits
    inside the window: holding it constant to the edge would bend every slope there.
    """
    out = np.interp(grid, x, y)
    if x.size > 1:
        below, above = grid < x[0], grid > x[-1]
        out[below] = y[0] + (grid[below] - x[0]) * (y[1] - y[0]) / (x[1] - x[0])
        out[above] = y[-1] + (grid[above] - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2])
    return out


def _encoded(log_values: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.clip((log_values - centre) / width, -ENCODED_LIMIT, ENCODED_LIMIT)


def v3_grid(q_min: float, q_max: float) -> tuple[np.ndarray, int]:
    """The v3 log10 q grid for a window and its number of points inside the window."""
    x0, width = np.log10(q_min), np.log10(q_max / q_min)
    if width <= WINDOW_DECADES:
        step = 1.0 / DECADE_POINTS
        n_valid = min(N_POINTS_V3, int(np.floor(width / step + 0.5)) + 1)
    else:  # compressed: the whole window on the grid, coarser
        step = width / (N_POINTS_V3 - 1)
        n_valid = N_POINTS_V3
    return x0 + step * np.arange(N_POINTS_V3), n_valid


def shift_invariant_v3(q: np.ndarray, I: np.ndarray, dI: np.ndarray | None = None,  # noqa: E741
                       dQ: np.ndarray | None = None, slit_length: float = 0.0) -> np.ndarray:
    """v3 input, shape ``(160, 8)`` (module docstring); channels :data:`V3_CHANNELS`.

    ``q`` strictly increasing and > 0, ``I`` > 0, ``dI`` and ``dQ`` > 0 when given (see
    :func:`sasnets_plugin.cleaning.clean_curve`); ``slit_length`` > 0 for slit data.
    """
    q = np.asarray(q, dtype=float)
    x = np.log10(q)
    y = np.log10(np.asarray(I, dtype=float))
    grid, n = v3_grid(q[0], q[-1])
    inside = grid[:n]
    weights = np.ones_like(y) if dI is None else (np.asarray(I) / np.asarray(dI)) ** 2
    values = [y] if dQ is None else [y, np.log10(np.asarray(dQ, dtype=float) / q)]
    x_bin, means, wsum = _bin_means(x, 0.5 * (inside[1:] + inside[:-1]), n, values, weights)
    out = np.zeros((N_POINTS_V3, len(V3_CHANNELS)), dtype=np.float32)
    log_i = _interp(inside, x_bin, means[0])
    out[:n, CHANNEL["log_i"]] = log_i - log_i.mean()
    out[:, CHANNEL["position"]] = (grid - grid[0]) / WINDOW_DECADES
    out[:n, CHANNEL["mask"]] = 1.0
    if dI is not None:
        filled = wsum > 0
        log_error = -0.5 * np.log10(wsum[filled])  # relative error of each bin's mean
        out[:n, CHANNEL["relative_error"]] = _encoded(_interp(inside, x_bin, log_error),
                                                      ERROR_CENTRE, ERROR_WIDTH)
        out[:n, CHANNEL["has_error"]] = 1.0
    if slit_length > 0:
        out[:n, CHANNEL["resolution"]] = _encoded(np.log10(slit_length) - inside,
                                                  RESOLUTION_CENTRE, RESOLUTION_WIDTH)
        out[:n, CHANNEL["slit"]] = 1.0
    elif dQ is not None:
        out[:n, CHANNEL["resolution"]] = _encoded(_interp(inside, x_bin, means[1]),
                                                  RESOLUTION_CENTRE, RESOLUTION_WIDTH)
        out[:n, CHANNEL["pinhole"]] = 1.0
    return out


def _display_v1(inputs: np.ndarray, curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    return 10 ** (inputs[:, 1] - LOG_Q_OFFSET), 10 ** inputs[:, 0]


def _display_v3(inputs: np.ndarray, curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    grid, n = v3_grid(curve.q[0], curve.q[-1])
    return 10 ** grid[:n], 10 ** inputs[:n, CHANNEL["log_i"]]


TRANSFORMS: dict[str, Transform] = {
    V1: Transform(V1, N_POINTS_V1, N_CHANNELS_V1,
                  lambda c: loglog_window_v1(c.q, c.I, c.dI), _display_v1),
    V3: Transform(V3, N_POINTS_V3, len(V3_CHANNELS),
                  lambda c: shift_invariant_v3(c.q, c.I, c.dI, c.dQ, c.slit_length),
                  _display_v3),
}


def get_transform(version: str | None = None) -> Transform:
    """The transform of ``version`` (default: :data:`PREPROCESSING_VERSION`); KeyError
    naming the known versions for any other."""
    version = PREPROCESSING_VERSION if version is None else version
    if version not in TRANSFORMS:
        raise KeyError(f"unknown preprocessing version {version!r} (this SASNets knows "
                       f"{', '.join(TRANSFORMS)})")
    return TRANSFORMS[version]
