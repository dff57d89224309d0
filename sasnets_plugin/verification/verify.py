"""Fit the network's top candidates to the user's data, fit more when none fits, re-rank.

Re-ranking rule
---------------
The network gives a prior ``p_i`` for candidate ``i``, floored at :data:`PRIOR_FLOOR`
(the network is calibrated on curves like its training data; on others it gives
1e-17 to a model that fits perfectly, and a prior that small is not resolved) and
renormalised over the candidates. The fit gives the evidence: BIC approximates
``-2 ln`` of the marginal likelihood, so ``p(data | model i) ∝ exp(-BIC_i / 2)``.
Because real uncertainties are often under- (or over-) estimated and no candidate is
exactly right, the evidence is *tempered* by ``T = max(1, chi2r_min)``, the smallest
reduced chi² among the candidates that were fitted (if the best model still has
chi2r = 9, the errors are effectively 3x too small and every chi² difference is 9x too
large)::

    evidence_i  = (1 - e_i) * exp(-(BIC_i - BIC_min) / (2 T)) + e_i
    score_i     = ln p_i + ln evidence_i
    posterior_i = exp(score_i) / sum_j exp(score_j)

``e_i`` is the probability that fit ``i`` failed, i.e. that its BIC says nothing about
the model (a local minimum, a parameter the fit holds, a budget):

* ``e_i = EPS`` (:data:`FIT_FAILURE_RATE`) for a fit that *plausibly failed* (not
  converged, a parameter at a bound, cut by its budget:
  :attr:`~.fitting.CandidateFit.plausibly_failed`) while *no* candidate fits within the
  noise: such a fit then costs its model at most ``-ln EPS`` nats against the best one,
  so the network's prior is not overruled by a fit that went wrong;
* ``e_i = 0`` otherwise. A converged fit is evidence: one far worse than the best drops
  accordingly. And once some candidate fits within the noise (``chi2r <= NOISE_CHI2R``)
  the data are explained: a fit within the noise beats any prior against a fit that is
  not, whatever went wrong with the latter.

``EPS`` is calibrated on simulated *validation* curves (see the constant; the benchmark
also scores the earlier rules, :data:`FLOOR_RULES`). Candidates whose fit failed
outright get posterior 0 and are ranked last (in network order).

Rescue
------
When none of the given candidates fits within the noise, more models are fitted, in
two stages: first (:func:`rescue_singles`) the network's next :data:`RESCUE_NEXT` ranks
(when the caller passes the rest of the ranking as ``reserve``) and one representative
of every family of the network's confusion dendrogram (:data:`RESCUE_FAMILIES`); then,
if still none fits and the curve rises to a correlation peak
(:attr:`.invariants.Invariants.q_corr`), products ``form@structure`` of the
best-fitting forms with every structure factor SasView offers
(:func:`rescue_products`). All candidates are then re-ranked together; rescue
candidates are flagged ``rescue=True``. When still nothing fits within the noise the :class:`Verification`
says so: ``no_fit`` is True, ``best_chi2r`` the best reduced chi², ``message`` a plain
sentence for the user.

Execution, budget and determinism
---------------------------------
Each fit's budget is *work* (estimated model-evaluation cost, :mod:`.fitting`), so an
answer does not depend on how busy the machine is, nor on where a fit runs: in this
process (``workers=1``), in the verification's pool of worker processes (default), or
on a Dask cluster (``client``: :func:`sasnets_plugin.cluster.connect`). Every fit is a
pure function of (model, data, settings, seed).

The wall clock is only a safety cap, ``max_seconds`` per file, far above what the work
budget takes on an idle machine (README: benchmarks): fits still running at the cap are
reported as cut by it (``cut="safety cap"``; such an answer may differ between runs).
With worker processes the cap is hard: a worker stuck in one long model evaluation past
it is terminated, and the other files' fits that were running beside it are run again on
a fresh pool (same answer: pure functions). ``workers=1`` cannot stop an evaluation in
progress.

Several files (:func:`verify_many`) share the workers: each file's fits are submitted
as soon as the file is admitted (at most as many files in flight as workers, so that a
file's safety clock starts when its fits can), rescue stages as soon as a file's first
stage is complete.

Cancellation: set the ``cancel`` event (from any thread). Workers check it before every
model evaluation, so the call returns within a fraction of a second by raising
:class:`VerificationCancelled`; the fits that had completed are in its ``partial``
attribute. Only one verification runs on the shared pool at a time (concurrent calls
wait for each other).
"""
from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace

import numpy as np

from .. import environment
from ..errors import SasnetsError
from ..models import DEFAULT_MODELS
from ..models.products import STRUCTURES, combinable
from .data import FitData, prepare_data
from .fit_result import NOISE_CHI2R, CandidateFit, failed, json_float
from .fitting import DEFAULT_WORK, fit_model
from .invariants import Invariants, curve_invariants

log = logging.getLogger(__name__)

