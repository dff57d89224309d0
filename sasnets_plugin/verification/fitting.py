"""Fit one sasmodels model to one curve: screened multi-start + bumps Levenberg-Marquardt.

Procedure for one model (:func:`fit_model`):

1. **Setup** (:mod:`.parameters`): which shape parameters are free and their bounds
   for this q window (relative contrasts of multi-component models and integer counts
   included); other SLDs, orientations and all polydispersities but the main size's
   (step 5) stay fixed.
2. **Starts**: the model's guess rule applied to the curve invariants
   (:mod:`.invariants`), the model defaults, and :data:`DEFAULT_RANDOM_STARTS` seeded
   random draws inside the bounds (log-uniform for lengths, ratios and q positions).
3. **Screening**: every start is evaluated once (resolution included); the linear
   amplitudes (``scale`` or the model's own amplitudes, and ``background``) are solved
   exactly by non-negative least squares, so each start is judged at its best
   amplitudes. Screening takes at most :data:`_SCREEN_SHARE` of the work budget.
4. **Refinement**: bumps' Levenberg-Marquardt (``LevenbergMarquardtFit``, SasView's
   default fitter) of all free parameters together (shape, amplitudes, background) from
   ``n_starts`` *distinct* screened starts, taken alternately from the best
   invariant-based ones and the best of all (in sharp chi² landscapes a start's own chi²
   says little about its basin). Bounds are built into the parametrisation (logistic
   map, in log scale for lengths; ``exp`` for amplitudes and background), so LM never
   meets a hard bound. The first two starts are refined by *continuation in q*: on the
   leading part of the curve down to a tenth of its low-q intensity, then on q windows
   doubled stage by stage, then on all points (monodisperse form factors oscillate, so
   chi² is rugged in the sizes at high q; the low-q stages keep the fit in the right
   basin). Integer counts (layers, pearls, shells) are tried at a few values in the
   starts and held by each LM run; after each run an integer search over the count
   (other parameters held) and, if the count changed, LM again. Refinement stops
   early once a fit reaches the noise level (chi2r < 1). The
   best point ever evaluated is kept, so a fit stopped by its budget still yields
   the best point found so far (``converged=False``).
5. **Polydispersity** (models with a polydisperse main size, :attr:`.Setup.pd`): the
   refinements above are monodisperse and stop at :data:`_PD_SHARE` of the work left
   (unless one reaches the noise level); a last LM run from the best point then also
   varies the gaussian relative width of the main size (0..0.35, 11 points). The width
   counts as a free parameter in ``k`` below whether or not this stage ran.
6. **Statistics** on all points: ``chi2 = sum(((I_fit - I) / sigma)^2)``,
   ``chi2r = chi2 / (n - k)``, ``AIC = chi2 + 2k``, ``BIC = chi2 + k ln n`` where ``k``
   counts only the parameters actually varied (shape + amplitudes + background). The
   constant ``sum(ln 2 pi sigma^2)`` is left out: AIC/BIC are comparable between models
   fitted to the same data only.

Weighting: the file's dI when every point has one (after cleaning). Otherwise
``sigma = f * I`` with one relative error ``f`` for all points, estimated from the
curve's own point-to-point scatter (:func:`.invariants.relative_noise`) and clipped to
1 %..25 %; residuals are then relative (log-like), and results carry a note saying so.

Budget: **work**, not time, so that a busy machine gives the same answer, later. Every
model evaluation costs a fixed estimate (:class:`EvalCost`): :data:`EVAL_OVERHEAD_US`,
plus for smeared data the resolution product (:data:`RESOLUTION_NS_PER_ENTRY` times theory
points times data points), plus the model's kernel cost per theory point (:mod:`.costs`,
measured once offline) times the theory points (resolution grid included) times the polydispersity points, times
the growth of sasmodels' adaptive orientation quadrature with q·size for the models that
use it (:func:`quadrature_growth`); a fit may spend ``work``
(default :data:`DEFAULT_WORK`) of those estimated microseconds, and every share above
is a share of it. Nothing measured at run time enters a decision, so a fit is a pure
function of (model, data, settings, seed). The wall clock only enters as a safety cap
(``deadline``, far above the work budget): a fit stopped by it is flagged
``cut = "safety cap"`` and may differ between runs (an evaluation is refused when the
previous one's duration says it would end past the cap; a running kernel cannot be
interrupted). LM runs are also bounded by ``max_steps`` iterations each; one that
reaches it without meeting its tolerance does not count as converged.

Resolution (:func:`resolution_for`): slit smearing (sasmodels ``Slit1D`` on its default
grid, as SasView fits) when slit lengths/widths are given, else pinhole
(``Pinhole1D``, dQ = Gaussian 1-sigma as in SasView, theory on a log grid finer than dQ:
:func:`pinhole_on_log_grid`) when some dQ > 0, else none. Slow models
(an evaluation estimated above :data:`_SLOW_EVAL_US`) are screened and refined on an
evenly spaced subset of 60 points; the final statistics always use every point.

Verdict: a fit is *within the noise* when ``chi2r <= NOISE_CHI2R``; it *plausibly
failed* when it did not converge, ended with a parameter at a bound, or was cut by its
budget (:attr:`CandidateFit.plausibly_failed`): the re-ranking treats the two kinds
differently (:mod:`.verify`).
"""
from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Callable

import numpy as np

from ..kernels import kernel_model
from ..models import get as model_spec
from ..models import model_info
from .costs import KERNEL_US
from .data import FitData, prepare_data
from .invariants import Invariants, curve_invariants
from .parameters import CONTRAST_STARTS, PD_N, Setup, setup_for, within_sld_limits

