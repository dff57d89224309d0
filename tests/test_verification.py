"""Fit verification with real sasmodels + bumps: fits, re-ranking, failures, budget, cancel."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from sasnets_plugin.kernels import LOCK_FILE
from sasnets_plugin.loading import RawCurve, load_1d
from sasnets_plugin.verification import (
    NOISE_CHI2R,
    CandidateFit,
    Request,
    VerificationCancelled,
    curve_invariants,
    prepare_data,
    rerank,
    shutdown_pool,
    verify_candidates,
    verify_many,
)
from sasnets_plugin.verification import fitting as fitting_module
from sasnets_plugin.verification.verify import (
    FIT_FAILURE_RATE,
    PRIOR_FLOOR,
    RESCUE_FAMILIES,
    Candidate,
    rescue_products,
    rescue_singles,
)

TRUE_RADIUS = 60.0


def _simulated(model: str, q, pars: dict, title: str, noise=0.02, seed=1,
               with_dI=True) -> RawCurve:
    """A sasmodels curve of ``model`` at ``q`` with gaussian relative noise ``noise``."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    clean = call_kernel(load_model(model).make_kernel([q]), pars)
    dI = noise * clean
    I = clean + dI * np.random.default_rng(seed).standard_normal(q.size)  # noqa: E741
    return RawCurve(title, q, I, dI if with_dI else None, None)


def _sphere_curve(n=100, noise=0.02, seed=1, with_dI=True, pd=0.0) -> RawCurve:
    return _simulated("sphere", np.geomspace(0.005, 0.4, n),
                      {"radius": TRUE_RADIUS, "radius_pd": pd, "radius_pd_n": 35,
                       "scale": 0.01, "background": 0.002},
                      "synthetic sphere", noise=noise, seed=seed, with_dI=with_dI)


@pytest.fixture(scope="module")
def sphere_raw() -> RawCurve:
    return _sphere_curve()


@pytest.fixture(scope="module")
def sphere_verification(sphere_raw):
    # network prefers a wrong model: cylinder 0.5, true sphere 0.3, power_law 0.2
    return verify_candidates(sphere_raw, ["cylinder", "sphere", "power_law"], [0.5, 0.3, 0.2],
                             workers=1)


@pytest.fixture(scope="module", autouse=True)
def _stop_pool():
    yield
    shutdown_pool()


def test_sphere_fit_recovers_radius_and_wins_bic(sphere_verification):
    fits = {c.model: c for c in sphere_verification.candidates}
    sphere = fits["sphere"]
    assert sphere.ok, sphere.status
    assert sphere.parameters["radius"] == pytest.approx(TRUE_RADIUS, rel=0.03)
    assert 0.5 < sphere.chi2r < 2.0  # 2 % noise with dI = 2 %: chi2r ~ 1
    # radius, its polydispersity, scale, background: SLDs are not varied
    assert sphere.n_free == 4
    assert set(sphere.parameters) == {"radius", "radius_pd", "scale", "background"}
    assert sphere.parameters["radius_pd"] < 0.05  # the curve is monodisperse
    assert sphere.bic < fits["cylinder"].bic and sphere.bic < fits["power_law"].bic
    assert sphere.aic == pytest.approx(sphere.chi2 + 2 * 4)
    assert sphere.bic == pytest.approx(sphere.chi2 + 4 * np.log(sphere.n_points))
    assert sphere.I_fit is not None and sphere.I_fit.shape == sphere.q.shape


def test_true_model_wins_reranking_against_a_higher_prior(sphere_verification):
    v = sphere_verification
    assert v.network_order == ("cylinder", "sphere", "power_law")
    assert sum(c.posterior for c in v.candidates) == pytest.approx(1.0)
    assert [c.probability for c in v.candidates] == [0.5, 0.3, 0.2]
    # with full trust in the fits (no failure allowance) the true model overturns the prior
    ranked, _ = rerank(list(v.candidates), [0.5, 0.3, 0.2], 0.0)
    best = min(ranked, key=lambda c: c.verified_rank)
    assert best.model == "sphere" and best.network_rank == 2
    assert best.posterior > 0.99


