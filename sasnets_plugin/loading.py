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
        return values if values is not None and np.any(values > 0) else None

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
    if info.st_size == 0:  # empty, or a /proc-style file whose size is not known
        try:
            with open(path, "rb") as handle:
                empty = not handle.read(1)
        except OSError:
            empty = False
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
    binary, decimal commas); else None."""
    with open(path, "rb") as handle:
        raw = handle.read(_SNIFF_BYTES)
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
    return None


def _key(q: float, intensity: float) -> tuple[str, str]:
    """A (q, I) pair to 10 significant digits: sasdata's unit handling may move the last bit."""
    return f"{q:.9e}", f"{intensity:.9e}"


def _skipped_rows(path: Path, datasets: list) -> tuple[str, ...]:
    """A note on the rows of numbers sasdata's text reader skipped in ``path``, if any.

    A line counts as a row of numbers when sasdata's own splitting gives as many
    numbers as the rows it read have (so numeric header lines of other widths, as in
    Anton Paar files, are not rows); it was skipped when its (q, I) pair is not among
    the points read.
    """
    from sasdata.dataloader.filereader import FileReader, decode

    text = decode(path.read_bytes()) or ""
    lines = text.splitlines()
    n_read = sum(np.size(d.x) for d in datasets)
    if sum(bool(line.strip()) for line in lines) <= n_read:
        return ()  # every non-empty line was read: nothing to look for
    read = {_key(x, y) for d in datasets for x, y in zip(d.x, d.y)}
    rows = []
    for number, line in enumerate(lines, 1):
        tokens = FileReader.splitline(line.lstrip("\ufeff").strip())
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            continue
        if len(values) >= 2:
            rows.append((number, line, tokens, values))
    width = Counter(len(v) for *_, v in rows if _key(*v[:2]) in read).most_common(1)
    if not width:
        return ()
    skipped = [r for r in rows if len(r[3]) == width[0][0] and _key(*r[3][:2]) not in read]
    if not skipped:
        return ()
    reasons = []
    for number, line, tokens, values in skipped[:_EXAMPLES]:
        bad = next((t for t, v in zip(tokens, values) if not np.isfinite(v)), None)
        if line.startswith("\ufeff"):
            why = "starts with an invisible byte-order mark"
        elif bad is not None:
            why = f"{bad.strip()} is not a finite number"
        elif values[0] == 0:
            why = "q = 0"
        else:
            why = "outside the block of rows the reader took"
        reasons.append(f"line {number}: {why}")
    more = ", ..." if len(skipped) > _EXAMPLES else ""
    return (f"the file reader skipped {len(skipped)} row(s) of numbers "
            f"({'; '.join(reasons)}{more})",)


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
             and np.ndim(getattr(d, "x", None)) == 1 and np.size(d.x)]  # empty reads: x = None
    text = [d for d in one_d if getattr(d, "meta_data", {}).get("loader") in TEXT_LOADERS]
    notes = _skipped_rows(path, text) if text else ()
    curves = [from_data1d(d, title=getattr(d, "title", "") or f"{path.name} [{i + 1}]",
                          notes=notes if any(d is t for t in text) else ())
              for i, d in enumerate(one_d)]
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
