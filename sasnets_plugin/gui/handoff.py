"""The hand-off to SasView's Fitting perspective (Qt): one fit page per data set, the
plan typed into it (:mod:`.fitting_bridge`), and SasView's own account of the fit when
its page signals the end (``fittingFinishedSignal``), told back to the perspective."""
from __future__ import annotations

import functools
import logging
from typing import Callable

from PySide6 import QtCore

from ..errors import SasnetsError
from ..models.products import display_name
from . import fitting_bridge, state
from .state import DataSet, SasViewFit
from .worker import run_in_background

log = logging.getLogger(__name__)

#: ``say(text, level, data set)``: a message for a data set's status line.
Say = Callable[[str, int, DataSet], None]


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



class FitHandOff(QtCore.QObject):
    """Fits data sets in SasView's Fitting perspective and reports SasView's result."""

    #: A fit page was set up and its fit started: (page, model name).
    started = QtCore.Signal(object, str)
    #: A fit started here ended: (page, SasView's χ²/Npts, or None when the fit failed
    #: or could not start; then the page may be None).
    finished = QtCore.Signal(object, object)

    def __init__(self, manager, datasets: Callable[[], list[DataSet]], say: Say,
                 ended: Callable[[DataSet], None], parent: QtCore.QObject):
        super().__init__(parent)
        #: SasView's GuiManager (None outside SasView).
        self.manager = manager
        self.datasets = datasets
        self.ended = ended
        self._say_to = say
        #: The last plan handed to the Fitting perspective.
        self.last_plan: fitting_bridge.FitPlan | None = None
        self._page_watches: dict[int, _PageWatch] = {}

    def find(self, key: int) -> DataSet | None:
        return next((d for d in self.datasets() if d.key == key), None)

    def _say(self, text: str, level: int = logging.INFO, dataset: DataSet | None = None):
        self._say_to(text, level, dataset)

    def fit(self, dataset: DataSet, model: str):
        """Fit ``dataset`` with ``model`` in SasView, in the data set's own fit page.

        A structure factor alone is fitted as ``sphere@<S(q)>`` (SasView fits an S(q)
        only as a product); a verified model starts from its verified values.
        """
        if self.manager is None:
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
        run_in_background(functools.partial(fitting_bridge.plan_fit, target,
                                            dataset.ranking.prepared.data,
                                            dataset.ranking.estimate(target)),
                          lambda plan, key=dataset.key: self._hand_off(key, record, plan),
                          lambda error, key=dataset.key: self._fit_failed(key, record, error),
                          self, f"planning the fit with {target}")

    def _hand_off(self, key: int, record: SasViewFit, plan: fitting_bridge.FitPlan):
        dataset = self.find(key)
        if dataset is None or dataset.fit is not record:
            return  # forgotten meanwhile
        try:
            page = fitting_bridge.open_fit_page(self.manager, dataset.item, plan, dataset.page)
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
        record.page_name = fitting_bridge.page_name(self.manager, page)
        free = ", ".join(plan.fit)
        origin = ("its verified fit" if plan.source == fitting_bridge.FROM_VERIFIED_FIT
                  else "estimated start values")
        self._say(f"SasView is fitting {display_name(plan.model)} in {record.page_name}, "
                  f"starting from {origin} (free: {free}).", dataset=dataset)
        self.started.emit(page, plan.model)

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
        dataset = next((d for d in self.datasets() if d.page is page and d.fit is not None
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
        self.ended(dataset)
        self.finished.emit(page, record.chi2)

    def _fit_failed(self, key: int, record: SasViewFit, error):
        dataset = self.find(key)
        record.outcome = state.FAILED
        record.messages = (str(error),)
        if dataset is not None:
            self._say(f"Could not fit with {display_name(record.model)}: {error}",
                      logging.ERROR, dataset)
        self.finished.emit(None, None)
