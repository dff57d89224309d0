"""The Model Suggestion perspective inside the real SasView main window.

Nothing of SasView or of the network is mocked: data are loaded by the Data Explorer,
sent with its "Send to" button, ranked by the network, fitted by SasView's Fitting
perspective.
"""
from __future__ import annotations

import logging
import math
import os

import numpy as np
import pytest
from sasview_helpers import (choose_perspective, click, load_files, no_modal_dialog, send,
                             suggest, suggestion_perspective)

from sasnets_plugin.gui import PERSPECTIVE_NAME
from sasnets_plugin.gui.fitting_bridge import FROM_START_VALUES, FROM_VERIFIED_FIT
from sasnets_plugin.models import products

pytestmark = pytest.mark.gui

FIT_TIMEOUT = 240_000
VERIFY_TIMEOUT = 180_000


def ui():
    """``sasnets_plugin.gui.ranking_table`` (its column constants), imported on first use:
    importing the GUI at collection time would bind SasView's perspectives to twisted's
    default reactor before SasView installs its Qt one."""
    from sasnets_plugin.gui import ranking_table

    return ranking_table


def table_rows(perspective):
    table = perspective.tblRanking
    rows = []
    for row in range(table.rowCount()):
        rows.append((int(table.item(row, ui().COL_RANK).text()),
                     table.item(row, ui().COL_MODEL).text(),
                     table.item(row, ui().COL_PROBABILITY).data(0x0100),
                     table.item(row, ui().COL_CATEGORY).text()))
    return rows


def verified_rows(perspective) -> dict[str, dict[str, str]]:
    """Model -> verification cells, for the rows that have them."""
    table = perspective.tblRanking
    out = {}
    for row in range(table.rowCount()):
        cells = {ui().COLUMNS[c]: table.item(row, c).text() for c in ui().VERIFICATION_COLUMNS}
        cells["status tooltip"] = table.item(row, ui().COL_STATUS).toolTip()
        if cells["Verified #"]:
            out[table.item(row, ui().COL_MODEL).text()] = cells
    return out


def test_registered_in_sasview(gui, qtbot):
    import sas.qtgui.Perspectives as perspectives
    import sas.qtgui.Perspectives.Invariant.InvariantPerspective as invariant
    from twisted.internet import reactor

    from sasnets_plugin.gui.perspective import ModelSuggestionWindow

    assert perspectives.PERSPECTIVES[PERSPECTIVE_NAME] is ModelSuggestionWindow
    assert isinstance(gui.loadedPerspectives[PERSPECTIVE_NAME], ModelSuggestionWindow)
    combo = gui.filesWidget.cbFitting
    assert PERSPECTIVE_NAME in [combo.itemText(i) for i in range(combo.count())]
    # Registered after SasView installed its Qt reactor: no module holds a dead one.
    assert type(reactor).__name__ == "QtReactor"
    assert invariant.reactor is reactor

    actions = {a.text(): a for a in gui._workspace.menuAnalysis.actions()}
    actions[PERSPECTIVE_NAME].trigger()
    assert gui.perspective() is gui.loadedPerspectives[PERSPECTIVE_NAME]
    assert combo.currentText() == PERSPECTIVE_NAME
    assert actions[PERSPECTIVE_NAME].isChecked()
    actions["Fitting"].trigger()
    assert gui.perspective().name == "Fitting"
    assert not actions[PERSPECTIVE_NAME].isChecked()
    choose_perspective(gui, PERSPECTIVE_NAME)
    assert actions[PERSPECTIVE_NAME].isChecked()


