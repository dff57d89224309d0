"""Files that are either the old version or the new one, whole: a kill -9 at any moment
leaves no half-written state, checkpoint or cache behind.

Everything is written to a temporary name in the same folder and moved into place with
:func:`os.replace` (atomic on POSIX). A temporary file left by a killed run starts with
:data:`PARTIAL_PREFIX` and is removed by :func:`remove_partials` when the run resumes.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

PARTIAL_PREFIX = ".partial-"


def partial_path(path: Path) -> Path:
    """A temporary name beside ``path`` that keeps its suffix (Keras insists on ``.keras``)."""
    return path.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{path.name}")


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, else it is removed."""
    path = Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:  # on disk before the rename makes it visible
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: Path, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: Path, value) -> None:
    write_bytes(path, (json.dumps(value, indent=1) + "\n").encode())


def remove_partials(folder: Path) -> int:
    """Delete temporary files a killed run left in ``folder``; how many."""
    removed = 0
    for tmp in Path(folder).glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def exclusive(lock_file: Path, busy: Exception) -> Iterator[None]:
    """Hold an advisory lock on ``lock_file`` for the ``with`` block, or raise ``busy`` at
    once when another process holds it: two runs must never write into one folder (a
    no-op where ``fcntl`` is missing: Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
