"""SasView 6.2's gaps the perspective works around, all in one place.

* :func:`guard_calc_threads`: a bug that can freeze the window (below);
* :func:`route_project_entries`: *Open Project* hands a project's entries only to the
  perspectives SasView knows, and one fit page it cannot restore stops the whole load;
* :func:`offer_analysis_files`: *Open Analysis* lists only SasView's own file types.

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
from typing import Any, Callable

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


#: A perspective's hook for its part of a project entry: ``(item, params, failure)``,
#: the Data Explorer's item (None if SasView made none), the perspective's saved part
#: (None if the entry has none) and the exception SasView's own loader raised (or None).
ProjectRestore = Callable[[Any, Any, Exception | None], None]


def route_project_entries(manager, key: str, restore: Callable[[], ProjectRestore | None]
                          ) -> bool:
    """Let *Open Project* / *Open Analysis* give a perspective its part back (once per
    Data Explorer); whether it was installed now.

    SasView 6.2's Data Explorer hands a project's entries only to the perspectives it
    knows (fit, invariant, corfunc, inversion keys), one data set after the other, and
    an exception in one (a fit page it cannot restore) ends the load: the later data
    sets never come back. This wraps its ``updatePerspectiveWithProperties`` so that
    SasView's own part of each entry runs first, an exception there is logged instead
    of ending the load, and ``restore()`` (the hook of the perspective of the moment:
    SasView rebuilds its perspectives on *Open Project*) then gets the entry's ``key``
    part, or the failure to tell the user about.
    """
    explorer = getattr(manager, "filesWidget", None)
    if explorer is None or getattr(explorer, "_sasnets_project_loader", False):
        return False
    original = explorer.updatePerspectiveWithProperties

    def update_perspective_with_properties(data_id, value):
        failure = None
        try:
            original(data_id, value)
        except Exception as exc:  # SasView's part of one data set: the others still load
            failure = exc
            log.warning("SasView could not restore the project entry %s", data_id,
                        exc_info=True)
        params = value.get(key) if isinstance(value, dict) else None
        if params is None and failure is None:
            return
        try:
            hook = restore()
            if hook is not None:
                hook(explorer.getItemForID(data_id), params, failure)
        except Exception:  # a damaged entry must not stop SasView's project load
            log.exception("Model Suggestion: could not restore %s from the project", data_id)

    explorer.updatePerspectiveWithProperties = update_perspective_with_properties
    explorer._sasnets_project_loader = True
    return True


def offer_analysis_files(manager, pattern: str) -> bool:
    """List ``pattern`` (e.g. ``Model Suggestion files (*.sugg)``) in *Open Analysis*'s
    file filter (once per Data Explorer); whether it was installed now.

    SasView 6.2 builds that filter from its configuration's fixed ``ANALYSIS_TYPES``.
    The pattern is added only while the dialog is open, so that SasView never saves it
    into the user's configuration file (it saves every entry that differs from its
    defaults).
    """
    from sas.system import config

    explorer = getattr(manager, "filesWidget", None)
    if explorer is None or getattr(explorer, "_sasnets_analysis_files", False):
        return False
    original = explorer.loadAnalysis

    def load_analysis():
        types = list(config.ANALYSIS_TYPES)
        config.ANALYSIS_TYPES = [*types, pattern]
        try:
            original()
        finally:
            config.ANALYSIS_TYPES = types

    explorer.loadAnalysis = load_analysis
    explorer._sasnets_analysis_files = True
    return True
