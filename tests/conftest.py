"""Shared fixtures: sasdata's example files, and Qt/SasView defaults for headless runs."""
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
