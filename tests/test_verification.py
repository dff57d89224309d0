"""Fitting one model with real sasmodels + bumps: parameters recovered, starts, costs,
smearing, invariants (the verification's other parts: test_verification_*.py)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from sasnets_plugin import models
from sasnets_plugin.loading import RawCurve, load_1d
from sasnets_plugin.models.spec import CONTRAST_BOUNDS
from sasnets_plugin.verification import (
    curve_invariants,
    fit_model,
    make_fit_data,
    prepare_data,
    shutdown_pool,
    start_values,
)
from sasnets_plugin.verification import fitting as fitting_module
from sasnets_plugin.verification.parameters import setup_for, within_sld_limits
from verification_cases import (  # noqa: F401 - fixtures
    TRUE_RADIUS,
    simulated,
    sphere_curve,
    sphere_raw,
    sphere_verification,
)


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


def test_cyl_400_20_multistart_avoids_the_length_300_local_minimum(example_1d):
    raw = load_1d(example_1d / "cyl_400_20.txt")[0]
    data, _ = prepare_data(raw)
    fit = fit_model("cylinder", data)
    assert fit.ok, fit.status
    assert fit.parameters["radius"] == pytest.approx(20.0, rel=0.02)
    assert fit.parameters["length"] == pytest.approx(400.0, rel=0.03)
    assert fit.n_starts >= 1 and fit.n_screened > 10  # screened many, refined the best

    # a single Levenberg-Marquardt run from length 300 stays in the local minimum
    setup = setup_for("cylinder", data.q[0], data.q[-1])
    evaluate = fitting_module._Evaluator(fitting_module.kernel_model("cylinder"), data,
                                         lambda cost, expected: None,
                                         fitting_module.EvalCost.of("cylinder", setup))
    problem = fitting_module._Problem(setup, evaluate, fitting_module._Best())
    _, _, single = fitting_module._lm(problem, {"radius": 20.0, "length": 300.0, "scale": 1.0,
                                                "background": 0.001}, 200)
    assert single["length"] < 350
    assert problem.best.chi2 > 100 * fit.chi2


def test_evaluation_cost_counts_the_resolution_product():
    # a long smeared curve spends much of each evaluation in the resolution matrix product:
    # the work budget counts it, so such fits are not cut only by the wall-clock cap
    q = np.geomspace(0.005, 0.4, 500)
    plain = sphere_curve(n=500)
    smeared = RawCurve("smeared", q, plain.I, plain.dI, 0.05 * q)
    setup = setup_for("sphere", q[0], q[-1])
    costs = {}
    for name, raw in (("plain", plain), ("smeared", smeared)):
        data, _ = prepare_data(raw)
        ev = fitting_module._Evaluator(fitting_module.kernel_model("sphere"), data,
                                       lambda cost, expected: None,
                                       fitting_module.EvalCost.of("sphere", setup))
        kernel_only = fitting_module.EvalCost.of("sphere", setup)(setup.defaults, ev.q_calc)
        costs[name] = ev.cost(setup.defaults) - kernel_only, ev.q_calc.size * data.n
    assert costs["plain"][0] == 0.0
    extra, entries = costs["smeared"]
    assert entries > 500 * 500
    assert extra == pytest.approx(1e-3 * fitting_module.RESOLUTION_NS_PER_ENTRY * entries)
    assert extra > fitting_module.EVAL_OVERHEAD_US / 2  # as large as the fixed overhead


def test_nan_producing_model_fails_cleanly(sphere_raw, monkeypatch):
    class NanEvaluator(fitting_module._Evaluator):
        def __call__(self, values):
            return np.full(self.data.n, np.nan)

    monkeypatch.setattr(fitting_module, "_Evaluator", NanEvaluator)
    data, _ = prepare_data(sphere_raw)
    fit = fit_model("sphere", data)
    assert fit.status.startswith("fit failed:") and "NaN" in fit.status


def test_start_values_are_deterministic_and_close(example_1d):
    raw = load_1d(example_1d / "cyl_400_20.txt")[0]
    first = start_values("cylinder", raw.q, raw.I)
    assert first == start_values("cylinder", raw.q, raw.I)
    assert {"radius", "length", "scale", "background"} <= set(first)
    assert first["radius"] == pytest.approx(20, rel=0.3)
    q = np.geomspace(0.005, 0.4, 100)
    sphere = start_values("sphere", q, sphere_curve().I[: q.size])
    assert sphere["radius"] == pytest.approx(TRUE_RADIUS, rel=0.1)
    with pytest.raises(ValueError):
        start_values("no_such_model", raw.q, raw.I)


def test_fitted_parameters_serve_as_start_values(sphere_verification):
    sphere = sphere_verification.best
    assert sphere.start_values()["radius"] == sphere.parameters["radius"]
    wrong = next(c for c in sphere_verification.candidates if c.model == "power_law")
    assert wrong.start_values() == wrong.parameters  # no fixed overrides for power_law


def test_fit_specifications_are_consistent():
    from sasnets_plugin.verification.fitting import guessed_starts

    raw = sphere_curve(noise=0.0)
    inv = curve_invariants(raw.q, raw.I)
    for name in models.names():
        setup = setup_for(name, raw.q[0], raw.q[-1])
        assert set(setup.shape) == set(models.get(name).fit.free), name  # none dropped
        if setup.pd is not None:  # polydispersity of a fitted size, counted in n_free
            assert setup.pd[:-3] in setup.shape and setup.fixed[setup.pd + "_n"] > 1
            assert setup.with_pd().n_free == setup.n_free == len(setup.free_names())
        for start in guessed_starts(setup, inv):
            assert set(start) == set(setup.shape), name
            for key, value in start.items():
                lo, hi = setup.shape[key]
                assert lo <= value <= hi, (name, key)


def test_polydispersity_of_the_main_size_is_fitted():
    data, _ = prepare_data(sphere_curve(pd=0.15))
    fit = fit_model("sphere", data, deadline=time.time() + 20)
    assert fit.ok and fit.chi2r < 2.0
    assert fit.parameters["radius"] == pytest.approx(TRUE_RADIUS, rel=0.03)
    assert fit.parameters["radius_pd"] == pytest.approx(0.15, abs=0.03)
    assert fit.fixed["radius_pd_n"] > 1


def test_contrast_ratio_of_core_shell_particles_is_fitted():
    """A shell with contrast opposite to the core's changes the curve's shape, not only its
    scale: the fit must vary the relative contrast (held at the defaults, chi2r ~ 10^3)."""
    raw = simulated("core_shell_sphere", np.geomspace(0.004, 0.35, 120),
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


def test_relative_contrasts_ignore_the_models_sld_limits():
    """polymer_micelle's SLDs are limited to >= 0 by sasmodels, but a relative contrast is
    negative whenever the solvent lies between core and corona (it was clipped to 0, and
    such validation curves fitted at chi2r ~ 200 instead of ~ 1)."""
    multi = [name for name in models.names() if models.get(name).fit.contrasts]
    assert "polymer_micelle" in multi and len(multi) == 13
    for model in multi:
        setup = setup_for(model, 1e-3, 0.3)
        fitted = models.get(model).fit.contrasts.fitted
        assert all(setup.shape[name] == CONTRAST_BOUNDS for name in fitted), model
    # ... and the values handed to SasView are shifted back inside its SLD limits
    fitted = {"sld_solvent": 0.0, "sld_core": 1.0, "sld_corona": -0.2, "rg": 20.0}
    shifted = within_sld_limits("polymer_micelle", fitted)
    assert shifted == pytest.approx({"sld_solvent": 0.2, "sld_core": 1.2, "sld_corona": 0.0,
                                     "rg": 20.0})
    assert within_sld_limits("core_shell_sphere", {"sld_shell": -0.5}) == {"sld_shell": -0.5}


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
    raw = simulated("lamellar_stack_caille", np.geomspace(0.005, 0.3, 150),
                     {"thickness": 30.0, "d_spacing": 120.0, "Nlayers": 14,
                      "Caille_parameter": 0.08, "scale": 0.01, "background": 0.001},
                     "stack of 14 bilayers", seed=4)
    data, _ = prepare_data(raw)
    fit = fit_model("lamellar_stack_caille", data, deadline=time.time() + 20)
    assert fit.ok and fit.chi2r < 2.0, (fit.status, fit.chi2r)
    assert fit.parameters["Nlayers"] == 14
    assert fit.parameters["d_spacing"] == pytest.approx(120.0, rel=0.03)
    assert "Nlayers" in fit.parameters and "Nlayers" not in fit.uncertainties


def _gauss_smeared_porod(q, dq, points=4001):
    """Reference pinhole smearing of q^-4 by direct quadrature over +-3.5 sigma."""
    out = np.empty_like(q)
    for i, (qi, si) in enumerate(zip(q, dq)):
        x = np.linspace(qi - 3.5 * si, qi + 3.5 * si, points)
        w = np.exp(-0.5 * ((x - qi) / si) ** 2)
        out[i] = np.trapezoid(w * x ** -4.0, x) / np.trapezoid(w, x)
    return out


def test_log_grid_smearing_stays_finite_for_very_narrow_resolution():
    q = np.geomspace(0.001, 0.5, 50)
    res = fitting_module.pinhole_on_log_grid(q, 0.002 * q)  # grid step >> dQ
    with np.errstate(all="raise"):
        smeared = res.apply(res.q_calc ** -2.0)
    np.testing.assert_allclose(smeared, q ** -2.0, rtol=5e-3)


@pytest.mark.parametrize("spacing", ["linear", "log"])
def test_pinhole_smearing_of_steep_curves_matches_quadrature(spacing):
    q = (np.linspace(0.003, 0.2, 120) if spacing == "linear"
         else np.geomspace(0.003, 0.2, 120))
    dq = 0.05 * q
    I = 1e-6 * _gauss_smeared_porod(q, dq) + 0.01  # noqa: E741
    data = make_fit_data(q, I, 0.01 * I, dQ=dq)
    fit = fit_model("porod", data)
    # noiseless data with 1 % error bars: only the smearing can leave misfit
    # (sasmodels' default grid, the data's own q, gives chi2r 1.0 on the linear one)
    assert fit.ok and fit.chi2r < 0.1, fit.chi2r
    assert fit.parameters["scale"] == pytest.approx(1e-6, rel=0.02)


def test_invariants_of_a_sphere():
    raw = sphere_curve(noise=0.0)
    inv = curve_invariants(raw.q, raw.I)
    assert inv.rg == pytest.approx(np.sqrt(3 / 5) * TRUE_RADIUS, rel=0.1)
    assert inv.q_dip == pytest.approx(4.493 / TRUE_RADIUS, rel=0.1)
    assert inv.radii()[0] == pytest.approx(TRUE_RADIUS, rel=0.1)
    assert inv.slope_low > -0.5 and inv.slope_high < -1.5
    assert inv.background == pytest.approx(0.002, rel=0.2)
    assert inv.noise < 0.005


def test_products_are_fitted_like_single_models():
    """sphere@hardsphere: the structure factor's radius comes from the form, its volume
    fraction is fitted; the result reads like any other fit."""
    q = np.geomspace(0.005, 0.4, 150)
    raw = simulated("sphere@hardsphere", q,
                     {"radius": 40.0, "volfraction": 0.3, "radius_effective_mode": 1,
                      "scale": 0.3, "background": 0.001}, "concentrated spheres", seed=5)
    data, _ = prepare_data(raw)
    fit = fit_model("sphere@hardsphere", data)
    assert fit.ok and fit.within_noise, (fit.status, fit.chi2r)
    assert fit.parameters["radius"] == pytest.approx(40.0, rel=0.03)
    assert fit.parameters["volfraction"] == pytest.approx(0.3, abs=0.05)
    assert fit.fixed["radius_effective_mode"] == 1 and "radius_effective" not in fit.parameters
    assert curve_invariants(data.q, data.I).q_corr is not None  # the correlation peak

