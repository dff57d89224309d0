"""Rank sasmodels models for 1D curves: clean → resample → network → sorted probabilities."""
from __future__ import annotations

import operator
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .classifier import Classifier
from .cleaning import CleaningReport, Curve, clean_curve, numbers_1d
from .errors import DataError
from .loading import RawCurve, load_1d
from .preprocessing import network_input

if TYPE_CHECKING:
    from .verification import Verification


@dataclass(frozen=True)
class Prepared:
    """A curve ready for the network, with what cleaning did to it."""

    raw: RawCurve
    curve: Curve
    report: CleaningReport
    inputs: np.ndarray


@dataclass(frozen=True)
class Ranking:
    """Every class of the network, most probable first."""

    prepared: Prepared
    models: tuple[str, ...]
    probabilities: np.ndarray

    def top(self, k: int | None = 5) -> list[tuple[str, float]]:
        """The ``k`` best ``(model, probability)`` pairs (all of them for ``None``)."""
        k = len(self.models) if k is None else k
        return [(m, float(p)) for m, p in zip(self.models[:k], self.probabilities[:k])]


def prepare(raw: RawCurve) -> Prepared:
    """Clean ``raw`` and build its network input; raises :class:`DataError`."""
    curve, report = clean_curve(raw.q, raw.I, raw.dI, read_notes=raw.notes)
    return Prepared(raw, curve, report, network_input(curve.q, curve.I, curve.dI))


def rank(classifier: Classifier, prepared: list[Prepared]) -> list[Ranking]:
    """One :class:`Ranking` per prepared curve, predicted in batches."""
    if not prepared:
        return []
    probs = classifier.predict(np.stack([p.inputs for p in prepared]))
    classes = np.asarray(classifier.classes)
    rankings = []
    for item, row in zip(prepared, probs):
        order = np.argsort(-row, kind="stable")
        rankings.append(Ranking(item, tuple(str(c) for c in classes[order]), row[order]))
    return rankings


class _Classifiers:
    """Loaded networks by ``(weights_dir, device, runtime)``, shared by every caller.

    Each is built once, under a lock: threads asking together (the GUI's workers, a
    script's thread pool) wait for the first build instead of each loading a network.
    A failed load is not kept, so fixing the weights and asking again works.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str | None, str, str | None], Classifier] = {}

    def __call__(self, weights_dir: str | None = None, device: str = "auto",
                 runtime: str | None = None) -> Classifier:
        key = (None if weights_dir is None else str(weights_dir), device, runtime)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = Classifier(weights_dir, device, runtime)
            return self._loaded[key]

    def cache_clear(self) -> None:
        """Forget every loaded network (the next call loads afresh)."""
        with self._lock:
            self._loaded.clear()


#: ``get_classifier(weights_dir=None, device="auto", runtime=None)``: the shared
#: :class:`Classifier` for those arguments.
get_classifier = _Classifiers()


def verify(ranking: Ranking, top: int = 5, **options) -> Verification:
    """Fit the ``top`` candidates of ``ranking`` to its data and re-rank them.

    ``options`` go to :func:`sasnets_plugin.verification.verify_candidates`
    (``workers``, ``max_seconds``, ``cancel``...).
    """
    from .verification import verify_candidates

    models, probabilities = zip(*ranking.top(top))
    return verify_candidates(ranking.prepared.raw, list(models), list(probabilities), **options)


def _count(name: str, value, smallest: int) -> int:
    """``value`` as an int >= ``smallest``, or a ValueError saying what was wrong."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, not {value!r}.") from None
    if number < smallest:
        raise ValueError(f"{name} must be at least {smallest}, not {number}.")
    return number


def _answer(raw: RawCurve, top: int | None, verify_fits: bool):
    ranking = rank(get_classifier(), [prepare(raw)])[0]
    return verify(ranking, top or 5) if verify_fits else ranking.top(top)


def suggest(q, I, dI=None, top: int | None = 5, *, dQ=None, verify: bool = False):  # noqa: E741
    """Rank the bundled network's models for one curve.

    Returns ``(model_name, probability)`` pairs sorted by probability, descending
    (``top`` of them, or all for ``top=None``); probabilities over all classes sum to 1.

    With ``verify=True`` the ``top`` candidates are also fitted to the data (honouring
    the pinhole resolution ``dQ`` when given) and a :class:`Verification` is returned:
    ``.candidates`` in network order and ``.ranked`` in verified order, each with the
    network probability, reduced chi², AIC, BIC, fitted parameters and the combined
    ``posterior``.

    Raises :class:`DataError` for unusable data and ValueError for a ``top`` that is
    not a whole number >= 1.
    """
    top = None if top is None else _count("top", top, 1)
    raw = RawCurve("data", numbers_1d("q", q), numbers_1d("I", I),
                   None if dI is None else numbers_1d("dI", dI),
                   None if dQ is None else numbers_1d("dQ", dQ))
    return _answer(raw, top, verify)


def suggest_file(path: str | Path, top: int | None = 5, dataset: int = 0, *, verify: bool = False):
    """:func:`suggest` for the 1D data set number ``dataset`` (0 = first) in ``path``
    (its pinhole or slit resolution is used by ``verify=True``).

    Safe to call from several threads at once.
    """
    top = None if top is None else _count("top", top, 1)
    dataset = _count("dataset", dataset, 0)
    curves = load_1d(path)
    if not 0 <= dataset < len(curves):
        raise DataError(f"{Path(path).name} has {len(curves)} 1D data set(s); no number {dataset}.")
    return _answer(curves[dataset], top, verify)
