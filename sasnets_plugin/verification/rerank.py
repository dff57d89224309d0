"""The verified order: the network's prior and the fits' evidence, then the answer among
models the data cannot tell apart.

Posterior
---------
The network gives a prior ``p_i`` for candidate ``i``, floored at :data:`PRIOR_FLOOR`
(the network is calibrated on curves like its training data; on others it gives
1e-17 to a model that fits perfectly, and a prior that small is not resolved) and
renormalised over the candidates. The fit gives the evidence: BIC approximates
``-2 ln`` of the marginal likelihood, so ``p(data | model i) ∝ exp(-BIC_i / 2)``.
Because real uncertainties are often under- (or over-) estimated and no candidate is
exactly right, the evidence is *tempered* by ``T = max(1, chi2r_min)``, the smallest
reduced chi² among the candidates that were fitted (if the best model still has
chi2r = 9, the errors are effectively 3x too small and every chi² difference is 9x too
large)::

    evidence_i  = (1 - e_i) * exp(-(BIC_i - BIC_min) / (2 T)) + e_i
    score_i     = ln p_i + ln evidence_i
    posterior_i = exp(score_i) / sum_j exp(score_j)

``e_i`` is the probability that fit ``i`` failed, i.e. that its BIC says nothing about
the model (a local minimum, a parameter the fit holds, a budget):

* ``e_i = EPS`` (:data:`FIT_FAILURE_RATE`) for a fit that *plausibly failed* (not
  converged, a parameter at a bound, cut by its budget:
  :attr:`~.fit_result.CandidateFit.plausibly_failed`) while *no* candidate fits within the
  noise: such a fit then costs its model at most ``-ln EPS`` nats against the best one,
  so the network's prior is not overruled by a fit that went wrong;
* ``e_i = 0`` otherwise. A converged fit is evidence: one far worse than the best drops
  accordingly. And once some candidate fits within the noise (``chi2r <= fit_result.NOISE_CHI2R``)
  the data are explained: a fit within the noise beats any prior against a fit that is
  not, whatever went wrong with the latter.

``EPS`` is calibrated on simulated *validation* curves (see the constant; the benchmark
also scores the earlier rules, :data:`FLOOR_RULES`).

Models the data cannot tell apart
---------------------------------
The posterior alone picks the flexible model among equivalent ones: with errors
underestimated (most real files) every chi² difference is inflated, and a model with
more parameters always fits a little better. So the answer is chosen as a person
checking the fits would choose it. Let ``b`` be the fit with the smallest BIC (among
the fits within the noise, when some are: those explain the data). Fit ``i``
*fits equally well* (:func:`fits_equally_well`) when

* its tempered evidence is not worse by more than a bare mention,
  ``(BIC_i - BIC_b) / T <= EQUAL_BIC`` (2: Kass and Raftery's "not worth more than a bare
  mention"), **or**
* its reduced chi² is within the models' precision and the noise estimate's uncertainty
  of ``b``'s, ``chi2r_i <= (1 + EQUAL_CHI2R_SHARE) chi2r_b + EQUAL_CHI2R_NOISE * T``
  (10 % + 0.1 at T = 1: the criterion the Network v3 issue set for "fits as well as the
  true model", ``training.evaluate.fits_as_well``; tempered like the evidence, so that
  when nothing fits within the noise the tolerance grows with the misfit), unless the
  evidence against it is very strong, ``(BIC_i - BIC_b) / T > DECISIVE_BIC`` (10, Kass
  and Raftery's "very strong"): on a long curve with good errors 10 % of chi2r is many
  units of chi² (latex_smeared.xml's second data set: teubner_strey at chi2r 0.93 is 46
  BIC units behind sphere at 0.78, a difference no scientist would call equal);

and, when ``b`` fits within the noise, it does too (a fit within the noise is not equal
to one that is not). These fits form the group :attr:`Ranked.indistinguishable`. Within
it the order is by **parsimony**: fewer free parameters first, then no structure factor
(a product is kept only when no single model fits as well), then the network's prior;
finally the simpler of two nested models (``sasnets_plugin.models``: ``Nested`` limits,
e.g. a sphere is an ellipsoid with equal radii) goes before the one that contains it.

The verified order is the group, then the other fits by posterior, then the failed fits
(in network order). Where the order goes against the numbers shown beside it (a fit
ranked above one with a smaller BIC), :attr:`Ranked.reasons` says why (simpler and as
good; its fit may have failed; the network's prior outweighs the difference).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..models import get as model_spec
from ..models.products import split
from .fit_result import CandidateFit

#: ``EPS`` of the posterior (module docstring): the probability that a fit which
#: plausibly failed did fail. Calibrated on the validation curves of
#: ``python benchmarks/bench_verified_accuracy.py`` (``benchmarks/results/
#: verified_accuracy.json``, ``validation.calibration``): chosen on curves of generator
#: v2 with network v2; kept with network v3, whose 171 validation curves prefer (0.1, 0.01)
#: by 3 top-1 answers, with no difference on the test curves nor the real files (README).
FIT_FAILURE_RATE = 0.3
#: Network probabilities are floored at this before the re-ranking (module docstring):
#: a prior then costs a candidate at most ln(1 / PRIOR_FLOOR) ~ 7 nats, a Delta BIC of
#: ~14 at T = 1. Calibrated with ``FIT_FAILURE_RATE``.
PRIOR_FLOOR = 1e-3
#: To whom the failure floor ``EPS`` applies: the shipped rule first, then the others the
#: benchmark scores beside it: "unexplained" (fits that plausibly failed, while no
#: candidate fits within the noise), "noise" (those, and the fits within the noise among
#: themselves), "failed" (fits that plausibly failed), "all" (every fit: the first rule).
FLOOR_RULES = ("unexplained", "noise", "failed", "all")
#: Fits equally well (module docstring): tempered Delta BIC up to this (Kass & Raftery).
EQUAL_BIC = 2.0
#: Fits equally well: reduced chi² within this share of the best's ...
EQUAL_CHI2R_SHARE = 0.1
#: ... plus this times the temperature (the Network v3 issue's "fits as well" criterion) ...
EQUAL_CHI2R_NOISE = 0.1
#: ... unless the tempered Delta BIC is above this (Kass & Raftery's "very strong").
DECISIVE_BIC = 10.0


@dataclass(frozen=True)
class Ranked:
    """The fits with priors, posteriors and both ranks (in the order given), the
    temperature ``T``, the models that fit equally well (the chosen one first; empty when
    no fit succeeded) and, per model, why its rank goes against its numbers."""

    fits: tuple[CandidateFit, ...]
    temperature: float
    indistinguishable: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]


def fits_equally_well(fit: CandidateFit, best: CandidateFit, temperature: float) -> bool:
    """Whether the data cannot tell ``fit`` from ``best`` (the smallest BIC; module
    docstring)."""
    if not (fit.ok and math.isfinite(fit.bic) and math.isfinite(fit.chi2r)):
        return False
    if best.within_noise and not fit.within_noise:
        return False
    delta = (fit.bic - best.bic) / temperature
    close_chi2r = fit.chi2r <= ((1 + EQUAL_CHI2R_SHARE) * best.chi2r
                                + EQUAL_CHI2R_NOISE * temperature)
    return delta <= EQUAL_BIC or (close_chi2r and delta <= DECISIVE_BIC)


@lru_cache(maxsize=None)
def simpler_models(name: str) -> frozenset[str]:
    """Models that ``name`` contains as an exact limit (its ``Nested`` declarations,
    followed transitively; a product's form's limits times the same structure factor)."""
    form, structure = split(name)
    try:
        direct = [n.simpler for n in model_spec(form).nested]
    except (KeyError, ValueError):  # a model the project has no file for
        direct = []
    out: set[str] = set()
    for simpler in direct:
        out.add(simpler)
        out |= simpler_models(simpler)
    if structure is not None:
        out = {f"{m}@{structure}" for m in out}
    return frozenset(out)


def parsimony_order(group: Sequence[CandidateFit]) -> list[CandidateFit]:
    """``group`` simplest first (module docstring): fewer free parameters, no structure
    factor, higher network prior; then each model after the simpler models it contains."""
    order = sorted(group, key=lambda f: (f.n_free, "@" in f.model,
                                         -(f.probability if math.isfinite(f.probability)
                                           else 0.0)))
    moved = True
    while moved:  # nested pairs: the simpler first (terminates: a partial order)
        moved = False
        for i, fit in enumerate(order):
            later = [j for j in range(i + 1, len(order))
                     if order[j].model in simpler_models(fit.model)]
            if later:
                order.insert(i, order.pop(later[0]))
                moved = True
                break
    return order


def rerank(fits: list[CandidateFit], probabilities, failure_rate: float | None = None, *,
           floor_rule: str = FLOOR_RULES[0], prior_floor: float | None = None,
           network_ranks: Sequence[int] | None = None) -> Ranked:
    """Attach priors, posteriors and both ranks (module docstring) and find the models
    that fit equally well. ``failure_rate``: ``EPS`` in [0, 1] (default
    :data:`FIT_FAILURE_RATE`); ``floor_rule``: one of :data:`FLOOR_RULES`;
    ``prior_floor``: default :data:`PRIOR_FLOOR`; ``network_ranks``: each fit's rank in
    the network's ranking (default: its place in ``fits``; 0 = not ranked by the
    network, e.g. a product the network does not know)."""
    eps = FIT_FAILURE_RATE if failure_rate is None else float(failure_rate)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"failure_rate must be in [0, 1], not {eps}")
    if floor_rule not in FLOOR_RULES:
        raise ValueError(f"floor_rule must be one of {FLOOR_RULES}, not {floor_rule!r}")
    floor = PRIOR_FLOOR if prior_floor is None else float(prior_floor)
    given = np.asarray(probabilities, float)
    p = np.maximum(np.where(np.isfinite(given), given, 0.0), floor)
    p = p / p.sum() if p.sum() > 0 else np.full(len(fits), 1.0 / max(1, len(fits)))
    ok = [i for i, f in enumerate(fits) if f.ok and math.isfinite(f.bic)]
    explained = any(fits[i].within_noise for i in ok)
    temperature = 1.0
    post = np.zeros(len(fits))
    if ok:
        temperature = max(1.0, min(fits[i].chi2r for i in ok))
        bic_min = min(fits[i].bic for i in ok)
        penalty = np.array([(fits[i].bic - bic_min) / (2 * temperature) for i in ok])
        floored = np.array([_floored(fits[i], explained, floor_rule) for i in ok])
        e = np.where(floored, eps, 0.0)
        with np.errstate(divide="ignore"):  # ln 0 = -inf where e = 0 or 1 is meant
            evidence = np.logaddexp(np.log1p(-e) - penalty, np.log(e))  # ln evidence_i
        score = np.log(p[ok]) + evidence
        w = np.exp(score - score.max())
        post[ok] = w / w.sum()
    ranks = list(network_ranks) if network_ranks is not None else range(1, len(fits) + 1)
    scored = [replace(f, probability=float(given[i]) if i < given.size else math.nan,
                      posterior=float(post[i]) if i in ok else 0.0, network_rank=int(ranks[i]))
              for i, f in enumerate(fits)]
    group: list[int] = []
    if ok:
        pool = [i for i in ok if scored[i].within_noise] or ok
        best = min(pool, key=lambda i: (scored[i].bic, i))
        members = [i for i in ok if fits_equally_well(scored[i], scored[best], temperature)]
        by_fit = {id(scored[i]): i for i in members}
        group = [by_fit[id(f)] for f in parsimony_order([scored[i] for i in members])]
    rest = sorted((i for i in ok if i not in group), key=lambda i: (-post[i], i))
    order = group + rest + [i for i in range(len(fits)) if i not in ok]
    vrank = {i: r + 1 for r, i in enumerate(order)}
    out = tuple(replace(f, verified_rank=vrank[i]) for i, f in enumerate(scored))
    reasons = _reasons([out[i] for i in order], len(group), temperature)
    return Ranked(out, float(temperature), tuple(out[i].model for i in group), reasons)


def _floored(fit: CandidateFit, explained: bool, rule: str) -> bool:
    """Whether the failure floor applies to ``fit`` under ``rule`` (:data:`FLOOR_RULES`);
    ``explained``: some candidate fits within the noise."""
    if rule == "all":
        return True
    if rule == "noise" and fit.within_noise:
        return True
    return fit.plausibly_failed and (rule == "failed" or not explained)


def failure_cause(fit: CandidateFit) -> str:
    """Why a fit may have failed, in a few words ("" for one that plausibly did not)."""
    if not fit.plausibly_failed:
        return ""
    return (f"cut by the {fit.cut}" if fit.cut else
            f"{', '.join(fit.at_bounds)} at a bound" if fit.at_bounds else "not converged")


def _reasons(ordered: list[CandidateFit], n_group: int,
             temperature: float) -> tuple[tuple[str, str], ...]:
    """Why a fit ranks above one with a smaller BIC or, for the models that fit equally
    well (the first ``n_group`` of ``ordered``, the verified order), a larger posterior."""
    out = []
    usable = [f.ok and math.isfinite(f.bic) for f in ordered]
    for r, fit in enumerate(ordered):
        if not usable[r]:
            continue
        later = [g for g, u in zip(ordered[r + 1:], usable[r + 1:]) if u]
        better = [g for g in later if g.bic < fit.bic]
        if r < n_group:
            if better or any(g.posterior > fit.posterior for g in later):
                why = (f"the simplest of the {n_group} models that fit the data equally well"
                       if r == 0 else f"fits as well as {ordered[0].model}, and is simpler "
                       f"than the next ones")
                out.append((fit.model, f"{why} ({fit.n_free} free parameters)"))
            continue
        if not better:
            continue
        other = better[0]
        if fit.plausibly_failed:
            why = (f"its fit may have failed ({failure_cause(fit)}), so its poorer BIC is "
                   f"not held against the network's {100 * fit.probability:.3g} %")
        else:
            delta = (fit.bic - other.bic) / temperature
            why = (f"the network's prior ({100 * fit.probability:.3g} % against "
                   f"{100 * other.probability:.3g} %) outweighs its poorer fit "
                   f"(ΔBIC/T = {delta:.3g} against {other.model})")
        out.append((fit.model, why))
    return tuple(out)
