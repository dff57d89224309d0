"""Qt-free parts: start values, parameters to fit, ranking outcomes, import hygiene."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sasnets_plugin.gui import fitting_bridge as fb
from sasnets_plugin.loading import load_1d
from sasnets_plugin.suggestion import prepare


@pytest.fixture(scope="module")
def cylinder_curve(example_1d):
    return prepare(load_1d(example_1d / "cyl_400_20.txt")[0]).curve


@pytest.fixture(scope="module")
def sphere_curve(example_1d):
    return prepare(load_1d(example_1d / "sphere_80.txt")[0]).curve


def test_guinier_radius_of_sphere(sphere_curve):
    rg = fb.guinier_radius(sphere_curve.q, sphere_curve.I)
    assert rg == pytest.approx(np.sqrt(3 / 5) * 80, rel=0.05)


def test_no_guinier_region_means_none(cylinder_curve):
    # q_min = 0.025 1/Å is beyond the Guinier region of a 400 Å cylinder (Rg ≈ 116 Å)
    assert fb.guinier_radius(cylinder_curve.q, cylinder_curve.I) is None


def test_model_guinier_radius_matches_theory():
    assert fb.model_guinier_radius("sphere", {"radius": 50.0}) == pytest.approx(
        np.sqrt(3 / 5) * 50, rel=1e-3)
    assert fb.model_guinier_radius("power_law") is None
    assert fb.model_guinier_radius("lamellar") is None  # no plateau at low q


def test_start_values_find_the_sizes(cylinder_curve, sphere_curve):
    cylinder = fb.start_values("cylinder", cylinder_curve.q, cylinder_curve.I)
    assert cylinder["length"] == pytest.approx(400, rel=0.1)
    assert cylinder["radius"] == pytest.approx(20, rel=0.1)
    assert cylinder["scale"] > 0 and cylinder["background"] >= 0
    sphere = fb.start_values("sphere", sphere_curve.q, sphere_curve.I)
    assert sphere["radius"] == pytest.approx(80, rel=0.05)


def test_power_law_exponent_from_slope():
    q = np.geomspace(0.01, 0.3, 50)
    values = fb.start_values("power_law", q, 3e-4 * q ** -3.2)
    assert values["power"] == pytest.approx(3.2, abs=0.05)
    assert values["scale"] == pytest.approx(3e-4, rel=0.05)


def test_parameters_to_fit_skip_slds_angles_and_degenerate(cylinder_curve):
    q = cylinder_curve.q
    cylinder = fb.parameters_to_fit("cylinder", q, {})
    assert cylinder[:2] == ["scale", "background"]
    assert {"radius", "length"} <= set(cylinder)
    assert not {"sld", "sld_solvent", "theta", "phi"} & set(cylinder)
    # volfraction only multiplies the vesicle curve: degenerate with scale
    assert "volfraction" not in fb.parameters_to_fit("vesicle", q, {})
    # broad_peak's two amplitudes and scale: one of the three is redundant
    peak = fb.parameters_to_fit("broad_peak", q, {})
    assert len({"scale", "porod_scale", "peak_scale"} & set(peak)) == 2
    assert "n_shells" not in fb.parameters_to_fit("multilayer_vesicle", q, {})


def test_plan_fit_is_one_call(sphere_curve):
    plan = fb.plan_fit("sphere", sphere_curve.q, sphere_curve.I)
    assert plan.model == "sphere"
    assert set(plan.fit) == {"scale", "background", "radius"}
    assert set(plan.fit) <= set(plan.values) | {"background"}


def test_fit_result_chi2_reads_sasview_payloads():
    class Result:
        fitness = 1.5

    assert fb.fit_result_chi2(([[Result()]], 0.2)) == 1.5
    assert fb.fit_result_chi2(("bumps failed", None)) is None
    assert fb.fit_result_chi2(([None], 0.1)) is None
    assert fb.fit_result_chi2(()) is None


def test_bad_curves_get_messages_without_the_network():
    # Every curve unusable: nothing reaches the network (no TensorFlow import needed).
    from sasnets_plugin.gui.worker import suggest_all
    from sasnets_plugin.loading import RawCurve

    q = np.linspace(0.01, 0.2, 30)
    outcomes = suggest_all([(7, RawCurve("neg", q, -np.ones_like(q))),
                            (8, RawCurve("short", q[:3], np.ones(3)))])
    assert [o.key for o in outcomes] == [7, 8]
    assert all(o.ranking is None and o.error for o in outcomes)


def test_importing_the_plugin_loads_no_qt_nor_tensorflow():
    code = ("import sys, sasnets_plugin, sasnets_plugin.gui, sasnets_plugin.gui.fitting_bridge;"
            "sasnets_plugin.register();"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'tensorflow', 'keras')"
            " or m.startswith('sas.qtgui')];"
            "print(bad); sys.exit(bool(bad))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
