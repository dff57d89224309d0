"""Levenberg-Marquardt refinement of all free parameters together (bumps' fitter).

bumps' ``LevenbergMarquardtFit`` is SasView's default fitter. Bounds are built into the
parametrisation (:class:`Map`: logistic map, in log scale for lengths; ``exp`` for
amplitudes and background), so LM never meets a hard bound, whose penalty (bumps adds a
large cost outside them) makes it stick to a boundary. Integer counts, and a
polydispersity width a start carries before its stage frees it, are held.
"""
from __future__ import annotations

import math

import numpy as np

from .data import FitData
from .evaluation import Problem, Stop
from .parameters import Setup

#: Residual given to a point where the model returned NaN/inf (keeps LM finite).
BAD_RESIDUAL = 1e4


class Map:
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


class Fitness:
    """bumps Fitness around :class:`Problem` (see ``bumps.fitproblem.Fitness``); its
    bumps parameters are the unbounded ``u`` of :class:`Map`."""

    name = "verification"

    def __init__(self, problem: Problem, pars: dict, maps: dict, held: dict):
        self.problem = problem
        self._pars = pars
        self._maps = maps
        self._held = held  # counts, widths: part of every point, not varied
        self._resid = None
        self.stopped: Stop | None = None
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
                r = np.where(np.isfinite(r), np.clip(r, -1e150, 1e150), BAD_RESIDUAL)
            self._resid = r
        return self._resid

    def nllf(self):
        # bumps logs and swallows exceptions raised in nllf(): keep the stop for _lm
        try:
            r = self.residuals()
        except Stop as stop:
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


def maps_for(setup: Setup, start: dict, data: FitData) -> tuple[dict, dict]:
    """(maps, start values clipped so that their maps are finite)."""
    maps, x0 = {}, {}
    for name, (lo, hi) in setup.shape.items():
        if setup.spec.free[name].is_count:
            continue  # a count is held by the caller
        log = setup.spec.free[name].draws_log() and lo > 0
        maps[name] = Map("loglogit" if log else "logit", lo, hi)
        x0[name] = float(np.clip(start[name], lo, hi))
    least = floors(setup, start, data)
    for name in setup.amplitudes:
        maps[name] = Map("identity" if setup.spec.signed else "exp")
        x0[name] = float(start[name]) if setup.spec.signed else max(float(start[name]), least[name])
    if setup.spec.background:
        maps["background"] = Map("exp")
        x0["background"] = max(float(start["background"]), least["background"])
    return maps, x0


def floors(setup: Setup, values: dict, data: FitData) -> dict:
    """Smallest start of each non-negative linear parameter (``x = exp(u)`` cannot start at 0)."""
    amps = [abs(float(values[a])) for a in setup.amplitudes]
    floor = 1e-9 * (max(amps) if amps and max(amps) > 0 else 1.0)
    out = {} if setup.spec.signed else dict.fromkeys(setup.amplitudes, floor)
    if setup.spec.background:
        out["background"] = 1e-6 * float(np.min(data.I))
    return out


def collapsed(setup: Setup, values: dict, data: FitData) -> bool:
    """An amplitude or the background that LM drove below its start floor: as ``exp(u)``
    with ``u`` far negative it has no gradient left and cannot grow back in that run."""
    return any(values[name] < floor for name, floor in floors(setup, values, data).items())


def lm(problem: Problem, start: dict, max_steps: int, tol: float = 1.5e-8):
    """One bumps Levenberg-Marquardt run from ``start``.

    Returns ``(stderr, finished, final values)``; ``finished`` is False when LM gave up
    or used up its ``max_steps`` iterations without meeting its tolerance (bumps returns
    that point as a result all the same); ``stderr`` (1-sigma, from the LM
    covariance mapped back through :class:`Map`, valid if the errors sigma are right)
    is empty when unavailable."""
    from bumps.fitproblem import FitProblem
    from bumps.fitters import FitDriver, LevenbergMarquardtFit
    from bumps.parameter import Parameter

    maps, x0 = maps_for(problem.setup, start, problem.data)
    pars = {name: Parameter(maps[name].to_u(x0[name]), name=name).range(-1e300, 1e300)
            for name in x0}
    fitness = Fitness(problem, pars, maps, {k: v for k, v in start.items() if k not in maps})
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