#: Default wall-clock safety cap of one file's verification (seconds): far above the
#: work budget's time on an idle machine (README: benchmarks), reached only when the
#: machine is many times slower than that or a kernel hangs.
DEFAULT_MAX_SECONDS = 60.0
#: Default number of Levenberg-Marquardt runs per model.
DEFAULT_N_STARTS = 6
#: ``EPS`` of the re-ranking rule (module docstring): the probability that a fit which
#: plausibly failed did fail. Calibrated on the validation curves of
#: ``python benchmarks/bench_verified_accuracy.py`` (``benchmarks/results/
#: verified_accuracy.json``, ``validation.calibration``): chosen on curves of generator
#: v2 with network v2; kept with network v3, whose 171 validation curves prefer (0.1, 0.01)
#: by 3 top-1 answers, with no difference on the test curves nor the real files (README).
FIT_FAILURE_RATE = 0.3
#: Network probabilities are floored at this before the re-ranking (module docstring):
#: a prior then costs a candidate at most ln(1 / PRIOR_FLOOR) ~ 7 nats, a Delta BIC of
#: ~14 at T = 1. Calibrated with ``FIT_FAILURE_RATE``.
PRIOR_FLOOR = 1e-3
#: To whom the failure floor ``EPS`` applies: the shipped rule first, then the others the
#: benchmark scores beside it: "unexplained" (fits that plausibly failed, while no
#: candidate fits within the noise), "noise" (those, and the fits within the noise among
#: themselves), "failed" (fits that plausibly failed), "all" (every fit: the first rule).
FLOOR_RULES = ("unexplained", "noise", "failed", "all")

#: Default number of candidates (the network's top 5); sizes the default worker pool.
DEFAULT_CANDIDATES = 5
#: Rescue: the network's next ranks fitted when none of the candidates fits (often
#: slow relatives of the candidates that did not fit: a few only).
RESCUE_NEXT = 3
#: Rescue: one fast representative of every family of the network's confusion
#: dendrogram (``model_weights/confusion_dendrogram.png``): spheres, core-shell
#: particles, vesicles, rods, ellipsoids, worm-like chains, sheets, power laws, Guinier
#: and Porod regimes, coils, peaks, fractals, microemulsions.
RESCUE_FAMILIES = ("sphere", "core_shell_sphere", "vesicle", "cylinder", "ellipsoid",
                   "flexible_cylinder", "lamellar", "power_law", "guinier_porod",
                   "mono_gauss_coil", "broad_peak", "mass_fractal", "teubner_strey")
#: Rescue with a correlation peak: products of this many forms (the best-fitting
#: forms that define an effective radius, then these) with every structure factor.
PRODUCT_FORMS = 2
PRODUCT_FALLBACK_FORMS = ("sphere", "ellipsoid")
#: Rescue candidates are many and only have to show that they fit: each gets this share
#: of the work budget, this many LM runs and random starts (instead of the defaults).
RESCUE_WORK_SHARE = 0.5
RESCUE_STARTS = 3
RESCUE_RANDOM_STARTS = 24

#: Workers must return this long before the end of the safety cap (result transfer).
_RETURN_MARGIN = 0.3
#: A fit still running this long after the cap is stopped by force.
_GRACE = 0.5
#: Poll interval of the parent while fits run (seconds).
_POLL = 0.05

_NOT_STARTED = "safety cap reached before this model was fitted"
_CANCELLED = "fit failed: cancelled"
_OVERRUN = "safety cap (one model evaluation outlasted it; worker stopped)"


class VerificationCancelled(SasnetsError):
    """The verification was cancelled; ``partial`` holds the fits already completed."""

    def __init__(self, partial: list[CandidateFit]):
        super().__init__("Fit verification cancelled.")
        self.partial = partial


