"""The verified-accuracy benchmark scores other answer rules from its recorded fits (no
refitting): the posterior alone and NIST AutoSAS's parsimony under a chi2r cutoff."""
import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_verified_accuracy", ROOT / "benchmarks" / "bench_verified_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fit(model, chi2r, n_free, posterior, probability=0.3, n=100):
    """A fit as the benchmark records it (fit_record)."""
    chi2 = chi2r * (n - n_free)
    return {"model": model, "status": "ok", "chi2": chi2, "chi2r": chi2r,
            "bic": chi2 + n_free * math.log(n), "n_points": n, "n_free": n_free,
            "posterior": posterior, "probability": probability, "converged": True,
            "at_bounds": [], "cut": "", "within_noise": chi2r <= 2}


def test_autosas_posterior_and_shipped_answers_are_scored_from_recorded_fits(bench):
    # a sphere curve: the flexible model fits a little better and has the posterior
    row = {"true_model": "sphere", "network_rank": 2,
           "network_top": [["core_shell_sphere", 0.6], ["sphere", 0.3]],
           "verified_top": ["sphere", "core_shell_sphere"],
           "fits": [_fit("core_shell_sphere", 0.95, 6, 0.9, 0.6), _fit("sphere", 1.05, 4, 0.1),
                    _fit("power_law", 40.0, 3, 0.0, 0.1)]}
    row["true_fit"] = row["fits"][1]
    assert bench.autosas_choice(row, 1.0) == "core_shell_sphere"  # the only one under 1.0
    assert bench.autosas_choice(row, 2.0) == "sphere"  # fewest parameters under 2
    assert bench.autosas_choice({"fits": [_fit("a", 5.0, 2, 0.5), _fit("b", 3.0, 9, 0.5)]},
                                1.0) == "b"  # none under the cutoff: the smallest chi2r
    assert bench.posterior_choice(row) == "core_shell_sphere"
    rules = bench.answer_rules([row])
    assert rules["n"] == 1
    assert rules["shipped"] == {"exact": 1, "exact_or_equivalent": 1}
    assert rules["posterior_only"] == {"exact": 0, "exact_or_equivalent": 1}
    assert rules["network"]["exact"] == 0
    assert rules["autosas_chi2r_1"]["exact"] == 0 and rules["autosas_chi2r_2"]["exact"] == 1
