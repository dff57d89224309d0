"""The perspective's background tasks, Qt-free: they run on :mod:`.worker`'s threads
(or anywhere): loading the network, ranking curves, verifying candidates by fitting."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from ..errors import SasnetsError
from ..loading import RawCurve
from ..suggestion import Ranking, get_classifier, prepare, rank
from .state import Outcome, Settings

log = logging.getLogger(__name__)


def load_network() -> list[str]:
    """Load the network (cached; the light runtime, see :class:`.state.Settings`); the
    class names."""
    return list(get_classifier().classes)


def suggest_all(curves: list[tuple[int, RawCurve]]) -> list[Outcome]:
    """Clean and rank every curve; a curve that cannot be ranked gets its message.

    A :class:`~sasnets_plugin.errors.WeightsError` (no usable network) is raised, since
    it concerns every curve.
    """
    outcomes: dict[int, Outcome] = {}
    ready = []
    for key, raw in curves:
        try:
            ready.append((key, prepare(raw)))
        except SasnetsError as exc:
            outcomes[key] = Outcome(key, error=str(exc))
    if ready:
        for (key, _), ranking in zip(ready, rank(get_classifier(),
                                                 [p for _, p in ready])):
            outcomes[key] = Outcome(key, ranking=ranking)
    return [outcomes[key] for key, _ in curves]


@dataclass(eq=False)
class VerifyJob:
    """One fit verification: the ranking of one data set, the candidates fitted from it
    (its top ones, plus the one the user selected), and its cancel switch.

    ``phase`` ("queued", "starting", "fitting", "done") and ``fitting_since`` are
    written by the verification thread and read by the GUI (progress bar).
    """

    key: int
    #: The ranking whose candidates are verified (its prepared data are what is fitted).
    ranking: Ranking
    models: tuple[str, ...]
    max_seconds: float = Settings.verify_seconds
    #: Fit the best verified model in SasView afterwards (the Auto-fit option).
    auto_fit: bool = False
    #: The :attr:`.controller.Suggestions.generation` the job was started in.
    generation: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    phase: str = "queued"
    fitting_since: float | None = None

    @property
    def workers(self) -> int:
        """Worker processes: one per candidate, at most one per CPU."""
        return max(1, min(len(self.models), os.cpu_count() or 1))


def verify(job: VerifyJob):
    """Fit ``job``'s candidates to its data (verification thread); a ``Verification``.

    Before the time budget starts, the verification's process pool is started (first
    call only) and the candidates' kernels are loaded in it
    (:func:`~sasnets_plugin.verification.warm_up`; quick once done). Raises
    :class:`~sasnets_plugin.verification.VerificationCancelled` when ``job.cancel`` is
    set, ``DataError`` for unusable data.
    """
    from ..suggestion import verify as verify_ranking
    from ..verification import VerificationCancelled, warm_up

    job.phase = "starting"
    try:
        if job.cancel.is_set():
            raise VerificationCancelled([])
        try:
            warm_up(workers=job.workers, models=job.models)
        except Exception:  # no worker processes: the verification then fits in-process
            log.warning("Model Suggestion: could not start the fit workers", exc_info=True)
        if job.cancel.is_set():
            raise VerificationCancelled([])
        job.fitting_since = time.monotonic()
        job.phase = "fitting"
        return verify_ranking(job.ranking, 0, also=job.models, workers=job.workers,
                              max_seconds=job.max_seconds, cancel=job.cancel)
    finally:
        job.phase = "done"
