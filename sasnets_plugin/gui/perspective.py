"""The *Model Suggestion* perspective: rank sasmodels models for 1D data, verify, fit.

*Suggest model* ranks every model with the network (worker thread). *Verify fits*
(or the *Verify top 5 by fitting* option, run after each ranking) fits the top
candidates to the data with :mod:`sasnets_plugin.verification` on a second worker
thread (its fits run in the verification's process pool) and adds the reduced χ²,
BIC, combined score and verified rank to the table; *Cancel* stops it. *Fit in
SasView* (and *Auto-fit*) hands the selected model to SasView's Fitting perspective,
starting from the verified fit's values when there is one, else from the
verification's quick start values (:mod:`.fitting_bridge`).

Import this module only after SasView installed its Qt reactor (it imports
``sas.qtgui.Perspectives``); :mod:`sasnets_plugin.gui.launcher` takes care of that.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6 import QtCore, QtGui, QtWidgets

import sas.qtgui.Utilities.GuiUtils as GuiUtils
from sas.qtgui.Perspectives.perspective import Perspective

from ..errors import DataError, SasnetsError
from ..loading import RawCurve, from_data1d
from ..preprocessing import LOG_Q_OFFSET
from . import PERSPECTIVE_NAME, fitting_bridge
from .worker import (VERIFY, Outcome, VerifyJob, load_network, run_in_background,
                     suggest_all, verify)

log = logging.getLogger(__name__)

#: Rows of the ranking visible without scrolling.
VISIBLE_ROWS = 5
#: Candidates fitted by a verification (the most probable ones).
TOP_VERIFIED = 5
#: Widest the model column gets by itself (longer names are elided, whole in tooltips).
MODEL_COLUMN_WIDTH = 180
#: Width of the fit status column (long failure reasons are elided, whole in tooltips).
STATUS_COLUMN_WIDTH = 100
COLUMNS = ("Rank", "Model", "Probability", "Verified #", "Posterior", "χ²ᵣ", "BIC",
           "Fit status", "Category")
(COL_RANK, COL_MODEL, COL_PROBABILITY, COL_VERIFIED, COL_POSTERIOR, COL_CHI2R, COL_BIC,
 COL_STATUS, COL_CATEGORY) = range(len(COLUMNS))
#: Columns shown once the data set has been verified.
VERIFICATION_COLUMNS = (COL_VERIFIED, COL_POSTERIOR, COL_CHI2R, COL_BIC, COL_STATUS)
_HEADER_TIPS = {
    COL_RANK: "Rank by the network's probability",
    COL_VERIFIED: "Rank after fitting the candidates to the data (best combined score first)",
    COL_POSTERIOR: "Combined score: the network probability updated by the fit's BIC",
    COL_CHI2R: "Reduced χ² of the verification fit: χ² / (points − free parameters)",
    COL_BIC: "Bayesian information criterion of the fit (lower is better; compare within "
             "one data set only)",
    COL_CATEGORY: "The model's category in SasView's Fitting perspective",
    COL_STATUS: "'ok', or why the fit failed",
}
_COLOURS = {logging.ERROR: "#b00020", logging.WARNING: "#9a5b00", logging.INFO: ""}


#: Item data role holding a cell's numeric sort key.
SORT_ROLE = QtCore.Qt.UserRole + 1


class _Cell(QtWidgets.QTableWidgetItem):
    """A ranking cell: sorts by its numeric key (:data:`SORT_ROLE`) when it has one;
    cells without a key (not verified, failed fit) go last in either order."""

    def __lt__(self, other):
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if mine is None and theirs is None:
            return self.text() < other.text()  # (PySide's base __lt__ would call us back)
        table = self.tableWidget()
        descending = (table is not None and table.horizontalHeader().sortIndicatorOrder()
                      == QtCore.Qt.DescendingOrder)
        if mine is None:
            return descending
        if theirs is None:
            return not descending
        return mine < theirs


@dataclass
class DataSet:
    """One data set sent from the Data Explorer, and its ranking once computed."""

    key: int
    item: QtGui.QStandardItem
    raw: RawCurve
    outcome: Outcome | None = None
    #: The fit verification of ``verified_ranking``'s candidates, once run.
    verification: object | None = None
    verified_ranking: object | None = None

    @property
    def title(self) -> str:
        return self.raw.title

    @property
    def ranking(self):
        return None if self.outcome is None else self.outcome.ranking

    @property
    def verified(self):
        """The verification of the current ranking (None if not verified)."""
        if self.verification is None or self.verified_ranking is not self.ranking:
            return None
        return self.verification

    def candidate_fit(self, model: str):
        """The verification fit of ``model``, or None if it was not verified."""
        verification = self.verified
        if verification is None:
            return None
        return next((c for c in verification.candidates if c.model == model), None)


class _FitWatch(QtCore.QObject):
    """Waits for one fit page's ``fittingFinishedSignal`` (or for the fit to stop)."""

    done = QtCore.Signal(object, object)  # page, chi2 (None when the fit failed)

    def __init__(self, page, parent):
        super().__init__(parent)
        self.page = page
        self.finished = False
        page.fittingFinishedSignal.connect(self.on_finished)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    @QtCore.Slot(object)
    def on_finished(self, result):
        self._finish(fitting_bridge.fit_result_chi2(result))

    def poll(self):
        # A fit stopped by the user emits nothing; the page says it is idle again.
        try:
            running = bool(self.page.fit_started)
        except RuntimeError:  # the fit page was closed
            running = False
        if not running:
            QtCore.QTimer.singleShot(2000, lambda: self._finish(None))

    def _finish(self, chi2):
        if self.finished:
            return
        self.finished = True
        self.timer.stop()
        try:
            self.page.fittingFinishedSignal.disconnect(self.on_finished)
        except (RuntimeError, TypeError):
            pass
        self.done.emit(self.page, chi2)
        self.deleteLater()


