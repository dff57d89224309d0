"""Fit verification: fit the network's top-k models to the data, then re-rank.

The network's probability is a prior; this subpackage supplies the evidence. Each
candidate model is fitted to the user's curve with sasmodels + bumps (SasView's own
engine), honouring the data's resolution, from several starting points derived from
curve invariants plus seeded random draws, within a budget counted in work (so a busy
machine gives the same answer); the goodness of fit (reduced chi², AIC, BIC) is
combined with the network probability into a posterior (see :mod:`.verify`: a fit
within the noise beats a prior; the probability that a fit which may have failed did
fail, ``FIT_FAILURE_RATE``, is calibrated on validation curves). When none of the
candidates fits within the noise, more models are fitted (next network ranks, one per
family, products ``form@structure`` when the curve shows a correlation peak), and the
result says plainly when still nothing fits (``Verification.no_fit``).

Public API::

    verify_candidates(raw, models, probabilities, *, reserve=(), workers=None,
                      client=None, max_seconds=60.0, work=DEFAULT_WORK, cancel=None,
                      n_starts=6, seed=0, rescue=True, slit_length=None,
                      slit_width=None, progress=None) -> Verification
    verify_many([Request(raw, models, probabilities, reserve), ...], ...) -> [Verification | error]
    start_values(model_name, q, I, dI=None, *, dQ=None, slit_length=None,
                 slit_width=None, n_random=16, seed=0) -> dict
    fit_model(model, data: FitData, ...) -> CandidateFit      # one model
    prepare_data(raw) -> (FitData, CleaningReport)   # raw: loading.RawCurve (slit included)
    warm_up(workers=None, models=());  shutdown_pool()
    setup_for(model, q_min, q_max) -> Setup     # which parameters are fitted, and bounds

No Qt here: safe to call from a worker thread of the GUI.
"""
from .data import FitData, make_fit_data, prepare_data
from .fit_result import NOISE_CHI2R, CandidateFit
from .fitting import DEFAULT_WORK, fit_model, start_values
from .invariants import Invariants, curve_invariants
from .parameters import Setup, setup_for
from .verify import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_N_STARTS,
    Request,
    Verification,
    VerificationCancelled,
    rerank,
    shutdown_pool,
    verify_candidates,
    verify_many,
    warm_up,
)

__all__ = [
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_N_STARTS",
    "DEFAULT_WORK",
    "NOISE_CHI2R",
    "CandidateFit",
    "FitData",
    "Invariants",
    "Request",
    "Setup",
    "Verification",
    "VerificationCancelled",
    "curve_invariants",
    "fit_model",
    "make_fit_data",
    "prepare_data",
    "rerank",
    "setup_for",
    "shutdown_pool",
    "start_values",
    "verify_candidates",
    "verify_many",
    "warm_up",
]