#: Residual given to a point where the model returned NaN/inf (keeps LM finite).
_BAD_RESIDUAL = 1e4
#: Seeded random starts screened per model (besides the invariant-based ones).
DEFAULT_RANDOM_STARTS = 48
#: Work budget of one candidate fit (estimated microseconds, see the module docstring):
#: about 1-3 s of one core for the slow models that use all of it, far less for fast
#: ones, which converge first. Sets the time per file (README: benchmarks).
DEFAULT_WORK = 1.5e6
#: Fixed cost counted for every evaluation besides the kernel (Python, resolution, LM,
#: the linear solves): measured 150-450 us of CPU per evaluation of the fastest models
#: on the sasdata examples.
EVAL_OVERHEAD_US = 200.0
#: Cost of the resolution product per entry of its weight matrix (theory points x data
#: points), counted on top of EVAL_OVERHEAD_US for smeared data: 0.19-0.33 ns measured
#: with one BLAS thread for 100-1000 point curves (0.3 ms for a 500-point curve).
RESOLUTION_NS_PER_ENTRY = 0.35
#: Share of the work budget screening may use, and that one random start's evaluation
#: may cost (a random start at a huge size would make an adaptive-quadrature model's
#: evaluation thousands of times dearer: such starts are left out, not allowed to end
#: the fit; the starts read off the curve are always tried).
_SCREEN_SHARE = 0.3
_START_SHARE = 0.05
#: Share of the work left after screening for the monodisperse refinements when a
#: polydispersity stage follows (:func:`_refine_pd`).
_PD_SHARE = 0.6
#: A fit whose reduced chi2 is at most this is *within the noise*: residuals at most
#: sqrt(2) times the stated errors on average. File uncertainties are commonly off by
#: that much: the documented models of the labelled real files fit at chi2r 0.66-2.04
#: (``benchmarks/real_data/README.md``).
NOISE_CHI2R = 2.0
#: Start value of the relative polydispersity width in that stage.
_PD_START = 0.1
#: Counts with fewer values than this are scanned exhaustively by the count search
#: (:func:`_search_counts`); wider ones get :data:`_COUNT_SEARCH` integers per pass.
_COUNT_SCAN = 128
#: Integers tried per pass of the count search over a wide range.
_COUNT_SEARCH = 12
#: Above this estimated cost of one evaluation (microseconds), screening and refinement
#: use a subset of :data:`_SUBSET_POINTS` points (so that slow models get enough
#: evaluations from their work budget to converge).
_SLOW_EVAL_US = 10000.0
#: Theory points per data point at most, for pinhole smearing (see pinhole_on_log_grid).
PINHOLE_GRID_FACTOR = 3
_SUBSET_POINTS = 60


#: What each stop reason means in a result's ``cut`` (cancellation is a failure instead).
_CUT = {"work": "work budget", "time": "safety cap", "evaluations": "evaluation limit"}