# --- result ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    """Fits of the candidates with the combined scores.

    ``candidates`` keep the order they were given in (network order), followed by the
    rescue candidates (``rescue=True``) when none of those fitted within the noise;
    ``ranked`` is the verified order (best combined score first, failures last).
    ``no_fit`` / ``best_chi2r`` / ``message`` say whether anything fits (the GUI reads
    these names).
    """

    candidates: tuple[CandidateFit, ...]
    weighting: str
    resolution: str
    temperature: float
    seconds: float
    workers: int
    dI_estimated: bool
    notes: tuple[str, ...] = ()
    rescued: bool = False

    @property
    def ranked(self) -> tuple[CandidateFit, ...]:
        return tuple(sorted(self.candidates, key=lambda c: c.verified_rank))

    @property
    def network_order(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.candidates if not c.rescue)

    @property
    def verified_order(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.ranked)

    @property
    def best(self) -> CandidateFit | None:
        top = self.ranked[0] if self.candidates else None
        return top if top is not None and top.ok else None

    @property
    def no_fit(self) -> bool:
        """No candidate fits within the noise (``chi2r <= NOISE_CHI2R``)."""
        return not any(c.within_noise for c in self.candidates)

    @property
    def best_chi2r(self) -> float:
        """The smallest reduced chi² of any candidate (NaN when every fit failed)."""
        return min((c.chi2r for c in self.candidates if c.ok), default=math.nan)

    @property
    def message(self) -> str:
        """A sentence for the user: what fits, or that nothing does."""
        n_top = len(self.network_order)
        n_more = len(self.candidates) - n_top
        if not any(c.ok for c in self.candidates):
            return f"No fit: every one of the {len(self.candidates)} models failed to fit."
        best = min((c for c in self.candidates if c.ok), key=lambda c: c.chi2r)
        if self.best is not None and self.best.within_noise:
            best = self.best  # the verified choice among those that fit
        if self.no_fit:
            return (f"No model fits within the noise (chi2r <= {NOISE_CHI2R:g}): the best "
                    f"of the {len(self.candidates)} models fitted, {best.model}, has "
                    f"chi2r = {best.chi2r:.3g}. The right model may be none of them, or "
                    "the uncertainties in the file may be too small.")
        if self.rescued:
            return (f"None of the network's top {n_top} fits within the noise; of "
                    f"{n_more} more models fitted, {best.model} does "
                    f"(chi2r = {best.chi2r:.3g}).")
        return f"{best.model} fits within the noise (chi2r = {best.chi2r:.3g})."

    def to_json(self, include_curves: bool = False) -> dict:
        """JSON-ready summary; each candidate's ``"fit"`` is :meth:`CandidateFit.fit_json`
        (a dict, or the status string for a failure). ``include_curves`` adds the cleaned
        ``q`` and each fit's ``I_fit``."""
        out = {
            "weighting": self.weighting,
            "dI_estimated": self.dI_estimated,
            "resolution": self.resolution,
            "temperature": self.temperature,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
            "notes": list(self.notes),
            "no_fit": self.no_fit,
            "best_chi2r": json_float(self.best_chi2r),
            "noise_chi2r": NOISE_CHI2R,
            "rescued": self.rescued,
            "message": self.message,
            "network_order": list(self.network_order),
            "verified_order": list(self.verified_order),
            "candidates": [
                {"model": c.model, "probability": json_float(c.probability),
                 "posterior": json_float(c.posterior), "network_rank": c.network_rank,
                 "verified_rank": c.verified_rank, "rescue": c.rescue, "status": c.status,
                 "verdict": c.verdict, "fit": c.fit_json()}
                for c in self.candidates
            ],
        }
        if include_curves:
            q = next((c.q for c in self.candidates if c.q is not None), None)
            out["q"] = None if q is None else [float(x) for x in q]
            for entry, c in zip(out["candidates"], self.candidates):
                entry["I_fit"] = None if c.I_fit is None else [float(x) for x in c.I_fit]
        return out


def rerank(fits: list[CandidateFit], probabilities, failure_rate: float | None = None, *,
           floor_rule: str = FLOOR_RULES[0], prior_floor: float | None = None,
           network_ranks: Sequence[int] | None = None) -> tuple[list[CandidateFit], float]:
    """Attach priors, posteriors and both ranks (see module docstring); returns the fits
    in the given order and the temperature ``T``. ``failure_rate``: ``EPS`` in [0, 1]
    (default :data:`FIT_FAILURE_RATE`); ``floor_rule``: one of :data:`FLOOR_RULES`;
    ``prior_floor``: default :data:`PRIOR_FLOOR`; ``network_ranks``: each fit's rank in
    the network's ranking (default: its place in ``fits``; 0 = not ranked by the
    network, e.g. a product)."""
    eps = FIT_FAILURE_RATE if failure_rate is None else float(failure_rate)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"failure_rate must be in [0, 1], not {eps}")
    if floor_rule not in FLOOR_RULES:
        raise ValueError(f"floor_rule must be one of {FLOOR_RULES}, not {floor_rule!r}")
    floor = PRIOR_FLOOR if prior_floor is None else float(prior_floor)
    given = np.asarray(probabilities, float)
    p = np.maximum(np.where(np.isfinite(given), given, 0.0), floor)
    p = p / p.sum() if p.sum() > 0 else np.full(len(fits), 1.0 / max(1, len(fits)))
    ok = [i for i, f in enumerate(fits) if f.ok and math.isfinite(f.bic)]
    explained = any(fits[i].within_noise for i in ok)
    temperature = 1.0
    post = np.zeros(len(fits))
    if ok:
        temperature = max(1.0, min(fits[i].chi2r for i in ok))
        bic_min = min(fits[i].bic for i in ok)
        penalty = np.array([(fits[i].bic - bic_min) / (2 * temperature) for i in ok])
        floored = np.array([_floored(fits[i], explained, floor_rule) for i in ok])
        e = np.where(floored, eps, 0.0)
        with np.errstate(divide="ignore"):  # ln 0 = -inf where e = 0 or 1 is meant
            evidence = np.logaddexp(np.log1p(-e) - penalty, np.log(e))  # ln evidence_i
        score = np.log(p[ok]) + evidence
        w = np.exp(score - score.max())
        post[ok] = w / w.sum()
    order = sorted(range(len(fits)), key=lambda i: (0 if i in ok else 1, -post[i], i))
    vrank = {i: r + 1 for r, i in enumerate(order)}
    ranks = list(network_ranks) if network_ranks is not None else range(1, len(fits) + 1)
    out = [replace(f, probability=float(given[i]) if i < given.size else math.nan,
                   posterior=float(post[i]) if i in ok else 0.0,
                   network_rank=int(ranks[i]), verified_rank=vrank[i])
           for i, f in enumerate(fits)]
    return out, float(temperature)


