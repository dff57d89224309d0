"""Accuracy and time of the model suggestion with and without fit verification, in one run.

    .venv/bin/python benchmarks/bench_verified_accuracy.py --max-minutes 60   # full run
    .venv/bin/python benchmarks/bench_verified_accuracy.py --classes sphere,sphere@hardsphere
    .venv/bin/python benchmarks/bench_verified_accuracy.py --rescore FILE   # re-score only

One run, every set scored from the same network output twice: the network's own ranking,
and the verified ranking of the plugin's pipeline, :func:`sasnets_plugin.suggestion.verify`
(what the CLI, the API and the GUI run: the network's top ``--top`` (5) plus the rest of
its ranking as the rescue's reserve, default settings: work budget, worker pool, 60 s
safety cap, seed 0). Files are verified one at a time, as a user verifies one file.

The verified answer is re-scored from the recorded fits (no refitting) under other rules
too (:func:`answer_rules`): the posterior alone (the v2 rule, before the models that fit
equally well were answered by parsimony) and NIST AutoSAS's rule (the fewest parameters
among the fits with chi2r under a cutoff, :data:`AUTOSAS_CUTOFFS`; the smallest chi2r when
none is under it), each as exact and as exact-or-indistinguishable top-1 answers.

1. **Validation curves** (calibration): ``--per-class`` curves of every entry of the
   network's ranked list (v3: the 71 models and the 100 products ``form@structure``)
   simulated with :mod:`training.simulate` (its instrument, priors, noise; seed stream
   ``[seed, 1, index]``), each passed with its pinhole resolution. The re-ranking's
   constants, the failure rate ``EPS`` and the prior floor, are chosen here by re-scoring
   the recorded fits over :data:`FAILURE_GRID` x :data:`PRIOR_FLOOR_GRID` (fits do not
   depend on them; neither does the rescue). The earlier rules (:data:`FLOOR_RULES`) are
   scored beside the shipped one.
2. **Test curves**: the same on a separate seed stream (``[seed, 2, index]``), scored
   apart for single models and products, with the constants chosen on the validation
   curves (never tuned here).
3. **Real files** with a known model: ``benchmarks/real_data/labels.json``.
4. **Busy machine**: ``--busy-files`` of the files above verified again while every core
   runs a spinning process: the answer (verified order and every fit's chi2) must be
   identical; the time per file is reported for both.

Rows whose true model the network does not rank (a network without products, e.g. v2,
given product classes) count for the verified ranking only. The verified rank of the
true model is its place in the verified order (rescue candidates included), or none when
it was not fitted.

Writes ``benchmarks/results/verified_accuracy.json`` (every candidate fit recorded, so the
rule can be re-scored offline: ``--rescore``).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from sasnets_plugin.verification import NOISE_CHI2R  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "verified_accuracy.json"
LABELS = ROOT / "benchmarks" / "real_data" / "labels.json"
KS = (1, 3, 5)
#: Seed-stream codes of the simulated sets.
SPLITS = {"val": 1, "test": 2}
#: Re-scoring grids of the calibration (1: the network order; 0: plain BIC evidence).
FAILURE_GRID = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
PRIOR_FLOOR_GRID = (0.0, 1e-6, 1e-4, 1e-3, 1e-2)
#: AutoSAS's chi2r cutoffs scored: its default (1.0) and the verification's noise level.
AUTOSAS_CUTOFFS = (1.0, NOISE_CHI2R)


# --- small statistics helpers ---------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """95 % Wilson score interval of a proportion k/n."""
    if n == 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def sign_test(fixed: int, broke: int) -> float | None:
    """Two-sided exact binomial (McNemar) p-value for 'fixed vs broke' discordant pairs."""
    n = fixed + broke
    if n == 0:
        return None
    k = min(fixed, broke)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return round(min(1.0, 2 * tail), 4)


def percentile(values, p: float) -> float | None:
    return None if not values else round(float(np.percentile(np.asarray(values, float), p)), 3)


def load_avg() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def topk(rows: list[dict], key: str) -> dict:
    n = len(rows)
    out = {"n": n}
    for k in KS:
        hits = sum(1 for r in rows if r.get(key) is not None and r[key] <= k)
        out[f"top{k}"] = round(hits / n, 4) if n else None
        out[f"top{k}_hits"] = hits
        out[f"top{k}_ci95"] = wilson(hits, n)
    return out


def equivalent(row: dict, model: str | None) -> bool:
    """Whether answering ``model`` for ``row`` is right or indistinguishable from right:
    the true model itself, or, when the true model's own fit is within the noise, a
    model whose fit is within the noise too with chi2r <= 1.1 x the true model's + 0.1
    (the data cannot tell them apart; the criterion of the Network v3 issue)."""
    if model is None:
        return False
    if model in (row["true_model"], *row.get("also_accepted", [])):
        return True
    own, fits = row.get("true_fit"), {f["model"]: f for f in row.get("fits", [])}
    other = fits.get(model)
    if not own or not own["within_noise"] or not other or other["status"] != "ok":
        return False
    from training.evaluate import fits_as_well

    return bool(other["within_noise"]) and fits_as_well(own["chi2r"], other["chi2r"])


def equivalence(rows: list[dict]) -> dict:
    """Top-1 counted right when it is the true model or one the data cannot tell from it
    (:func:`equivalent`), for the network's and the verified ranking."""
    known = [r for r in rows if r.get("network_rank") is not None]
    net = [equivalent(r, (r.get("network_top") or [[None]])[0][0]) for r in known]
    ver = [equivalent(r, (r.get("verified_top") or [None])[0]) for r in known]
    return {"n": len(known), "network_top1_hits": sum(net), "verified_top1_hits": sum(ver),
            "fixed": sum(v and not n for n, v in zip(net, ver)),
            "broke": sum(n and not v for n, v in zip(net, ver)),
            "sign_test_p": sign_test(sum(v and not n for n, v in zip(net, ver)),
                                     sum(n and not v for n, v in zip(net, ver)))}


