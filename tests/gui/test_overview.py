"""The overview of every data set, in the real SasView window (issue 25): one row per
data set with its chosen model, probability, verification, χ²ᵣ and SasView fit;
sortable; a double click opens the data set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from sasview_helpers import fit_in_sasview, load_files, send, suggest, suggestion_perspective, \
    verify

from sasnets_plugin.models.products import display_name

pytestmark = pytest.mark.gui

FIT_TIMEOUT = 240_000


def file_name(dataset) -> str:
    from sas.qtgui.Utilities import GuiUtils

    return Path(GuiUtils.dataFromItem(dataset.item).filename).name


def overview_rows(perspective) -> dict[str, list[str]]:
    table = perspective.overview
    return {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}


def test_overview_lists_every_data_set_and_opens_one(gui, qtbot, example_data, tmp_path):
    from sasnets_plugin.gui.state import Settings

    bad = tmp_path / "all_negative.txt"
    q = np.linspace(0.01, 0.3, 30)
    np.savetxt(bad, np.column_stack([q, -1.0 - q]), header="Q I", comments="")
    files = [example_data / "1d_data" / n for n in ("sphere_80.txt", "cyl_400_20.txt")]
    load_files(gui, qtbot, [*files, bad])
    perspective = suggestion_perspective(gui, qtbot)
    perspective.apply_settings(Settings(top_k=2))
    send(gui)
    suggest(qtbot, perspective)
    by_file = {file_name(d): d for d in perspective.datasets}
    sphere, cylinder, failed = (by_file[n] for n in ("sphere_80.txt", "cyl_400_20.txt",
                                                     "all_negative.txt"))
    perspective.open_dataset(sphere.key)
    assert verify(qtbot, perspective) is not None
    perspective.open_dataset(cylinder.key)
    assert perspective.select_model("cylinder")
    _page, chi2 = fit_in_sasview(qtbot, perspective, FIT_TIMEOUT)
    assert chi2 is not None
    assert suggestion_perspective(gui, qtbot) is perspective  # back from the Fitting one

    assert perspective.tabs.tabText(1) == "All data sets (3)"
    rows = overview_rows(perspective)
    assert set(rows) == {sphere.title, cylinder.title, failed.title}
    best = sphere.verified.best
    assert rows[sphere.title][1] == display_name(best.model)
    assert rows[sphere.title][3] == f"#1 of {len(sphere.verified.candidates)}: {best.verdict}"
    assert rows[sphere.title][4] == f"{best.chi2r:.3g}"
    assert rows[cylinder.title][1] == "cylinder"
    probability = cylinder.ranking.probabilities[cylinder.ranking.models.index("cylinder")]
    assert rows[cylinder.title][2] == f"{100 * probability:.1f} %"
    assert rows[cylinder.title][3] == "not verified"
    assert rows[cylinder.title][5] == f"{chi2:.4g}"  # SasView's, for the chosen model
    assert rows[failed.title][1] == "" and rows[failed.title][3].startswith("not ranked:")

    # Sortable: by χ²ᵣ, the verified one first; by data set name.
    table = perspective.overview
    table.sortByColumn(4, Qt.AscendingOrder)
    assert table.item(0, 0).text() == sphere.title
    table.sortByColumn(0, Qt.DescendingOrder)
    titles = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert titles == sorted(titles, reverse=True)

    # A choice made in the ranking shows at once; a double click opens a data set.
    perspective.tabs.setCurrentWidget(table)
    perspective.open_dataset(sphere.key)
    perspective.tabs.setCurrentWidget(table)
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == cylinder.title)
    rect = table.visualItemRect(table.item(row, 1))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())  # as a user's
    qtbot.mouseDClick(table.viewport(), Qt.LeftButton, pos=rect.center())  # double click
    assert perspective.current_dataset() is cylinder
    assert perspective.tabs.currentWidget() is perspective.tblRanking
    assert perspective.select_model("sphere")
    assert overview_rows(perspective)[cylinder.title][1] == "sphere"
    assert overview_rows(perspective)[cylinder.title][5] == f"{chi2:.4g} (cylinder)"
