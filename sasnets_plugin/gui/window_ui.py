"""The perspective's widgets and how they show a data set (Qt view), as a mixin of
:class:`.perspective.ModelSuggestionWindow` (the way SasView's perspectives take their
generated ``Ui_`` classes): the controls, the status lines, the ranking and overview
tabs beside the search field, the plot under a splitter, all in a scroll area so that a
shrunk window scrolls instead of overlapping (issue 25)."""
from __future__ import annotations

import logging
import math
import time

from PySide6 import QtCore, QtWidgets

from ..models import products
from ..models.products import display_name
from . import fitting_bridge, state, tables
from .overview import OverviewTable
from .plot import DataPlot
from .ranking_table import RankingTable
from .state import DataSet

#: Rows of the ranking always visible (the splitter cannot squeeze it further).
MIN_VISIBLE_ROWS = 3
#: Text colour of a message by its logging level.
COLOURS = {logging.ERROR: "#b00020", logging.WARNING: "#9a5b00", logging.INFO: ""}
#: What *Suggest model* does (its tooltip, after the network's state).
SUGGEST_TIP = ("Rank every model of the network for the data sets never ranked (or "
               "again for the one shown, when there are none). Earlier rankings and "
               "verifications stay.")


def sentence(text: str) -> str:
    """``text`` with a lower-case start, to follow a file name and a colon."""
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


class WindowUi:
    """Builds the perspective's widgets and fills them from a data set."""

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
            f"color: {COLOURS[logging.WARNING]}; background: #fff4e0; "
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

    def _show_status(self, text: str, level: int):
        colour = COLOURS.get(level, "")
        self.lblStatus.setStyleSheet(f"color: {colour};" if colour else "")
        self.lblStatus.setText(text)

    def _fill_notes(self, dataset: DataSet | None):
        if dataset is None or dataset.outcome is None:
            self.lblNotes.setStyleSheet("")
            self.lblNotes.setText("" if dataset is None else
                                  f"{dataset.title}: {dataset.raw.q.size} points, not ranked yet.")
            self.lblNotes.setToolTip("")
            return
        if dataset.outcome.error:
            self.lblNotes.setStyleSheet(f"color: {COLOURS[logging.ERROR]};")
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

    def _show_progress(self):
        bar, job = self.pbVerify, self.work.job
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

    def _refresh_overview(self):
        self.overview.fill([tables.overview_row(d) for d in self.work.datasets])
        self.tabs.setTabText(1, f"All data sets ({len(self.work.datasets)})")

    def category(self, model: str) -> str:
        """``model``'s category in SasView's Fitting page (sasmodels' when SasView has
        none)."""
        if self._categories is None:
            self._categories = fitting_bridge.sasview_categories()
        form, _ = products.split(model)
        return self._categories.get(form) or fitting_bridge.fallback_category(form)

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
