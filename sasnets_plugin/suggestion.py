"""Rank sasmodels models for 1D curves and verify them: the one pipeline.

clean (once) → network → sorted probabilities → (optionally) fit verification. Every entry
point runs this: the Python API (:func:`suggest`, :func:`suggest_file`, :func:`verify`),
the command line, the GUI and the benchmarks. A curve is cleaned once
(:func:`prepare`): the same :class:`Prepared` (its resolution, pinhole dQ or slit,
included) is what the network reads (``inputs``), what the fits are made on (``data``)
and what the SasView hand-off plans from. A verification (:func:`verify`,
:func:`verify_rankings`) fits the ranking's top candidates and passes the rest of the
ranking as the rescue's reserve, with the network's own number of classes for the
priors of models outside it.

The ranked list holds single models and products ``form@structure`` (a suggestion whose
model contains ``@``) when the network ranks them; every :class:`Ranking` also carries
the out-of-distribution assessment of its curve (:mod:`sasnets_plugin.novelty`) when the
network provides one: ``Ranking.warning`` is the sentence to show the user.
"""
from __future__ import annotations

import dataclasses
import logging
import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .classifier import Classifier
from .cleaning import CleaningReport, Curve, clean_raw, numbers_1d
from .errors import DataError
from .estimates import SlotIndex
from .loading import RawCurve, load_1d
from .novelty import Assessment
from .preprocessing import Transform, get_transform

from .verification.data import FitData, fit_data

if TYPE_CHECKING:
    from .verification import Request, Verification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A cleaned curve (with the resolution its file states) and what cleaning did.

    ``data`` is the same curve as the fits use it (weights, resolution: what the
    verification and the SasView hand-off read); ``inputs`` is its network input in the
    transform ``version``; :func:`rank` makes it for the network it runs (each network
    names its own transform).
    """

    raw: RawCurve
    curve: Curve
    report: CleaningReport
    data: FitData
    inputs: np.ndarray | None = None
    version: str | None = None


@dataclass(frozen=True)
class Ranking:
    """Every class of the network, most probable first, how unusual the curve is and
    (network v4) where the network puts each model's parameters."""

    prepared: Prepared
    models: tuple[str, ...]
    probabilities: np.ndarray
    assessment: Assessment | None = None
    estimates: np.ndarray | None = None  # this curve's encoded estimates
    slots: SlotIndex | None = None

    def estimate(self, model: str) -> dict[str, float]:
        """The network's estimate of ``model``'s main parameters for this curve
        (``{parameter: value}`` in sasmodels' units: sizes in Å, the main size's
        polydispersity as ``<size>_pd``; a product has its structure factor's too);
        empty for a network without estimates or a model outside its list."""
        if self.estimates is None or self.slots is None or model not in self.models:
            return {}
        return self.slots.estimate(model, self.estimates, float(self.prepared.curve.q[0]))

    def top(self, k: int | None = 5) -> list[tuple[str, float]]:
        """The ``k`` best ``(model, probability)`` pairs (all of them for ``None``)."""
        k = len(self.models) if k is None else k
        return [(m, float(p)) for m, p in zip(self.models[:k], self.probabilities[:k])]

    @property
    def warning(self) -> str | None:
        """A sentence for the user when the curve is unlike the training data, else None."""
        return None if self.assessment is None else self.assessment.warning

    @property
    def ood_score(self) -> float | None:
        """The out-of-distribution score (None when the network has no reference)."""
        return None if self.assessment is None else self.assessment.score

    def network_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """``(q, I relative)``: the points the network read (for plots), in any version."""
        return get_transform(self.prepared.version).display(self.prepared.inputs,
                                                            self.prepared.curve)


def prepare(raw: RawCurve, transform: Transform | None = None) -> Prepared:
    """Clean ``raw`` once (keeping its pinhole dQ or slit), make its fit data and, given a
    ``transform``, its network input; raises :class:`DataError`."""
    curve, report = clean_raw(raw)
    data = fit_data(curve)
    if transform is None:
        return Prepared(raw, curve, report, data)
    return Prepared(raw, curve, report, data, transform.encode(curve), transform.version)


def _encoded(item: Prepared, transform: Transform) -> Prepared:
    if item.version == transform.version:
        return item
    return dataclasses.replace(item, inputs=transform.encode(item.curve), version=transform.version)


def rank(classifier: Classifier, prepared: list[Prepared]) -> list[Ranking]:
    """One :class:`Ranking` per prepared curve, predicted in batches."""
    if not prepared:
        return []
    prepared = [_encoded(p, classifier.transform) for p in prepared]
    probs, distances, estimated = classifier.outputs(np.stack([p.inputs for p in prepared]))
    classes = np.asarray(classifier.classes)
    slots = classifier.estimate_slots if estimated is not None else None
    rankings = []
    for i, (item, row) in enumerate(zip(prepared, probs)):
        order = np.argsort(-row, kind="stable")
        assessment = None
        if classifier.novelty is not None:
            assessment = classifier.novelty.assess(
                float(item.curve.q[0]), float(item.curve.q[-1]),
                None if distances is None else float(distances[i]))
        rankings.append(Ranking(item, tuple(str(c) for c in classes[order]), row[order],
                                assessment, None if estimated is None else estimated[i], slots))
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


