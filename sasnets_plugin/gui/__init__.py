"""SasView GUI for SASNets: the *Model Suggestion* perspective.

Importing this package imports neither Qt nor SasView. The pieces:

* :mod:`.launcher`: ``sasnets-sasview`` / ``python -m sasnets_plugin`` (SasView's own
  start-up with the perspective added) and :func:`register` for custom start-up scripts;
* :mod:`.perspective`: the perspective widget (import it only after SasView's reactor
  is installed; the launcher does that);
* :mod:`.state`: what the perspective knows about each data set and the rules its
  buttons follow (Qt-free);
* :mod:`.worker`: network loading, ranking and fit verification off the GUI thread;
* :mod:`.fitting_bridge`: start values (Qt-free) and the hand-off to the Fitting
  perspective;
* :mod:`.preferences`: the perspective's page in SasView's Preferences window;
* ``help/model_suggestion.html``: the help page the *Help* button opens.
"""

#: The perspective's name in SasView's "Send to" list and Analysis menu.
PERSPECTIVE_NAME = "Model Suggestion"


def register() -> None:
    """Add the perspective to the next SasView main window built in this process."""
    from .launcher import register as _register

    _register()


__all__ = ["PERSPECTIVE_NAME", "register"]