def _floored(fit: CandidateFit, explained: bool, rule: str) -> bool:
    """Whether the failure floor applies to ``fit`` under ``rule`` (:data:`FLOOR_RULES`);
    ``explained``: some candidate fits within the noise."""
    if rule == "all":
        return True
    if rule == "noise" and fit.within_noise:
        return True
    return fit.plausibly_failed and (rule == "failed" or not explained)


# --- rescue ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A model to fit for one file: its prior, its rank in the network's ranking (0 when
    the network does not rank it) and whether it is a rescue candidate."""

    model: str
    probability: float
    network_rank: int
    rescue: bool = False


def _network_probability(model: str, known: dict[str, float]) -> float:
    """The network's probability of ``model``; for a model the caller did not pass, the
    probability mass it did not pass, spread evenly over the classes it did not pass."""
    if model in known:
        return known[model]
    unseen = max(1, len(DEFAULT_MODELS) - len(known))
    return max(0.0, 1.0 - sum(known.values())) / unseen


def _priors(tried: Sequence[Candidate], reserve: Sequence[tuple[str, float]]
            ) -> tuple[dict[str, float], dict[str, int]]:
    """Network probability and rank of every model the caller passed."""
    known = {c.model: c.probability for c in tried if c.network_rank}
    known.update((m, p) for m, p in reserve)
    rank_of = {c.model: c.network_rank for c in tried if c.network_rank}
    n_top = sum(1 for c in tried if not c.rescue)
    rank_of.update((m, n_top + 1 + i) for i, (m, _) in enumerate(reserve) if m not in rank_of)
    return known, rank_of


def rescue_singles(tried: Sequence[Candidate], reserve: Sequence[tuple[str, float]]
                   ) -> list[Candidate]:
    """First rescue stage (module docstring): the next network ranks from ``reserve``
    (the ranking after the tried candidates, as ``(model, probability)``) and the family
    representatives, those already tried left out."""
    known, rank_of = _priors(tried, reserve)
    seen = {c.model for c in tried}
    names = [m for m, _ in reserve if m not in seen][:RESCUE_NEXT]
    names += [m for m in RESCUE_FAMILIES if m not in seen and m not in names]
    return [Candidate(m, _network_probability(m, known), rank_of.get(m, 0), rescue=True)
            for m in names]


def rescue_products(tried: Sequence[Candidate], fits: Sequence[CandidateFit],
                    reserve: Sequence[tuple[str, float]]) -> list[Candidate]:
    """Second rescue stage, for a curve with a correlation peak: every structure factor
    times the :data:`PRODUCT_FORMS` best-fitting forms that define an effective radius
    (by BIC among ``fits``, then :data:`PRODUCT_FALLBACK_FORMS`); a product's prior is
    its form's, shared by the structure factors."""
    known, _ = _priors(tried, reserve)
    seen = {c.model for c in tried}
    fitted = sorted((f for f in fits if f.ok and "@" not in f.model and combinable(f.model)),
                    key=lambda f: f.bic)
    forms = list(dict.fromkeys([f.model for f in fitted] + list(PRODUCT_FALLBACK_FORMS)))
    return [Candidate(f"{form}@{structure}",
                      _network_probability(form, known) / len(STRUCTURES), 0, rescue=True)
            for form in forms[:PRODUCT_FORMS] for structure in STRUCTURES
            if f"{form}@{structure}" not in seen]


# --- requests and engines ---------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """One file to verify: its raw curve, the candidates in network order with their
    probabilities, and the rest of the network's ranking (``reserve``: rescue
    candidates come from it)."""

    raw: object  # loading.RawCurve
    models: tuple[str, ...]
    probabilities: tuple[float, ...] | None = None
    reserve: tuple[tuple[str, float], ...] = ()
    slit_length: object = None
    slit_width: object = None


@dataclass(frozen=True)
class _Task:
    """One fit: what a worker needs (picklable)."""

    model: str
    data: FitData
    options: dict  # fit_model keyword arguments (work, n_starts, seed, invariants, deadline)


def _run_task(task: _Task, abort: Callable[[], bool] | None = None) -> CandidateFit:
    return fit_model(task.model, task.data, abort=abort, **task.options)


_worker_cancelled = None  # in a worker: shared counter, runs with id <= value are cancelled


def _init_worker(cancelled):
    global _worker_cancelled
    _worker_cancelled = cancelled
    environment.configure()
    single_threaded_blas()


def single_threaded_blas() -> None:
    """One BLAS thread in this process. The pool already runs a fit per core, so BLAS
    threads on top oversubscribe the cores: with the machine busy, one evaluation of a
    500-point curve with its resolution matrix took 4.5-7.3 ms with OpenBLAS' default
    threads and 1.0 ms with one. (Dask workers get the same from Dask itself.) numpy and
    scipy each bring their own OpenBLAS: both are loaded first, since a limit reaches only
    the libraries already loaded."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    threading.Thread(target=_exit_with_parent, daemon=True, name="parent-watch").start()