def summarise(rows: list[dict]) -> dict:
    """Network vs verified top-k, fixed/broke counts, the true model's own fit, the
    rescue, and the time per file over ``rows``."""
    known = [r for r in rows if r.get("network_rank") is not None]
    fixed = sum(1 for r in known if r["network_rank"] != 1 and r.get("verified_rank") == 1)
    broke = sum(1 for r in known if r["network_rank"] == 1 and r.get("verified_rank") != 1)
    secs = [r["verify_seconds"] for r in rows if r.get("verify_seconds") is not None]
    idle = [r["idle_estimate_seconds"] for r in rows if r.get("idle_estimate_seconds")]
    own = [r["true_fit"] for r in rows if r.get("true_fit")]
    return {
        "n": len(rows),
        "network": topk(known, "network_rank") if known else None,
        "verified": topk(rows, "verified_rank"),
        "verified_on_network_known": topk(known, "verified_rank") if known else None,
        "top1_change": {"fixed": fixed, "broke": broke, "net": fixed - broke,
                        "sign_test_p": sign_test(fixed, broke)},
        "top1_right_or_equivalent": equivalence(rows),
        "true_model_fitted": sum(1 for r in rows if r.get("true_fit")),
        "truth_within_noise": sum(1 for r in rows if r.get("truth_chi2r") is not None
                                  and r["truth_chi2r"] <= NOISE_CHI2R),
        "true_model_within_noise": sum(1 for f in own if f["within_noise"]),
        "share_true_model_within_noise": (round(sum(f["within_noise"] for f in own) / len(rows), 4)
                                          if rows else None),
        "rescued": sum(1 for r in rows if r.get("rescued")),
        "no_fit": sum(1 for r in rows if r.get("no_fit")),
        "verify_seconds": {"median": percentile(secs, 50), "p90": percentile(secs, 90),
                           "max": max(secs) if secs else None},
        "idle_estimate_seconds": {"median": percentile(idle, 50), "p90": percentile(idle, 90),
                                  "max": max(idle) if idle else None},
        "errors": sum(1 for r in rows if r.get("error")),
    }


# --- one file -----------------------------------------------------------------------------
def fit_record(c) -> dict:
    """Everything needed to re-score the re-ranking rule offline for one candidate fit."""
    def num(x, digits=6):
        return round(float(x), digits) if x is not None and math.isfinite(x) else None

    return {"model": c.model, "probability": num(c.probability, 12), "status": c.status,
            "converged": c.converged, "at_bounds": list(c.at_bounds), "cut": c.cut,
            "rescue": c.rescue, "network_rank": c.network_rank, "chi2": num(c.chi2, 6),
            "chi2r": num(c.chi2r, 6), "bic": num(c.bic, 6), "n_points": c.n_points,
            "n_free": c.n_free, "within_noise": c.within_noise,
            "posterior": num(c.posterior, 6), "verified_rank": c.verified_rank,
            "seconds": num(c.seconds, 3), "cpu_seconds": num(c.cpu_seconds, 3),
            "n_evaluations": c.n_evaluations,
            "parameters": {k: num(v) for k, v in c.parameters.items()}}


