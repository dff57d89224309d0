"""Fit one sasmodels model to one curve: the optimum a careful person would find.

Procedure for one model (:func:`fit_model`):

1. **Setup** (:mod:`.parameters`): which shape parameters are free and their bounds
   for this q window; other SLDs, orientations and all polydispersities but the main
   size's (step 6) stay fixed.
2. **Screening** (:mod:`.starts`): the model's guesses from the curve invariants, its
   defaults and :data:`DEFAULT_RANDOM_STARTS` seeded random draws, each evaluated once with
   the linear amplitudes (``scale`` or the model's own, and ``background``) solved exactly
   (variable projection); at most :data:`SCREEN_SHARE` of the work.
3. **Dense size scan** (single models, :func:`.starts.scan_size`): the main size
   through its whole range from the best start and the best guess, monodisperse and at
   a polydispersity of :data:`PD_START`, amplitudes solved at every point, the steps
   finer than chi2's oscillation (:data:`SCAN_SHARE`).
4. **Products in stages** instead (:mod:`.product_stages`): the form alone where
   S(q) ≈ 1 (a whole fit, its size scanned, on :data:`FORM_SHARE` of the work), then the
   structure factor from the correlation peak with the form held, also around the best
   screened product (:data:`STRUCTURE_SHARE`).
5. **Refinement** (:mod:`.levenberg`): Levenberg-Marquardt of all free parameters
   together from ``n_starts`` distinct starts: the scan's or the stages' best first,
   then alternately the best guesses and the best of all. The first two starts, when no
   scan or stage placed them, are first refined by continuation in q
   (:func:`.starts.q_stages`; after a scan it moved a 14-layer stack's starts away from
   the optimum). After each run an
   integer search over counts (:func:`.starts.search_counts`). It stops once a fit
   reaches the noise level (chi2r < 1). The best point ever evaluated is kept, so a fit
   stopped by its budget still yields the best point found (``converged=False``).
6. **Polydispersity** (models with a polydisperse main size): the refinements above hold
   the width (at 0, or at the scan start's) and stop at :data:`PD_SHARE` of the work left; a last LM run from the
   best point also varies the main size's gaussian relative width when the
   monodisperse fit is not at the noise level (the data need it). The width counts as a
   free parameter in ``k`` whether or not this stage ran.
7. **Statistics** on all points: ``chi2 = sum(((I_fit - I) / sigma)^2)``,
   ``chi2r = chi2 / (n - k)``, ``AIC = chi2 + 2k``, ``BIC = chi2 + k ln n`` where ``k``
   counts the parameters varied. The constant ``sum(ln 2 pi sigma^2)`` is left out:
   AIC/BIC compare models fitted to the same data only.

Smearing and chi2 are SasView's (:mod:`.evaluation`). Weighting: the file's dI when every
point has one (raised to the models' precision, :data:`.data.MODEL_PRECISION`),
otherwise ``sigma = f * I`` with one relative error estimated from the curve's scatter
(:mod:`.data`); results then carry a note saying so.

Budget: **work** (:class:`.evaluation.Budget`), not time: a fit may spend ``work``
(default :data:`DEFAULT_WORK`) estimated microseconds, and every share above is a share
of it, so a fit is a pure function of (model, data, settings, seed) below the wall-clock
safety cap (``deadline``; a fit stopped by it is flagged ``cut = "safety cap"``). LM runs
are also bounded by ``max_steps`` iterations each. Slow models (an evaluation estimated
above :data:`SLOW_EVAL_US`) are screened, scanned and refined on an evenly spaced subset
of :data:`SUBSET_POINTS` points; the final statistics always use every point.
"""
from __future__ import annotations

import math
import time
from itertools import zip_longest
from typing import Callable, Mapping

import numpy as np

from ..kernels import kernel_model
from .data import FitData
from .evaluation import Best, Budget, EvalCost, Evaluator, Problem, Stop
from .fit_result import CUT, NOISE_CHI2R, CandidateFit, failed
from .invariants import Invariants, curve_invariants
from .levenberg import collapsed, lm
from .parameters import Setup, setup_for
from .product_stages import form_of, form_part, structure_grid
from .starts import (
    distance,
    draw,
    guessed_starts,
    q_stages,
    scan_size,
    search_counts,
    seed_for,
)

