"""Background work for the perspective: network loading, ranking, fit planning,
fit verification.

Two shared, long-lived plain Python threads, each running its jobs in submission
order; results come back to the GUI thread through Qt signals (queued connections):

* the **network** thread (:data:`NETWORK`): the network (load, prediction), and the
  quick start values of a fit (about a second of sasmodels evaluations), so an
  auto-fit follows its ranking;
* the **verification** thread (:data:`VERIFY`): :func:`verify`, i.e.
  :func:`sasnets_plugin.verification.verify_candidates` (no network; the fits run in
  the verification's own process pool, started lazily by the first verification), so
  that a verification, which may take tens of seconds, never holds up ranking.

They are plain Python threads, not ``QThreadPool`` threads: PySide gives each
``QRunnable`` run its own Python thread state, while TensorFlow's pybind11 bindings
re-acquire the GIL with the thread state first registered for the OS thread; from the
second task on a pooled thread that is a different one, and the worker deadlocks on
its own GIL (seen in ``tf.function`` tracing).

The network runs in LiteRT, which (unlike TensorFlow, whose bundled LLVM clashed with
Mesa's OpenGL drivers) exports no LLVM symbols: SasView's OpenGL views and the network
share the process without precautions.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6 import QtCore

from ..errors import SasnetsError
from ..loading import RawCurve
from ..suggestion import get_classifier, prepare, rank
from .state import Outcome, Settings

log = logging.getLogger(__name__)


def load_network() -> list[str]:
    """Load the network (cached; the light runtime, see :class:`.state.Settings`); the
    class names."""
    return list(get_classifier().classes)


def suggest_all(curves: list[tuple[int, RawCurve]]) -> list[Outcome]:
    """Clean and rank every curve; a curve that cannot be ranked gets its message.

    A :class:`~sasnets_plugin.errors.WeightsError` (no usable network) is raised, since
    it concerns every curve.
    """
    outcomes: dict[int, Outcome] = {}
    ready = []
    for key, raw in curves:
        try:
            ready.append((key, prepare(raw)))
        except SasnetsError as exc:
            outcomes[key] = Outcome(key, error=str(exc))
    if ready:
        for (key, _), ranking in zip(ready, rank(get_classifier(),
                                                 [p for _, p in ready])):
            outcomes[key] = Outcome(key, ranking=ranking)
    return [outcomes[key] for key, _ in curves]


# --------------------------------------------------------------------------- verification

@dataclass(eq=False)
class VerifyJob:
    """One fit verification: the candidates of one data set, and its cancel switch.

    ``phase`` ("queued", "starting", "fitting", "done") and ``fitting_since`` are
    written by the verification thread and read by the GUI (progress bar).
    """

    key: int
    raw: RawCurve
    models: tuple[str, ...]
    probabilities: tuple[float, ...]
    max_seconds: float = Settings.verify_seconds
    cancel: threading.Event = field(default_factory=threading.Event)
    phase: str = "queued"
    fitting_since: float | None = None

    @property
    def workers(self) -> int:
        """Worker processes: one per candidate, at most one per CPU."""
        return max(1, min(len(self.models), os.cpu_count() or 1))


def verify(job: VerifyJob):
    """Fit ``job``'s candidates to its data (verification thread); a ``Verification``.

    Before the time budget starts, the verification's process pool is started (first
    call only) and the candidates' kernels are loaded in it
    (:func:`~sasnets_plugin.verification.warm_up`; quick once done). Raises
    :class:`~sasnets_plugin.verification.VerificationCancelled` when ``job.cancel`` is
    set, ``DataError`` for unusable data.
    """
    from ..verification import VerificationCancelled, verify_candidates, warm_up

    job.phase = "starting"
    try:
        if job.cancel.is_set():
            raise VerificationCancelled([])
        try:
            warm_up(workers=job.workers, models=job.models)
        except Exception:  # no worker processes: verify_candidates then fits in-process
            log.warning("Model Suggestion: could not start the fit workers", exc_info=True)
        if job.cancel.is_set():
            raise VerificationCancelled([])
        job.fitting_since = time.monotonic()
        job.phase = "fitting"
        return verify_candidates(job.raw, list(job.models), list(job.probabilities),
                                 workers=job.workers, max_seconds=job.max_seconds,
                                 cancel=job.cancel)
    finally:
        job.phase = "done"


# --------------------------------------------------------------------------- threads

class _Signals(QtCore.QObject):
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(object)  # a SasnetsError: str() is the user message


class _Worker(threading.Thread):
    """Runs ``(fn, signals, what)`` jobs one after the other."""

    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self.jobs: queue.Queue = queue.Queue()

    def run(self):
        while True:
            fn, signals, what = self.jobs.get()
            try:
                result = fn()
            except SasnetsError as exc:
                _emit(signals.failed, exc, what)
            except Exception as exc:  # a bug: keep the GUI alive and say so
                log.exception("Model Suggestion: %s failed", what)
                _emit(signals.failed,
                      SasnetsError(f"{what} failed unexpectedly: {exc!r} (details in the log)."),
                      what)
            else:
                _emit(signals.succeeded, result, what)
            finally:
                self.jobs.task_done()


def _emit(signal, value, what):
    try:
        signal.emit(value)
    except RuntimeError:  # the window that asked was closed meanwhile
        log.debug("Model Suggestion: result of %s dropped", what)


#: The thread for the network (and quick start values).
NETWORK = "sasnets-worker"
#: The thread for fit verifications.
VERIFY = "sasnets-verify"

_workers: dict[str, _Worker] = {}
_worker_lock = threading.Lock()


def worker(thread: str = NETWORK) -> _Worker:
    """The worker thread ``thread`` shared by every perspective (started on first use)."""
    with _worker_lock:
        current = _workers.get(thread)
        if current is None or not current.is_alive():
            current = _workers[thread] = _Worker(thread)
            current.start()
        return current


def run_in_background(fn: Callable[[], Any], on_success: Callable[[Any], None],
                      on_failure: Callable[[SasnetsError], None], receiver: QtCore.QObject,
                      what: str = "background task", thread: str = NETWORK) -> QtCore.QObject:
    """Run ``fn()`` on the worker thread ``thread``; call back on the GUI thread.

    ``on_success(result)``, or ``on_failure(error)`` with a
    :class:`~sasnets_plugin.errors.SasnetsError` whose ``str`` is the user message. The
    callbacks are delivered through a signal object parented to ``receiver``, so they
    are dropped if ``receiver`` is destroyed first. Returns that object.
    """
    signals = _Signals(receiver)

    def succeeded(result):
        signals.deleteLater()
        on_success(result)

    def failed(message):
        signals.deleteLater()
        on_failure(message)

    signals.succeeded.connect(succeeded, QtCore.Qt.QueuedConnection)
    signals.failed.connect(failed, QtCore.Qt.QueuedConnection)
    worker(thread).jobs.put((fn, signals, what))
    return signals
