"""Fit verification: fit the network's top-k models to the data, then re-rank.

The network's probability is a prior; this subpackage supplies the evidence. Each
candidate model is fitted to the user's curve with sasmodels + bumps (SasView's own
engine), honouring the data's resolution, from several starting points derived from
curve invariants plus seeded random draws; the goodness of fit (reduced chi², AIC, BIC)
is combined with the network probability into a posterior (see :mod:`.verify`; the
probability that a fit failed, ``FIT_FAILURE_RATE``, which bounds what a bad fit costs,
is calibrated on validation curves).

Public API::

    verify_candidates(raw, models, probabilities, *, workers=None, max_seconds=9.0,
                      cancel=None, n_starts=6, seed=0, slit_length=None,
                      slit_width=None, progress=None) -> Verification
    start_values(model_name, q, I, dI=None, *, dQ=None, n_random=16, seed=0) -> dict
    fit_model(model, data: FitData, ...) -> CandidateFit      # one model
    prepare_data(raw) -> (FitData, CleaningReport)   # raw: loading.RawCurve (slit included)
    warm_up(workers=None, models=());  shutdown_pool()
    setup_for(model, q_min, q_max) -> Setup     # which parameters are fitted, and bounds

No Qt here: safe to call from a worker thread of the GUI.
"""
from .data import FitData, make_fit_data, prepare_data
from .fitting import CandidateFit, fit_model, start_values
from .invariants import Invariants, curve_invariants
from .parameters import Setup, setup_for
from .verify import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_N_STARTS,
    Verification,
    VerificationCancelled,
    rerank,
    shutdown_pool,
    verify_candidates,
    warm_up,
)

__all__ = [
    "CandidateFit",
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_N_STARTS",
    "FitData",
    "Invariants",
    "Verification",
    "VerificationCancelled",
    "curve_invariants",
    "fit_model",
    "make_fit_data",
    "prepare_data",
    "rerank",
    "Setup",
    "setup_for",
    "shutdown_pool",
    "start_values",
    "verify_candidates",
    "warm_up",
]
