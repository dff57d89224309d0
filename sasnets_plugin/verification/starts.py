"""Where the Levenberg-Marquardt runs start: curve-based guesses, random draws, a dense
scan of the main size, integer searches over counts, q-continuation windows.

* **Guesses** (:func:`guessed_starts`): the model's guess rule applied to the curve
  invariants (:mod:`.invariants`), and the model defaults; **random** starts
  (:func:`draw`) are seeded and log-uniform for lengths, ratios and q positions.
* **Size scan** (:func:`scan_size`): the main size (:attr:`.parameters.Setup.main_size`)
  stepped through its whole range, the other shape parameters held, the linear amplitudes
  solved exactly at every point (variable projection, :meth:`.evaluation.Problem.profile`).
  A monodisperse form factor makes chi2(size) oscillate with a period of about
  ``2 pi / (q_eff size)`` in ``ln size``, where ``q_eff`` is the largest q whose
  oscillations the data still show (``q_max``, or less where the resolution smears them
  out, ``dQ size`` above :data:`SMEARED_OUT`, or the points sample them too sparsely);
  the scan steps :data:`SCAN_PER_PERIOD` times per period, so every basin is visited,
  then again finely around its best minima, which start LM runs.
* **Counts** (:func:`search_counts`): integers cannot be moved by least squares; each
  refinement holds its count, then an integer search follows.
* **q continuation** (:func:`q_stages`): leading parts of the curve, for starts refined
  window by window when no scan placed them.
"""
from __future__ import annotations

import math
import zlib
from typing import Mapping

import numpy as np

from .data import FitData
from .evaluation import Budget, Problem
from .invariants import Invariants
from .levenberg import lm
from .parameters import CONTRAST_STARTS, Setup

#: Counts with fewer values than this are scanned exhaustively by the count search
#: (:func:`search_counts`); wider ones get :data:`COUNT_SEARCH` integers per pass.
COUNT_SCAN = 128
#: Integers tried per pass of the count search over a wide range.
COUNT_SEARCH = 12
#: Steps of the size scan per period of chi2's oscillation in ln(size) (4 is the
#: least that cannot step over a basin; 6 leaves a margin for the smearing's shift).
SCAN_PER_PERIOD = 6
#: Largest and smallest step of the size scan in ln(size).
SCAN_MAX_STEP, SCAN_MIN_STEP = 0.05, 2e-4
#: ``dQ * size`` above which a Gaussian resolution leaves about 1 % of an oscillation of
#: period ``2 pi / size`` (exp(-3^2 / 2)): the scan ignores q beyond it.
SMEARED_OUT = 3.0
#: Share of a fit's work one scan point may cost at most: sizes where an adaptive
#: orientation quadrature grows to thousands of points are left out (as random starts are).
SCAN_POINT_SHARE = 0.005
#: Local minima of one scan kept as starts.
SCAN_MINIMA = 3


def seed_for(model: str, seed: int) -> int:
    return (zlib.crc32(model.encode()) ^ (seed * 0x9E3779B1)) & 0xFFFFFFFF


def ordered(setup: Setup, s: dict) -> dict:
    for a, b in setup.spec.order:
        if a in s and b in s and s[a] > s[b]:
            s[a], s[b] = s[b], s[a]
    return s


def choices(setup: Setup, name: str) -> list[float]:
    """The tried values of count ``name`` within its bounds."""
    lo, hi = setup.shape[name]
    return [c for c in setup.spec.free[name].choices if lo <= c <= hi] or [lo]


def draw(setup: Setup, rng: np.random.Generator) -> dict:
    s = {}
    for name, (lo, hi) in setup.shape.items():
        role = setup.spec.free[name]
        if role.is_count:
            s[name] = float(rng.choice(choices(setup, name)))
        elif role.draws_log() and lo > 0:
            s[name] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        else:
            s[name] = float(rng.uniform(lo, hi))
    return ordered(setup, s)


