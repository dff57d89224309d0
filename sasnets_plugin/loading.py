"""Read 1D data files through sasdata's ``Loader`` (every format SasView reads)."""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawCurve:
    """One 1D data set as read, before cleaning.

    ``dQ`` is the pinhole resolution (Gaussian sigma); ``dQl`` / ``dQw`` the slit length
    and width of slit-smeared (e.g. USANS) data. Each is None when the file has none.
    """

    title: str
    q: np.ndarray
    I: np.ndarray  # noqa: E741
    dI: np.ndarray | None = None
    dQ: np.ndarray | None = None
    dQl: np.ndarray | None = None
    dQw: np.ndarray | None = None


def _is_2d(data) -> bool:
    return type(data).__name__ == "Data2D" or getattr(data, "qx_data", None) is not None


def from_data1d(data, title: str | None = None) -> RawCurve:
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
        return None if np.ndim(values) != 1 or np.size(values) != np.size(x) else np.asarray(values, float)

    return RawCurve(
        title=title or getattr(data, "title", "") or getattr(data, "filename", "") or "data",
        q=np.asarray(x, dtype=float),
        I=np.asarray(y, dtype=float),
        dI=column("dy"),
        dQ=column("dx"),
        dQl=column("dxl"),
        dQw=column("dxw"),
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


def _why_empty(path: Path) -> str:
    raw = path.read_bytes()[:4096]
    if not raw.strip():
        return f"{path.name}: the file is empty."
    if b"\x00" in raw or sum(b < 9 or 13 < b < 32 for b in raw) > len(raw) // 20:
        return f"{path.name}: not a readable SAS data file (binary content of unknown format)."
    return (
        f"{path.name}: no data rows found. SasView reads columns of numbers "
        "(q, I and optionally dI, dQ) or CanSAS/NXcanSAS files; this file has only "
        "header or other text."
    )


def load_1d(path: str | Path) -> list[RawCurve]:
    """Every 1D data set in ``path``; a :class:`DataError` if there is none."""
    from sasdata.dataloader.loader import Loader

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    if not path.is_file():
        raise DataError(f"{path}: not a file.")
    try:
        with _quiet_sasdata():
            datasets = Loader().load(str(path))
    except Exception as exc:  # sasdata raises many kinds; all mean "cannot read"
        log.debug("sasdata could not read %s", path, exc_info=True)
        raise DataError(f"{path.name}: could not be read as SAS data ({exc}).") from exc

    n_2d = 0
    curves = []
    for index, data in enumerate(datasets or []):
        if _is_2d(data):
            n_2d += 1
        elif np.ndim(getattr(data, "x", None)) == 1 and np.size(data.x):  # empty reads give x = None
            name = getattr(data, "title", "") or f"{path.name} [{index + 1}]"
            curves.append(from_data1d(data, title=name))
    if curves:
        return curves
    if n_2d:
        raise DataError(
            f"{path.name} holds 2D data only; model suggestion works on 1D I(q) curves. "
            "Reduce it to 1D (circular average) first."
        )
    raise DataError(_why_empty(path))
