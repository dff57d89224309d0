"""Helpers for the GUI tests: drive SasView's widgets the way a user does."""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SCRATCH = Path(tempfile.mkdtemp(prefix="sasnets-gui-tests-"))
atexit.register(shutil.rmtree, _SCRATCH, True)
XDG_DIRS = {name: str(_SCRATCH / name.lower()) for name in
            ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")}


def isolated_env(**extra) -> dict[str, str]:
    """Environment for subprocesses: scratch SasView folders, the same display."""
    return dict(os.environ, **XDG_DIRS, **extra)  # with the flags conftest configured


def have_display() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform in ("offscreen", "minimal"):
        return False  # SasView's OpenGL views segfault there
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _file_name(item) -> str:
    """The file an item of the Data Explorer was read from (its text may be the title)."""
    from sas.qtgui.Utilities import GuiUtils

    data = GuiUtils.dataFromItem(item)
    return Path(getattr(data, "filename", "") or "").name


def load_files(manager, qtbot, paths) -> list:
    """Load files through the Data Explorer (its threaded loader) and tick only them."""
    explorer = manager.filesWidget
    names = {Path(p).name for p in paths}
    explorer.loadFromURL([str(p) for p in paths])

    def loaded():
        rows = [explorer.model.item(r) for r in range(explorer.model.rowCount())]
        assert names <= {i.text() for i in rows} | {_file_name(i) for i in rows}

    qtbot.waitUntil(loaded, timeout=60_000)
    from PySide6.QtCore import Qt

    items = []
    for row in range(explorer.model.rowCount()):
        item = explorer.model.item(row)
        chosen = item.text() in names or _file_name(item) in names
        item.setCheckState(Qt.Checked if chosen else Qt.Unchecked)
        if chosen:
            items.append(item)
    return items


def choose_perspective(manager, name):
    """Pick ``name`` in the Data Explorer's "Send to" list, as a user does."""
    combo = manager.filesWidget.cbFitting
    index = combo.findText(name)
    assert index >= 0, f"{name} is not in the Send to list"
    combo.setCurrentIndex(index)
    return manager.perspective()


def suggestion_perspective(manager, qtbot):
    """Switch to the Model Suggestion perspective and wait for its network to load."""
    from sasnets_plugin.gui import PERSPECTIVE_NAME

    perspective = choose_perspective(manager, PERSPECTIVE_NAME)
    assert perspective.name == PERSPECTIVE_NAME
    qtbot.waitUntil(lambda: perspective.network_ready is not None, timeout=120_000)
    return perspective


def send(manager):
    manager.filesWidget.cmdSendTo.click()


def suggest(qtbot, perspective, timeout: int = 180_000):
    """Click *Suggest model* and wait for the ranking."""
    with qtbot.waitSignal(perspective.rankingFinished, timeout=timeout):
        click(qtbot, perspective.cmdSuggest)


def fit_in_sasview(qtbot, perspective, timeout: int = 240_000):
    """Click *Fit in SasView* and wait until the fit started from here ended; returns
    (page, SasView's χ²/Npts or None)."""
    with qtbot.waitSignal(perspective.fitFinished, timeout=timeout) as finished:
        click(qtbot, perspective.cmdFit)
    return tuple(finished.args)


def verify(qtbot, perspective, timeout: int = 180_000):
    """Click *Verify fits* and wait for the verification; returns it (None if it failed)."""
    with qtbot.waitSignal(perspective.verificationFinished, timeout=timeout) as finished:
        click(qtbot, perspective.cmdVerify)
    return finished.args[0]


def click(qtbot, button):
    from PySide6.QtCore import Qt

    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.LeftButton)


def no_modal_dialog():
    from PySide6.QtWidgets import QApplication

    return QApplication.activeModalWidget() is None


def wait(qtbot, seconds):
    end = time.monotonic() + seconds
    qtbot.waitUntil(lambda: time.monotonic() >= end, timeout=int(seconds * 1000) + 5000)


def copy_to(tmp_path: Path, source: Path) -> Path:
    target = tmp_path / source.name
    shutil.copy(source, target)
    return target


@contextlib.contextmanager
def connected(signal, slot):
    """``signal`` connected to ``slot`` for the block only (the perspective outlives the
    test)."""
    signal.connect(slot)
    try:
        yield
    finally:
        signal.disconnect(slot)
