"""The perspective's controller without Qt (:mod:`sasnets_plugin.gui.controller`): the
data sets, the ranking under way, the verification queue, and the rule that a late
answer from a background thread never lands on a data set it is not for. Real data,
rankings on the real network input, real verification fits."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from sasnets_plugin.gui.controller import Suggestions, VerifyRequest, verification_summary
from sasnets_plugin.gui.state import Outcome
from sasnets_plugin.gui.tasks import verify
from sasnets_plugin.loading import load_1d
from sasnets_plugin.preprocessing import get_transform
from sasnets_plugin.suggestion import Ranking, prepare

RECEIVED = ("Received", logging.INFO)


@pytest.fixture(scope="module")
def raws(example_1d):
    return [load_1d(example_1d / name)[0] for name in ("sphere_80.txt", "cyl_400_20.txt")]


def ranking_of(raw, models) -> Ranking:
    probabilities = np.linspace(1.0, 0.1, len(models))
    return Ranking(prepare(raw, get_transform()), tuple(models),
                   probabilities / probabilities.sum())


MODELS = ("sphere", "cylinder", "core_shell_sphere", "ellipsoid")


def test_data_sets_and_ranking(raws):
    work = Suggestions()
    items = [object(), object()]  # the Data Explorer's items: found by identity
    sphere, cylinder = (work.add(item, raw, RECEIVED) for item, raw in zip(items, raws))
    assert [d.key for d in work.datasets] == [0, 1] and work.find(item=items[1]) is cylinder
    job, todo = work.start_ranking(current=sphere)
    assert todo == [sphere, cylinder] and job.keys == (0, 1) and work.ranking is job
    got = work.take_ranking(job, [Outcome(0, ranking=ranking_of(raws[0], MODELS)),
                                  Outcome(1, error="The curve has no positive intensities.")])
    assert got == [sphere, cylinder] and work.ranking is None
    assert sphere.ranking.models == MODELS and cylinder.ranking is None
    # Nothing new: the data set shown again; the failed one only when it is shown.
    assert work.start_ranking(current=sphere)[1] == [sphere]
    assert work.start_ranking(current=cylinder)[1] == [cylinder]


def test_late_answers_are_dropped(raws):
    """A ranking or verification that ends after New project (reset) or after its data
    set was removed changes nothing."""
    work = Suggestions()
    sphere = work.add("item", raws[0], RECEIVED)
    job, _ = work.start_ranking(current=sphere)
    work.reset()
    assert work.take_ranking(job, [Outcome(0, ranking=ranking_of(raws[0], MODELS))]) is None
    assert work.ranking_failed(job) is None
    again = work.add("item", raws[0], RECEIVED)
    assert again.key == 1 and again.ranking is None


def test_verification_queue_is_typed_and_ordered(raws):
    work = Suggestions()
    sphere, cylinder = (work.add(f"item{i}", raw, RECEIVED) for i, raw in enumerate(raws))
    job, _ = work.start_ranking(current=sphere)
    work.take_ranking(job, [Outcome(0, ranking=ranking_of(raws[0], MODELS)),
                            Outcome(1, ranking=ranking_of(raws[1], MODELS))])
    assert work.top_candidates(sphere, 2) == ["sphere", "cylinder"]
    assert not work.request_verification(sphere, ["sphere", "cylinder"], auto_fit=True)
    assert not work.request_verification(cylinder, ["cylinder"])
    assert work.queue == [VerifyRequest(0, ("sphere", "cylinder"), True),
                          VerifyRequest(1, ("cylinder",), False)]
    first, dataset = work.next_verification(max_seconds=60)
    assert dataset is sphere and first.auto_fit and first.ranking is sphere.ranking
    assert first.models == ("sphere", "cylinder")  # priors come from first.ranking
    assert work.next_verification(60) is None  # one at a time
    assert work.verifying(sphere) and work.verifying(cylinder) and work.can_cancel
    assert work.request_verification(sphere, ["sphere"])  # waits behind the running one

    verification = verify(first)  # real fits
    ended = work.end_verification(first, verification)
    assert ended.dataset is sphere and not ended.outdated
    assert sphere.verified is verification and sphere.selected is None
    assert sphere.preselected() == verification.best.model
    assert "Best fit:" in verification_summary(verification)

    # Removing a data set drops its queued verification; cancel drops the rest.
    work.forget(cylinder)
    assert [r.key for r in work.queue] == [0]
    second, _ = work.next_verification(60)
    assert work.cancel_verifications() is second and second.cancel.is_set()
    assert work.queue == [] and not work.can_cancel


def test_a_verification_of_a_replaced_ranking_is_not_taken(raws):
    work = Suggestions()
    sphere = work.add("item", raws[0], RECEIVED)
    job, _ = work.start_ranking(current=sphere)
    work.take_ranking(job, [Outcome(0, ranking=ranking_of(raws[0], MODELS))])
    work.request_verification(sphere, ["sphere"])
    running, _ = work.next_verification(60)
    verification = verify(running)
    # ranked again meanwhile, differently: the verification no longer applies
    sphere.set_outcome(Outcome(0, ranking=ranking_of(raws[0], MODELS[::-1])))
    ended = work.end_verification(running, verification)
    assert ended.outdated and sphere.verified is None and work.job is None