def test_json_output(sphere_verification):
    payload = json.loads(json.dumps(sphere_verification.to_json()))
    assert payload["verified_order"] == list(sphere_verification.verified_order)
    fit = payload["candidates"][1]["fit"]
    assert {"chi2r", "aic", "bic", "parameters"} <= set(fit)
    assert fit["parameters"]["radius"] == pytest.approx(TRUE_RADIUS, rel=0.03)
    curves = sphere_verification.to_json(include_curves=True)
    assert len(curves["q"]) == len(curves["candidates"][1]["I_fit"]) == 100


def test_failing_models_are_reported_and_ranked_last(sphere_raw, monkeypatch):
    real = fitting_module.kernel_model

    def broken(name):
        if name == "cylinder":
            raise RuntimeError("simulated kernel crash")
        return real(name)

    monkeypatch.setattr(fitting_module, "kernel_model", broken)
    v = verify_candidates(sphere_raw, ["no_such_model", "cylinder", "sphere"], [0.6, 0.3, 0.1],
                          workers=1)
    fits = {c.model: c for c in v.candidates}
    assert fits["no_such_model"].status.startswith("fit failed:")
    assert "unknown" in fits["no_such_model"].status
    assert fits["cylinder"].status.startswith("fit failed:")
    assert "simulated kernel crash" in fits["cylinder"].status
    assert v.verified_order[0] == "sphere"
    assert {c.verified_rank for c in v.candidates if not c.ok} == {2, 3}
    assert all(c.posterior == 0 for c in v.candidates if not c.ok)
    assert fits["cylinder"].fit_json() == fits["cylinder"].status  # failures: the status string


def test_data_without_dI_is_fitted_and_flagged():
    raw = _sphere_curve(noise=0.01, seed=3, with_dI=False)
    v = verify_candidates(raw, ["sphere", "power_law"], [0.5, 0.5], workers=1)
    assert v.dI_estimated
    assert "no dI" in v.weighting
    sphere = v.candidates[0]
    assert sphere.ok
    assert any("no dI" in note for note in sphere.notes)
    assert sphere.parameters["radius"] == pytest.approx(TRUE_RADIUS, rel=0.03)
    assert v.verified_order[0] == "sphere"


def test_fitted_parameters_serve_as_start_values(sphere_verification):
    sphere = sphere_verification.best
    assert sphere.start_values()["radius"] == sphere.parameters["radius"]
    wrong = next(c for c in sphere_verification.candidates if c.model == "power_law")
    assert wrong.start_values() == wrong.parameters  # no fixed overrides for power_law


def test_resolution_follows_cleaning():
    # unsorted rows, a duplicated q and an unusable row: dQ must follow the points
    q = np.array([0.03, 0.01, 0.02, 0.02, -1.0] + list(np.linspace(0.04, 0.2, 12)))
    I = 1.0 / q**2  # noqa: E741
    I[4] = 1.0
    dQ = 0.1 * q
    dQ[2], dQ[3] = 0.001, 0.003
    data, report = prepare_data(RawCurve("t", q, I, None, dQ))
    assert report.n_merged == 1 and report.reordered
    assert data.q[:3].tolist() == [0.01, 0.02, 0.03]
    assert data.dQ[:3] == pytest.approx([0.001, 0.002, 0.003])


