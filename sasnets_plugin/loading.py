"""Read 1D data files through sasdata's ``Loader`` (every format SasView reads).

Three things sasdata does not do for us are done here:

* **One read at a time.** Every ``Loader`` shares one reader object per format, and the
  text reader keeps the file being parsed in that object: two threads reading at once
  mix their rows up (valid files failed with "no data rows found" in 21 of 300 calls
  from 4 threads). Reads are serialised under :data:`_read_lock`.
* **Only regular files of sane size.** sasdata reads a whole file into memory, so
  devices, pipes, ``/proc`` files (``/proc/self/mem``) and files over
  :data:`MAX_FILE_BYTES` are refused before it sees them.
* **Skipped rows are reported.** The text reader drops rows without a word: a first row
  behind a byte-order mark, a value such as ``1e400`` that overflows to infinity, NaN,
  q = 0, everything after a line that is not numbers. They become a note in
  :attr:`RawCurve.notes`, which the cleaning report shows with its own notes.
* **Rows with a usable q and I are kept.** The text reader also drops a row whose dI or
  dQ is NaN, so a NaN dI column lost the whole file and every second dI NaN half the
  points. Such rows are put back with their NaN: cleaning then ignores that column
  for the whole curve and says so, as it does for any unusable dI or dQ.
"""
from __future__ import annotations

import contextlib
import logging
import re
import stat
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cleaning import MIN_POINTS
from .errors import DataError

log = logging.getLogger(__name__)

#: Largest file read. A 1D curve of a million points is about 60 MB of text; anything
#: much larger is not 1D SAS data, and sasdata would hold all of it in memory.
MAX_FILE_BYTES = 256 * 2**20
#: sasdata loaders (``meta_data["loader"]``) that are its multi-column text reader.
TEXT_LOADERS = ("ASCII", "CSV")
#: Bytes of a file looked at to explain why it could not be read.
_SNIFF_BYTES = 1 << 16
#: Skipped rows named in a note (the count covers them all).
_EXAMPLES = 3
#: Consecutive rows of numbers sasdata's text reader needs to take them as data.
_MIN_TEXT_ROWS = 5

_read_lock = threading.Lock()
_DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")
_INTEGER = re.compile(r"[-+]?\d+")


@dataclass(frozen=True)
class RawCurve:
    """One 1D data set as read, before cleaning.

    ``dQ`` is the pinhole resolution (Gaussian sigma); ``dQl`` / ``dQw`` the slit length
    and width of slit-smeared (e.g. USANS) data. Each is None when the file has none
    (no value > 0). ``notes``: rows of the file the reader skipped (see module doc).
    """

    title: str
    q: np.ndarray
    I: np.ndarray  # noqa: E741
    dI: np.ndarray | None = None
    dQ: np.ndarray | None = None
    dQl: np.ndarray | None = None
    dQw: np.ndarray | None = None
    notes: tuple[str, ...] = ()


def _is_2d(data) -> bool:
    return type(data).__name__ == "Data2D" or getattr(data, "qx_data", None) is not None


def _stated(resolution: np.ndarray) -> bool:
    """Whether a resolution column says anything: a value > 0, or NaN (a column that is
    there but unusable, which cleaning reports); all zeros is sasdata's "none"."""
    return bool(np.any(resolution > 0) or np.any(np.isnan(resolution)))


def from_data1d(data, title: str | None = None, notes: tuple[str, ...] = ()) -> RawCurve:
    """Wrap a sasdata/SasView ``Data1D``; refuses 2D data with a clear message."""
    if _is_2d(data):
        raise DataError(
            f"'{title or getattr(data, 'title', '') or 'this data set'}' is 2D data; "
            "model suggestion works on 1D I(q) curves only. Reduce it to 1D "
            "(circular average) first."
        )
    x = getattr(data, "x", None)
    y = getattr(data, "y", None)
    if np.ndim(x) != 1 or np.ndim(y) != 1:
        raise DataError("The data set has no q / I columns.")

    def column(name: str) -> np.ndarray | None:
        values = getattr(data, name, None)
        if np.ndim(values) != 1 or np.size(values) != np.size(x):
            return None
        return np.asarray(values, float)

    def resolution(name: str) -> np.ndarray | None:
        values = column(name)  # sasdata fills absent resolutions with zeros
        return values if values is not None and _stated(values) else None

    return RawCurve(
        title=title or getattr(data, "title", "") or getattr(data, "filename", "") or "data",
        q=np.asarray(x, dtype=float),
        I=np.asarray(y, dtype=float),
        dI=column("dy"),
        dQ=resolution("dx"),
        dQl=resolution("dxl"),
        dQw=resolution("dxw"),
        notes=notes,
    )


