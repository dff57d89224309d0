"""The threads the perspective's background work (:mod:`.tasks`: network loading,
ranking, fit planning, fit verification) runs on.

Two shared, long-lived plain Python threads, each running its jobs in submission
order; results come back to the GUI thread through Qt signals (queued connections):

* the **network** thread (:data:`NETWORK`): the network (load, prediction), and the
  quick start values of a fit (about a second of sasmodels evaluations), so an
  auto-fit follows its ranking;
* the **verification** thread (:data:`VERIFY`): :func:`.tasks.verify`, i.e. the
  pipeline's :func:`sasnets_plugin.suggestion.verify` (no network; the fits run in
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
import queue
import threading
from typing import Any, Callable

from PySide6 import QtCore

from ..errors import SasnetsError

log = logging.getLogger(__name__)


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