def test_rerank_rule_is_tempered_and_robust():
    def ok(model, chi2r, bic):
        return CandidateFit(model=model, status="ok", chi2r=chi2r, bic=bic)

    fits = [ok("a", 4.0, 100.0), ok("b", 5.0, 108.0), CandidateFit("c", "fit failed: x")]
    for eps in (0.0, 0.1, 0.5, FIT_FAILURE_RATE):
        ranked, temperature = rerank(fits, [0.2, 0.7, 0.1], eps)
        assert temperature == 4.0
        a, b, c = ranked
        # evidence (1 - eps) exp(-dBIC / 2T) + eps, dBIC / 2T = 8 / 8 for b
        expected_ratio = (0.2 / 0.7) / ((1 - eps) * np.exp(-1.0) + eps)
        assert a.posterior / b.posterior == pytest.approx(expected_ratio)
        assert c.posterior == 0 and c.verified_rank == 3
        assert [x.network_rank for x in ranked] == [1, 2, 3]
    assert rerank(fits, [0.2, 0.7, 0.1])[0] == rerank(fits, [0.2, 0.7, 0.1], FIT_FAILURE_RATE)[0]
    ignored, _ = rerank(fits, [0.2, 0.7, 0.1], 1.0)  # fits carry no information: network order
    assert [x.verified_rank for x in ignored] == [2, 1, 3]
    # however bad a fit, it costs at most -ln(eps) nats against the best fit
    worst = [ok("a", 4.0, 100.0), ok("b", 400.0, 1e6)]
    ranked, _ = rerank(worst, [0.05, 0.95], 0.1)
    assert ranked[1].posterior / ranked[0].posterior == pytest.approx(0.95 / 0.05 * 0.1 / (0.9 + 0.1))
    with pytest.raises(ValueError, match="failure_rate"):
        rerank(fits, [0.2, 0.7, 0.1], 1.5)


def test_cancellation_returns_promptly(sphere_raw):
    cancel = threading.Event()
    outcome = {}

    def run():
        try:
            verify_candidates(sphere_raw, ["ellipsoid", "core_shell_cylinder", "cylinder",
                                           "sphere"], None, workers=1, cancel=cancel,
                              max_seconds=60)
            outcome["result"] = "finished"
        except VerificationCancelled as exc:
            outcome["result"] = exc
        outcome["t"] = time.perf_counter()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    t_cancel = time.perf_counter()
    cancel.set()
    thread.join(10)
    assert isinstance(outcome["result"], VerificationCancelled)
    assert outcome["t"] - t_cancel < 1.0
    assert all(f.ok for f in outcome["result"].partial)


def test_parallel_timing_and_cancellation(example_1d, capsys):
    raw = load_1d(example_1d / "sphere_80.txt")[0]
    models = ["sphere", "core_shell_sphere", "fuzzy_sphere", "ellipsoid", "vesicle"]
    probs = [0.4, 0.25, 0.15, 0.1, 0.1]
    t = time.perf_counter()
    v = verify_candidates(raw, models, probs, workers=2)  # cold pool: includes process start
    cold = time.perf_counter() - t
    t = time.perf_counter()
    v = verify_candidates(raw, models, probs, workers=2)  # warm pool
    warm = time.perf_counter() - t
    with capsys.disabled():
        print(f"\n[verification timing] 5 candidates, {raw.q.size} points, 2 workers: "
              f"cold {cold:.2f} s, warm {warm:.2f} s")
    assert v.workers == 2 and v.verified_order[0] == "sphere"
    assert all(c.ok for c in v.candidates)
    assert cold < 30 and warm < 30

    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    t = time.perf_counter()
    with pytest.raises(VerificationCancelled):
        verify_candidates(raw, ["ellipsoid", "core_shell_cylinder", "cylinder", "fcc_paracrystal"],
                          None, workers=2, cancel=cancel, max_seconds=60)
    assert time.perf_counter() - t < 0.3 + 2.5