class _Stop(Exception):
    """Raised inside an evaluation to stop the current fit (:data:`_CUT`, or "cancelled")."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- result ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CandidateFit:
    """The fit of one candidate model (plus, once re-ranked, its combined score).

    ``status`` is ``"ok"`` or ``"fit failed: <reason>"``. For failures the numbers
    are ``nan`` and ``parameters`` is empty. ``parameters`` holds the fitted (varied)
    values, ``fixed`` the values held at something other than the model default (e.g.
    ``scale = 1`` for models with their own amplitudes); every other parameter is at its
    sasmodels default with no polydispersity. ``at_bounds`` names the fitted parameters
    that ended at a bound, ``cut`` says what stopped the fit early ("" when nothing did,
    else a :data:`_CUT` value); ``rescue`` marks a candidate fitted because none of the
    network's top candidates fitted within the noise (:mod:`.verify`).
    """

    model: str
    status: str
    chi2: float = math.nan
    chi2r: float = math.nan
    aic: float = math.nan
    bic: float = math.nan
    n_points: int = 0
    n_free: int = 0
    parameters: dict = field(default_factory=dict)
    uncertainties: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    q: np.ndarray | None = None
    I_fit: np.ndarray | None = None
    n_starts: int = 0
    n_screened: int = 0
    n_evaluations: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the process that fitted it (load-independent)
    converged: bool = False
    notes: tuple[str, ...] = ()
    at_bounds: tuple[str, ...] = ()
    cut: str = ""
    rescue: bool = False
    # filled in by verify.rerank
    probability: float = math.nan
    posterior: float = math.nan
    network_rank: int = 0
    verified_rank: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def within_noise(self) -> bool:
        """The fit describes the data as well as their errors allow (chi2r <= NOISE_CHI2R)."""
        return self.ok and self.chi2r <= NOISE_CHI2R

    @property
    def plausibly_failed(self) -> bool:
        """The fit may not have found the model's best point: not converged, a parameter
        at a bound, or cut by a budget (a converged, clean fit is evidence)."""
        return self.ok and (not self.converged or bool(self.at_bounds) or bool(self.cut))

    @property
    def verdict(self) -> str:
        """One line for the user: how far this fit can be trusted."""
        if not self.ok:
            return self.status
        if self.within_noise:
            return "fits within the noise"
        why = (f"cut by the {self.cut}" if self.cut else
               f"{', '.join(self.at_bounds)} at a bound" if self.at_bounds else
               "not converged" if not self.converged else "")
        return f"poor fit (chi2r {self.chi2r:.3g})" + (f"; may have failed: {why}" if why else "")

    def start_values(self) -> dict[str, float]:
        """Fitted and fixed values: a complete start point for a SasView fit."""
        return within_sld_limits(self.model, {**self.fixed, **self.parameters})

    def fit_json(self) -> dict | str:
        """``{"chi2r", "aic", "bic", "parameters", ...}`` for a fit, the status string
        for a failure."""
        if not self.ok:
            return self.status
        return {
            "chi2r": json_float(self.chi2r),
            "aic": json_float(self.aic),
            "bic": json_float(self.bic),
            "parameters": {k: json_float(v) for k, v in self.parameters.items()},
            "uncertainties": {k: json_float(v) for k, v in self.uncertainties.items()},
            "fixed": {k: json_float(v) for k, v in self.fixed.items()},
            "n_points": self.n_points,
            "n_free": self.n_free,
            "converged": self.converged,
            "within_noise": self.within_noise,
            "at_bounds": list(self.at_bounds),
            "cut": self.cut,
            "verdict": self.verdict,
            "posterior": json_float(self.posterior),
            "verified_rank": self.verified_rank,
            "notes": list(self.notes),
        }


def json_float(x) -> float | None:
    """``x`` as a float, or None (JSON null) when it is NaN or infinite."""
    x = float(x)
    return x if math.isfinite(x) else None


def failed(model: str, reason: str, **extra) -> CandidateFit:
    return CandidateFit(model=model, status=f"fit failed: {reason}", **extra)


# --- model evaluation --------------------------------------------------------------------
class _Best:
    """Best finite point seen by any evaluation (screening or LM)."""

    def __init__(self):
        self.chi2 = math.inf
        self.values: dict | None = None

    def offer(self, chi2: float, values: dict):
        if chi2 < self.chi2:
            self.chi2, self.values = chi2, dict(values)


def pinhole_on_log_grid(q: np.ndarray, dq: np.ndarray, max_factor: int = PINHOLE_GRID_FACTOR):
    """sasmodels ``Pinhole1D`` smearing computed on a log-spaced theory grid.

    By default sasmodels evaluates the theory at the data's own q (plus an extension) and
    integrates the Gaussian over those bins with the value at each bin centre; on coarse
    or linearly spaced data with a narrow dQ that misstates steep curves badly (a Porod
    law fitted to its own smeared, noise-limited simulation gave chi2r up to 10^3). The
    grid here steps by half the narrowest dQ/q in log q, from 2.5 sigma below the first
    point to 3 sigma above the last, with at most ``max_factor`` times as many points as
    the data (the cost of one evaluation grows with it). The data's own q are always
    part of the grid, so a resolution narrower than the grid step still sees a point.
    """
    from sasmodels.resolution import Pinhole1D

    rel = np.maximum(dq / q, 1e-4)
    lo = q[0] * max(1.0 - 2.5 * rel[0], 0.5)
    hi = q[-1] * (1.0 + 3.0 * rel[-1])
    span = math.log(hi / lo)
    step = max(float(rel.min()) / 2.0, span / (max_factor * q.size))
    n = max(int(math.ceil(span / step)) + 1, q.size)
    return Pinhole1D(q, dq, q_calc=np.union1d(np.geomspace(lo, hi, n), q))


def resolution_for(data: FitData):
    """The smearing the fits use for ``data`` (module docstring); None: sasmodels'
    default for the data, which is what slit data get: SasView's Fitting perspective
    smears slits so too, and the verification's chi2 should be the one SasView reports
    (sasmodels' slit grid follows the data's q: a finer grid moves a 1 um sphere on
    USANS by up to 45 %, the training generator uses one, see ``training.simulate``)."""
    if data.resolution == "pinhole":
        return pinhole_on_log_grid(data.q, data.dQ)
    return None


#: sasmodels' adaptive orientation quadrature (``gauss_weights`` in its
#: ``models/lib/adaptive.c``): at a q point where ``q * size`` is below a threshold, the
#: number of points is the one beside it (above the last: ``QUADRATURE_MAX``).
QUADRATURE_STEPS = ((10.0, 20), (100.0, 76), (750.0, 500))
QUADRATURE_MAX = 5000
#: Quadrature points :mod:`.costs` is relative to.
QUADRATURE_REF = 76


def quadrature_growth(q_calc_sorted: np.ndarray, size: float) -> float:
    """Mean over the theory points of the adaptive quadrature's size, relative to
    :data:`QUADRATURE_REF` points: how much dearer an evaluation at ``size`` is than one
    at the reference quadrature everywhere. (Shapes without an axis of symmetry run a
    second, inner quadrature over the cross-section; counting it too, with the same
    size, misjudged them 30x: their cost is estimated within 2-5x without it.)"""
    edges = np.searchsorted(q_calc_sorted, [t / size for t, _ in QUADRATURE_STEPS])
    bins = np.diff(np.concatenate([[0], edges, [q_calc_sorted.size]]))
    points = np.array([n for _, n in QUADRATURE_STEPS] + [QUADRATURE_MAX], float)
    return float(bins @ (points / QUADRATURE_REF)) / bins.sum()


@dataclass(frozen=True)
class EvalCost:
    """Estimated cost of one evaluation of a model (module docstring: budget).

    ``per_point_us``: the model's kernel time per theory point (:mod:`.costs`, measured
    offline at the model defaults, per :data:`QUADRATURE_REF` quadrature points; a
    product costs its two parts; a model missing there its ``SIMULATION.cost_us``);
    ``lengths``: the fitted lengths (Å) whose largest, times the largest fitted aspect
    ratio (``ratios``; a prism's long edge is ``length_a * c2a_ratio``), sets ``q * size``
    for an adaptive quadrature (empty when the kernel has none; the kernels use a radius
    or a half length: within a factor 2, which moves few points across the steps);
    ``counts``: fitted integer counts (layers, pearls, shells) with their default values:
    kernels loop over them."""

    per_point_us: float
    lengths: tuple[str, ...] = ()
    ratios: tuple[str, ...] = ()
    counts: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, model: str, setup: Setup) -> "EvalCost":
        composition = model_info(model).composition
        parts = composition[1] if composition else [model_info(model)]
        adaptive = any(src.endswith("adaptive.c") for info in parts for src in info.source)
        lengths = tuple(name for name, role in setup.spec.free.items()
                        if role.role in ("size", "long", "far")) if adaptive else ()
        ratios = tuple(name for name, role in setup.spec.free.items()
                       if role.role == "ratio") if adaptive else ()
        counts = tuple((name, max(1.0, setup.defaults.get(name, 1.0)))
                       for name, role in setup.spec.free.items() if role.is_count)
        per_point = sum(KERNEL_US.get(info.id, model_spec(info.id).simulation.cost_us)
                        for info in parts)
        return cls(per_point, lengths, ratios, counts)

    def __call__(self, values: dict, q_calc_sorted: np.ndarray) -> float:
        points = 1.0
        for name, width in values.items():
            if name.endswith("_pd") and width > 0:
                points *= int(values.get(f"{name}_n", PD_N))
        size = max((values[name] for name in self.lengths if name in values), default=0.0)
        size *= max([1.0] + [values[name] for name in self.ratios if name in values])
        if size > 0:
            points *= quadrature_growth(q_calc_sorted, size)
        for name, reference in self.counts:
            points *= max(1.0, values.get(name, reference) / reference)
        return EVAL_OVERHEAD_US + self.per_point_us * q_calc_sorted.size * points


class _Evaluator:
    """Theory on one data set (resolution included), with the stop checks.

    ``guard(cost_us, expected_seconds)`` runs before every evaluation with its estimated
    cost (the work it counts, see the module docstring) and the duration of the previous
    evaluation (costs of some models depend strongly on the parameters, and nearby points
    cost about the same), so that it can refuse an evaluation that would end past the
    wall-clock safety cap: a running kernel cannot be interrupted."""

    def __init__(self, model, data: FitData, guard: Callable[[float, float], None],
                 cost: EvalCost):
        from sasmodels.direct_model import DirectModel

        self.data = data
        self._calc = DirectModel(data.sasmodels_data(), model)
        resolution = resolution_for(data)
        if resolution is not None:  # the kernel is built lazily from this grid
            self._calc.resolution = resolution
        self._cost = cost
        self.q_calc = np.sort(np.asarray(self._calc.resolution.q_calc, float))
        entries = self.q_calc.size * data.n if resolution is not None else 0
        self._smearing_us = 1e-3 * RESOLUTION_NS_PER_ENTRY * entries
        self._guard = guard
        self.last_seconds = 0.0

    def cost(self, values: dict) -> float:
        """Estimated cost of one evaluation at ``values`` (:class:`EvalCost`, plus the
        resolution product for smeared data)."""
        return self._cost(values, self.q_calc) + self._smearing_us

    def __call__(self, values: dict) -> np.ndarray:
        self._guard(self.cost(values), self.last_seconds)
        t = time.perf_counter()
        out = np.asarray(self._calc(**values), dtype=float)
        self.last_seconds = time.perf_counter() - t
        return out


def _solve_linear(columns, data: FitData, signed: bool):
    """Best amplitudes for fixed shape: (coefficients, chi2); NNLS unless ``signed``."""
    from scipy.optimize import nnls

    A = np.column_stack(columns) / data.sigma[:, None]
    if not np.all(np.isfinite(A)):
        return None, math.inf
    b = data.I / data.sigma
    norms = np.linalg.norm(A, axis=0)
    norms[norms == 0] = 1.0
    try:
        if signed:
            x = np.linalg.lstsq(A / norms, b, rcond=None)[0]
        else:
            x = nnls(A / norms, b, maxiter=50 * A.shape[1])[0]
    except (ValueError, RuntimeError, np.linalg.LinAlgError):
        return None, math.inf
    x = x / norms
    with np.errstate(over="ignore", invalid="ignore"):  # a shape overflowing: not a fit
        r = A @ x - b
        chi2 = float(r @ r)
    return (x, chi2) if math.isfinite(chi2) else (None, math.inf)


class _Problem:
    """Model + data + setup: linear solves for trial shapes and the bumps fitness."""

    def __init__(self, setup: Setup, evaluate: _Evaluator, best: _Best):
        self.setup = setup
        self.ev = evaluate
        self.data = evaluate.data
        self.best = best
        self.base = dict(setup.fixed)

    def columns(self, shape: dict) -> list[np.ndarray]:
        s = self.setup
        base = {**self.base, **shape, "background": 0.0}
        cols = []
        for a in s.amplitudes:
            cols.append(self.ev({**base, **{b: 0.0 for b in s.amplitudes}, a: 1.0}))
        if s.spec.background:
            cols.append(np.ones_like(self.data.q))
        return cols

    def profile(self, shape: dict):
        """``(all free values, chi2)`` at ``shape`` with the best amplitudes."""
        coef, chi2 = _solve_linear(self.columns(shape), self.data, self.setup.spec.signed)
        if coef is None:
            return None, math.inf
        values = dict(shape)
        values.update(zip(self.setup.amplitudes, map(float, coef)))
        if self.setup.spec.background:
            values["background"] = float(coef[-1])
        self.best.offer(chi2, values)
        return values, chi2

    def theory(self, values: dict) -> np.ndarray:
        return self.ev({**self.base, **values})


class _Map:
    """Smooth map between a bounded fit parameter ``x`` and an unbounded ``u``.

    Bounded shape parameters use a logistic map (in log x for lengths, ratios and q
    positions), amplitudes and the background ``x = exp(u)`` (>= 0), signed amplitudes
    the identity. Levenberg-Marquardt then works without hard bounds, whose penalty
    (bumps adds a large cost outside them) makes it stick to a boundary."""

    def __init__(self, kind: str, lo: float = 0.0, hi: float = 1.0):
        self.kind, self.lo, self.hi = kind, lo, hi
        if kind == "loglogit":
            self.a, self.b = math.log(lo), math.log(hi)

    def to_u(self, x: float) -> float:
        if self.kind in ("logit", "loglogit"):
            if self.kind == "logit":
                t = (x - self.lo) / (self.hi - self.lo)
            else:
                t = (math.log(max(x, self.lo)) - self.a) / (self.b - self.a)
            t = min(max(t, 1e-3), 1 - 1e-3)  # a start on a bound could not move
            return math.log(t / (1 - t))
        if self.kind == "exp":
            return math.log(x)
        return x

    def to_x(self, u: float) -> float:
        if self.kind in ("logit", "loglogit"):
            t = 1.0 / (1.0 + math.exp(-u)) if u > -700 else 0.0
            if self.kind == "logit":
                return self.lo + (self.hi - self.lo) * t
            return math.exp(self.a + (self.b - self.a) * t)
        if self.kind == "exp":
            return math.exp(min(u, 700.0))
        return u

    def dx_du(self, u: float) -> float:
        x = self.to_x(u)
        if self.kind in ("logit", "loglogit"):
            t = 1.0 / (1.0 + math.exp(-u)) if u > -700 else 0.0
            span = self.hi - self.lo if self.kind == "logit" else x * (self.b - self.a)
            return span * t * (1 - t)
        return x if self.kind == "exp" else 1.0


class _Fitness:
    """bumps Fitness around :class:`_Problem` (see ``bumps.fitproblem.Fitness``); its
    bumps parameters are the unbounded ``u`` of :class:`_Map`."""

    name = "verification"

    def __init__(self, problem: _Problem, pars: dict, maps: dict, held: dict):
        self.problem = problem
        self._pars = pars
        self._maps = maps
        self._held = held  # counts: part of every point, not varied
        self._resid = None
        self.stopped: _Stop | None = None
        self.evaluations = 0

    def parameters(self):
        return list(self._pars.values())

    def update(self):
        self._resid = None

    def numpoints(self):
        return self.problem.data.n

    def values(self) -> dict:
        return {**self._held, **{k: self._maps[k].to_x(float(p.value))
                                 for k, p in self._pars.items()}}

    def residuals(self):
        if self._resid is None:
            self.evaluations += 1
            values = self.values()
            data = self.problem.data
            with np.errstate(over="ignore", invalid="ignore"):
                r = (self.problem.theory(values) - data.I) / data.sigma
            if np.all(np.isfinite(r)) and np.max(np.abs(r)) < 1e150:
                self.problem.best.offer(float(r @ r), values)
            else:
                r = np.where(np.isfinite(r), np.clip(r, -1e150, 1e150), _BAD_RESIDUAL)
            self._resid = r
        return self._resid

    def nllf(self):
        # bumps logs and swallows exceptions raised in nllf(): keep the stop for _lm
        try:
            r = self.residuals()
        except _Stop as stop:
            self.stopped = stop
            return math.inf
        return 0.5 * float(r @ r)

    def resynth_data(self):  # pragma: no cover - not used
        raise NotImplementedError

    def restore_data(self):  # pragma: no cover - not used
        raise NotImplementedError

    def save(self, basename):  # pragma: no cover - not used
        pass

    def plot(self, view=None):  # pragma: no cover - not used
        pass


def _maps(setup: Setup, start: dict, data: FitData) -> tuple[dict, dict]:
    """(maps, start values clipped so that their maps are finite)."""
    maps, x0 = {}, {}
    for name, (lo, hi) in setup.shape.items():
        if setup.spec.free[name].is_count:
            continue  # a count is held by the caller
        log = setup.spec.free[name].draws_log() and lo > 0
        maps[name] = _Map("loglogit" if log else "logit", lo, hi)
        x0[name] = float(np.clip(start[name], lo, hi))
    floors = _floors(setup, start, data)
    for name in setup.amplitudes:
        maps[name] = _Map("identity" if setup.spec.signed else "exp")
        x0[name] = float(start[name]) if setup.spec.signed else max(float(start[name]), floors[name])
    if setup.spec.background:
        maps["background"] = _Map("exp")
        x0["background"] = max(float(start["background"]), floors["background"])
    return maps, x0


def _floors(setup: Setup, values: dict, data: FitData) -> dict:
    """Smallest start of each non-negative linear parameter (``x = exp(u)`` cannot start at 0)."""
    amps = [abs(float(values[a])) for a in setup.amplitudes]
    floor = 1e-9 * (max(amps) if amps and max(amps) > 0 else 1.0)
    out = {} if setup.spec.signed else dict.fromkeys(setup.amplitudes, floor)
    if setup.spec.background:
        out["background"] = 1e-6 * float(np.min(data.I))
    return out


def _collapsed(setup: Setup, values: dict, data: FitData) -> bool:
    """An amplitude or the background that LM drove below its start floor: as ``exp(u)``
    with ``u`` far negative it has no gradient left and cannot grow back in that run."""
    return any(values[name] < floor for name, floor in _floors(setup, values, data).items())


def _lm(problem: _Problem, start: dict, max_steps: int, tol: float = 1.5e-8):
    """One bumps Levenberg-Marquardt run from ``start``.

    Returns ``(stderr, finished, final values)``; ``finished`` is False when LM gave up
    or used up its ``max_steps`` iterations without meeting its tolerance (bumps returns
    that point as a result all the same); ``stderr`` (1-sigma, from the LM
    covariance mapped back through :class:`_Map`, valid if the errors sigma are right)
    is empty when unavailable."""
    from bumps.fitproblem import FitProblem
    from bumps.fitters import FitDriver, LevenbergMarquardtFit
    from bumps.parameter import Parameter

    maps, x0 = _maps(problem.setup, start, problem.data)
    pars = {name: Parameter(maps[name].to_u(x0[name]), name=name).range(-1e300, 1e300)
            for name in x0}
    fitness = _Fitness(problem, pars, maps, {k: start[k] for k in _counts(problem.setup)})
    fp = FitProblem(fitness)
    driver = FitDriver(fitclass=LevenbergMarquardtFit, problem=fp, monitors=[], steps=max_steps,
                       ftol=tol, xtol=tol)
    x, _ = driver.fit()
    if fitness.stopped is not None:
        raise fitness.stopped
    # scipy's leastsq allows max_steps * (parameters + 1) evaluations (bumps' setting)
    if x is None or fitness.evaluations >= max_steps * (len(pars) + 1):
        return {}, False, fitness.values()
    stderr = {}
    try:
        cov = driver.cov()
        if cov is not None:
            err = np.sqrt(np.clip(np.diag(cov), 0, None))
            for label, e, u in zip(fp.labels(), err, x):
                with np.errstate(over="ignore"):
                    stderr[label] = float(abs(maps[label].dx_du(float(u))) * e)
    except Exception:  # noqa: BLE001 - uncertainties are optional
        stderr = {}
    return stderr, True, fitness.values()


# --- starts --------------------------------------------------------------------------------
def _seed(model: str, seed: int) -> int:
    return (zlib.crc32(model.encode()) ^ (seed * 0x9E3779B1)) & 0xFFFFFFFF


def _order(setup: Setup, s: dict) -> dict:
    for a, b in setup.spec.order:
        if a in s and b in s and s[a] > s[b]:
            s[a], s[b] = s[b], s[a]
    return s


def _counts(setup: Setup) -> list[str]:
    """The integer counts among the shape parameters (held during each LM run)."""
    return [name for name in setup.shape if setup.spec.free[name].is_count]


def _choices(setup: Setup, name: str) -> list[float]:
    """The tried values of count ``name`` within its bounds."""
    lo, hi = setup.shape[name]
    return [c for c in setup.spec.free[name].choices if lo <= c <= hi] or [lo]


def _draw(setup: Setup, rng: np.random.Generator) -> dict:
    s = {}
    for name, (lo, hi) in setup.shape.items():
        role = setup.spec.free[name]
        if role.is_count:
            s[name] = float(rng.choice(_choices(setup, name)))
        elif role.draws_log() and lo > 0:
            s[name] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        else:
            s[name] = float(rng.uniform(lo, hi))
    return _order(setup, s)


def guessed_starts(setup: Setup, inv: Invariants) -> list[dict]:
    """Invariant-based starts for ``setup`` (clipped into the bounds), then the defaults."""
    guesses = list(setup.spec.guess(inv)) if setup.spec.guess else []
    guesses.append({})  # model defaults
    contrasts = [name for name in setup.shape if setup.spec.free[name].is_contrast]
    if contrasts:  # each geometry with each contrast ratio (all components alike)
        guesses = [{**g, **dict.fromkeys(contrasts, r)} for g in guesses for r in CONTRAST_STARTS]
    for name in _counts(setup):  # ... and at each of the counts' choices
        guesses = [{**g, name: c} for g in guesses for c in _choices(setup, name)]
    out = []
    for g in guesses:
        s = {}
        for name, (lo, hi) in setup.shape.items():
            v = g.get(name, setup.defaults.get(name, 0.5 * (lo + hi)))
            if not np.isfinite(v):
                v = 0.5 * (lo + hi)
            s[name] = float(np.clip(v, lo, hi))
        s = _order(setup, s)
        if s not in out:
            out.append(s)
    return out


def _distance(setup: Setup, a: dict, b: dict) -> float:
    d = 0.0
    for name, (lo, hi) in setup.shape.items():
        x, y = a[name], b[name]
        if setup.spec.free[name].is_count:
            d = max(d, float(x != y))
        elif setup.spec.free[name].draws_log() and x > 0 and y > 0:
            d = max(d, abs(math.log(x / y)) / 2.0)  # factor e^0.2 ~ 1.2 <-> 0.1
        else:
            d = max(d, abs(x - y) / (hi - lo))
    return d


# --- main entry -----------------------------------------------------------------------------
def fit_model(model: str, data: FitData, *, n_starts: int = 6, n_random: int | None = None,
              work: float = DEFAULT_WORK, deadline: float | None = None,
              abort: Callable[[], bool] | None = None, max_steps: int = 100,
              max_evaluations: int = 10000, seed: int = 0,
              invariants: Invariants | None = None) -> CandidateFit:
    """Fit ``model`` to ``data``; never raises for model or fit problems.

    ``work``: the budget in estimated kernel microseconds (module docstring); the fit
    stops when its next evaluation would exceed it and reports the best point found so
    far (``converged=False``, ``cut="work budget"``). ``deadline``: a ``time.time()``
    instant, the wall-clock safety cap (``cut="safety cap"``). ``abort()`` returning
    true stops it too, but the result has status ``"fit failed: cancelled"``.
    ``n_random`` seeded random starts are screened besides the invariant-based ones
    (default :data:`DEFAULT_RANDOM_STARTS`; screening stops early at
    :data:`_SCREEN_SHARE` of the work). LM runs from ``n_starts`` distinct screened
    starts, taken alternately from the best invariant-based ones and the best of all.
    Below the safety cap the result depends on the arguments only.
    """
    t0, cpu0 = time.time(), time.process_time()
    notes: list[str] = list(data.notes)
    try:
        setup = setup_for(model, float(data.q[0]), float(data.q[-1]))
        km = kernel_model(model)
        cost = EvalCost.of(model, setup)
    except ValueError as exc:
        return failed(model, str(exc), seconds=time.time() - t0)
    except Exception as exc:  # noqa: BLE001 - compilation errors etc.
        return failed(model, f"could not load the model ({type(exc).__name__}: {exc})",
                      seconds=time.time() - t0)

    spent = [0.0, 0]  # estimated microseconds, evaluations
    stop_reason: list[str] = []

    def guard(cost: float, expected: float):
        if abort is not None and abort():
            raise _Stop("cancelled")
        if deadline is not None and time.time() + expected > deadline:
            raise _Stop("time")
        if spent[0] + cost > work:
            raise _Stop("work")
        if spent[1] >= max_evaluations:
            raise _Stop("evaluations")
        spent[0] += cost
        spent[1] += 1

    def evaluator(part: FitData, check=guard) -> _Evaluator:
        return _Evaluator(km, part, check, cost)

    def share(fraction: float) -> float:
        """The work mark after ``fraction`` of what is left now."""
        return spent[0] + fraction * max(0.0, work - spent[0])

    best = _Best()
    inv = invariants or curve_invariants(data.q, data.I,
                                         None if data.sigma_estimated else data.sigma)
    rng = np.random.default_rng(_seed(model, seed))
    n_screened = n_lm = 0
    converged = False
    stderr: dict = {}
    used_subset = False
    try:
        full = _Problem(setup, evaluator(data), best)
        work_problem = full
        starts = guessed_starts(setup, inv)
        if full.ev.cost({**setup.defaults, **setup.fixed}) > _SLOW_EVAL_US \
                and data.n > _SUBSET_POINTS:
            idx = np.unique(np.round(np.linspace(0, data.n - 1, _SUBSET_POINTS)).astype(int))
            work_problem = _Problem(setup, evaluator(data.subset(idx)), _Best())
            used_subset = True
            notes.append(f"slow model: screened and refined on {idx.size} of {data.n} points")
        n_guessed = len(starts)
        if n_random is None:
            n_random = DEFAULT_RANDOM_STARTS
        if setup.shape:
            starts += [_draw(setup, rng) for _ in range(n_random)]
        screen_until = share(_SCREEN_SHARE)
        screened = []  # (chi2, values, is_guess)
        too_costly = 0
        for i, s in enumerate(starts):
            if spent[0] > screen_until and screened:
                notes.append(f"work budget: {i} of {len(starts)} starts screened")
                break
            start_cost = work_problem.ev.cost({**setup.fixed, **s}) * len(setup.amplitudes)
            if i >= n_guessed and start_cost > _START_SHARE * work:
                too_costly += 1
                continue
            values, chi2 = work_problem.profile(s)
            n_screened += 1
            if values is not None and np.isfinite(chi2):
                screened.append((chi2, values, i < n_guessed))
        if too_costly:
            notes.append(f"{too_costly} starts left out: one evaluation there would cost more "
                         f"than {_START_SHARE:.0%} of the work budget")
        # refine the best invariant-based starts and the best of all, alternately: in
        # sharp chi2 landscapes a start's own chi2 says little about its basin
        guesses = sorted((e for e in screened if e[2]), key=lambda e: e[0])
        overall = sorted(screened, key=lambda e: e[0])
        chosen: list[dict] = []
        for pair in zip_longest(guesses, overall):
            for entry in pair:
                if entry is None or len(chosen) >= max(1, n_starts):
                    continue
                if all(_distance(setup, entry[1], c) > 0.1 for c in chosen):
                    chosen.append(entry[1])
        if not setup.shape:  # only linear parameters: the solve is exact
            chosen = chosen[:1]
        plan = [(start, False) for start in chosen]
        stages = _stages(work_problem.data, setup.n_free) if setup.shape else []
        if stages:
            # monodisperse form factors make chi2(size) rugged at high q: also refine the
            # two first starts by continuation in q (q window doubled at every stage)
            stage_problems = [_Problem(setup, evaluator(work_problem.data.subset(idx)), _Best())
                              for idx in stages]
            plan = [item for i, start in enumerate(chosen)
                    for item in ([(start, True), (start, False)] if i < 2 else [(start, False)])]
        # with a polydispersity to free at the end, keep work for that last stage
        pd_from = None if setup.pd is None else share(_PD_SHARE)
        at_noise = False
        for start, staged in plan:
            if pd_from is not None and n_lm > 0 and spent[0] > pd_from:
                notes.append(f"work budget: {n_lm} of {len(plan)} refinements run")
                break
            if staged:
                for stage_problem in stage_problems:  # intermediate: loose tolerance
                    start = _lm(stage_problem, start, max(10, max_steps // 2), tol=1e-5)[2]
            n_lm += 1
            err, finished, last = _lm(work_problem, start, max_steps)
            searched = _search_counts(work_problem, setup, last, max_steps)
            if searched is not None:
                n_lm += 1
                err, finished, last = searched
            if _collapsed(setup, last, work_problem.data):  # again from re-solved amplitudes
                restart, _ = work_problem.profile({k: last[k] for k in setup.shape})
                if restart is not None:
                    n_lm += 1
                    err, finished, last = _lm(work_problem, restart, max_steps)
            if (finished and work_problem.best.values is not None
                    and _same(work_problem.best.values, last)):
                stderr = err
            converged = converged or finished
            at_noise = converged and work_problem.best.chi2 < max(1, work_problem.data.n
                                                                  - setup.n_free)
            if at_noise:
                break  # at the noise level (chi2r < 1): more starts cannot do better
        if setup.pd is not None and not at_noise and work_problem.best.values is not None:
            n_lm += 1
            err, finished, last = _refine_pd(work_problem, setup, max_steps)
            if finished and _same(work_problem.best.values, last):
                stderr = err
    except _Stop as stop:
        stop_reason.append(stop.reason)
    except Exception as exc:  # noqa: BLE001 - a model/fit failure must not crash the run
        if best.values is None and (not used_subset or work_problem.best.values is None):
            return failed(model, f"{type(exc).__name__}: {exc}", seconds=time.time() - t0,
                          n_evaluations=spent[1])
        notes.append(f"refinement stopped by an error ({type(exc).__name__}: {exc})")

    if stop_reason and stop_reason[0] == "cancelled":
        return failed(model, "cancelled", seconds=time.time() - t0, n_evaluations=spent[1])
    cut = _CUT[stop_reason[0]] if stop_reason else ""

    # the winner, evaluated on every point (outside the budget: a few evaluations)
    candidates = [best.values] if best.values is not None else []
    if used_subset and work_problem.best.values is not None:
        candidates.append(work_problem.best.values)
    candidates = [_with_pd(setup, values) for values in candidates]
    setup = setup.with_pd()  # statistics count the polydispersity (freed or held at 0)
    final = None
    try:
        scorer = _Problem(setup, evaluator(data, lambda cost, expected: None), _Best())
        for values in candidates:
            theory = scorer.theory(values)
            r = (theory - data.I) / data.sigma
            if np.all(np.isfinite(r)):
                chi2 = float(r @ r)
                if final is None or chi2 < final[0]:
                    final = (chi2, values, theory)
        if final is not None and used_subset:
            # amplitudes re-solved on all points (cheap, linear)
            shape = {k: final[1][k] for k in setup.shape}
            values, chi2 = scorer.profile(shape)
            if values is not None and chi2 < final[0]:
                final = (chi2, values, scorer.theory(values))
    except Exception as exc:  # noqa: BLE001
        return failed(model, f"{type(exc).__name__}: {exc}", seconds=time.time() - t0)

    if final is None:
        reason = (f"{cut} reached before the first evaluation" if cut
                  else "the model gives NaN or infinite intensities for every start")
        return failed(model, reason, seconds=time.time() - t0, n_evaluations=spent[1], cut=cut)

    chi2, values, theory = final
    n, k = data.n, setup.n_free
    if cut:
        converged = False
        notes.append(f"stopped at the {cut}: the fit may not have converged")
    bounds = _at_bounds(setup, values)
    notes.extend(f"{name} at its {side} bound ({limit:.4g})" for name, side, limit in bounds)
    if setup.spec.notes:
        notes.append(setup.spec.notes)
    if data.sigma_estimated:
        notes.append(f"no dI: relative errors {data.relative_error:.3g} * I assumed")
    return CandidateFit(
        model=model, status="ok", chi2=chi2, chi2r=chi2 / max(1, n - k),
        aic=chi2 + 2 * k, bic=chi2 + k * math.log(n), n_points=n, n_free=k,
        parameters={name: float(values[name]) for name in setup.free_names()},
        uncertainties={name: v for name, v in stderr.items() if name in values},
        fixed={name: float(v) for name, v in setup.fixed.items()},
        q=data.q, I_fit=theory, n_starts=n_lm, n_screened=n_screened,
        n_evaluations=spent[1], seconds=time.time() - t0,
        cpu_seconds=time.process_time() - cpu0, converged=converged,
        notes=tuple(dict.fromkeys(notes)), at_bounds=tuple(name for name, _, _ in bounds),
        cut=cut,
    )


def _refine_pd(work: _Problem, setup: Setup, max_steps: int):
    """Last stage: LM from the best monodisperse point with the polydispersity width of
    the main size freed (same evaluator and best-point record); ``_lm``'s result."""
    pd_setup = setup.with_pd()
    problem = _Problem(pd_setup, work.ev, work.best)
    start = {**work.best.values, setup.pd: _PD_START}
    return _lm(problem, start, max_steps)


def _search_counts(work: _Problem, setup: Setup, point: dict, max_steps: int):
    """Integer search for the counts of a refined ``point``, then LM from the result.

    For each count: every integer of its range (a log-spaced pass can step over the
    right one and land in another basin), or, for ranges of :data:`_COUNT_SCAN` values
    and more, :data:`_COUNT_SEARCH` log-spaced integers then the integers (at most as
    many) between the best one's grid neighbours; each scored with the other parameters
    held and the amplitudes solved. If a count changed, LM
    from there; two rounds at most (the other parameters move with the count).
    ``_lm``'s result of the last round, or None when no count changed."""
    result = None
    for _ in range(2):
        shape = {k: point[k] for k in setup.shape}
        changed = False
        for name in _counts(setup):
            scores = {shape[name]: work.profile(shape)[1]}

            def score(values):
                for n in np.unique(np.round(values)):
                    if float(n) not in scores:
                        scores[float(n)] = work.profile({**shape, name: float(n)})[1]

            lo, hi = setup.shape[name]
            if hi - lo < _COUNT_SCAN:
                score(np.arange(lo, hi + 1))
            else:
                grid = np.geomspace(lo, hi, _COUNT_SEARCH)
                score(grid)
                best = min(scores, key=scores.get)
                below, above = grid[grid < best], grid[grid > best]
                score(np.geomspace(math.floor(below[-1]) if below.size else best,
                                   math.ceil(above[0]) if above.size else best, _COUNT_SEARCH))
            best = min(scores, key=scores.get)
            if best != shape[name]:
                shape[name], changed = best, True
        if not changed:
            break
        result = _lm(work, {**point, **shape}, max_steps)
        point = result[2]
    return result


def _with_pd(setup: Setup, values: dict) -> dict:
    """``values`` completed with a zero polydispersity when the fit never freed it."""
    return values if setup.pd is None or setup.pd in values else {**values, setup.pd: 0.0}


def _stages(data: FitData, n_free: int) -> list[np.ndarray]:
    """Index sets of growing leading parts of the curve for q-continuation.

    The first stage ends where I has fallen by a decade from its low-q value; every
    next stage doubles the q window. Stages with too few points or covering most of the
    curve are left out; empty when the curve never falls by a decade."""
    ref = float(np.median(data.I[:3]))
    below = np.nonzero(data.I < 0.1 * ref)[0]
    if below.size == 0:
        return []
    q_stage = float(data.q[below[0]])
    out = []
    while True:
        idx = np.nonzero(data.q <= q_stage)[0]
        if idx.size > 0.8 * data.n:
            break
        if idx.size >= max(8, n_free + 3):
            out.append(idx)
        q_stage *= 2.0
    return out


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9) for k in a)


