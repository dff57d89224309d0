"""What a verified candidate's fit reports: recovered parameters, the information
criteria, and the values SasView starts from (fits themselves: test_fit_*.py; the rest
of the verification: test_verification_*.py)."""
from __future__ import annotations

import numpy as np
import pytest

from sasnets_plugin.verification import shutdown_pool
from verification_cases import (  # noqa: F401 - fixtures
    TRUE_RADIUS,
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


def test_fitted_parameters_serve_as_start_values(sphere_verification):
    sphere = sphere_verification.best
    assert sphere.start_values()["radius"] == sphere.parameters["radius"]
    wrong = next(c for c in sphere_verification.candidates if c.model == "power_law")
    assert wrong.start_values() == wrong.parameters  # no fixed overrides for power_law