def test_budget_is_a_hard_bound_even_for_slow_kernels():
    # pringle: one evaluation at a large radius takes several to tens of seconds and
    # cannot be interrupted; the call must still end with its budget (generous margin)
    q = np.linspace(0.0006, 0.16, 237)
    I = 1 / (1 + (q * 300) ** 2) ** 1.5 + 0.01  # noqa: E741
    raw = RawCurve("slow", q, I, 0.02 * I, 0.02 * q)
    models = ["pringle", "core_shell_bicelle", "stacked_disks",
              "core_shell_bicelle_elliptical", "cylinder"]
    seen = []
    t = time.perf_counter()
    v = verify_candidates(raw, models, None, workers=2, max_seconds=4.0,
                          progress=lambda i, fit: seen.append((i, fit.model)))
    elapsed = time.perf_counter() - t
    assert elapsed < 4.0 + 1.5
    assert sorted(seen) == list(enumerate(models))  # one progress call per candidate
    assert len(v.candidates) == 5
    assert all(c.ok or c.cut == "safety cap" for c in v.candidates)  # nothing else failed
    # the pool still works afterwards (restarted if a worker had to be stopped)
    again = verify_candidates(_sphere_curve(), ["sphere", "power_law"], None, workers=2)
    assert again.verified_order[0] == "sphere"


# --- verification v2 (issue 13): the rule, rescue, products, determinism, bounds ---------


def _ranked(raw: RawCurve, top: int = 5):
    """The shipped network's top ``top`` (models, probabilities) and the rest (reserve)."""
    from sasnets_plugin.suggestion import get_classifier, prepare, rank

    ranking = rank(get_classifier(), [prepare(raw)])[0]
    models, probabilities = zip(*ranking.top(top))
    return list(models), list(probabilities), ranking.top(None)[top:]


#: Models whose curves cannot have a large sphere's Guinier knee and Porod tail.
UNLIKE_A_SPHERE = ("gaussian_peak", "line", "peak_lorentz", "lamellar", "teubner_strey")


def _preferring(raw: RawCurve, first):
    """A ranking as if the network preferred ``first`` (probabilities 0.9 shared, halving),
    with the network's own ranking of the other models as reserve: where a test needs
    candidates that do not fit, whatever the shipped network ranks first."""
    weights = 0.5 ** np.arange(len(first))
    models, probabilities, rest = _ranked(raw, top=1)
    reserve = [(m, p) for m, p in [*zip(models, probabilities), *rest] if m not in first]
    return list(first), list(0.9 * weights / weights.sum()), reserve


def _network_verification(raw: RawCurve, top: int = 5, **options):
    models, probabilities, reserve = _ranked(raw, top)
    return verify_candidates(raw, models, probabilities, reserve=reserve, **options)


def _fit(model, chi2r, bic, converged=True, **extra) -> CandidateFit:
    return CandidateFit(model=model, status="ok", chi2r=chi2r, bic=bic, converged=converged,
                        **extra)


def _noise_curve() -> RawCurve:
    """Pure noise: a flat level scattered by 30 % with error bars of 5 % (no model can
    describe it; every chi2r is far above 1)."""
    q = np.geomspace(0.005, 0.3, 120)
    rng = np.random.default_rng(7)
    I = np.exp(0.3 * rng.standard_normal(q.size))  # noqa: E741
    return RawCurve("pure noise", q, I, 0.05 * I, None)


def _fits_signature(v) -> list:
    """Everything an answer consists of: the verified order and every number of every fit."""
    return [(c.model, c.status, c.chi2, c.verified_rank, c.posterior,
             tuple(sorted(c.parameters.items()))) for c in v.ranked]


def test_a_converged_fit_far_worse_than_the_best_drops():
    """Nothing fits within the noise: a converged fit is evidence (no floor) and drops
    by its BIC; a fit that plausibly failed keeps the floor EPS."""
    fits = [_fit("converged_bad", 533.0, 70000.0), _fit("converged_best", 5.4, 800.0),
            _fit("cut_bad", 533.0, 70000.0, converged=False, cut="work budget"),
            _fit("at_bound_bad", 533.0, 70000.0, at_bounds=("radius",))]
    ranked, temperature = rerank(fits, [0.5, 0.05, 0.2, 0.25], 0.3)
    assert temperature == 5.4
    post = {c.model: c.posterior for c in ranked}
    assert post["converged_bad"] < 1e-100  # no floor: it drops
    assert post["cut_bad"] / post["converged_best"] == pytest.approx(
        (0.2 / 0.05) * 0.3, rel=1e-6)  # floor EPS: costs at most -ln EPS nats
    assert post["at_bound_bad"] / post["cut_bad"] == pytest.approx(0.25 / 0.2)
    assert ranked[0].verified_rank == 4  # network #1 verified last of the fitted


