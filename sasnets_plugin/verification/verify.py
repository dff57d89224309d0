"""Fit the network's top candidates to the user's data and re-rank them.

Re-ranking rule
---------------
The network gives a prior ``p_i`` for candidate ``i`` (renormalised over the
candidates). The fit gives the evidence: BIC approximates ``-2 ln`` of the marginal
likelihood, so ``p(data | model i) ∝ exp(-BIC_i / 2)``. Because real uncertainties are
often under- (or over-) estimated and no candidate is exactly right, the evidence is
*tempered* by ``T = max(1, chi2r_min)``, the smallest reduced chi² among the candidates
that were fitted (if the best model still has chi2r = 9, the errors are effectively 3x
too small and every chi² difference is 9x too large)::

    evidence_i  = (1 - EPS) * exp(-(BIC_i - BIC_min) / (2 T)) + EPS
    score_i     = ln p_i + ln evidence_i
    posterior_i = exp(score_i) / sum_j exp(score_j)

The evidence is *robust*: a fit can fail (a local minimum, the time budget, a curve the
model describes with a parameter the fit holds), and then its BIC says nothing about the
model. ``EPS`` (:data:`FIT_FAILURE_RATE`) is that probability: the likelihood is a
mixture of "the fit found the model's best point" and "the fit failed" (flat), so a bad
fit costs a candidate at most ``-ln EPS`` nats against the best-fitting one instead of
an unbounded amount. ``EPS = 1`` ignores the fits (the network order); ``EPS = 0`` is
the plain BIC evidence. ``EPS`` is calibrated on simulated *validation* curves (see the
constant).

Candidates whose fit failed get posterior 0 and are ranked last (in network order).
``posterior`` is the combined score reported for each candidate; the verified order
sorts by it (ties keep the network order).

Execution
---------
Candidates are fitted in parallel in worker *processes* (sasmodels kernels are loaded
per process from sasmodels' on-disk compile cache; a pool is created on first use and
reused, see :func:`warm_up` / :func:`shutdown_pool`; workers exit when the process that
started them dies). ``workers=1`` fits in the calling process instead. One wall-clock
budget ``max_seconds`` covers the whole call; each candidate gets a fair share of what
is left when it starts and returns its best point when its share runs out (flagged
``converged=False``).

Hard time bound: a fit is only interrupted between model evaluations, and one
evaluation of a slow model can take tens of seconds (``pringle`` at a large radius).
With worker processes, the workers must return :data:`_RETURN_MARGIN` seconds before
the end of the budget; at the end of the budget, candidates still running are reported
``"fit failed: time budget exhausted ..."`` and the pool's processes are terminated (a
fresh pool is started in the background). The call therefore returns within
``max_seconds`` plus a fraction of a second. ``workers=1`` (in-process) cannot stop an
evaluation in progress and has no such bound.

Cancellation: set the ``cancel`` event (from any thread). Workers check it before
every model evaluation, so :func:`verify_candidates` returns within a fraction of a
second by raising :class:`VerificationCancelled`; the fits that had completed are in
its ``partial`` attribute. Only one verification runs on the shared pool at a time
(concurrent calls wait for each other).
"""
from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, CancelledError, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .. import environment
from ..cleaning import CleaningReport, clean_curve
from ..errors import SasnetsError
from .fitting import CandidateFit, FitData, failed, fit_model, make_fit_data

log = logging.getLogger(__name__)

#: Default wall-clock budget of one :func:`verify_candidates` call (seconds).
DEFAULT_MAX_SECONDS = 9.0
#: Default number of Levenberg-Marquardt runs per model.
DEFAULT_N_STARTS = 6
#: ``EPS`` of the re-ranking rule (module docstring): the probability that a fit failed.
#: Calibrated by ``python benchmarks/bench_verified_accuracy.py --split val --per-class 2
#: --seed 1`` (142 validation curves, shipped network, default fit settings;
#: ``benchmarks/results/verification_calibration.json``, ``rescored``): top-1 hits 97 at
#: EPS = 1 (network order), 85 at 0 (plain BIC evidence), 96-100 from 0.02 to 0.7, most
#: at 0.3 (100).
FIT_FAILURE_RATE = 0.3

