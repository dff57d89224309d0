"""Fits that find the optimum: dense size scans, multistart, polydispersity, contrasts,
counts, staged products, start values (real sasmodels + bumps on simulated and sasdata
example curves)."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from sasnets_plugin.loading import RawCurve, load_1d
from sasnets_plugin.verification import (
    curve_invariants,
    fit_model,
    prepare_data,
    setup_for,
    start_values,
)
from sasnets_plugin.verification.starts import SCAN_PER_PERIOD, scan_grid

TRUE_RADIUS = 60.0


def _simulated(model: str, q, pars: dict, title: str, noise=0.02, seed=1, dQ=None,
               with_dI=True) -> RawCurve:
    """A sasmodels curve of ``model`` at ``q`` (smeared by pinhole ``dQ`` if given) with
    gaussian relative noise ``noise``."""
    from sasmodels.core import load_model
    from sasmodels.data import Data1D
    from sasmodels.direct_model import DirectModel

    data = Data1D(x=q, y=np.ones_like(q), dx=dQ, dy=np.ones_like(q))
    clean = np.asarray(DirectModel(data, load_model(model))(**pars), float)
    dI = noise * clean
    I = clean + dI * np.random.default_rng(seed).standard_normal(q.size)  # noqa: E741
    return RawCurve(title, q, I, dI if with_dI else None, dQ)


def _sphere_curve(pd=0.0, noise=0.02) -> RawCurve:
    return _simulated("sphere", np.geomspace(0.005, 0.4, 100),
                      {"radius": TRUE_RADIUS, "radius_pd": pd, "radius_pd_n": 35,
                       "scale": 0.01, "background": 0.002}, "synthetic sphere", noise=noise)


# --- the dense scan of the main size -------------------------------------------------------
def test_scan_steps_follow_the_oscillation_period():
    """Steps of 1/SCAN_PER_PERIOD of chi2's period 2 pi / (q size) in ln(size): finer for
    larger sizes and wider windows; a wide resolution smears fine periods out, sparse
    points alias them."""
    grid = scan_grid(100.0, 2000.0, 0.5, 0.0)
    steps = np.diff(np.log(grid))[:-1]
    expected = 2 * math.pi / (0.5 * grid[:-2]) / SCAN_PER_PERIOD
    np.testing.assert_allclose(steps, np.clip(expected, 2e-4, 0.05), rtol=1e-9)
    assert steps[-1] < 0.01  # size 2000 at q_max 0.5: 0.17 % steps
    smeared = np.diff(np.log(scan_grid(100.0, 2000.0, 0.5, 0.15)))
    assert smeared.min() > 5 * steps.min()
    # 100 points over two decades sample oscillations up to q size = pi / 0.046 only
    spacing = np.log(100) / 99
    grid = scan_grid(100.0, 2000.0, 0.5, 0.0, spacing)
    sampled = np.diff(np.log(grid))[:-1][grid[:-2] > np.pi / (spacing * 0.5)]
    assert sampled.size > 100 and sampled == pytest.approx(2 * spacing / SCAN_PER_PERIOD)


def test_monodisperse_sphere_on_many_points_with_narrow_dq_reaches_its_optimum():
    """A large monodisperse sphere, 400 points, 1 % dQ/Q: chi2(R) has hundreds of sharp
    basins; the scan must land in the true one (chi2r ~ 1 with 1 % noise)."""
    q = np.geomspace(0.002, 0.3, 400)
    raw = _simulated("sphere", q, {"radius": 830.0, "scale": 0.01, "background": 0.001},
                     "large sphere", noise=0.01, dQ=0.01 * q, seed=7)
    data, _ = prepare_data(raw)
    fit = fit_model("sphere", data)
    assert fit.parameters["radius"] == pytest.approx(830.0, rel=0.002)
    assert fit.within_noise, fit.chi2r


def test_cyl_400_20_multistart_avoids_the_length_300_local_minimum(example_1d):
    data, _ = prepare_data(load_1d(example_1d / "cyl_400_20.txt")[0])
    fit = fit_model("cylinder", data)
    assert fit.ok, fit.status
    assert fit.parameters["radius"] == pytest.approx(20.0, rel=0.02)
    assert fit.parameters["length"] == pytest.approx(400.0, rel=0.03)
    assert fit.n_starts >= 1 and fit.n_screened > 10  # screened many, refined the best


def test_cyl_400_40_length_is_scanned_out_of_its_local_minimum(example_1d):
    """The main-size scan finds the radius (40 Å); from there LM kept the length at 207 Å
    (chi2r 14); the length's own scan finds the file's 400 Å."""
    data, _ = prepare_data(load_1d(example_1d / "cyl_400_40.txt")[0])
    fit = fit_model("cylinder", data)
    assert fit.parameters["length"] == pytest.approx(400.0, rel=1e-3)
    assert fit.parameters["radius"] == pytest.approx(40.0, rel=1e-3) and fit.chi2r < 1e-3


def test_slit_smeared_sphere_is_fitted(example_1d):
    slit, _ = prepare_data(load_1d(example_1d / "1umSlitSmearSphere.ABS")[0])
    assert slit.resolution == "slit" and np.allclose(slit.slit_length, 0.117)
    fit = fit_model("sphere", slit)
    assert fit.ok and fit.parameters["radius"] == pytest.approx(5000, rel=0.02)
    assert fit.chi2r < 2


# --- polydispersity, contrasts, counts, amplitudes --------------------------------------------
def test_polydispersity_of_the_main_size_is_fitted():
    data, _ = prepare_data(_sphere_curve(pd=0.15))
    fit = fit_model("sphere", data, deadline=time.time() + 20)
    assert fit.ok and fit.chi2r < 2.0
    assert fit.parameters["radius"] == pytest.approx(TRUE_RADIUS, rel=0.03)
    assert fit.parameters["radius_pd"] == pytest.approx(0.15, abs=0.03)
    assert fit.fixed["radius_pd_n"] > 1


def test_a_monodisperse_curve_keeps_a_zero_width():
    data, _ = prepare_data(_sphere_curve())
    fit = fit_model("sphere", data)
    assert fit.parameters["radius"] == pytest.approx(TRUE_RADIUS, rel=0.01)
    assert fit.parameters["radius_pd"] < 0.05 and 0.5 < fit.chi2r < 2.0
    assert fit.n_free == 4  # radius, its width, scale, background


def test_contrast_ratio_of_core_shell_particles_is_fitted():
    """A shell with contrast opposite to the core's changes the curve's shape, not only its
    scale: the fit must vary the relative contrast (held at the defaults, chi2r ~ 10^3)."""
    raw = _simulated("core_shell_sphere", np.geomspace(0.004, 0.35, 120),
                     {"radius": 50.0, "thickness": 15.0, "sld_core": 6.0, "sld_shell": 1.0,
                      "sld_solvent": 3.0, "scale": 0.01, "background": 0.001},
                     "core-shell, opposite contrasts", seed=3)
    data, _ = prepare_data(raw)
    fit = fit_model("core_shell_sphere", data, deadline=time.time() + 20)
    assert fit.ok and fit.chi2r < 2.0, (fit.status, fit.chi2r)
    # relative contrast: solvent 0, core 1, shell (1 - 3) / (6 - 3)
    assert fit.fixed["sld_solvent"] == 0.0 and fit.fixed["sld_core"] == 1.0
    assert fit.parameters["sld_shell"] == pytest.approx(-2 / 3, abs=0.05)
    assert fit.parameters["radius"] == pytest.approx(50.0, rel=0.05)
    assert fit.parameters["thickness"] == pytest.approx(15.0, rel=0.1)


def test_background_driven_to_zero_by_lm_is_recovered():
    """On this validation curve, LM from the best starts drove the background to 0, where
    its exp map has no gradient left: chi2r 314 although the truth gives 0.9. A run that
    ends with a collapsed amplitude is restarted from re-solved amplitudes."""
    raw = load_1d(Path(__file__).parent / "data" / "hardsphere_validation_curve.txt")[0]
    data, _ = prepare_data(raw)
    fit = fit_model("hardsphere", data, deadline=time.time() + 20)
    assert fit.ok and fit.chi2r < 1.5, (fit.status, fit.chi2r)
    assert fit.parameters["radius_effective"] == pytest.approx(35.94, rel=0.02)
    assert fit.parameters["volfraction"] == pytest.approx(0.429, rel=0.03)


def test_integer_counts_are_searched():
    """Nlayers = 14 is none of the tried choices (3, 5, 8, 13, 20...): the integer
    search after the refinement must find it; the count is held, not LM-fitted."""
    raw = _simulated("lamellar_stack_caille", np.geomspace(0.005, 0.3, 150),
                     {"thickness": 30.0, "d_spacing": 120.0, "Nlayers": 14,
                      "Caille_parameter": 0.08, "scale": 0.01, "background": 0.001},
                     "stack of 14 bilayers", seed=4)
    data, _ = prepare_data(raw)
    fit = fit_model("lamellar_stack_caille", data, deadline=time.time() + 20)
    assert fit.ok and fit.chi2r < 2.0, (fit.status, fit.chi2r)
    assert fit.parameters["Nlayers"] == 14
    assert fit.parameters["d_spacing"] == pytest.approx(120.0, rel=0.03)
    assert "Nlayers" in fit.parameters and "Nlayers" not in fit.uncertainties


# --- products in stages -----------------------------------------------------------------------
def test_products_are_fitted_in_stages():
    """sphere@hardsphere: the form alone first where S(q) ≈ 1, then the structure factor
    from the correlation peak, then all together; the radius of S(q) comes from the form."""
    q = np.geomspace(0.005, 0.4, 150)
    raw = _simulated("sphere@hardsphere", q,
                     {"radius": 40.0, "volfraction": 0.3, "radius_effective_mode": 1,
                      "scale": 0.3, "background": 0.001}, "concentrated spheres", seed=5)
    data, _ = prepare_data(raw)
    assert curve_invariants(data.q, data.I).q_corr is not None  # the correlation peak
    fit = fit_model("sphere@hardsphere", data)
    assert fit.ok and fit.within_noise, (fit.status, fit.chi2r)
    assert any(note.startswith("form sphere fitted alone") for note in fit.notes)
    assert fit.parameters["radius"] == pytest.approx(40.0, rel=0.03)
    assert fit.parameters["volfraction"] == pytest.approx(0.3, abs=0.05)
    assert fit.fixed["radius_effective_mode"] == 1 and "radius_effective" not in fit.parameters


# --- start values for SasView ----------------------------------------------------------------
def test_start_values_are_deterministic_and_close(example_1d):
    raw = load_1d(example_1d / "cyl_400_20.txt")[0]
    first = start_values("cylinder", raw.q, raw.I)
    assert first == start_values("cylinder", raw.q, raw.I)
    assert {"radius", "length", "scale", "background"} <= set(first)
    assert first["radius"] == pytest.approx(20, rel=0.3)
    sphere = _sphere_curve()
    assert start_values("sphere", sphere.q, sphere.I)["radius"] == pytest.approx(
        TRUE_RADIUS, rel=0.02)  # the scan places it
    with pytest.raises(ValueError):
        start_values("no_such_model", raw.q, raw.I)


def test_start_values_of_slit_data_use_the_slit(example_1d):
    """Without its slit the 1 um sphere's USANS curve looks like a far smaller particle."""
    raw = load_1d(example_1d / "1umSlitSmearSphere.ABS")[0]
    values = start_values("sphere", raw.q, raw.I, raw.dI, slit_length=raw.dQl)
    assert values["radius"] == pytest.approx(5000, rel=0.05)
    setup = setup_for("sphere", raw.q.min(), raw.q.max())
    assert set(setup.shape) <= set(values)
