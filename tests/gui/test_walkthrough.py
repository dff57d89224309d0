"""Defects a new user met walking the perspective in the real SasView window (issue 25):
the model filter (3), returning here during a SasView fit (4), unreadable files (6),
a data set that failed to rank (9)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from sasview_helpers import (choose_perspective, connected, fit_in_sasview,
                             load_files, send, suggest, suggestion_perspective)

from sasnets_plugin.gui import PERSPECTIVE_NAME

pytestmark = pytest.mark.gui

FIT_TIMEOUT = 240_000


def file_name(dataset) -> str:
    from sas.qtgui.Utilities import GuiUtils

    return Path(GuiUtils.dataFromItem(dataset.item).filename).name


def choose(perspective, name: str):
    """Show the data set read from the file ``name``."""
    dataset = next(d for d in perspective.datasets if file_name(d) == name)
    perspective.cbDataSet.setCurrentIndex(perspective.cbDataSet.findData(dataset.key))
    return dataset


def test_the_model_filter_never_changes_a_chosen_model(gui, qtbot, example_data):
    """Defect 3: the filter text stayed when switching data sets and each data set
    looked at got its first match selected, kept after the filter was cleared: Fit in
    SasView then fitted that match."""
    files = ("sphere_80.txt", "cyl_400_20.txt")
    load_files(gui, qtbot, [example_data / "1d_data" / name for name in files])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    chosen = {}
    for name in files:
        dataset = choose(perspective, name)
        chosen[name] = perspective.selected_model()
        assert chosen[name] == dataset.chosen()
    qtbot.keyClicks(perspective.txtSearch, "hardsphere")
    for name in files + files:
        dataset = choose(perspective, name)
        assert perspective.selected_model() == dataset.chosen() == chosen[name], name
        assert "hardsphere" not in perspective.selected_model()
        assert "is hidden" in perspective.lblMatches.text()
    perspective.txtSearch.clear()
    for name in files:
        dataset = choose(perspective, name)
        assert perspective.selected_model() == dataset.chosen() == chosen[name], name
    # Choosing is explicit: Enter in the box takes the first match, for this data set.
    qtbot.keyClicks(perspective.txtSearch, "hardsphere")
    qtbot.keyClick(perspective.txtSearch, Qt.Key_Return)
    assert "hardsphere" in perspective.selected_model()
    assert choose(perspective, "sphere_80.txt").chosen() == chosen["sphere_80.txt"]


def test_returning_here_during_a_sasview_fit_updates_sasview_fit_results(
        gui, qtbot, example_data):
    """Defect 4: back in this perspective while a fit started here ran, SasView's
    ``GuiManager.showFitResults`` raised ``AttributeError: ... 'optimizer'`` when the
    fit ended, and its fit-results panel was not updated."""
    load_files(gui, qtbot, [example_data / "1d_data" / "cyl_400_20.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    assert perspective.select_model("cylinder")
    back = []

    def come_back(page, model):  # the fit runs in SasView's thread: we are back first
        back.append(choose_perspective(gui, PERSPECTIVE_NAME))

    panel = gui.results_panel
    panel.setWindowTitle("")
    with connected(perspective.fitStarted, come_back):
        page, chi2 = fit_in_sasview(qtbot, perspective, FIT_TIMEOUT)
    assert back == [perspective] and chi2 is not None
    qtbot.waitUntil(lambda: panel.windowTitle() != "", timeout=10_000)
    assert gui.perspective() is perspective
    optimizer = gui.loadedPerspectives["Fitting"].optimizer
    assert panel.windowTitle().endswith(f" - {optimizer}"), panel.windowTitle()
    assert page.logic.data.name in panel.windowTitle()


def test_unreadable_files_are_named_once(gui, qtbot, example_data, tmp_path):
    """Defect 6: random bytes and a 4-line file SasView reads as 0 points gave "The data
    set has no q / I columns. The data set has no q / I columns.": no file name,
    repeated, above another data set's table."""
    noise = tmp_path / "noise.txt"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    short = tmp_path / "four_lines.txt"
    short.write_text("# title\n# Q I\nq intensity\n\n")
    load_files(gui, qtbot, [example_data / "1d_data" / "sphere_80.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    loaded = load_files(gui, qtbot, [noise, short])
    assert loaded, "SasView did not load the damaged files"
    send(gui)
    message = perspective.lblStatus.text()
    for item in loaded:
        assert message.count(item.text()) == 1, message
    sentences = [s for s in message.split(":") if "no q / I columns" in s]
    assert sentences and len(set(sentences)) == len(sentences), message
    assert [file_name(d) for d in perspective.datasets] == ["sphere_80.txt"]


def test_a_data_set_that_failed_to_rank_does_not_block_suggest(gui, qtbot, example_data,
                                                               tmp_path):
    """Defect 9: Suggest model could not re-rank the data set shown while another one
    had failed to rank: each click silently retried the failed one."""
    bad = tmp_path / "all_negative.txt"
    q = np.linspace(0.01, 0.3, 30)
    np.savetxt(bad, np.column_stack([q, -1.0 - q]), header="Q I", comments="")
    load_files(gui, qtbot, [bad, example_data / "1d_data" / "sphere_80.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    failed = choose(perspective, "all_negative.txt")
    assert failed.ranking is None and failed.outcome.error
    sphere = choose(perspective, "sphere_80.txt")
    first = sphere.ranking
    assert first is not None
    ranked = []
    with connected(perspective.statusChanged,
                   lambda key, text: ranked.append(key) if text.startswith("Ranking") else None):
        suggest(qtbot, perspective)
    assert ranked == [sphere.key]
    assert sphere.ranking is not first and "Ranked" in perspective.lblStatus.text()
    # The failed one is tried again when it is the one shown.
    choose(perspective, "all_negative.txt")
    ranked.clear()
    with connected(perspective.statusChanged,
                   lambda key, text: ranked.append(key) if text.startswith("Ranking") else None):
        suggest(qtbot, perspective)
    assert ranked == [failed.key]
    assert "Not ranked" in perspective.lblStatus.text()


@pytest.fixture
def verified_sphere(gui, qtbot, example_data):
    """sphere_80.txt ranked, its top 2 verified."""
    from sasview_helpers import verify

    from sasnets_plugin.gui.state import Settings

    load_files(gui, qtbot, [example_data / "1d_data" / "sphere_80.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    perspective.apply_settings(Settings(top_k=2))
    send(gui)
    suggest(qtbot, perspective)
    assert verify(qtbot, perspective) is not None
    return perspective


def test_copies_leave_the_status_line_alone(gui, qtbot, verified_sphere):
    """Defect 7: Copy / Excel / LaTeX replaced the data set's status line for good
    ("Ranking copied to the clipboard (LaTeX)."), which the report then showed as its
    Status and the project saved."""
    perspective = verified_sphere
    dataset = perspective.current_dataset()
    status, shown = dataset.status, perspective.lblStatus.text()
    assert shown.startswith("Verified")
    workspace = gui._workspace
    for action, what in ((workspace.actionCopy, "text"), (workspace.actionExcel, "Excel"),
                         (workspace.actionLatex, "LaTeX")):
        action.trigger()
        assert dataset.status == status and perspective.lblStatus.text() == shown
        assert f"copied to the clipboard ({what})" in gui.statusLabel.text()
    assert dataset.to_dict()["status"][0] == status[0]


def test_table_and_copies_say_the_same(gui, qtbot, verified_sphere):
    """Defect 8: the copies said "ok" where the table said "ok (not converged)", and
    the column was "Posterior" in the table, "Combined score" in the copies."""
    from PySide6 import QtWidgets

    perspective = verified_sphere
    table = perspective.tblRanking
    gui._workspace.actionExcel.trigger()
    rows = [line.split("\t") for line in QtWidgets.QApplication.clipboard().text().splitlines()]
    header = [table.horizontalHeaderItem(c).text().replace("\n", " ")
              for c in range(table.columnCount())
              if not table.isColumnHidden(c)]
    assert "Combined score" in header and "Combined score" in rows[0]
    copied = {row[1]: row for row in rows[1:] if row[3]}
    status_column = rows[0].index("Fit status")
    for r in range(table.rowCount()):
        model = table.item(r, 1).data(0x0100 + 2)
        if model in copied:
            assert table.item(r, 7).text() == copied[model][status_column], model


def test_error_bars_do_not_squeeze_the_data(gui, qtbot, example_data):
    """Defect 10: error bars clipped at 0.999·I stretched the log axis down to 1e-6..1e-8
    (SDS), squeezing the data into a few pixels."""
    load_files(gui, qtbot, [example_data / "1d_data" / "hSDS_D2O_2p0_percent.xml"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    dataset = perspective.current_dataset()
    I = dataset.raw.I[dataset.ranking.prepared.report.kept]  # noqa: E741
    low, high = perspective.plot.axes.get_ylim()
    assert I[I > 0].min() / 10 < low <= I[I > 0].min()
    assert I.max() <= high < I.max() * 10


def test_sorting_enter_and_analysis_files(gui, qtbot, example_data, monkeypatch):
    """Defect 11: the first click on Probability sorted the least probable first with
    no sort arrow (now an arrow in the sorted column's title); Enter on a row did
    nothing; Open Analysis did not list *.sugg."""
    from PySide6 import QtWidgets
    from sas.system import config

    load_files(gui, qtbot, [example_data / "1d_data" / "cyl_400_20.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    table = perspective.tblRanking
    header = table.horizontalHeader()
    position = header.sectionViewportPosition(2) + header.sectionSize(2) // 2
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(position, 5))
    probabilities = [table.item(r, 2).data(0x0100) for r in range(table.rowCount())]
    assert probabilities == sorted(probabilities, reverse=True)
    assert table.horizontalHeaderItem(2).text() == "Probability ▼"  # the arrow shows it
    assert table.horizontalHeaderItem(0).text() == "Rank"
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(position, 5))
    assert table.horizontalHeaderItem(2).text() == "Probability ▲"
    assert table.item(0, 2).data(0x0100) == min(probabilities)

    assert perspective.select_model("cylinder")
    table.setFocus()
    with qtbot.waitSignal(perspective.fitFinished, timeout=FIT_TIMEOUT) as finished:
        qtbot.keyClick(table, Qt.Key_Return)
    assert finished.args[0] is not None
    assert perspective.current_dataset().fit.model == "cylinder"

    filters = []
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: filters.append(k.get("filter")) or ("", "")))
    types = list(config.ANALYSIS_TYPES)
    gui._workspace.actionOpen_Analysis.trigger()
    assert filters and "Model Suggestion files (*.sugg)" in filters[0]
    assert config.ANALYSIS_TYPES == types  # never saved into SasView's configuration
