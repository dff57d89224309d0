"""Model evaluations of the fits: SasView's smearing and chi2, the work budget's counting."""
from __future__ import annotations

import math

import numpy as np
import pytest

from sasnets_plugin.kernels import kernel_model
from sasnets_plugin.loading import RawCurve, load_1d
from sasnets_plugin.verification import fit_model, prepare_data, setup_for
from sasnets_plugin.verification import fitting as fitting_module
from sasnets_plugin.verification.evaluation import (
    EVAL_OVERHEAD_US,
    RESOLUTION_NS_PER_ENTRY,
    Budget,
    EvalCost,
    Evaluator,
    Stop,
)


def _sasview_data(path):
    """The file as SasView's Fitting sees it: sasdata's loader, the fit range set."""
    from sasdata.dataloader.loader import Loader

    data = Loader().load(str(path))[0]
    data.qmin, data.qmax = float(data.x.min()), float(data.x.max())
    return data


def _sasview_theory(model: str, data, values: dict) -> np.ndarray:
    """sasmodels' DirectModel on sasdata's Data1D: the smearing SasView's fits build from
    the data's dx (pinhole) or dxl/dxw (slit)."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import DirectModel

    return np.asarray(DirectModel(data, load_model(model))(**values), float)


@pytest.mark.parametrize("name, model", [("100nmPinholeSphere.txt", "sphere"),
                                         ("1umSlitSmearSphere.ABS", "sphere"),
                                         ("cyl_400_20.txt", "cylinder")])
def test_fit_theory_and_chi2_are_sasviews(example_1d, name, model):
    """Same data, same parameters: the fit's curve is sasmodels' own for the Data1D that
    sasdata loads (pinhole dQ, slit length, none), and so is its chi2 with the fit's
    weights: what SasView shows after the hand-off."""
    raw = load_1d(example_1d / name)[0]
    data, _ = prepare_data(raw)
    fit = fit_model(model, data, work=3e5)
    assert fit.ok, fit.status
    sasview = _sasview_data(example_1d / name)
    assert sasview.x.size == data.n and np.allclose(sasview.x, data.q)
    theory = _sasview_theory(model, sasview, {**fit.fixed, **fit.parameters})
    np.testing.assert_allclose(fit.I_fit, theory, rtol=1e-9)
    r = (theory - sasview.y) / data.sigma
    assert fit.chi2 == pytest.approx(float(r @ r), rel=1e-9)


def test_documented_100nm_sphere_is_reached(example_1d):
    """The file's header: sphere R = 500 Å, scale 0.01, SLDs 4.2 / 6.4, background 0,
    15 % dQ/Q, monodisperse. The fit must find that optimum (it ended at R = 501.3 Å,
    chi2r 31.7 before the dense scan and SasView's smearing) and fit at least as well."""
    path = example_1d / "100nmPinholeSphere.txt"
    data, _ = prepare_data(load_1d(path)[0])
    fit = fit_model("sphere", data)
    documented = _sasview_theory("sphere", _sasview_data(path),
                                 {"radius": 500.0, "scale": 0.01, "sld": 4.2,
                                  "sld_solvent": 6.4, "background": 0.0})
    r = (documented - data.I) / data.sigma
    assert fit.parameters["radius"] == pytest.approx(500.0, rel=0.002)
    assert fit.chi2 <= float(r @ r)
    assert fit.chi2r < 2.5


def test_evaluation_cost_counts_the_resolution_product():
    """A long smeared curve spends much of each evaluation in the resolution matrix
    product: the work budget counts it, so such fits are not cut only by the wall clock."""
    q = np.geomspace(0.005, 0.4, 500)
    I = 1e3 / (1 + (60 * q) ** 4)  # noqa: E741
    setup = setup_for("sphere", q[0], q[-1])
    costs = {}
    for name, dq in (("plain", None), ("smeared", 0.05 * q)):
        data, _ = prepare_data(RawCurve(name, q, I, 0.01 * I, dq))
        ev = Evaluator(kernel_model("sphere"), data, None, EvalCost.of("sphere", setup))
        kernel_only = EvalCost.of("sphere", setup)(setup.defaults, ev.q_calc)
        costs[name] = ev.cost(setup.defaults) - kernel_only, ev.q_calc.size * data.n
    assert costs["plain"][0] == 0.0
    extra, entries = costs["smeared"]
    assert entries >= 500 * 500
    assert extra == pytest.approx(1e-3 * RESOLUTION_NS_PER_ENTRY * entries)
    assert extra > 0.4 * EVAL_OVERHEAD_US  # comparable with the fixed overhead


def test_budget_stops_at_its_work_and_evaluation_limits():
    budget = Budget(work=10.0, max_evaluations=3)
    budget.charge(4.0, 0.0)
    assert budget.mark(0.5) == pytest.approx(7.0)  # half of the 6 left
    with pytest.raises(Stop) as stop:
        budget.charge(7.0, 0.0)
    assert stop.value.reason == "work" and budget.spent == 4.0
    budget.charge(1.0, 0.0)
    budget.charge(1.0, 0.0)
    with pytest.raises(Stop) as stop:
        budget.charge(1.0, 0.0)
    assert stop.value.reason == "evaluations" and budget.evaluations == 3
    with pytest.raises(Stop) as stop:
        Budget(abort=lambda: True).charge(1.0, 0.0)
    assert stop.value.reason == "cancelled"
    assert Budget().left() == math.inf


def test_a_fit_reports_its_cut_and_best_point_when_the_work_runs_out(example_1d):
    data, _ = prepare_data(load_1d(example_1d / "cyl_400_20.txt")[0])
    fit = fit_model("cylinder", data, work=3e3)  # about ten evaluations
    assert fit.ok and fit.cut == "work budget" and not fit.converged
    assert any("stopped at the work budget" in note for note in fit.notes)


def test_nan_producing_model_fails_cleanly(monkeypatch):
    class NanEvaluator(Evaluator):
        def __call__(self, values):
            return np.full(self.data.n, np.nan)

    monkeypatch.setattr(fitting_module, "Evaluator", NanEvaluator)
    q = np.geomspace(0.005, 0.4, 80)
    data, _ = prepare_data(RawCurve("sphere", q, 1 / (1 + (60 * q) ** 4), None, None))
    fit = fit_model("sphere", data)
    assert fit.status.startswith("fit failed:") and "NaN" in fit.status
