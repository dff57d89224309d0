"""Shared fixtures: sasdata's example files, and Qt/SasView defaults for headless runs."""
import os
from pathlib import Path

import pytest

from sasnets_plugin import environment

environment.configure()

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def example_1d() -> Path:
    import sasdata

    return Path(sasdata.__file__).parent / "example_data" / "1d_data"


@pytest.fixture(scope="session")
def example_2d() -> Path:
    import sasdata

    return Path(sasdata.__file__).parent / "example_data" / "2d_data"


def pytest_collection_modifyitems(config, items):
    """Refuse a session that would load both TensorFlow and SasView's OpenGL: the
    process would crash (see ``./test.sh``, which runs them as two processes)."""
    gui_dir = ROOT / "tests" / "gui"
    outside = [item for item in items if gui_dir not in Path(item.fspath).parents]
    gui = [item for item in items if item.get_closest_marker("gui")]
    if gui and outside and os.environ.get("DISPLAY"):
        raise pytest.UsageError(
            "The SasView GUI tests (marked 'gui') and the other tests cannot share one "
            "process: TensorFlow's LLVM and Mesa's OpenGL crash it together. Run ./test.sh "
            "(it runs them separately), or select one kind (pytest tests/gui; "
            "pytest tests --ignore=tests/gui).")
