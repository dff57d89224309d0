"""Fixtures driving the real SasView main window with the Model Suggestion perspective.

One SasView main window serves the whole session: SasView's signals go through a
process-wide communicator, so a second window would answer the first one's signals.
Each test starts from an empty Data Explorer and an empty perspective.

SasView's user files go to a scratch folder (XDG directories), and its config is
reset to defaults without saving. The network is the bundled one in ``model_weights/``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from sasview_helpers import XDG_DIRS, have_display


def pytest_collection_modifyitems(config, items):
    if have_display():
        return
    skip = pytest.mark.skip(reason="needs an X server: run ./test.sh (xvfb-run) or set DISPLAY")
    for item in items:
        if "gui" in item.keywords:
            item.add_marker(skip)


# ------------------------------------------------------------------ weights

@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """The bundled network (``model_weights/``)."""
    from sasnets_plugin.classifier import default_weights_dir

    return default_weights_dir()


@pytest.fixture(scope="module", autouse=True)
def use_weights(weights_dir):
    """Point the network loader at ``weights_dir`` for this module's tests only."""
    from sasnets_plugin.suggestion import get_classifier

    old = os.environ.get("SASNETS_WEIGHTS")
    os.environ["SASNETS_WEIGHTS"] = str(weights_dir)
    get_classifier.cache_clear()
    yield weights_dir
    if old is None:
        os.environ.pop("SASNETS_WEIGHTS", None)
    else:
        os.environ["SASNETS_WEIGHTS"] = old
    get_classifier.cache_clear()


@pytest.fixture(scope="session")
def network_classes(weights_dir) -> list[str]:
    return json.loads((weights_dir / "classes.json").read_text())


# ------------------------------------------------------------------ SasView

@pytest.fixture(scope="session")
def qapp():
    """pytest-qt's application, created with SasView's settings (OpenGL sharing)."""
    from sasnets_plugin.gui.launcher import make_application

    return make_application()


@pytest.fixture(scope="session")
def sasview(qapp, weights_dir):
    """SasView's main window with the perspective, built as ``run_sasview`` does."""
    if not have_display():
        pytest.skip("needs an X server")
    if "tensorflow" in sys.modules:
        # TensorFlow (imported by tests of the Keras path and of training) brings its
        # own LLVM: Mesa's OpenGL (llvmpipe) would then crash the process.
        pytest.fail("TensorFlow was imported before SasView's OpenGL; run the GUI tests "
                    "on their own (pytest tests/gui; ./test.sh does)")
    os.environ.update(XDG_DIRS)
    if "sas.system.user" in sys.modules:  # imported before us: move its folders too
        user = sys.modules["sas.system.user"]
        for attr, var in (("_CONFIG_DIR", "XDG_CONFIG_HOME"), ("_APP_DATA_DIR", "XDG_DATA_HOME"),
                          ("_APP_VERS_DIR", "XDG_DATA_HOME"), ("_CACHE_DIR", "XDG_CACHE_HOME"),
                          ("_LOG_DIR", "XDG_STATE_HOME")):
            setattr(user, attr, str(Path(XDG_DIRS[var]) / "SasView"))
    from sasnets_plugin.gui.launcher import start_sasview_embedded

    window = start_sasview_embedded()
    window.resize(1500, 950)
    window.show()
    yield window
    window.hide()
    from twisted.internet import reactor

    if reactor.running:
        reactor.stop()
        reactor.runUntilCurrent()


@pytest.fixture
def gui(sasview, qtbot):
    """The GUI manager, with an empty Data Explorer and perspective before and after."""
    manager = sasview.guiManager
    _clean(manager, qtbot)
    yield manager
    _clean(manager, qtbot)


def _sasview_idle(manager) -> bool:
    """No fit page is fitting or computing its model curve (SasView's threads would
    otherwise deliver plots for data deleted meanwhile)."""
    from sasnets_plugin.gui.fitting_bridge import fit_running

    fitting = manager.loadedPerspectives.get("Fitting")
    pages = [t for t in getattr(fitting, "tabs", []) if hasattr(t, "cmdFit")]
    return all(not fit_running(p) and p.cmdFit.text() == "Fit" for p in pages)


def _clean(manager, qtbot):
    from sasnets_plugin.gui import PERSPECTIVE_NAME

    explorer = manager.filesWidget
    qtbot.waitUntil(lambda: _sasview_idle(manager), timeout=240_000)
    qtbot.wait(300)  # let the last results reach their plots
    if explorer.model.rowCount():
        explorer.deleteAllItems()
    perspective = manager.loadedPerspectives[PERSPECTIVE_NAME]
    perspective.reset()  # also cancels a running fit verification
    perspective.chkAutoFit.setChecked(False)
    perspective.chkVerify.setChecked(False)
    qtbot.waitUntil(lambda: perspective.verify_job is None, timeout=60_000)
    # Preferences back to the defaults (a test may have changed them).
    from sasnets_plugin.gui.sasview_hooks import settings_path
    from sasnets_plugin.gui.state import Settings

    settings_path().unlink(missing_ok=True)
    if perspective.settings != Settings():
        perspective.apply_settings(Settings())
        qtbot.waitUntil(lambda: perspective.network_ready is not None, timeout=120_000)


# ------------------------------------------------------------------ actions

@pytest.fixture(scope="session")
def example_data() -> Path:
    import sasdata

    return Path(sasdata.__file__).parent / "example_data"
