"""How long each stage of a run took, kept in ``OUT/stage_times.json``.

The README's table of the pipeline's cost comes from here: every stage (generation,
encoding, each network's training, evaluation, export) appends one record per process
that ran it, ``{"seconds", "finished", "started", "load"}`` (wall seconds, whether it
ran to its end, when, and the machine's 1-minute load average as it ended), so a run
resumed after a stop shows its pieces, and a busy machine is visible beside the time.
A stage that found its work done records nothing.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Iterator

from . import atomic

FILE = "stage_times.json"


def read(out: Path) -> dict[str, list[dict]]:
    """The records of a run folder (empty when there are none or they do not read)."""
    try:
        return json.loads((Path(out) / FILE).read_text())
    except (OSError, ValueError):
        return {}


def totals(out: Path) -> dict[str, float]:
    """Wall seconds per stage, the pieces of a resumed stage added up."""
    return {stage: sum(r["seconds"] for r in runs) for stage, runs in read(out).items()}


@contextlib.contextmanager
def timed(out: Path, stage: str, skip: bool = False) -> Iterator[None]:
    """Record the wall time of the block as ``stage`` (not when ``skip``: nothing to do)."""
    started, wall = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    finished = False
    try:
        yield
        finished = True
    finally:
        if not skip:
            records = read(out)
            records.setdefault(stage, []).append(
                {"seconds": round(time.perf_counter() - wall, 1), "finished": finished,
                 "started": started, "load": round(os.getloadavg()[0], 2)})
            with contextlib.suppress(OSError):  # a full disk must not hide the real error
                atomic.write_json(Path(out) / FILE, records)
