"""Curves, fits and rankings the verification tests share: simulated curves with real
sasmodels kernels, the shipped network's ranking of a curve, hand-made fit results for
the re-ranking rule, a busy machine."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from sasnets_plugin.loading import RawCurve
from sasnets_plugin.verification import CandidateFit, FitData, prepare_data, verify_candidates


def data_of(raw: RawCurve) -> FitData:
    """``raw`` prepared as every entry point prepares it (cleaned once)."""
    return prepare_data(raw)[0]


TRUE_RADIUS = 60.0


def simulated(model: str, q, pars: dict, title: str, noise=0.02, seed=1,
               with_dI=True) -> RawCurve:
    """A sasmodels curve of ``model`` at ``q`` with gaussian relative noise ``noise``."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    clean = call_kernel(load_model(model).make_kernel([q]), pars)
    dI = noise * clean
    I = clean + dI * np.random.default_rng(seed).standard_normal(q.size)  # noqa: E741
    return RawCurve(title, q, I, dI if with_dI else None, None)


def sphere_curve(n=100, noise=0.02, seed=1, with_dI=True, pd=0.0) -> RawCurve:
    return simulated("sphere", np.geomspace(0.005, 0.4, n),
                      {"radius": TRUE_RADIUS, "radius_pd": pd, "radius_pd_n": 35,
                       "scale": 0.01, "background": 0.002},
                      "synthetic sphere", noise=noise, seed=seed, with_dI=with_dI)


@pytest.fixture(scope="module")
def sphere_raw() -> RawCurve:
    return sphere_curve()


@pytest.fixture(scope="module")
def sphere_verification(sphere_raw):
    # network prefers a wrong model: cylinder 0.5, true sphere 0.3, power_law 0.2
    return verify_candidates(data_of(sphere_raw), ["cylinder", "sphere", "power_law"], [0.5, 0.3, 0.2],
                             workers=1)


def network_top(raw: RawCurve, top: int = 5):
    """The shipped network's top ``top`` (models, probabilities) and the rest (reserve)."""
    from sasnets_plugin.suggestion import get_classifier, prepare, rank

    ranking = rank(get_classifier(), [prepare(raw)])[0]
    models, probabilities = zip(*ranking.top(top))
    return list(models), list(probabilities), ranking.top(None)[top:]


#: Models whose curves cannot have a large sphere's Guinier knee and Porod tail.
UNLIKE_A_SPHERE = ("gaussian_peak", "line", "peak_lorentz", "lamellar", "teubner_strey")


def preferring(raw: RawCurve, first):
    """A ranking as if the network preferred ``first`` (probabilities 0.9 shared, halving),
    with the network's own ranking of the other models as reserve: where a test needs
    candidates that do not fit, whatever the shipped network ranks first."""
    weights = 0.5 ** np.arange(len(first))
    models, probabilities, rest = network_top(raw, top=1)
    reserve = [(m, p) for m, p in [*zip(models, probabilities), *rest] if m not in first]
    return list(first), list(0.9 * weights / weights.sum()), reserve


def network_verification(raw: RawCurve, top: int = 5, **options):
    models, probabilities, reserve = network_top(raw, top)
    return verify_candidates(data_of(raw), models, probabilities, reserve=reserve, **options)


def fake_fit(model, chi2r, bic, converged=True, **extra) -> CandidateFit:
    return CandidateFit(model=model, status="ok", chi2r=chi2r, bic=bic, converged=converged,
                        **extra)


def noise_curve() -> RawCurve:
    """Pure noise: a flat level scattered by 30 % with error bars of 5 % (no model can
    describe it; every chi2r is far above 1)."""
    q = np.geomspace(0.005, 0.3, 120)
    rng = np.random.default_rng(7)
    I = np.exp(0.3 * rng.standard_normal(q.size))  # noqa: E741
    return RawCurve("pure noise", q, I, 0.05 * I, None)


def fits_signature(v) -> list:
    """Everything an answer consists of: the verified order and every number of every fit."""
    return [(c.model, c.status, c.chi2, c.verified_rank, c.posterior,
             tuple(sorted(c.parameters.items()))) for c in v.ranked]


@contextlib.contextmanager
def busy_cpu():
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