@contextlib.contextmanager
def _quiet_sasdata():
    """sasdata logs whole undecodable files as warnings; keep that out of the user's log."""
    logger = logging.getLogger("sasdata")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _check_file(path: Path) -> None:
    """Refuse what is not a regular file of readable size, before sasdata reads it whole."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file.") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{path}: not a file but a folder.")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: not a regular file (a device, pipe or socket); "
                        "save the data to a file and load that.")
    if info.st_size > MAX_FILE_BYTES:
        raise DataError(f"{path.name}: {info.st_size / 2**20:,.0f} MiB is far more than a 1D "
                        f"SAS data file holds; files over {MAX_FILE_BYTES // 2**20} MiB are "
                        "not read.")
    try:  # no permission (chmod 000, a write-only /sys file), an I/O error...
        with open(path, "rb") as handle:
            empty = not handle.read(1)
    except OSError as exc:
        if info.st_size or isinstance(exc, PermissionError):
            raise DataError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
        empty = False  # /proc/self/mem refuses reads at offset 0
    if info.st_size == 0:  # empty, or a /proc-style file whose size is not known
        if empty:
            raise DataError(f"{path.name}: the file is empty.")
        raise DataError(f"{path}: a special file of unknown size (such as those in /proc), "
                        "not a data file; not read.")


def _decimal_comma_line(text: str) -> str | None:
    """A line of numbers written with decimal commas, when such lines outnumber lines
    of numbers with decimal points; else None."""
    comma, point, example = 0, 0, None
    for line in text.splitlines()[:500]:
        tokens = re.split(r"[;\s]+", line.strip())
        if len(tokens) < 2:
            continue
        if all(_DECIMAL_COMMA.fullmatch(t) or _INTEGER.fullmatch(t) for t in tokens) \
                and any("," in t for t in tokens):
            comma += 1
            example = example or line.strip()
        else:
            with contextlib.suppress(ValueError):
                [float(t) for t in re.split(r"[,;\s]+", line.strip())]
                point += 1
    return example if comma >= 2 and comma > point else None


def _diagnosis(path: Path) -> str | None:
    """Why ``path`` holds no data SasView can read, when its first bytes tell (empty,
    binary, decimal commas, too few rows of numbers, none with a finite q and I); else
    None."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})."
    if not raw.strip():
        return f"{path.name}: the file is empty."
    head = raw[:4096]
    if b"\x00" in head or sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 20:
        return f"{path.name}: not a readable SAS data file (binary content of unknown format)."
    example = _decimal_comma_line(raw.decode("utf-8", errors="replace"))
    if example:
        return (f"{path.name}: the numbers are written with a decimal comma (e.g. "
                f"'{example[:60]}'); SasView reads decimal points only. Save the data with "
                "decimal points (e.g. export it in an English locale) and load it again.")
    rows = _rows_of_numbers(raw.decode("utf-8", errors="replace").splitlines())
    usable = [r for r in rows if np.all(np.isfinite(r.values[:2]))]
    if rows and not usable:
        return (f"{path.name}: none of its {len(rows)} row(s) of numbers has a finite q and I "
                "(NaN or infinite values only).")
    if 0 < len(usable) < MIN_POINTS:
        return (f"{path.name}: only {len(usable)} row(s) of numbers; at least {MIN_POINTS} "
                "points are needed to suggest a model.")
    return None


def _key(q: float, intensity: float) -> tuple[str, str]:
    """A (q, I) pair to 10 significant digits: sasdata's unit handling may move the last bit."""
    return f"{q:.9e}", f"{intensity:.9e}"


@dataclass(frozen=True)
class _Row:
    """A line of a text file that splits into numbers (sasdata's own splitting)."""

    number: int
    line: str
    tokens: list[str]
    values: list[float]


def _rows_of_numbers(lines: list[str]) -> list[_Row]:
    """Every line of two or more numbers (NaN and inf included)."""
    from sasdata.dataloader.filereader import FileReader

    rows = []
    for number, line in enumerate(lines, 1):
        tokens = FileReader.splitline(line.lstrip("\ufeff").strip())
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            continue
        if len(values) >= 2:
            rows.append(_Row(number, line, tokens, values))
    return rows


def _block(lines: list[str], rows: list[_Row], width: int, read: set) -> list[_Row]:
    """The run of consecutive rows of ``width`` numbers (blank lines allowed) that the
    text reader took: the one holding most of the points read (the first long enough
    to be data when none was read)."""
    by_line = {r.number: r for r in rows if len(r.values) == width}
    runs: list[list[_Row]] = [[]]
    for number, line in enumerate(lines, 1):
        if number in by_line:
            runs[-1].append(by_line[number])
        elif line.strip() and runs[-1]:
            runs.append([])
    if read:
        return max(runs, key=lambda run: sum(_key(*r.values[:2]) in read for r in run))
    return next((run for run in runs if len(run) >= _MIN_TEXT_ROWS), [])


