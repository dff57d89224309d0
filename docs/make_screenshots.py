"""Screenshots of the whole SasView window with the Model Suggestion perspective.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Starts SasView's main window with the perspective (as ``sasnets-sasview`` does), loads
sasdata's ``hSDS_D2O_2p0_percent.xml`` (SDS micelles in D2O, SANS) through the Data
Explorer, sends it to the perspective and, with *Verify top 5 by fitting* and *Auto-fit
top choice* ticked, presses *Suggest model*: the network ranks the models, the top 5
are verified by fitting, and the best verified one is fitted in SasView's Fitting
perspective. Saves ``docs/fitting.png`` (the window with the fit page after SasView's
fit), ``docs/perspective.png`` (the window with the perspective: ranking, verified
columns, SasView's result) and ``docs/perspective_900x800.png`` (the perspective alone
at SasView's default size for it), grabbed from the real widgets. Uses the network in
``model_weights/`` (or ``$SASNETS_WEIGHTS``). Options: ``--data FILE`` another 1D file,
``--out DIR`` where to write the PNGs, ``--sizes`` the perspective's sizes grabbed alone.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    import sasdata

    default_data = (Path(sasdata.__file__).parent / "example_data" / "1d_data"
                    / "hSDS_D2O_2p0_percent.xml")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait for the verification and the fit")
    parser.add_argument("--sizes", default="900x800",
                        help="comma-separated WIDTHxHEIGHT sizes of the perspective's "
                             "window grabbed alone (perspective_WxH.png)")
    args = parser.parse_args(argv)

    # SasView's user files in a scratch folder; its config at defaults, not saved.
    scratch = Path(tempfile.mkdtemp(prefix="sasnets-screenshots-"))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        os.environ[var] = str(scratch / var.lower())
    from sasnets_plugin import environment

    environment.configure()

    from PySide6 import QtCore

    from sasnets_plugin.gui import PERSPECTIVE_NAME
    from sasnets_plugin.gui.launcher import start_sasview_embedded

    window = start_sasview_embedded()
    window.resize(1600, 1000)
    window.show()
    manager = window.guiManager

    def wait_for(condition, seconds, what):
        loop = QtCore.QEventLoop()
        end = time.monotonic() + seconds
        timer = QtCore.QTimer()
        timer.setInterval(100)
        timer.timeout.connect(
            lambda: loop.quit() if condition() or time.monotonic() > end else None)
        timer.start()
        if not condition():
            loop.exec()
        timer.stop()
        if not condition():
            raise SystemExit(f"timed out waiting for {what}")

    def pause(seconds):
        end = time.monotonic() + seconds
        wait_for(lambda: time.monotonic() >= end, seconds + 5, "a pause")

    def arrange(front):
        """``front``'s window on the left of SasView's workspace, SasView's other windows
        (its plots, the fit's convergence) stacked on the right, as a user would drag
        them; the perspective alone fills the workspace."""
        workspace = manager.workspace()
        size = workspace.viewport().size()
        windows = [w for w in workspace.subWindowList() if w.isVisible()]
        main = next(w for w in windows if w.widget() is front)
        others = [w for w in windows if w is not main]
        width = int(size.width() * (0.58 if others else 1.0))
        main.setGeometry(0, 0, width, size.height())
        for i, other in enumerate(others):
            height = size.height() // len(others)
            other.setGeometry(width, i * height, size.width() - width, height)
        main.raise_()

    explorer = manager.filesWidget
    explorer.loadFromURL([str(args.data)])
    wait_for(lambda: explorer.model.rowCount() > 0, 60, "the data to load")
    explorer.cbFitting.setCurrentIndex(explorer.cbFitting.findText(PERSPECTIVE_NAME))
    perspective = manager.perspective()
    wait_for(lambda: perspective.network_ready is not None, 180, "the network")
    if not perspective.network_ready:
        raise SystemExit(perspective.lblNetwork.text())
    explorer.cmdSendTo.click()

    finished = []
    perspective.fitFinished.connect(lambda page, chi2: finished.append((page, chi2)))
    perspective.chkVerify.setChecked(True)
    perspective.chkAutoFit.setChecked(True)
    perspective.cmdSuggest.click()  # rank, verify the top 5, fit the best in SasView
    wait_for(lambda: finished, args.timeout, "the verification and the fit")
    page, chi2 = finished[0]
    if page is None:
        raise SystemExit(perspective.lblStatus.text())
    arrange(manager.loadedPerspectives["Fitting"])
    pause(2.0)  # let the fit page and its plots update
    args.out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out / "fitting.png"))

    explorer.cbFitting.setCurrentIndex(explorer.cbFitting.findText(PERSPECTIVE_NAME))
    for other in manager.workspace().subWindowList():  # the perspective alone
        if other.widget() is not perspective:
            other.hide()
    arrange(perspective)
    pause(1.5)  # let the canvas draw
    window.grab().save(str(args.out / "perspective.png"))
    written = [args.out / "perspective.png", args.out / "fitting.png"]
    for size in filter(None, args.sizes.split(",")):
        width, height = (int(n) for n in size.lower().split("x"))
        sub = next(w for w in manager.workspace().subWindowList() if w.widget() is perspective)
        sub.setGeometry(0, 0, width, height)
        pause(1.5)  # let the layout settle and the canvas draw
        path = args.out / f"perspective_{width}x{height}.png"
        sub.grab().save(str(path))
        written.append(path)

    dataset = perspective.current_dataset()
    top = ", ".join(f"{m} {p:.1%}" for m, p in dataset.ranking.top(3))
    best = dataset.verified.best.model if dataset.verified and dataset.verified.best else None
    print(f"top 3: {top}; verified best: {best}; SasView fit of {dataset.fit.model}: "
          f"chi2/Npts = {chi2}")
    print("wrote " + ", ".join(str(p) for p in written))
    sys.stdout.flush()
    os._exit(0)  # skip SasView's exit dialog and twisted shutdown


if __name__ == "__main__":
    sys.exit(main())
