"""The *Model Suggestion* perspective: rank sasmodels models for 1D data, verify, fit.

*Suggest model* ranks the data sets not ranked yet with the network (worker thread);
earlier rankings and verifications are kept. *Verify fits* (or the *Verify top k by
fitting* option, run after each new ranking) fits the top candidates to the data with
:mod:`sasnets_plugin.verification` on a second worker thread and adds the reduced χ²,
BIC, combined score and verified rank to the table, and the verified best becomes the
preselected row. *Fit in SasView* (and *Auto-fit*, which takes the preselected row)
hands the model to SasView's Fitting perspective, in one fit page per data set,
starting from the verified fit's values when there is one (:mod:`.fitting_bridge`),
and reports back what SasView's fit page signals when the fit ends.

The perspective follows SasView's conventions: project save/load, Report, Copy (plain,
Excel, LaTeX), a Preferences page (:mod:`.preferences`), a Help page shipped in the
package, a navigation toolbar on the plot. The rules and the per-data-set state live in
:mod:`.state` (Qt-free).

Import this module only after SasView installed its Qt reactor (it imports
``sas.qtgui.Perspectives``); :mod:`sasnets_plugin.gui.launcher` takes care of that.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from pathlib import Path

import sas.qtgui.Utilities.GuiUtils as GuiUtils
from PySide6 import QtCore, QtGui, QtWidgets
from sas.qtgui.Perspectives.perspective import Perspective
from sas.qtgui.Utilities.Reports.reportdata import ReportData

from ..errors import DataError, SasnetsError
from ..loading import from_data1d
from ..models import products
from ..models.products import display_name
from . import PERSPECTIVE_NAME, fitting_bridge, ranking_table, sasview_fixes, state, tables
from .overview import OverviewTable
from .plot import DataPlot
from .ranking_table import RankingTable
from .state import DataSet, Outcome, SasViewFit, Settings
from .worker import (
    VERIFY,
    VerifyJob,
    load_network,
    run_in_background,
    suggest_all,
    verify,
)

log = logging.getLogger(__name__)

#: Rows of the ranking always visible (the splitter cannot squeeze it further).
MIN_VISIBLE_ROWS = 3
_COLOURS = {logging.ERROR: "#b00020", logging.WARNING: "#9a5b00", logging.INFO: ""}
SUGGEST_TIP = ("Rank every model of the network for the data sets never ranked (or "
               "again for the one shown, when there are none). Earlier rankings and "
               "verifications stay.")
#: Key of the perspective's part of a data set's entry in a SasView project file.
PROJECT_KEY = "suggestion_params"
#: The preferences file, in SasView's configuration folder.
SETTINGS_FILE = "sasnets_model_suggestion.json"
#: The help page shipped with the package.
HELP_PAGE = Path(__file__).resolve().parent / "help" / "model_suggestion.html"


class _PageWatch(QtCore.QObject):
    """Relays one fit page's ``fittingFinishedSignal`` (SasView's own end-of-fit
    signal, emitted for completed, stopped and failed fits alike) with the page."""

    finished = QtCore.Signal(object, object)  # page, SasView's result payload

    def __init__(self, page, parent):
        super().__init__(parent)
        self.page = page
        page.fittingFinishedSignal.connect(self.relay)

    @QtCore.Slot(object)
    def relay(self, result):
        self.finished.emit(self.page, result)


def _sentence(text: str) -> str:
    """``text`` with a lower-case start, to follow a file name and a colon."""
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def settings_path() -> Path:
    """The preferences file in SasView's configuration folder."""
    from sas.system import user

    return Path(user.get_config_dir()) / SETTINGS_FILE


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
    #: A fit started from here ended: (page, SasView's χ²/Npts, or None when the fit
    #: failed or could not start; then the page may be None).
    fitFinished = QtCore.Signal(object, object)
    #: A fit verification ended: the ``Verification``, or None (cancelled, failed).
    verificationFinished = QtCore.Signal(object)
    #: A status line changed: (data set key or -1 for a general message, text).
    statusChanged = QtCore.Signal(int, str)

    @property
    def title(self) -> str:
        return "Model Suggestion"

    @property
    def optimizer(self) -> str:
        """The Fitting perspective's optimizer: SasView's ``GuiManager.showFitResults``
        reads it from the perspective in front when a fit ends, and a fit started here
        may end while this perspective is in front."""
        fitting = (None if self._manager is None
                   else self._manager.loadedPerspectives.get(fitting_bridge.FITTING))
        return getattr(fitting, "optimizer", "Unknown")

    def __init__(self, parent=None):
        super().__init__()
        try:  # the fits this perspective starts must not freeze SasView
            sasview_fixes.guard_calc_threads()
        except Exception:  # a guard only: SasView works without it
            log.warning("Model Suggestion: could not check SasView's calculation threads",
                        exc_info=True)
        self._manager = parent  # SasView's GuiManager
        self._allow_close = False
        self._datasets: list[DataSet] = []
        self._next_key = 0
        self._generation = 0
        #: Keys of the data sets being ranked now.
        self._ranking_keys: set[int] = set()
        self._categories: dict[str, str] | None = None
        self._verify_queue: list[tuple[int, tuple[str, ...], bool]] = []
        #: The verification running now (a worker.VerifyJob), or None.
        self.verify_job: VerifyJob | None = None
        #: The last plan handed to the Fitting perspective (a fitting_bridge.FitPlan).
        self.last_plan: fitting_bridge.FitPlan | None = None
        self._page_watches: dict[int, _PageWatch] = {}
        self.network_ready: bool | None = None  # None while loading
        self.network_message = ""
        self._preferences_widget = None
        #: The data set shown when the project being loaded was saved.
        self._project_current: int | None = None
        self.settings = Settings.load(settings_path())

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
        QtCore.QTimer.singleShot(0, self._install_project_loader)

    # ------------------------------------------------------------------ layout

    def _build_ui(self):
        # Everything in a scroll area: a window shrunk below what the controls need
        # (a manual resize, SasView opening its Log Explorer) scrolls, never overlaps.
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.NoFrame)
        content = QtWidgets.QWidget()
        self.scroll.setWidget(content)
        outer.addWidget(self.scroll)
        layout = QtWidgets.QVBoxLayout(content)

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
        self.cmdHelp = QtWidgets.QPushButton("Help")
        self.cmdHelp.setToolTip("Open the Model Suggestion help page.")
        self.cmdHelp.clicked.connect(self.onHelp)
        top.addWidget(self.cmdHelp)
        layout.addLayout(top)

        self.lblNetwork = QtWidgets.QLabel()
        self.lblNetwork.setWordWrap(True)
        self.lblNetwork.setObjectName("lblNetwork")
        layout.addWidget(self.lblNetwork)

        buttons = QtWidgets.QHBoxLayout()
        self.cmdSuggest = QtWidgets.QPushButton("Suggest model")
        self.cmdSuggest.setToolTip(SUGGEST_TIP)
        self.cmdSuggest.clicked.connect(self.onSuggest)
        buttons.addWidget(self.cmdSuggest)
        self.chkVerify = QtWidgets.QCheckBox()
        buttons.addWidget(self.chkVerify)
        self.chkAutoFit = QtWidgets.QCheckBox("Auto-fit top choice")
        self.chkAutoFit.setToolTip(
            "After ranking, fit each newly ranked data set in the Fitting perspective with "
            "its preselected model: the best verified model when the top models are "
            "verified, else the most probable one. Each data set keeps one fit page.")
        buttons.addWidget(self.chkAutoFit)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        actions = QtWidgets.QHBoxLayout()
        self.cmdVerify = QtWidgets.QPushButton("Verify fits")
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
        self.cmdFit.setToolTip(
            "Fit this data set with the selected model in the Fitting perspective "
            "(double-clicking a row does the same), in this data set's own fit page; a "
            "verified model starts from its fitted values. After a verification the best "
            "verified model is preselected.")
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

        self.lblWarning = QtWidgets.QLabel()
        self.lblWarning.setWordWrap(True)
        self.lblWarning.setObjectName("lblWarning")
        self.lblWarning.setStyleSheet(
            f"color: {_COLOURS[logging.WARNING]}; background: #fff4e0; "
            "border: 1px solid #e0b060; padding: 3px;")
        self.lblWarning.hide()
        layout.addWidget(self.lblWarning)

        search_box = QtWidgets.QWidget()  # beside the tabs: no row of its own
        search = QtWidgets.QHBoxLayout(search_box)
        search.setContentsMargins(0, 0, 0, 2)
        search.addWidget(QtWidgets.QLabel("Find model:"))
        self.txtSearch = QtWidgets.QLineEdit()
        self.txtSearch.setObjectName("txtSearch")
        self.txtSearch.setPlaceholderText("part of a model name, e.g. sphere")
        self.txtSearch.setClearButtonEnabled(True)
        self.txtSearch.setToolTip("Show only the rows whose model name contains this text; "
                                  "the chosen model stays (Enter chooses the first match).")
        self.txtSearch.textChanged.connect(self._apply_search)
        self.txtSearch.returnPressed.connect(self._select_first_match)
        search.addWidget(self.txtSearch, 1)
        self.lblMatches = QtWidgets.QLabel()
        search.addWidget(self.lblMatches)

        self.tblRanking = RankingTable()
        self.tblRanking.fitRequested.connect(self.onFit)
        self.tblRanking.chosen.connect(self._selection_changed)
        self.overview = OverviewTable()
        self.overview.opened.connect(self.open_dataset)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setObjectName("tabsTables")
        self.tabs.addTab(self.tblRanking, "Ranking")
        self.tabs.addTab(self.overview, "All data sets")
        self.tabs.setCornerWidget(search_box, QtCore.Qt.TopRightCorner)
        self.tabs.setTabToolTip(0, "The ranking of the data set shown.")
        self.tabs.setTabToolTip(1, "Every data set's chosen model, verification and "
                                   "SasView fit; double-click one to open its ranking.")
        tab_bar = self.tabs.tabBar().sizeHint().height()
        self.tabs.setMinimumHeight(self.tblRanking.preferred_height(MIN_VISIBLE_ROWS) + tab_bar)

        # The data set's notes and SasView's fit above the splitter: wrapped labels
        # get their height for the window's width only in a box layout.
        self.lblNotes = QtWidgets.QLabel()
        self.lblNotes.setWordWrap(True)
        self.lblNotes.setObjectName("lblNotes")
        layout.addWidget(self.lblNotes)

        self.lblFit = QtWidgets.QLabel()
        self.lblFit.setWordWrap(True)
        self.lblFit.setObjectName("lblFit")
        self.lblFit.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.lblFit.hide()
        layout.addWidget(self.lblFit)

        self.plot = DataPlot()

        # The user drags the border between the tables and the plot; the plot takes
        # the height the window gains.
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.splitter.setObjectName("splitTablesPlot")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.plot)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([self.tblRanking.preferred_height() + tab_bar, 10_000])
        layout.addWidget(self.splitter, 1)
        self._apply_settings()

    def _apply_settings(self):
        """Show the preferences where they matter (top-k in the labels)."""
        k = self.settings.top_k
        self.chkVerify.setText(f"Verify top {k} by fitting")
        self.chkVerify.setToolTip(
            f"After ranking, fit the {k} most probable models to each newly ranked data set "
            "(sasmodels + bumps, several starting points) and re-rank them by how well they "
            "fit; the best verified model is then preselected (and auto-fitted).")
        self.cmdVerify.setToolTip(
            f"Fit the {k} most probable models (and the selected one, if it is not among "
            f"them) to this data set, at most {self.settings.verify_seconds:.0f} s, and "
            "re-rank them by goodness of fit (reduced χ², BIC). Fit in SasView then starts "
            "from the fitted values.")

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(900, 800)

    # ------------------------------------------------------------------ messages

    def _say(self, text: str, level: int = logging.INFO, dataset: DataSet | None = None):
        """Show ``text`` in the status line and send it to SasView's log.

        With ``dataset``, the message is that data set's own status line: kept with it
        and shown whenever it is the data set on display.
        """
        log.log(level, "Model Suggestion: %s", text)
        if dataset is not None:
            dataset.status = (text, level)
            self._refresh_overview()
            self.statusChanged.emit(dataset.key, text)
            if dataset is not self.current_dataset():
                return
        else:
            self.statusChanged.emit(-1, text)
        self._show_status(text, level)

    def _show_status(self, text: str, level: int):
        colour = _COLOURS.get(level, "")
        self.lblStatus.setStyleSheet(f"color: {colour};" if colour else "")
        self.lblStatus.setText(text)

    # ------------------------------------------------------------------ network

    def start_network_load(self):
        """Load the network in the background."""
        self.network_ready = None
        self.lblNetwork.show()
        self.lblNetwork.setStyleSheet("")
        self.lblNetwork.setText("Loading the network in the background…")
        run_in_background(load_network, self._network_loaded, self._network_failed, self,
                          "loading the network")

    def _network_loaded(self, classes):
        self.network_ready = True
        self.network_message = f"Network ready: it ranks {len(classes)} models."
        self.lblNetwork.setStyleSheet("")
        self.lblNetwork.setText(self.network_message)
        self.lblNetwork.hide()  # nothing to act on: its room goes to the ranking
        self.cmdSuggest.setToolTip(f"{self.network_message}\n{SUGGEST_TIP}")
        self.networkLoaded.emit(True)
        self._update_buttons()

    def _network_failed(self, error):
        self.network_ready = False
        self.network_message = (f"{error} Model suggestion is unavailable until this is "
                                "fixed; the rest of SasView works as usual.")
        log.error("Model Suggestion: %s", self.network_message)
        self.lblNetwork.show()
        self.lblNetwork.setStyleSheet(f"color: {_COLOURS[logging.ERROR]};")
        self.lblNetwork.setText(self.network_message)
        self.networkLoaded.emit(False)
        self._update_buttons()

    def apply_settings(self, settings: Settings):
        """New preferences (the Preferences page): labels, budget, top-k."""
        self.settings = settings.checked()
        self._apply_settings()
        log.info("Model Suggestion: preferences %s", self.settings)

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
                refused.append(f"{title}: it holds no data.")
                continue
            try:
                raw = from_data1d(data, title=title)
            except DataError as exc:
                refused.append(f"{title}: {_sentence(str(exc))}")
                continue
            dataset = DataSet(self._next_key, item, raw, status=(
                "Received; click Suggest model to rank the models.", logging.INFO))
            self._next_key += 1
            self._datasets.append(dataset)
            self.cbDataSet.addItem(title, dataset.key)
            added.append(dataset)
        if added:
            self.cbDataSet.setCurrentIndex(self.cbDataSet.findData(added[-1].key))
        self._refresh()
        if refused:
            self._say("Not added (the rest of SasView can still use them): "
                      + " ".join(dict.fromkeys(refused)), logging.WARNING)
        elif not added:
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
        self._ranking_keys.clear()
        self._project_current = None
        self._verify_queue.clear()
        if self.verify_job is not None:
            self.verify_job.cancel.set()
        self._datasets.clear()
        self.cbDataSet.clear()
        self.txtSearch.clear()
        self._show_status("", logging.INFO)
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
        """Rank the data sets not ranked yet (or the one shown again), in the background."""
        if not self._datasets:
            self._say("Send 1D data here first: tick it in the Data Explorer, choose "
                      f"'{self.name}' in the 'Send to' list and press 'Send data'.",
                      logging.WARNING)
            return
        todo = state.to_rank(self._datasets, self.current_dataset())
        if not todo:
            return
        generation = self._generation
        self._ranking_keys = {d.key for d in todo}
        waiting = " (waiting for the network to load)" if self.network_ready is None else ""
        for dataset in todo:
            self._say(f"Ranking the models{waiting}…", dataset=dataset)
        self._update_buttons()
        run_in_background(functools.partial(suggest_all, [(d.key, d.raw) for d in todo]),
                          lambda outcomes: self._ranked(generation, outcomes),
                          lambda error: self._rank_failed(generation, todo, error),
                          self, "model suggestion")

    def _ranked(self, generation, outcomes: list[Outcome]):
        if generation != self._generation:
            return
        self._ranking_keys.clear()
        ranked = []
        for outcome in outcomes:
            dataset = self._find(key=outcome.key)
            if dataset is None:
                continue
            dataset.set_outcome(outcome)
            ranking = dataset.ranking
            if ranking is None:
                self._say(f"Not ranked: {outcome.error}", logging.WARNING, dataset)
                continue
            ranked.append(dataset)
            kept = " (its verification is kept)" if dataset.verified is not None else ""
            self._say(f"Ranked {len(ranking.models)} models{kept}. Most probable: "
                      f"{display_name(ranking.models[0])} "
                      f"({100 * ranking.probabilities[0]:.0f} %).", dataset=dataset)
        if ranked and self.network_ready is not True:
            self._network_loaded(list(ranked[0].ranking.models))
        self._refresh()
        self.rankingFinished.emit()
        for dataset in ranked:
            self._after_ranking(dataset)

    def _after_ranking(self, dataset: DataSet):
        """Verify and / or fit a newly ranked data set, as the options ask."""
        auto_fit = self.chkAutoFit.isChecked()
        if self.chkVerify.isChecked() and dataset.verified is None:
            self._queue_verification(dataset, self.top_candidates(dataset), auto_fit)
        elif auto_fit:
            self.fit(dataset, dataset.preselected())

    def _rank_failed(self, generation, datasets: list[DataSet], error):
        if generation != self._generation:
            return
        self._ranking_keys.clear()
        if self.network_ready is not True:
            self._network_failed(error)
        for dataset in datasets:
            if dataset in self._datasets:
                self._say(f"No ranking: {error}", logging.ERROR, dataset)
        self._update_buttons()
        self.rankingFinished.emit()

    # ------------------------------------------------------------------ display

    def _refresh_overview(self):
        self.overview.fill([tables.overview_row(d) for d in self._datasets])
        self.tabs.setTabText(1, f"All data sets ({len(self._datasets)})")

    def open_dataset(self, key: int):
        """Show the data set ``key`` with its ranking (the overview's double click)."""
        index = self.cbDataSet.findData(key)
        if index >= 0:
            self.cbDataSet.setCurrentIndex(index)
            self.tabs.setCurrentWidget(self.tblRanking)

    def _refresh(self, *_):
        self._refresh_overview()
        dataset = self.current_dataset()
        self._categories = None  # re-read: the user may have edited categories
        self.tblRanking.fill(dataset, self.category)
        self._apply_search()
        self._fill_notes(dataset)
        self._fill_fit(dataset)
        self._fill_warnings(dataset)
        if dataset is not None:
            self._show_status(*dataset.status)
        self.plot.show_dataset(dataset, self.selected_model())
        self._update_buttons()

    def _selection_changed(self):
        """The user chose a row: it becomes the data set's chosen model."""
        dataset = self.current_dataset()
        if dataset is not None:
            dataset.selected = self.tblRanking.selected_model()
            self._refresh_overview()
        self._update_buttons()
        self.plot.show_dataset(dataset, self.selected_model())

    def _update_buttons(self):
        dataset = self.current_dataset()
        ranked = dataset is not None and dataset.ranking is not None
        self.cmdRemove.setEnabled(dataset is not None)
        self.cmdSuggest.setEnabled(bool(self._datasets) and not self._ranking_keys)
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
        form, _ = products.split(model)
        return self._categories.get(form) or fitting_bridge.fallback_category(form)

    def _fill_notes(self, dataset: DataSet | None):
        if dataset is None or dataset.outcome is None:
            self.lblNotes.setStyleSheet("")
            self.lblNotes.setText("" if dataset is None else
                                  f"{dataset.title}: {dataset.raw.q.size} points, not ranked yet.")
            self.lblNotes.setToolTip("")
            return
        if dataset.outcome.error:
            self.lblNotes.setStyleSheet(f"color: {_COLOURS[logging.ERROR]};")
            self.lblNotes.setText(f"{dataset.title}: {dataset.outcome.error}")
            self.lblNotes.setToolTip("")
            return
        prepared = dataset.ranking.prepared
        notes = prepared.report.notes()
        text = f"{dataset.title}: {prepared.curve.q.size} points used"
        text += ("; cleaning " + "; ".join(notes) + ".") if notes else "; no cleaning needed."
        verified = dataset.verified
        tip = ""
        if verified is not None:
            text += " " + state.weighting_note(verified)
            tip = (f"Verification fits: weighting: {verified.weighting}; resolution: "
                   f"{verified.resolution}; evidence tempered by T = {verified.temperature:.3g}.")
        self.lblNotes.setStyleSheet("")
        self.lblNotes.setText(text)
        self.lblNotes.setToolTip(tip)

    def _fill_fit(self, dataset: DataSet | None):
        """The last SasView fit of this data set, with SasView's χ², weighting and values."""
        fit = None if dataset is None else dataset.fit
        if fit is None or fit.busy:
            self.lblFit.hide()
            self.lblFit.clear()
            return
        if fit.outcome == state.FAILED:
            text = fit.summary()
        else:
            weighting = f", SasView weighting: {fit.weighting}" if fit.weighting else ""
            text = (f"Last SasView fit ({display_name(fit.model)}, {fit.page_name}): "
                    f"χ²/Npts = {fit.chi2:.4g}{weighting}. Fitted: {fit.parameter_text()}.")
        self.lblFit.setText(text)
        self.lblFit.show()

    def _fill_warnings(self, dataset: DataSet | None):
        warnings = [] if dataset is None else dataset.warnings()
        self.lblWarning.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.lblWarning.setVisible(bool(warnings))

    # ------------------------------------------------------------------ verification

    def top_candidates(self, dataset: DataSet) -> list[str]:
        """The ``top_k`` most probable models of ``dataset`` (Preferences)."""
        return list(dataset.ranking.models[:self.settings.top_k])

    def verification_candidates(self, dataset: DataSet) -> list[str]:
        """The models *Verify fits* fits: the top ones, plus the selected one."""
        models = self.top_candidates(dataset)
        selected = self.selected_model() if dataset is self.current_dataset() else None
        if selected and selected not in models:
            models.append(selected)
        return models

    def onVerify(self):
        """Fit the current data set's top candidates (and the selected one), re-rank."""
        dataset = self.current_dataset()
        if dataset is None or dataset.ranking is None:
            self._say("Rank the models first (Suggest model), then verify them.",
                      logging.WARNING, dataset)
            return
        self._queue_verification(dataset, self.verification_candidates(dataset))

    def _queue_verification(self, dataset: DataSet, models, auto_fit: bool = False):
        self._verify_queue.append((dataset.key, tuple(models), auto_fit))
        if self.verify_job is not None:
            self._say("Verification queued after the running one.", dataset=dataset)
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
            job = VerifyJob(key, dataset.raw, tuple(models), probabilities,
                            max_seconds=self.settings.verify_seconds)
            self.verify_job = job
            generation = self._generation
            run_in_background(
                functools.partial(verify, job),
                lambda result, job=job, ranking=ranking, auto_fit=auto_fit, g=generation:
                    self._verified(job, ranking, auto_fit, g, result),
                lambda error, job=job, auto_fit=auto_fit, g=generation:
                    self._verify_failed(job, auto_fit, g, error),
                self, "fit verification", thread=VERIFY)
            names = ", ".join(display_name(m) for m in models)
            self._say(f"Verifying: fitting {names} to the data (at most "
                      f"{job.max_seconds:.0f} s; Cancel stops it)…", dataset=dataset)
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
            self._say("Cancelling the fit verification…", dataset=self._find(key=job.key))
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
                self._say("The verification was for an earlier ranking; verify again.",
                          logging.WARNING, dataset)
                verification = None
            else:
                dataset.verification, dataset.verified_ranking = verification, ranking
                dataset.selected = None  # the verified best is preselected
                self._say(self._verification_summary(verification), dataset=dataset)
                if dataset is self.current_dataset():
                    self._refresh()
                if auto_fit:
                    self.fit(dataset, dataset.preselected())
        self._update_buttons()
        self.verificationFinished.emit(verification)
        self._next_verification()

    @staticmethod
    def _verification_summary(verification) -> str:
        fits = verification.candidates
        ok = sum(c.ok for c in fits)
        weights = ("without dI: errors estimated from the scatter" if verification.dI_estimated
                   else "weighted by dI")
        text = (f"Verified in {verification.seconds:.0f} s ({ok} of {len(fits)} fits ok; "
                f"χ²ᵣ {weights}).")
        best = verification.best
        if best is None:
            return text + " No fit succeeded; the network ranking stands."
        return text + (f" Best fit: {display_name(best.model)} (χ²ᵣ = {best.chi2r:.3g}, "
                       f"combined score {100 * best.posterior:.0f} %), now selected.")

    def _verify_failed(self, job, auto_fit, generation, error):
        from ..verification import VerificationCancelled

        self._end_verification(job)
        dataset = self._find(key=job.key)
        if generation == self._generation and dataset is not None:
            if isinstance(error, VerificationCancelled):
                self._say("Fit verification cancelled; the network ranking stands.",
                          dataset=dataset)
            else:
                self._say(f"Fit verification failed: {error}", logging.ERROR, dataset)
                if auto_fit and dataset.ranking is not None:
                    self.fit(dataset, dataset.preselected())
        self._update_buttons()
        self.verificationFinished.emit(None)
        self._next_verification()

    # ------------------------------------------------------------------ fitting

    def selected_model(self) -> str | None:
        """The sasmodels name of the selected row (the preselected model if none)."""
        dataset = self.current_dataset()
        if dataset is None or dataset.ranking is None:
            return None
        return self.tblRanking.selected_model() or dataset.chosen()

    def select_model(self, model: str) -> bool:
        """Select ``model``'s row in the ranking (as a click would)."""
        return self.tblRanking.select_model(model)

    def _apply_search(self, *_) -> list[int]:
        """Filter the ranking by the search text (the rows shown)."""
        shown, matches = self.tblRanking.apply_filter(self.txtSearch.text())
        self.lblMatches.setText(matches)
        return shown

    def _select_first_match(self):
        """Enter in the search box: choose the first row shown (as a click would)."""
        shown = self._apply_search()
        if shown and self.txtSearch.text().strip():
            self.tblRanking.select_row(shown[0])
            self._apply_search()

    def onFit(self):
        """Fit the current data set with the selected model in the Fitting perspective."""
        dataset = self.current_dataset()
        model = self.selected_model()
        if dataset is None or model is None:
            self._say("Rank the models first (Suggest model), then choose one.", logging.WARNING)
            return
        self.fit(dataset, model)

    def fit(self, dataset: DataSet, model: str):
        """Fit ``dataset`` with ``model`` in SasView, in the data set's own fit page.

        A structure factor alone is fitted as ``sphere@<S(q)>`` (SasView fits an S(q)
        only as a product); a verified model starts from its verified values.
        """
        if self._manager is None:
            self._say("The Fitting perspective is only available inside SasView.",
                      logging.WARNING, dataset)
            return
        if dataset.fit is not None and dataset.fit.busy and not self._fit_gone(dataset):
            self._say(f"SasView is still fitting this data set with "
                      f"{display_name(dataset.fit.model)}; wait for that fit to end or stop "
                      "it in its fit page.", logging.WARNING, dataset)
            return
        target = state.fit_target(model)
        record = dataset.fit = SasViewFit(model=target)
        if target != model:
            self._say(f"{model} is a structure factor S(q): SasView fits it multiplied by a "
                      f"form factor, as {display_name(target)} (choose another form in the "
                      "Fitting page if you know it). Preparing start values…", dataset=dataset)
        fit = dataset.candidate_fit(target)
        if fit is not None and fit.ok:  # verified: start from the fitted values
            self._hand_off(dataset.key, record, fitting_bridge.plan_from_fit(fit))
            return
        if target == model:
            self._say(f"Preparing the fit with {display_name(target)} (start values)…",
                      dataset=dataset)
        run_in_background(functools.partial(fitting_bridge.plan_fit, target, dataset.raw),
                          lambda plan, key=dataset.key: self._hand_off(key, record, plan),
                          lambda error, key=dataset.key: self._fit_failed(key, record, error),
                          self, f"planning the fit with {target}")

    def _hand_off(self, key: int, record: SasViewFit, plan: fitting_bridge.FitPlan):
        dataset = self._find(key=key)
        if dataset is None or dataset.fit is not record:
            return  # forgotten meanwhile
        try:
            page = fitting_bridge.open_fit_page(self._manager, dataset.item, plan, dataset.page)
            dataset.page = page
            self._watch(page)
            self.last_plan = plan
            fitting_bridge.run_fit(page)
        except SasnetsError as exc:
            self._fit_failed(key, record, exc)
            return
        except Exception as exc:  # SasView raised: report it, SasView keeps running
            log.exception("Model Suggestion: hand-off to the Fitting perspective failed")
            self._fit_failed(key, record, exc)
            return
        record.outcome = state.RUNNING
        record.page_name = fitting_bridge.page_name(self._manager, page)
        free = ", ".join(plan.fit)
        origin = ("its verified fit" if plan.source == fitting_bridge.FROM_VERIFIED_FIT
                  else "estimated start values")
        self._say(f"SasView is fitting {display_name(plan.model)} in {record.page_name}, "
                  f"starting from {origin} (free: {free}).", dataset=dataset)
        self.fitStarted.emit(page, plan.model)

    def _fit_gone(self, dataset: DataSet) -> bool:
        """True when the data set's fit is marked running but its page runs no fit any
        more (it ended without SasView's signal); it is then marked failed so that a new
        fit can start."""
        record = dataset.fit
        if record.outcome != state.RUNNING or fitting_bridge.fit_running(dataset.page):
            return False
        record.outcome = state.FAILED
        record.messages = ("SasView's fit page ended the fit without reporting it.",)
        return True

    def _watch(self, page):
        if id(page) not in self._page_watches:
            watch = _PageWatch(page, self)
            watch.finished.connect(self._page_finished)
            self._page_watches[id(page)] = watch

    @QtCore.Slot(object, object)
    def _page_finished(self, page, result):
        """SasView's fit page signalled the end of a fit: report SasView's numbers."""
        dataset = next((d for d in self._datasets if d.page is page and d.fit is not None
                        and d.fit.outcome == state.RUNNING), None)
        if dataset is None:
            return  # a fit the user started there by hand
        record = dataset.fit
        try:
            outcome = fitting_bridge.fit_outcome(page, result)
        except Exception as exc:  # an unexpected payload: report it, never leave it running
            log.exception("Model Suggestion: could not read SasView's fit result")
            outcome = {"outcome": state.FAILED, "messages": (f"unreadable result: {exc!r}",)}
        for name, value in outcome.items():
            setattr(record, name, value)
        level = logging.WARNING if record.outcome == state.FAILED else logging.INFO
        text = record.summary()
        verified = dataset.verified
        if record.chi2 is not None and verified is not None and verified.dI_estimated:
            text += (" The verification's χ²ᵣ (no dI) uses other weights: the numbers "
                     "cannot be compared.")
        self._say(text, level, dataset)
        if dataset is self.current_dataset():
            self._fill_fit(dataset)
        self.fitFinished.emit(page, record.chi2)

    def _fit_failed(self, key: int, record: SasViewFit, error):
        dataset = self._find(key=key)
        record.outcome = state.FAILED
        record.messages = (str(error),)
        if dataset is not None:
            self._say(f"Could not fit with {display_name(record.model)}: {error}",
                      logging.ERROR, dataset)
        self.fitFinished.emit(None, None)

    # ------------------------------------------------------------------ SasView: projects

    def isSerializable(self) -> bool:
        return True

    def serializeAll(self) -> dict:
        """Every data set's ranking, verification and status for SasView's project file:
        ``{data id: {"suggestion_params": {...}}}`` (*Save Project*)."""
        current = self.current_dataset()
        return {data_id: {PROJECT_KEY: {**dataset.to_dict(), "current": dataset is current}}
                for dataset in self._datasets
                if (data_id := self._data_id(dataset)) is not None}

    #: The Perspective interface's name for it; SasView's GuiManager calls serializeAll.
    serialiseAll = serializeAll

    def serializeCurrentPage(self) -> dict:
        """The shown data set only (*Save Analysis*)."""
        dataset = self.current_dataset()
        data_id = None if dataset is None else self._data_id(dataset)
        if data_id is None:
            return {}
        return {data_id: {PROJECT_KEY: {**dataset.to_dict(), "current": True}}}

    @staticmethod
    def _data_id(dataset: DataSet) -> str | None:
        data = GuiUtils.dataFromItem(dataset.item)
        return None if data is None else str(data.id)

    def updateFromParameters(self, params: dict):
        """Restore the data set just sent (:meth:`setData`) from a project or analysis
        file, as SasView does for its own perspectives; the data set that was on display
        when the project was saved is shown again."""
        dataset = self.current_dataset()
        if not isinstance(params, dict) or dataset is None:
            return
        dataset.restore(params)
        if params.get("current"):
            self._project_current = dataset.key
        shown = self._find(key=self._project_current)
        if shown is not None:
            self.cbDataSet.setCurrentIndex(self.cbDataSet.findData(shown.key))
        self._refresh()

    def _install_project_loader(self):
        """Let *Open Project* / *Open Analysis* give this perspective its part back
        (:func:`.sasview_fixes.route_project_entries`)."""
        manager = self._manager
        if manager is None:
            return

        def hook():
            perspective = manager.loadedPerspectives.get(PERSPECTIVE_NAME)
            return None if perspective is None else perspective.restore_project_entry

        sasview_fixes.route_project_entries(manager, PROJECT_KEY, hook)
        sasview_fixes.offer_analysis_files(manager, f"{self.title} files (*.{self.ext})")

    def restore_project_entry(self, item, params: dict | None, failure: Exception | None):
        """One data set of a project being opened: take its ``params`` (this
        perspective's part) back; when SasView could not restore its fit page
        (``failure``), say so: the data and ranking are back, the fit page is not."""
        if item is None:
            if failure is not None:
                self._say(f"SasView could not restore a data set of the project: {failure}",
                          logging.WARNING)
            return
        if params is not None:
            self.setData([item])
            self.updateFromParameters(params)
        if failure is None:
            return
        dataset = self._find(item=item)
        title = dataset.title if dataset is not None else (item.text() or "a data set")
        back = "its data and ranking are back" if dataset is not None else "its data are back"
        self._say(f"SasView could not restore the fit page of {title} from the project "
                  f"({failure}); {back}: fit it again.", logging.WARNING, dataset)

    # ------------------------------------------------------------------ SasView: report, copy

    @property
    def supports_reports(self) -> bool:
        return True

    def getReport(self) -> ReportData | None:
        """SasView's *Report*: the data, the ranking (verified numbers too), warnings,
        the SasView fit and the plot."""
        from sas.qtgui.Utilities.Reports.reports import ReportBase

        dataset = self.current_dataset()
        if dataset is None:
            return None
        report = ReportBase(f"Model Suggestion: {dataset.title}")
        data = GuiUtils.dataFromItem(dataset.item)
        if data is not None:
            report.add_data_details(data)
        header, rows = tables.table_rows(dataset, top=self._report_rows(dataset))
        if rows:
            report.add_table([[int(row[0]), *row[1:]] for row in rows], titles=header)
        details = {"Status": dataset.status[0] or "-"}
        for number, warning in enumerate(dataset.warnings(), 1):
            details[f"Warning {number}"] = warning
        if dataset.verified is not None:
            details["Weighting"] = state.weighting_note(dataset.verified)
        if dataset.fit is not None and not dataset.fit.busy:
            details["SasView fit"] = dataset.fit.summary()
            if dataset.fit.parameters:
                details["SasView fitted values"] = dataset.fit.parameter_text()
        report.add_table([[k, v] for k, v in details.items()], target_tag="model-details")
        report.add_plot(self.plot.figure)
        return report.report_data

    def _report_rows(self, dataset: DataSet) -> int:
        """Rows worth reporting: the top-k, and every verified one."""
        ranks = [dataset.ranking.models.index(c.model) + 1
                 for c in (dataset.verified.candidates if dataset.verified else ())]
        return max([ranking_table.VISIBLE_ROWS, self.settings.top_k, *ranks])

    @property
    def supports_copy(self) -> bool:
        return True

    @property
    def supports_copy_excel(self) -> bool:
        return True

    @property
    def supports_copy_latex(self) -> bool:
        return True

    def _copy(self, text: str, what: str):
        """Put ``text`` on the clipboard; said in SasView's status bar, not in the data
        set's own status line (which the report and the project keep)."""
        QtWidgets.QApplication.clipboard().setText(text)
        dataset = self.current_dataset()
        message = f"Model Suggestion: ranking of {dataset.title} copied to the clipboard ({what})."
        log.info(message)
        self.communicator.statusBarUpdateSignal.emit(message)

    def clipboard_copy(self):
        """*Edit > Copy*: the data set, its warnings and its ranking as text."""
        dataset = self.current_dataset()
        header, rows = tables.table_rows(dataset) if dataset else ([], [])
        if not rows:
            return
        lines = [f"Model suggestion for {dataset.title}"]
        lines += [f"Warning: {w}" for w in dataset.warnings()]
        if dataset.verified is not None:
            lines.append(state.weighting_note(dataset.verified))
        self._copy("\n".join(lines) + "\n" + tables.as_tsv(header, rows), "text")

    def excel_clipboard_copy(self):
        """*Edit > Copy to Excel*: the ranking as tab-separated cells."""
        dataset = self.current_dataset()
        header, rows = tables.table_rows(dataset) if dataset else ([], [])
        if rows:
            self._copy(tables.as_tsv(header, rows), "Excel")

    def latex_clipboard_copy(self):
        """*Edit > Copy to LaTeX*: the ranking as a LaTeX table."""
        dataset = self.current_dataset()
        if dataset is None or dataset.ranking is None:
            return
        header, rows = tables.table_rows(dataset, top=self._report_rows(dataset))
        self._copy(tables.as_latex(header, rows), "LaTeX")

    # ------------------------------------------------------------------ SasView: preferences, help

    @property
    def preferences(self) -> list:
        """This perspective's page in SasView's Preferences window."""
        if self._preferences_widget is None:
            from .preferences import SuggestionPreferences

            self._preferences_widget = SuggestionPreferences(
                settings_path(), lambda: self.settings, self.apply_settings)
        return [self._preferences_widget]

    def onHelp(self):
        """Open the help page shipped with the plugin (SasView's help browser rules)."""
        if not HELP_PAGE.is_file():
            self._say(f"The help page is missing ({HELP_PAGE}).", logging.ERROR)
            return
        GuiUtils.showHelp(str(HELP_PAGE))

    # ------------------------------------------------------------------ SasView: window

    def allowBatch(self) -> bool:
        return True  # several data sets, one ranking each

    def allowSwap(self) -> bool:
        return False

    def setClosable(self, value: bool = True):
        self._allow_close = value

    def isClosable(self) -> bool:
        return self._allow_close

    def closeEvent(self, event):
        if self._allow_close:
            # Closed for good (SasView rebuilds its perspectives on Open Project): stop
            # work and stop listening to SasView.
            self.setClosable(False)
            self.reset()
            for signal, slot in ((self.communicator.dataDeletedSignal, self.removeData),
                                 (self.communicator.closeSignal, self.cancel_verification)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
            if self.parentWidget():
                self.parentWidget().close()
            event.accept()
        else:
            event.ignore()
            self.setWindowState(QtCore.Qt.WindowMinimized)
