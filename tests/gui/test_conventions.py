"""SasView's conventions, through SasView's own menus and windows: Save/Open Project
keeps rankings and verifications, Report, Copy (text, Excel, LaTeX), a Preferences
page, a Help page shipped in the package, the plot's navigation toolbar."""
from __future__ import annotations

import json
import webbrowser
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtWidgets
from sasview_helpers import click, load_files, send, suggest, suggestion_perspective, verify

from sasnets_plugin.gui import PERSPECTIVE_NAME

pytestmark = pytest.mark.gui


@pytest.fixture
def ranked(gui, qtbot, example_data):
    """sphere_80.txt (verified) and cyl_400_20.txt (ranked) in the perspective."""
    load_files(gui, qtbot, [example_data / "1d_data" / n for n in ("sphere_80.txt",
                                                                   "cyl_400_20.txt")])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    combo = perspective.cbDataSet
    combo.setCurrentIndex(combo.findText("sphere_80.txt"))
    assert verify(qtbot, perspective) is not None
    return perspective


def table_models(perspective) -> list[str]:
    table = perspective.tblRanking
    return [table.item(r, 1).text() for r in range(table.rowCount())]


def test_project_save_and_open_keeps_rankings_and_verifications(gui, qtbot, ranked, tmp_path,
                                                                monkeypatch):
    perspective = ranked
    sphere = perspective.current_dataset()
    cylinder = next(d for d in perspective.datasets if d is not sphere)
    assert perspective.select_model("core_shell_sphere")
    before = {d.title: (d.ranking.models, d.ranking.probabilities.copy(), d.status,
                        d.selected) for d in perspective.datasets}
    ranks = {c.model: c.verified_rank for c in sphere.verified.candidates}
    chi2r = [c.chi2r for c in sphere.verified.candidates]

    project = tmp_path / "suggestions.json"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(project), "")))
    assert gui.actionSave_Project()
    saved = json.loads(project.read_text())
    entries = {v["suggestion_params"]["title"]: v["suggestion_params"]
               for v in saved.values() if isinstance(v, dict) and "suggestion_params" in v}
    assert set(entries) == {"sphere_80.txt", "cyl_400_20.txt"}
    assert entries["sphere_80.txt"]["current"] and "verification" in entries["sphere_80.txt"]
    assert "verification" not in entries["cyl_400_20.txt"]
    # Save Analysis: the data set shown only, in the perspective's own file type.
    analysis = tmp_path / "sphere.sugg"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(analysis), "")))
    gui.actionSave_Analysis()
    saved = json.loads(analysis.read_text())
    assert [v["suggestion_params"]["title"] for v in saved.values()] == ["sphere_80.txt"]

    # A fresh session: no data; open the project the way the File menu does.
    gui.filesWidget.deleteAllItems()
    perspective.reset()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(project), "")))
    gui.actionOpen_Project()
    reopened = gui.loadedPerspectives[PERSPECTIVE_NAME]  # SasView rebuilt its perspectives
    qtbot.waitUntil(lambda: len(reopened.datasets) == 2, timeout=60_000)
    assert {d.title for d in reopened.datasets} == set(before)
    for dataset in reopened.datasets:
        models, probabilities, status, selected = before[dataset.title]
        assert dataset.ranking.models == models
        np.testing.assert_allclose(dataset.ranking.probabilities, probabilities)
        assert dataset.status == status and dataset.selected == selected
    shown = reopened.current_dataset()
    assert shown.title == "sphere_80.txt"  # on display when saved
    assert {c.model: c.verified_rank for c in shown.verified.candidates} == ranks
    np.testing.assert_allclose([c.chi2r for c in shown.verified.candidates], chi2r)
    # ...and seen: the table with its verified columns, the status line, the selection.
    reopened_cylinder = next(d for d in reopened.datasets if d is not shown)
    assert reopened_cylinder.verified is None and cylinder.title == reopened_cylinder.title
    assert not reopened.tblRanking.isColumnHidden(3)
    assert len(table_models(reopened)) == len(before["sphere_80.txt"][0])
    assert reopened.lblStatus.text() == before["sphere_80.txt"][2][0]
    assert reopened.selected_model() == "core_shell_sphere"
    gui.filesWidget.cbFitting.setCurrentIndex(
        gui.filesWidget.cbFitting.findText(PERSPECTIVE_NAME))
    assert gui.perspective() is reopened
    # The reopened data sets work as before.
    click(qtbot, reopened.cmdVerify)
    qtbot.waitUntil(lambda: reopened.verify_job is None, timeout=180_000)


