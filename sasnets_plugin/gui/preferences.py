"""The perspective's page in SasView's *Preferences* window.

SasView's configuration object is closed to new keys, so the page stages its values
as SasView's "non-config" changes and, when the user presses *Apply* or *OK*
(:meth:`applyNonConfigValues`), saves them to its own file in SasView's configuration
folder (:class:`~.state.Settings`) and hands them to the perspective. *Cancel* and
*Restore defaults* work as on SasView's own pages.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtGui
from sas.qtgui.Utilities.Preferences.PreferencesWidget import PreferencesWidget

from .state import Settings

log = logging.getLogger(__name__)

#: Keys of the staged values (SasView's staging needs names that are not config keys).
TOP_K, SECONDS = "SASNETS_TOP_K", "SASNETS_VERIFY_SECONDS"


class SuggestionPreferences(PreferencesWidget):
    """Top-k and verification time budget."""

    name = "Model Suggestion"

    def __init__(self, path: Path, current: Callable[[], Settings],
                 on_change: Callable[[Settings], None]):
        """``current()`` gives the perspective's settings, ``on_change(settings)`` is
        called with the new ones after they were saved to ``path``."""
        self._path = Path(path)
        self._current_settings = current
        self._on_change = on_change
        self._staged: dict[str, object] = {}
        super().__init__(self.name, build_gui=True)

    @property
    def settings(self) -> Settings:
        return self._current_settings()

    def _addAllWidgets(self):
        self.addHeaderText("Model Suggestion perspective (SASNets)")
        self.txtTopK = self.addIntegerInput(
            "Candidates verified by fitting (top-k)", self.settings.top_k)
        self.txtTopK.setValidator(QtGui.QIntValidator(*Settings.TOP_K_RANGE, self.txtTopK))
        self.txtTopK.setToolTip("Verify fits fits this many of the most probable models "
                                f"({Settings.TOP_K_RANGE[0]}-{Settings.TOP_K_RANGE[1]}).")
        self.txtSeconds = self.addFloatInput(
            "Verification time budget (s)", self.settings.verify_seconds)
        self.txtSeconds.validator().setRange(*Settings.SECONDS_RANGE, 1)
        self.txtSeconds.setToolTip("Longest a fit verification may take; Cancel stops it "
                                   "earlier.")
        self.txtTopK.textChanged.connect(lambda: self._stage_edit(self.txtTopK, TOP_K))
        self.txtSeconds.textChanged.connect(lambda: self._stage_edit(self.txtSeconds, SECONDS))

    def _current(self, key: str) -> str:
        return {TOP_K: str(self.settings.top_k), SECONDS: str(self.settings.verify_seconds)}[key]

    def _stage_edit(self, edit, key: str):
        self._staged.pop(key, None)
        self._validate_input_and_stage(edit, key)

    def _stageChange(self, key: str, value):
        """Stage ``value`` unless it is the saved one (SasView compares with its config)."""
        if str(value) == self._current(key):
            self._staged.pop(key, None)
            self._unStageChange(key)
            self.parent.unset_invalid_input(key)
        else:
            self._staged[key] = value
            self.parent.stageSingleChange(key, value, self.restart_params.get(key))

    def applyNonConfigValues(self):
        """Save the staged values and pass them to the perspective (Apply, OK)."""
        if not self._staged:
            return
        staged, old = self._staged, self.settings
        settings = Settings(
            top_k=int(staged.get(TOP_K, old.top_k)),
            verify_seconds=float(staged.get(SECONDS, old.verify_seconds))).checked()
        self._staged = {}
        try:
            settings.save(self._path)
        except OSError as exc:
            log.error("Model Suggestion: could not save the preferences to %s: %s",
                      self._path, exc)
        self._on_change(settings)
        self.restoreGUIValuesFromConfig()

    def restoreDefaults(self):
        """*Restore defaults*: the default values, staged (Apply saves them)."""
        defaults = Settings()
        self.txtTopK.setText(str(defaults.top_k))
        self.txtSeconds.setText(str(defaults.verify_seconds))

    def _restoreFromConfig(self):
        self._staged = {}
        self.txtTopK.setText(str(self.settings.top_k))
        self.txtSeconds.setText(str(self.settings.verify_seconds))

    def _toggleBlockAllSignaling(self, toggle: bool):
        for widget in (self.txtTopK, self.txtSeconds):
            widget.blockSignals(toggle)