def _text_rows(path: Path, datasets: list) -> tuple[tuple[str, ...], np.ndarray]:
    """What sasdata's text reader skipped in ``path``: a note on the skipped rows of
    numbers, if any, and the rows it dropped only for a NaN or infinite dI or dQ (q and
    I usable, inside the block it read), as an ``(n, width)`` array to put back.

    A line counts as a row of numbers when sasdata's own splitting gives as many
    numbers as the rows it read have (so numeric header lines of other widths, as in
    Anton Paar files, are not rows); it was skipped when its (q, I) pair is not among
    the points read.
    """
    from sasdata.dataloader.filereader import decode

    nothing = ((), np.empty((0, 2)))
    text = decode(path.read_bytes()) or ""
    lines = text.splitlines()
    n_read = sum(np.size(d.x) for d in datasets)
    if sum(bool(line.strip()) for line in lines) <= n_read:
        return nothing  # every non-empty line was read: nothing to look for
    read = {_key(x, y) for d in datasets for x, y in zip(d.x, d.y)}
    rows = _rows_of_numbers(lines)
    width = Counter(len(r.values) for r in rows if _key(*r.values[:2]) in read).most_common(1)
    if not width:  # nothing read: the width of the rows with a usable q and I
        width = Counter(len(r.values) for r in rows
                        if np.all(np.isfinite(r.values[:2]))).most_common(1)
    if not width:
        return nothing
    skipped = [r for r in rows if len(r.values) == width[0][0]
               and _key(*r.values[:2]) not in read]
    block = {r.number for r in _block(lines, rows, width[0][0], read)}
    restored = [r for r in skipped if r.number in block and not r.line.startswith("\ufeff")
                and np.all(np.isfinite(r.values[:2])) and r.values[0] != 0
                and not np.all(np.isfinite(r.values[2:4]))]  # sasdata's dy, dx columns
    skipped = [r for r in skipped if r not in restored]
    extra = np.array([r.values for r in restored]).reshape(-1, width[0][0])
    if not skipped:
        return (), extra
    reasons = []
    for row in skipped[:_EXAMPLES]:
        bad = next((t for t, v in zip(row.tokens, row.values) if not np.isfinite(v)), None)
        if row.line.startswith("\ufeff"):
            why = "starts with an invisible byte-order mark"
        elif bad is not None:
            why = f"{bad.strip()} is not a finite number"
        elif row.values[0] == 0:
            why = "q = 0"
        else:
            why = "outside the block of rows the reader took"
        reasons.append(f"line {row.number}: {why}")
    more = ", ..." if len(skipped) > _EXAMPLES else ""
    return (f"the file reader skipped {len(skipped)} row(s) of numbers "
            f"({'; '.join(reasons)}{more})",), extra


def _with_rows(curve: RawCurve, extra: np.ndarray) -> RawCurve:
    """``curve`` with the rows ``extra`` (q, I, dI, dQ columns) added, sorted by q."""
    if not len(extra):
        return curve

    def column(values: np.ndarray | None, index: int) -> np.ndarray:
        added = extra[:, index] if extra.shape[1] > index else np.zeros(len(extra))
        return np.concatenate([np.zeros(curve.q.size) if values is None else values, added])

    q = np.concatenate([curve.q, extra[:, 0]])
    order = np.argsort(q, kind="stable")
    dI, dQ = column(curve.dI, 2)[order], column(curve.dQ, 3)[order]
    return RawCurve(curve.title, q[order], np.concatenate([curve.I, extra[:, 1]])[order],
                    dI, dQ if _stated(dQ) else None, curve.dQl, curve.dQw, curve.notes)


def load_1d(path: str | Path) -> list[RawCurve]:
    """Every 1D data set in ``path``; a :class:`DataError` if there is none.

    Safe to call from several threads (reads are serialised).
    """
    from sasdata.dataloader.loader import Loader

    path = Path(path)
    _check_file(path)
    try:
        with _read_lock, _quiet_sasdata():
            datasets = Loader().load(str(path)) or []
    except Exception as exc:  # sasdata raises many kinds; all mean "cannot read"
        log.debug("sasdata could not read %s", path, exc_info=True)
        raise DataError(_diagnosis(path)
                        or f"{path.name}: could not be read as SAS data ({exc}).") from exc

    one_d = [d for d in datasets if not _is_2d(d)
             and np.ndim(getattr(d, "x", None)) == 1]  # empty reads: x = None
    text = [d for d in one_d if getattr(d, "meta_data", {}).get("loader") in TEXT_LOADERS]
    notes, extra = _text_rows(path, text) if text else ((), np.empty((0, 2)))
    curves = [_with_rows(from_data1d(d, title=getattr(d, "title", "") or f"{path.name} [{i + 1}]",
                                     notes=notes), extra)
              if text and d is text[0] else from_data1d(d, title=getattr(d, "title", "")
                                               or f"{path.name} [{i + 1}]")
              for i, d in enumerate(one_d)]
    curves = [c for c in curves if c.q.size]
    if curves:
        return curves
    if any(_is_2d(d) for d in datasets):
        raise DataError(
            f"{path.name} holds 2D data only; model suggestion works on 1D I(q) curves. "
            "Reduce it to 1D (circular average) first."
        )
    raise DataError(_diagnosis(path) or (
        f"{path.name}: no data rows found. SasView reads columns of numbers "
        "(q, I and optionally dI, dQ) or CanSAS/NXcanSAS files; this file has only "
        "header or other text."))