def test_report_shows_ranking_and_plot(gui, qtbot, ranked):
    perspective = ranked
    assert gui._workspace.actionReport.isEnabled()
    gui._workspace.actionReport.trigger()
    dialog = gui.report_dialog
    try:
        html = dialog.report_data.html
        dataset = perspective.current_dataset()
        assert "Model Suggestion: sphere_80.txt" in html
        for model in dataset.ranking.models[:5]:
            assert f">{model}<" in html
        assert "chi2r (no dI)" in html and "data:image/png;base64" in html
        assert "Verified in" in html  # the status line
    finally:
        dialog.close()


def test_copy_text_excel_and_latex(gui, qtbot, ranked):
    perspective = ranked
    dataset = perspective.current_dataset()
    clipboard = QtWidgets.QApplication.clipboard()
    workspace = gui._workspace
    assert workspace.actionCopy.isEnabled() and workspace.actionExcel.isEnabled()
    assert workspace.actionLatex.isEnabled()

    workspace.actionCopy.trigger()
    text = clipboard.text().splitlines()
    assert text[0] == "Model suggestion for sphere_80.txt"
    header = next(i for i, line in enumerate(text) if line.startswith("Rank\t"))
    assert len(text) - header - 1 == len(dataset.ranking.models)
    assert text[header + 1].split("\t")[1] == dataset.ranking.models[0]

    workspace.actionExcel.trigger()
    rows = [line.split("\t") for line in clipboard.text().splitlines()]
    assert rows[0][:3] == ["Rank", "Model", "Probability"]
    assert len(rows) == len(dataset.ranking.models) + 1
    verified = {r[1]: r[3] for r in rows[1:] if r[3]}
    assert verified == {c.model: str(c.verified_rank) for c in dataset.verified.candidates}

    workspace.actionLatex.trigger()
    latex = clipboard.text()
    assert latex.startswith(r"\begin{tabular}") and r"\end{tabular}" in latex
    assert dataset.ranking.models[0].replace("_", r"\_") in latex


def test_preferences_page_sets_top_k_and_budget(gui, qtbot, ranked):
    from sasnets_plugin.gui.sasview_hooks import settings_path
    from sasnets_plugin.gui.state import Settings

    perspective = ranked
    gui.actionOpen_Preferences()
    panel = gui.preferences
    try:
        panel.setMenuByName("Model Suggestion")
        page = panel.stackedWidget.currentWidget()
        assert page is perspective.preferences[0]
        page.txtTopK.setText("3")
        page.txtSeconds.setText("12")
        apply = panel.buttonBox.button(QtWidgets.QDialogButtonBox.Apply)
        assert apply.isEnabled()
        page.txtTopK.setText("0")  # out of range: SasView's panel refuses to apply it
        assert not apply.isEnabled()
        page.txtTopK.setText("3")
        click(qtbot, apply)
    finally:
        panel.close()
    assert perspective.settings == Settings(top_k=3, verify_seconds=12.0)
    assert Settings.load(settings_path()) == perspective.settings
    assert perspective.chkVerify.text() == "Verify top 3 by fitting"
    dataset = next(d for d in perspective.datasets if d.title == "cyl_400_20.txt")
    perspective.cbDataSet.setCurrentIndex(perspective.cbDataSet.findData(dataset.key))
    assert perspective.select_model(dataset.ranking.models[0])
    with qtbot.waitSignal(perspective.verificationFinished, timeout=180_000):
        click(qtbot, perspective.cmdVerify)
        assert perspective.verify_job.max_seconds == 12.0
    assert len(dataset.verified.candidates) == 3


def test_help_button_opens_the_shipped_help_page(gui, qtbot, ranked, monkeypatch):
    from sasnets_plugin.gui.sasview_hooks import HELP_PAGE

    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    click(qtbot, ranked.cmdHelp)
    assert opened == [HELP_PAGE.as_uri()]
    page = Path(HELP_PAGE).read_text()
    for section in ("Suggest model", "Verify fits", "Fit in SasView", "Preferences",
                    "sphere × S(q)", "no dI"):
        assert section in page, section


def test_plot_has_the_navigation_toolbar(gui, qtbot, ranked):
    toolbar = ranked.plot.toolbar
    assert toolbar.canvas is ranked.plot.canvas
    names = {a.text() for a in toolbar.actions()}
    assert {"Home", "Pan", "Zoom", "Save"} <= names
    zoom = next(a for a in toolbar.actions() if a.text() == "Zoom")
    zoom.trigger()
    assert str(toolbar.mode) == "zoom rect"
    zoom.trigger()
    assert str(toolbar.mode) == ""
