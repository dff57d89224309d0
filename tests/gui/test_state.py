"""The perspective's rules without a window (:mod:`sasnets_plugin.gui.state`): what
Suggest ranks, what is preselected, product names, warnings, weighting, preferences,
and the project-file form of a data set. Verifications are real fits of real data;
rankings are built on the real network input of the data with the network's classes
(the rules only read the order and probabilities)."""
from __future__ import annotations

import dataclasses
import json
import logging
import math

import numpy as np
import pytest

from sasnets_plugin.gui import state, tables
from sasnets_plugin.models import products
from sasnets_plugin.gui.state import Outcome
from sasnets_plugin.loading import load_1d
from sasnets_plugin.preprocessing import get_transform
from sasnets_plugin.suggestion import Ranking, prepare
from sasnets_plugin.suggestion import verify as verify_ranking


@pytest.fixture(scope="module")
def sphere_raw(example_1d):
    return load_1d(example_1d / "sphere_80.txt")[0]


def ranking_of(raw, models, probabilities) -> Ranking:
    """A ranking as ``rank`` makes it: the curve encoded by the current transform."""
    return Ranking(prepare(raw, get_transform()), tuple(models),
                   np.asarray(probabilities, float))


@pytest.fixture(scope="module")
def ranking(sphere_raw, network_classes):
    # network order with core_shell_sphere first and sphere second
    models = ["core_shell_sphere", "sphere"] + [m for m in network_classes
                                                if m not in ("core_shell_sphere", "sphere")]
    probabilities = np.full(len(models), 0.1 / (len(models) - 2))
    probabilities[:2] = 0.5, 0.4
    return ranking_of(sphere_raw, models, probabilities)


@pytest.fixture(scope="module")
def verification(sphere_raw, ranking):
    return verify_ranking(ranking, 2, workers=1, max_seconds=60)


def dataset(key, raw, ranking=None) -> state.DataSet:
    ds = state.DataSet(key, item=None, raw=raw)
    if ranking is not None:
        ds.set_outcome(Outcome(key, ranking=ranking))
    return ds


def test_product_names_are_shown_readably():
    assert products.split("ellipsoid@hayter_msa") == ("ellipsoid", "hayter_msa")
    assert products.split("sphere") == ("sphere", None)
    assert products.display_name("ellipsoid@hayter_msa") == "ellipsoid × hayter_msa"
    assert products.display_name("sphere") == "sphere"


@pytest.mark.parametrize("model", ["hardsphere", "hayter_msa", "squarewell", "stickyhardsphere"])
def test_structure_factor_alone_is_fitted_as_a_sphere_product(model, network_classes):
    assert model in network_classes
    assert state.is_structure_factor(model)
    assert state.fit_target(model) == f"sphere@{model}"


def test_form_factors_and_products_are_fitted_as_they_are(network_classes):
    forms = [m for m in network_classes if not state.is_structure_factor(m)]
    assert len(forms) == len(network_classes) - 4
    assert all(state.fit_target(m) == m for m in forms)
    assert state.fit_target("ellipsoid@hayter_msa") == "ellipsoid@hayter_msa"


def test_suggest_ranks_new_data_sets_and_keeps_the_others(sphere_raw, ranking):
    done, new, other_new = (dataset(0, sphere_raw, ranking), dataset(1, sphere_raw),
                            dataset(2, sphere_raw))
    assert state.to_rank([done, new, other_new], current=done) == [new, other_new]
    # nothing new: the data set shown, asked again
    assert state.to_rank([done], current=done) == [done]
    assert state.to_rank([], current=None) == []


def test_a_data_set_that_failed_to_rank_does_not_block_the_others(sphere_raw, ranking):
    """Issue 25 defect 9: with one data set that could not be ranked, Suggest retried it
    on every click and never re-ranked the data set shown."""
    done = dataset(0, sphere_raw, ranking)
    failed = dataset(1, sphere_raw)
    failed.set_outcome(Outcome(1, error="The curve has no positive intensities."))
    assert state.to_rank([done, failed], current=done) == [done]
    assert state.to_rank([done, failed], current=failed) == [failed]


def test_preselected_is_the_verified_best_else_the_network_first(sphere_raw, ranking,
                                                                verification):
    ds = dataset(0, sphere_raw, ranking)
    assert ds.preselected() == ds.chosen() == "core_shell_sphere"
    ds.selected = "cylinder"
    assert ds.chosen() == "cylinder"  # the user's row, until something new is preselected
    ds.verification, ds.verified_ranking, ds.selected = verification, ranking, None
    assert verification.best is not None
    assert ds.preselected() == ds.chosen() == verification.best.model


def test_an_unchanged_ranking_keeps_its_verification(sphere_raw, ranking, verification):
    ds = dataset(0, sphere_raw, ranking)
    ds.verification, ds.verified_ranking = verification, ranking
    again = ranking_of(sphere_raw, ranking.models, ranking.probabilities)  # ranked again
    ds.set_outcome(Outcome(0, ranking=again))
    assert ds.verified is verification
    changed = ranking_of(sphere_raw, ranking.models[::-1], ranking.probabilities)
    ds.set_outcome(Outcome(0, ranking=changed))
    assert ds.verified is None and ds.verification is None