#: Default number of candidates (the network's top 5); sizes the default worker pool.
DEFAULT_CANDIDATES = 5
#: Workers must return this long before the end of the budget (result transfer).
_RETURN_MARGIN = 0.3
#: Poll interval of the parent while fits run (seconds).
_POLL = 0.05

_NOT_STARTED = "time budget exhausted before this model was fitted"
_OVERRUN = "time budget exhausted (one model evaluation outlasted the budget; worker stopped)"


class VerificationCancelled(SasnetsError):
    """The verification was cancelled; ``partial`` holds the fits already completed."""

    def __init__(self, partial: list[CandidateFit]):
        super().__init__("Fit verification cancelled.")
        self.partial = partial


# --- data preparation -----------------------------------------------------------------
def carry_over(raw_q, kept, values, clean_q) -> np.ndarray:
    """Per-point ``values`` of the raw curve, following ``clean_curve`` onto ``clean_q``.

    Cleaning drops rows (``kept``: its report's mask of the rows used), sorts and merges
    equal q; a cleaned point gets the mean of the values of the raw rows that share its q.
    """
    raw_q = np.asarray(raw_q, float)
    values = np.asarray(values, float)
    q, v = raw_q[kept], values[kept]
    uq, inverse = np.unique(q, return_inverse=True)
    finite = np.isfinite(v)
    sums = np.bincount(inverse, np.where(finite, v, 0.0), minlength=uq.size)
    counts = np.bincount(inverse, finite.astype(float), minlength=uq.size)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    idx = np.clip(np.searchsorted(uq, clean_q), 0, uq.size - 1)
    out = means[idx]
    out[uq[idx] != clean_q] = np.nan
    return out


def prepare_data(raw, *, slit_length=None, slit_width=None) -> tuple[FitData, CleaningReport]:
    """Clean ``raw`` (a ``loading.RawCurve``) and attach weights and resolution.

    Slit lengths/widths come from the arguments or, when absent, from ``raw.dQl`` /
    ``raw.dQw`` if the curve carries them (scalars or per raw point).
    """
    curve, report = clean_curve(raw.q, raw.I, raw.dI)
    n_raw = np.size(raw.q)

    def follow(values):
        if values is None:
            return None
        arr = np.asarray(values, float)
        if arr.ndim == 0:
            return np.full(curve.q.size, float(arr))
        if arr.size != n_raw:
            raise ValueError(f"resolution array has {arr.size} values for {n_raw} points")
        return carry_over(raw.q, report.kept, arr, curve.q)

    sl = slit_length if slit_length is not None else getattr(raw, "dQl", None)
    sw = slit_width if slit_width is not None else getattr(raw, "dQw", None)
    data = make_fit_data(curve.q, curve.I, curve.dI, dQ=follow(raw.dQ),
                         slit_length=follow(sl), slit_width=follow(sw))
    return data, report


def read_slit(path, dataset: int = 0) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Slit length and width (``dxl``, ``dxw``) of 1D data set ``dataset`` in ``path``
    (``None`` where the file has none): ``loading.load_1d``'s ``dQl`` / ``dQw``."""
    from ..loading import load_1d

    curve = load_1d(path)[dataset]
    return curve.dQl, curve.dQw