def test_suggest_then_fit_cylinder(gui, qtbot, example_data, network_classes):
    path = example_data / "1d_data" / "cyl_400_20.txt"
    (item,) = load_files(gui, qtbot, [path])
    perspective = suggestion_perspective(gui, qtbot)
    assert perspective.network_ready, perspective.lblNetwork.text()
    send(gui)
    assert [d.title for d in perspective.datasets] == ["cyl_400_20.txt"]

    suggest(qtbot, perspective)
    rows = table_rows(perspective)
    assert len(rows) == len(network_classes)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert sorted(r[1] for r in rows) == sorted(map(products.display_name, network_classes))
    probabilities = np.array([r[2] for r in rows])
    assert np.all(np.diff(probabilities) <= 0)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    category = {r[1]: r[3] for r in rows}
    assert category["cylinder"] == "Cylinder" and category["sphere"] == "Sphere"
    # At least five rows visible (the splitter below the table moves), the rest behind
    # the scroll bar.
    table = perspective.tblRanking
    assert 5 <= table.viewport().height() // table.rowHeight(0) < table.rowCount()
    # The plot shows the data and the curve the network read.
    read_q, _ = perspective.current_dataset().ranking.network_curve()
    lines = perspective.plot.axes.get_lines()
    assert any(line.get_xdata().size == read_q.size for line in lines)
    assert perspective.tblRanking.selectionModel().selectedRows()[0].row() == 0  # top preselected

    assert perspective.select_model("cylinder")
    with qtbot.waitSignal(perspective.fitFinished, timeout=FIT_TIMEOUT) as finished:
        click(qtbot, perspective.cmdFit)
    page, chi2 = finished.args
    fitting = gui.loadedPerspectives["Fitting"]
    assert gui.perspective() is fitting
    assert gui.filesWidget.cbFitting.currentText() == "Fitting"
    assert fitting.currentFittingWidget is page
    assert page.logic.data.name == item.child(0).data().name
    assert page.cbCategory.currentText() == "Cylinder"
    assert page.cbModel.currentText() == "cylinder"
    # Ticked: the verification engine's free parameters of the cylinder, nothing else.
    assert set(page.main_params_to_fit) == {"scale", "background", "radius", "length"}
    assert perspective.last_plan.source == FROM_START_VALUES
    assert chi2 is not None and math.isfinite(chi2)
    assert math.isfinite(page.chi2)
    # Good start values land in the right minimum (a length of 300 would not).
    assert page.logic.kernel_module.getParam("length") == pytest.approx(400, rel=0.05)
    assert page.logic.kernel_module.getParam("radius") == pytest.approx(20, rel=0.05)
    assert "finished" in perspective.lblStatus.text()


def test_several_data_sets_one_ranking_each(gui, qtbot, example_data, network_classes):
    names = ["sphere_80.txt", "cyl_400_40.txt", "100nmSpheresNodQ.txt"]
    load_files(gui, qtbot, [example_data / "1d_data" / n for n in names])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    assert no_modal_dialog()
    assert sorted(d.title for d in perspective.datasets) == sorted(names)
    assert perspective.cbDataSet.count() == 3

    suggest(qtbot, perspective)
    tops = {}
    for index in range(perspective.cbDataSet.count()):
        perspective.cbDataSet.setCurrentIndex(index)
        dataset = perspective.current_dataset()
        assert dataset.ranking is not None, perspective.lblNotes.text()
        rows = table_rows(perspective)
        assert len(rows) == len(network_classes)
        assert sum(r[2] for r in rows) == pytest.approx(1.0, abs=1e-6)
        assert rows[0][1] == dataset.ranking.models[0]
        assert dataset.title in perspective.lblNotes.text()
        assert perspective.plot.axes.get_title().startswith(dataset.title)
        tops[dataset.title] = dataset.ranking
    assert len({id(r) for r in tops.values()}) == 3
    # Each data set was ranked from its own curve.
    inputs = [r.prepared.inputs for r in tops.values()]
    assert not np.allclose(inputs[0], inputs[1])


