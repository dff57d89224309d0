"""The suite refuses a pytest session that would load TensorFlow and SasView's OpenGL into
one process (it would crash: ``sasnets_plugin.classifier.tensorflow_conflict``);
``./test.sh`` runs the two kinds as separate processes."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _collect(*paths):
    env = {**os.environ, "DISPLAY": os.environ.get("DISPLAY") or ":99"}
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *paths], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_gui_and_other_tests_in_one_session_are_refused_with_a_message():
    mixed = _collect("tests/test_cleaning.py", "tests/gui/test_conventions.py")
    assert mixed.returncode == 4, mixed.stdout[-2000:] + mixed.stderr[-2000:]
    assert "cannot share one" in mixed.stderr and "./test.sh" in mixed.stderr


def test_each_kind_alone_is_collected():
    assert _collect("tests/gui/test_conventions.py").returncode == 0
    assert _collect("tests/test_cleaning.py").returncode == 0

