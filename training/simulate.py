"""Simulate one measured SAS curve: model + parameters + instrument + counting statistics.

Pipeline of one curve
---------------------
1. Draft (:func:`draft`): what the curve is. With :data:`PRODUCT_FRACTION` a form factor
   that SasView can combine becomes ``form@structure`` (one of the four interaction
   structure factors, radius_effective from the form); with :data:`BROAD_FRACTION` its
   parameters come from the broad prior (features anywhere, nested limits included), and
   a broad draw of a model with exact nested limits lands *on* one with
   :data:`LIMIT_FRACTION`, labelled with the simpler model (see
   :class:`sasnets_plugin.models.spec.Nested`).
2. Instrument (:mod:`training.instrument`): archetype, q window, points, per-point pinhole
   dQ or a slit length, count profile.
3. Parameters: :func:`training.priors.draw_parameters`, conditioned on the window.
4. Theory: the sasmodels kernel on a log grid ``q_calc`` covering the window and the
   resolution's reach, with steps of a quarter of the finest dQ/Q (:data:`SMEAR_STEPS`)
   for pinhole data, :data:`SLIT_STEP` for slit data; smeared with erf-binned gaussian
   weights (the same as :class:`sasmodels.resolution.Pinhole1D`, banded, per-point dQ) or
   sasmodels' own :class:`~sasmodels.resolution.Slit1D`.
5. Measurement (:func:`measure`): normalised, an arbitrary scale (8 decades), a flat
   incoherent background from none (subtracted, with its counting noise left in) to
   dominant, Poisson counts ``flux * weight(q) * I`` with the instrument's count profile,
   ``I = counts / (flux w)`` and ``dI = sqrt(counts) / (flux w)``.

Curves with non-finite values, or fewer than the runtime's minimum of usable points after
its own cleaning, are rejected and redrawn; the reason is counted.

Speed remedies for expensive kernels
------------------------------------
* **Cost model**: every model has a measured cost per evaluated q point
  (``SIMULATION.cost_us`` in ``sasnets_plugin/models/<name>.py``). With a per-curve
  kernel budget the number of polydispersity points and of evaluated q points are
  reduced for expensive kernels; when fewer q points than the smearing grid are
  affordable, the kernel is evaluated on a coarser log grid and interpolated in log-log
  space (monotone cubic) before smearing.
* **Size families** (a model's ``SIMULATION.family``, a
  :class:`~sasnets_plugin.models.spec.Family`): for the expensive kernels the intensity
  obeys an exact scaling law: with all lengths multiplied by ``s``,
  ``I(q; s*L) = s**p I(s*q; L)``. One kernel evaluation of a shape on a wide, dense
  reduced grid is reused for several curves of the same chunk that differ in absolute
  size, instrument (any archetype: the same shape appears at any size in any window),
  scale, background, upturn and noise. Curves at a nested limit are simulated one by one.
* **Product families** (generator v4): a product ``form@structure`` of a form with a
  family is ``<F^2>(q) S(q; R_eff, ...)`` (sasmodels' P(q) S(q) mode, effective radius
  from the form). The form's ``<F^2>`` and effective radius come from one reference
  evaluation (:func:`form_factor`) scaled as the form's family; each member multiplies it
  by its own structure factor (its own volume fraction, charge, stickiness or well,
  radius ``s R_eff``), a cheap kernel evaluated on the member's own grid. This is exact
  for every structure factor, the scale-free ones (hardsphere, stickyhardsphere,
  squarewell) and hayter_msa (absolute Debye length) alike.

Low-q upturn
------------
A share of the curves of every model (drawn for :data:`UPTURN`'s 30 %, kept where the
particle's curve falls more slowly than the power law: 10-15 % of all curves; the dataset
report counts them) carries a power law ``A q**-p``
(aggregates, large-scale structure: what SasView users fit as ``model + power_law``),
``p`` in 2-4, added to the theory before smearing so that it crosses the particle's
curve at a point ``q_x`` in the lower part of the window (log position 0-40 %); the
label is unchanged. A draw where the power law would not fall below the particle's
curve at the high-q end of the window (the particle decays as steeply) is left without
one. The curve's record has ``upturn: {exponent, q_cross}``.
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.special import erf

from sasnets_plugin import kernels, models
from sasnets_plugin.cleaning import MIN_POINTS
from sasnets_plugin.models import products
from sasnets_plugin.models.spec import Family, Nested

from . import instrument as instruments
from . import priors
from .instrument import Instrument

#: Counting statistics and intensity settings (also written to the dataset manifest).
MEASUREMENT = {
    "scale_log10": [-3.0, 5.0],      # max of the noiseless curve = 10**U(...)
    "background_rel": [1e-4, 10.0],  # log-uniform, relative to I(q_max)
    "background_floor": [1e-7, 1e-4],  # log-uniform, relative to max(I)
    "subtracted": 0.15,              # fraction whose background was subtracted
    "counts_min": [10.0, 1e4],       # log-uniform, expected counts of the weakest point
    "pinhole_nsigma": [2.5, 3.0],    # resolution truncation, as sasmodels
}
#: Share of curves of a combinable form factor multiplied by a structure factor
#: (v3: 0.25; concentrated samples are common among real files).
PRODUCT_FRACTION = 0.4
#: Low-q power-law upturn (module docstring): share of curves, exponent range, and the
#: crossing point's log position in the window.
UPTURN = {"fraction": 0.3, "exponent": [2.0, 4.0], "cross": [0.0, 0.4]}
#: The upturn must stay below this fraction of the particle's curve at q_max.
UPTURN_HIGH_Q_MAX = 0.3
#: Share of curves whose parameters come from the broad prior (shifted split: more).
BROAD_FRACTION = 0.25
SHIFTED_BROAD_FRACTION = 0.5
#: Share of broad draws of a model with exact nested limits placed on one of them.
LIMIT_FRACTION = 0.25
#: Pinhole smearing grid: log steps of (finest dQ/Q) / SMEAR_STEPS.
SMEAR_STEPS = 4.0
#: Slit smearing grid: log step.
SLIT_STEP = 0.01
#: Points of the auxiliary grid on which the pinhole grid's local step is integrated.
GRID_AUXILIARY_POINTS = 4096
#: Kernel time budget per curve (microseconds) of the cost model.
CURVE_BUDGET_US = 8000.0
#: Never evaluate fewer q points than this (coarse grid + interpolation).
MIN_EVAL_POINTS = 100
#: Never use more smearing-grid points than this.
MAX_CALC_POINTS = 6000
#: Reference range of a family = first member's window widened by this factor.
FAMILY_SLACK = 2.0
#: Finest log step of a family's reference grid (v4; v3 followed the finest smearing
#: grid, down to 0.1 %): 0.3 % resolves Bragg peaks (which need ~0.6 %) and monodisperse
#: oscillations, and features narrower are smeared out by any dQ/Q of 0.5 % or more.
REFERENCE_STEP = 0.003

SIMULATOR_VERSION = 4


def _simulations() -> dict:
    """Simulation settings of every model with its own file (for the manifest)."""
    return {name: models.get(name).simulation for name in models.names()}


def simulator_settings() -> dict:
    """Everything that defines the simulated distribution (for the manifest)."""
    return {
        "simulator_version": SIMULATOR_VERSION,
        "archetypes": instruments.ARCHETYPES,
        "shifted_archetype": instruments.SHIFTED_ARCHETYPE,
        "edge": instruments.EDGE,
        "dq_over_q": instruments.DQ_OVER_Q,
        "q_cap": instruments.Q_CAP,
        "measurement": MEASUREMENT,
        "product_fraction": PRODUCT_FRACTION,
        "upturn": UPTURN,
        "upturn_high_q_max": UPTURN_HIGH_Q_MAX,
        "structures": products.STRUCTURES,
        "broad_fraction": BROAD_FRACTION,
        "shifted_broad_fraction": SHIFTED_BROAD_FRACTION,
        "limit_fraction": LIMIT_FRACTION,
        "smear_steps": SMEAR_STEPS,
        "slit_step": SLIT_STEP,
        "curve_budget_us": CURVE_BUDGET_US,
        "min_eval_points": MIN_EVAL_POINTS,
        "max_calc_points": MAX_CALC_POINTS,
        "reference_step": REFERENCE_STEP,
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
    """One simulated measurement: points, errors, resolution, and its record."""
    q: np.ndarray
    I: np.ndarray  # noqa: E741
    dI: np.ndarray
    dq: np.ndarray | None = None     # pinhole sigma per point (None: slit data)
    slit_length: float = 0.0
    label: str = ""                  # the class the curve teaches
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Draft:
    """What a curve is before it is drawn: the kernel to evaluate (``model``, a product
    ``form@structure`` or a single model), the prior, and the label it will carry."""
    model: str
    label: str
    broad: bool = False
    nested: Nested | None = None
    shifted: bool = False


def draft(name: str, rng: np.random.Generator, shifted: bool = False) -> Draft:
    """Decide what the next curve of class ``name`` is (module docstring, step 1)."""
    broad = rng.random() < (SHIFTED_BROAD_FRACTION if shifted else BROAD_FRACTION)
    if "@" not in name and products.combinable(name) and rng.random() < PRODUCT_FRACTION:
        structure = products.STRUCTURES[int(rng.integers(len(products.STRUCTURES)))]
        product = f"{name}@{structure}"
        return Draft(product, product, broad, None, shifted)
    nested = models.get(name).nested
    if broad and nested and rng.random() < LIMIT_FRACTION:
        limit = nested[int(rng.integers(len(nested)))]
        return Draft(name, limit.simpler, broad, limit, shifted)
    return Draft(name, name, broad, None, shifted)


# ---------------------------------------------------------------------------
# Model loading (cached per process, compile guarded by a file lock)
# ---------------------------------------------------------------------------

def load_model(name: str):
    """Return ``(model_info, kernel_model)`` for *name*, compiled once per process
    (safely across processes: :mod:`sasnets_plugin.kernels`)."""
    return models.model_info(name), kernels.kernel_model(name)


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
# Resolution
# ---------------------------------------------------------------------------

def calc_grid(inst: Instrument) -> np.ndarray:
    """Log grid on which the theory is computed before smearing (module docstring).

    For pinhole data the local log step is the local dQ/Q over :data:`SMEAR_STEPS`
    (generator v4; v3 used the finest dQ/Q of the curve everywhere, so a curve whose
    dQ/Q spans 1-20 % had 20x too many points, and smearing bands that wide, where the
    resolution is broad): every resolution function spans the same number of grid
    points, as it did at the curve's finest resolution before."""
    if inst.kind == "slit":
        lo, hi = inst.q[0], math.hypot(inst.q[-1], inst.slit_length)
        n = int(math.ceil(math.log(hi / lo) / SLIT_STEP)) + 1
        return np.geomspace(lo, hi, min(max(n, inst.q.size), MAX_CALC_POINTS))
    lo_sigma, hi_sigma = MEASUREMENT["pinhole_nsigma"]
    lo = max(inst.q[0] - lo_sigma * inst.dq[0], 0.5 * inst.q[0])
    hi = inst.q[-1] + hi_sigma * inst.dq[-1]
    x = np.linspace(math.log(lo), math.log(hi), GRID_AUXILIARY_POINTS)
    steps = np.interp(x, np.log(inst.q), inst.dq / inst.q) / SMEAR_STEPS
    # number of grid steps from lo to each x: the integral of 1 / step(x)
    count = np.concatenate([[0.0], np.cumsum(np.diff(x) * 0.5 * (1 / steps[1:] + 1 / steps[:-1]))])
    n = min(max(int(math.ceil(count[-1])) + 1, inst.q.size), MAX_CALC_POINTS)
    return np.exp(np.interp(np.linspace(0.0, count[-1], n), count, x))


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
    # the cdf at the band's width + 1 bin edges, differenced: one erf per edge
    edge_idx = np.minimum(lo[:, None] + np.arange(width + 1)[None, :], q_calc.size)
    cdf = erf((edges[edge_idx] - q[:, None]) * scale)
    weights = np.where(valid, np.diff(cdf, axis=1), 0.0)
    total = weights.sum(axis=1)
    bad = ~(total > 0)
    if np.any(bad):  # resolution much narrower than the grid: nearest point
        weights[bad] = 0.0
        weights[bad, nearest[bad] - lo[bad]] = 1.0
        total[bad] = 1.0
    return np.sum(weights * I_calc[idx], axis=1) / total



