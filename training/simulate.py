"""Simulate one measured SAS curve: model + parameters + instrument.

Pipeline of one curve
---------------------
1. Instrument: q window, number and spacing of points, pinhole resolution
   dQ/Q, drawn per curve (:func:`draw_instrument`).
2. Parameters: :func:`training.priors.draw_parameters`, conditioned on the
   q window so the model features usually fall inside it.
3. Theory: the sasmodels kernel is evaluated on a dense log grid ``q_calc``
   covering the window extended by the resolution tails (step dQ/Q / 2), then
   smeared with a gaussian pinhole resolution (the same binned-erf weights as
   :class:`sasmodels.resolution.Pinhole1D`, computed in banded form).
4. Intensity: normalised and multiplied by an arbitrary scale (log-uniform
   over 8 decades), plus a flat background drawn relative to the signal at
   high q (negligible to dominant).
5. Noise: counting statistics.  Expected counts are
   ``K * (q/q_max)**gamma * I`` (gamma mimics the growth of pixels per
   radial bin with q); the flux ``K`` is set so that the weakest point has
   ``counts_min`` expected counts (log-uniform 10..1e4).  Observed counts are
   Poisson; ``I = counts / (K w)`` and ``dI = sqrt(counts) / (K w)``.

Curves with non-finite or non-positive values are rejected and redrawn; the
reason is counted.

Speed remedies for expensive kernels
------------------------------------
* **Cost model**: every model has a measured cost per evaluated q point
  (``SIMULATION.cost_us`` in ``sasnets_plugin/models/<name>.py``).  With a
  per-curve kernel budget, the number of polydispersity points and the number of evaluated q points are reduced for
  expensive kernels; when fewer q points than the dense grid are affordable,
  the kernel is evaluated on a coarser log grid and interpolated in log-log
  space (monotone cubic) before smearing.
* **Size families** (a model's ``SIMULATION.family``, a
  :class:`~sasnets_plugin.models.spec.Family`): for the expensive kernels
  (paracrystals and pringle: 16 curves per shape; parallelepipeds, prisms,
  barbell, capped/elliptical cylinders, triaxial ellipsoid, elliptical
  bicelle, stacked disks: 8) the intensity obeys an exact scaling law: with
  all lengths multiplied by ``s``, ``I(q; s*L) = s**p I(s*q; L)``.  One
  kernel evaluation of a shape on a wide, dense reduced grid is therefore
  reused for several curves of the same split and chunk that differ in
  absolute size, q window, resolution, point count, background, scale and
  noise.  Measured: ~100-1400x fewer kernel evaluations per curve than a
  dense grid with 35-point polydispersity; the paracrystal reference grid
  keeps ~0.6 % log steps (Bragg peaks intact).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.special import erf

from sasnets_plugin import environment, models
from sasnets_plugin.models.spec import Family

from . import priors

#: Instrument and noise settings (also written to the dataset manifest).
INSTRUMENT = {
    "q_min": [5e-4, 2e-2],          # log-uniform, 1/Ang
    "q_max": [0.08, 0.7],           # log-uniform, 1/Ang
    "n_points": [30, 300],          # uniform integer
    "log_spacing_probability": 0.5,  # else linear spacing
    "dq_over_q": [0.01, 0.10],      # log-uniform, gaussian sigma of pinhole resolution
    "scale_log10": [-3.0, 5.0],     # max of the noiseless curve = 10**U(...)
    "background_rel": [1e-4, 10.0],  # log-uniform, relative to I(q_max)
    "background_floor": [1e-7, 1e-4],  # log-uniform, relative to max(I)
    "counts_min": [10.0, 1e4],      # log-uniform, expected counts of the weakest point
    "pixel_exponent": [0.0, 1.0],   # uniform, counts weight (q/q_max)**gamma
    "pinhole_nsigma": [2.5, 3.0],   # resolution truncation, as sasmodels
}

#: Kernel time budget per curve (microseconds) of the cost model.
CURVE_BUDGET_US = 8000.0
#: Never evaluate fewer q points than this (coarse grid + interpolation).
MIN_EVAL_POINTS = 100
#: Never evaluate more q points than this on the dense grid.
MAX_DENSE_POINTS = 1500


#: Reference range of a family = first member's window widened by this factor.
FAMILY_SLACK = 2.0

SIMULATOR_VERSION = 1


def _simulations() -> dict:
    """Simulation settings of every model with its own file (for the manifest)."""
    return {name: models.get(name).simulation for name in models.names()}


def simulator_settings() -> dict:
    """Everything that defines the simulated distribution (for the manifest)."""
    return {
        "simulator_version": SIMULATOR_VERSION,
        "instrument": INSTRUMENT,
        "curve_budget_us": CURVE_BUDGET_US,
        "min_eval_points": MIN_EVAL_POINTS,
        "max_dense_points": MAX_DENSE_POINTS,
        "families": {name: dataclasses.asdict(sim.family)
                     for name, sim in _simulations().items() if sim.family is not None},
        "kernel_cost_us": {name: sim.cost_us for name, sim in _simulations().items()},
        "priors": priors.PRIOR_SETTINGS,
    }


class RejectedCurve(Exception):
    """A drawn curve is not usable; ``reason`` is a short tag."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Curve:
    """One simulated measurement."""
    q: np.ndarray
    I: np.ndarray
    dI: np.ndarray
    params: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Model loading (cached per process, compile guarded by a file lock)