#: Seeded random starts screened per model (besides the invariant-based ones).
DEFAULT_RANDOM_STARTS = 48
#: Work budget of one candidate fit (estimated microseconds, see :mod:`.evaluation`):
#: about 1-3 s of one core for the slow models that use all of it, far less for fast
#: ones, which converge first. Sets the time per file (README: benchmarks).
DEFAULT_WORK = 1.5e6
#: Shares of the work left when each stage starts (module docstring): screening, the
#: form of a product, the structure-factor grid, the size scan; and that one random
#: start's evaluation may cost (a random start at a huge size would make an
#: adaptive-quadrature model's evaluation thousands of times dearer: such starts are
#: left out; the starts read off the curve are always tried).
SCREEN_SHARE = 0.2
FORM_SHARE = 0.2
STRUCTURE_SHARE = 0.1
SCAN_SHARE = 0.3
#: Share of the work left after the main-size scans for scanning each other length
#: (a cylinder's length, a shell's thickness) from the best point found: a second
#: length has its own oscillating chi2, and LM from the wrong basin stays there
#: (cyl_400_40: length 207 Å, chi2r 14, where the file has 400 Å).
LENGTH_SCAN_SHARE = 0.25
#: Roles of the lengths scanned after the main size.
SCANNED_ROLES = ("size", "long")
START_SHARE = 0.05
#: Share of the work left before the refinements for the monodisperse refinements when
#: a polydispersity stage follows (:func:`_refine_pd`).
PD_SHARE = 0.6
#: Start value of the relative polydispersity width in that stage.
PD_START = 0.1
#: Above this estimated cost of one evaluation (microseconds), screening and refinement
#: use a subset of :data:`SUBSET_POINTS` points (so that slow models get enough
#: evaluations from their work budget to converge).
SLOW_EVAL_US = 10000.0
SUBSET_POINTS = 60


def fit_model(model: str, data: FitData, *, n_starts: int = 6, n_random: int | None = None,
              work: float = DEFAULT_WORK, deadline: float | None = None,
              abort: Callable[[], bool] | None = None, max_steps: int = 100,
              max_evaluations: int = 10000, seed: int = 0,
              invariants: Invariants | None = None,
              estimate: Mapping[str, float] | None = None) -> CandidateFit:
    """Fit ``model`` to ``data``; never raises for model or fit problems.

    ``work``: the budget in estimated kernel microseconds (module docstring); the fit
    stops when its next evaluation would exceed it and reports the best point found so
    far (``converged=False``, ``cut="work budget"``). ``deadline``: a ``time.time()``
    instant, the wall-clock safety cap (``cut="safety cap"``). ``abort()`` returning
    true stops it too, but the result has status ``"fit failed: cancelled"``.
    ``n_random`` seeded random starts are screened besides the invariant-based ones
    (default :data:`DEFAULT_RANDOM_STARTS`). LM runs from ``n_starts`` distinct starts
    (module docstring). ``estimate``: the network's estimate of the parameters
    (:meth:`sasnets_plugin.suggestion.Ranking.estimate`), screened as the first start.
    Below the safety cap the result depends on the arguments only.
    """
    budget = Budget(work, max_evaluations, deadline, abort)
    inv = invariants or curve_invariants(data.q, data.I,
                                         None if data.sigma_estimated else data.sigma)
    return _fit(model, data, budget, inv, n_starts=n_starts,
                n_random=DEFAULT_RANDOM_STARTS if n_random is None else n_random,
                max_steps=max_steps, seed=seed, estimate=estimate)


def _fit(model: str, data: FitData, budget: Budget, inv: Invariants, *, n_starts: int,
         n_random: int, max_steps: int, seed: int,
         estimate: Mapping[str, float] | None = None) -> CandidateFit:
    """:func:`fit_model` charging ``budget`` (shared with the stages of a product)."""
    t0, cpu0 = time.time(), time.process_time()
    try:
        setup = setup_for(model, float(data.q[0]), float(data.q[-1]))
        km = kernel_model(model)
        cost = EvalCost.of(model, setup)
    except ValueError as exc:
        return failed(model, str(exc), seconds=time.time() - t0)
    except Exception as exc:  # noqa: BLE001 - compilation errors etc.
        return failed(model, f"could not load the model ({type(exc).__name__}: {exc})",
                      seconds=time.time() - t0)
    run = _Run(model, setup, km, cost, data, budget, inv, max_steps, estimate or {})
    stop = None
    try:
        run.search(n_starts, n_random, seed)
    except Stop as exc:
        stop = exc.reason
    except Exception as exc:  # noqa: BLE001 - a model/fit failure must not crash the run
        if run.full.best.values is None and run.work.best.values is None:
            return failed(model, f"{type(exc).__name__}: {exc}", seconds=time.time() - t0,
                          n_evaluations=budget.evaluations)
        run.notes.append(f"refinement stopped by an error ({type(exc).__name__}: {exc})")
    if stop == "cancelled":
        return failed(model, "cancelled", seconds=time.time() - t0,
                      n_evaluations=budget.evaluations)
    return run.result(CUT[stop] if stop else "", t0, cpu0)


