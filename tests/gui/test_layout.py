"""The perspective's layout at SasView's default size for it, 900×800, and shrunk
(issue 25 defect 5): after a verification and a SasView fit every column shown is
whole, the plot is not clipped; a shrinking window scrolls instead of drawing labels
over the table."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from sasview_helpers import fit_in_sasview, load_files, send, suggest, suggestion_perspective, \
    verify

pytestmark = pytest.mark.gui

FIT_TIMEOUT = 240_000


def settle(qtbot, perspective, width: int, height: int):
    window = perspective.parentWidget()  # SasView's sub-window holding the perspective
    window.setGeometry(0, 0, width, height)
    qtbot.wait(300)


def stacked_without_overlap(perspective) -> bool:
    """The labels, the tables and the plot follow one another, none over another."""
    widgets = [w for w in (perspective.lblStatus, perspective.lblWarning, perspective.lblNotes,
                           perspective.lblFit, perspective.tabs, perspective.plot)
               if w.isVisible()]
    content = perspective.scroll.widget()
    spans = [(w.mapTo(content, QPoint(0, 0)).y(), w.height()) for w in widgets]
    return all(top + height <= next_top for (top, height), (next_top, _) in
               zip(spans, spans[1:]))


def test_layout_at_900_by_800_and_shrunk(gui, qtbot, example_data):
    load_files(gui, qtbot, [example_data / "1d_data" / "hSDS_D2O_2p0_percent.xml"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    assert verify(qtbot, perspective) is not None
    _page, chi2 = fit_in_sasview(qtbot, perspective, FIT_TIMEOUT)
    assert chi2 is not None
    assert suggestion_perspective(gui, qtbot) is perspective
    assert not perspective.lblFit.isHidden()

    settle(qtbot, perspective, 900, 800)
    table = perspective.tblRanking
    shown = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    assert {3, 4, 5, 6, 7} <= set(shown)  # the verification's columns
    right = table.horizontalHeader().sectionPosition(shown[-1]) + table.columnWidth(shown[-1])
    assert right <= table.viewport().width()  # no column cut at the table's edge
    metrics = table.fontMetrics()
    for row in range(table.rowCount()):
        status = table.item(row, 7).text()
        if status.startswith("ok"):  # "ok (not converged)" whole, not "ok (not …"
            assert metrics.horizontalAdvance(status) < table.columnWidth(7), status
    if 8 not in shown:  # no room for the category: it is in the model's tooltip
        assert "SasView category:" in table.item(0, 1).toolTip()
    scroll = perspective.scroll
    assert scroll.verticalScrollBar().maximum() == 0  # all of it in view, the plot too
    assert perspective.plot.canvas.height() >= 200
    assert stacked_without_overlap(perspective)

    # SasView's Log Explorer, or the user, shrinks the window: it scrolls, nothing overlaps.
    settle(qtbot, perspective, 900, 500)
    assert scroll.verticalScrollBar().maximum() > 0
    assert stacked_without_overlap(perspective)
    assert table.height() >= table.preferred_height(3)
    settle(qtbot, perspective, 1300, 900)
    assert not table.isColumnHidden(8)  # room again: the category is back
    assert stacked_without_overlap(perspective)