# ---------------------------------------------------------------------------

_MODELS: dict = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def _compile_lock():
    """Serialise sasmodels' DLL compilation between processes.

    sasmodels compiles a kernel straight to its final path; another process
    could load a half-written library.  An advisory lock on a file next to
    the compiled models avoids it (no-op where fcntl is unavailable).
    """
    try:
        import fcntl
        from sasmodels import kerneldll
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = os.path.abspath(kerneldll.SAS_DLL_PATH)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, ".sasnets-compile.lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_model(name: str):
    """Return ``(model_info, kernel_model)`` for *name*, compiled once per process."""
    with _LOCK:
        if name not in _MODELS:
            environment.configure()
            from sasmodels import core

            info = core.load_model_info(name)
            with _compile_lock():
                model = core.build_model(info, dtype="double", platform="dll")
            _MODELS[name] = (info, model)
        return _MODELS[name]


def evaluate(name: str, q: np.ndarray, pars: dict) -> np.ndarray:
    """Unsmeared I(q) of model *name* with parameters *pars* (no resolution)."""
    from sasmodels.direct_model import call_kernel

    _, model = load_model(name)
    kernel = model.make_kernel([np.ascontiguousarray(q, dtype=np.float64)])
    try:
        return np.asarray(call_kernel(kernel, pars, cutoff=0.0), dtype=np.float64).copy()
    finally:
        kernel.release()


# ---------------------------------------------------------------------------
# Instrument
# ---------------------------------------------------------------------------