def _exit_with_parent():
    """Worker side: exit as soon as the parent process is gone (killed, crashed)."""
    from multiprocessing.connection import wait as wait_objects

    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    wait_objects([parent.sentinel])
    os._exit(1)


def _worker_warm(models=()):
    import bumps.fitters  # noqa: F401
    import sasmodels.direct_model  # noqa: F401

    from ..kernels import kernel_model

    for m in models:
        try:
            kernel_model(m)
        except Exception:  # noqa: BLE001 - the fit reports it
            log.debug("could not load %s", m, exc_info=True)
    return os.getpid()


def _worker_fit(task: _Task, run_id: int) -> CandidateFit:
    cancelled = _worker_cancelled

    def abort():
        return cancelled is not None and cancelled.value >= run_id

    return _run_task(task, abort)


def _dask_fit(task: _Task) -> CandidateFit:
    """A fit on a Dask worker (cancelled by ``Client.cancel``)."""
    environment.configure()
    return _run_task(task)


class _Pool:
    """Spawned worker processes plus a shared "cancelled up to run N" counter, so that a
    cancelled run's stragglers stop even after the next run has started."""

    def __init__(self, n: int):
        ctx = multiprocessing.get_context("spawn")  # safe with threads, Qt, TensorFlow
        self.n = n
        self.cancelled = ctx.Value("q", 0, lock=False)
        self.executor = ProcessPoolExecutor(max_workers=n, mp_context=ctx,
                                            initializer=_init_worker,
                                            initargs=(self.cancelled,))
        self.run_lock = threading.Lock()
        self.last_run = 0

    def new_run(self) -> int:
        self.last_run += 1
        return self.last_run

    def cancel(self, run_id: int):
        self.cancelled.value = max(self.cancelled.value, run_id)

    def shutdown(self, wait: bool = True):
        self.cancelled.value = 2**62
        self.executor.shutdown(wait=wait, cancel_futures=True)

    def kill(self):
        """Terminate the worker processes now (one is stuck in a long evaluation)."""
        self.cancelled.value = 2**62
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        for process in processes:
            try:
                process.terminate()
            except OSError:  # already gone
                pass
        self.executor.shutdown(wait=True, cancel_futures=True)


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool(n: int) -> _Pool:
    """The shared pool, (re)created with at least ``n`` workers."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool.n >= n:
            return _pool
        old, _pool = _pool, _Pool(n)
        pool = _pool
    if old is not None:
        with old.run_lock:  # let a run still using it finish
            old.shutdown()
    return pool


def _forget_pool(pool: _Pool):
    """Make the next call start a fresh pool instead of ``pool``."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None


def shutdown_pool():
    """Stop the worker processes (they are restarted on the next parallel call)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        with pool.run_lock:
            pool.shutdown()


atexit.register(shutdown_pool)


def default_workers(n_models: int = DEFAULT_CANDIDATES) -> int:
    """One worker per candidate up to the CPU count (the default of :func:`warm_up`
    and :func:`verify_candidates`)."""
    return max(1, min(n_models, os.cpu_count() or 1))


def warm_up(workers: int | None = None, models=()) -> None:
    """Start the worker pool and import sasmodels/bumps in it (and load ``models``'
    kernels), so the first verification does not pay for it. Blocks until done.
    ``workers``: default :func:`default_workers` of ``len(models)`` candidates (of
    :data:`DEFAULT_CANDIDATES` when no models are given), like
    :func:`verify_candidates`; ``1`` warms this process."""
    n = workers or default_workers(len(models) or DEFAULT_CANDIDATES)
    if workers == 1:
        _worker_warm(models)
        return
    pool = _get_pool(n)
    for future in [pool.executor.submit(_worker_warm, tuple(models)) for _ in range(n)]:
        future.result()


class _Engine:
    """Where fits run: this process (the base class), the process pool or Dask."""

    def __init__(self, cancel: threading.Event | None):
        self.n = 1
        self._cancel = cancel

    def submit(self, task: _Task) -> Future:
        future: Future = Future()
        future.set_result(_run_task(task, self._cancel.is_set if self._cancel else None))
        return future

    def cancel(self, futures) -> None:
        """Stop this run's fits (in this process they have stopped already)."""

    def stop(self, futures) -> bool:
        """Stop ``futures`` that outlasted the safety cap; True if others running beside
        them were lost and must be submitted again."""
        return False

    def close(self) -> None:
        """Release what the run held."""


