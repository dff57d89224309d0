"""The *Model Suggestion* perspective: rank sasmodels models for 1D data, verify, fit.

*Suggest model* ranks the data sets never ranked with the network; *Verify fits* (or
*Verify top k by fitting*, after each new ranking) fits the top candidates and re-ranks
them; *Fit in SasView* (and *Auto-fit*) hands the chosen model to SasView's Fitting
perspective, one fit page per data set, and reports what SasView's page signals.

The window is cut the way SasView's perspectives are: the rules and the data sets'
work in a Qt-free controller (:mod:`.controller`, :mod:`.state`, :mod:`.tables`,
:mod:`.tasks`), small views (:mod:`.ranking_table`, :mod:`.overview`, :mod:`.plot`,
:mod:`.handoff` for the SasView fit, :mod:`.window_ui` for the layout), SasView's
interface in :mod:`.sasview_hooks` and the SasView patches in :mod:`.sasview_fixes`.
This class wires them: data in, ranking, verification, messages.

Import this module only after SasView installed its Qt reactor (it imports
``sas.qtgui.Perspectives``); :mod:`sasnets_plugin.gui.launcher` takes care of that.
"""
from __future__ import annotations

import functools
import logging

import sas.qtgui.Utilities.GuiUtils as GuiUtils
from PySide6 import QtCore, QtGui, QtWidgets
from sas.qtgui.Perspectives.perspective import Perspective

from ..errors import DataError
from ..loading import from_data1d
from ..models.products import display_name
from . import PERSPECTIVE_NAME, fitting_bridge, sasview_fixes
from .controller import RankingJob, Suggestions, verification_summary
from .handoff import FitHandOff
from .sasview_hooks import SasViewHooks, settings_path
from .state import DataSet, Outcome, Settings
from .tasks import VerifyJob, load_network, suggest_all, verify
from .window_ui import COLOURS, SUGGEST_TIP, WindowUi, sentence
from .worker import VERIFY, run_in_background

log = logging.getLogger(__name__)

