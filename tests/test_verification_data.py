"""The prepared curve the fits read: cleaned once, resolution and weights."""
from __future__ import annotations

import time

import numpy as np
import pytest

from sasnets_plugin.loading import RawCurve, load_1d
from sasnets_plugin.verification import curve_invariants, fit_model, prepare_data, verify_candidates
from verification_cases import TRUE_RADIUS, data_of, simulated, sphere_curve


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


def test_pinhole_and_slit_resolution_are_used(example_1d):
    pin, _ = prepare_data(load_1d(example_1d / "100nmPinholeSphere.txt")[0])
    assert pin.resolution == "pinhole" and np.allclose(pin.dQ / pin.q, 0.15, rtol=0.05)

    raw = load_1d(example_1d / "1umSlitSmearSphere.ABS")[0]
    slit, _ = prepare_data(raw)  # the slit length comes with the loaded curve
    assert slit.resolution == "slit" and np.allclose(slit.slit_length, 0.117)
    assert slit.slit_width is None
    fit = fit_model("sphere", slit)
    assert fit.ok and fit.parameters["radius"] == pytest.approx(5000, rel=0.02)
    assert fit.chi2r < 2


def test_data_without_dI_is_fitted_and_flagged():
    raw = sphere_curve(noise=0.01, seed=3, with_dI=False)
    v = verify_candidates(data_of(raw), ["sphere", "power_law"], [0.5, 0.5], workers=1)
    assert v.dI_estimated
    assert "no dI" in v.weighting
    sphere = v.candidates[0]
    assert sphere.ok
    assert any("no dI" in note for note in sphere.notes)
    assert sphere.parameters["radius"] == pytest.approx(TRUE_RADIUS, rel=0.03)
    assert v.verified_order[0] == "sphere"


def test_a_million_points_are_verified_within_the_bound(tmp_path):
    """A 10^6-point file had not finished after 15 min: long curves are binned, the
    invariants are O(n log n), and one file obeys the same bound as many."""
    q = np.linspace(0.002, 0.5, 1_000_000)
    raw = simulated("sphere", q, {"radius": 60.0, "scale": 0.01, "background": 0.01},
                     "10^6 points", noise=0.05, seed=2)
    t = time.perf_counter()
    inv = curve_invariants(raw.q, raw.I, raw.dI)
    assert time.perf_counter() - t < 3.0 and inv.q_dip == pytest.approx(4.49 / 60, rel=0.1)
    t = time.perf_counter()
    v = verify_candidates(data_of(raw), ["sphere", "cylinder", "ellipsoid"], [0.5, 0.3, 0.2], workers=2)
    elapsed = time.perf_counter() - t
    assert elapsed < 30.0
    sphere = next(c for c in v.candidates if c.model == "sphere")
    assert sphere.n_points <= 500 and any("averaged into" in n for n in v.notes)
    assert sphere.within_noise and sphere.parameters["radius"] == pytest.approx(60, rel=0.02)