class _PoolEngine(_Engine):
    def __init__(self, n: int):
        super().__init__(None)
        self.pool = _get_pool(n)
        self.pool.run_lock.acquire()
        self.n = self.pool.n
        self.run_id = self.pool.new_run()

    def submit(self, task: _Task) -> Future:
        return self.pool.executor.submit(_worker_fit, task, self.run_id)

    def cancel(self, futures) -> None:
        self.pool.cancel(self.run_id)
        for future in futures:
            future.cancel()

    def stop(self, futures) -> bool:
        running = [f for f in futures if not f.cancel()]
        if not any(not f.done() for f in running):
            return False
        log.warning("Fit verification: terminating worker processes stuck past the safety cap")
        old = self.pool
        _forget_pool(old)
        old.kill()
        old.run_lock.release()
        self.pool = _get_pool(self.n)
        self.pool.run_lock.acquire()
        self.run_id = self.pool.new_run()
        return True

    def close(self) -> None:
        self.pool.run_lock.release()


class _DaskEngine(_Engine):
    def __init__(self, client):
        super().__init__(None)
        self.client = client
        self.n = max(1, sum(client.nthreads().values()))

    def submit(self, task: _Task):
        return self.client.submit(_dask_fit, task, pure=False)

    def cancel(self, futures) -> None:
        self.client.cancel(list(futures))

    def stop(self, futures) -> bool:
        self.client.cancel(list(futures))
        return False


# --- orchestration ------------------------------------------------------------------------
@dataclass
class _File:
    """One file's verification in progress."""

    slot: int
    request: Request
    data: FitData
    invariants: Invariants
    candidates: list[Candidate]
    deadline: float
    started: float
    fits: dict[int, CandidateFit] = field(default_factory=dict)
    running: dict = field(default_factory=dict)  # future -> candidate index
    stage: int = 0  # 0: the given candidates, 1: rescue singles, 2: rescue products
    notes: list[str] = field(default_factory=list)


