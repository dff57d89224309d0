"""Fit verification: fit the network's top-k models to the data, then re-rank.

The network's probability is a prior; this subpackage supplies the evidence. Each
candidate model is fitted to the user's curve with sasmodels + bumps (SasView's own
engine), honouring the data's resolution, from several starting points derived from
curve invariants plus seeded random draws, within a budget counted in work (so a busy
machine gives the same answer) (:mod:`.fitting`). The goodness of fit (reduced chi²,
BIC) is combined with the network probability into a posterior, and among the models
the data cannot tell apart the simplest is the answer (:mod:`.rerank`). When none of the
candidates fits within the noise, more models are fitted (:mod:`.rescue`), and the
result says plainly when still nothing fits (``Verification.no_fit``). Fits run in this
process, a worker pool or on Dask (:mod:`.engines`); :mod:`.verify` orchestrates.

The data are prepared once (:func:`.data.fit_data` of the cleaned curve the network
reads: ``sasnets_plugin.suggestion.prepare(raw).data``); callers starting from a network
ranking use the pipeline ``sasnets_plugin.suggestion.verify`` / ``verify_rankings``.

Public API::

    verify_candidates(data, models, probabilities=None, *, reserve=(), n_classes=None,
                      title="data", workers=None, client=None, max_seconds=60.0,
                      work=DEFAULT_WORK, cancel=None, n_starts=6, seed=0, rescue=True,
                      progress=None) -> Verification
    verify_many([Request(data, models, probabilities, reserve, n_classes, title), ...],
                ...) -> [Verification, ...]
    start_values(model_name, q, I, dI=None, *, dQ=None, slit_length=None,
                 slit_width=None, n_random=16, seed=0) -> dict
    fit_model(model, data: FitData, ...) -> CandidateFit      # one model
    prepare_data(raw) -> (FitData, CleaningReport)   # raw: loading.RawCurve
    fit_data(curve) -> FitData                       # curve: cleaning.Curve
    rerank(fits, probabilities, ...) -> Ranked
    warm_up(workers=None, models=());  shutdown_pool()
    setup_for(model, q_min, q_max) -> Setup     # which parameters are fitted, and bounds

No Qt here: safe to call from a worker thread of the GUI.
"""
from .data import FitData, fit_data, make_fit_data, prepare_data
from .engines import shutdown_pool, warm_up
from .fit_result import NOISE_CHI2R, CandidateFit
from .fitting import DEFAULT_WORK, fit_model
from .start_values import start_values
from .invariants import Invariants, curve_invariants
from .parameters import Setup, setup_for
from .rerank import Ranked, rerank
from .result import Verification, VerificationCancelled
from .verify import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_N_STARTS,
    Request,
    verify_candidates,
    verify_many,
)

__all__ = [
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_N_STARTS",
    "DEFAULT_WORK",
    "NOISE_CHI2R",
    "CandidateFit",
    "FitData",
    "Invariants",
    "Ranked",
    "Request",
    "Setup",
    "Verification",
    "VerificationCancelled",
    "curve_invariants",
    "fit_data",
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