def test_a_fit_within_the_noise_beats_any_prior():
    """1umSlitSmearSphere.ABS: sphere fits at chi2r 0.35 but the network gives it 1e-16;
    the network's favourite was cut by its budget at chi2r 2.4e3. Once a fit is within
    the noise, a fit that is not has no failure floor, and a prior costs at most
    ln(1 / PRIOR_FLOOR)."""
    fits = [_fit("core_shell_bicelle_elliptical", 2400.0, 3.4e5, converged=False,
                 cut="work budget"),
            _fit("sphere", 0.346, 60.0)]
    assert fits[1].within_noise and not fits[0].within_noise and fits[0].plausibly_failed
    ranked, _ = rerank(fits, [0.642, 8.9e-17], network_ranks=[1, 51])
    assert [c.verified_rank for c in ranked] == [2, 1]
    assert ranked[1].posterior > 0.999 and ranked[1].network_rank == 51
    # two fits within the noise: the prior decides unless the BIC does by more
    close = [_fit("a", 1.0, 100.0), _fit("b", 1.02, 100.0 + 2 * np.log(1 / PRIOR_FLOOR) + 2)]
    ranked, _ = rerank(close, [1e-9, 0.9])
    assert ranked[0].verified_rank == 1
    # the earlier rules are still scored by the benchmark
    old, _ = rerank(fits, [0.642, 8.9e-17], 0.3, floor_rule="all", prior_floor=0.0)
    assert old[0].verified_rank == 1
    with pytest.raises(ValueError, match="floor_rule"):
        rerank(fits, [0.5, 0.5], floor_rule="sometimes")


def test_slit_smeared_spheres_a_fit_within_the_noise_beats_the_prior(example_1d):
    """1umSlitSmearSphere.ABS, as in the issue: five candidates that cannot describe a
    sphere plus sphere at the probability the v2 network gave it (rank 51, 1e-16). The
    sphere fits within the noise: it must be verified ahead of every candidate that does
    not, and the verified choice must fit within the noise."""
    raw = load_1d(example_1d / "1umSlitSmearSphere.ABS")[0]
    models, probabilities, _ = _preferring(raw, UNLIKE_A_SPHERE)
    v = verify_candidates(raw, [*models, "sphere"], [*probabilities, 1e-16])
    sphere = next(c for c in v.candidates if c.model == "sphere")
    assert sphere.within_noise and sphere.parameters["radius"] == pytest.approx(5000, rel=0.05)
    assert all(sphere.verified_rank < c.verified_rank
               for c in v.candidates if not c.within_noise)
    assert v.best.within_noise and v.best.chi2r < 0.5 and not v.no_fit


def test_slit_smeared_spheres_are_found_by_the_rescue(example_1d):
    """The same curve with two candidates that cannot fit it (as v2's top 2, two
    bicelles, could not) and the network's ranking of the rest as reserve: the rescue
    fits one model per family and a sphere-like one that fits within the noise comes
    first."""
    raw = load_1d(example_1d / "1umSlitSmearSphere.ABS")[0]
    models, probabilities, reserve = _preferring(raw, UNLIKE_A_SPHERE[:2])
    v = verify_candidates(raw, models, probabilities, reserve=reserve)
    assert not any(c.within_noise for c in v.candidates if not c.rescue)
    assert v.rescued and not v.no_fit
    best = v.best
    assert best.rescue and best.within_noise and best.chi2r < 0.5
    assert best.model in ("sphere", "ellipsoid", "core_shell_sphere", "vesicle",
                          "core_shell_ellipsoid")
    assert best.model in v.message and "None of the network's top 2" in v.message
    payload = v.to_json()
    assert payload["no_fit"] is False and payload["rescued"] is True
    assert {c["model"] for c in payload["candidates"] if c["rescue"]} >= set(RESCUE_FAMILIES)