class _Run:
    """Fits of several files on one engine (module docstring: execution)."""

    def __init__(self, engine: _Engine, requests: Sequence[Request], *, max_seconds: float,
                 cancel: threading.Event | None, options: dict, rescue: bool,
                 progress: Callable[[int, CandidateFit], None] | None):
        self.engine = engine
        self.requests = list(requests)
        self.max_seconds = max_seconds
        self.cancel = cancel
        self.options = options
        self.rescue = rescue
        self.report = _reporter(progress)
        self.results: list = [None] * len(self.requests)
        self.done: queue.Queue = queue.Queue()
        self.tasks: dict = {}  # future -> (file, candidate index, task)

    def run(self) -> list:
        waiting = list(range(len(self.requests)))
        active: list[_File] = []
        while waiting or active:
            while waiting and len(active) < self.engine.n:
                file = self._admit(waiting.pop(0))
                if file is not None:
                    active.append(file)
                    self._settle(file, active)
            if not active:
                continue
            try:
                future = self.done.get(timeout=_POLL)
            except queue.Empty:
                future = None
            if future is not None and future in self.tasks:
                file, index, _ = self.tasks.pop(future)
                if future in file.running:
                    del file.running[future]
                    self._record(file, index, self._result(future, file.candidates[index].model))
                    self._settle(file, active)
            if self.cancel is not None and self.cancel.is_set():
                self.engine.cancel(list(self.tasks))
                done = [f for file in active for f in file.fits.values()] + [
                    f for r in self.results if isinstance(r, Verification) for f in r.candidates]
                raise VerificationCancelled([f for f in done if f.status != _CANCELLED])
            self._enforce_caps(active)
        return self.results

    def _admit(self, slot: int) -> _File | None:
        request = self.requests[slot]
        started = time.time()
        try:
            data, _ = prepare_data(request.raw, slit_length=request.slit_length,
                                   slit_width=request.slit_width)
        except SasnetsError as exc:
            self.results[slot] = exc
            return None
        probabilities = (request.probabilities if request.probabilities is not None
                         else [1.0 / max(1, len(request.models))] * len(request.models))
        candidates = [Candidate(m, float(p), i + 1)
                      for i, (m, p) in enumerate(zip(request.models, probabilities))]
        invariants = curve_invariants(data.q, data.I,
                                      None if data.sigma_estimated else data.sigma)
        file = _File(slot, request, data, invariants, candidates,
                     deadline=started + self.max_seconds, started=started)
        self._submit(file, range(len(candidates)))
        return file

    def _submit(self, file: _File, indices, rescue: bool = False):
        options = {**self.options, "invariants": file.invariants,
                   "deadline": file.deadline - _RETURN_MARGIN}
        if rescue:
            options.update(work=self.options["work"] * RESCUE_WORK_SHARE,
                           n_starts=min(RESCUE_STARTS, self.options["n_starts"]),
                           n_random=RESCUE_RANDOM_STARTS)
        for i in indices:
            if time.time() >= file.deadline:
                self._record(file, i, failed(file.candidates[i].model, _NOT_STARTED,
                                             cut="safety cap"))
                continue
            task = _Task(file.candidates[i].model, file.data, options)
            self._launch(file, i, task)

    def _record(self, file: _File, index: int, fit: CandidateFit):
        file.fits[index] = fit
        if len(self.requests) == 1:
            self.report(index, fit)

    def _launch(self, file: _File, index: int, task: _Task):
        future = self.engine.submit(task)
        self.tasks[future] = (file, index, task)
        file.running[future] = index
        future.add_done_callback(self.done.put)

    @staticmethod
    def _result(future, model: str) -> CandidateFit:
        try:
            return future.result()
        except BrokenProcessPool:
            raise
        except Exception as exc:  # noqa: BLE001 - a worker error is that model's failure
            return failed(model, f"worker error ({type(exc).__name__}: {exc})")

    def _settle(self, file: _File, active: list[_File]):
        """Next stage of ``file`` once its current one is complete: rescue, or done."""
        if self.cancel is not None and self.cancel.is_set():
            return  # the run loop raises VerificationCancelled
        while not file.running:
            fits = [file.fits[i] for i in range(len(file.candidates))]
            extra = self._next_stage(file, fits)
            if extra is None:
                active.remove(file)
                self.results[file.slot] = self._verification(file)
                return
            first = len(file.candidates)
            file.candidates.extend(extra)
            log.info("%s: no candidate fits within the noise; fitting %d more (stage %d)",
                     getattr(file.request.raw, "title", "data"), len(extra), file.stage)
            self._submit(file, range(first, len(file.candidates)), rescue=True)

    def _next_stage(self, file: _File, fits: list[CandidateFit]) -> list[Candidate] | None:
        """The candidates of ``file``'s next rescue stage, or None when it is done."""
        while self.rescue and fits and file.stage < 2 and not any(f.within_noise
                                                                   for f in fits):
            file.stage += 1
            if time.time() >= file.deadline:
                file.notes.append("rescue skipped: the safety cap was reached")
                return None
            if file.stage == 1:
                extra = rescue_singles(file.candidates, file.request.reserve)
            elif file.invariants.q_corr is not None:
                extra = rescue_products(file.candidates, fits, file.request.reserve)
            else:
                extra = []
            if extra:
                return extra
        return None

    def _verification(self, file: _File) -> Verification:
        fits = [replace(file.fits[i], rescue=c.rescue) for i, c in enumerate(file.candidates)]
        ranked, temperature = rerank(fits, [c.probability for c in file.candidates],
                                     network_ranks=[c.network_rank for c in file.candidates])
        return Verification(
            candidates=tuple(ranked), weighting=file.data.describe_weighting(),
            resolution=file.data.describe_resolution(), temperature=temperature,
            seconds=time.time() - file.started, workers=self.engine.n,
            dI_estimated=file.data.sigma_estimated,
            notes=tuple(file.notes + list(file.data.notes)),
            rescued=any(c.rescue for c in file.candidates))

    def _enforce_caps(self, active: list[_File]):
        """Files past their safety cap: stop their fits still running (hard bound)."""
        now = time.time()
        for file in list(active):
            late = {f: i for f, i in file.running.items() if not f.done()}
            if not late or now < file.deadline + _GRACE:
                continue  # finished fits wait in the queue with their results
            others = {f: self.tasks[f] for f in self.tasks if f not in late and not f.done()}
            lost = self.engine.stop(list(late))
            for future, index in late.items():
                self.tasks.pop(future, None)
                del file.running[future]
                reason = _NOT_STARTED if future.cancelled() else _OVERRUN
                self._record(file, index, failed(file.candidates[index].model, reason,
                                                 cut="safety cap"))
            if lost:  # pure functions: the same fits again on the fresh pool
                for future, (other, index, task) in others.items():
                    self.tasks.pop(future, None)
                    other.running.pop(future, None)
                    self._launch(other, index, task)
            self._settle(file, active)


def _reporter(progress) -> Callable[[int, CandidateFit], None]:
    """``progress`` made safe: its exceptions are logged."""
    def report(index: int, fit: CandidateFit):
        if progress is None:
            return
        try:
            progress(index, fit)
        except Exception:  # a display callback must not stop the fits
            log.exception("Fit verification: progress callback failed")

    return report


