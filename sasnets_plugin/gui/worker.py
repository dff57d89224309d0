"""Background work for the perspective: network loading, ranking, fit planning,
fit verification.

Two shared, long-lived plain Python threads, each running its jobs in submission
order; results come back to the GUI thread through Qt signals (queued connections):

* the **network** thread (:data:`NETWORK`): everything TensorFlow (import, network
  load, prediction; the cached classifier is never loaded twice at once), and the
  quick start values of a fit (about a second of sasmodels evaluations), so an
  auto-fit follows its ranking;
* the **verification** thread (:data:`VERIFY`): :func:`verify`, i.e.
  :func:`sasnets_plugin.verification.verify_candidates` (no TensorFlow; the fits run in
  the verification's own process pool, started lazily by the first verification), so
  that a verification, which may take tens of seconds, never holds up ranking.

They are plain Python threads, not ``QThreadPool`` threads: PySide gives each
``QRunnable`` run its own Python thread state, while TensorFlow's pybind11 bindings
re-acquire the GIL with the thread state first registered for the OS thread; from the
second task on a pooled thread that is a different one, and the worker deadlocks on
its own GIL (seen in ``tf.function`` tracing).

TensorFlow and OpenGL in one process
------------------------------------
TensorFlow's libraries carry their own copy of LLVM and export its symbols globally;
Mesa's OpenGL drivers (llvmpipe, used under Xvfb and on many Linux desktops, radeonsi)
use the system's libLLVM. In one process the two copies resolve into each other and
the process segfaults (TensorFlow first: in Mesa's shader compiler; OpenGL first: in
TensorFlow's start-up). SasView builds OpenGL views (Shape2SAS) with its main window,
so the perspective (1) loads the OpenGL driver first, on the GUI thread
(:func:`load_opengl_driver`), and (2) imports TensorFlow with ``RTLD_DEEPBIND`` so its
libraries bind to their own LLVM (:func:`_tensorflow_import`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6 import QtCore

from ..errors import SasnetsError
from ..loading import RawCurve
from ..suggestion import Ranking, get_classifier, prepare, rank
from .state import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """The ranking of one data set, or why it could not be ranked."""

    key: int
    ranking: Ranking | None = None
    error: str | None = None


_import_lock = threading.Lock()
#: True once TensorFlow was imported here, isolated from OpenGL's LLVM.
tensorflow_isolated = False


@contextlib.contextmanager
def _tensorflow_import():
    """Let TensorFlow's libraries bind to their own symbols while it is imported."""
    global tensorflow_isolated
    with _import_lock:
        if "tensorflow" in sys.modules or not hasattr(os, "RTLD_DEEPBIND"):
            yield
            return
        flags = sys.getdlopenflags()
        sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
        try:
            yield
        finally:
            sys.setdlopenflags(flags)
            tensorflow_isolated = "tensorflow" in sys.modules


def classifier(device: str = "auto"):
    """:func:`~sasnets_plugin.suggestion.get_classifier` on ``device``, importing
    TensorFlow safely."""
    with _tensorflow_import():
        return get_classifier(device=device)


def load_opengl_driver() -> None:
    """Load the system OpenGL driver now (GUI thread), before TensorFlow is imported."""
    from PySide6 import QtGui

    if QtGui.QGuiApplication.instance() is None:
        return
    context = QtGui.QOpenGLContext()
    if not context.create():
        return
    surface = QtGui.QOffscreenSurface()
    surface.create()
    if context.makeCurrent(surface):
        context.doneCurrent()
    surface.destroy()


def load_network(device: str = "auto") -> list[str]:
    """Import TensorFlow and load the network on ``device`` (cached); the class names."""
    return list(classifier(device).classes)


def suggest_all(curves: list[tuple[int, RawCurve]], device: str = "auto") -> list[Outcome]:
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
        for (key, _), ranking in zip(ready, rank(classifier(device), [p for _, p in ready])):
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


#: The thread for TensorFlow (and quick start values).
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


def wait_idle(timeout: float = 60.0) -> bool:
    """Wait until no worker thread has a queued job (for scripts and tests)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(w.jobs.unfinished_tasks == 0 for w in list(_workers.values())):
            return True
        time.sleep(0.05)
    return False


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
