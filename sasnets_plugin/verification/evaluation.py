"""Model evaluations on one curve, as SasView smears them, counted against a work budget.

Resolution (:func:`resolution_for`): exactly what SasView's Fitting perspective builds for
1D data (``sas.sascalc.fit.qsmearing.smear_selection``): sasmodels ``Pinhole1D(q, dQ)``
(dQ = Gaussian 1-sigma) on its default theory grid when some dQ > 0, else
``Slit1D(q, slit length, slit width)`` when slit sizes are given, else none. The chi2 of
a fit is then the one SasView computes after the hand-off for the same parameters and
weights (``tests/test_fit_evaluation.py`` checks it against sasmodels' ``DirectModel``
on the file as sasdata loads it).

Budget: **work**, not time, so that a busy machine gives the same answer, later. Every
model evaluation costs a fixed estimate (:class:`EvalCost`): :data:`EVAL_OVERHEAD_US`,
plus for smeared data the resolution product (:data:`RESOLUTION_NS_PER_ENTRY` times theory
points times data points), plus the model's kernel cost per theory point (:mod:`.costs`,
measured once offline) times the theory points times the polydispersity points, times
the growth of sasmodels' adaptive orientation quadrature with q·size for the models that
use it (:func:`quadrature_growth`). A :class:`Budget` holds what a fit may spend and has
spent; nothing measured at run time enters a decision, so a fit is a pure function of
(model, data, settings, seed). The wall clock only enters as a safety cap (``deadline``,
far above the work budget): an evaluation is refused when the previous one's duration
says it would end past the cap (a running kernel cannot be interrupted).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..models import get as model_spec
from ..models import model_info
from .costs import KERNEL_US
from .data import FitData
from .parameters import PD_N, Setup

#: Fixed cost counted for every evaluation besides the kernel (Python, resolution, LM,
#: the linear solves): measured 150-450 us of CPU per evaluation of the fastest models
#: on the sasdata examples.
EVAL_OVERHEAD_US = 200.0
#: Cost of the resolution product per entry of its weight matrix (theory points x data
#: points), counted on top of EVAL_OVERHEAD_US for smeared data: 0.19-0.33 ns measured
#: with one BLAS thread for 100-1000 point curves (0.3 ms for a 500-point curve).
RESOLUTION_NS_PER_ENTRY = 0.35
#: sasmodels' adaptive orientation quadrature (``gauss_weights`` in its
#: ``models/lib/adaptive.c``): at a q point where ``q * size`` is below a threshold, the
#: number of points is the one beside it (above the last: ``QUADRATURE_MAX``).
QUADRATURE_STEPS = ((10.0, 20), (100.0, 76), (750.0, 500))
QUADRATURE_MAX = 5000
#: Quadrature points :mod:`.costs` is relative to.
QUADRATURE_REF = 76


class Stop(Exception):
    """Raised inside an evaluation to stop the current fit: ``reason`` is a key of
    :data:`.fit_result.CUT`, or ``"cancelled"``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Budget:
    """What one fit may spend (estimated microseconds, evaluations) and has spent, with
    the cancellation and wall-clock checks run before every evaluation."""

    def __init__(self, work: float = math.inf, max_evaluations: float = math.inf,
                 deadline: float | None = None, abort: Callable[[], bool] | None = None):
        self.work = work
        self.max_evaluations = max_evaluations
        self.deadline = deadline
        self.abort = abort
        self.spent = 0.0
        self.evaluations = 0

    def charge(self, cost_us: float, expected_seconds: float) -> None:
        """Count one evaluation of estimated ``cost_us``, or raise :class:`Stop`."""
        if self.abort is not None and self.abort():
            raise Stop("cancelled")
        if self.deadline is not None and time.time() + expected_seconds > self.deadline:
            raise Stop("time")
        if self.spent + cost_us > self.work:
            raise Stop("work")
        if self.evaluations >= self.max_evaluations:
            raise Stop("evaluations")
        self.spent += cost_us
        self.evaluations += 1

    def mark(self, fraction: float) -> float:
        """The work spent once ``fraction`` of what is left now is used."""
        return self.spent + fraction * max(0.0, self.work - self.spent)

    def left(self) -> float:
        return max(0.0, self.work - self.spent)


def resolution_for(data: FitData):
    """The sasmodels resolution SasView's Fitting builds for ``data`` (module docstring)."""
    from sasmodels.resolution import Perfect1D, Pinhole1D, Slit1D

    if data.resolution == "pinhole":
        return Pinhole1D(data.q, data.dQ)
    if data.resolution == "slit":
        zeros = np.zeros_like(data.q)
        return Slit1D(data.q,
                      q_length=zeros if data.slit_length is None else data.slit_length,
                      q_width=zeros if data.slit_width is None else data.slit_width)
    return Perfect1D(data.q)


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


class Evaluator:
    """Theory on one data set (SasView's resolution included), charged to a budget.

    Before every evaluation the budget is charged its estimated cost and told the
    duration of the previous evaluation (costs of some models depend strongly on the
    parameters, and nearby points cost about the same), so that it can refuse one that
    would end past the wall-clock safety cap. ``budget`` None: free (final statistics)."""

    def __init__(self, model, data: FitData, budget: Budget | None, cost: EvalCost):
        from sasmodels.direct_model import DirectModel

        self.data = data
        self._calc = DirectModel(data.sasmodels_data(), model)
        resolution = resolution_for(data)
        self._calc.resolution = resolution  # the kernel is built lazily from its grid
        self._cost = cost
        self.q_calc = np.sort(np.asarray(resolution.q_calc, float))
        smeared = data.resolution != "none"
        self._smearing_us = 1e-3 * RESOLUTION_NS_PER_ENTRY * self.q_calc.size * data.n \
            if smeared else 0.0
        self._budget = budget
        self.last_seconds = 0.0

    def cost(self, values: dict) -> float:
        """Estimated cost of one evaluation at ``values`` (:class:`EvalCost`, plus the
        resolution product for smeared data)."""
        return self._cost(values, self.q_calc) + self._smearing_us

    def __call__(self, values: dict) -> np.ndarray:
        if self._budget is not None:
            self._budget.charge(self.cost(values), self.last_seconds)
        t = time.perf_counter()
        out = np.asarray(self._calc(**values), dtype=float)
        self.last_seconds = time.perf_counter() - t
        return out


def solve_linear(columns, data: FitData, signed: bool):
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


class Best:
    """Best finite point seen by any evaluation (scan, screening or LM)."""

    def __init__(self):
        self.chi2 = math.inf
        self.values: dict | None = None

    def offer(self, chi2: float, values: dict) -> None:
        if chi2 < self.chi2:
            self.chi2, self.values = chi2, dict(values)


class Problem:
    """Model + data + setup: the theory at a point, and *variable projection*: the chi2
    of a trial shape at its exactly solved linear amplitudes (:meth:`profile`)."""

    def __init__(self, setup: Setup, evaluate: Evaluator, best: Best):
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
        coef, chi2 = solve_linear(self.columns(shape), self.data, self.setup.spec.signed)
        if coef is None:
            return None, math.inf
        values = dict(shape)
        values.update(zip(self.setup.amplitudes, map(float, coef)))
        if self.setup.spec.background:
            values["background"] = float(coef[-1])
        self.best.offer(chi2, values)
        return values, chi2

    def profile_cost(self, shape: dict) -> float:
        """Estimated work of one :meth:`profile` at ``shape``."""
        return self.ev.cost({**self.base, **shape}) * max(1, len(self.setup.amplitudes))

    def theory(self, values: dict) -> np.ndarray:
        return self.ev({**self.base, **values})
