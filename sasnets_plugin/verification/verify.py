"""Fit a file's candidates, fit more when none fits, re-rank: the orchestration.

:func:`verify_many` (several files on one set of workers) and :func:`verify_candidates`
(one file) take data already prepared (:class:`.data.FitData`: the curve the network
read, cleaned once, with its resolution) and return :class:`.result.Verification`.
The parts: the verified order and the models that fit equally well (:mod:`.rerank`),
the rescue stages when none of the candidates fits within the noise (:mod:`.rescue`),
where the fits run (:mod:`.engines`). Callers that start from a network ranking use
the pipeline ``sasnets_plugin.suggestion.verify`` / ``verify_rankings``, which passes
the rest of the ranking as the rescue's reserve: every entry point (CLI, API, GUI,
benchmarks) verifies the same way.

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

Several files share the workers: each file's fits are submitted as soon as the file is
admitted (at most as many files in flight as workers, so that a file's safety clock
starts when its fits can), rescue stages as soon as a file's first stage is complete.

Cancellation: set the ``cancel`` event (from any thread). Workers check it before every
model evaluation, so the call returns within a fraction of a second by raising
:class:`.result.VerificationCancelled`; the fits that had completed are in its
``partial`` attribute. Only one verification runs on the shared pool at a time
(concurrent calls wait for each other).
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace

from .data import FitData
from .engines import DaskEngine, Engine, PoolEngine, Task, default_workers, forget_pool
from .fit_result import CandidateFit, failed
from .fitting import DEFAULT_WORK
from .invariants import Invariants, curve_invariants
from .rerank import rerank
from .rescue import (
    RESCUE_RANDOM_STARTS,
    RESCUE_STARTS,
    RESCUE_WORK_SHARE,
    Candidate,
    rescue_products,
    rescue_singles,
)
from .result import Verification, VerificationCancelled

log = logging.getLogger(__name__)

#: Default wall-clock safety cap of one file's verification (seconds): far above the
#: work budget's time on an idle machine (README: benchmarks), reached only when the
#: machine is many times slower than that or a kernel hangs.
DEFAULT_MAX_SECONDS = 60.0
#: Default number of Levenberg-Marquardt runs per model.
DEFAULT_N_STARTS = 6

#: Workers must return this long before the end of the safety cap (result transfer).
_RETURN_MARGIN = 0.3
#: A fit still running this long after the cap is stopped by force.
_GRACE = 0.5
#: Poll interval of the parent while fits run (seconds).
_POLL = 0.05

_NOT_STARTED = "safety cap reached before this model was fitted"
_CANCELLED = "fit failed: cancelled"
_OVERRUN = "safety cap (one model evaluation outlasted it; worker stopped)"


@dataclass(frozen=True)
class Request:
    """One file to verify: its prepared data, the candidates in network order with their
    probabilities, the rest of the network's ranking (``reserve``: rescue candidates
    and their priors come from it), how many classes the network ranks (``n_classes``,
    for the priors of models it was not asked about; None: the project's single models)
    and the candidates' ranks in the network's ranking (``network_ranks``; None: their
    order), and the network's parameter estimates by model (``estimates``, network v4:
    each fit screens its model's estimate as its first start)."""

    data: FitData
    models: tuple[str, ...]
    probabilities: tuple[float, ...] | None = None
    reserve: tuple[tuple[str, float], ...] = ()
    n_classes: int | None = None
    title: str = "data"
    network_ranks: tuple[int, ...] | None = None
    estimates: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass
class _File:
    """One file's verification in progress."""

    slot: int
    request: Request
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

    def __init__(self, engine: Engine, requests: Sequence[Request], *, max_seconds: float,
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

    def _admit(self, slot: int) -> _File:
        request = self.requests[slot]
        started = time.time()
        probabilities = (request.probabilities if request.probabilities is not None
                         else [1.0 / max(1, len(request.models))] * len(request.models))
        ranks = request.network_ranks or range(1, len(request.models) + 1)
        candidates = [Candidate(m, float(p), int(r))
                      for m, p, r in zip(request.models, probabilities, ranks)]
        data = request.data
        invariants = curve_invariants(data.q, data.I,
                                      None if data.sigma_estimated else data.sigma)
        file = _File(slot, request, invariants, candidates,
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
            model = file.candidates[i].model
            estimate = file.request.estimates.get(model)
            task = Task(model, file.request.data,
                        {**options, "estimate": dict(estimate)} if estimate else options)
            self._launch(file, i, task)

    def _record(self, file: _File, index: int, fit: CandidateFit):
        file.fits[index] = fit
        if len(self.requests) == 1:
            self.report(index, fit)

    def _launch(self, file: _File, index: int, task: Task):
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
                     file.request.title, len(extra), file.stage)
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
                extra = rescue_singles(file.candidates, file.request.reserve,
                                       file.request.n_classes)
            elif file.invariants.q_corr is not None:
                extra = rescue_products(file.candidates, fits, file.request.reserve,
                                        file.request.n_classes)
            else:
                extra = []
            if extra:
                return extra
        return None

    def _verification(self, file: _File) -> Verification:
        fits = [replace(file.fits[i], rescue=c.rescue) for i, c in enumerate(file.candidates)]
        ranked = rerank(fits, [c.probability for c in file.candidates],
                        network_ranks=[c.network_rank for c in file.candidates])
        data = file.request.data
        return Verification(
            candidates=ranked.fits, weighting=data.describe_weighting(),
            resolution=data.describe_resolution(), temperature=ranked.temperature,
            seconds=time.time() - file.started, workers=self.engine.n,
            dI_estimated=data.sigma_estimated, notes=tuple(file.notes + list(data.notes)),
            rescued=any(c.rescue for c in file.candidates),
            indistinguishable=ranked.indistinguishable, reasons=ranked.reasons)

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
                progress: Callable[[int, CandidateFit], None] | None = None
                ) -> list[Verification]:
    """Verify several files on one set of workers; one :class:`Verification` per request,
    in order.

    ``client``: a ``distributed.Client`` (:func:`sasnets_plugin.cluster.connect`) to fit
    on a Dask cluster; otherwise ``workers`` processes of the shared pool (default: one
    per candidate for one file, one per CPU for several), or this process for
    ``workers=1``. ``max_seconds``: the safety cap per file. ``work``: the work budget of
    one candidate fit (:mod:`.fitting`; rescue candidates get
    :data:`~.rescue.RESCUE_WORK_SHARE` of it). ``rescue``: fit more models when none of a
    file's candidates fits within the noise. ``n_starts``: LM runs per model. ``seed``:
    seed of the random starts (results are deterministic for given inputs unless the
    safety cap cuts a fit short). ``progress(index, fit)`` (single request only): called
    in the calling thread as each fit comes in, ``index`` being its place in
    ``.candidates``; its exceptions are logged. Raises :class:`VerificationCancelled`
    when ``cancel`` is set. A model whose fit fails is reported ``"fit failed: <reason>"``
    and ranked last: nothing a model does makes this function raise.

    Worker processes are started with the ``spawn`` method, which re-imports the calling
    script's ``__main__``: scripts must use the ``if __name__ == "__main__":`` guard (if
    the workers cannot start, the fits run in this process instead, with a note).
    """
    options = {"n_starts": n_starts, "seed": seed, "work": float(work)}
    t0 = time.time()

    def run(engine: Engine) -> list:
        return _Run(engine, requests, max_seconds=max_seconds, cancel=cancel, options=options,
                    rescue=rescue, progress=progress).run()

    if client is not None:
        return run(DaskEngine(client))
    if workers is not None:
        n = workers
    elif len(requests) == 1:
        n = default_workers(len(requests[0].models))
    else:
        n = os.cpu_count() or 1
    if n <= 1 or not requests:
        return run(Engine(cancel))
    engine = None
    try:
        engine = PoolEngine(n)
        return run(engine)
    except BrokenProcessPool:
        log.warning("Fit verification: worker processes unavailable; fitting in this process")
        if engine is not None:
            forget_pool(engine.pool)
        left = max(1.0, max_seconds - (time.time() - t0))
        results = _Run(Engine(cancel), requests, max_seconds=left, cancel=cancel,
                       options=options, rescue=rescue, progress=progress).run()
        note = "worker processes unavailable: fitted in this process"
        return [replace(r, notes=(*r.notes, note)) for r in results]
    finally:
        if engine is not None:
            engine.close()


def verify_candidates(data: FitData, models: Sequence[str],
                      probabilities: Sequence[float] | None = None, *,
                      reserve: Sequence[tuple[str, float]] = (), n_classes: int | None = None,
                      title: str = "data", **options) -> Verification:
    """Fit every model in ``models`` to ``data`` and re-rank them with ``probabilities``
    (the network's, aligned with ``models``; default: equal); when none fits within the
    noise, fit more (:mod:`.rescue`). ``data``: the prepared curve
    (``suggestion.prepare(raw).data``, or :func:`.data.prepare_data`); ``reserve``: the
    rest of the network's ranking as ``(model, probability)`` pairs, most probable
    first; ``n_classes``: how many classes the network ranks. ``options``: those of
    :func:`verify_many` (``workers``, ``client``, ``max_seconds``, ``cancel``,
    ``n_starts``, ``seed``, ``work``, ``rescue``, ``progress``).

    Returns a :class:`Verification`: the candidates in the given (network) order, then
    the rescue candidates, with fits, posteriors and both ranks; ``.ranked`` /
    ``.verified_order`` give the verified order (its first is the answer),
    ``.indistinguishable`` the models that fit equally well, ``.no_fit`` /
    ``.best_chi2r`` / ``.message`` whether anything fits. Raises ValueError for
    mismatched ``probabilities``.
    """
    models = tuple(str(m) for m in models)
    if probabilities is not None:
        probabilities = tuple(float(p) for p in probabilities)
        if len(probabilities) != len(models):
            raise ValueError(f"{len(models)} models but {len(probabilities)} probabilities")
    request = Request(data, models, probabilities,
                      tuple((str(m), float(p)) for m, p in reserve), n_classes, title)
    (result,) = verify_many([request], **options)
    return result