class ModelSuggestionWindow(QtWidgets.QWidget, Perspective):
    """Ranks every model of the network for each data set sent here."""

    name = PERSPECTIVE_NAME
    ext = "sugg"

    #: Emitted on the GUI thread when a ranking request finished (successfully or not).
    rankingFinished = QtCore.Signal()
    #: The network finished loading: True when usable.
    networkLoaded = QtCore.Signal(bool)
    #: A fit page was set up and its fit started: (page, model name).
    fitStarted = QtCore.Signal(object, str)
    #: A fit started from here finished: (page, χ² or None when it failed).
    fitFinished = QtCore.Signal(object, object)
    #: A fit verification ended: the ``Verification``, or None (cancelled, failed).
    verificationFinished = QtCore.Signal(object)

    @property
    def title(self) -> str:
        return "Model Suggestion"

    def __init__(self, parent=None):
        super().__init__()
        self._manager = parent  # SasView's GuiManager
        self._allow_close = False
        self._datasets: list[DataSet] = []
        self._next_key = 0
        self._generation = 0
        self._ranking_busy = False
        self._fit_queue: list[tuple[int, str]] = []
        self._fit_busy = False
        self._categories: dict[str, str] | None = None
        self._verify_queue: list[tuple[int, tuple[str, ...], bool]] = []
        #: The verification running now (a worker.VerifyJob), or None.
        self.verify_job: VerifyJob | None = None
        #: The last plan handed to the Fitting perspective (a fitting_bridge.FitPlan).
        self.last_plan: fitting_bridge.FitPlan | None = None
        self._table_key: int | None = None
        self.network_ready: bool | None = None  # None while loading
        self.network_message = ""

        self.setWindowTitle(self.title)
        self.setObjectName("ModelSuggestionPerspective")
        self._build_ui()
        self._refresh()

        self.communicator = GuiUtils.communicator
        self.communicator.dataDeletedSignal.connect(self.removeData)
        self.communicator.closeSignal.connect(self.cancel_verification)
        self.lblNetwork.setText("Loading the network in the background…")
        # Start once SasView's window is built (it creates OpenGL views; see worker.py).
        QtCore.QTimer.singleShot(0, self.start_network_load)

    # ------------------------------------------------------------------ layout

    def _build_ui(self):
        layout = QtWidgets.QVBoxLayout(self)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Data set:"))
        self.cbDataSet = QtWidgets.QComboBox()
        self.cbDataSet.setSizeAdjustPolicy(
            QtWidgets.QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.cbDataSet.setToolTip(
            "Data sets sent here from the Data Explorer; each has its own ranking.")
        self.cbDataSet.currentIndexChanged.connect(self._refresh)
        top.addWidget(self.cbDataSet, 1)
        self.cmdRemove = QtWidgets.QPushButton("Remove")
        self.cmdRemove.setToolTip("Forget this data set here (it stays in the Data Explorer).")
        self.cmdRemove.clicked.connect(self.onRemove)
        top.addWidget(self.cmdRemove)
        layout.addLayout(top)

        self.lblNetwork = QtWidgets.QLabel()
        self.lblNetwork.setWordWrap(True)
        self.lblNetwork.setObjectName("lblNetwork")
        layout.addWidget(self.lblNetwork)

        buttons = QtWidgets.QHBoxLayout()
        self.cmdSuggest = QtWidgets.QPushButton("Suggest model")
        self.cmdSuggest.setToolTip("Rank every model of the network for each data set sent here.")
        self.cmdSuggest.clicked.connect(self.onSuggest)
        buttons.addWidget(self.cmdSuggest)
        self.chkVerify = QtWidgets.QCheckBox(f"Verify top {TOP_VERIFIED} by fitting")
        self.chkVerify.setToolTip(
            f"After ranking, fit the {TOP_VERIFIED} most probable models to each data set "
            "(sasmodels + bumps, several starting points) and re-rank them by how well they "
            "fit. With Auto-fit, the best verified model is the one fitted in SasView.")
        buttons.addWidget(self.chkVerify)
        self.chkAutoFit = QtWidgets.QCheckBox("Auto-fit top choice")
        self.chkAutoFit.setToolTip(
            "After ranking, fit each data set in the Fitting perspective with its top choice: "
            "the best verified model when the top models are verified, else the most "
            "probable one.")
        buttons.addWidget(self.chkAutoFit)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        actions = QtWidgets.QHBoxLayout()
        self.cmdVerify = QtWidgets.QPushButton("Verify fits")
        self.cmdVerify.setToolTip(
            f"Fit the {TOP_VERIFIED} most probable models (and the selected one, if it is not "
            "among them) to this data set and re-rank them by goodness of fit (reduced χ², "
            "BIC). Fit in SasView then starts from the fitted values.")
        self.cmdVerify.clicked.connect(self.onVerify)
        actions.addWidget(self.cmdVerify)
        self.cmdCancelVerify = QtWidgets.QPushButton("Cancel")
        self.cmdCancelVerify.setToolTip("Stop the fit verification (the ranking stays).")
        self.cmdCancelVerify.clicked.connect(self.cancel_verification)
        actions.addWidget(self.cmdCancelVerify)
        self.pbVerify = QtWidgets.QProgressBar()
        self.pbVerify.setObjectName("pbVerify")
        self.pbVerify.setTextVisible(True)
        self.pbVerify.setMaximumHeight(self.cmdVerify.sizeHint().height())
        policy = self.pbVerify.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # no jumping layout when it appears
        self.pbVerify.setSizePolicy(policy)
        self.pbVerify.hide()
        actions.addWidget(self.pbVerify, 1)
        self.cmdFit = QtWidgets.QPushButton("Fit in SasView")
        self.cmdFit.setToolTip("Fit this data set with the selected model in the Fitting "
                               "perspective (double-clicking a row does the same); a verified "
                               "model starts from its fitted values.")
        self.cmdFit.clicked.connect(self.onFit)
        actions.addWidget(self.cmdFit)
        layout.addLayout(actions)
        self._progress_timer = QtCore.QTimer(self)
        self._progress_timer.setInterval(500)
        self._progress_timer.timeout.connect(self._show_progress)

        self.lblStatus = QtWidgets.QLabel()
        self.lblStatus.setWordWrap(True)
        self.lblStatus.setObjectName("lblStatus")
        self.lblStatus.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        layout.addWidget(self.lblStatus)

        self.tblRanking = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.tblRanking.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in _HEADER_TIPS.items():
            self.tblRanking.horizontalHeaderItem(column).setToolTip(
                f"{tip} (click to sort by it)")
        self.tblRanking.verticalHeader().setVisible(False)
        self.tblRanking.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.tblRanking.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.tblRanking.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.tblRanking.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOn)
        header = self.tblRanking.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeToContents)
        # Long model names and failure reasons are elided (whole in the tooltips); the
        # category takes the width left.
        header.setSectionResizeMode(COL_MODEL, QtWidgets.QHeaderView.Interactive)
        header.setSectionResizeMode(COL_STATUS, QtWidgets.QHeaderView.Interactive)
        header.resizeSection(COL_STATUS, STATUS_COLUMN_WIDTH)
        header.setStretchLastSection(True)
        # Click a header to sort (e.g. by Verified #); the network rank order at first.
        # No sort arrow: it would widen every column and push the category out of view.
        header.setSortIndicator(COL_RANK, QtCore.Qt.AscendingOrder)
        header.setSortIndicatorShown(False)
        self.tblRanking.setTextElideMode(QtCore.Qt.ElideRight)
        for column in VERIFICATION_COLUMNS:
            self.tblRanking.setColumnHidden(column, True)
        self.tblRanking.itemDoubleClicked.connect(lambda _item: self.onFit())
        self.tblRanking.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.tblRanking)

        self.lblNotes = QtWidgets.QLabel()
        self.lblNotes.setWordWrap(True)
        self.lblNotes.setObjectName("lblNotes")
        layout.addWidget(self.lblNotes)

        self.figure = Figure(figsize=(5.5, 3.6), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(260)
        self.axes = self.figure.add_subplot(1, 1, 1)
        layout.addWidget(self.canvas, 1)
        self._fit_table_height()

    def _fit_table_height(self):
        table = self.tblRanking
        rows = VISIBLE_ROWS * table.verticalHeader().defaultSectionSize()
        scroll = table.horizontalScrollBar().sizeHint().height()  # shown when columns overflow
        height = (rows + table.horizontalHeader().sizeHint().height() + scroll
                  + 2 * table.frameWidth() + 2)
        table.setMinimumHeight(height)
        table.setMaximumHeight(height)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(900, 760)

    # ------------------------------------------------------------------ messages

    def _say(self, text: str, level: int = logging.INFO, label: QtWidgets.QLabel | None = None):
        """Show ``text`` in the perspective and send it to SasView's log."""
        label = label or self.lblStatus
        colour = _COLOURS.get(level, "")
        label.setStyleSheet(f"color: {colour};" if colour else "")
        label.setText(text)
        log.log(level, "Model Suggestion: %s", text)

    # ------------------------------------------------------------------ network

    def start_network_load(self):
        """Load the network in the background."""
        self.network_ready = None
        self.lblNetwork.setStyleSheet("")
        self.lblNetwork.setText("Loading the network in the background…")
        run_in_background(load_network, self._network_loaded, self._network_failed, self,
                          "loading the network")

    def _network_loaded(self, classes):
        self.network_ready = True
        self.network_message = f"Network ready: it ranks {len(classes)} models."
        self.lblNetwork.setStyleSheet("")
        self.lblNetwork.setText(self.network_message)
        self.networkLoaded.emit(True)
        self._update_buttons()

    def _network_failed(self, error):
        self.network_ready = False
        self.network_message = (f"{error} Model suggestion is unavailable until this is "
                                "fixed; the rest of SasView works as usual.")
        self._say(self.network_message, logging.ERROR, self.lblNetwork)
        self.networkLoaded.emit(False)
        self._update_buttons()

    # ------------------------------------------------------------------ data in

    def setData(self, data_item: list[QtGui.QStandardItem], is_batch: bool = False):
        """Receive data sets from the Data Explorer's *Send to* button."""
        try:
            self._add_items(list(data_item or []))
        except Exception as exc:  # never let an exception reach the Data Explorer's modal box
            log.exception("Model Suggestion: could not take the data sent")
            self._say(f"Could not read the data sent: {exc}", logging.ERROR)

    def _add_items(self, items):
        added, refused = [], []
        for item in items:
            known = self._find(item=item)
            if known is not None:
                added.append(known)
                continue
            data = GuiUtils.dataFromItem(item)
            title = item.text() or getattr(data, "title", "") or "data"
            if data is None:
                refused.append(f"'{title}' holds no data.")
                continue
            try:
                raw = from_data1d(data, title=title)
            except DataError as exc:
                refused.append(str(exc))
                continue
            dataset = DataSet(self._next_key, item, raw)
            self._next_key += 1
            self._datasets.append(dataset)
            self.cbDataSet.addItem(title, dataset.key)
            added.append(dataset)
        if added:
            self.cbDataSet.setCurrentIndex(self.cbDataSet.findData(added[-1].key))
        self._refresh()
        if refused:
            self._say(" ".join(refused), logging.WARNING)
        elif added:
            self._say(f"{len(added)} data set(s) received; click Suggest model to rank the models.")
        else:
            self._say("No data was sent.", logging.WARNING)

    def removeData(self, data_list=None):
        """Forget data sets deleted in the Data Explorer."""
        if not data_list:
            return
        if not isinstance(data_list, (list, tuple)):
            data_list = [data_list]
        for item in data_list:
            dataset = self._find(item=item)
            if dataset is not None:
                self._forget(dataset)

    def onRemove(self):
        dataset = self.current_dataset()
        if dataset is not None:
            self._forget(dataset)

    def _forget(self, dataset: DataSet):
        self._datasets.remove(dataset)
        self._fit_queue = [(key, model) for key, model in self._fit_queue if key != dataset.key]
        self._verify_queue = [entry for entry in self._verify_queue if entry[0] != dataset.key]
        if self.verify_job is not None and self.verify_job.key == dataset.key:
            self.verify_job.cancel.set()
        index = self.cbDataSet.findData(dataset.key)
        if index >= 0:
            self.cbDataSet.removeItem(index)
        self._refresh()

    def reset(self):
        """Back to the empty state (SasView's *New project*)."""
        self._generation += 1
        self._fit_queue.clear()
        self._verify_queue.clear()
        if self.verify_job is not None:
            self.verify_job.cancel.set()
        self._datasets.clear()
        self.cbDataSet.clear()
        self.lblStatus.clear()
        self._refresh()

    def _find(self, key: int | None = None, item=None) -> DataSet | None:
        for dataset in self._datasets:
            if ((key is not None and dataset.key == key)
                    or (item is not None and dataset.item is item)):
                return dataset
        return None

    @property
    def datasets(self) -> list[DataSet]:
        return list(self._datasets)

    def current_dataset(self) -> DataSet | None:
        key = self.cbDataSet.currentData()
        return None if key is None else self._find(key=key)

    # ------------------------------------------------------------------ ranking

    def onSuggest(self):
        """Rank the models for every data set, in the background."""
        if not self._datasets:
            self._say("Send 1D data here first: tick it in the Data Explorer, choose "
                      f"'{self.name}' in the 'Send to' list and press 'Send data'.",
                      logging.WARNING)
            return
        self._generation += 1
        generation = self._generation
        curves = [(d.key, d.raw) for d in self._datasets]
        self._ranking_busy = True
        self._update_buttons()
        waiting = " (waiting for the network to load)" if self.network_ready is None else ""
        self._say(f"Ranking {len(curves)} data set(s){waiting}…")
        run_in_background(functools.partial(suggest_all, curves),
                          lambda outcomes: self._ranked(generation, outcomes),
                          lambda error: self._rank_failed(generation, error),
                          self, "model suggestion")

    def _ranked(self, generation, outcomes: list[Outcome]):
        if generation != self._generation:
            return
        self._ranking_busy = False
        ranked, problems = [], []
        for outcome in outcomes:
            dataset = self._find(key=outcome.key)
            if dataset is None:
                continue
            dataset.outcome = outcome
            dataset.verification = dataset.verified_ranking = None
            if outcome.ranking is not None:
                ranked.append(dataset)
            else:
                problems.append(f"{dataset.title}: {outcome.error}")
        if ranked and self.network_ready is not True:
            self._network_loaded(list(ranked[0].ranking.models))
        self._refresh()
        if problems:
            self._say(f"Ranked {len(ranked)} of {len(outcomes)} data set(s). " + " ".join(problems),
                      logging.WARNING)
        else:
            best = ", ".join(f"{d.title}: {d.ranking.models[0]}" for d in ranked)
            self._say(f"Ranked {len(ranked)} data set(s). Most probable: {best}.")
        self.rankingFinished.emit()
        if self.chkVerify.isChecked():
            for dataset in ranked:
                self._queue_verification(dataset, dataset.ranking.models[:TOP_VERIFIED],
                                         auto_fit=self.chkAutoFit.isChecked())
        elif self.chkAutoFit.isChecked():
            for dataset in ranked:
                self._queue_fit(dataset, dataset.ranking.models[0])

    def _rank_failed(self, generation, error):
        if generation != self._generation:
            return
        self._ranking_busy = False
        if self.network_ready is not True:
            self._network_failed(error)
        self._say(f"No ranking: {error}", logging.ERROR)
        self._update_buttons()
        self.rankingFinished.emit()

    # ------------------------------------------------------------------ display

    def _refresh(self, *_):
        dataset = self.current_dataset()
        self._fill_table(dataset)
        self._fill_notes(dataset)
        self._plot(dataset)
        self._update_buttons()

    def _selection_changed(self):
        self._update_buttons()
        self._plot(self.current_dataset())

    def _update_buttons(self):
        dataset = self.current_dataset()
        ranked = dataset is not None and dataset.ranking is not None
        self.cmdRemove.setEnabled(dataset is not None)
        self.cmdSuggest.setEnabled(bool(self._datasets) and not self._ranking_busy)
        self.cmdFit.setEnabled(ranked and self._manager is not None
                               and bool(self.tblRanking.selectedItems()))
        job = self.verify_job
        busy_here = ranked and (
            (job is not None and job.key == dataset.key and not job.cancel.is_set())
            or any(key == dataset.key for key, *_ in self._verify_queue))
        self.cmdVerify.setEnabled(ranked and not busy_here)
        self.cmdCancelVerify.setEnabled(
            (job is not None and not job.cancel.is_set()) or bool(self._verify_queue))

    def category(self, model: str) -> str:
        if self._categories is None:
            self._categories = fitting_bridge.sasview_categories()
        return self._categories.get(model) or fitting_bridge.fallback_category(model)

    def _fill_table(self, dataset: DataSet | None):
        table = self.tblRanking
        header = table.horizontalHeader()
        same = dataset is not None and dataset.key == self._table_key
        keep = self.selected_model() if same else None
        self._table_key = None if dataset is None else dataset.key
        table.setSortingEnabled(False)  # while filling
        table.setRowCount(0)
        ranking = None if dataset is None else dataset.ranking
        verified = None if dataset is None else dataset.verified
        for column in VERIFICATION_COLUMNS:
            table.setColumnHidden(column, verified is None)
        if table.isColumnHidden(header.sortIndicatorSection()):
            header.setSortIndicator(COL_RANK, QtCore.Qt.AscendingOrder)
        if ranking is None:
            return
        self._categories = None  # re-read: the user may have edited categories
        table.setRowCount(len(ranking.models))
        for row, (model, probability) in enumerate(zip(ranking.models, ranking.probabilities)):
            cells = {COL_RANK: (str(row + 1), row + 1), COL_MODEL: (model, None),
                     COL_PROBABILITY: (f"{100 * probability:.1f} %", float(probability)),
                     COL_CATEGORY: (self.category(model), None)}
            fit = dataset.candidate_fit(model)
            if verified is not None:
                cells.update(self._fit_cells(fit))
            for column, (text, key) in cells.items():
                cell = _Cell(text)
                if key is not None and math.isfinite(key):
                    cell.setData(SORT_ROLE, key)
                if column not in (COL_MODEL, COL_STATUS, COL_CATEGORY):
                    cell.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                if column == COL_MODEL:
                    cell.setToolTip(model)
                if column == COL_PROBABILITY:
                    cell.setToolTip(f"p = {probability:.6f}")
                    cell.setData(QtCore.Qt.UserRole, float(probability))
                if fit is not None and column in VERIFICATION_COLUMNS:
                    cell.setToolTip(self._fit_tooltip(fit))
                    if column == COL_VERIFIED and fit.verified_rank == 1 and fit.ok:
                        font = cell.font()
                        font.setBold(True)
                        cell.setFont(font)
                    if column == COL_STATUS and not fit.ok:
                        cell.setForeground(QtGui.QColor(_COLOURS[logging.ERROR]))
                table.setItem(row, column, cell)
        table.setSortingEnabled(True)  # sorts by the column the user chose (rank at first)
        header.setSortIndicatorShown(False)  # (turned on by setSortingEnabled; see _build_ui)
        table.resizeColumnToContents(COL_MODEL)
        table.setColumnWidth(COL_MODEL, min(table.columnWidth(COL_MODEL), MODEL_COLUMN_WIDTH))
        if not (keep and self.select_model(keep)):
            table.selectRow(0)
            table.scrollToTop()

    @staticmethod
    def _fit_cells(fit) -> dict[int, tuple[str, float | None]]:
        """Verification columns of one row: (text, sort key); blank when not verified."""
        if fit is None:
            return {column: ("", None) for column in VERIFICATION_COLUMNS}

        def number(value, fmt):
            return (format(value, fmt) if math.isfinite(value) else "—"), value

        if fit.ok:
            status = "ok" if fit.converged else "ok (not converged)"
        else:
            status = fit.status
        return {COL_VERIFIED: (str(fit.verified_rank), fit.verified_rank),
                COL_POSTERIOR: ((f"{100 * fit.posterior:.1f} %", fit.posterior) if fit.ok
                                else ("—", None)),
                COL_CHI2R: number(fit.chi2r, ".3g"),
                COL_BIC: number(fit.bic, ".1f"),
                COL_STATUS: (status, None)}

    @staticmethod
    def _fit_tooltip(fit) -> str:
        if not fit.ok:
            return fit.status
        lines = [f"{fit.model}: reduced χ² = {fit.chi2r:.4g}, BIC = {fit.bic:.2f}, "
                 f"combined score {100 * fit.posterior:.1f} %",
                 "Fitted: " + ", ".join(f"{k} = {v:.4g}" for k, v in fit.parameters.items())]
        if fit.fixed:
            lines.append("Held: " + ", ".join(f"{k} = {v:.4g}" for k, v in fit.fixed.items()))
        lines.extend(fit.notes)
        return "\n".join(lines)

    def _fill_notes(self, dataset: DataSet | None):
        if dataset is None or dataset.outcome is None:
            self.lblNotes.setStyleSheet("")
            self.lblNotes.setText("" if dataset is None else
                                  f"{dataset.title}: {dataset.raw.q.size} points, not ranked yet.")
            return
        if dataset.outcome.error:
            self.lblNotes.setStyleSheet(f"color: {_COLOURS[logging.ERROR]};")
            self.lblNotes.setText(f"{dataset.title}: {dataset.outcome.error}")
            return
        prepared = dataset.ranking.prepared
        notes = prepared.report.notes()
        text = f"{dataset.title}: {prepared.curve.q.size} points used"
        text += ("; cleaning " + "; ".join(notes) + ".") if notes else "; no cleaning needed."
        verified = dataset.verified
        tip = ""
        if verified is not None:
            text += (" Verification fits: relative errors assumed (no dI)."
                     if verified.dI_estimated else " Verification fits weighted by dI.")
            tip = (f"Verification fits: weighting: {verified.weighting}; resolution: "
                   f"{verified.resolution}; evidence tempered by T = {verified.temperature:.3g}.")
        self.lblNotes.setStyleSheet("")
        self.lblNotes.setText(text)
        self.lblNotes.setToolTip(tip)

    def _plot(self, dataset: DataSet | None):
        ax = self.axes
        ax.clear()
        if dataset is None:
            ax.text(0.5, 0.5, "Send 1D data from the Data Explorer", ha="center", va="center",
                    transform=ax.transAxes, color="0.5")
            ax.set_xticks([])
            ax.set_yticks([])
            self.canvas.draw_idle()
            return
        raw = dataset.raw
        keep = np.isfinite(raw.q) & np.isfinite(raw.I) & (raw.q > 0) & (raw.I > 0)
        q, I = raw.q[keep], raw.I[keep]  # noqa: E741
        dI = None if raw.dI is None else raw.dI[keep]
        if dI is not None and np.all(np.isfinite(dI)) and np.any(dI > 0):
            ax.errorbar(q, I, yerr=np.where(dI < I, dI, 0.999 * I), fmt="o", ms=3, lw=0.8,
                        color="C0", label="data")
        else:
            ax.plot(q, I, "o", ms=3, color="C0", label="data")
        ranking = dataset.ranking
        if ranking is not None:
            curve, inputs = ranking.prepared.curve, ranking.prepared.inputs
            log_q = inputs[:, 1] - LOG_Q_OFFSET
            offset = float(np.mean(np.interp(log_q, np.log10(curve.q), np.log10(curve.I))))
            ax.plot(10 ** log_q, 10 ** (inputs[:, 0] + offset), "-", color="C3", lw=1.5,
                    label=f"network input ({inputs.shape[0]} points)")
            title = (f"{dataset.title}: {ranking.models[0]} "
                     f"({100 * ranking.probabilities[0]:.0f} %)")
            verified = dataset.verified
            if verified is not None and verified.best is not None:
                title += f"; best fit: {verified.best.model}"
            ax.set_title(title, fontsize=10)
            fit = dataset.candidate_fit(self.selected_model() or "")
            if fit is not None and fit.ok and fit.q is not None and fit.I_fit is not None:
                show = np.isfinite(fit.I_fit) & (fit.I_fit > 0)
                ax.plot(fit.q[show], fit.I_fit[show], "-", color="C2", lw=1.5,
                        label=f"{fit.model} fit (χ²ᵣ = {fit.chi2r:.3g})")
        else:
            ax.set_title(dataset.title, fontsize=10)
        if q.size:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("Q (Å$^{-1}$)")
        ax.set_ylabel("I(Q)")
        ax.legend(loc="best", fontsize=8)
        self.canvas.draw_idle()

    # ------------------------------------------------------------------ verification

    def verification_candidates(self, dataset: DataSet) -> list[str]:
        """The models *Verify fits* fits: the top ones, plus the selected one."""
        models = list(dataset.ranking.models[:TOP_VERIFIED])
        selected = self.selected_model() if dataset is self.current_dataset() else None
        if selected and selected not in models:
            models.append(selected)
        return models

    def onVerify(self):
        """Fit the current data set's top candidates (and the selected one), re-rank."""
        dataset = self.current_dataset()
        if dataset is None or dataset.ranking is None:
            self._say("Rank the models first (Suggest model), then verify them.",
                      logging.WARNING)
            return
        self._queue_verification(dataset, self.verification_candidates(dataset))

    def _queue_verification(self, dataset: DataSet, models, auto_fit: bool = False):
        self._verify_queue.append((dataset.key, tuple(models), auto_fit))
        if self.verify_job is not None:
            self._say(f"Verification of {dataset.title} queued after the running one.")
        self._next_verification()
        self._update_buttons()

    def _next_verification(self):
        if self.verify_job is not None:
            return
        while self._verify_queue:
            key, models, auto_fit = self._verify_queue.pop(0)
            dataset = self._find(key=key)
            if dataset is None or dataset.ranking is None:
                continue
            ranking = dataset.ranking
            probabilities = tuple(float(ranking.probabilities[ranking.models.index(m)])
                                  for m in models)
            job = VerifyJob(key, dataset.raw, tuple(models), probabilities)
            self.verify_job = job
            generation = self._generation
            run_in_background(
                functools.partial(verify, job),
                lambda result, job=job, ranking=ranking, auto_fit=auto_fit, g=generation:
                    self._verified(job, ranking, auto_fit, g, result),
                lambda error, job=job, auto_fit=auto_fit, g=generation:
                    self._verify_failed(job, auto_fit, g, error),
                self, "fit verification", thread=VERIFY)
            self._say(f"Verifying {dataset.title}: fitting {', '.join(models)} to the data "
                      f"(at most {job.max_seconds:.0f} s; Cancel stops it)…")
            self._show_progress()
            self._progress_timer.start()
            self._update_buttons()
            return

    def cancel_verification(self):
        """Stop the running verification and drop the queued ones."""
        self._verify_queue.clear()
        job = self.verify_job
        if job is not None and not job.cancel.is_set():
            job.cancel.set()
            self._say("Cancelling the fit verification…")
        self._show_progress()
        self._update_buttons()

    def _show_progress(self):
        bar, job = self.pbVerify, self.verify_job
        if job is None:
            bar.hide()
            return
        bar.show()
        if job.cancel.is_set():
            bar.setRange(0, 0)
            bar.setFormat("cancelling…")
        elif job.phase == "fitting" and job.fitting_since is not None:
            elapsed = time.monotonic() - job.fitting_since
            bar.setRange(0, int(math.ceil(job.max_seconds)))
            bar.setValue(min(int(elapsed), bar.maximum()))
            bar.setFormat(f"fitting {len(job.models)} models: %v s (at most %m s)")
        else:
            bar.setRange(0, 0)  # busy: starting the fit workers
            bar.setFormat("starting the fit workers…")

    def _end_verification(self, job):
        if self.verify_job is job:
            self.verify_job = None
        if self.verify_job is None:
            self._progress_timer.stop()
        self._show_progress()

    def _verified(self, job, ranking, auto_fit, generation, verification):
        self._end_verification(job)
        dataset = self._find(key=job.key)
        if generation == self._generation and dataset is not None:
            if dataset.ranking is not ranking:
                self._say(f"The verification of {dataset.title} was for an earlier ranking; "
                          "verify again.", logging.WARNING)
                verification = None
            else:
                dataset.verification, dataset.verified_ranking = verification, ranking
                if dataset is self.current_dataset():
                    self._refresh()
                self._say(self._verification_summary(dataset, verification))
                if auto_fit:
                    best = verification.best
                    self._queue_fit(dataset, best.model if best else ranking.models[0])
        self._update_buttons()
        self.verificationFinished.emit(verification)
        self._next_verification()

    @staticmethod
    def _verification_summary(dataset: DataSet, verification) -> str:
        fits = verification.candidates
        ok = sum(c.ok for c in fits)
        text = (f"Verified {dataset.title} in {verification.seconds:.0f} s "
                f"({ok} of {len(fits)} fits ok).")
        best = verification.best
        if best is None:
            return text + " No fit succeeded; the network ranking stands."
        return text + (f" Best fit: {best.model} (χ²ᵣ = {best.chi2r:.3g}, "
                       f"combined score {100 * best.posterior:.0f} %).")

    def _verify_failed(self, job, auto_fit, generation, error):
        from ..verification import VerificationCancelled

        self._end_verification(job)
        dataset = self._find(key=job.key)
        if generation == self._generation and dataset is not None:
            if isinstance(error, VerificationCancelled):
                self._say(f"Fit verification cancelled for {dataset.title}; the network "
                          "ranking stands.")
            else:
                self._say(f"Fit verification of {dataset.title} failed: {error}",
                          logging.ERROR)
                if auto_fit and dataset.ranking is not None:
                    self._queue_fit(dataset, dataset.ranking.models[0])
        self._update_buttons()
        self.verificationFinished.emit(None)
        self._next_verification()

    # ------------------------------------------------------------------ fitting

    def selected_model(self) -> str | None:
        dataset = self.current_dataset()
        if dataset is None or dataset.ranking is None:
            return None
        rows = self.tblRanking.selectionModel().selectedRows()
        item = self.tblRanking.item(rows[0].row(), COL_MODEL) if rows else None
        if item is not None:
            return item.text()
        return dataset.ranking.models[0] if dataset.ranking.models else None

    def select_model(self, model: str) -> bool:
        """Select ``model``'s row in the ranking (as a click would)."""
        items = self.tblRanking.findItems(model, QtCore.Qt.MatchExactly)
        items = [i for i in items if i.column() == COL_MODEL]
        if not items:
            return False
        self.tblRanking.selectRow(items[0].row())
        self.tblRanking.scrollToItem(items[0])
        return True

    def onFit(self):
        """Fit the current data set with the selected model in the Fitting perspective."""
        dataset = self.current_dataset()
        model = self.selected_model()
        if dataset is None or model is None:
            self._say("Rank the models first (Suggest model), then choose one.", logging.WARNING)
            return
        if self._manager is None:
            self._say("The Fitting perspective is only available inside SasView.", logging.WARNING)
            return
        self._queue_fit(dataset, model)

    def _queue_fit(self, dataset: DataSet, model: str):
        self._fit_queue.append((dataset.key, model))
        if self._fit_busy:
            self._say(f"Fit of {dataset.title} with {model} queued after the running one.")
        self._next_fit()

    def _next_fit(self):
        if self._fit_busy:
            return
        while self._fit_queue:
            key, model = self._fit_queue.pop(0)
            dataset = self._find(key=key)
            if dataset is None or dataset.ranking is None:
                continue
            self._fit_busy = True
            fit = dataset.candidate_fit(model)
            if fit is not None and fit.ok:  # verified: start from the fitted values
                self._hand_off(key, fitting_bridge.plan_from_fit(fit))
                return
            self._say(f"Preparing the fit of {dataset.title} with {model} (start values)…")
            run_in_background(functools.partial(fitting_bridge.plan_fit, model, dataset.raw),
                              lambda plan, key=key: self._hand_off(key, plan),
                              lambda error, model=model: self._fit_failed(model, error),
                              self, f"planning the fit with {model}")
            return

    def _hand_off(self, key: int, plan: fitting_bridge.FitPlan):
        dataset = self._find(key=key)
        if dataset is None:
            self._fit_busy = False
            self._next_fit()
            return
        try:
            page = fitting_bridge.open_fit_page(self._manager, dataset.item, plan)
            self.last_plan = plan
            watch = _FitWatch(page, self)
            watch.done.connect(lambda page, chi2, title=dataset.title, model=plan.model:
                               self._fit_done(page, chi2, title, model))
            fitting_bridge.run_fit(page)
        except SasnetsError as exc:
            self._fit_failed(plan.model, exc)
            return
        except Exception as exc:  # SasView raised: report it, keep the queue going
            log.exception("Model Suggestion: hand-off to the Fitting perspective failed")
            self._fit_failed(plan.model, exc)
            return
        free = ", ".join(plan.fit)
        origin = ("its verified fit" if plan.source == fitting_bridge.FROM_VERIFIED_FIT
                  else "estimated start values")
        self._say(f"Fitting {dataset.title} with {plan.model} in the Fitting perspective, "
                  f"starting from {origin} (free: {free}).")
        self.fitStarted.emit(page, plan.model)

    def _fit_done(self, page, chi2, title, model):
        if chi2 is None:
            self._say(f"The fit of {title} with {model} did not finish (see the Fitting "
                      "perspective and the log).", logging.WARNING)
        else:
            self._say(f"Fit of {title} with {model} finished: χ²/Npts = {chi2:.4g}.")
        self.fitFinished.emit(page, chi2)
        self._fit_busy = False
        self._next_fit()

    def _fit_failed(self, model, error):
        self._say(f"Could not fit with {model}: {error}", logging.ERROR)
        self._fit_busy = False
        self.fitFinished.emit(None, None)
        self._next_fit()

    # ------------------------------------------------------------------ SasView API

    def allowBatch(self) -> bool:
        return True  # several data sets, one ranking each

    def allowSwap(self) -> bool:
        return False

    def isSerializable(self) -> bool:
        return False

    def updateFromParameters(self, params: dict):
        """Nothing to restore: rankings are recomputed on demand."""

    def setClosable(self, value: bool = True):
        self._allow_close = value

    def isClosable(self) -> bool:
        return self._allow_close

    def closeEvent(self, event):
        if self._allow_close:
            self.setClosable(False)
            if self.parentWidget():
                self.parentWidget().close()
            event.accept()
        else:
            event.ignore()
            self.setWindowState(QtCore.Qt.WindowMinimized)