def test_a_poor_fit_is_not_reported_as_a_fit(example_1d):
    """sphere_80.txt: every candidate that fits within the noise is verified ahead of
    every one that does not, and those say 'poor fit' instead of a bare 'ok'."""
    raw = load_1d(example_1d / "sphere_80.txt")[0]
    models, probabilities, reserve = _ranked(raw, top=4)  # + one that cannot fit
    v = verify_candidates(raw, [*models, "lamellar"], [*probabilities, 0.01], reserve=reserve)
    assert v.best.model == "sphere" and not v.rescued and not v.no_fit
    within = [c.verified_rank for c in v.candidates if c.within_noise]
    poor = [c for c in v.candidates if c.ok and not c.within_noise]
    assert poor, "expected at least one candidate outside the noise"
    for c in poor:
        assert c.verified_rank > max(within) and c.posterior < 1e-6
        assert c.verdict.startswith("poor fit") and c.fit_json()["within_noise"] is False


def _assert_charged_micelles_fit(best):
    structure = best.model.partition("@")[2]
    assert structure in ("hardsphere", "hayter_msa", "stickyhardsphere", "squarewell")
    assert best.within_noise
    assert "volfraction" in best.parameters and "radius_effective" not in best.parameters
    assert best.fixed["radius_effective_mode"] == 1  # radius_effective from the form


@pytest.mark.slow
def test_charged_micelles_are_ranked_and_fitted_as_products(example_1d):
    """hSDS_D2O_2p0_percent.xml (SDS micelles, 'suitable for testing charged S(Q)
    models'): the network ranks products form@structure first, and a verified one fits
    within the noise with the structure factor's volume fraction fitted."""
    v = _network_verification(load_1d(example_1d / "hSDS_D2O_2p0_percent.xml")[0])
    assert not v.no_fit and "@" in v.candidates[0].model
    _assert_charged_micelles_fit(v.best)


@pytest.mark.slow
def test_charged_micelles_are_rescued_with_products(example_1d):
    """The same curve with two candidates that cannot fit it (as v2, which had no
    products, gave single models only): the curve rises to a correlation peak, so the
    rescue fits products, and one that fits within the noise is verified first."""
    raw = load_1d(example_1d / "hSDS_D2O_2p0_percent.xml")[0]
    models, probabilities, reserve = _preferring(raw, UNLIKE_A_SPHERE[:2])
    v = verify_candidates(raw, models, probabilities, reserve=reserve)
    assert v.rescued and not v.no_fit
    assert v.best.rescue
    _assert_charged_micelles_fit(v.best)
    assert not v.candidates[0].within_noise and v.candidates[0].verified_rank > v.best.verified_rank


@pytest.mark.slow
def test_pure_noise_says_plainly_that_nothing_fits():
    raw = _noise_curve()
    v = _network_verification(raw)
    assert v.no_fit and v.rescued
    assert len(v.candidates) > 5 + len(RESCUE_FAMILIES) // 2  # the rescue was tried
    assert v.best_chi2r == min(c.chi2r for c in v.candidates if c.ok) > NOISE_CHI2R
    assert v.message.startswith("No model fits within the noise")
    payload = json.loads(json.dumps(v.to_json()))
    assert payload["no_fit"] is True and payload["best_chi2r"] == pytest.approx(v.best_chi2r)