def _logu(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


@dataclass
class Instrument:
    q: np.ndarray
    dq: np.ndarray
    dq_over_q: float
    spacing: str

    def describe(self) -> dict:
        return {"q_min": float(self.q[0]), "q_max": float(self.q[-1]),
                "n_points": int(self.q.size), "spacing": self.spacing,
                "dq_over_q": self.dq_over_q}


def draw_instrument(rng: np.random.Generator, settings: dict = INSTRUMENT) -> Instrument:
    q_min = _logu(rng, *settings["q_min"])
    q_max = _logu(rng, *settings["q_max"])
    n = int(rng.integers(settings["n_points"][0], settings["n_points"][1] + 1))
    if rng.random() < settings["log_spacing_probability"]:
        spacing = "log"
        q = np.geomspace(q_min, q_max, n)
    else:
        spacing = "linear"
        q = np.linspace(q_min, q_max, n)
    dq_over_q = _logu(rng, *settings["dq_over_q"])
    return Instrument(q=q, dq=dq_over_q * q, dq_over_q=dq_over_q, spacing=spacing)


def calc_grid(inst: Instrument, settings: dict = INSTRUMENT) -> np.ndarray:
    """Dense log grid on which the theory is computed before smearing."""
    lo_sigma, hi_sigma = settings["pinhole_nsigma"]
    r = inst.dq_over_q
    lo = inst.q[0] * max(1.0 - lo_sigma * r, 0.5)
    hi = inst.q[-1] * (1.0 + hi_sigma * r)
    step = r / 2.0
    n = int(math.ceil(math.log(hi / lo) / step)) + 1
    n = min(max(n, inst.q.size), MAX_DENSE_POINTS)
    return np.geomspace(lo, hi, n)


def pinhole_smear(q_calc: np.ndarray, I_calc: np.ndarray, q: np.ndarray,
                  dq: np.ndarray, nsigma=(2.5, 3.0)) -> np.ndarray:
    """Gaussian pinhole smearing of ``I_calc(q_calc)`` onto ``q``.

    Same weights as :func:`sasmodels.resolution.pinhole_resolution` (erf over
    the bins around each ``q_calc`` point, truncated at -2.5/+3 sigma and
    renormalised), but only the non-zero band of the matrix is built.
    """
    edges = np.empty(q_calc.size + 1)
    edges[1:-1] = 0.5 * (q_calc[1:] + q_calc[:-1])
    edges[0] = q_calc[0] - 0.5 * (q_calc[1] - q_calc[0])
    edges[-1] = q_calc[-1] + 0.5 * (q_calc[-1] - q_calc[-2])
    lo = np.searchsorted(q_calc, q - nsigma[0] * dq, side="left")
    hi = np.searchsorted(q_calc, q + nsigma[1] * dq, side="right")
    # always keep the nearest calc point (very narrow resolution)
    nearest = np.clip(np.searchsorted(q_calc, q), 0, q_calc.size - 1)
    lo = np.minimum(lo, nearest)
    hi = np.maximum(hi, nearest + 1)
    width = int(np.max(hi - lo))
    idx = lo[:, None] + np.arange(width)[None, :]
    valid = idx < hi[:, None]
    idx = np.minimum(idx, q_calc.size - 1)
    scale = 1.0 / (math.sqrt(2.0) * dq[:, None])
    cdf_hi = erf((edges[idx + 1] - q[:, None]) * scale)
    cdf_lo = erf((edges[idx] - q[:, None]) * scale)
    weights = np.where(valid, cdf_hi - cdf_lo, 0.0)
    total = weights.sum(axis=1)
    bad = ~(total > 0)
    if np.any(bad):  # resolution much narrower than the grid: nearest point
        weights[bad] = 0.0
        weights[bad, nearest[bad] - lo[bad]] = 1.0
        total[bad] = 1.0
    return np.sum(weights * I_calc[idx], axis=1) / total


# ---------------------------------------------------------------------------
# Cost model
# ---------------------------------------------------------------------------

def kernel_cost(name: str) -> float:
    """Kernel time per q point (µs) of *name*: the cost model's unit."""
    return models.get(name).simulation.cost_us


def pd_points_for(name: str, n_points: int, budget_us: float = CURVE_BUDGET_US):
    """Return ``f(k) -> pd_n`` giving the polydispersity points per parameter
    for *k* polydisperse parameters, affordable within the budget."""
    cost = kernel_cost(name)

    def pd_n(k: int) -> int:
        allowed = budget_us / (cost * max(n_points, MIN_EVAL_POINTS))
        n = int(allowed ** (1.0 / k))
        n -= (n + 1) % 2  # odd, so the centre value is included
        return int(min(35, max(7 if k == 1 else 5, n)))
    return pd_n


def n_pd_points(pars: dict) -> int:
    total = 1
    for key, value in pars.items():
        if key.endswith("_pd_n") and pars.get(key[:-2], 0) > 0:
            total *= int(value)
    return total


def n_eval_points(name: str, n_dense: int, pars: dict, budget_us: float) -> int:
    affordable = int(budget_us / (kernel_cost(name) * n_pd_points(pars)))
    return int(min(n_dense, max(MIN_EVAL_POINTS, affordable)))


def loglog_interp(x_src: np.ndarray, y_src: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Monotone cubic interpolation of y(x) in log-log space (linear fallback
    where y is not positive); x outside the source range is clamped."""
    from scipy.interpolate import PchipInterpolator

    if np.all(y_src > 0):
        f = PchipInterpolator(np.log(x_src), np.log(y_src), extrapolate=True)
        lx = np.clip(np.log(x), math.log(x_src[0]), math.log(x_src[-1]))
        return np.exp(f(lx))
    return np.interp(x, x_src, y_src)


# ---------------------------------------------------------------------------
# Intensity, background, noise
# ---------------------------------------------------------------------------

def _check_model(I: np.ndarray) -> None:
    if not np.all(np.isfinite(I)):
        raise RejectedCurve("model_nonfinite")
    if np.any(I < 0):
        raise RejectedCurve("model_negative")
    if not np.max(I) > 1e-250:
        raise RejectedCurve("model_zero")


def measure(rng: np.random.Generator, inst: Instrument, I_model: np.ndarray,
            settings: dict = INSTRUMENT) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scale, background and counting noise applied to a smeared model curve."""
    _check_model(I_model)
    peak = float(np.max(I_model))
    signal = I_model / peak
    scale = 10.0 ** rng.uniform(*settings["scale_log10"])
    bkg_rel = _logu(rng, *settings["background_rel"])
    floor = _logu(rng, *settings["background_floor"])
    background = max(bkg_rel * float(signal[-1]), floor)
    expected = signal + background
    gamma = float(rng.uniform(*settings["pixel_exponent"]))
    weight = (inst.q / inst.q[-1]) ** gamma
    counts_min = _logu(rng, *settings["counts_min"])
    flux = counts_min / float(np.min(expected * weight))
    lam = flux * weight * expected
    if not np.all(np.isfinite(lam)) or np.max(lam) > 1e17:
        raise RejectedCurve("dynamic_range")
    counts = rng.poisson(lam).astype(np.float64)
    if np.any(counts <= 0):
        raise RejectedCurve("zero_counts")
    norm = scale / (flux * weight)
    I = counts * norm
    dI = np.sqrt(counts) * norm
    if not (np.all(np.isfinite(I)) and np.all(I > 0) and np.all(np.isfinite(dI))
            and np.all(dI > 0)):
        raise RejectedCurve("nonpositive_after_noise")
    info = {"scale": scale, "model_peak": peak, "background": background * scale,
            "background_rel": bkg_rel, "background_floor": floor,
            "counts_min": counts_min, "pixel_exponent": gamma}
    return I, dI, info


# ---------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------

def _jsonable(pars: dict) -> dict:
    out = {}
    for key, value in pars.items():
        if isinstance(value, (np.floating, float)):
            out[key] = float(value)
        elif isinstance(value, (np.integer, int)) and not isinstance(value, bool):
            out[key] = int(value)
        else:
            out[key] = value
    return out


def simulate_group(name: str, rng: np.random.Generator, n: int,
                   rejections: Counter | None = None, max_attempts: int = 200,
                   stats: Counter | None = None) -> list[Curve]:
    """Simulate between 1 and *n* curves of model *name*.

    For models with a size family up to ``family.size`` curves share one
    shape (size family); otherwise one independent curve is returned.
    Rejected draws are counted in *rejections* by reason and redrawn; after
    *max_attempts* rejections in a row a RuntimeError is raised.
    """
    rejections = Counter() if rejections is None else rejections
    stats = Counter() if stats is None else stats
    info, _ = load_model(name)
    family = models.get(name).simulation.family
    failures = 0
    while True:
        try:
            if family is None:
                return [_simulate_single(name, info, rng, stats)]
            return _simulate_family(name, info, rng, min(n, family.size), family,
                                    rejections, stats)
        except RejectedCurve as exc:
            rejections[exc.reason] += 1
            failures += 1
            if failures >= max_attempts:
                raise RuntimeError(
                    f"{name}: {failures} rejected draws in a row "
                    f"({dict(rejections)})") from exc


def _evaluate_checked(name, q, pars):
    try:
        I = evaluate(name, q, pars)
    except Exception as exc:  # the kernel refused the parameters
        raise RejectedCurve("kernel_error", repr(exc)) from exc
    _check_model(I)
    return I


def _simulate_single(name, info, rng, stats) -> Curve:
    inst = draw_instrument(rng)
    q_calc = calc_grid(inst)
    pars = priors.draw_parameters(info, rng, q_range=(inst.q[0], inst.q[-1]),
                                  pd_n=pd_points_for(name, q_calc.size))
    n_eval = n_eval_points(name, q_calc.size, pars, CURVE_BUDGET_US)
    if n_eval < q_calc.size:
        q_eval = np.geomspace(q_calc[0], q_calc[-1], n_eval)
        I_calc = loglog_interp(q_eval, _evaluate_checked(name, q_eval, pars), q_calc)
        stats["interpolated"] += 1
    else:
        I_calc = _evaluate_checked(name, q_calc, pars)
    stats["kernel_points"] += n_eval * n_pd_points(pars)
    I_model = pinhole_smear(q_calc, I_calc, inst.q, inst.dq, INSTRUMENT["pinhole_nsigma"])
    I, dI, noise = measure(rng, inst, I_model)
    record = {"model": _jsonable(pars), "instrument": inst.describe(),
              "measurement": noise, "eval_points": int(n_eval)}
    return Curve(inst.q.copy(), I, dI, record)


def _simulate_family(name, info, rng, n, family: Family, rejections, stats) -> list[Curve]:
    insts = [draw_instrument(rng) for _ in range(n)]
    grids = [calc_grid(inst) for inst in insts]
    # the shared shape, drawn for the first window
    ref = priors.draw_parameters(info, rng, q_range=(insts[0].q[0], insts[0].q[-1]),
                                 pd_n=family.pd_n, max_pd_params=family.max_pd_params,
                                 pd_probability=(priors.PD_PROBABILITY
                                                 if family.pd_probability is None
                                                 else family.pd_probability))
    # Size factor s of each member.  I(q; s L) is proportional to I(s q; L):
    # member j needs the reference on s_j * q_calc_j.  The reference range is
    # the first window widened by FAMILY_SLACK on both sides; each member's
    # size is drawn log-uniformly among those that put its whole window inside
    # that range (the features seen by the first window, which the prior put
    # there, are then seen by every member at a random place of its window).
    lo = grids[0][0] / FAMILY_SLACK
    hi = grids[0][-1] * FAMILY_SLACK
    factors = [1.0]
    for q_calc in grids[1:]:
        s_lo, s_hi = lo / q_calc[0], hi / q_calc[-1]
        if s_lo < s_hi:
            factors.append(math.exp(rng.uniform(math.log(s_lo), math.log(s_hi))))
        else:  # wider window than the range: centre it, widen the range
            factors.append(math.sqrt(s_lo * s_hi))
    lo = min(lo, min(f * g[0] for f, g in zip(factors, grids)))
    hi = max(hi, max(f * g[-1] for f, g in zip(factors, grids)))
    step = min(inst.dq_over_q for inst in insts) / 2.0
    n_dense = int(math.ceil(math.log(hi / lo) / step)) + 1
    affordable = int(family.budget_us * n / (kernel_cost(name) * n_pd_points(ref)))
    n_eval = int(min(n_dense, MAX_DENSE_POINTS * 2, max(family.min_eval, affordable)))
    q_ref = np.geomspace(lo, hi, n_eval)
    I_ref = _evaluate_checked(name, q_ref, ref)
    stats["kernel_points"] += n_eval * n_pd_points(ref)
    stats["families"] += 1
    curves = []
    for inst, q_calc, s in zip(insts, grids, factors):
        try:
            I_calc = loglog_interp(q_ref, I_ref, s * q_calc)
            I_model = pinhole_smear(q_calc, I_calc, inst.q, inst.dq,
                                    INSTRUMENT["pinhole_nsigma"])
            I, dI, noise = measure(rng, inst, I_model)
        except RejectedCurve as exc:
            rejections[exc.reason] += 1
            continue
        pars = dict(ref)
        for key in family.up:
            pars[key] = ref[key] * s
        for key in family.down:
            pars[key] = ref[key] / s
        record = {"model": _jsonable(pars), "instrument": inst.describe(),
                  "measurement": noise, "eval_points": int(n_eval),
                  "family_size": n, "family_factor": float(s)}
        curves.append(Curve(inst.q.copy(), I, dI, record))
    if not curves:
        raise RejectedCurve("family_empty")
    return curves


def simulate_curves(name: str, rng: np.random.Generator, count: int,
                    rejections: Counter | None = None,
                    stats: Counter | None = None) -> list[Curve]:
    """Exactly *count* curves of model *name* drawn from *rng*."""
    rejections = Counter() if rejections is None else rejections
    curves: list[Curve] = []
    while len(curves) < count:
        curves.extend(simulate_group(name, rng, count - len(curves), rejections,
                                     stats=stats))
    return curves[:count]


def measure_kernel_cost(name: str, draws: int = 40, seed: int = 0) -> float:
    """Mean kernel time in microseconds per q point (no polydispersity) for
    parameters drawn from the prior; the models' ``SIMULATION.cost_us``."""
    import time

    info, _ = load_model(name)
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(draws):
        inst = draw_instrument(rng)
        pars = priors.draw_parameters(info, rng, q_range=(inst.q[0], inst.q[-1]),
                                      pd_probability=0.0)
        q = np.geomspace(inst.q[0], inst.q[-1], 200)
        start = time.perf_counter()
        try:
            evaluate(name, q, pars)
        except Exception:  # pragma: no cover - counted by the simulator
            continue
        times.append((time.perf_counter() - start) * 1e6 / q.size)
    return float(np.mean(times)) if times else float("nan")


if __name__ == "__main__":  # python -m training.simulate [models]: cost table
    import sys

    from .classes import resolve_models

    for model in resolve_models(",".join(sys.argv[1:]) or "default"):
        print(f'    "{model}": {measure_kernel_cost(model):.3g},', flush=True)
