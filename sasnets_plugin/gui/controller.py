"""The perspective's data sets and their work, Qt-free (tested without a window).

:class:`Suggestions` holds the data sets sent to the perspective and decides what its
buttons do with them: which are ranked (:meth:`~Suggestions.start_ranking`), which
verification runs next (a typed queue of :class:`VerifyRequest`), whether a result that
comes back from a background thread still applies (the :attr:`~Suggestions.generation`
of the jobs: *New project* and removed data sets drop late answers). The window
(:mod:`.perspective`) only shows the outcome and runs the jobs on its threads.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..models.products import display_name
from .state import DataSet, Outcome, to_rank
from .tasks import VerifyJob

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class RankingJob:
    """One *Suggest model* run: the data sets it ranks, and the generation it is for."""

    generation: int
    keys: tuple[int, ...]


@dataclass(frozen=True)
class VerifyRequest:
    """A verification waiting its turn: the data set, the models, whether the best is
    then fitted in SasView."""

    key: int
    models: tuple[str, ...]
    auto_fit: bool = False


@dataclass(frozen=True)
class Verified:
    """What a finished verification means for its data set (``dataset`` None: it was
    removed, or the perspective was reset)."""

    dataset: DataSet | None
    #: The verification was for a ranking since replaced: nothing was taken.
    outdated: bool = False


class Suggestions:
    """Every data set of the perspective, the ranking under way and the verifications
    (the running one and the queue)."""

    def __init__(self) -> None:
        self.datasets: list[DataSet] = []
        self._next_key = 0
        #: Increased by :meth:`reset`: jobs of an earlier generation are dropped.
        self.generation = 0
        self.ranking: RankingJob | None = None
        self.queue: list[VerifyRequest] = []
        #: The verification running now.
        self.job: VerifyJob | None = None

    # ---------------------------------------------------------------- data sets

    def add(self, item: Any, raw: Any, status: tuple[str, int]) -> DataSet:
        dataset = DataSet(self._next_key, item, raw, status=status)
        self._next_key += 1
        self.datasets.append(dataset)
        return dataset

    def find(self, key: int | None = None, item: Any = None) -> DataSet | None:
        return next((d for d in self.datasets if (key is not None and d.key == key)
                     or (item is not None and d.item is item)), None)

    def forget(self, dataset: DataSet) -> None:
        """Drop ``dataset``, its queued verifications, and stop its running one."""
        self.datasets.remove(dataset)
        self.queue = [r for r in self.queue if r.key != dataset.key]
        if self.job is not None and self.job.key == dataset.key:
            self.job.cancel.set()

    def reset(self) -> None:
        """No data sets; the jobs under way are stopped, their results dropped."""
        self.generation += 1
        self.ranking = None
        self.queue.clear()
        if self.job is not None:
            self.job.cancel.set()
        self.datasets.clear()

    # ---------------------------------------------------------------- ranking

    def start_ranking(self, current: DataSet | None) -> tuple[RankingJob, list[DataSet]] | None:
        """The data sets *Suggest model* ranks now (:func:`.state.to_rank`), or None
        when there are none."""
        todo = to_rank(self.datasets, current)
        if not todo:
            return None
        self.ranking = RankingJob(self.generation, tuple(d.key for d in todo))
        return self.ranking, todo

    def take_ranking(self, job: RankingJob, outcomes: list[Outcome]) -> list[DataSet] | None:
        """Give each data set its outcome; the data sets that got one (ranked or not),
        or None when the job is stale."""
        if job.generation != self.generation:
            return None
        self.ranking = None
        out = []
        for outcome in outcomes:
            dataset = self.find(key=outcome.key)
            if dataset is not None:
                dataset.set_outcome(outcome)
                out.append(dataset)
        return out

    def ranking_failed(self, job: RankingJob) -> list[DataSet] | None:
        """The data sets of a failed ranking still here, or None when the job is stale."""
        if job.generation != self.generation:
            return None
        self.ranking = None
        return [d for d in (self.find(key=k) for k in job.keys) if d is not None]

    # ---------------------------------------------------------------- verification

    @staticmethod
    def top_candidates(dataset: DataSet, top_k: int) -> list[str]:
        """The ``top_k`` most probable models of ``dataset``."""
        return list(dataset.ranking.models[:top_k])

    def request_verification(self, dataset: DataSet, models, auto_fit: bool = False) -> bool:
        """Queue a verification; whether it waits behind a running one."""
        self.queue.append(VerifyRequest(dataset.key, tuple(models), auto_fit))
        return self.job is not None

    def next_verification(self, max_seconds: float) -> tuple[VerifyJob, DataSet] | None:
        """The next queued verification to run (none while one runs); requests whose
        data set went or lost its ranking are dropped."""
        if self.job is not None:
            return None
        while self.queue:
            request = self.queue.pop(0)
            dataset = self.find(key=request.key)
            if dataset is None or dataset.ranking is None:
                continue
            self.job = VerifyJob(request.key, dataset.ranking, request.models,
                                 max_seconds=max_seconds, auto_fit=request.auto_fit,
                                 generation=self.generation)
            return self.job, dataset
        return None

    def cancel_verifications(self) -> VerifyJob | None:
        """Drop the queue and stop the running verification; the job stopped now."""
        self.queue.clear()
        job = self.job
        if job is None or job.cancel.is_set():
            return None
        job.cancel.set()
        return job

    def end_verification(self, job: VerifyJob, verification: Any = None) -> Verified:
        """``job`` ended (``verification``: its result, None if it failed or was
        cancelled): the verification is given to its data set when still current."""
        if self.job is job:
            self.job = None
        dataset = self.find(key=job.key)
        if job.generation != self.generation or dataset is None:
            return Verified(None)
        if verification is None:
            return Verified(dataset)
        if dataset.ranking is not job.ranking:
            return Verified(dataset, outdated=True)
        dataset.verification, dataset.verified_ranking = verification, job.ranking
        dataset.selected = None  # the verified best is preselected
        return Verified(dataset)

    def verifying(self, dataset: DataSet) -> bool:
        """True while ``dataset`` has a verification running or queued."""
        job = self.job
        return ((job is not None and job.key == dataset.key and not job.cancel.is_set())
                or any(r.key == dataset.key for r in self.queue))

    @property
    def can_cancel(self) -> bool:
        return (self.job is not None and not self.job.cancel.is_set()) or bool(self.queue)


def verification_summary(verification) -> str:
    """The status line after a verification: how long, how many fits, the weighting,
    the best fit (and, when the engine reports them, the models that fit as well)."""
    fits = verification.candidates
    ok = sum(c.ok for c in fits)
    weights = ("without dI: errors estimated from the scatter" if verification.dI_estimated
               else "weighted by dI")
    text = (f"Verified in {verification.seconds:.0f} s ({ok} of {len(fits)} fits ok; "
            f"χ²ᵣ {weights}).")
    best = verification.best
    if best is None:
        return text + " No fit succeeded; the network ranking stands."
    text += (f" Best fit: {display_name(best.model)} (χ²ᵣ = {best.chi2r:.3g}, "
             f"combined score {100 * best.posterior:.0f} %), now selected.")
    if verification.equally_good:
        text += " " + verification.equally_good
    return text