def signature(row: dict) -> list:
    """The answer of one verification: verified order and every fit's chi2."""
    return [(f["model"], f["status"], f["chi2"]) for f in
            sorted(row.get("fits", []), key=lambda f: f["verified_rank"])]


def score_one(ranking, true_models: list[str], top: int) -> dict:
    """Network rank, verification (the pipeline) and verified rank of one curve (never
    raises)."""
    from sasnets_plugin.suggestion import verify

    row: dict = {"true_model": true_models[0]}
    if len(true_models) > 1:
        row["also_accepted"] = true_models[1:]
    ranks = [ranking.models.index(m) + 1 for m in true_models if m in ranking.models]
    row["network_rank"] = min(ranks) if ranks else None
    row["network_top"] = [[m, round(p, 4)] for m, p in ranking.top(top)]
    row["load_average"] = load_avg()
    t = time.perf_counter()
    try:
        v = verify(ranking, top)
    except Exception as exc:  # noqa: BLE001 - a benchmark records, it does not stop
        row.update(verify_seconds=round(time.perf_counter() - t, 3),
                   error=f"{type(exc).__name__}: {exc}", verified_rank=None)
        return row
    row["verify_seconds"] = round(time.perf_counter() - t, 3)
    # load-independent: the fits' CPU time shared by the workers (an idle machine's time)
    row["fit_cpu_seconds"] = round(sum(c.cpu_seconds for c in v.candidates), 3)
    row["idle_estimate_seconds"] = round(row["fit_cpu_seconds"] / v.workers, 3)
    order = list(v.verified_order)
    ranks = [order.index(m) + 1 for m in true_models if m in order]
    row["verified_rank"] = min(ranks) if ranks else None
    row["verified_top"] = order[:top]
    row["fits"] = [fit_record(c) for c in v.candidates]
    own = [f for f in row["fits"] if f["model"] in true_models and f["status"] == "ok"]
    row["true_fit"] = min(own, key=lambda f: f["chi2r"]) if own else None
    row.update(rescued=v.rescued, no_fit=v.no_fit, best_chi2r=v.to_json()["best_chi2r"],
               indistinguishable=list(v.indistinguishable),
               temperature=round(v.temperature, 3), resolution=v.resolution)
    return row


# --- simulated curves -------------------------------------------------------------------------
def simulated_set(classes, split: str, per_class: int, seed: int) -> list:
    """``(true model, RawCurve, parameters)`` of every curve of one split: ``per_class``
    per class (a product class ``form@structure`` gives product curves).

    Curves are the training generator's (v3: any window, per-point pinhole dQ or slit,
    broad priors, products), so the true model is the curve's *label*: a class's curve may
    be a product ``form@structure`` or, at an exact nested limit, the simpler model."""
    names = [(m, i) for i in range(per_class) for m in classes]
    out = []
    for k, (model, i) in enumerate(names):
        curve, raw = simulated_curve(model, split, k, seed)
        out.append((curve.label, raw, {
            "title": raw.title, "class": model, "drawn_as": curve.params["drawn_as"],
            "broad_prior": curve.params["broad"], "true_parameters": curve.params["model"],
            "instrument": curve.params["instrument"],
            "truth_chi2r": truth_chi2r(curve.params["drawn_as"], raw, curve.params["model"])}))
    return out


def simulated_curve(model: str, split: str, k: int, seed: int):
    """Curve ``k`` of ``split``, drawn for class ``model`` from the seed stream
    ``[seed, split, k]``: the training simulator's ``Curve`` and the ``RawCurve`` a user's
    file would give (titled ``split[k] label``)."""
    from sasnets_plugin.loading import RawCurve
    from training.simulate import simulate_curves

    curve = simulate_curves(model, np.random.default_rng([seed, SPLITS[split], k]), 1)[0]
    slit = None if curve.dq is not None else np.full_like(curve.q, curve.slit_length)
    raw = RawCurve(f"{split}[{k}] {curve.label}", curve.q, curve.I, curve.dI,
                   dQ=curve.dq, dQl=slit)
    return curve, raw


