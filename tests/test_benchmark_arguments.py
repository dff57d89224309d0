"""Benchmark scripts refuse bad command lines with a message naming the problem (run as a
user runs them: a script in a fresh process), before any work."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_FITS = ROOT / "benchmarks" / "bench_product_fits.py"


def _run(*args):
    return subprocess.run([sys.executable, str(PRODUCT_FITS), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("args, message", [
    (["--variant", "x"], "expected n_starts:work with n_starts >= 1 and work > 0"),
    (["--variant", "0:3e6"], "not '0:3e6'"),
    (["--variant", "6:0"], "not '6:0'"),
    (["--workers", "0"], "--workers must be at least 1, not 0"),
    (["--verified", "/nonexistent/verified.json"],
     "no verified-accuracy result at /nonexistent/verified.json"),
])
def test_product_fits_refuses_bad_arguments_with_a_message(args, message):
    result = _run(*args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
