"""SasView GUI for SASNets: the *Model Suggestion* perspective.

Importing this package imports neither Qt nor SasView. The pieces:

* :mod:`.launcher`: ``sasnets-sasview`` / ``python -m sasnets_plugin`` (SasView's own
  start-up with the perspective added) and :func:`register` for custom start-up scripts;
* :mod:`.perspective`: the perspective widget, wiring the parts below (import it only
  after SasView's reactor is installed; the launcher does that);
* Qt-free: :mod:`.controller` (the data sets, the ranking job, the verification queue),
  :mod:`.state` (a data set, its rules, preferences, project form), :mod:`.tables`
  (the tables as text: clipboard, report, overview rows), :mod:`.tasks` (network
  loading, ranking, verification), :mod:`.fitting_bridge` (start values; also the
  hand-off to the Fitting perspective);
* Qt views: :mod:`.window_ui` (the layout), :mod:`.ranking_table`, :mod:`.overview`,
  :mod:`.plot`, :mod:`.handoff` (fits in SasView), :mod:`.cells`;
* SasView: :mod:`.sasview_hooks` (SasView's perspective interface), :mod:`.sasview_fixes`
  (the patches of SasView), :mod:`.preferences` (the Preferences page);
* :mod:`.worker`: the background threads;
* ``help/model_suggestion.html``: the help page the *Help* button opens.
"""

#: The perspective's name in SasView's "Send to" list and Analysis menu.
PERSPECTIVE_NAME = "Model Suggestion"


def register() -> None:
    """Add the perspective to the next SasView main window built in this process."""
    from .launcher import register as _register

    _register()


__all__ = ["PERSPECTIVE_NAME", "register"]