def truth_chi2r(model: str, raw, parameters: dict) -> float | None:
    """Reduced chi2 of the simulation's own parameters (scale and background solved), with
    the fits' weights and smearing: whether the true model *can* fit within the noise."""
    from sasmodels.direct_model import DirectModel

    from sasnets_plugin.kernels import kernel_model
    from sasnets_plugin.verification import prepare_data
    from sasnets_plugin.verification.evaluation import resolution_for

    data, _ = prepare_data(raw)
    calc = DirectModel(data.sasmodels_data(), kernel_model(model))
    if (resolution := resolution_for(data)) is not None:
        calc.resolution = resolution
    shape = {k: v for k, v in parameters.items()
             if not k.endswith("_type") and k not in ("scale", "background")}
    try:
        column = np.asarray(calc(**shape, scale=1.0, background=0.0), float)
    except Exception:  # noqa: BLE001 - a diagnostic only
        return None
    design = np.column_stack([column, np.ones_like(column)]) / data.sigma[:, None]
    coef, *_ = np.linalg.lstsq(design, data.I / data.sigma, rcond=None)
    residual = design @ coef - data.I / data.sigma
    return round(float(residual @ residual) / max(1, data.n - 4), 4)


def run_set(classifier, items, top: int, deadline: float, label: str) -> tuple[list, str | None]:
    """Verify every ``(true models, raw, extra)`` of ``items`` until ``deadline``."""
    from sasnets_plugin.suggestion import prepare, rank

    rows, stopped = [], None
    t0 = time.perf_counter()
    for i, (true_models, raw, extra) in enumerate(items):
        if time.time() > deadline:
            stopped = f"{label}: stopped after {i} of {len(items)} curves (--max-minutes)"
            print("  " + stopped)
            break
        try:
            ranking = rank(classifier, [prepare(raw)])[0]
        except Exception as exc:  # noqa: BLE001
            rows.append({"true_model": true_models[0], "error": f"{type(exc).__name__}: {exc}",
                         "verified_rank": None, **extra})
            continue
        row = score_one(ranking, true_models, top)
        row.update(extra)
        rows.append(row)
        print(f"  {label} {i + 1:4d}/{len(items)} {time.perf_counter() - t0:6.0f} s  "
              f"{true_models[0]:36s} net {row['network_rank']} -> verified "
              f"{row.get('verified_rank')}  {'R' if row.get('rescued') else ' '}"
              f"{'N' if row.get('no_fit') else ' '} ({row.get('verify_seconds', 0):.1f} s, "
              f"load {row['load_average']})", flush=True)
    return rows, stopped


# --- re-scoring the rule ------------------------------------------------------------------
def rescored_rank(row: dict, failure_rate: float, prior_floor: float, rule: str) -> int | None:
    """Rank of the true model had the rule used these constants."""
    return rescored(row, failure_rate, prior_floor, rule)[0]


def rescored(row: dict, failure_rate: float, prior_floor: float,
             rule: str) -> tuple[int | None, list[str]]:
    """Rank of the true model and the verified order had the rule used these constants."""
    from sasnets_plugin.verification import CandidateFit, rerank

    fits = row.get("fits")
    if not fits:
        return row.get("verified_rank"), list(row.get("verified_top") or [])
    nan = (lambda x: math.nan if x is None else float(x))
    candidates = [CandidateFit(model=f["model"], status=f["status"], chi2=nan(f.get("chi2")),
                               chi2r=nan(f["chi2r"]), bic=nan(f["bic"]),
                               n_points=f.get("n_points", 0), n_free=f.get("n_free", 0),
                               converged=f["converged"], at_bounds=tuple(f["at_bounds"]),
                               cut=f["cut"])
                  for f in fits]
    ranked = rerank(candidates, [f["probability"] or 0.0 for f in fits], failure_rate,
                    floor_rule=rule, prior_floor=prior_floor).fits
    order = [c.model for c in sorted(ranked, key=lambda c: c.verified_rank)]
    correct = [row["true_model"], *row.get("also_accepted", [])]
    ranks = [order.index(m) + 1 for m in correct if m in order]
    return (min(ranks) if ranks else None), order


