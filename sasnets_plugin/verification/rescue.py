"""More candidates when none of the network's fits within the noise.

Two stages: first (:func:`rescue_singles`) the network's next :data:`RESCUE_NEXT` ranks
(from the rest of its ranking, ``reserve``, which every entry point passes) and one
representative of every family of the network's confusion dendrogram
(:data:`RESCUE_FAMILIES`); then, if still none fits and the curve rises to a correlation
peak (:attr:`.invariants.Invariants.q_corr`), products ``form@structure`` of the
best-fitting forms with every structure factor SasView offers (:func:`rescue_products`).

A rescue candidate's prior is the network's probability of it: from the ranking when the
network ranks it (a v3 network ranks 171 entries, products included), otherwise the
probability mass the caller did not pass spread evenly over the network's other classes
(``n_classes``), and for a product the network does not rank its form's prior shared by
the structure factors.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..models import DEFAULT_MODELS
from ..models.products import STRUCTURES, combinable
from .fit_result import CandidateFit

#: Rescue: the network's next ranks fitted when none of the candidates fits (often
#: slow relatives of the candidates that did not fit: a few only).
RESCUE_NEXT = 3
#: Rescue: one fast representative of every family of the network's confusion
#: dendrogram (``model_weights/confusion_dendrogram.png``): spheres, core-shell
#: particles, vesicles, rods, ellipsoids, worm-like chains, sheets, power laws, Guinier
#: and Porod regimes, coils, peaks, fractals, microemulsions.
RESCUE_FAMILIES = ("sphere", "core_shell_sphere", "vesicle", "cylinder", "ellipsoid",
                   "flexible_cylinder", "lamellar", "power_law", "guinier_porod",
                   "mono_gauss_coil", "broad_peak", "mass_fractal", "teubner_strey")
#: Rescue with a correlation peak: products of this many forms (the best-fitting
#: forms that define an effective radius, then these) with every structure factor.
PRODUCT_FORMS = 2
PRODUCT_FALLBACK_FORMS = ("sphere", "ellipsoid")
#: Rescue candidates are many and only have to show that they fit: each gets this share
#: of the work budget, this many LM runs and random starts (instead of the defaults).
RESCUE_WORK_SHARE = 0.5
RESCUE_STARTS = 3
RESCUE_RANDOM_STARTS = 24


@dataclass(frozen=True)
class Candidate:
    """A model to fit for one file: its prior, its rank in the network's ranking (0 when
    the network does not rank it) and whether it is a rescue candidate."""

    model: str
    probability: float
    network_rank: int
    rescue: bool = False


@dataclass(frozen=True)
class Priors:
    """What the network said of every model the caller passed: probability and rank,
    and how many classes it ranks (for the models it was not asked about)."""

    known: dict[str, float]
    rank_of: dict[str, int]
    n_classes: int

    @classmethod
    def of(cls, tried: Sequence[Candidate], reserve: Sequence[tuple[str, float]],
           n_classes: int | None) -> "Priors":
        known = {c.model: c.probability for c in tried if c.network_rank}
        known.update((m, p) for m, p in reserve)
        rank_of = {c.model: c.network_rank for c in tried if c.network_rank}
        taken = set(rank_of.values())
        free = (r for r in range(1, len(known) + len(tried) + 2) if r not in taken)
        # the reserve is the ranking without the candidates: it fills the other ranks
        rank_of.update((m, next(free)) for m, _ in reserve if m not in rank_of)
        return cls(known, rank_of, len(DEFAULT_MODELS) if n_classes is None else n_classes)

    def probability(self, model: str) -> float:
        """The network's probability of ``model``; for a model not passed, the mass not
        passed spread evenly over the classes not passed."""
        if model in self.known:
            return self.known[model]
        unseen = max(1, self.n_classes - len(self.known))
        return max(0.0, 1.0 - sum(self.known.values())) / unseen

    def candidate(self, model: str) -> Candidate:
        return Candidate(model, self.probability(model), self.rank_of.get(model, 0),
                         rescue=True)


def rescue_singles(tried: Sequence[Candidate], reserve: Sequence[tuple[str, float]],
                   n_classes: int | None = None) -> list[Candidate]:
    """First rescue stage (module docstring): the next network ranks from ``reserve``
    (the ranking after the tried candidates, as ``(model, probability)``) and the family
    representatives, those already tried left out. ``n_classes``: how many classes the
    network ranks (default: the project's single models)."""
    priors = Priors.of(tried, reserve, n_classes)
    seen = {c.model for c in tried}
    names = [m for m, _ in reserve if m not in seen][:RESCUE_NEXT]
    names += [m for m in RESCUE_FAMILIES if m not in seen and m not in names]
    return [priors.candidate(m) for m in names]


def rescue_products(tried: Sequence[Candidate], fits: Sequence[CandidateFit],
                    reserve: Sequence[tuple[str, float]],
                    n_classes: int | None = None) -> list[Candidate]:
    """Second rescue stage, for a curve with a correlation peak: every structure factor
    times the :data:`PRODUCT_FORMS` best-fitting forms that define an effective radius
    (by BIC among ``fits``, then :data:`PRODUCT_FALLBACK_FORMS`)."""
    priors = Priors.of(tried, reserve, n_classes)
    seen = {c.model for c in tried}
    fitted = sorted((f for f in fits if f.ok and "@" not in f.model and combinable(f.model)),
                    key=lambda f: f.bic)
    forms = list(dict.fromkeys([f.model for f in fitted] + list(PRODUCT_FALLBACK_FORMS)))
    out = []
    for form in forms[:PRODUCT_FORMS]:
        for structure in STRUCTURES:
            name = f"{form}@{structure}"
            if name in seen:
                continue
            candidate = priors.candidate(name)
            if name not in priors.known:  # a network without products: the form's share
                candidate = Candidate(name, priors.probability(form) / len(STRUCTURES), 0,
                                      rescue=True)
            out.append(candidate)
    return out
