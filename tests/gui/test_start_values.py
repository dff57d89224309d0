"""Qt-free parts: fit plans (start values and ticked parameters come from the
verification package), ranking outcomes, the verification job, import hygiene."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from sasnets_plugin.gui import fitting_bridge as fb
from sasnets_plugin.loading import load_1d
from sasnets_plugin.verification import CandidateFit, VerificationCancelled, fit_model, prepare_data
from sasnets_plugin.verification.parameters import count_names, setup_for


@pytest.fixture(scope="module")
def cylinder_raw(example_1d):
    return load_1d(example_1d / "cyl_400_20.txt")[0]


@pytest.fixture(scope="module")
def cylinder_data(cylinder_raw):
    """The curve as the plugin prepares it once (what plan_fit is given)."""
    return prepare_data(cylinder_raw)[0]


def test_quick_plan_uses_the_verification_start_values(cylinder_data):
    plan = fb.plan_fit("cylinder", cylinder_data)
    assert plan.model == "cylinder" and plan.source == fb.FROM_START_VALUES
    # The screened starts find the right basin (a length of 300 is a local minimum).
    assert plan.values["length"] == pytest.approx(400, rel=0.05)
    assert plan.values["radius"] == pytest.approx(20, rel=0.05)
    assert plan.values["scale"] > 0 and plan.values["background"] >= 0
    assert set(plan.fit) == {"scale", "background", "radius", "length"}


@pytest.mark.parametrize("model", ["cylinder", "vesicle", "broad_peak", "multilayer_vesicle",
                                   "hardsphere", "power_law"])
def test_ticked_parameters_are_the_verification_free_parameters(cylinder_data, model):
    data = cylinder_data
    # SasView's polydispersity tab is not planned; integer counts keep their value, unticked
    expected = [name for name in setup_for(model, data.q[0], data.q[-1]).free_names()
                if not name.endswith("_pd") and name not in count_names(model)]
    assert list(fb.free_parameters(model, data.q[0], data.q[-1])) == expected
    plan = fb.plan_fit(model, cylinder_data)
    assert list(plan.fit) == expected
    assert set(plan.fit) <= set(plan.values)
    assert not {"sld", "sld_solvent", "theta", "phi", "n_shells"} & set(plan.fit)


def test_models_with_own_amplitudes_hold_scale(cylinder_data):
    plan = fb.plan_fit("broad_peak", cylinder_data)
    assert {"porod_scale", "peak_scale"} <= set(plan.fit)
    assert "scale" not in plan.fit and plan.values["scale"] == 1.0


def test_verified_plan_starts_from_the_fitted_values(cylinder_raw):
    data, _ = prepare_data(cylinder_raw)
    fit = fit_model("cylinder", data, n_starts=2)
    assert fit.ok, fit.status
    plan = fb.plan_from_fit(fit)
    assert plan.source == fb.FROM_VERIFIED_FIT
    # the main parameter table: SasView's polydispersity tab is not planned
    assert plan.values == {k: v for k, v in fit.start_values().items() if "_pd" not in k}
    assert plan.fit == tuple(k for k in fit.parameters if not k.endswith("_pd"))
    assert "radius_pd" in fit.parameters and "radius_pd" not in plan.fit
    assert plan.values["length"] == pytest.approx(400, rel=1e-3)
    with pytest.raises(fb.PlanningError, match="failed"):
        fb.plan_from_fit(CandidateFit(model="cylinder", status="fit failed: cancelled"))


def test_unknown_model_is_a_planning_error(cylinder_data):
    with pytest.raises(fb.PlanningError, match="no_such_model"):
        fb.plan_fit("no_such_model", cylinder_data)


@pytest.mark.parametrize("value, lo, hi, inside", [
    (0.8, 0.0, 0.8, 0.7992),          # lamellar_hg_stack_caille's Caille_parameter at its max
    (0.0, 0.0, math.inf, 1e-3),       # scale on its lower limit: 0.1 % of the default (1)
    (-5.0, 0.0, 0.74, 0.00074),       # beyond a finite limit: 0.1 % of the range inside
    (0.7999999, 0.0, 0.8, 0.7992),    # inside, but typed as "0.8": moved too
    (250.0, 1e-6, 200.0, 199.8),      # hayter_msa's charge above its max
])
def test_start_text_lies_strictly_inside_the_limits(value, lo, hi, inside):
    text = fb.start_text(value, lo, hi)
    assert lo < float(text) < hi
    assert float(text) == pytest.approx(inside, rel=1e-3)
    assert fb.start_text(0.25, 0.0, 0.8) == "0.25"  # inside: typed as it is


def test_a_value_that_rounds_onto_its_limit_is_moved_inside():
    # a fit that ends 5e-12 above poly_gauss_coil's polydispersity limit of 1 is typed
    # as "1": it is moved inside from that side (it was typed "nan")
    assert fb.start_text(1.0000000000048, 1.0, math.inf, default=2.0) == "1.002"
    assert fb.start_text(0.9999999999991, -math.inf, 1.0, default=0.5) == "0.9995"


def test_start_text_open_range_uses_the_model_default():
    # correlation_length's porod_scale (default 1e-6) at 0: a thousandth of the default
    assert float(fb.start_text(0.0, 0.0, math.inf, default=1e-6)) == pytest.approx(1e-9)
    assert float(fb.start_text(0.0, -math.inf, 0.0, default=2.0)) == pytest.approx(-2e-3)


def test_product_plan_has_form_and_structure_factor(cylinder_data):
    plan = fb.plan_fit("cylinder@hayter_msa", cylinder_data)
    form = fb.plan_fit("cylinder", cylinder_data)
    assert plan.model == "cylinder@hayter_msa" and plan.source == fb.FROM_START_VALUES
    # the form's start values and ticks, the S(q)'s volume fraction and charge ticked too
    assert {k: plan.values[k] for k in form.values} == form.values
    assert plan.fit == form.fit + ("volfraction", "charge")
    assert plan.values["volfraction"] == pytest.approx(0.0192)  # sasmodels' default
    assert "radius_effective" not in plan.values  # follows the form in SasView
    with pytest.raises(fb.PlanningError, match="not a structure factor"):
        fb.plan_fit("cylinder@sphere", cylinder_data)


def test_bad_curves_get_messages_without_the_network():
    # Every curve unusable: nothing reaches the network (no TensorFlow import needed).
    from sasnets_plugin.gui.tasks import suggest_all
    from sasnets_plugin.loading import RawCurve

    q = np.linspace(0.01, 0.2, 30)
    outcomes = suggest_all([(7, RawCurve("neg", q, -np.ones_like(q))),
                            (8, RawCurve("short", q[:3], np.ones(3)))])
    assert [o.key for o in outcomes] == [7, 8]
    assert all(o.ranking is None and o.error for o in outcomes)


def test_cancelled_verification_job_stops_before_fitting(cylinder_raw):
    from sasnets_plugin.gui.tasks import VerifyJob, verify
    from sasnets_plugin.suggestion import Ranking, prepare

    ranking = Ranking(prepare(cylinder_raw), ("sphere", "cylinder"), np.array([0.5, 0.5]))
    job = VerifyJob(0, ranking, ("sphere", "cylinder"))
    job.cancel.set()
    with pytest.raises(VerificationCancelled):
        verify(job)
    assert job.phase == "done" and job.fitting_since is None


def test_importing_the_plugin_loads_no_qt_nor_tensorflow():
    # (the controller, its tasks and the tables are Qt-free too: tested without a window)
    code = ("import sys, sasnets_plugin, sasnets_plugin.gui, sasnets_plugin.gui.fitting_bridge;"
            "import sasnets_plugin.gui.controller, sasnets_plugin.gui.tables;"
            "sasnets_plugin.register();"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'tensorflow', 'keras')"
            " or m.startswith('sas.qtgui')];"
            "print(bad); sys.exit(bool(bad))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_choices_and_counts_are_whole_numbers_on_their_limits():
    """Issue 25 defect 1: structure_factor_mode = 0 (P·S) was typed as 0.001, which
    sasmodels reads as the β approximation. Choices and counts are exact, limits valid."""
    choices, counts = fb.whole_number_parameters("cylinder@hayter_msa")
    assert {"structure_factor_mode", "radius_effective_mode"} <= choices
    assert "Nlayers" in fb.whole_number_parameters("lamellar_stack_caille")[1]
    assert "n_shells" in fb.whole_number_parameters("onion")[1]  # sets a vector's length
    assert "case_num" in fb.whole_number_parameters("rpa")[0]
    assert fb.whole_number_text(0.0, 0.0, 1.0) == "0"  # on its limit, not nudged
    assert fb.whole_number_text(1.0, 0.0, 7.0) == "1"  # int("1", 0) reads it back
    assert fb.whole_number_text(7.4, 0.0, 7.0) == "7"
    assert fb.whole_number_text(0.2, 1.0, math.inf) == "1"