def test_auto_fit_top_choice(gui, qtbot, example_data):
    load_files(gui, qtbot, [example_data / "1d_data" / "sphere_80.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    perspective.chkAutoFit.setChecked(True)
    with qtbot.waitSignal(perspective.fitFinished, timeout=FIT_TIMEOUT) as finished:
        click(qtbot, perspective.cmdSuggest)
    page, chi2 = finished.args
    top = perspective.current_dataset().ranking.models[0]
    assert page is not None, perspective.lblStatus.text()
    assert page.cbModel.currentText() == top or page.cbStructureFactor.currentText() == top
    assert page.logic.data.name.startswith("sphere_80")
    assert chi2 is not None and math.isfinite(chi2), perspective.lblStatus.text()


def test_cancel_verification_leaves_the_gui_usable(gui, qtbot, example_data):
    load_files(gui, qtbot, [example_data / "1d_data" / "apoferritin.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    assert perspective.tblRanking.isColumnHidden(ui().COL_VERIFIED)  # nothing verified yet
    assert not perspective.cmdCancelVerify.isEnabled()

    click(qtbot, perspective.cmdVerify)
    job = perspective.verify_job
    assert job is not None and perspective.pbVerify.isVisible()
    assert perspective.cmdCancelVerify.isEnabled() and not perspective.cmdVerify.isEnabled()
    qtbot.waitUntil(lambda: job.phase in ("fitting", "done"), timeout=120_000)
    assert job.phase == "fitting", "the verification ended before it could be cancelled"
    if os.environ.get("SASNETS_SCREENSHOT_RUNNING"):  # for the docs: the progress bar
        qtbot.wait(600)
        perspective.grab().save(os.environ["SASNETS_SCREENSHOT_RUNNING"])
    with qtbot.waitSignal(perspective.verificationFinished, timeout=30_000) as finished:
        click(qtbot, perspective.cmdCancelVerify)
    assert finished.args == [None]
    assert "verification cancelled" in perspective.lblStatus.text()
    assert no_modal_dialog()
    assert perspective.verify_job is None and not perspective.pbVerify.isVisible()
    assert perspective.current_dataset().verified is None
    assert perspective.tblRanking.isColumnHidden(ui().COL_VERIFIED)
    assert perspective.cmdVerify.isEnabled() and not perspective.cmdCancelVerify.isEnabled()
    # Still usable: ranking again works, rows can be chosen for fitting.
    suggest(qtbot, perspective)
    assert perspective.tblRanking.rowCount() > 0
    assert perspective.select_model("sphere") and perspective.cmdFit.isEnabled()


def test_verify_then_fit_cylinder_from_fitted_values(gui, qtbot, example_data):
    load_files(gui, qtbot, [example_data / "1d_data" / "cyl_400_20.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    dataset = perspective.current_dataset()
    network_rows = table_rows(perspective)
    top = list(dataset.ranking.models[:perspective.settings.top_k])
    assert perspective.select_model("cylinder")  # verified too, even outside the top 5

    with qtbot.waitSignal(perspective.verificationFinished, timeout=VERIFY_TIMEOUT) as finished:
        click(qtbot, perspective.cmdVerify)
    verification = finished.args[0]
    assert verification is not None, perspective.lblStatus.text()
    expected = top + ([] if "cylinder" in top else ["cylinder"])
    assert list(verification.network_order) == expected
    assert no_modal_dialog()

    # The verified rows got their columns; the network order stays as it was.
    assert not any(perspective.tblRanking.isColumnHidden(c) for c in ui().VERIFICATION_COLUMNS)
    assert table_rows(perspective) == network_rows
    rows = verified_rows(perspective)
    assert set(rows) == set(expected) and len(rows) >= 5
    assert sorted(int(r["Verified #"]) for r in rows.values()) == list(range(1, len(rows) + 1))
    for model, cells in rows.items():
        fit = dataset.candidate_fit(model)
        assert int(cells["Verified #"]) == fit.verified_rank
        if fit.ok:
            assert cells["Fit status"] == fit.verdict  # never a bare "ok" for a poor fit
            # an elided verdict can always be read whole in the tooltip
            assert cells["status tooltip"].splitlines()[0].endswith(f": {fit.verdict}")
            assert float(cells["χ²ᵣ"]) == pytest.approx(fit.chi2r, rel=1e-2)
            assert float(cells["BIC"]) == pytest.approx(fit.bic, abs=0.06)
            assert float(cells["Combined score"].rstrip(" %")) == pytest.approx(
                100 * fit.posterior, abs=0.06)
        else:
            assert cells["Fit status"] == fit.status and fit.status.startswith("fit failed")
    # Sorting by "Verified #" shows the verified order on top, the others after.
    from PySide6.QtCore import Qt

    table = perspective.tblRanking
    table.sortByColumn(ui().COL_VERIFIED, Qt.AscendingOrder)
    order = [table.item(r, ui().COL_MODEL).text() for r in range(table.rowCount())]
    assert order[:len(expected)] == list(verification.verified_order)
    assert perspective.selected_model() == "cylinder"  # the selection follows its row
    table.sortByColumn(ui().COL_RANK, Qt.AscendingOrder)
    assert table_rows(perspective) == network_rows
    cylinder = dataset.candidate_fit("cylinder")
    assert cylinder.ok and cylinder.chi2r < 1, cylinder.status
    assert cylinder.parameters["length"] == pytest.approx(400, rel=0.01)
    assert cylinder.parameters["radius"] == pytest.approx(20, rel=0.01)
    assert perspective.lblStatus.text().startswith("Verified in")
    # The verified best (cylinder) is preselected, and the plot shows its fitted curve.
    assert perspective.selected_model() == "cylinder"
    labels = [line.get_label() for line in perspective.plot.axes.get_lines()]
    assert any(label.startswith("cylinder fit") for label in labels), labels
    if os.environ.get("SASNETS_SCREENSHOT"):  # for the docs: the verified top rows in view
        perspective.tblRanking.scrollToTop()
        perspective.grab().save(os.environ["SASNETS_SCREENSHOT"])

    started = {}

    def on_started(page, model):  # the page as SasView's fit starts
        row = page.getRowFromName("length")
        started.update(model=model, cell=float(page._model_model.item(row, 1).text()),
                       length=page.logic.kernel_module.getParam("length"),
                       ticked=set(page.main_params_to_fit))

    perspective.fitStarted.connect(on_started)
    try:
        with qtbot.waitSignal(perspective.fitFinished, timeout=FIT_TIMEOUT) as done:
            click(qtbot, perspective.cmdFit)
    finally:
        perspective.fitStarted.disconnect(on_started)
    plan = perspective.last_plan
    assert plan.source == FROM_VERIFIED_FIT and plan.model == "cylinder"
    assert plan.values == {k: v for k, v in cylinder.start_values().items()
                           if "_pd" not in k}
    assert started["model"] == "cylinder"
    assert started["cell"] == pytest.approx(cylinder.parameters["length"], rel=1e-5)
    assert started["length"] == pytest.approx(400, rel=0.01)
    monodisperse = {k for k in cylinder.parameters if not k.endswith("_pd")}
    assert started["ticked"] == monodisperse == set(plan.fit)
    page, chi2 = done.args
    assert chi2 is not None and math.isfinite(chi2), perspective.lblStatus.text()
    assert page.logic.kernel_module.getParam("length") == pytest.approx(400, rel=0.05)
    assert page.logic.kernel_module.getParam("radius") == pytest.approx(20, rel=0.05)


def test_verify_top_five_then_auto_fit_the_best(gui, qtbot, example_data):
    load_files(gui, qtbot, [example_data / "1d_data" / "sphere_80.txt"])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    perspective.chkVerify.setChecked(True)
    perspective.chkAutoFit.setChecked(True)
    with qtbot.waitSignal(perspective.fitFinished, timeout=VERIFY_TIMEOUT + FIT_TIMEOUT) as done:
        click(qtbot, perspective.cmdSuggest)
    dataset = perspective.current_dataset()
    verification = dataset.verified
    assert verification is not None, perspective.lblStatus.text()
    top_k = perspective.settings.top_k
    assert list(verification.network_order) == list(dataset.ranking.models[:top_k])
    assert len(verified_rows(perspective)) == top_k
    best = verification.best
    assert best is not None
    page, chi2 = done.args
    assert page is not None, perspective.lblStatus.text()
    assert best.model in (page.cbModel.currentText(), page.cbStructureFactor.currentText())
    assert perspective.last_plan.model == best.model
    assert perspective.last_plan.source == FROM_VERIFIED_FIT
    assert chi2 is not None and math.isfinite(chi2), perspective.lblStatus.text()


def test_2d_data_refused_with_a_message(gui, qtbot, example_data, caplog):
    load_files(gui, qtbot, [example_data / "2d_data" / "P123_D2O_10_percent.dat"])
    perspective = suggestion_perspective(gui, qtbot)
    with caplog.at_level(logging.WARNING, logger="sasnets_plugin"):
        send(gui)
    assert no_modal_dialog()
    assert perspective.datasets == []
    message = perspective.lblStatus.text()
    assert "2D" in message and "1D" in message
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("sasnets_plugin")]
    assert any("2D" in message for message in ours)
    assert not perspective.cmdSuggest.isEnabled()


def test_unusable_curve_explained(gui, qtbot, tmp_path):
    bad = tmp_path / "all_negative.txt"
    q = np.linspace(0.01, 0.3, 30)
    np.savetxt(bad, np.column_stack([q, -1.0 - q]), header="Q I", comments="")
    load_files(gui, qtbot, [bad])
    perspective = suggestion_perspective(gui, qtbot)
    send(gui)
    suggest(qtbot, perspective)
    assert perspective.tblRanking.rowCount() == 0
    assert perspective.current_dataset().outcome.error
    assert "all_negative.txt" in perspective.lblNotes.text()
    assert "Not ranked" in perspective.lblStatus.text()
    assert not perspective.cmdFit.isEnabled()
    assert no_modal_dialog()


def test_missing_weights_reported_and_sasview_keeps_working(
        gui, qtbot, example_data, tmp_path, monkeypatch):
    from sasnets_plugin.gui.perspective import ModelSuggestionWindow
    from sasnets_plugin.suggestion import get_classifier

    empty = tmp_path / "no_weights"
    empty.mkdir()
    monkeypatch.setenv("SASNETS_WEIGHTS", str(empty))
    get_classifier.cache_clear()
    try:
        # A perspective created with no weights says so on its own.
        fresh = ModelSuggestionWindow(parent=gui)
        qtbot.addWidget(fresh)
        qtbot.waitUntil(lambda: fresh.network_ready is False, timeout=60_000)
        assert "missing" in fresh.lblNetwork.text()
        assert str(empty) in fresh.lblNetwork.text()

        # The registered one: Suggest explains, nothing is ranked, no dialog.
        (item,) = load_files(gui, qtbot, [example_data / "1d_data" / "cyl_400_20.txt"])
        perspective = suggestion_perspective(gui, qtbot)
        send(gui)
        suggest(qtbot, perspective)
        assert perspective.tblRanking.rowCount() == 0
        assert "missing" in perspective.lblStatus.text()
        assert no_modal_dialog()

        # SasView still works: the same data fit in the Fitting perspective by hand.
        fitting = choose_perspective(gui, "Fitting")
        send(gui)
        page = fitting.currentFittingWidget
        assert page.logic.data.name == item.child(0).data().name
        page.cbCategory.setCurrentIndex(page.cbCategory.findText("Sphere"))
        page.cbModel.setCurrentIndex(page.cbModel.findText("sphere"))
        page.changeCheckboxStatus(page.getRowFromName("scale"), True)
        with qtbot.waitSignal(page.fittingFinishedSignal, timeout=FIT_TIMEOUT):
            click(qtbot, page.cmdFit)
        qtbot.waitUntil(lambda: page.chi2 is not None and math.isfinite(page.chi2))
    finally:
        monkeypatch.undo()
        get_classifier.cache_clear()