def guessed_starts(setup: Setup, inv: Invariants,
                   estimate: Mapping[str, float] | None = None) -> list[dict]:
    """The network's ``estimate`` (when given), invariant-based starts for ``setup``, then
    the defaults, each clipped into the bounds."""
    guesses = [dict(estimate)] if estimate else []
    guesses += list(setup.spec.guess(inv)) if setup.spec.guess else []
    guesses.append({})  # model defaults
    contrasts = [name for name in setup.shape if setup.spec.free[name].is_contrast]
    if contrasts:  # each geometry with each contrast ratio (all components alike)
        guesses = [{**g, **dict.fromkeys(contrasts, r)} for g in guesses for r in CONTRAST_STARTS]
    for name in setup.counts:  # ... and at each of the counts' choices
        guesses = [{**g, name: c} for g in guesses for c in choices(setup, name)]
    out = []
    for g in guesses:
        s = {}
        for name, (lo, hi) in setup.shape.items():
            v = g.get(name, setup.defaults.get(name, 0.5 * (lo + hi)))
            if not np.isfinite(v):
                v = 0.5 * (lo + hi)
            s[name] = float(np.clip(v, lo, hi))
        s = ordered(setup, s)
        if s not in out:
            out.append(s)
    return out


def distance(setup: Setup, a: dict, b: dict) -> float:
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


def search_counts(work: Problem, setup: Setup, point: dict, max_steps: int):
    """Integer search for the counts of a refined ``point``, then LM from the result.

    For each count: every integer of its range (a log-spaced pass can step over the
    right one and land in another basin), or, for ranges of :data:`COUNT_SCAN` values
    and more, :data:`COUNT_SEARCH` log-spaced integers then the integers (at most as
    many) between the best one's grid neighbours; each scored with the other parameters
    held and the amplitudes solved. If a count changed, LM
    from there; two rounds at most (the other parameters move with the count).
    ``lm``'s result of the last round, or None when no count changed."""
    result = None
    for _ in range(2):
        shape = {k: point[k] for k in setup.shape}
        changed = False
        for name in setup.counts:
            scores = {shape[name]: work.profile(shape)[1]}

            def score(values):
                for n in np.unique(np.round(values)):
                    if float(n) not in scores:
                        scores[float(n)] = work.profile({**shape, name: float(n)})[1]

            lo, hi = setup.shape[name]
            if hi - lo < COUNT_SCAN:
                score(np.arange(lo, hi + 1))
            else:
                grid = np.geomspace(lo, hi, COUNT_SEARCH)
                score(grid)
                best = min(scores, key=scores.get)
                below, above = grid[grid < best], grid[grid > best]
                score(np.geomspace(math.floor(below[-1]) if below.size else best,
                                   math.ceil(above[0]) if above.size else best, COUNT_SEARCH))
            best = min(scores, key=scores.get)
            if best != shape[name]:
                shape[name], changed = best, True
        if not changed:
            break
        result = lm(work, {**point, **shape}, max_steps)
        point = result[2]
    return result


def q_stages(data: FitData, n_free: int) -> list[np.ndarray]:
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


def relative_resolution(data: FitData) -> float:
    """Median dQ/q of pinhole data (0 otherwise: slits smear oscillations along the slit
    only, so the scan treats them as unsmeared, the safe side)."""
    return float(np.median(data.dQ / data.q)) if data.resolution == "pinhole" else 0.0