def rescore(rows: list[dict]) -> dict:
    """Top-1/top-3 hits of every rule and constant pair; the chosen pair has the most
    top-1 hits under the shipped rule (ties: the shipped constants if they are among the
    best, else the larger failure rate, then the larger prior floor)."""
    from sasnets_plugin.verification.rerank import (
        FIT_FAILURE_RATE,
        FLOOR_RULES,
        PRIOR_FLOOR,
    )

    def preference(g):
        shipped = g["failure_rate"] == FIT_FAILURE_RATE and g["prior_floor"] == PRIOR_FLOOR
        return g["top1_hits"], shipped, g["failure_rate"], g["prior_floor"]

    scored = [r for r in rows if r.get("fits")]
    grid = []
    for rule in FLOOR_RULES:
        for eps in FAILURE_GRID:
            for floor in PRIOR_FLOOR_GRID:
                ranks = [rescored_rank(r, eps, floor, rule) for r in scored]
                grid.append({"rule": rule, "failure_rate": eps, "prior_floor": floor,
                             "top1_hits": sum(k == 1 for k in ranks),
                             "top3_hits": sum(k is not None and k <= 3 for k in ranks)})
    shipped = [g for g in grid if g["rule"] == FLOOR_RULES[0]]
    best = max(shipped, key=preference)
    per_rule = {rule: max((g for g in grid if g["rule"] == rule), key=preference)
                for rule in FLOOR_RULES}
    return {"n": len(scored), "grid": grid, "chosen": best, "best_per_rule": per_rule,
            "network_top1_hits": sum(r.get("network_rank") == 1 for r in scored)}


def at(rows: list[dict], eps: float, floor: float, rule: str) -> dict:
    """Top-k of ``rows`` re-scored with the given constants (fits unchanged)."""
    ranked = []
    for r in rows:
        rank, order = rescored(r, eps, floor, rule)
        ranked.append({**r, "verified_rank": rank, "verified_top": order})
    return summarise(ranked)


def posterior_choice(row: dict) -> str | None:
    """The v2 rule's answer: the largest posterior (recorded), before the models that fit
    equally well were answered by parsimony."""
    fits = [f for f in row.get("fits", []) if f["status"] == "ok" and f["posterior"] is not None]
    return max(fits, key=lambda f: f["posterior"])["model"] if fits else None


def autosas_choice(row: dict, cutoff: float) -> str | None:
    """NIST AutoSAS's rule on the recorded fits: among the fits with chi2r under
    ``cutoff`` the one with the fewest free parameters (then the smaller chi2r); the
    smallest chi2r when none is under it."""
    fits = [f for f in row.get("fits", []) if f["status"] == "ok" and f["chi2r"] is not None]
    if not fits:
        return None
    under = [f for f in fits if f["chi2r"] <= cutoff]
    pick = (min(under, key=lambda f: (f["n_free"], f["chi2r"])) if under
            else min(fits, key=lambda f: f["chi2r"]))
    return pick["model"]


def answer_rules(rows: list[dict]) -> dict:
    """Top-1 answers of ``rows`` under each rule, exact (the true model, or one the
    labels accept) and exact-or-indistinguishable (:func:`equivalent`), re-scored from
    the recorded fits: the network, the library's rule (models that fit equally well
    answered by parsimony), the posterior alone, AutoSAS at each cutoff."""
    from sasnets_plugin.verification.rerank import FIT_FAILURE_RATE, FLOOR_RULES, PRIOR_FLOOR

    def shipped(r):  # the library's rule now, from the recorded fits
        order = rescored(r, FIT_FAILURE_RATE, PRIOR_FLOOR, FLOOR_RULES[0])[1]
        return order[0] if order else None

    known = [r for r in rows if r.get("network_rank") is not None and r.get("fits")]
    rules = {"network": lambda r: (r.get("network_top") or [[None]])[0][0],
             "shipped": shipped, "posterior_only": posterior_choice}
    rules |= {f"autosas_chi2r_{c:g}": (lambda r, c=c: autosas_choice(r, c))
              for c in AUTOSAS_CUTOFFS}
    out = {"n": len(known)}
    for name, choose in rules.items():
        answers = [(r, choose(r)) for r in known]
        out[name] = {
            "exact": sum(a in (r["true_model"], *r.get("also_accepted", [])) for r, a in answers),
            "exact_or_equivalent": sum(equivalent(r, a) for r, a in answers)}
    return out


