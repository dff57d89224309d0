"""The *Model Suggestion* perspective: rank sasmodels models for 1D data, then fit.

Import this module only after SasView installed its Qt reactor (it imports
``sas.qtgui.Perspectives``); :mod:`sasnets_plugin.gui.launcher` takes care of that.
"""
from __future__ import annotations

import functools
import logging
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
from .worker import Outcome, load_network, load_opengl_driver, run_in_background, suggest_all

log = logging.getLogger(__name__)

#: Rows of the ranking visible without scrolling.
VISIBLE_ROWS = 5
COLUMNS = ("Rank", "Model", "Probability", "SasView category")
_COLOURS = {logging.ERROR: "#b00020", logging.WARNING: "#9a5b00", logging.INFO: ""}


@dataclass
class DataSet:
    """One data set sent from the Data Explorer, and its ranking once computed."""

    key: int
    item: QtGui.QStandardItem
    raw: RawCurve
    outcome: Outcome | None = None

    @property
    def title(self) -> str:
        return self.raw.title

    @property
    def ranking(self):
        return None if self.outcome is None else self.outcome.ranking


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
        self.network_ready: bool | None = None  # None while loading
        self.network_message = ""

        self.setWindowTitle(self.title)
        self.setObjectName("ModelSuggestionPerspective")
        self._build_ui()
        self._refresh()

        self.communicator = GuiUtils.communicator
        self.communicator.dataDeletedSignal.connect(self.removeData)
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
        self.chkAutoFit = QtWidgets.QCheckBox("Auto-fit top choice")
        self.chkAutoFit.setToolTip("After ranking, fit each data set with its most probable "
                                   "model in the Fitting perspective.")
        buttons.addWidget(self.chkAutoFit)
        buttons.addStretch(1)
        self.cmdFit = QtWidgets.QPushButton("Fit in SasView")
        self.cmdFit.setToolTip("Fit this data set with the selected model in the Fitting "
                               "perspective (double-clicking a row does the same).")
        self.cmdFit.clicked.connect(self.onFit)
        buttons.addWidget(self.cmdFit)
        layout.addLayout(buttons)

        self.lblStatus = QtWidgets.QLabel()
        self.lblStatus.setWordWrap(True)
        self.lblStatus.setObjectName("lblStatus")
        self.lblStatus.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        layout.addWidget(self.lblStatus)

        self.tblRanking = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.tblRanking.setHorizontalHeaderLabels(COLUMNS)
        self.tblRanking.verticalHeader().setVisible(False)
        self.tblRanking.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.tblRanking.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.tblRanking.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.tblRanking.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOn)
        header = self.tblRanking.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.Stretch)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeToContents)
        header.setSectionResizeMode(3, QtWidgets.QHeaderView.ResizeToContents)
        self.tblRanking.itemDoubleClicked.connect(lambda _item: self.onFit())
        self.tblRanking.itemSelectionChanged.connect(self._update_buttons)
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
        height = rows + table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth() + 2
        table.setMinimumHeight(height)
        table.setMaximumHeight(height)

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(640, 760)

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
        """Import TensorFlow and load the network in the background."""
        self.network_ready = None
        self.lblNetwork.setStyleSheet("")
        self.lblNetwork.setText("Loading the network in the background…")
        try:
            load_opengl_driver()
        except Exception:  # no OpenGL at all: nothing can clash with TensorFlow
            log.debug("no OpenGL context", exc_info=True)
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
        index = self.cbDataSet.findData(dataset.key)
        if index >= 0:
            self.cbDataSet.removeItem(index)
        self._refresh()

    def reset(self):
        """Back to the empty state (SasView's *New project*)."""
        self._generation += 1
        self._fit_queue.clear()
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
        if self.chkAutoFit.isChecked() and ranked:
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

    def _update_buttons(self):
        dataset = self.current_dataset()
        self.cmdRemove.setEnabled(dataset is not None)
        self.cmdSuggest.setEnabled(bool(self._datasets) and not self._ranking_busy)
        self.cmdFit.setEnabled(dataset is not None and dataset.ranking is not None
                               and self._manager is not None
                               and bool(self.tblRanking.selectedItems()))

    def category(self, model: str) -> str:
        if self._categories is None:
            self._categories = fitting_bridge.sasview_categories()
        return self._categories.get(model) or fitting_bridge.fallback_category(model)

    def _fill_table(self, dataset: DataSet | None):
        table = self.tblRanking
        table.setRowCount(0)
        ranking = None if dataset is None else dataset.ranking
        if ranking is None:
            return
        self._categories = None  # re-read: the user may have edited categories
        table.setRowCount(len(ranking.models))
        for row, (model, probability) in enumerate(zip(ranking.models, ranking.probabilities)):
            cells = (str(row + 1), model, f"{100 * probability:.1f} %", self.category(model))
            for column, text in enumerate(cells):
                cell = QtWidgets.QTableWidgetItem(text)
                if column in (0, 2):
                    cell.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                if column == 2:
                    cell.setToolTip(f"p = {probability:.6f}")
                    cell.setData(QtCore.Qt.UserRole, float(probability))
                table.setItem(row, column, cell)
        table.selectRow(0)
        table.scrollToTop()

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
        self.lblNotes.setStyleSheet("")
        self.lblNotes.setText(text)

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
            ax.set_title(f"{dataset.title}: {ranking.models[0]} "
                         f"({100 * ranking.probabilities[0]:.0f} %)", fontsize=10)
        else:
            ax.set_title(dataset.title, fontsize=10)
        if q.size:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("Q (Å$^{-1}$)")
        ax.set_ylabel("I(Q)")
        ax.legend(loc="best", fontsize=8)
        self.canvas.draw_idle()

    # ------------------------------------------------------------------ fitting

    def selected_model(self) -> str | None:
        dataset = self.current_dataset()
        if dataset is None or dataset.ranking is None:
            return None
        rows = self.tblRanking.selectionModel().selectedRows()
        row = rows[0].row() if rows else 0
        return dataset.ranking.models[row]

    def select_model(self, model: str) -> bool:
        """Select ``model``'s row in the ranking (as a click would)."""
        items = self.tblRanking.findItems(model, QtCore.Qt.MatchExactly)
        items = [i for i in items if i.column() == 1]
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
            curve = dataset.ranking.prepared.curve
            self._say(f"Preparing the fit of {dataset.title} with {model} (start values)…")
            run_in_background(functools.partial(fitting_bridge.plan_fit, model, curve.q, curve.I),
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
        self._say(f"Fitting {dataset.title} with {plan.model} in the Fitting perspective "
                  f"(free: {free}).")
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
