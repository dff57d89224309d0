"""Background work for the perspective: network loading, ranking, fit planning.

Everything slow (TensorFlow import, network load, prediction, model evaluations for
start values) runs on one shared, long-lived worker thread, so tasks run in
submission order and the cached classifier is never loaded twice at once. Results
come back to the GUI thread through Qt signals (queued connections).

It is a plain Python thread, not a ``QThreadPool`` thread: PySide gives each
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
from dataclasses import dataclass
from typing import Any, Callable

from PySide6 import QtCore

from ..errors import SasnetsError
from ..loading import RawCurve
from ..suggestion import Ranking, get_classifier, prepare, rank

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


def classifier():
    """:func:`~sasnets_plugin.suggestion.get_classifier`, importing TensorFlow safely."""
    with _tensorflow_import():
        return get_classifier()


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


def load_network() -> list[str]:
    """Import TensorFlow and load the network (cached); the class names."""
    return list(classifier().classes)


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
        for (key, _), ranking in zip(ready, rank(classifier(), [p for _, p in ready])):
            outcomes[key] = Outcome(key, ranking=ranking)
    return [outcomes[key] for key, _ in curves]


class _Signals(QtCore.QObject):
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(object)  # a SasnetsError: str() is the user message


class _Worker(threading.Thread):
    """Runs ``(fn, signals, what)`` jobs one after the other."""

    def __init__(self):
        super().__init__(name="sasnets-worker", daemon=True)
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


_worker: _Worker | None = None
_worker_lock = threading.Lock()


def worker() -> _Worker:
    """The worker thread shared by every perspective instance (started on first use)."""
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            _worker = _Worker()
            _worker.start()
        return _worker


def wait_idle(timeout: float = 60.0) -> bool:
    """Wait until the worker has no queued job (for scripts and tests)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _worker is None or _worker.jobs.unfinished_tasks == 0:
            return True
        time.sleep(0.05)
    return False


def run_in_background(fn: Callable[[], Any], on_success: Callable[[Any], None],
                      on_failure: Callable[[SasnetsError], None], receiver: QtCore.QObject,
                      what: str = "background task") -> QtCore.QObject:
    """Run ``fn()`` on the worker thread; call back on the GUI thread.

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
    worker().jobs.put((fn, signals, what))
    return signals
