"""Background work for the perspective: network loading, ranking, fit planning.

Everything slow (TensorFlow import, network load, prediction, model evaluations for
start values) runs on one shared worker thread (a ``QThreadPool`` of size one, so
tasks run in submission order and the cached classifier is never loaded twice at
once). Results come back to the GUI thread through Qt signals.
"""
from __future__ import annotations

import logging
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


def load_network() -> list[str]:
    """Import TensorFlow and load the network (cached); the class names."""
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
        classifier = get_classifier()
        for (key, _), ranking in zip(ready, rank(classifier, [p for _, p in ready])):
            outcomes[key] = Outcome(key, ranking=ranking)
    return [outcomes[key] for key, _ in curves]


class _Signals(QtCore.QObject):
    succeeded = QtCore.Signal(object)
    failed = QtCore.Signal(str)


class _Task(QtCore.QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: _Signals, what: str):
        super().__init__()
        self.fn = fn
        self.signals = signals
        self.what = what

    def run(self):  # runs on the worker thread
        try:
            result = self.fn()
        except SasnetsError as exc:
            self._emit(self.signals.failed, str(exc))
        except Exception as exc:  # a bug: keep the GUI alive and say so
            log.exception("Model Suggestion: %s failed", self.what)
            self._emit(self.signals.failed,
                       f"{self.what} failed unexpectedly: {exc!r} (details in the log).")
        else:
            self._emit(self.signals.succeeded, result)

    def _emit(self, signal, value):
        try:
            signal.emit(value)
        except RuntimeError:  # the window that asked was closed meanwhile
            log.debug("Model Suggestion: result of %s dropped", self.what)


_pool: QtCore.QThreadPool | None = None


def pool() -> QtCore.QThreadPool:
    """The single worker thread shared by every perspective instance."""
    global _pool
    if _pool is None:
        _pool = QtCore.QThreadPool()
        _pool.setMaxThreadCount(1)
        _pool.setExpiryTimeout(-1)
    return _pool


def run_in_background(fn: Callable[[], Any], on_success: Callable[[Any], None],
                      on_failure: Callable[[str], None], receiver: QtCore.QObject,
                      what: str = "background task") -> QtCore.QObject:
    """Run ``fn()`` on the worker thread; call back on the GUI thread.

    The callbacks are delivered through a signal object parented to ``receiver``, so
    they are dropped if ``receiver`` is destroyed first. Returns that object.
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
    pool().start(_Task(fn, signals, what))
    return signals