# --- main entries ---------------------------------------------------------------------------
def verify_many(requests: Sequence[Request], *, workers: int | None = None, client=None,
                max_seconds: float = DEFAULT_MAX_SECONDS, cancel: threading.Event | None = None,
                n_starts: int = DEFAULT_N_STARTS, seed: int = 0, work: float = DEFAULT_WORK,
                rescue: bool = True,
                progress: Callable[[int, CandidateFit], None] | None = None) -> list:
    """Verify several files on one set of workers; one entry per request, in order: a
    :class:`Verification`, or the ``SasnetsError`` (e.g. ``DataError``) that made the
    file unusable.

    ``client``: a ``distributed.Client`` (:func:`sasnets_plugin.cluster.connect`) to fit
    on a Dask cluster; otherwise ``workers`` processes of the shared pool (default: one
    per CPU), or this process for ``workers=1``. ``max_seconds``: the safety cap per
    file. ``work``: the work budget of one candidate fit (:mod:`.fitting`; rescue
    candidates get :data:`RESCUE_WORK_SHARE` of it). ``rescue``: fit more models when
    none of a file's candidates fits within the noise. ``progress(index, fit)`` (single
    request only): called in the calling thread as each fit comes in. Raises
    :class:`VerificationCancelled` when ``cancel`` is set.

    Worker processes are started with the ``spawn`` method, which re-imports the calling
    script's ``__main__``: scripts must use the ``if __name__ == "__main__":`` guard (if
    the workers cannot start, the fits run in this process instead, with a note).
    """
    options = {"n_starts": n_starts, "seed": seed, "work": float(work)}
    t0 = time.time()

    def run(engine: _Engine) -> list:
        return _Run(engine, requests, max_seconds=max_seconds, cancel=cancel, options=options,
                    rescue=rescue, progress=progress).run()

    if client is not None:
        return run(_DaskEngine(client))
    if workers is not None:
        n = workers
    elif len(requests) == 1:
        n = default_workers(len(requests[0].models))
    else:
        n = os.cpu_count() or 1
    if n <= 1 or not requests:
        return run(_Engine(cancel))
    engine = None
    try:
        engine = _PoolEngine(n)
        return run(engine)
    except BrokenProcessPool:
        log.warning("Fit verification: worker processes unavailable; fitting in this process")
        if engine is not None:
            _forget_pool(engine.pool)
        left = max(1.0, max_seconds - (time.time() - t0))
        results = _Run(_Engine(cancel), requests, max_seconds=left, cancel=cancel,
                       options=options, rescue=rescue, progress=progress).run()
        note = "worker processes unavailable: fitted in this process"
        return [replace(r, notes=(*r.notes, note)) if isinstance(r, Verification) else r
                for r in results]
    finally:
        if engine is not None:
            engine.close()


def verify_candidates(raw, models, probabilities=None, *, workers: int | None = None,
                      max_seconds: float = DEFAULT_MAX_SECONDS,
                      cancel: threading.Event | None = None, n_starts: int = DEFAULT_N_STARTS,
                      seed: int = 0, slit_length=None, slit_width=None,
                      progress: Callable[[int, CandidateFit], None] | None = None,
                      reserve: Sequence[tuple[str, float]] = (), rescue: bool = True,
                      work: float = DEFAULT_WORK, client=None) -> Verification:
    """Fit every model in ``models`` to ``raw`` and re-rank them with ``probabilities``;
    when none fits within the noise, fit more (module docstring: rescue).

    ``raw`` is a ``loading.RawCurve`` (it is cleaned with ``cleaning.clean_curve``;
    ``errors.DataError`` if unusable). ``probabilities`` are the network's, aligned with
    ``models`` (default: equal); ``reserve``: the rest of the network's ranking as
    ``(model, probability)`` pairs, most probable first (the rescue's next ranks and its
    representatives' priors come from it). ``workers``: processes to use (default: one
    per candidate up to the CPU count, in worker processes; ``1`` = in this process);
    ``client``: a Dask client instead. ``max_seconds``: wall-clock safety cap (the
    budget is ``work`` per fit, see :func:`verify_many`). ``cancel``: a
    ``threading.Event``; when set, :class:`VerificationCancelled` is raised promptly.
    ``n_starts``: LM runs per model. ``seed``: seed of the random starts (results are
    deterministic for given inputs unless the safety cap cuts a fit short).
    ``slit_length``/``slit_width``: slit resolution (see :func:`prepare_data`).
    ``progress(index, fit)``: called in the calling thread as each candidate's fit (or
    failure) comes in, ``index`` being its place in ``.candidates``; its exceptions are
    logged, not raised.

    Returns a :class:`Verification`: the candidates in the given (network) order, then
    the rescue candidates, with fits, posteriors and both ranks; ``.ranked`` /
    ``.verified_order`` give the verified order, ``.no_fit`` / ``.best_chi2r`` /
    ``.message`` whether anything fits. A model whose fit fails is reported
    ``"fit failed: <reason>"`` and ranked last: nothing a model does makes this function
    raise (only unusable data, mismatched ``probabilities`` or a cancellation do).
    """
    models = tuple(str(m) for m in models)
    if probabilities is not None:
        probabilities = tuple(float(p) for p in probabilities)
        if len(probabilities) != len(models):
            raise ValueError(f"{len(models)} models but {len(probabilities)} probabilities")
    request = Request(raw, models, probabilities, tuple((str(m), float(p)) for m, p in reserve),
                      slit_length, slit_width)
    (result,) = verify_many([request], workers=workers, client=client,
                            max_seconds=max_seconds, cancel=cancel, n_starts=n_starts,
                            seed=seed, work=work, rescue=rescue, progress=progress)
    if isinstance(result, Exception):
        raise result
    return result
