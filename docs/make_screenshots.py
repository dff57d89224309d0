"""Screenshots of the Model Suggestion perspective in a real SasView session.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshots.py

Starts SasView's main window with the perspective (as ``sasnets-sasview`` does),
loads sasdata's ``cyl_400_20.txt`` through the Data Explorer, sends it to the
perspective, ranks the models, then lets "Auto-fit top choice" hand the data to the
Fitting perspective. Saves ``docs/perspective.png`` (the ranking) and
``docs/fitting.png`` (the fit page after the fit), grabbed from the real widgets.
Uses the network in ``model_weights/`` (or ``$SASNETS_WEIGHTS``). Options:
``--data FILE`` another 1D file, ``--out DIR`` where to write the PNGs.
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

    default_data = Path(sasdata.__file__).parent / "example_data" / "1d_data" / "cyl_400_20.txt"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the fit")
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

    explorer = manager.filesWidget
    explorer.loadFromURL([str(args.data)])
    wait_for(lambda: explorer.model.rowCount() > 0, 60, "the data to load")
    explorer.cbFitting.setCurrentIndex(explorer.cbFitting.findText(PERSPECTIVE_NAME))
    perspective = manager.perspective()
    wait_for(lambda: perspective.network_ready is not None, 180, "the network")
    if not perspective.network_ready:
        raise SystemExit(perspective.lblNetwork.text())
    explorer.cmdSendTo.click()

    ranked = []
    perspective.rankingFinished.connect(lambda: ranked.append(True))
    perspective.cmdSuggest.click()
    wait_for(lambda: ranked, 180, "the ranking")
    if perspective.tblRanking.rowCount() == 0:
        raise SystemExit(perspective.lblStatus.text())
    perspective.parentWidget().resize(760, 980)
    pause(1.0)  # let the canvas draw
    args.out.mkdir(parents=True, exist_ok=True)
    perspective.grab().save(str(args.out / "perspective.png"))

    finished = []
    perspective.fitFinished.connect(lambda page, chi2: finished.append((page, chi2)))
    perspective.chkAutoFit.setChecked(True)
    perspective.cmdSuggest.click()  # rank again, then fit the top choice
    wait_for(lambda: finished, args.timeout, "the fit")
    page, chi2 = finished[0]
    if page is None:
        raise SystemExit(perspective.lblStatus.text())
    fitting = manager.loadedPerspectives["Fitting"]
    fitting.parentWidget().resize(760, 980)
    pause(1.5)  # let the fit page and its plots update
    fitting.grab().save(str(args.out / "fitting.png"))
    top = perspective.current_dataset().ranking.top(3)
    summary = ", ".join(f"{m} {p:.1%}" for m, p in top)
    print(f"top 3: {summary}; fit of {page.cbModel.currentText()}: chi2/Npts = {chi2}")
    print(f"wrote {args.out / 'perspective.png'} and {args.out / 'fitting.png'}")
    sys.stdout.flush()
    os._exit(0)  # skip SasView's exit dialog and twisted shutdown


if __name__ == "__main__":
    sys.exit(main())
