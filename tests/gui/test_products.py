"""Products ``form@structure`` handed to SasView, in the real SasView window (issue 25):
choice and integer parameters typed exactly (defect 1), a project saved after a
product fit reopens completely (defect 2)."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
from PySide6 import QtWidgets
from sasview_helpers import connected, fit_in_sasview, load_files, send, suggest, \
    suggestion_perspective, verify

from sasnets_plugin.gui import PERSPECTIVE_NAME

pytestmark = pytest.mark.gui

FIT_TIMEOUT = 300_000
VERIFY_TIMEOUT = 240_000
PRODUCT = "cylinder@hayter_msa"


def page_text(page, name: str) -> str:
    return page._model_model.item(page.getRowFromName(name), 1).text()


def choice_shown(page, name: str) -> str:
    """The choice SasView's combo box shows in a parameter's value cell."""
    index = page._model_model.index(page.getRowFromName(name), 1)
    return page.lstParams.indexWidget(index).currentText()


def file_name(dataset) -> str:
    from sas.qtgui.Utilities import GuiUtils

    return Path(GuiUtils.dataFromItem(dataset.item).filename).name


def choose(perspective, name: str):
    """Show the data set read from the file ``name``."""
    dataset = next(d for d in perspective.datasets if file_name(d) == name)
    perspective.cbDataSet.setCurrentIndex(perspective.cbDataSet.findData(dataset.key))
    assert perspective.current_dataset() is dataset
    return dataset


def fit_params(entry: dict) -> list[dict]:
    params = entry.get("fit_params", [])
    return params if isinstance(params, list) else [params]


def test_verified_product_keeps_its_sq_method_and_its_project_reopens(
        gui, qtbot, example_data, tmp_path, monkeypatch, caplog):
    """Defect 1: *Fit in SasView* on a verified product typed ``structure_factor_mode =
    0.001`` (moved off its limit like a continuous value): sasmodels then uses the β
    approximation, not the P·S that was verified. Defect 2: a project saved after such a
    fit failed to open (``int('0.001', 0)`` in SasView's loader): one data set of
    several, no rankings."""
    from sasnets_plugin.gui.state import Settings

    files = ("sphere_80.txt", "hSDS_D2O_2p0_percent.xml", "cyl_400_20.txt")
    load_files(gui, qtbot, [example_data / "1d_data" / name for name in files])
    perspective = suggestion_perspective(gui, qtbot)
    perspective.apply_settings(Settings(top_k=1, verify_seconds=60))
    send(gui)
    suggest(qtbot, perspective)
    sds = choose(perspective, "hSDS_D2O_2p0_percent.xml")
    assert perspective.select_model(PRODUCT)
    verification = verify(qtbot, perspective, VERIFY_TIMEOUT)
    assert verification is not None, perspective.lblStatus.text()
    product = sds.candidate_fit(PRODUCT)
    assert product is not None and product.ok, product
    assert product.start_values()["structure_factor_mode"] == 0  # P(q)·S(q), verified

    assert perspective.select_model(PRODUCT)
    typed = {}

    def on_started(page, model):  # the table as SasView's fit starts
        kernel = page.logic.kernel_module
        typed.update({name: (page_text(page, name), choice_shown(page, name),
                             kernel.getParam(name), name in page.main_params_to_fit)
                      for name in ("structure_factor_mode", "radius_effective_mode")})

    with connected(perspective.fitStarted, on_started):
        page, chi2 = fit_in_sasview(qtbot, perspective, FIT_TIMEOUT)
    assert perspective.last_plan.source == "verified fit"
    assert typed["structure_factor_mode"] == ("0", "P*S", 0, False), typed
    assert typed["radius_effective_mode"] == ("1", "excluded volume", 1, False), typed
    assert sds.fit.outcome == "completed", perspective.lblStatus.text()
    # SasView fits the model that was verified: it ends near the verification's χ².
    assert chi2 is not None and math.isfinite(chi2)
    assert chi2 < 1.5 * product.chi2r, (chi2, product.chi2r)

    # Defect 2: save the project, open it in an emptied SasView: everything is back.
    project = tmp_path / "products.json"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(project), "")))
    assert gui.actionSave_Project()
    saved = json.loads(project.read_text())
    modes = [page["structure_factor_mode"][1] for entry in saved.values()
             if isinstance(entry, dict) for page in fit_params(entry)
             if isinstance(page, dict) and "structure_factor_mode" in page]
    assert modes == ["0"]  # as SasView's loader reads it: int("0", 0)
    before = {file_name(d): d.ranking.models for d in perspective.datasets}

    def reopen(path):
        gui.filesWidget.deleteAllItems()
        perspective.reset()
        monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                            staticmethod(lambda *a, **k: (str(path), "")))
        gui.actionOpen_Project()
        reopened = gui.loadedPerspectives[PERSPECTIVE_NAME]
        qtbot.waitUntil(lambda: len(reopened.datasets) == len(files), timeout=60_000)
        assert {file_name(d): d.ranking.models for d in reopened.datasets} == before
        shown = choose(reopened, "hSDS_D2O_2p0_percent.xml")
        assert shown.candidate_fit(PRODUCT).chi2r == pytest.approx(product.chi2r)
        assert shown.fit.chi2 == pytest.approx(chi2)
        return reopened

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        reopen(project)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    fitting = gui.loadedPerspectives["Fitting"]
    pages = [t for t in fitting.tabs if hasattr(t, "cbStructureFactor")
             and t.cbStructureFactor.currentText() == "hayter_msa"]
    assert [choice_shown(p, "structure_factor_mode") for p in pages] == ["P*S"]

    # A project an earlier version saved with the nudged value: SasView cannot restore
    # that fit page, but every data set and ranking comes back, and the user is told.
    for entry in saved.values():
        for page_params in fit_params(entry) if isinstance(entry, dict) else ():
            if isinstance(page_params, dict) and "structure_factor_mode" in page_params:
                page_params["structure_factor_mode"][1] = "0.001"
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(saved))
    reopened = reopen(damaged)
    assert any(sds.title in r.getMessage() and "fit page" in r.getMessage()
               for r in caplog.records if r.levelno >= logging.WARNING), caplog.text
    assert "fit page" in reopened.lblStatus.text()
