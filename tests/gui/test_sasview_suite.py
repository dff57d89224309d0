"""SasView's own shipped GUI tests still pass with the perspective registered, and the
launcher starts SasView as its ``sasview`` command does (file arguments included)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sasview_helpers import ROOT, isolated_env

pytestmark = pytest.mark.gui
HERE = Path(__file__).resolve().parent


def summary_counts(output: str) -> dict[str, int]:
    line = [ln for ln in output.splitlines() if re.search(r"\d+ (passed|failed)", ln)][-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", line)}


def test_sasview_own_gui_tests_pass_with_perspective(tmp_path, weights_dir):
    import sas

    unit = Path(sas.__file__).parent / "qtgui" / "MainWindow" / "UnitTesting"
    explorer_tests = unit / "DataExplorerTest.py"
    manager_tests = unit / "Quarantine" / "GuiManagerTest.py"
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    report = tmp_path / "report.json"
    env = isolated_env(PYTHONPATH=str(HERE), QT_QPA_PLATFORM="xcb",
                       SASNETS_PLUGIN_REPORT=str(report), SASNETS_WEIGHTS=str(weights_dir))
    command = [sys.executable, "-m", "pytest", "-p", "sasview_tests_plugin",
               str(explorer_tests), str(manager_tests),
               "-o", "python_files=*Test*.py", "-o", "python_classes=*Test",
               # needs the internet (asks sasview.org for the latest version)
               "-k", "not testCheckUpdate",
               "-q", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
               "--rootdir", str(tmp_path)]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    output = run.stdout + run.stderr
    counts = summary_counts(run.stdout)
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0, output[-5000:]
    assert counts.get("passed", 0) >= 41, output[-5000:]  # SasView 6.2.0: 41 (+1 skip, 2 xfail)
    assert run.returncode == 0, output[-5000:]
    made = json.loads(report.read_text())
    assert "Model Suggestion" in made["registered"]
    assert made["instances"] > 0  # SasView's windows really built our perspective


LAUNCH = textwrap.dedent("""
    import json, os, runpy, sys, time
    # Test-only probe: once SasView's reactor exists, look at the window it builds.
    import sas.qtgui.Utilities.ReactorCore as reactor_core
    _install = reactor_core.install
    start = time.monotonic()

    def probe():
        from twisted.internet import reactor
        from PySide6.QtWidgets import QApplication
        windows = [w for w in QApplication.topLevelWidgets() if hasattr(w, "guiManager")]
        gm = windows[0].guiManager if windows else None
        explorer = gm.filesWidget if gm else None
        rows = explorer.model.rowCount() if gm else 0
        files = [explorer.model.item(r).text() for r in range(rows)]
        if not files and time.monotonic() - start < 60:
            reactor.callLater(0.5, probe)
            return
        import sas.qtgui.Perspectives as perspectives
        import sas.qtgui.Perspectives.Invariant.InvariantPerspective as invariant
        combo = explorer.cbFitting
        print("RESULT " + json.dumps({
            "files": files,
            "registered": "Model Suggestion" in perspectives.PERSPECTIVES,
            "loaded": sorted(gm.loadedPerspectives),
            "send_to": [combo.itemText(i) for i in range(combo.count())],
            "menu": [a.text() for a in gm._workspace.menuAnalysis.actions()],
            "reactor_ok": invariant.reactor is reactor,
        }), flush=True)
        os._exit(0)

    def install():
        _install()
        from twisted.internet import reactor
        reactor.callLater(0.5, probe)

    reactor_core.install = install
    sys.argv = ["sasnets_plugin", *sys.argv[1:]]
    runpy.run_module("sasnets_plugin", run_name="__main__", alter_sys=True)
""")


def test_python_m_sasnets_plugin_starts_sasview_with_files(tmp_path, example_data):
    data = example_data / "1d_data" / "cyl_400_20.txt"
    env = isolated_env(QT_QPA_PLATFORM="xcb", SASNETS_WEIGHTS=str(tmp_path))  # no network needed
    run = subprocess.run([sys.executable, "-c", LAUNCH, str(data)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, (run.stdout + run.stderr)[-5000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["files"] == ["cyl_400_20.txt"]
    assert result["registered"] and "Model Suggestion" in result["loaded"]
    assert "Model Suggestion" in result["send_to"]
    assert result["menu"][-1] == "Model Suggestion"
    assert result["reactor_ok"]


def test_console_script_is_sasview_command():
    script = Path(sys.executable).parent / "sasnets-sasview"
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    run = subprocess.run([str(script), "-V"], capture_output=True, text=True, timeout=120,
                         env=isolated_env(), cwd=ROOT)
    assert run.returncode == 0
    assert run.stdout.strip().startswith("SasView 6.")