def print_answer_rules(label: str, rules: dict) -> None:
    parts = [f"{name} {v['exact']} ({v['exact_or_equivalent']})"
             for name, v in rules.items() if name != "n"]
    print(f"{label:18s} top-1 of {rules['n']}, exact (exact or indistinguishable): "
          + ", ".join(parts))


# --- busy machine -------------------------------------------------------------------------
@contextlib.contextmanager
def busy_cpu():
    """Every core kept busy by a spinning process for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(1.0)
        yield len(procs)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


# --- run ------------------------------------------------------------------------------------
def resolve(path: str) -> Path:
    if path.startswith("sasdata:"):
        import sasdata

        return Path(sasdata.__file__).parent / "example_data" / path.split(":", 1)[1]
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def real_items(labels: Path) -> list:
    """The labelled files that can be read; each one that cannot is named and skipped
    (e.g. the ILL series outside this checkout, ``../shared/real_data``)."""
    from sasnets_plugin.errors import SasnetsError
    from sasnets_plugin.loading import load_1d

    items = []
    for e in json.loads(labels.read_text())["files"]:
        path = resolve(e["path"])
        try:
            raw = load_1d(path)[e.get("dataset", 0)]
        except (SasnetsError, IndexError) as exc:
            print(f"  real file skipped: {exc}")
            continue
        items.append(([e["model"], *e.get("also_accept", ())], raw,
                      {"file": path.name, "dataset": e.get("dataset", 0),
                       "model_generated": e.get("model_generated", False)}))
    return items


def machine_info() -> dict:
    import importlib.metadata as im

    versions = {}
    for pkg in ("sasmodels", "bumps", "sasdata", "tensorflow", "keras", "numpy", "distributed"):
        with contextlib.suppress(im.PackageNotFoundError):
            versions[pkg] = im.version(pkg)
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "packages": versions}


def print_summary(label: str, s: dict) -> None:
    n, v = s["network"], s["verified"]
    net = (f"network top1 {n['top1_hits']}/{n['n']} top3 {n['top3_hits']}  " if n else "")
    print(f"{label:18s} n={s['n']:3d}  {net}verified top1 {v['top1_hits']}/{v['n']} "
          f"top3 {v['top3_hits']}  fixed {s['top1_change']['fixed']} broke "
          f"{s['top1_change']['broke']} (p={s['top1_change']['sign_test_p']})  true model "
          f"within noise {s['true_model_within_noise']}/{s['n']}  rescued {s['rescued']} "
          f"no-fit {s['no_fit']}  time median {s['verify_seconds']['median']} s p90 "
          f"{s['verify_seconds']['p90']} s (CPU/workers: median "
          f"{s['idle_estimate_seconds']['median']} s p90 {s['idle_estimate_seconds']['p90']} s)")
    e = s.get("top1_right_or_equivalent")
    if e and e["n"]:
        print(f"{'':18s} top-1 right or equivalent: network {e['network_top1_hits']}/{e['n']} "
              f"verified {e['verified_top1_hits']}/{e['n']}  fixed {e['fixed']} broke "
              f"{e['broke']} (p={e['sign_test_p']})")


def score_rules(report: dict) -> None:
    """(Re)compute from the recorded fits: the calibration on the validation curves, and
    every set scored under every rule at that rule's best constants on the validation
    curves (and the shipped rule at the shipped constants), so that ``--rescore`` brings
    a result file up to the library's rules."""
    from sasnets_plugin.verification.rerank import (
        FIT_FAILURE_RATE,
        FLOOR_RULES,
        PRIOR_FLOOR,
    )

    calibration = rescore(report["validation"]["curves"])
    best = calibration["best_per_rule"]
    report["validation"]["calibration"] = calibration

    def rules(rows):
        return {rule: at(rows, best[rule]["failure_rate"], best[rule]["prior_floor"], rule)
                for rule in FLOOR_RULES} | {
            "shipped_constants": at(rows, FIT_FAILURE_RATE, PRIOR_FLOOR, FLOOR_RULES[0])}

    singles = [r for r in report["test"]["curves"] if "@" not in r["true_model"]]
    # the shipped run's own summaries, brought up to this script's scoring
    report["validation"]["summary"] = summarise(report["validation"]["curves"])
    report["test"]["summary"] = summarise(singles)
    report["real"]["summary"] = summarise(report["real"]["files"])
    report["test"]["at_chosen_constants"] = rules(singles)
    report["real"]["at_chosen_constants"] = rules(report["real"]["files"])
    report["validation"]["at_chosen_constants"] = rules(report["validation"]["curves"])
    products = [r for r in report["test"]["curves"] if "@" in r["true_model"]]
    report["answer_rules"] = {"validation": answer_rules(report["validation"]["curves"]),
                              "test": answer_rules(singles),
                              "test_products": answer_rules(products),
                              "real": answer_rules(report["real"]["files"])}