def _at_bounds(setup: Setup, values: dict) -> list[tuple[str, str, float]]:
    """``(name, "lower" | "upper", bound)`` of every fitted shape parameter that ended
    within 0.1 % of its range from a bound (counts and a zero polydispersity excepted:
    a count's bound is a value like any other, a zero width means monodisperse)."""
    out = []
    for name, (lo, hi) in setup.shape.items():
        v = values.get(name)
        if v is None or setup.spec.free[name].is_count:
            continue
        span = math.log(hi / lo) if lo > 0 and setup.spec.free[name].draws_log() else None
        if span:
            at_lo, at_hi = math.log(v / lo) < 1e-3 * span, math.log(hi / v) < 1e-3 * span
        else:
            at_lo, at_hi = v - lo < 1e-3 * (hi - lo), hi - v < 1e-3 * (hi - lo)
        if at_lo and name != setup.pd:
            out.append((name, "lower", lo))
        elif at_hi:
            out.append((name, "upper", hi))
    return out


def start_values(model_name: str, q, I, dI=None, *, dQ=None, n_random: int = 16,  # noqa: E741
                 seed: int = 0) -> dict[str, float]:
    """Good starting parameters for one model and one curve, without fitting.

    Cleans the curve like the rest of the plugin, computes its invariants, screens the
    model's invariant-based starts plus ``n_random`` seeded random ones (one model
    evaluation each, amplitudes solved exactly) and returns the best: every varied
    parameter (shape parameters, ``scale`` or the model's own amplitudes,
    ``background``) plus the non-default fixed ones (e.g. ``scale = 1``). Deterministic
    for given inputs. Raises :class:`ValueError` for an unknown model and
    ``errors.DataError`` for unusable data.
    """
    from ..loading import RawCurve

    data, _ = prepare_data(RawCurve("data", np.asarray(q, float), np.asarray(I, float),
                                    None if dI is None else np.asarray(dI, float),
                                    None if dQ is None else np.asarray(dQ, float)))
    setup = setup_for(model_name, float(data.q[0]), float(data.q[-1]))
    best = _Best()
    evaluate = _Evaluator(kernel_model(model_name), data, lambda cost, expected: None,
                          EvalCost.of(model_name, setup))
    problem = _Problem(setup, evaluate, best)
    inv = curve_invariants(data.q, data.I, None if data.sigma_estimated else data.sigma)
    rng = np.random.default_rng(_seed(model_name, seed))
    starts = guessed_starts(setup, inv)
    if setup.shape:
        starts += [_draw(setup, rng) for _ in range(n_random)]
    for s in starts:
        problem.profile(s)
    values = best.values
    if values is None:
        values = {**{k: setup.defaults[k] for k in setup.shape}}
    out = {k: float(v) for k, v in setup.fixed.items()}
    out.update((k, float(v)) for k, v in values.items())
    return within_sld_limits(model_name, out)