def scan_grid(lo: float, hi: float, q_max: float, rel_dq: float,
              log_spacing: float = 0.0) -> np.ndarray:
    """Sizes from ``lo`` to ``hi`` stepped :data:`SCAN_PER_PERIOD` times per oscillation
    period of chi2 in ln(size) as the data show it, within the step limits: oscillations
    beyond ``dQ size`` = :data:`SMEARED_OUT` are smeared out (``rel_dq`` > 0), and those
    faster than two points per period at the data's median step in ln q
    (``log_spacing`` > 0) are aliased into ripples that :func:`scan_size`'s second pass
    resolves."""
    out, size = [lo], lo
    while size < hi:
        q_eff = q_max
        if rel_dq > 0:
            q_eff = min(q_eff, SMEARED_OUT / (rel_dq * size))
        if log_spacing > 0:
            q_eff = min(q_eff, math.pi / (log_spacing * size))
        step = 2.0 * math.pi / (q_eff * size) / SCAN_PER_PERIOD
        size *= math.exp(min(max(step, SCAN_MIN_STEP), SCAN_MAX_STEP))
        out.append(min(size, hi))
    return np.asarray(out)


def scan_size(problem: Problem, base: dict, budget: Budget, until: float,
              name: str | None = None) -> list[tuple]:
    """Scan the main size (or the length ``name``) from shape ``base`` (the rest held),
    amplitudes solved at every point, using work up to ``until``: ``(chi2, values)`` of
    its best local minima (at most :data:`SCAN_MINIMA`), best first.

    Two passes: the whole range on the grid the smeared oscillations need, then around
    each of its best minima (to the neighbouring points) on the grid of the unsmeared
    ones: sasmodels' pinhole smearing evaluates the theory at the data's own q, so on
    coarse data the oscillations beyond the resolution's reach are aliased rather than
    averaged out, and leave ripples of period ``2 pi / (q_max size)`` in chi2.
    A grid dearer than the work left allows is thinned evenly."""
    setup, data = problem.setup, problem.data
    name = name or setup.main_size
    if name is None:
        return []
    lo, hi = setup.shape[name]
    q_max = float(data.q[-1])
    spacing = float(np.median(np.diff(np.log(data.q)))) if data.n > 1 else 0.0
    coarse = _scan(problem, base, name,
                   scan_grid(lo, hi, q_max, relative_resolution(data), spacing),
                   budget, budget.spent + 0.6 * (until - budget.spent))
    found = []
    for i in _minima(coarse)[:SCAN_MINIMA]:
        left = coarse[max(i - 1, 0)][0]
        right = coarse[min(i + 1, len(coarse) - 1)][0]
        fine = _scan(problem, base, name, scan_grid(left, right, q_max, 0.0), budget,
                     until)
        found += [fine[j][1:] for j in _minima(fine)[:1]] or [coarse[i][1:]]
    return sorted(found, key=lambda e: e[0])


def _scan(problem: Problem, base: dict, name: str, grid: np.ndarray, budget: Budget,
          until: float) -> list[tuple[float, float, dict]]:
    """``(size, chi2, values)`` along ``grid`` while the work lasts (thinned to fit),
    leaving out points dearer than :data:`SCAN_POINT_SHARE` of the fit's work."""
    setup = problem.setup
    costs = np.array([problem.profile_cost({**base, name: float(s)}) for s in grid])
    affordable = costs <= SCAN_POINT_SHARE * budget.work  # not giant adaptive quadratures
    grid, cost = grid[affordable], float(costs[affordable].sum())
    allowed = until - budget.spent
    if allowed <= 0:
        return []
    if cost > allowed:
        grid = grid[::int(math.ceil(cost / allowed))]
    out = []
    for size in grid:
        if budget.spent > until:
            break
        values, chi2 = problem.profile(ordered(setup, {**base, name: float(size)}))
        if values is not None and np.isfinite(chi2):
            out.append((float(size), chi2, values))
    return out


def _minima(scan: list[tuple]) -> list[int]:
    """Indices of the local minima of chi2 along a scan, best first."""
    chi2 = [c for _, c, _ in scan]
    idx = [i for i in range(len(chi2))
           if chi2[i] <= chi2[max(i - 1, 0)] and chi2[i] <= chi2[min(i + 1, len(chi2) - 1)]]
    return sorted(idx, key=lambda i: chi2[i])