def print_rules(report: dict) -> None:
    c = report["validation"]["calibration"]
    print(f"calibration: shipped rule best at EPS {c['chosen']['failure_rate']}, prior floor "
          f"{c['chosen']['prior_floor']} ({c['chosen']['top1_hits']} top-1 of {c['n']}; "
          f"network {c['network_top1_hits']}); best per rule: " + json.dumps(c["best_per_rule"]))
    for part in ("validation", "test", "real"):
        for rule, s in report[part]["at_chosen_constants"].items():
            print_summary(f"{part}, {rule}", s)
    for part, rules in report["answer_rules"].items():
        print_answer_rules(part, rules)


def print_rescore(path: Path) -> int:
    report = json.loads(path.read_text())
    score_rules(report)
    print_rules(report)
    path.write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(f"rewrote {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=1,
                        help="simulated curves per class and split (default 1: one per entry of "
                             "the network's ranked list)")
    parser.add_argument("--busy-files", type=int, default=16,
                        help="files verified again with every core busy (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument("--top", type=int, default=5, help="candidates verified (default 5)")
    parser.add_argument("--max-minutes", type=float, default=60.0,
                        help="time budget of the whole run; each set stops when it is spent")
    parser.add_argument("--classes", default=None,
                        help="comma-separated network classes to simulate (default: all; "
                             "for a quick check)")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--rescore", type=Path, default=None,
                        help="only re-score the rule on the validation curves of this file")
    args = parser.parse_args(argv)
    if args.rescore is not None:
        return print_rescore(args.rescore)

    from sasnets_plugin.suggestion import get_classifier
    from sasnets_plugin.verification import (
        DEFAULT_MAX_SECONDS,
        DEFAULT_WORK,
        warm_up,
    )
    from sasnets_plugin.verification import shutdown_pool
    from sasnets_plugin.verification.rerank import FIT_FAILURE_RATE, PRIOR_FLOOR
    from sasnets_plugin.verification.rescue import RESCUE_WORK_SHARE

    started = _dt.datetime.now(_dt.UTC)
    t0 = time.time()
    deadline = t0 + 60 * args.max_minutes
    classifier = get_classifier()
    classes = args.classes.split(",") if args.classes else list(classifier.classes)
    warm_up()
    report = {
        "benchmark": "verified_accuracy",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date_utc": started.isoformat(timespec="seconds"),
        "machine": machine_info(), "load_average_at_start": load_avg(),
        "weights": {k: classifier.metadata.get(k) for k in ("architecture", "n_classes")},
        "settings": {"top": args.top, "per_class": args.per_class,
                     "seed": args.seed, "work_per_fit": DEFAULT_WORK,
                     "rescue_work_share": RESCUE_WORK_SHARE, "noise_chi2r": NOISE_CHI2R,
                     "safety_cap_seconds": DEFAULT_MAX_SECONDS,
                     "shipped_failure_rate": FIT_FAILURE_RATE, "shipped_prior_floor": PRIOR_FLOOR,
                     "max_minutes": args.max_minutes},
    }
    # budget: validation and test share it equally with the real set and the busy pass
    share = (deadline - time.time()) / 4

    print(f"--- validation curves ({args.per_class}/class)")
    val, stop_val = run_set(classifier, [([m], raw, extra) for m, raw, extra in
                                         simulated_set(classes, "val", args.per_class, args.seed)],
                            args.top, time.time() + share, "val")

    print(f"--- test curves ({args.per_class}/class)")
    test_items = simulated_set(classes, "test", args.per_class, args.seed)
    test, stop_test = run_set(classifier, [([m], raw, extra) for m, raw, extra in test_items],
                              args.top, time.time() + share, "test")
    print("--- real files")
    real, stop_real = run_set(classifier, real_items(args.labels), args.top,
                              max(deadline - 60, time.time() + share), "real")

    singles = [r for r in test if "@" not in r["true_model"]]
    products = [r for r in test if "@" in r["true_model"]]
    for r in products:  # the form alone or with another structure factor: right shape
        form = r["true_model"].split("@")[0]
        top_model = (r.get("verified_top") or ["?"])[0]
        r["verified_form_top1"] = top_model.split("@")[0] == form

    report["validation"] = {"summary": summarise(val), "stopped_early": stop_val, "curves": val}
    report["test"] = {"summary": summarise(singles), "stopped_early": stop_test,
                      "products": {"summary": summarise(products),
                                   "verified_form_top1": sum(r.get("verified_form_top1", False)
                                                             for r in products)},
                      "curves": test}
    measured = [r for r in real if not r.get("model_generated")]
    report["real"] = {"summary": summarise(real), "summary_measured_only": summarise(measured),
                      "stopped_early": stop_real, "files": real}
    score_rules(report)

    # busy machine: the same files again with every core spinning
    pool = [r for r in real + test if r.get("fits")]
    again = pool[:args.busy_files]
    by_title = {raw.title: raw for _, raw, _ in test_items}
    real_raw = {e["file"] + str(e["dataset"]): raw for _, raw, e in real_items(args.labels)}
    print(f"--- busy machine: {len(again)} files again")
    from sasnets_plugin.suggestion import prepare, rank

    busy_rows = []
    with busy_cpu() as spinning:
        for row in again:
            raw = (real_raw[row["file"] + str(row["dataset"])] if "file" in row
                   else by_title[row["title"]])
            ranking = rank(classifier, [prepare(raw)])[0]
            busy = score_one(ranking, [row["true_model"], *row.get("also_accepted", [])],
                             args.top)
            busy["identical"] = signature(busy) == signature(row)
            busy["idle_seconds"] = row["verify_seconds"]
            busy_rows.append(busy)
            print(f"  {row['true_model']:36s} identical {busy['identical']}  idle "
                  f"{row['verify_seconds']:.1f} s  busy {busy['verify_seconds']:.1f} s "
                  f"(load {busy['load_average']})", flush=True)
    shutdown_pool()
    idle_s = [b["idle_seconds"] for b in busy_rows]
    busy_s = [b["verify_seconds"] for b in busy_rows]
    report["busy"] = {
        "spinning_processes": spinning, "n": len(busy_rows),
        "identical": sum(b["identical"] for b in busy_rows),
        "idle_seconds": {"median": percentile(idle_s, 50), "p90": percentile(idle_s, 90)},
        "busy_seconds": {"median": percentile(busy_s, 50), "p90": percentile(busy_s, 90)},
        "files": [{k: b.get(k) for k in ("true_model", "identical", "idle_seconds",
                                          "verify_seconds", "load_average")}
                  for b in busy_rows]}
    every = [r["verify_seconds"] for r in val + test + real if r.get("verify_seconds")]
    idle = [r["idle_estimate_seconds"] for r in val + test + real
            if r.get("idle_estimate_seconds")]
    report["time_per_file"] = {"n": len(every), "median": percentile(every, 50),
                               "p90": percentile(every, 90), "max": max(every, default=None),
                               "cpu_per_worker_median": percentile(idle, 50),
                               "cpu_per_worker_p90": percentile(idle, 90),
                               "mean_load_average": round(statistics.fmean(
                                   r["load_average"] for r in val + test + real), 2)}
    report["total_wall_seconds"] = round(time.time() - t0, 1)
    report["load_average_at_end"] = load_avg()

    print_summary("validation", report["validation"]["summary"])
    print_summary("test (single)", report["test"]["summary"])
    print_summary("test (products)", report["test"]["products"]["summary"])
    print(f"  products: verified #1 has the right form {report['test']['products']['verified_form_top1']}"
          f"/{len(products)}")
    print_summary("real", report["real"]["summary"])
    print_rules(report)
    b = report["busy"]
    print(f"busy machine: {b['identical']}/{b['n']} identical; idle median "
          f"{b['idle_seconds']['median']} s p90 {b['idle_seconds']['p90']} s, busy median "
          f"{b['busy_seconds']['median']} s p90 {b['busy_seconds']['p90']} s")
    print(f"time per file: {json.dumps(report['time_per_file'])}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(f"wrote {args.output}  ({report['total_wall_seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
