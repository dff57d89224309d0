"""What both halves of the issue-24 sweep share (tests/test_reliability_sweep*.py)."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def checkout_env() -> dict:
    """The environment for a subprocess that must run this checkout's code (not another
    installed copy), whatever PYTHONPATH the tests were started with."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


def last_line(stderr: str) -> str:
    """The last line of stderr: ``error: ...`` for a command that stopped on purpose."""
    return stderr.strip().splitlines()[-1]
