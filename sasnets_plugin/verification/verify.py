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

    score_i     = ln p_i - (BIC_i - BIC_min) / (2 T)
    posterior_i = exp(score_i) / sum_j exp(score_j)

Candidates whose fit failed get posterior 0 and are ranked last (in network order).
``posterior`` is the combined score reported for each candidate; the verified order
sorts by it (ties keep the network order).

Execution
---------
Candidates are fitted in parallel in worker *processes* (sasmodels kernels are loaded
per process from sasmodels' on-disk compile cache; a pool is created on first use and
reused, see :func:`warm_up` / :func:`shutdown_pool`). ``workers=1`` fits in the calling
process instead. One wall-clock budget ``max_seconds`` covers the whole call; each
candidate gets a fair share of what is left when it starts and returns its best point
when its share runs out (flagged ``converged=False``).

Cancellation: set the ``cancel`` event (from any thread). Workers check it before
every model evaluation, so :func:`verify_candidates` returns within a fraction of a
second by raising :class:`VerificationCancelled`; the fits that had completed are in
its ``partial`` attribute. Only one verification runs on the shared pool at a time
(concurrent calls wait for each other).
"""
from __future__ import annotations

import atexit
import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, CancelledError, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace

import numpy as np

from ..cleaning import CleaningReport, clean_curve
from ..errors import SasnetsError
from .fitting import CandidateFit, FitData, failed, fit_model, make_fit_data

#: Default wall-clock budget of one :func:`verify_candidates` call (seconds).
DEFAULT_MAX_SECONDS = 9.0
#: Default number of Levenberg-Marquardt runs per model.
DEFAULT_N_STARTS = 6

_NOT_STARTED = "time budget exhausted before this model was fitted"


class VerificationCancelled(SasnetsError):
    """The verification was cancelled; ``partial`` holds the fits already completed."""

    def __init__(self, partial: list[CandidateFit]):
        super().__init__("Fit verification cancelled.")
        self.partial = partial


# --- data preparation -----------------------------------------------------------------
def carry_over(raw_q, raw_I, values, clean_q) -> np.ndarray:  # noqa: E741
    """Per-point ``values`` of the raw curve, following ``clean_curve`` onto ``clean_q``.

    Cleaning drops rows with bad q/I, sorts and merges equal q; a cleaned point gets
    the mean of the values of the raw rows that share its q.
    """
    raw_q = np.asarray(raw_q, float)
    raw_I = np.asarray(raw_I, float)
    values = np.asarray(values, float)
    keep = np.isfinite(raw_q) & np.isfinite(raw_I) & (raw_q > 0) & (raw_I > 0)
    q, v = raw_q[keep], values[keep]
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
        return carry_over(raw.q, raw.I, arr, curve.q)

    sl = slit_length if slit_length is not None else getattr(raw, "dQl", None)
    sw = slit_width if slit_width is not None else getattr(raw, "dQw", None)
    data = make_fit_data(curve.q, curve.I, curve.dI, dQ=follow(raw.dQ),
                         slit_length=follow(sl), slit_width=follow(sw))
    return data, report


def read_slit(path, dataset: int = 0) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Slit length and width (``dxl``, ``dxw``) of 1D data set ``dataset`` in ``path``,
    as sasdata reads them (``None`` where the file has none)."""
    from sasdata.dataloader.loader import Loader

    from ..loading import _is_2d, _quiet_sasdata

    with _quiet_sasdata():
        datasets = [d for d in (Loader().load(str(path)) or []) if not _is_2d(d)
                    and np.ndim(getattr(d, "x", None)) == 1 and np.size(d.x)]
    data = datasets[dataset]
    out = []
    for name in ("dxl", "dxw"):
        arr = getattr(data, name, None)
        if arr is None or np.size(arr) != np.size(data.x) or not np.any(np.asarray(arr) > 0):
            out.append(None)
        else:
            out.append(np.asarray(arr, float))
    return out[0], out[1]


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


def rerank(fits: list[CandidateFit], probabilities) -> tuple[list[CandidateFit], float]:
    """Attach priors, posteriors and both ranks (see module docstring); returns the fits
    in the given order and the temperature ``T``."""
    p = np.asarray(probabilities, float)
    p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
    p = p / p.sum() if p.sum() > 0 else np.full(len(fits), 1.0 / max(1, len(fits)))
    ok = [i for i, f in enumerate(fits) if f.ok and math.isfinite(f.bic)]
    temperature = 1.0
    post = np.zeros(len(fits))
    if ok:
        temperature = max(1.0, min(fits[i].chi2r for i in ok))
        bic_min = min(fits[i].bic for i in ok)
        score = np.array([math.log(max(p[i], 1e-300)) - (fits[i].bic - bic_min) / (2 * temperature)
                          for i in ok])
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
    os.environ.setdefault("SAS_OPENCL", "none")


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


def default_workers(n_models: int) -> int:
    return max(1, min(n_models, os.cpu_count() or 1))