class ModelSuggestionWindow(QtWidgets.QWidget, WindowUi, SasViewHooks, Perspective):
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
        #: The data sets and their work (Qt-free rules).
        self.work = Suggestions()
        self._categories: dict[str, str] | None = None
        #: The fits handed to SasView's Fitting perspective.
        self.handoff = FitHandOff(parent, lambda: self.work.datasets, self._say,
                                  self._fit_ended, self)
        self.handoff.started.connect(self.fitStarted)
        self.handoff.finished.connect(self.fitFinished)
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
        self.lblNetwork.setStyleSheet(f"color: {COLOURS[logging.ERROR]};")
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
                refused.append(f"{title}: {sentence(str(exc))}")
                continue
            dataset = self.work.add(item, raw, (
                "Received; click Suggest model to rank the models.", logging.INFO))
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
        self.work.forget(dataset)
        index = self.cbDataSet.findData(dataset.key)
        if index >= 0:
            self.cbDataSet.removeItem(index)
        self._refresh()

    def reset(self):
        """Back to the empty state (SasView's *New project*)."""
        self.work.reset()
        self._project_current = None
        self.cbDataSet.clear()
        self.txtSearch.clear()
        self._show_status("", logging.INFO)
        self._refresh()

    def _find(self, key: int | None = None, item=None) -> DataSet | None:
        return self.work.find(key=key, item=item)

    @property
    def datasets(self) -> list[DataSet]:
        return list(self.work.datasets)

    @property
    def verify_job(self) -> VerifyJob | None:
        """The verification running now."""
        return self.work.job

    def current_dataset(self) -> DataSet | None:
        key = self.cbDataSet.currentData()
        return None if key is None else self._find(key=key)

    # ------------------------------------------------------------------ ranking

    def onSuggest(self):
        """Rank the data sets never ranked (or the one shown again), in the background."""
        if not self.work.datasets:
            self._say("Send 1D data here first: tick it in the Data Explorer, choose "
                      f"'{self.name}' in the 'Send to' list and press 'Send data'.",
                      logging.WARNING)
            return
        started = self.work.start_ranking(self.current_dataset())
        if started is None:
            return
        job, todo = started
        waiting = " (waiting for the network to load)" if self.network_ready is None else ""
        for dataset in todo:
            self._say(f"Ranking the models{waiting}…", dataset=dataset)
        self._update_buttons()
        run_in_background(functools.partial(suggest_all, [(d.key, d.raw) for d in todo]),
                          functools.partial(self._ranked, job),
                          functools.partial(self._rank_failed, job),
                          self, "model suggestion")

    def _ranked(self, job: RankingJob, outcomes: list[Outcome]):
        datasets = self.work.take_ranking(job, outcomes)
        if datasets is None:
            return  # the perspective was reset meanwhile
        ranked = [d for d in datasets if d.ranking is not None]
        for dataset in datasets:
            ranking = dataset.ranking
            if ranking is None:
                self._say(f"Not ranked: {dataset.outcome.error}", logging.WARNING, dataset)
                continue
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

    def _rank_failed(self, job: RankingJob, error):
        datasets = self.work.ranking_failed(job)
        if datasets is None:
            return
        if self.network_ready is not True:
            self._network_failed(error)
        for dataset in datasets:
            self._say(f"No ranking: {error}", logging.ERROR, dataset)
        self._update_buttons()
        self.rankingFinished.emit()

    # ------------------------------------------------------------------ display

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
        self.cmdSuggest.setEnabled(bool(self.work.datasets) and self.work.ranking is None)
        self.cmdFit.setEnabled(ranked and self._manager is not None
                               and bool(self.tblRanking.selectedItems()))
        self.cmdVerify.setEnabled(ranked and not self.work.verifying(dataset))
        self.cmdCancelVerify.setEnabled(self.work.can_cancel)

    # ------------------------------------------------------------------ verification

    def top_candidates(self, dataset: DataSet) -> list[str]:
        """The ``top_k`` most probable models of ``dataset`` (Preferences)."""
        return self.work.top_candidates(dataset, self.settings.top_k)

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
        if self.work.request_verification(dataset, models, auto_fit):
            self._say("Verification queued after the running one.", dataset=dataset)
        self._next_verification()
        self._update_buttons()

    def _next_verification(self):
        started = self.work.next_verification(self.settings.verify_seconds)
        if started is None:
            return
        job, dataset = started
        run_in_background(functools.partial(verify, job),
                          functools.partial(self._verified, job),
                          functools.partial(self._verify_failed, job),
                          self, "fit verification", thread=VERIFY)
        names = ", ".join(display_name(m) for m in job.models)
        self._say(f"Verifying: fitting {names} to the data (at most "
                  f"{job.max_seconds:.0f} s; Cancel stops it)…", dataset=dataset)
        self._show_progress()
        self._progress_timer.start()
        self._update_buttons()

    def cancel_verification(self):
        """Stop the running verification and drop the queued ones."""
        job = self.work.cancel_verifications()
        if job is not None:
            self._say("Cancelling the fit verification…", dataset=self._find(key=job.key))
        self._show_progress()
        self._update_buttons()

    def _verification_ended(self, job: VerifyJob, verification=None) -> DataSet | None:
        """The bookkeeping of an ended verification; its data set when still here."""
        ended = self.work.end_verification(job, verification)
        if self.work.job is None:
            self._progress_timer.stop()
        self._show_progress()
        if ended.outdated:
            self._say("The verification was for an earlier ranking; verify again.",
                      logging.WARNING, ended.dataset)
        return ended.dataset

    def _verified(self, job: VerifyJob, verification):
        dataset = self._verification_ended(job, verification)
        if dataset is not None and dataset.verification is verification:
            self._say(verification_summary(verification), dataset=dataset)
            if dataset is self.current_dataset():
                self._refresh()
            if job.auto_fit:
                self.fit(dataset, dataset.preselected())
        else:
            verification = None
        self._update_buttons()
        self.verificationFinished.emit(verification)
        self._next_verification()

    def _verify_failed(self, job: VerifyJob, error):
        from ..verification import VerificationCancelled

        dataset = self._verification_ended(job)
        if dataset is not None:
            if isinstance(error, VerificationCancelled):
                self._say("Fit verification cancelled; the network ranking stands.",
                          dataset=dataset)
            else:
                self._say(f"Fit verification failed: {error}", logging.ERROR, dataset)
                if job.auto_fit and dataset.ranking is not None:
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

    def onFit(self):
        """Fit the current data set with the selected model in the Fitting perspective."""
        dataset = self.current_dataset()
        model = self.selected_model()
        if dataset is None or model is None:
            self._say("Rank the models first (Suggest model), then choose one.", logging.WARNING)
            return
        self.fit(dataset, model)

    def fit(self, dataset: DataSet, model: str):
        """Fit ``dataset`` with ``model`` in SasView (:class:`.handoff.FitHandOff`)."""
        self.handoff.fit(dataset, model)

    @property
    def last_plan(self) -> fitting_bridge.FitPlan | None:
        """The last plan handed to the Fitting perspective."""
        return self.handoff.last_plan

    def _fit_ended(self, dataset: DataSet):
        if dataset is self.current_dataset():
            self._fill_fit(dataset)

