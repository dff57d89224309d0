"""What SasView calls on a perspective (its ``Perspective`` interface), as a mixin of
:class:`.perspective.ModelSuggestionWindow`: project and analysis files, the Report, Copy
(text, Excel, LaTeX), the Preferences page, Help, and the window's close rules."""
from __future__ import annotations

import logging
from pathlib import Path

import sas.qtgui.Utilities.GuiUtils as GuiUtils
from PySide6 import QtCore, QtWidgets
from sas.qtgui.Utilities.Reports.reportdata import ReportData

from . import PERSPECTIVE_NAME, ranking_table, sasview_fixes, state, tables
from .state import DataSet

log = logging.getLogger(__name__)

#: Key of the perspective's part of a data set's entry in a SasView project file.
PROJECT_KEY = "suggestion_params"
#: The preferences file, in SasView's configuration folder.
SETTINGS_FILE = "sasnets_model_suggestion.json"
#: The help page shipped with the package.
HELP_PAGE = Path(__file__).resolve().parent / "help" / "model_suggestion.html"


def settings_path() -> Path:
    """The preferences file in SasView's configuration folder."""
    from sas.system import user

    return Path(user.get_config_dir()) / SETTINGS_FILE


class SasViewHooks:
    """The perspective's answers to SasView's calls."""

    def isSerializable(self) -> bool:
        return True

    def serializeAll(self) -> dict:
        """Every data set's ranking, verification and status for SasView's project file:
        ``{data id: {"suggestion_params": {...}}}`` (*Save Project*)."""
        current = self.current_dataset()
        return {data_id: {PROJECT_KEY: {**dataset.to_dict(), "current": dataset is current}}
                for dataset in self.work.datasets
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
