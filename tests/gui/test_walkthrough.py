"""Defects a new user met walking the perspective in the real SasView window (issue 25):
the model filter (3), returning here during a SasView fit (4), unreadable files (6),
a data set that failed to rank (9)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
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
