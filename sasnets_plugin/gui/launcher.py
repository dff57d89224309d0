"""Start SasView with the *Model Suggestion* perspective.

SasView 6.2 has no plugin hook for perspectives. Its main window reads the dict
``sas.qtgui.Perspectives.PERSPECTIVES`` (name -> class) while it is being built:
``GuiManager.loadAllPerspectives`` instantiates each class as ``cls(parent=gui_manager)``
and the Data Explorer fills its "Send to" list from the keys. So the perspective has
to be in that dict before the window is built, but not much earlier: importing
``sas.qtgui.Perspectives`` makes the Invariant and Fitting modules bind twisted's
``reactor``, and that must happen after SasView installed its Qt reactor
(``ReactorCore.install()`` in ``run_sasview``), or they keep a dead default reactor.

The hook: SasView's own start-up, ``sas.cli.main`` (argument parsing, logging, config,
file arguments, ``run_sasview``), is kept as it is. It imports
``sas.qtgui.MainWindow.MainWindow`` only when it starts the GUI; a post-import hook
then wraps that module's ``MainSasViewWindow.__init__``. ``run_sasview`` builds the
window after installing the reactor; the wrapper adds the perspective to
``PERSPECTIVES``, runs SasView's own ``__init__`` (which builds everything), and adds a
*Model Suggestion* item to the Analysis menu (that menu is hard-wired in SasView).
"""
from __future__ import annotations

import functools
import importlib.abc
import logging
import sys

from . import PERSPECTIVE_NAME

log = logging.getLogger(__name__)

MAIN_WINDOW_MODULE = "sas.qtgui.MainWindow.MainWindow"
ACTION_NAME = "actionModelSuggestion"


def add_to_perspectives():
    """Put the perspective class into SasView's ``PERSPECTIVES``; returns the class.

    Call it after SasView installed its reactor and before it builds its main window
    (the window built by :func:`register`'s hook does this itself).
    """
    import sas.qtgui.Perspectives as perspectives

    from .perspective import ModelSuggestionWindow

    perspectives.PERSPECTIVES.setdefault(PERSPECTIVE_NAME, ModelSuggestionWindow)
    return perspectives.PERSPECTIVES[PERSPECTIVE_NAME]


def install_analysis_action(gui_manager):
    """Add *Analysis → Model Suggestion* to a SasView main window (once)."""
    from PySide6 import QtCore, QtGui

    window = gui_manager._workspace
    existing = window.findChild(QtGui.QAction, ACTION_NAME)
    if existing is not None:
        return existing

    class _AnalysisHook(QtCore.QObject):
        """Switches perspective from the menu and keeps the menu's tick in step."""

        def __init__(self, action):
            super().__init__(action)
            self.action = action
            action.triggered.connect(self.activate)
            gui_manager.communicator.perspectiveChangedSignal.connect(self.follow)

        @QtCore.Slot()
        def activate(self):
            gui_manager.perspectiveChanged(PERSPECTIVE_NAME)
            gui_manager.filesWidget.onAnalysisUpdate(PERSPECTIVE_NAME)
            self.action.setChecked(True)

        @QtCore.Slot(str)
        def follow(self, name):
            if name == PERSPECTIVE_NAME:
                self.action.setChecked(True)

    action = QtGui.QAction(PERSPECTIVE_NAME, window)
    action.setObjectName(ACTION_NAME)
    action.setCheckable(True)
    action.setStatusTip("Rank sasmodels models for 1D data with the SASNets network")
    window.menuAnalysis.addAction(action)
    action._sasnets_hook = _AnalysisHook(action)
    return action


def _patch(module) -> None:
    """Wrap ``module.MainSasViewWindow.__init__`` so that the window has the perspective.

    The class is patched in place rather than replaced: SasView's ``__init__`` calls
    ``super(MainSasViewWindow, self)``, which looks the module-level name up.
    """
    window_class = module.MainSasViewWindow
    original_init = window_class.__init__
    if getattr(original_init, "_sasnets_patched", False):
        return

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        try:
            add_to_perspectives()
        except Exception:  # never stop SasView from starting
            log.exception("Model Suggestion: could not register the perspective")
        original_init(self, *args, **kwargs)
        if PERSPECTIVE_NAME in getattr(self.guiManager, "loadedPerspectives", {}):
            try:
                install_analysis_action(self.guiManager)
            except Exception:
                log.exception("Model Suggestion: could not add the Analysis menu item")

    __init__._sasnets_patched = True
    window_class.__init__ = __init__


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        _patch(module)

    def __getattr__(self, name):  # get_source, get_code... for tracebacks and tools
        return getattr(self.inner, name)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches SasView's main-window module right after SasView imports it."""

    def find_spec(self, fullname, path, target=None):
        if fullname != MAIN_WINDOW_MODULE:
            return None
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _PatchingLoader(spec.loader)
        return spec


def register() -> None:
    """Make the next SasView main window built in this process include the perspective.

    Call it before SasView builds its window, e.g. before ``sas.cli.main()`` or
    ``run_sasview()``. Importing nothing from Qt or SasView's GUI, it is safe to call
    first thing in a start-up script; calling it again does nothing.
    """
    module = sys.modules.get(MAIN_WINDOW_MODULE)
    if module is not None:
        _patch(module)
        return
    if not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


def main(argv: list[str] | None = None) -> int:
    """``sasnets-sasview``: SasView's own ``sasview`` command, with the perspective."""
    register()
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    from sas.cli import main as sasview_main

    return sasview_main()


# ---------------------------------------------------------------- embedding (tests, scripts)

def make_application():
    """The QApplication, created with the settings ``run_sasview`` uses if none exists."""
    from PySide6 import QtCore, QtGui, QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is not None:
        return app
    from PySide6.QtQuick import QQuickWindow, QSGRendererInterface

    QtGui.QGuiApplication.setAttribute(QtCore.Qt.AA_ShareOpenGLContexts)
    QQuickWindow.setGraphicsApi(QSGRendererInterface.OpenGLRhi)
    app = QtWidgets.QApplication([sys.argv[0] if sys.argv else "sasview"])
    app.setStyleSheet("* {font-size: 11pt;}")
    return app


def start_reactor():
    """Install SasView's Qt reactor (as ``run_sasview`` does) and start it without blocking.

    The Qt event loop (``app.exec()``, or pytest-qt's waits) then drives twisted.
    """
    make_application()
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or type(reactor).__name__ != "QtReactor":
        sys.modules.pop("twisted.internet.reactor", None)
        from sas.qtgui.Utilities import ReactorCore

        ReactorCore.install()
    from twisted.internet import reactor

    if not reactor.running:
        reactor.runReturn(installSignalHandlers=False)
    return reactor


def start_sasview_embedded():
    """Build SasView's main window with the perspective, inside the running process.

    What ``run_sasview`` does up to the event loop (application, reactor, window), for
    tests and scripts that drive the GUI themselves: SasView's configuration is reset to
    its defaults (not saved) with the welcome panel and "what's new" page off, so no
    window pops up over the main one. Returns the main window.
    """
    from sas.system import config, lib

    config.override_with_defaults()
    config.SHOW_WELCOME_PANEL = False
    config.LAST_WHATS_NEW_HIDDEN_VERSION = "999.999.999"

    lib.setup_sasmodels()
    lib.setup_qt_env()
    start_reactor()
    register()
    from sas.qtgui.MainWindow.MainWindow import MainSasViewWindow

    return MainSasViewWindow()
