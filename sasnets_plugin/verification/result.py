"""What a verification returns: every fit with its scores, the verified order, the
models that fit equally well, and a plain sentence for the user."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SasnetsError
from .fit_result import NOISE_CHI2R, CandidateFit, json_float
from .rerank import failure_cause


class VerificationCancelled(SasnetsError):
    """The verification was cancelled; ``partial`` holds the fits already completed."""

    def __init__(self, partial: list[CandidateFit]):
        super().__init__("Fit verification cancelled.")
        self.partial = partial


@dataclass(frozen=True)
class Verification:
    """Fits of the candidates with the combined scores.

    ``candidates`` keep the order they were given in (network order), followed by the
    rescue candidates (``rescue=True``) when none of those fitted within the noise;
    ``ranked`` is the verified order (:mod:`.rerank`: the models that fit equally well,
    simplest first, then the others by posterior, failures last); its first is the
    answer, handed to SasView. ``indistinguishable``: the models the data cannot tell
    apart, the chosen one first; ``reasons``: ``(model, why)`` where a model's rank goes
    against its numbers (:meth:`reason`). ``no_fit`` / ``best_chi2r`` / ``message`` say
    whether anything fits (the GUI reads these names).
    """

    candidates: tuple[CandidateFit, ...]
    weighting: str
    resolution: str
    temperature: float
    seconds: float
    workers: int
    dI_estimated: bool
    notes: tuple[str, ...] = ()
    rescued: bool = False
    indistinguishable: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def ranked(self) -> tuple[CandidateFit, ...]:
        return tuple(sorted(self.candidates, key=lambda c: c.verified_rank))

    @property
    def network_order(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.candidates if not c.rescue)

    @property
    def verified_order(self) -> tuple[str, ...]:
        return tuple(c.model for c in self.ranked)

    @property
    def best(self) -> CandidateFit | None:
        """The answer: the first of the verified order, when its fit succeeded."""
        top = self.ranked[0] if self.candidates else None
        return top if top is not None and top.ok else None

    @property
    def no_fit(self) -> bool:
        """No candidate fits within the noise (``chi2r <= NOISE_CHI2R``)."""
        return not any(c.within_noise for c in self.candidates)

    @property
    def best_chi2r(self) -> float:
        """The smallest reduced chi² of any candidate (NaN when every fit failed)."""
        return min((c.chi2r for c in self.candidates if c.ok), default=math.nan)

    def reason(self, model: str) -> str:
        """Why ``model`` ranks where it does against the numbers beside it ("" when its
        rank follows them)."""
        return next((why for m, why in self.reasons if m == model), "")

    @property
    def equally_good(self) -> str:
        """"These fit the data equally well; the simplest is X." ("" for fewer than two)."""
        if len(self.indistinguishable) < 2:
            return ""
        from ..models.products import display_name

        names = ", ".join(display_name(m) for m in self.indistinguishable)
        return (f"These fit the data equally well: {names}; the simplest is "
                f"{display_name(self.indistinguishable[0])}.")

    @property
    def message(self) -> str:
        """A sentence for the user: what fits, or that nothing does."""
        n_top = len(self.network_order)
        n_more = len(self.candidates) - n_top
        if not any(c.ok for c in self.candidates):
            return f"No fit: every one of the {len(self.candidates)} models failed to fit."
        best = self.best or min((c for c in self.candidates if c.ok), key=lambda c: c.chi2r)
        group = f" {self.equally_good}" if self.equally_good else ""
        if self.no_fit:
            return (f"No model fits within the noise (chi2r <= {NOISE_CHI2R:g}): of the "
                    f"{len(self.candidates)} models fitted, the answer is {best.model} "
                    f"(chi2r = {best.chi2r:.3g}; the smallest is {self.best_chi2r:.3g}). "
                    "The right model may be none of them, or the uncertainties in the file "
                    f"may be too small.{group}")
        if self.rescued:
            return (f"None of the network's top {n_top} fits within the noise; of "
                    f"{n_more} more models fitted, {best.model} does "
                    f"(chi2r = {best.chi2r:.3g}).{group}")
        return f"{best.model} fits within the noise (chi2r = {best.chi2r:.3g}).{group}"

    def to_json(self, include_curves: bool = False) -> dict:
        """JSON-ready summary; each candidate's ``"fit"`` is :meth:`CandidateFit.fit_json`
        (a dict, or the status string for a failure), ``"may_have_failed"`` says why its
        fit may have failed ("" when it plausibly did not) and ``"rank_reason"`` why its
        rank goes against its numbers. ``include_curves`` adds the cleaned ``q`` and each
        fit's ``I_fit``."""
        out = {
            "weighting": self.weighting,
            "dI_estimated": self.dI_estimated,
            "resolution": self.resolution,
            "temperature": self.temperature,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
            "notes": list(self.notes),
            "no_fit": self.no_fit,
            "best_chi2r": json_float(self.best_chi2r),
            "noise_chi2r": NOISE_CHI2R,
            "rescued": self.rescued,
            "message": self.message,
            "indistinguishable": list(self.indistinguishable),
            "network_order": list(self.network_order),
            "verified_order": list(self.verified_order),
            "candidates": [
                {"model": c.model, "probability": json_float(c.probability),
                 "posterior": json_float(c.posterior), "network_rank": c.network_rank,
                 "verified_rank": c.verified_rank, "rescue": c.rescue, "status": c.status,
                 "verdict": c.verdict, "may_have_failed": failure_cause(c),
                 "rank_reason": self.reason(c.model), "fit": c.fit_json()}
                for c in self.candidates
            ],
        }
        if include_curves:
            q = next((c.q for c in self.candidates if c.q is not None), None)
            out["q"] = None if q is None else [float(x) for x in q]
            for entry, c in zip(out["candidates"], self.candidates):
                entry["I_fit"] = None if c.I_fit is None else [float(x) for x in c.I_fit]
        return out