def verification_request(ranking: Ranking, top: int = 5, also: Sequence[str] = ()) -> Request:
    """What :func:`verify` fits for ``ranking``: its ``top`` models (plus ``also``, e.g.
    a model the user picked further down) with their probabilities, the rest of the
    ranking as the rescue's reserve, the network's number of classes, its parameter
    estimates (the fits' first starts), the prepared data."""
    from .verification import Request

    probability = dict(zip(ranking.models, (float(p) for p in ranking.probabilities)))
    models = list(ranking.models[:top]) + [m for m in also if m not in ranking.models[:top]]
    reserve = tuple((m, probability[m]) for m in ranking.models if m not in models)
    rank_of = {m: i + 1 for i, m in enumerate(ranking.models)}
    estimates = {m: ranking.estimate(m) for m in [*models, *(m for m, _ in reserve)]}
    return Request(ranking.prepared.data, tuple(models),
                   tuple(probability.get(m, 0.0) for m in models), reserve,
                   n_classes=len(ranking.models), title=ranking.prepared.raw.title,
                   network_ranks=tuple(rank_of.get(m, 0) for m in models),
                   estimates={m: e for m, e in estimates.items() if e})


def verify_rankings(rankings: Sequence[Ranking], top: int = 5, **options) -> list[Verification]:
    """Verify several rankings on one set of workers (:func:`verify`), in order."""
    from .verification import verify_many

    return verify_many([verification_request(r, top) for r in rankings], **options)


def verify(ranking: Ranking, top: int = 5, *, also: Sequence[str] = (),
           **options) -> Verification:
    """Fit the ``top`` candidates of ``ranking`` (and ``also``; ``top=0``: exactly
    ``also``, as the GUI's job passes its list) to its prepared data and re-rank them;
    when none fits within the noise, the rescue fits more, starting with the rest of the
    ranking. ``options`` go to
    :func:`sasnets_plugin.verification.verify_many` (``workers``, ``max_seconds``,
    ``cancel``, ``client``, ``progress``...).
    """
    from .verification import verify_many

    (result,) = verify_many([verification_request(ranking, top, also)], **options)
    return result


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


def _answer(raw: RawCurve, top: int | None, verify_fits: bool, details: bool):
    if verify_fits and details:
        raise ValueError("verify=True and details=True cannot be combined: the verification "
                         "holds the network order, the ranking holds the rest.")
    ranking = rank(get_classifier(), [prepare(raw)])[0]
    if ranking.warning:
        log.warning("%s: %s", raw.title, ranking.warning)
    if details:
        return ranking
    return verify(ranking, top or 5) if verify_fits else ranking.top(top)


def suggest(q, I, dI=None, top: int | None = 5, *, dQ=None, slit_length=None,  # noqa: E741
            verify: bool = False, details: bool = False):
    """Rank the bundled network's models for one curve.

    Returns ``(model_name, probability)`` pairs sorted by probability, descending
    (``top`` of them, or all for ``top=None``); probabilities over all classes sum to 1.
    A product of a form factor and a structure factor is named ``form@structure``.
    ``dQ`` (pinhole sigma per point) or ``slit_length`` (1/Å, scalar or per point) is
    the resolution of the data: the network reads it, and so does the verification.

    With ``verify=True`` the ``top`` candidates are also fitted to the data and a
    :class:`Verification` is returned: ``.candidates`` in network order and ``.ranked``
    in verified order, each with the network probability, reduced chi², AIC, BIC,
    fitted parameters and the combined ``posterior``. With ``details=True`` the whole
    :class:`Ranking` is returned (``.top(k)``, ``.warning``, ``.ood_score``). A curve
    unlike the training data is also reported as a logging warning.

    Raises :class:`DataError` for unusable data and ValueError for a ``top`` that is
    not a whole number >= 1.
    """
    top = None if top is None else _count("top", top, 1)
    q = numbers_1d("q", q)
    raw = RawCurve("data", q, numbers_1d("I", I),
                   None if dI is None else numbers_1d("dI", dI),
                   None if dQ is None else numbers_1d("dQ", dQ),
                   None if slit_length is None else _per_point("slit_length", slit_length, q.size))
    return _answer(raw, top, verify, details)


def _per_point(name: str, value, n: int) -> np.ndarray:
    """A scalar or ``n`` values as ``n`` values (how files carry a slit length)."""
    values = numbers_1d(name, np.atleast_1d(value))
    if values.size == 1:
        return np.full(n, values[0])
    if values.size != n:
        raise DataError(f"{name} has {values.size} values but q has {n}.")
    return values


def suggest_file(path: str | Path, top: int | None = 5, dataset: int = 0, *,
                 verify: bool = False, details: bool = False):
    """:func:`suggest` for the 1D data set number ``dataset`` (0 = first) in ``path``
    (its pinhole dQ or slit length is read by the network and used by ``verify=True``).

    Safe to call from several threads at once.
    """
    top = None if top is None else _count("top", top, 1)
    dataset = _count("dataset", dataset, 0)
    curves = load_1d(path)
    if not 0 <= dataset < len(curves):
        raise DataError(f"{Path(path).name} has {len(curves)} 1D data set(s); no number {dataset}.")
    return _answer(curves[dataset], top, verify, details)
