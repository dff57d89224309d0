"""SasView 6.2's calculation threads keep their lock when they finish; the Fitting
perspective's ``ready()`` right after ``queue()`` then freezes the GUI thread. The guard
(applied by the perspective) makes a finished thread's ``ready()`` return."""
import threading

from sas.sascalc.data_util import calcthread

from sasnets_plugin.gui import sasview_fixes


def _ready_after_finish() -> bool:
    """Call ready() on a finished calculation thread, as FittingWidget does right after
    queue(); whether it returned within 2 s."""
    calc = sasview_fixes.finished_calc_thread(calcthread)
    assert calc is not None
    caller = threading.Thread(target=calc.ready, args=(2.5,), daemon=True)
    caller.start()
    caller.join(2.0)
    return not caller.is_alive()


def test_a_finished_calc_thread_does_not_freeze_its_caller():
    if not sasview_fixes._guarded:  # the perspective has not guarded this process yet
        buggy = sasview_fixes._leaves_lock_held(calcthread)
        assert _ready_after_finish() is not buggy  # the probe sees what a caller meets
    sasview_fixes.guard_calc_threads()
    assert _ready_after_finish()