def test_rescue_candidates_come_from_the_ranking_the_families_and_the_best_forms():
    tried = [Candidate("lamellar_hg_stack_caille", 0.45, 1), Candidate("core_shell_cylinder", 0.23, 2),
             Candidate("ellipsoid", 0.05, 3)]
    reserve = [("core_shell_bicelle", 0.1), ("sphere", 0.08), ("hardsphere", 0.06),
               ("stacked_disks", 0.03)]
    singles = rescue_singles(tried, reserve)
    names = [c.model for c in singles]
    assert names[:3] == ["core_shell_bicelle", "sphere", "hardsphere"]  # next ranks first
    assert "ellipsoid" not in names and "stacked_disks" not in names
    assert set(RESCUE_FAMILIES) - {"ellipsoid", "sphere"} <= set(names)
    assert all(c.rescue for c in singles)
    assert singles[1].network_rank == 5 and singles[1].probability == 0.08
    fits = [_fit("lamellar_hg_stack_caille", 533, 7e4), _fit("core_shell_cylinder", 9, 900),
            _fit("ellipsoid", 5.4, 800), _fit("sphere", 20, 2600)]
    products = rescue_products(tried + singles, fits, reserve)
    assert [c.model for c in products[:4]] == [f"ellipsoid@{s}" for s in
                                                ("hardsphere", "stickyhardsphere",
                                                 "squarewell", "hayter_msa")]
    assert {c.model.split("@")[0] for c in products} == {"ellipsoid", "core_shell_cylinder"}
    assert products[0].probability == pytest.approx(0.05 / 4) and products[0].network_rank == 0