# --- result ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    """Fits of the candidates, in network order, with the combined scores.

    ``candidates`` keep the order they were given in (network order); ``ranked`` is the
    verified order (best combined score first, failures last).
    """

    candidates: tuple[CandidateFit, ...]
    weighting: str
    resolution: str
    temperature: float
    seconds: float
    workers: int
    dI_estimated: bool
    notes: tuple[str, ...] = ()

    @property
    def ranked(self) -> tuple[CandidateFit, ...]:
        return tuple(sorted(self.candidates, key=lambda c: c.verified_rank))

    @property
    def network_order(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.candidates)

    @property
    def verified_order(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.ranked)

    @property
    def best(self) -> CandidateFit | None:
        top = self.ranked[0] if self.candidates else None
        return top if top is not None and top.ok else None

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
            "network_order": list(self.network_order),
            "verified_order": list(self.verified_order),
            "candidates": [
                {"model": c.model, "probability": _finite(c.probability),
                 "posterior": _finite(c.posterior), "network_rank": c.network_rank,
                 "verified_rank": c.verified_rank, "status": c.status, "fit": c.fit_json()}
                for c in self.candidates
            ],
        }
        if include_curves:
            q = next((c.q for c in self.candidates if c.q is not None), None)
            out["q"] = None if q is None else [float(x) for x in q]
            for entry, c in zip(out["candidates"], self.candidates):
                entry["I_fit"] = None if c.I_fit is None else [float(x) for x in c.I_fit]
        return out


def _finite(x):
    return float(x) if math.isfinite(x) else None


def rerank(fits: list[CandidateFit], probabilities,
           failure_rate: float | None = None) -> tuple[list[CandidateFit], float]:
    """Attach priors, posteriors and both ranks (see module docstring); returns the fits
    in the given order and the temperature ``T``. ``failure_rate``: ``EPS`` in [0, 1]
    (default :data:`FIT_FAILURE_RATE`)."""
    eps = FIT_FAILURE_RATE if failure_rate is None else float(failure_rate)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"failure_rate must be in [0, 1], not {eps}")
    p = np.asarray(probabilities, float)
    p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
    p = p / p.sum() if p.sum() > 0 else np.full(len(fits), 1.0 / max(1, len(fits)))
    ok = [i for i, f in enumerate(fits) if f.ok and math.isfinite(f.bic)]
    temperature = 1.0
    post = np.zeros(len(fits))
    if ok:
        temperature = max(1.0, min(fits[i].chi2r for i in ok))
        bic_min = min(fits[i].bic for i in ok)
        penalty = np.array([(fits[i].bic - bic_min) / (2 * temperature) for i in ok])
        with np.errstate(divide="ignore"):  # ln 0 = -inf at EPS = 0 or 1 is meant
            evidence = np.logaddexp(np.log1p(-eps) - penalty, np.log(eps))  # ln evidence_i
        score = np.log(np.maximum(p[ok], 1e-300)) + evidence
        w = np.exp(score - score.max())
        post[ok] = w / w.sum()
    order = sorted(range(len(fits)), key=lambda i: (0 if i in ok else 1, -post[i], i))
    vrank = {i: r + 1 for r, i in enumerate(order)}
    out = [replace(f, probability=float(probabilities[i]) if i < len(probabilities) else math.nan,
                   posterior=float(post[i]) if i in ok else 0.0,
                   network_rank=i + 1, verified_rank=vrank[i])
           for i, f in enumerate(fits)]
    return out, float(temperature)


# --- worker pool ----------------------------------------------------------------------
_worker_cancelled = None  # in a worker: shared counter, runs with id <= value are cancelled


def _init_worker(cancelled):
    global _worker_cancelled
    _worker_cancelled = cancelled
    environment.configure()
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

    from .fitting import kernel_model

    for m in models:
        try:
            kernel_model(m)
        except Exception:  # noqa: BLE001
            pass
    return os.getpid()


def _worker_fit(model, data, kwargs, run_id):
    cancelled = _worker_cancelled

    def abort():
        return cancelled is not None and cancelled.value >= run_id

    return fit_model(model, data, abort=abort, **kwargs)


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
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.executor.shutdown(wait=False, cancel_futures=True)


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


def _drop_pool(pool: _Pool):
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    try:
        pool.shutdown(wait=False)
    except Exception:  # noqa: BLE001
        pass


def shutdown_pool():
    """Stop the worker processes (they are restarted on the next parallel call)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        with pool.run_lock:
            pool.shutdown()


atexit.register(shutdown_pool)


