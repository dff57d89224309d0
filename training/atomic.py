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
import shutil
from pathlib import Path
from typing import Iterator

PARTIAL_PREFIX = ".partial-"
#: Suffix of the previous folder while :func:`replace_folder` swaps a new one in.
OLD_SUFFIX = ".old"


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
        if tmp.is_dir():  # a folder being swapped in (replace_folder) is not a file's
            continue
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


def replace_folder(target: Path, files: list[Path]) -> None:
    """Make ``target`` hold ``files`` (plus the files of the old ``target`` that they do
    not replace), never half of them: they are copied into a temporary folder beside it,
    which then takes its place by two renames. A kill between the renames leaves no
    ``target`` but the old one beside it, which the next call puts back first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover_folder(target)
    new = target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}")
    old = target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}{OLD_SUFFIX}")
    names = {Path(f).name for f in files}
    try:
        new.mkdir()
        kept = [p for p in target.iterdir() if p.name not in names] if target.is_dir() else []
        for source in [*kept, *map(Path, files)]:
            if source.is_dir():
                shutil.copytree(source, new / source.name)
                continue
            shutil.copy2(source, new / source.name)
            with open(new / source.name, "rb+") as handle:
                os.fsync(handle.fileno())
        if target.exists():
            os.rename(target, old)
        os.rename(new, target)
    finally:
        shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def _recover_folder(target: Path) -> None:
    """Undo what a killed :func:`replace_folder` left: the old folder is put back when the
    target is missing, and temporary folders are removed."""
    for leftover in sorted(target.parent.glob(f"{PARTIAL_PREFIX}*-{target.name}{OLD_SUFFIX}")):
        if not target.exists():
            os.rename(leftover, target)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in target.parent.glob(f"{PARTIAL_PREFIX}*-{target.name}"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


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