@contextlib.contextmanager
def _busy_cpu():
    """Every core of this machine kept busy by spinning processes (stopped afterwards)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_same_answer_on_a_busy_machine(example_1d):
    """apoferritin.txt gave different verified orders on an idle and a busy machine:
    the budget is work, so a busy machine gives the same answer, later."""
    raw = load_1d(example_1d / "apoferritin.txt")[0]
    models, probabilities, reserve = _ranked(raw)
    idle = verify_candidates(raw, models, probabilities, reserve=reserve, workers=2)
    with _busy_cpu():
        busy = verify_candidates(raw, models, probabilities, reserve=reserve, workers=2)
    assert _fits_signature(busy) == _fits_signature(idle)
    assert not any(c.cut == "safety cap" for c in busy.candidates)


@pytest.mark.slow
def test_same_answer_alone_or_with_other_files_anywhere(example_1d):
    """A curve alone vs together with another file gave sphere chi2r 0.0 vs 3.11: now
    the same fits whether a file is verified alone or with others, in this process, in
    worker processes or on a Dask cluster (the noise curve goes through the rescue)."""
    from sasnets_plugin.cluster import connect

    raw = load_1d(example_1d / "sphere_80.txt")[0]
    models, probabilities, reserve = _ranked(raw)
    sphere = Request(raw, tuple(models), tuple(probabilities), tuple(reserve))
    noise = Request(_noise_curve(), ("sphere", "power_law"))
    alone = verify_many([sphere], workers=2)[0]
    together = verify_many([noise, sphere, noise], workers=2)
    assert together[0].rescued and _fits_signature(together[0]) == _fits_signature(together[2])
    assert _fits_signature(together[1]) == _fits_signature(alone)
    here = verify_many([sphere, noise], workers=1)
    assert _fits_signature(here[0]) == _fits_signature(alone)
    assert _fits_signature(here[1]) == _fits_signature(together[0])
    with connect(None, workers=2) as client:
        on_dask = verify_many([noise, sphere], client=client)
    assert _fits_signature(on_dask[1]) == _fits_signature(alone)
    assert _fits_signature(on_dask[0]) == _fits_signature(together[0])


def test_a_million_points_are_verified_within_the_bound(tmp_path):
    """A 10^6-point file had not finished after 15 min: long curves are binned, the
    invariants are O(n log n), and one file obeys the same bound as many."""
    q = np.linspace(0.002, 0.5, 1_000_000)
    raw = _simulated("sphere", q, {"radius": 60.0, "scale": 0.01, "background": 0.01},
                     "10^6 points", noise=0.05, seed=2)
    t = time.perf_counter()
    inv = curve_invariants(raw.q, raw.I, raw.dI)
    assert time.perf_counter() - t < 3.0 and inv.q_dip == pytest.approx(4.49 / 60, rel=0.1)
    t = time.perf_counter()
    v = verify_candidates(raw, ["sphere", "cylinder", "ellipsoid"], [0.5, 0.3, 0.2], workers=2)
    elapsed = time.perf_counter() - t
    assert elapsed < 30.0
    sphere = next(c for c in v.candidates if c.model == "sphere")
    assert sphere.n_points <= 500 and any("averaged into" in n for n in v.notes)
    assert sphere.within_noise and sphere.parameters["radius"] == pytest.approx(60, rel=0.02)


@pytest.mark.slow
def test_concurrent_runs_with_a_cold_kernel_cache_compile_safely(example_1d, tmp_path):
    """Two `sasnets-suggest --verify` runs meeting an empty kernel cache: every fit
    failed and 3 of 4 processes printed a traceback at exit. Now the compile lock
    serialises the builds: every fit works and nothing is printed at exit."""
    cache = tmp_path / "compiled_models"
    env = {**os.environ, "SAS_DLL_PATH": str(cache)}
    command = [sys.executable, "-m", "sasnets_plugin.cli", "--json", "--verify", "--top", "3",
               str(example_1d / "sphere_80.txt"), str(example_1d / "cyl_400_20.txt")]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err and "RuntimeError" not in err, err[-3000:]
        for result in json.loads(out):
            assert all(isinstance(s["fit"], dict) for s in result["suggestions"]), result
            assert not result["no_fit"]
    assert (cache / LOCK_FILE).exists()
    first, second = (json.loads(out) for out, _ in outputs)
    for a, b in zip(first, second):  # same answer from both runs (seconds aside)
        assert [v["model"] for v in a["verified"]] == [v["model"] for v in b["verified"]]
        assert [v["chi2r"] for v in a["verified"]] == [v["chi2r"] for v in b["verified"]]


@pytest.mark.slow
def test_cli_batch_on_a_dask_cluster_matches_the_local_pool(example_1d):
    """`sasnets-suggest --verify FILES... --scheduler ADDRESS` fits on the cluster and
    gives the same answer as the local worker processes."""
    from sasnets_plugin.cluster import connect

    files = [str(example_1d / "sphere_80.txt"), str(example_1d / "cyl_400_20.txt")]
    command = [sys.executable, "-m", "sasnets_plugin.cli", "--json", "--verify", "--top", "3"]
    local = subprocess.run(command + files, capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    with connect(None, workers=2) as client:
        address = client.scheduler.address
        remote = subprocess.run(command + ["--scheduler", address] + files,
                                capture_output=True, text=True, timeout=600)
    assert remote.returncode == 0, remote.stderr[-3000:]
    for a, b in zip(json.loads(local.stdout), json.loads(remote.stdout)):
        assert [(v["model"], v["chi2r"]) for v in a["verified"]] == \
            [(v["model"], v["chi2r"]) for v in b["verified"]]


def test_scheduler_without_verify_is_refused(example_1d, capsys):
    from sasnets_plugin.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--scheduler", "tcp://127.0.0.1:9", str(example_1d / "sphere_80.txt")])
    assert stop.value.code == 2 and "--scheduler needs --verify" in capsys.readouterr().err


def test_the_gui_reads_no_fit_and_best_chi2r():
    v = verify_candidates(_sphere_curve(), ["power_law"], [1.0], workers=1, rescue=False)
    assert v.no_fit is True and v.best_chi2r == v.candidates[0].chi2r > NOISE_CHI2R
    assert "No model fits within the noise" in v.message


def test_pool_workers_run_one_blas_thread_each():
    """The pool runs one fit per core; BLAS threads on top would oversubscribe them."""
    from threadpoolctl import threadpool_info

    from sasnets_plugin.verification.verify import _get_pool

    info = _get_pool(1).executor.submit(threadpool_info).result(timeout=120)
    blas = [lib for lib in info if lib["user_api"] == "blas"]
    assert len(blas) >= 2 and all(lib["num_threads"] == 1 for lib in blas)  # numpy's, scipy's