def smear(inst: Instrument, q_calc: np.ndarray, I_calc: np.ndarray) -> np.ndarray:
    """The theory ``I_calc(q_calc)`` as the instrument measures it at ``inst.q``."""
    if inst.kind == "slit":
        from sasmodels.resolution import Slit1D

        return Slit1D(inst.q, q_length=inst.slit_length, q_calc=q_calc).apply(I_calc)
    return pinhole_smear(q_calc, I_calc, inst.q, inst.dq, MEASUREMENT["pinhole_nsigma"])


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

def _check_model(I: np.ndarray) -> None:  # noqa: E741
    if not np.all(np.isfinite(I)):
        raise RejectedCurve("model_nonfinite")
    if np.any(I < 0):
        raise RejectedCurve("model_negative")
    if not np.max(I) > 1e-250:
        raise RejectedCurve("model_zero")


def _logu(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def measure(rng: np.random.Generator, inst: Instrument, I_model: np.ndarray,  # noqa: N803
            settings: dict = MEASUREMENT) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scale, background and counting noise applied to a smeared model curve
    (module docstring, step 5). Points with no counts above a subtracted background
    stay in the curve with I <= 0, as in real reductions; cleaning drops them."""
    _check_model(I_model)
    peak = float(np.max(I_model))
    signal = I_model / peak
    scale = 10.0 ** rng.uniform(*settings["scale_log10"])
    subtracted = bool(rng.random() < settings["subtracted"])
    bkg_rel = _logu(rng, *settings["background_rel"])
    floor = _logu(rng, *settings["background_floor"])
    background = max(bkg_rel * float(signal[-1]), floor)
    expected = signal + background
    counts_min = _logu(rng, *settings["counts_min"])
    flux = counts_min / float(np.min(expected * inst.weight))
    exposure = flux * inst.weight
    lam = exposure * expected
    if not np.all(np.isfinite(lam)) or np.max(lam) > 1e17:
        raise RejectedCurve("dynamic_range")
    counts = rng.poisson(lam).astype(np.float64)
    I = (counts - exposure * background if subtracted else counts) / exposure * scale  # noqa: E741
    dI = np.sqrt(np.maximum(counts, 1.0)) / exposure * scale
    if not (np.all(np.isfinite(I)) and np.all(np.isfinite(dI)) and np.all(dI > 0)):
        raise RejectedCurve("nonfinite_after_noise")
    if np.count_nonzero(I > 0) < MIN_POINTS:
        raise RejectedCurve("too_few_positive")
    info = {"scale": scale, "model_peak": peak, "background": background * scale,
            "background_rel": bkg_rel, "background_floor": floor, "subtracted": subtracted,
            "counts_min": counts_min}
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


def _record(pars: dict, inst: Instrument, noise: dict, d: Draft, n_eval: int,
            upturn: dict | None, stats: Counter) -> dict:
    record = {"model": _jsonable(pars), "drawn_as": d.model, "label": d.label,
              "broad": d.broad, "instrument": inst.describe(), "measurement": noise,
              "eval_points": int(n_eval)}
    if d.nested is not None:
        record["nested_limit"] = d.nested.simpler
    if upturn is not None:
        record["upturn"] = upturn
        stats["upturns"] += 1
    return record


def _curve(inst: Instrument, I, dI, d: Draft, record: dict) -> Curve:  # noqa: N803
    return Curve(inst.q.copy(), I, dI, None if inst.dq is None else inst.dq.copy(),
                 inst.slit_length, d.label, record)


def _draw_pars(d: Draft, info, rng, inst: Instrument, **options) -> dict:
    pars = priors.draw_parameters(info, rng, q_range=(inst.q[0], inst.q[-1]), broad=d.broad,
                                  shifted=d.shifted, **options)
    return d.nested.limit(pars) if d.nested is not None else pars


def simulate_group(name: str, rng: np.random.Generator, n: int,
                   rejections: Counter | None = None, max_attempts: int = 200,
                   stats: Counter | None = None, shifted: bool = False) -> list[Curve]:
    """Simulate between 1 and *n* curves of class *name*.

    A draft (:func:`draft`) of a model with a size family, or of a product of such a
    form, gives up to ``family.size`` curves sharing one shape; any other draft one
    curve. Rejected draws
    are counted in *rejections* by reason and redrawn (a new draft each time); after
    *max_attempts* rejections in a row a RuntimeError is raised.
    """
    rejections = Counter() if rejections is None else rejections
    stats = Counter() if stats is None else stats
    failures = 0
    while True:
        d = draft(name, rng, shifted)
        info, _ = load_model(d.model)
        family = models.get(products.split(d.model)[0]).simulation.family
        try:
            if family is None or d.nested is not None:
                return [_simulate_single(d, info, rng, stats)]
            return _simulate_family(d, info, rng, min(n, family.size), family,
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
        I = evaluate(name, q, pars)  # noqa: E741
    except Exception as exc:  # the kernel refused the parameters
        raise RejectedCurve("kernel_error", repr(exc)) from exc
    _check_model(I)
    return I


def _simulate_single(d: Draft, info, rng, stats) -> Curve:
    inst = instruments.draw_instrument(rng, shifted=d.shifted)
    q_calc = calc_grid(inst)
    pars = _draw_pars(d, info, rng, inst, pd_n=pd_points_for(d.model, q_calc.size))
    n_eval = n_eval_points(d.model, q_calc.size, pars, CURVE_BUDGET_US)
    if n_eval < q_calc.size:
        q_eval = np.geomspace(q_calc[0], q_calc[-1], n_eval)
        I_calc = loglog_interp(q_eval, _evaluate_checked(d.model, q_eval, pars), q_calc)
        stats["interpolated"] += 1
    else:
        I_calc = _evaluate_checked(d.model, q_calc, pars)
    stats["kernel_points"] += n_eval * n_pd_points(pars)
    I_calc, turn = add_upturn(rng, inst, q_calc, I_calc)
    I, dI, noise = measure(rng, inst, smear(inst, q_calc, I_calc))
    return _curve(inst, I, dI, d, _record(pars, inst, noise, d, n_eval, turn, stats))


def form_factor(name: str, q: np.ndarray, pars: dict) -> tuple[np.ndarray, float, float]:
    """``(<F^2>(q), R_eff, V_form / V_shell)`` of form *name*: what sasmodels' product
    kernel combines with S(q) (effective radius mode 1, the form's own)."""
    from sasmodels.direct_model import call_Fq

    info, model = load_model(name)
    own = {p.id for p in info.parameters.call_parameters}
    values = {k: v for k, v in pars.items() if k.split("_pd")[0] in own}
    values["radius_effective_mode"] = products.PRODUCT_SETTINGS["radius_effective_mode"]
    kernel = model.make_kernel([np.ascontiguousarray(q, dtype=np.float64)])
    try:
        _, f2, r_eff, _, ratio = call_Fq(kernel, values, cutoff=0.0)
        return np.asarray(f2, dtype=np.float64).copy(), float(r_eff), float(ratio)
    finally:
        kernel.release()


def add_upturn(rng: np.random.Generator, inst: Instrument, q_calc: np.ndarray,
               I_calc: np.ndarray) -> tuple[np.ndarray, dict | None]:  # noqa: N803
    """*I_calc* with a low-q power-law upturn on a share :data:`UPTURN` of the draws
    (module docstring), and its record (None without one)."""
    if rng.random() >= UPTURN["fraction"]:
        return I_calc, None
    exponent = rng.uniform(*UPTURN["exponent"])
    lo, hi = math.log(inst.q[0]), math.log(inst.q[-1])
    log_cross = lo + rng.uniform(*UPTURN["cross"]) * (hi - lo)
    log_q = np.log(q_calc)
    amplitude = math.exp(float(np.interp(log_cross, log_q, np.log(np.maximum(I_calc, 1e-300))))
                         + exponent * log_cross)
    turn = amplitude * q_calc ** -exponent
    at_max = np.searchsorted(q_calc, inst.q[-1])
    at_max = min(int(at_max), q_calc.size - 1)
    if not turn[at_max] < UPTURN_HIGH_Q_MAX * I_calc[at_max]:
        return I_calc, None
    return I_calc + turn, {"exponent": float(exponent), "q_cross": math.exp(log_cross)}


def _member_factors(rng, grids: list[np.ndarray]) -> tuple[list[float], float, float]:
    """Size factor of each family member and the reference range ``(lo, hi)``.

    ``I(q; s L)`` is proportional to ``I(s q; L)``: member j needs the reference on
    ``s_j * q_calc_j``. The reference range is the first window widened by
    :data:`FAMILY_SLACK` on both sides; each member's size is drawn log-uniformly among
    those that put its whole window inside that range (the features seen by the first
    window, which the prior put there, are then seen by every member at a random place
    of its window)."""
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
    return factors, lo, hi


def _simulate_family(d: Draft, info, rng, n, family: Family, rejections, stats) -> list[Curve]:
    form, structure = products.split(d.model)
    insts = [instruments.draw_instrument(rng, shifted=d.shifted) for _ in range(n)]
    grids = [calc_grid(inst) for inst in insts]
    # the shared shape, drawn for the first window
    pd_probability = priors.PD_PROBABILITY if family.pd_probability is None \
        else family.pd_probability
    ref = _draw_pars(d, info, rng, insts[0], pd_n=family.pd_n,
                     max_pd_params=family.max_pd_params, pd_probability=pd_probability)
    factors, lo, hi = _member_factors(rng, grids)
    step = max(min(float(np.log(g[1] / g[0])) for g in grids), REFERENCE_STEP)
    n_dense = int(math.ceil(math.log(hi / lo) / step)) + 1
    affordable = int(family.budget_us / (kernel_cost(form) * n_pd_points(ref)))
    n_eval = int(min(n_dense, MAX_CALC_POINTS, max(family.min_eval, affordable)))
    reference = Reference.evaluate(d.model, np.geomspace(lo, hi, n_eval), ref)
    structure_info = load_model(structure)[0] if structure else None
    stats["kernel_points"] += n_eval * n_pd_points(ref)
    stats["families"] += 1
    curves = []
    for inst, q_calc, s in zip(insts, grids, factors):
        pars = dict(ref)
        for key in family.up:
            pars[key] = ref[key] * s
        for key in family.down:
            pars[key] = ref[key] / s
        try:
            interaction = None
            if structure_info is not None:
                interaction = _draw_interaction(d, structure_info, rng, inst)
                pars.update(interaction)
            I_calc = reference.member(s, q_calc, interaction)
            I_calc, turn = add_upturn(rng, inst, q_calc, I_calc)
            I, dI, noise = measure(rng, inst, smear(inst, q_calc, I_calc))
        except RejectedCurve as exc:
            rejections[exc.reason] += 1
            continue
        record = {**_record(pars, inst, noise, d, n_eval, turn, stats), "family_size": n,
                  "family_factor": float(s)}
        curves.append(_curve(inst, I, dI, d, record))
    if not curves:
        raise RejectedCurve("family_empty")
    return curves


@dataclass(frozen=True)
class Reference:
    """One kernel evaluation that serves every member of a family: the model's I(q), or
    for a product the form's ``<F^2>`` with its effective radius and volume ratio."""
    model: str
    q: np.ndarray
    intensity: np.ndarray
    r_eff: float = 0.0
    volume_ratio: float = 1.0

    @classmethod
    def evaluate(cls, model: str, q: np.ndarray, pars: dict) -> "Reference":
        form, structure = products.split(model)
        if structure is None:
            return cls(model, q, _evaluate_checked(model, q, pars))
        try:
            f2, r_eff, ratio = form_factor(form, q, pars)
        except Exception as exc:  # the kernel refused the parameters
            raise RejectedCurve("kernel_error", repr(exc)) from exc
        _check_model(f2)
        if not (math.isfinite(r_eff) and r_eff > 0 and math.isfinite(ratio) and ratio > 0):
            raise RejectedCurve("effective_radius")
        return cls(model, q, f2, r_eff, ratio)

    def member(self, s: float, q_calc: np.ndarray, interaction: dict | None = None
               ) -> np.ndarray:
        """Theory (up to a constant factor) of the member with lengths scaled by *s* on
        its grid *q_calc*; a product member's structure factor has the parameters
        *interaction* (its radius is the form's, scaled)."""
        theory = loglog_interp(self.q, self.intensity, s * q_calc)
        structure = products.split(self.model)[1]
        if structure is None:
            return theory
        return theory * _evaluate_checked(
            structure, q_calc, {**interaction, "radius_effective": s * self.r_eff,
                                "volfraction": interaction["volfraction"] * self.volume_ratio})


def _draw_interaction(d: Draft, structure_info, rng, inst: Instrument) -> dict:
    """A family member's own structure-factor parameters (its radius comes from the
    form)."""
    drawn = priors.draw_parameters(structure_info, rng, q_range=(inst.q[0], inst.q[-1]),
                                   broad=d.broad, shifted=d.shifted, pd_probability=0.0)
    drawn.pop("radius_effective", None)
    for key in ("scale", "background"):
        drawn.pop(key, None)
    return drawn


def simulate_curves(name: str, rng: np.random.Generator, count: int,
                    rejections: Counter | None = None,
                    stats: Counter | None = None, shifted: bool = False) -> list[Curve]:
    """Exactly *count* curves of class *name* drawn from *rng*."""
    rejections = Counter() if rejections is None else rejections
    curves: list[Curve] = []
    while len(curves) < count:
        curves.extend(simulate_group(name, rng, count - len(curves), rejections,
                                     stats=stats, shifted=shifted))
    return curves[:count]


def measure_kernel_cost(name: str, draws: int = 40, seed: int = 0) -> float:
    """Mean kernel time in microseconds per q point (no polydispersity) for
    parameters drawn from the prior; the models' ``SIMULATION.cost_us``."""
    import time

    info, _ = load_model(name)
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(draws):
        inst = instruments.draw_instrument(rng)
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
