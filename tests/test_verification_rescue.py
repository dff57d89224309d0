"""The rescue: more candidates when none of the network's fits within the noise."""
from __future__ import annotations

import pytest

from sasnets_plugin.loading import load_1d
from sasnets_plugin.verification import verify_candidates
from sasnets_plugin.verification.rescue import (
    RESCUE_FAMILIES,
    Candidate,
    rescue_products,
    rescue_singles,
)
from verification_cases import (
    UNLIKE_A_SPHERE,
    data_of,
    fake_fit,
    network_verification,
    preferring,
)


def test_slit_smeared_spheres_are_found_by_the_rescue(example_1d):
    """The same curve with two candidates that cannot fit it (as v2's top 2, two
    bicelles, could not) and the network's ranking of the rest as reserve: the rescue
    fits one model per family and a sphere-like one that fits within the noise comes
    first."""
    raw = load_1d(example_1d / "1umSlitSmearSphere.ABS")[0]
    models, probabilities, reserve = preferring(raw, UNLIKE_A_SPHERE[:2])
    v = verify_candidates(data_of(raw), models, probabilities, reserve=reserve)
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
    v = network_verification(load_1d(example_1d / "hSDS_D2O_2p0_percent.xml")[0])
    assert not v.no_fit and "@" in v.candidates[0].model
    _assert_charged_micelles_fit(v.best)


@pytest.mark.slow
def test_charged_micelles_are_rescued_with_products(example_1d):
    """The same curve with two candidates that cannot fit it (as v2, which had no
    products, gave single models only): the curve rises to a correlation peak, so the
    rescue fits products, and one that fits within the noise is verified first."""
    raw = load_1d(example_1d / "hSDS_D2O_2p0_percent.xml")[0]
    models, probabilities, reserve = preferring(raw, UNLIKE_A_SPHERE[:2])
    v = verify_candidates(data_of(raw), models, probabilities, reserve=reserve)
    assert v.rescued and not v.no_fit
    assert v.best.rescue
    _assert_charged_micelles_fit(v.best)
    assert not v.candidates[0].within_noise and v.candidates[0].verified_rank > v.best.verified_rank


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
    fits = [fake_fit("lamellar_hg_stack_caille", 533, 7e4), fake_fit("core_shell_cylinder", 9, 900),
            fake_fit("ellipsoid", 5.4, 800), fake_fit("sphere", 20, 2600)]
    products = rescue_products(tried + singles, fits, reserve)
    assert [c.model for c in products[:4]] == [f"ellipsoid@{s}" for s in
                                                ("hardsphere", "stickyhardsphere",
                                                 "squarewell", "hayter_msa")]
    assert {c.model.split("@")[0] for c in products} == {"ellipsoid", "core_shell_cylinder"}
    assert products[0].probability == pytest.approx(0.05 / 4) and products[0].network_rank == 0

