"""A SasView bug that can freeze the window the perspective lives in, and its guard.

SasView 6.2's ``CalcThread._run`` (``sas.sascalc.data_util.calcthread``) leaves the
loop that empties its work queue with the thread's lock still held. The Fitting
perspective calls ``ready()`` on a calculation thread right after ``queue()``: when the
calculation finishes first, ``ready()`` waits on that lock forever, on the GUI thread
(seen here once in ``tests/gui/test_start_limits.py`` under heavy load; a SasView user
starting fits can hit it too).

:func:`guard_calc_threads` checks for the bug with a probe thread and, only if the lock is
left held, wraps ``_run`` so that it releases it on the way out. A SasView without the
bug is left untouched.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

_PROBE_SECONDS = 2.0
_guarded = False


def finished_calc_thread(calcthread):
    """A fresh ``CalcThread`` whose one no-op work unit has run and whose thread has
    ended; None if that took longer than the probe allows."""
    done = threading.Event()

    class Probe(calcthread.CalcThread):
        def compute(self):
            done.set()

    probe = Probe()
    probe.queue()
    deadline = time.monotonic() + _PROBE_SECONDS
    if not done.wait(_PROBE_SECONDS):
        return None
    while probe.isrunning() and time.monotonic() < deadline:
        time.sleep(0.005)
    return None if probe.isrunning() else probe


def _leaves_lock_held(calcthread) -> bool:
    """Whether a finished ``CalcThread`` still holds its lock (the bug)."""
    probe = finished_calc_thread(calcthread)
    return probe is not None and probe._lock.locked()


def guard_calc_threads() -> bool:
    """Apply the guard when this SasView needs it (once per process); whether it did."""
    global _guarded
    if _guarded:
        return True
    from sas.sascalc.data_util import calcthread

    if not _leaves_lock_held(calcthread):
        return False
    original = calcthread.CalcThread._run

    def _run(self):
        original(self)
        # the bug: ``_run`` returned holding the lock (no other thread can hold it now)
        if self._lock.locked():
            self._lock.release()

    calcthread.CalcThread._run = _run
    _guarded = True
    log.info("Model Suggestion: SasView's calculation threads now release their lock when "
             "they finish (SasView 6.2 bug: a fit could freeze the window)")
    return True