class _Run:
    """One fit in progress: its problems on all points and on the working subset, what
    was tried, and the refinements' outcome."""

    def __init__(self, model: str, setup: Setup, km, cost: EvalCost, data: FitData,
                 budget: Budget, inv: Invariants, max_steps: int,
                 estimate: Mapping[str, float]):
        self.model, self.setup, self.km, self.cost = model, setup, km, cost
        self.data, self.budget, self.inv, self.max_steps = data, budget, inv, max_steps
        self.estimate = estimate
        self.notes: list[str] = list(data.notes)
        self.full = Problem(setup, Evaluator(km, data, budget, cost), Best())
        self.work = self.full
        self.n_screened = self.n_lm = 0
        self.converged = False
        self.stderr: dict = {}

    def problem_on(self, data: FitData) -> Problem:
        """This model on ``data`` (a part of the curve), charged to the same budget."""
        return Problem(self.setup, Evaluator(self.km, data, self.budget, self.cost), Best())

    # --- the search ----------------------------------------------------------------------
    def search(self, n_starts: int, n_random: int, seed: int) -> None:
        setup, data = self.setup, self.data
        if self.full.ev.cost({**setup.defaults, **setup.fixed}) > SLOW_EVAL_US \
                and data.n > SUBSET_POINTS:
            idx = np.unique(np.round(np.linspace(0, data.n - 1, SUBSET_POINTS)).astype(int))
            self.work = self.problem_on(data.subset(idx))
            self.notes.append(f"slow model: screened and refined on {idx.size} of {data.n} "
                              "points")
        screened = self.screen(n_random, seed)
        # a product's form was fitted (its size scanned) alone: its starts are placed
        placed = self.product_stages(screened) if form_of(self.model) else self.scan(screened)
        chosen = self.choose(placed, screened, n_starts)
        at_noise = self.refine(chosen, {id(v) for _, v in placed})
        if setup.pd is not None and not at_noise and self.work.best.values is not None:
            self.n_lm += 1
            err, finished, last = _refine_pd(self.work, setup, self.max_steps)
            if finished and _same(self.work.best.values, last):
                self.stderr = err

    def screen(self, n_random: int, seed: int) -> list[tuple[float, dict, bool]]:
        """``(chi2, values, is_guess)`` of every start screened (amplitudes solved)."""
        setup, budget = self.setup, self.budget
        starts = guessed_starts(setup, self.inv, self.estimate)
        n_guessed = len(starts)
        if setup.shape:
            rng = np.random.default_rng(seed_for(self.model, seed))
            starts += [draw(setup, rng) for _ in range(n_random)]
        until = budget.mark(SCREEN_SHARE)
        screened, too_costly = [], 0
        for i, s in enumerate(starts):
            if budget.spent > until and screened:
                self.notes.append(f"work budget: {i} of {len(starts)} starts screened")
                break
            if i >= n_guessed and self.work.profile_cost(s) > START_SHARE * budget.work:
                too_costly += 1
                continue
            values, chi2 = self.work.profile(s)
            self.n_screened += 1
            if values is not None and np.isfinite(chi2):
                screened.append((chi2, values, i < n_guessed))
        if too_costly:
            self.notes.append(f"{too_costly} starts left out: one evaluation there would cost "
                              f"more than {START_SHARE:.0%} of the work budget")
        return screened

    def product_stages(self, screened: list[tuple]) -> list[tuple[float, dict]]:
        """The form fitted alone where S(q) ≈ 1, then the structure-factor grid with the
        form held (:mod:`.product_stages`), interleaved with the same grid around the
        best screened product (beyond a form's last feature its size is unconstrained,
        e.g. a coil's Rg in the q^-2 tail): the best distinct product starts."""
        form, budget = form_of(self.model), self.budget
        part = self.data.subset(form_part(self.data, self.inv))
        stage = Budget(budget.mark(FORM_SHARE) - budget.spent, budget.max_evaluations,
                       budget.deadline, budget.abort)
        form_inv = curve_invariants(part.q, part.I, None if part.sigma_estimated else part.sigma)
        form_fit = _fit(form, part, stage, form_inv, n_starts=2, n_random=8,
                        max_steps=self.max_steps, seed=0, estimate=self.estimate)
        budget.spent += stage.spent
        budget.evaluations += stage.evaluations
        bases = [min(screened, key=lambda e: e[0])[1]] if screened else []
        if form_fit.ok:
            bases.insert(0, form_fit.parameters)
            self.notes.append(f"form {form} fitted alone on {part.n} points first "
                              f"(chi2r {form_fit.chi2r:.3g})")
        else:
            self.notes.append(f"product stages: the form alone failed ({form_fit.status})")
        grids = [structure_grid(self.setup, base, self.inv) for base in bases]
        until = budget.mark(STRUCTURE_SHARE)
        scored = []
        for shape in (s for row in zip_longest(*grids) for s in row if s is not None):
            if budget.spent > until:
                break
            values, chi2 = self.work.profile(shape)
            if values is not None and np.isfinite(chi2):
                scored.append((chi2, values))
        return _distinct(self.setup, sorted(scored, key=lambda e: e[0]), 2)

    def scan(self, starts: list[tuple]) -> list[tuple[float, dict]]:
        """Dense scans of the main size from the best start and the best guess, and from
        the best start with a polydisperse main size (:data:`PD_START`; a monodisperse
        scan's basins can lie far from a polydisperse curve's, whose oscillations are
        damped; skipped when a monodisperse minimum already fits within the noise); the
        width is held in the refinements until its own stage frees it."""
        if self.setup.main_size is None or not starts:
            return []
        bases = [min(starts, key=lambda e: e[0])]
        guesses = [e for e in starts if e[2]]
        if guesses:
            bases.append(min(guesses, key=lambda e: e[0]))
        shapes = []
        for _, values, _ in bases:
            shape = {k: values[k] for k in self.setup.shape}
            if shape not in shapes:
                shapes.append(shape)
        if self.setup.pd is not None:  # and polydisperse, should the data need it
            shapes.append({**shapes[0], self.setup.pd: PD_START})
        until = self.budget.mark(SCAN_SHARE)
        within_noise = NOISE_CHI2R * max(1, self.work.data.n - self.setup.n_free)
        found = []
        for i, shape in enumerate(shapes):
            if self.setup.pd in shape and found and found[0][0] <= within_noise:
                break  # a monodisperse size fits within the noise: the data need no width
            share_until = self.budget.spent + (until - self.budget.spent) / (len(shapes) - i)
            found = sorted(found + scan_size(self.work, shape, self.budget, share_until),
                           key=lambda e: e[0])
        return self.scan_lengths(found, within_noise)

    def scan_lengths(self, found: list[tuple], within_noise: float) -> list[tuple]:
        """Each other length scanned from the best point of the main-size scans (the
        rest held; :data:`LENGTH_SCAN_SHARE`): the best minimum that beats that point
        goes first, the main scans' other minima keep their places (more would crowd
        out the starts from other basins)."""
        setup = self.setup
        others = [name for name in setup.shape if name != setup.main_size
                  and setup.spec.free[name].role in SCANNED_ROLES]
        if not found or not others or found[0][0] <= within_noise:
            return found
        base = {k: found[0][1][k] for k in setup.shape}
        until = self.budget.mark(LENGTH_SCAN_SHARE)
        scanned = []
        for i, name in enumerate(others):
            share_until = self.budget.spent + (until - self.budget.spent) / (len(others) - i)
            scanned += scan_size(self.work, base, self.budget, share_until, name)
        better = min(scanned, key=lambda e: e[0], default=None)
        if better is None or not better[0] < found[0][0]:
            return found
        return [better, *found]

    def choose(self, placed: list[tuple], screened: list[tuple], n_starts: int) -> list[dict]:
        """LM starts: the scan's and staged best first, then alternately the best
        invariant-based starts and the best of all (in sharp chi2 landscapes a start's
        own chi2 says little about its basin)."""
        n = max(1, n_starts)
        chosen = [v for _, v in placed[:max(1, n // 2)]]
        guesses = sorted((e for e in screened if e[2]), key=lambda e: e[0])
        overall = sorted(screened, key=lambda e: e[0])
        for pair in zip_longest(guesses, overall):
            for entry in pair:
                if entry is None or len(chosen) >= n:
                    continue
                if all(distance(self.setup, entry[1], c) > 0.1 for c in chosen):
                    chosen.append(entry[1])
        return chosen if self.setup.shape else chosen[:1]  # linear only: the solve is exact

    def refine(self, chosen: list[dict], placed: set[int]) -> bool:
        """LM from every chosen start (module docstring); True once at the noise level."""
        setup, work = self.setup, self.work
        stages = [] if not setup.shape else q_stages(work.data, setup.n_free)
        stage_problems = [self.problem_on(work.data.subset(idx)) for idx in stages]
        pd_from = None if setup.pd is None else self.budget.mark(PD_SHARE)
        for k, start in enumerate(chosen):
            if pd_from is not None and self.n_lm > 0 and self.budget.spent > pd_from:
                self.notes.append(f"work budget: {self.n_lm} of {len(chosen)} refinements run")
                break
            if k < 2 and id(start) not in placed:  # continuation in q, loose tolerance
                for stage_problem in stage_problems:
                    start = lm(stage_problem, start, max(10, self.max_steps // 2), tol=1e-5)[2]
            self.n_lm += 1
            err, finished, last = lm(work, start, self.max_steps)
            searched = search_counts(work, setup, last, self.max_steps)
            if searched is not None:
                self.n_lm += 1
                err, finished, last = searched
            if collapsed(setup, last, work.data):  # again from re-solved amplitudes
                restart, _ = work.profile({k: last[k] for k in setup.shape})
                if restart is not None:
                    self.n_lm += 1
                    err, finished, last = lm(work, restart, self.max_steps)
            if finished and work.best.values is not None and _same(work.best.values, last):
                self.stderr = err
            self.converged = self.converged or finished
            if self.converged and work.best.chi2 < max(1, work.data.n - setup.n_free):
                return True  # at the noise level (chi2r < 1): more starts cannot do better
        return False

    # --- the result ----------------------------------------------------------------------
    def result(self, cut: str, t0: float, cpu0: float) -> CandidateFit:
        """The winner, scored on every point (outside the budget: a few evaluations)."""
        data, model, notes = self.data, self.model, self.notes
        found = [p.best.values for p in {id(p): p for p in (self.full, self.work)}.values()
                 if p.best.values is not None]
        candidates = [_with_pd(self.setup, values) for values in found]
        setup = self.setup.with_pd()  # statistics count the polydispersity (freed or 0)
        final = None
        try:
            scorer = Problem(setup, Evaluator(self.km, data, None, self.cost), Best())
            for values in candidates:
                theory = scorer.theory(values)
                r = (theory - data.I) / data.sigma
                if np.all(np.isfinite(r)):
                    chi2 = float(r @ r)
                    if final is None or chi2 < final[0]:
                        final = (chi2, values, theory)
            if final is not None and self.work is not self.full:
                # amplitudes re-solved on all points (cheap, linear)
                values, chi2 = scorer.profile({k: final[1][k] for k in setup.shape})
                if values is not None and chi2 < final[0]:
                    final = (chi2, values, scorer.theory(values))
        except Exception as exc:  # noqa: BLE001
            return failed(model, f"{type(exc).__name__}: {exc}", seconds=time.time() - t0)
        if final is None:
            reason = (f"{cut} reached before the first evaluation" if cut
                      else "the model gives NaN or infinite intensities for every start")
            return failed(model, reason, seconds=time.time() - t0,
                          n_evaluations=self.budget.evaluations, cut=cut)
        chi2, values, theory = final
        n, k = data.n, setup.n_free
        converged = self.converged and not cut
        if cut:
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
            uncertainties={name: v for name, v in self.stderr.items() if name in values},
            fixed={name: float(v) for name, v in setup.fixed.items()},
            q=data.q, I_fit=theory, n_starts=self.n_lm, n_screened=self.n_screened,
            n_evaluations=self.budget.evaluations, seconds=time.time() - t0,
            cpu_seconds=time.process_time() - cpu0, converged=converged,
            notes=tuple(dict.fromkeys(notes)), at_bounds=tuple(name for name, _, _ in bounds),
            cut=cut,
        )


def _distinct(setup: Setup, entries: list[tuple], n: int) -> list[tuple]:
    """The first ``n`` of ``entries`` (``(chi2, values)``, best first) that differ."""
    out = []
    for entry in entries:
        if len(out) < n and all(distance(setup, entry[1], o[1]) > 0.05 for o in out):
            out.append(entry)
    return out


def _refine_pd(work: Problem, setup: Setup, max_steps: int):
    """Last stage: LM from the best monodisperse point with the polydispersity width of
    the main size freed (same evaluator and best-point record); ``lm``'s result."""
    problem = Problem(setup.with_pd(), work.ev, work.best)
    start = work.best.values
    return lm(problem, {**start, setup.pd: start.get(setup.pd) or PD_START}, max_steps)


def _with_pd(setup: Setup, values: dict) -> dict:
    """``values`` completed with a zero polydispersity when the fit never freed it."""
    return values if setup.pd is None or setup.pd in values else {**values, setup.pd: 0.0}


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