def test_warnings_follow_the_contract_when_present(sphere_raw, ranking, verification):
    ds = dataset(0, sphere_raw, ranking)
    ds.verification, ds.verified_ranking = verification, ranking
    assert ds.warnings() == []  # today's classes carry neither field

    @dataclasses.dataclass(frozen=True)
    class WarnedRanking(Ranking):  # Network v3: a ranking may carry a warning
        warning: str | None = None

    @dataclasses.dataclass(frozen=True)
    class NoFitVerification(type(verification)):  # Verification v2: no_fit, best_chi2r
        no_fit: bool = False
        best_chi2r: float = math.nan

    warned = WarnedRanking(ranking.prepared, ranking.models, ranking.probabilities,
                           warning="q range far outside the training data (nm⁻¹?)")
    ds.set_outcome(Outcome(0, ranking=warned))
    ds.verification = NoFitVerification(**{f.name: getattr(verification, f.name)
                                           for f in dataclasses.fields(verification)},
                                        no_fit=True, best_chi2r=38.7)
    ds.verified_ranking = warned
    warnings = ds.warnings()
    assert warnings[0] == "q range far outside the training data (nm⁻¹?)"
    assert "None of the 2 fitted candidates fits" in warnings[1] and "38.7" in warnings[1]


def test_weighting_is_stated(verification):
    assert verification.dI_estimated  # sphere_80.txt has no dI
    assert state.verification_weighting(verification) == "no dI"
    assert "cannot be compared" in state.weighting_note(verification)
    weighted = dataclasses.replace(verification, dI_estimated=False)
    assert state.verification_weighting(weighted) == "dI"
    assert "dI" in state.weighting_note(weighted)


def test_sasview_fit_summary_names_numbers_and_weighting():
    fit = state.SasViewFit("ellipsoid@hayter_msa", outcome=state.COMPLETED, chi2=1.39e4,
                           weighting="None", parameters={"radius_polar": (20.0, 0.5)},
                           seconds=10.1, page_name="FitPage2")
    text = fit.summary()
    for part in ("ellipsoid × hayter_msa", "FitPage2", "finished in 10.1 s",
                 "χ²/Npts = 1.39e+04", "SasView weighting: None"):
        assert part in text
    assert fit.parameter_text() == "radius_polar = 20 ± 0.5"
    assert "failed" in dataclasses.replace(fit, outcome=state.FAILED).summary()


def test_table_text_for_clipboard_and_report(sphere_raw, ranking, verification):
    ds = dataset(0, sphere_raw, ranking)
    header, rows = tables.table_rows(ds, top=3)
    assert header == ["Rank", "Model", "Probability"] and len(rows) == 3
    assert rows[0] == ["1", "core_shell_sphere", "50.00 %"]
    ds.verification, ds.verified_ranking = verification, ranking
    header, rows = tables.table_rows(ds)
    assert len(rows) == len(ranking.models)
    assert "chi2r (no dI)" in header
    assert rows[1][3] == str(ds.candidate_fit("sphere").verified_rank)
    tsv = tables.as_tsv(header, rows)
    assert tsv.splitlines()[0].split("\t") == header
    latex = tables.as_latex(["Model"], [["ellipsoid × hayter_msa"], ["a_b & 5 %"]])
    assert r"ellipsoid $\times$ hayter\_msa" in latex and r"a\_b \& 5 \%" in latex
    assert latex.startswith(r"\begin{tabular}{l}")


def test_settings_round_trip_and_ranges(tmp_path):
    path = tmp_path / "prefs" / "settings.json"
    assert state.Settings.load(path) == state.Settings()  # missing: defaults
    state.Settings(top_k=3, verify_seconds=12.5).save(path)
    assert state.Settings.load(path) == state.Settings(3, 12.5)
    wild = state.Settings(top_k=99, verify_seconds=-1).checked()
    assert wild == state.Settings(20, 5.0)
    path.write_text('{"top_k": 4, "device": "gpu"}')  # a key of an older version: ignored
    assert state.Settings.load(path) == state.Settings(top_k=4)
    path.write_text("{not json")
    assert state.Settings.load(path) == state.Settings()


def test_project_form_round_trips_through_json(sphere_raw, ranking, verification):
    ds = dataset(7, sphere_raw, ranking)
    ds.verification, ds.verified_ranking = verification, ranking
    ds.status = ("Verified in 3 s.", logging.INFO)
    ds.selected = "sphere"
    ds.fit = state.SasViewFit("sphere", outcome=state.COMPLETED, chi2=1.2, weighting="Use dI Data",
                              parameters={"radius": (80.0, 0.1)}, seconds=2.0,
                              page_name="FitPage1")
    saved = json.loads(json.dumps(ds.to_dict()))  # what a project file holds

    back = state.DataSet(7, item=None, raw=sphere_raw)
    back.restore(saved)
    assert back.ranking.models == ranking.models
    np.testing.assert_allclose(back.ranking.probabilities, ranking.probabilities)
    np.testing.assert_allclose(back.ranking.prepared.inputs, ranking.prepared.inputs)
    assert back.verified is back.verification
    for mine, theirs in zip(back.verification.candidates, verification.candidates):
        assert (mine.model, mine.status, mine.verified_rank) == (
            theirs.model, theirs.status, theirs.verified_rank)
        assert mine.parameters == pytest.approx(theirs.parameters)
        if theirs.I_fit is not None:
            np.testing.assert_allclose(mine.I_fit, theirs.I_fit)
    assert back.preselected() == ds.preselected()
    assert back.status == ds.status and back.selected == "sphere"
    assert back.fit == ds.fit


def test_project_form_of_an_unusable_data_set(sphere_raw):
    ds = dataset(1, sphere_raw)
    ds.set_outcome(Outcome(1, error="fewer than 10 usable points"))
    back = state.DataSet(1, item=None, raw=sphere_raw)
    back.restore(json.loads(json.dumps(ds.to_dict())))
    assert back.ranking is None and back.outcome.error == "fewer than 10 usable points"