def warm_up(workers: int | None = None, models=()) -> None:
    """Start the worker pool and import sasmodels/bumps in it (and load ``models``'
    kernels), so the first verification does not pay for it. Blocks until done."""
    n = workers or default_workers(2)
    if n < 2:
        _worker_warm(models)
        return
    pool = _get_pool(n)
    futures = [pool.executor.submit(_worker_warm, tuple(models)) for _ in range(n)]
    wait(futures)


# --- main entry -----------------------------------------------------------------------
def verify_candidates(raw, models, probabilities=None, *, workers: int | None = None,
                      max_seconds: float = DEFAULT_MAX_SECONDS,
                      cancel: threading.Event | None = None, n_starts: int = DEFAULT_N_STARTS,
                      seed: int = 0, slit_length=None, slit_width=None) -> Verification:
    """Fit every model in ``models`` to ``raw`` and re-rank them with ``probabilities``.

    ``raw`` is a ``loading.RawCurve`` (it is cleaned with ``cleaning.clean_curve``;
    ``errors.DataError`` if unusable). ``probabilities`` are the network's, aligned with
    ``models`` (default: equal). ``workers``: processes to use (default: one per
    candidate up to the CPU count; ``1`` = in this process). ``max_seconds``: wall-clock
    budget of the whole call. ``cancel``: a ``threading.Event``; when set,
    :class:`VerificationCancelled` is raised promptly. ``n_starts``: LM runs per model.
    ``seed``: seed of the random starts (results are deterministic for a given seed
    unless the time budget cuts a fit short). ``slit_length``/``slit_width``: slit
    resolution (see :func:`prepare_data`).

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

    if n_workers == 1 or len(models) <= 1:
        fits = _run_serial(models, data, kwargs, deadline, cancel)
        n_workers = 1
    else:
        try:
            fits = _run_parallel(models, data, kwargs, deadline, cancel, n_workers)
        except BrokenProcessPool:
            notes.append("worker processes unavailable: fitted in this process")
            fits = _run_serial(models, data, kwargs, deadline, cancel)
            n_workers = 1

    ranked, temperature = rerank(fits, probabilities)
    return Verification(
        candidates=tuple(ranked), weighting=data.describe_weighting(),
        resolution=data.describe_resolution(), temperature=temperature,
        seconds=time.time() - t0, workers=n_workers, dI_estimated=data.sigma_estimated,
        notes=tuple(notes + list(data.notes)),
    )


def _share(deadline: float, n_left: int, n_workers: int) -> float:
    """Seconds a candidate starting now may use: a fair part of what is left."""
    remaining = deadline - time.time()
    return max(0.0, remaining * n_workers / max(1, n_left))


def _run_serial(models, data, kwargs, deadline, cancel) -> list[CandidateFit]:
    fits: list[CandidateFit | None] = [None] * len(models)
    abort = cancel.is_set if cancel is not None else None
    for i, model in enumerate(models):
        if cancel is not None and cancel.is_set():
            raise VerificationCancelled([f for f in fits if f is not None])
        share = _share(deadline, len(models) - i, 1)
        if share <= 0:
            fits[i] = failed(model, _NOT_STARTED)
            continue
        fit = fit_model(model, data, deadline=min(deadline, time.time() + share), abort=abort,
                        **kwargs)
        if cancel is not None and cancel.is_set():
            raise VerificationCancelled([f for f in fits if f is not None])
        fits[i] = fit
    return fits  # type: ignore[return-value]


def _run_parallel(models, data, kwargs, deadline, cancel, n_workers) -> list[CandidateFit]:
    pool = _get_pool(n_workers)
    with pool.run_lock:
        run_id = pool.new_run()
        fits: list[CandidateFit | None] = [None] * len(models)
        pending = list(range(len(models)))
        running: dict = {}
        try:
            while pending or running:
                while pending and len(running) < n_workers:
                    i = pending.pop(0)
                    share = _share(deadline, len(pending) + 1 + len(running), n_workers)
                    if share <= 0:
                        fits[i] = failed(models[i], _NOT_STARTED)
                        continue
                    task = {**kwargs, "deadline": min(deadline, time.time() + share)}
                    fut = pool.executor.submit(_worker_fit, models[i], data, task, run_id)
                    running[fut] = i
                if not running:
                    continue
                done, _ = wait(list(running), timeout=0.05, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = running.pop(fut)
                    try:
                        fits[i] = fut.result()
                    except BrokenProcessPool:
                        raise
                    except (CancelledError, Exception) as exc:  # noqa: BLE001
                        fits[i] = failed(models[i], f"worker error ({type(exc).__name__}: {exc})")
                if cancel is not None and cancel.is_set():
                    pool.cancel(run_id)
                    for fut in running:
                        fut.cancel()
                    wait(list(running), timeout=2.0)
                    raise VerificationCancelled([f for f in fits if f is not None])
                if running and time.time() > deadline + 5.0:
                    # one model evaluation overran the budget badly: stop waiting for it
                    pool.cancel(run_id)
                    wait(list(running), timeout=1.0)
                    for i in running.values():
                        fits[i] = failed(models[i], "time budget exhausted")
                    running.clear()
                    _drop_pool(pool)
        except BrokenProcessPool:
            _drop_pool(pool)
            raise
    return fits  # type: ignore[return-value]
