"""What the fits vary and from where: each model's fit setup, its guesses from the curve
invariants, relative contrasts."""
from __future__ import annotations

import numpy as np
import pytest
from sasmodels.core import load_model
from sasmodels.direct_model import call_kernel

from sasnets_plugin import models
from sasnets_plugin.models.spec import CONTRAST_BOUNDS
from sasnets_plugin.verification import curve_invariants, setup_for
from sasnets_plugin.verification.parameters import within_sld_limits
from sasnets_plugin.verification.starts import guessed_starts

TRUE_RADIUS = 60.0


class _Curve:
    """A noiseless sphere of radius TRUE_RADIUS (scale 0.01, background 0.002)."""

    q = np.geomspace(0.005, 0.4, 100)
    I = call_kernel(load_model("sphere").make_kernel([q]),  # noqa: E741
                    {"radius": TRUE_RADIUS, "scale": 0.01, "background": 0.002})


def test_fit_specifications_are_consistent():
    raw = _Curve
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


def test_invariants_of_a_sphere():
    raw = _Curve
    inv = curve_invariants(raw.q, raw.I)
    assert inv.rg == pytest.approx(np.sqrt(3 / 5) * TRUE_RADIUS, rel=0.1)
    assert inv.q_dip == pytest.approx(4.493 / TRUE_RADIUS, rel=0.1)
    assert inv.radii()[0] == pytest.approx(TRUE_RADIUS, rel=0.1)
    assert inv.slope_low > -0.5 and inv.slope_high < -1.5
    assert inv.background == pytest.approx(0.002, rel=0.2)
    assert inv.noise < 0.005


def test_the_main_size_is_the_polydisperse_one_else_the_first_size():
    assert setup_for("sphere", 1e-3, 0.3).main_size == "radius"
    assert setup_for("cylinder", 1e-3, 0.3).main_size == "radius"
    assert setup_for("sphere@hardsphere", 1e-3, 0.3).main_size == "radius"
    assert setup_for("power_law", 1e-3, 0.3).main_size is None


def test_the_network_estimate_is_the_first_start_and_brings_the_fit_to_it():
    """An estimate near the truth is screened first (clipped into the bounds) and the fit
    from it ends at the true radius."""
    from sasnets_plugin.verification import fit_model
    from sasnets_plugin.verification.data import fit_data
    from sasnets_plugin.cleaning import clean_curve

    raw = _Curve
    setup = setup_for("cylinder", raw.q[0], raw.q[-1])
    inv = curve_invariants(raw.q, raw.I)
    first = guessed_starts(setup, inv, {"radius": 61.0, "length": 1e9, "radius_pd": 0.1})[0]
    assert first["radius"] == 61.0 and first["length"] == setup.shape["length"][1]
    assert guessed_starts(setup, inv)[0] != first  # without it, the invariants' guess leads
    curve, _ = clean_curve(raw.q, raw.I, 0.01 * raw.I)
    fit = fit_model("sphere", fit_data(curve), estimate={"radius": 59.0, "radius_pd": 0.0},
                    n_random=0, n_starts=1)
    assert fit.parameters["radius"] == pytest.approx(TRUE_RADIUS, rel=1e-4)
