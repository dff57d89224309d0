"""The fit of one candidate model as the rest of the plugin sees it, and its verdict.

A fit is *within the noise* when ``chi2r <= NOISE_CHI2R``; it *plausibly failed* when it
did not converge, ended with a parameter at a bound, or was cut by its budget
(:attr:`CandidateFit.plausibly_failed`): the re-ranking treats the two kinds differently
(:mod:`.verify`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .parameters import within_sld_limits

#: A fit whose reduced chi2 is at most this is *within the noise*: residuals at most
#: sqrt(2) times the stated errors on average. File uncertainties are commonly off by
#: that much: the documented models of the labelled real files fit at chi2r 0.66-2.04
#: (``benchmarks/real_data/README.md``).
NOISE_CHI2R = 2.0
#: What each stop reason of a :class:`~.evaluation.Budget` means in a result's ``cut``
#: (cancellation is a failure instead).
CUT = {"work": "work budget", "time": "safety cap", "evaluations": "evaluation limit"}


@dataclass(frozen=True)
class CandidateFit:
    """The fit of one candidate model (plus, once re-ranked, its combined score).

    ``status`` is ``"ok"`` or ``"fit failed: <reason>"``. For failures the numbers
    are ``nan`` and ``parameters`` is empty. ``parameters`` holds the fitted (varied)
    values, ``fixed`` the values held at something other than the model default (e.g.
    ``scale = 1`` for models with their own amplitudes); every other parameter is at its
    sasmodels default with no polydispersity. ``at_bounds`` names the fitted parameters
    that ended at a bound, ``cut`` says what stopped the fit early ("" when nothing did,
    else a :data:`CUT` value); ``rescue`` marks a candidate fitted because none of the
    network's top candidates fitted within the noise (:mod:`.verify`).
    """

    model: str
    status: str
    chi2: float = math.nan
    chi2r: float = math.nan
    aic: float = math.nan
    bic: float = math.nan
    n_points: int = 0
    n_free: int = 0
    parameters: dict = field(default_factory=dict)
    uncertainties: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    q: np.ndarray | None = None
    I_fit: np.ndarray | None = None
    n_starts: int = 0
    n_screened: int = 0
    n_evaluations: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the process that fitted it (load-independent)
    converged: bool = False
    notes: tuple[str, ...] = ()
    at_bounds: tuple[str, ...] = ()
    cut: str = ""
    rescue: bool = False
    # filled in by verify.rerank
    probability: float = math.nan
    posterior: float = math.nan
    network_rank: int = 0
    verified_rank: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def within_noise(self) -> bool:
        """The fit describes the data as well as their errors allow (chi2r <= NOISE_CHI2R)."""
        return self.ok and self.chi2r <= NOISE_CHI2R

    @property
    def plausibly_failed(self) -> bool:
        """The fit may not have found the model's best point: not converged, a parameter
        at a bound, or cut by a budget (a converged, clean fit is evidence)."""
        return self.ok and (not self.converged or bool(self.at_bounds) or bool(self.cut))

    @property
    def verdict(self) -> str:
        """One line for the user: how far this fit can be trusted."""
        if not self.ok:
            return self.status
        if self.within_noise:
            return "fits within the noise"
        why = (f"cut by the {self.cut}" if self.cut else
               f"{', '.join(self.at_bounds)} at a bound" if self.at_bounds else
               "not converged" if not self.converged else "")
        return f"poor fit (chi2r {self.chi2r:.3g})" + (f"; may have failed: {why}" if why else "")

    def start_values(self) -> dict[str, float]:
        """Fitted and fixed values: a complete start point for a SasView fit."""
        return within_sld_limits(self.model, {**self.fixed, **self.parameters})

    def fit_json(self) -> dict | str:
        """``{"chi2r", "aic", "bic", "parameters", ...}`` for a fit, the status string
        for a failure."""
        if not self.ok:
            return self.status
        return {
            "chi2r": json_float(self.chi2r),
            "aic": json_float(self.aic),
            "bic": json_float(self.bic),
            "parameters": {k: json_float(v) for k, v in self.parameters.items()},
            "uncertainties": {k: json_float(v) for k, v in self.uncertainties.items()},
            "fixed": {k: json_float(v) for k, v in self.fixed.items()},
            "n_points": self.n_points,
            "n_free": self.n_free,
            "converged": self.converged,
            "within_noise": self.within_noise,
            "at_bounds": list(self.at_bounds),
            "cut": self.cut,
            "verdict": self.verdict,
            "posterior": json_float(self.posterior),
            "verified_rank": self.verified_rank,
            "notes": list(self.notes),
        }


def json_float(x) -> float | None:
    """``x`` as a float, or None (JSON null) when it is NaN or infinite."""
    x = float(x)
    return x if math.isfinite(x) else None


def failed(model: str, reason: str, **extra) -> CandidateFit:
    """A failed fit: status ``"fit failed: <reason>"``, no numbers."""
    return CandidateFit(model=model, status=f"fit failed: {reason}", **extra)