def _kill_pool(pool: _Pool):
    """Terminate a pool whose worker overran the budget, and start a fresh one in the
    background so that the next verification does not pay for the start."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    log.warning("Fit verification: terminating worker processes stuck past the time budget")
    pool.kill()
    threading.Thread(target=_restart_quietly, args=(pool.n,), daemon=True,
                     name="verification-pool-restart").start()


def _restart_quietly(n: int):
    try:
        warm_up(n)
    except Exception:  # noqa: BLE001 - the next call starts the pool itself
        log.debug("Fit verification: background pool restart failed", exc_info=True)


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
    futures = [pool.executor.submit(_worker_warm, tuple(models)) for _ in range(n)]
    wait(futures)


# --- main entry -----------------------------------------------------------------------
def verify_candidates(raw, models, probabilities=None, *, workers: int | None = None,
                      max_seconds: float = DEFAULT_MAX_SECONDS,
                      cancel: threading.Event | None = None, n_starts: int = DEFAULT_N_STARTS,
                      seed: int = 0, slit_length=None, slit_width=None,
                      progress: Callable[[int, CandidateFit], None] | None = None
                      ) -> Verification:
    """Fit every model in ``models`` to ``raw`` and re-rank them with ``probabilities``.

    ``raw`` is a ``loading.RawCurve`` (it is cleaned with ``cleaning.clean_curve``;
    ``errors.DataError`` if unusable). ``probabilities`` are the network's, aligned with
    ``models`` (default: equal). ``workers``: processes to use (default: one per
    candidate up to the CPU count, in worker processes; ``1`` = in this process).
    ``max_seconds``: wall-clock budget of the whole call, a hard bound with worker
    processes (see the module docstring). ``cancel``: a ``threading.Event``; when set,
    :class:`VerificationCancelled` is raised promptly. ``n_starts``: LM runs per model.
    ``seed``: seed of the random starts (results are deterministic for a given seed
    unless the time budget cuts a fit short). ``slit_length``/``slit_width``: slit
    resolution (see :func:`prepare_data`). ``progress(index, fit)``: called in the
    calling thread as each candidate's fit (or failure) comes in, ``index`` being its
    place in ``models``; its exceptions are logged, not raised.

    Returns a :class:`Verification`: the candidates in the given (network) order with
    fits, posteriors and both ranks; ``.ranked`` / ``.verified_order`` give the verified
    order. A model whose fit fails is reported ``"fit failed: <reason>"`` and ranked
    last: nothing a model does makes this function raise (only unusable data,
    mismatched ``probabilities`` or a cancellation do).

    Parallel runs start worker processes with the ``spawn`` method, which re-imports the
    calling script's ``__main__``: scripts must use the ``if __name__ == "__main__":``
    guard (if the workers cannot start, the fits run in this process instead).
    """
    t0 = time.time()
    models = [str(m) for m in models]
    if probabilities is None:
        probabilities = [1.0 / max(1, len(models))] * len(models)
    probabilities = [float(p) for p in probabilities]
    if len(probabilities) != len(models):
        raise ValueError(f"{len(models)} models but {len(probabilities)} probabilities")
    data, _ = prepare_data(raw, slit_length=slit_length, slit_width=slit_width)
    deadline = t0 + max_seconds
    n_workers = default_workers(len(models)) if workers is None else max(1, int(workers))
    n_workers = min(n_workers, max(1, len(models)))
    kwargs = {"n_starts": n_starts, "seed": seed}
    notes: list[str] = []
    report = _reporter(progress)

    if workers == 1 or not models:
        fits = _run_serial(models, data, kwargs, deadline, cancel, report)
        n_workers = 1
    else:
        try:
            fits = _run_parallel(models, data, kwargs, deadline, cancel, n_workers, report)
        except BrokenProcessPool:
            notes.append("worker processes unavailable: fitted in this process")
            fits = _run_serial(models, data, kwargs, deadline, cancel, report)
            n_workers = 1

    ranked, temperature = rerank(fits, probabilities)
    return Verification(
        candidates=tuple(ranked), weighting=data.describe_weighting(),
        resolution=data.describe_resolution(), temperature=temperature,
        seconds=time.time() - t0, workers=n_workers, dI_estimated=data.sigma_estimated,
        notes=tuple(notes + list(data.notes)),
    )


def _reporter(progress) -> Callable[[int, CandidateFit], None]:
    """``progress`` made safe: its exceptions are logged."""
    def report(index: int, fit: CandidateFit):
        if progress is None:
            return
        try:
            progress(index, fit)
        except Exception:  # noqa: BLE001 - a display callback must not stop the fits
            log.exception("Fit verification: progress callback failed")

    return report


def _share(deadline: float, n_left: int, n_workers: int) -> float:
    """Seconds a candidate starting now may use: a fair part of what is left."""
    remaining = deadline - time.time()
    return max(0.0, remaining * n_workers / max(1, n_left))


def _run_serial(models, data, kwargs, deadline, cancel, report) -> list[CandidateFit]:
    fits: list[CandidateFit | None] = [None] * len(models)
    abort = cancel.is_set if cancel is not None else None
    for i, model in enumerate(models):
        if cancel is not None and cancel.is_set():
            raise VerificationCancelled([f for f in fits if f is not None])
        share = _share(deadline, len(models) - i, 1)
        if share <= 0:
            fits[i] = failed(model, _NOT_STARTED)
            report(i, fits[i])
            continue
        fit = fit_model(model, data, deadline=min(deadline, time.time() + share), abort=abort,
                        **kwargs)
        if cancel is not None and cancel.is_set():
            raise VerificationCancelled([f for f in fits if f is not None])
        fits[i] = fit
        report(i, fit)
    return fits  # type: ignore[return-value]


def _run_parallel(models, data, kwargs, deadline, cancel, n_workers,
                  report) -> list[CandidateFit]:
    pool = _get_pool(n_workers)
    with pool.run_lock:
        run_id = pool.new_run()
        fits: list[CandidateFit | None] = [None] * len(models)
        pending = list(range(len(models)))
        running: dict = {}
        try:
            while pending or running:
                _submit(pool, run_id, models, data, kwargs, deadline, pending, running, fits,
                        report)
                if not running:
                    continue
                done, _ = wait(list(running), timeout=_POLL, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = running.pop(fut)
                    fits[i] = _result(fut, models[i])
                    report(i, fits[i])
                if cancel is not None and cancel.is_set():
                    _cancel_run(pool, run_id, running)
                    raise VerificationCancelled([f for f in fits if f is not None])
                if running and time.time() >= deadline:
                    _overrun(pool, run_id, models, running, fits, report)
        except BrokenProcessPool:
            _drop_pool(pool)
            raise
    return fits  # type: ignore[return-value]


def _submit(pool: _Pool, run_id, models, data, kwargs, deadline, pending, running, fits,
            report):
    """Start pending candidates on free workers, each with its share of the time left;
    workers must be back :data:`_RETURN_MARGIN` before ``deadline``."""
    worker_deadline = deadline - _RETURN_MARGIN
    while pending and len(running) < pool.n:
        i = pending.pop(0)
        share = _share(worker_deadline, len(pending) + 1 + len(running), pool.n)
        if share <= 0:
            fits[i] = failed(models[i], _NOT_STARTED)
            report(i, fits[i])
            continue
        task = {**kwargs, "deadline": min(worker_deadline, time.time() + share)}
        running[pool.executor.submit(_worker_fit, models[i], data, task, run_id)] = i


def _result(fut, model: str) -> CandidateFit:
    try:
        return fut.result()
    except BrokenProcessPool:
        raise
    except (CancelledError, Exception) as exc:  # noqa: BLE001
        return failed(model, f"worker error ({type(exc).__name__}: {exc})")


def _cancel_run(pool: _Pool, run_id: int, running: dict):
    """Stop a cancelled run's fits; terminate the pool if one does not stop quickly."""
    pool.cancel(run_id)
    for fut in running:
        fut.cancel()
    _, still = wait(list(running), timeout=0.5)
    if still:
        _kill_pool(pool)


def _overrun(pool: _Pool, run_id: int, models, running: dict, fits, report):
    """The budget is over and some worker is still inside one model evaluation: report
    its candidates as failed and terminate the pool (the hard time bound)."""
    pool.cancel(run_id)
    for fut, i in running.items():
        fits[i] = _result(fut, models[i]) if fut.done() else failed(models[i], _OVERRUN)
        report(i, fits[i])
    stuck = any(not fut.done() for fut in running)
    running.clear()
    if stuck:
        _kill_pool(pool)
