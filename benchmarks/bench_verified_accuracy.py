"""Accuracy of the model suggestion with and without fit verification, in one run.

    .venv/bin/python benchmarks/bench_verified_accuracy.py            # full run (~20-25 min, 2 cores)
    .venv/bin/python benchmarks/bench_verified_accuracy.py --per-class 1 --real-only ...
    .venv/bin/python benchmarks/bench_verified_accuracy.py --split val   # calibration mode
    .venv/bin/python benchmarks/bench_verified_accuracy.py --rescore FILE  # re-score only

Two test sets, each scored twice from the same network output: the network's own ranking,
and the ranking after :func:`sasnets_plugin.suggestion.verify` fitted the network's top
``--top`` (5) candidates and re-ranked them (default verification settings: default worker
pool, ``max_seconds`` = 9 s, 6 starts, seed 0).

1. Simulated held-out curves: a stratified sample of the *test* split of the training
   dataset (``--per-class`` curves of every class, fixed ``--seed``), each passed with its
   pinhole resolution (dQ = dq_over_q * q, the Gaussian sigma used by the simulation) so
   the fits smear like the data. Curves are processed in rounds of one curve per class;
   when the next round would overrun ``--max-minutes``, the run stops at the end of a
   round (the sample stays stratified) and says so.
2. Real measured curves with a known model: ``benchmarks/real_data/labels.json`` (see the
   README beside it for the evidence behind each label).

Verification re-orders the top ``--top`` only, so top-5 accuracy cannot change (a true
model ranked 6th or lower stays there); top-1 and top-3 can.

Every candidate fit is recorded (network probability, chi2, chi2r, n_points, n_free, AIC,
BIC, status, converged), so re-ranking rules can be re-scored offline: every run reports
top-1/top-3 for each fit-failure rate ``EPS`` of :data:`FAILURE_GRID` (``"rescored"``).

Calibration mode (``--split val``): the same procedure on the *validation* split
(simulated curves only), written to ``benchmarks/results/verification_calibration.json``;
its ``rescored.chosen_failure_rate`` (best top-1; ties -> the larger rate, the more
cautious rule) is ``FIT_FAILURE_RATE`` of ``sasnets_plugin/verification/verify.py``.
The test split only measures the chosen rule (never tune on it).

Writes ``benchmarks/results/verified_accuracy.json``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "verified_accuracy.json"
CALIBRATION = ROOT / "benchmarks" / "results" / "verification_calibration.json"
LABELS = ROOT / "benchmarks" / "real_data" / "labels.json"
DATASET = ROOT / "build" / "dataset"
KS = (1, 3, 5)
#: Why 3 curves per class by default (measured before the real weights existed).
SAMPLE_SIZE_NOTE = (
    "default --per-class 3 (213 curves) chosen from a pre-measurement on 8 test curves with 5 "
    "candidates each: median 7.6 s, mean 8.5 s per verification while a training job loaded "
    "both cores (so an upper bound); at ~5-6 s unloaded, 213 curves take ~18-21 min, plus ~2 min "
    "for the labelled files. --max-minutes (21) stops the simulated part at a round boundary "
    "if it runs slower, keeping the sample stratified.")


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
    return None if not values else float(np.percentile(np.asarray(values, float), p))


def summarise(rows: list[dict]) -> dict:
    """Top-k with/without verification, fixed/broke counts and timing over ``rows``.

    Each row has ``network_rank`` / ``verified_rank`` (1-based rank of the true model, or
    None when the network does not know the model) and ``verify_seconds``.
    """
    scored = [r for r in rows if r.get("network_rank") is not None or r.get("error")]
    n = len(scored)
    out: dict = {"n": n}
    for label, key in (("network", "network_rank"), ("verified", "verified_rank")):
        block = {}
        for k in KS:
            hits = sum(1 for r in scored if r.get(key) is not None and r[key] <= k)
            block[f"top{k}"] = round(hits / n, 4) if n else None
            block[f"top{k}_hits"] = hits
            block[f"top{k}_ci95"] = wilson(hits, n)
        out[label] = block
    fixed = sum(1 for r in scored if r.get("network_rank", 0) and r["network_rank"] != 1
                and r.get("verified_rank") == 1)
    broke = sum(1 for r in scored if r.get("network_rank") == 1 and r.get("verified_rank") != 1)
    in_top = [r for r in scored if r.get("network_rank") is not None and r["network_rank"] <= 5]
    out["top1_change"] = {
        "fixed": fixed, "broke": broke, "net": fixed - broke,
        "sign_test_p": sign_test(fixed, broke),
        "true_model_in_candidates": len(in_top),
        "verified_top1_given_in_candidates": (
            round(sum(r.get("verified_rank") == 1 for r in in_top) / len(in_top), 4)
            if in_top else None),
        "network_top1_given_in_candidates": (
            round(sum(r["network_rank"] == 1 for r in in_top) / len(in_top), 4)
            if in_top else None),
    }
    secs = [r["verify_seconds"] for r in scored if r.get("verify_seconds") is not None]
    out["verify_seconds"] = {
        "median": percentile(secs, 50), "p90": percentile(secs, 90),
        "mean": float(np.mean(secs)) if secs else None, "max": max(secs) if secs else None,
    }
    loads = [r["load_average"] for r in scored if r.get("load_average") is not None]
    out["load_average_1min"] = {"median": percentile(loads, 50), "max": max(loads) if loads else None}
    out["errors"] = sum(1 for r in rows if r.get("error"))
    out["not_scored_model_unknown_to_network"] = len(rows) - n
    return out


# --- shared machinery ---------------------------------------------------------------------
def load_avg() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def true_rank(ranking, models: list[str]) -> int | None:
    """Best 1-based rank among the accepted ``models`` (None: the network knows none)."""
    ranks = [ranking.models.index(m) + 1 for m in models if m in ranking.models]
    return min(ranks) if ranks else None


def verified_rank(network_rank: int | None, verification, models: list[str]) -> int | None:
    """Rank of the true model after verification: its place in the verified order when it
    was a candidate, else unchanged (verification only re-orders the candidates)."""
    if network_rank is None:
        return None
    order = list(verification.verified_order)
    ranks = [order.index(m) + 1 for m in models if m in order]
    return min(ranks) if ranks else network_rank


def fit_record(c) -> dict:
    """Everything needed to re-score a re-ranking rule offline for one candidate fit."""
    def num(x, digits=6):
        return round(float(x), digits) if x is not None and math.isfinite(x) else None

    return {"probability": num(c.probability), "status": c.status, "converged": c.converged,
            "chi2": num(c.chi2, 4), "chi2r": num(c.chi2r, 4), "aic": num(c.aic, 4),
            "bic": num(c.bic, 4), "n_points": c.n_points, "n_free": c.n_free,
            "posterior": num(c.posterior, 4), "seconds": num(c.seconds, 3),
            "parameters": {k: num(v) for k, v in c.parameters.items()}}


def score_one(ranking, true_model: str, top: int, options: dict, accept=()) -> dict:
    """Network rank, verification and verified rank of one curve (never raises).

    ``accept``: further models counted as correct (equivalent parametrisations)."""
    from sasnets_plugin.suggestion import verify

    correct = [true_model, *accept]
    row: dict = {"true_model": true_model}
    if accept:
        row["also_accepted"] = list(accept)
    row["network_rank"] = true_rank(ranking, correct)
    row["network_top"] = [[m, round(p, 4)] for m, p in ranking.top(top)]
    t = time.perf_counter()
    try:
        v = verify(ranking, top=top, **options)
    except Exception as exc:  # noqa: BLE001 - a benchmark records, it does not stop
        row["verify_seconds"] = time.perf_counter() - t
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["verified_rank"] = row["network_rank"]
        return row
    row["verify_seconds"] = round(time.perf_counter() - t, 3)
    row["load_average"] = load_avg()
    row["verified_order"] = list(v.verified_order)
    row["verified_rank"] = verified_rank(row["network_rank"], v, correct)
    row["fits"] = {c.model: fit_record(c) for c in v.candidates}
    row["temperature"] = round(v.temperature, 3)
    row["resolution"] = v.resolution
    row["workers"] = v.workers
    return row


# --- 1. simulated held-out curves -------------------------------------------------------------
def sample_split(dataset: Path, per_class: int, seed: int, classes=None, split: str = "test"):
    """Rounds of (model, index) pairs: round r holds curve r of every class (shuffled)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from training.dataset import load_split, read_manifest

    models = sorted(read_manifest(dataset)["models"])
    if classes is not None:
        models = [m for m in models if m in set(classes)]
    data = load_split(dataset, split, models=models)
    rng = np.random.default_rng(seed)
    picks = {}
    for m in models:
        idx = np.flatnonzero(data.models == m)
        picks[m] = rng.choice(idx, size=min(per_class, idx.size), replace=False)
    rounds = []
    for r in range(per_class):
        members = [(m, int(picks[m][r])) for m in models if r < len(picks[m])]
        order = rng.permutation(len(members))
        rounds.append([members[i] for i in order])
    return data, rounds


def raw_from_split(split, i: int):
    from sasnets_plugin.loading import RawCurve

    n = int(split.n_points[i])
    q = split.q[i, :n]
    inst = split.params[i].get("instrument", {})
    dq = inst.get("dq_over_q")
    return RawCurve(title=f"{split.split}[{i}] {split.models[i]}", q=q, I=split.I[i, :n],
                    dI=split.dI[i, :n], dQ=None if dq is None else float(dq) * q), dq


def simulated_pd(params: dict) -> dict:
    """Relative polydispersity widths the simulation used (``*_pd`` > 0)."""
    model = params.get("model", {})
    return {k: round(float(v), 4) for k, v in model.items()
            if k.endswith("_pd") and isinstance(v, (int, float)) and v > 0}


def true_model_fits(rows: list[dict]) -> dict:
    """How well the true model's own fit reproduces curves simulated from it."""
    chi = [r["fits"][r["true_model"]]["chi2r"] for r in rows
           if r.get("fits") and r["true_model"] in r["fits"]
           and r["fits"][r["true_model"]]["status"] == "ok"]
    pd = [r["fits"][r["true_model"]]["chi2r"] for r in rows
          if r.get("fits") and r["true_model"] in r["fits"] and r.get("true_pd")
          and r["fits"][r["true_model"]]["status"] == "ok"]
    return {"n": len(chi),
            "fraction_chi2r_below_2": round(np.mean(np.asarray(chi) < 2), 4) if chi else None,
            "median_chi2r": percentile(chi, 50),
            "n_polydisperse": len(pd),
            "fraction_chi2r_below_2_polydisperse": (round(np.mean(np.asarray(pd) < 2), 4)
                                                    if pd else None)}


# --- offline re-scoring of the re-ranking rule --------------------------------------------
#: Fit-failure rates EPS tried by the calibration (1: network order; 0: plain BIC evidence).
FAILURE_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def rescored_rank(row: dict, failure_rate: float) -> int | None:
    """Rank of the true model had the rule used ``failure_rate``."""
    from sasnets_plugin.verification import CandidateFit, rerank

    if row.get("network_rank") is None or not row.get("fits"):
        return row.get("verified_rank")
    models = [m for m, _ in row["network_top"]]
    fits = [CandidateFit(model=m, status=row["fits"][m]["status"],
                         chi2r=_nan(row["fits"][m]["chi2r"]), bic=_nan(row["fits"][m]["bic"]))
            for m in models]
    ranked, _ = rerank(fits, [row["fits"][m]["probability"] or 0.0 for m in models],
                       failure_rate)
    order = [c.model for c in sorted(ranked, key=lambda c: c.verified_rank)]
    correct = [row["true_model"], *row.get("also_accepted", [])]
    ranks = [order.index(m) + 1 for m in correct if m in order]
    return min(ranks) if ranks else row["network_rank"]


def _nan(x) -> float:
    return math.nan if x is None else float(x)


def rescore_grid(rows: list[dict]) -> dict:
    """Top-1/top-3 hits of every ``EPS`` of :data:`FAILURE_GRID`; the chosen one has the
    most top-1 hits (ties: the larger rate, the more cautious rule)."""
    scored = [r for r in rows if r.get("network_rank") is not None and r.get("fits")]
    grid = []
    for eps in FAILURE_GRID:
        ranks = [rescored_rank(r, eps) for r in scored]
        grid.append({"failure_rate": eps, "top1_hits": sum(k == 1 for k in ranks),
                     "top3_hits": sum(k is not None and k <= 3 for k in ranks)})
    best = max(grid, key=lambda g: (g["top1_hits"], g["failure_rate"]))
    return {"n": len(scored), "grid": grid, "chosen_failure_rate": best["failure_rate"],
            "network_top1_hits": sum(r["network_rank"] == 1 for r in scored)}


def run_simulated(classifier, args, options: dict) -> dict:
    from sasnets_plugin.suggestion import prepare, rank

    t_load = time.perf_counter()
    split, rounds = sample_split(args.dataset, args.per_class, args.seed,
                                 args.models.split(",") if args.models else None, args.split)
    load_s = time.perf_counter() - t_load
    unknown = sorted({m for rnd in rounds for m, _ in rnd} - set(classifier.classes))
    print(f"simulated: {sum(map(len, rounds))} curves planned in {len(rounds)} round(s) of "
          f"{len(rounds[0]) if rounds else 0} ({args.split} split loaded in {load_s:.1f} s)")
    if unknown:
        print(f"  note: {len(unknown)} dataset classes are not classes of this network")

    rows: list[dict] = []
    t0 = time.perf_counter()
    budget = args.max_minutes * 60.0
    stopped_early = None
    for r, members in enumerate(rounds):
        elapsed = time.perf_counter() - t0
        if r > 0:
            per_round = elapsed / r
            if elapsed + per_round > budget:
                stopped_early = (f"stopped after {r} of {len(rounds)} rounds: the next round "
                                 f"would take ~{per_round / 60:.1f} min and exceed "
                                 f"--max-minutes {args.max_minutes}")
                print("  " + stopped_early)
                break
        prepared, meta = [], []
        for model, i in members:
            raw, dq = raw_from_split(split, i)
            try:
                prepared.append(prepare(raw))
                meta.append((model, i, dq))
            except Exception as exc:  # noqa: BLE001
                rows.append({"true_model": model, "index": i, "round": r,
                             "error": f"prepare: {type(exc).__name__}: {exc}",
                             "network_rank": None, "verified_rank": None})
        t_rank = time.perf_counter()
        rankings = rank(classifier, prepared)
        rank_s = (time.perf_counter() - t_rank) / max(1, len(prepared))
        for (model, i, dq), ranking in zip(meta, rankings):
            row = score_one(ranking, model, args.top, options)
            row.update(index=i, round=r, n_points=int(split.n_points[i]),
                       dq_over_q=None if dq is None else round(float(dq), 4),
                       rank_seconds=round(rank_s, 4), true_pd=simulated_pd(split.params[i]))
            rows.append(row)
            done = len(rows)
            if done % 10 == 0 or args.verbose:
                print(f"  {done:4d}  {time.perf_counter() - t0:6.0f} s  {model:34s} "
                      f"net {row['network_rank']} -> verified {row['verified_rank']}  "
                      f"({row.get('verify_seconds', 0):.1f} s, load {load_avg()})", flush=True)
    wall = time.perf_counter() - t0

    summary = summarise(rows)
    per_class = {}
    for m in sorted({r["true_model"] for r in rows}):
        mine = [r for r in rows if r["true_model"] == m]
        s = summarise(mine)
        per_class[m] = {"n": s["n"], "network_top1": s["network"]["top1"],
                        "verified_top1": s["verified"]["top1"],
                        "network_top3": s["network"]["top3"],
                        "verified_top3": s["verified"]["top3"],
                        "top5": s["network"]["top5"],
                        "fixed": s["top1_change"]["fixed"], "broke": s["top1_change"]["broke"]}
    hurt = sorted((m for m, s in per_class.items() if s["broke"] > s["fixed"]),
                  key=lambda m: per_class[m]["fixed"] - per_class[m]["broke"])
    helped = sorted((m for m, s in per_class.items() if s["fixed"] > s["broke"]),
                    key=lambda m: per_class[m]["broke"] - per_class[m]["fixed"])
    # which wrong winners verification picks when it breaks a correct top-1
    broke_to = {}
    for r in rows:
        if r.get("network_rank") == 1 and r.get("verified_rank") not in (None, 1):
            winner = r["verified_order"][0] if r.get("verified_order") else None
            broke_to.setdefault(r["true_model"], []).append(winner)
    return {
        "sample": {"per_class_requested": args.per_class, "seed": args.seed,
                   "rounds_planned": len(rounds),
                   "rounds_completed": len({r["round"] for r in rows}),
                   "curves": len(rows), "classes": len(per_class),
                   "classes_unknown_to_network": unknown, "stopped_early": stopped_early,
                   "dataset": str(args.dataset), "split": args.split},
        "wall_seconds": round(wall, 1),
        "summary": summary,
        "true_model_fits": true_model_fits(rows),
        "rescored": rescore_grid(rows),
        "per_class": per_class,
        "classes_where_verification_hurts": hurt,
        "classes_where_verification_helps": helped,
        "broken_top1_replaced_by": broke_to,
        "curves": rows,
    }


# --- 2. real measured curves ------------------------------------------------------------------
def resolve(path: str) -> Path:
    if path.startswith("sasdata:"):
        import sasdata

        return Path(sasdata.__file__).parent / "example_data" / path.split(":", 1)[1]
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def run_real(classifier, args, options: dict) -> dict:
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import prepare, rank

    spec = json.loads(Path(args.labels).read_text())
    entries = spec["files"]
    rows = []
    t0 = time.perf_counter()
    for e in entries:
        path = resolve(e["path"])
        row = {"file": path.name, "dataset": e.get("dataset", 0), "true_model": e["model"],
               "model_generated": e.get("model_generated", False)}
        try:
            raw = load_1d(path)[e.get("dataset", 0)]
            ranking = rank(classifier, [prepare(raw)])[0]
        except Exception as exc:  # noqa: BLE001
            row.update(error=f"{type(exc).__name__}: {exc}", network_rank=None,
                       verified_rank=None)
            rows.append(row)
            print(f"  {path.name}: {row['error']}")
            continue
        row.update(score_one(ranking, e["model"], args.top, options, e.get("also_accept", ())))
        row["n_points"] = int(np.size(raw.q))
        rows.append(row)
        print(f"  {path.name:40s} [{row['dataset']}] {e['model']:20s} net {row['network_rank']} "
              f"-> verified {row['verified_rank']}  top: {row['network_top'][0][0]} -> "
              f"{(row.get('verified_order') or ['?'])[0]}  ({row.get('verify_seconds', 0):.1f} s)",
              flush=True)
    measured = [r for r in rows if not r["model_generated"]]
    generated = [r for r in rows if r["model_generated"]]
    return {
        "labels_file": str(Path(args.labels).relative_to(ROOT)
                           if Path(args.labels).is_relative_to(ROOT) else args.labels),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "summary_all": summarise(rows),
        "summary_measured_only": summarise(measured),
        "summary_model_generated_only": summarise(generated),
        "n_measured": len(measured), "n_model_generated": len(generated),
        "files": rows,
    }


# --- run ------------------------------------------------------------------------------------
def weights_info(classifier) -> dict:
    md = dict(classifier.metadata)
    keep = ("architecture", "n_classes", "temperature", "command", "training", "training_seconds",
            "epochs_run", "test_scores", "baseline", "machine", "preprocessing_version")
    info = {k: md[k] for k in keep if k in md}
    if isinstance(info.get("test_scores"), dict):  # drop bulky per-class arrays
        info["test_scores"] = {k: v for k, v in info["test_scores"].items()
                               if not isinstance(v, (list, dict))}
    info["weights_dir"] = str(classifier.weights_dir)
    model_file = Path(classifier.weights_dir) / "model.keras"
    if model_file.exists():
        info["model_file_mtime"] = _dt.datetime.fromtimestamp(
            model_file.stat().st_mtime, _dt.timezone.utc).isoformat(timespec="seconds")
    return info


def machine_info() -> dict:
    import importlib.metadata as im

    versions = {}
    for pkg in ("sasmodels", "bumps", "sasdata", "tensorflow", "keras", "numpy"):
        try:
            versions[pkg] = im.version(pkg)
        except im.PackageNotFoundError:
            pass
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "packages": versions}


def print_rescore(path: Path) -> int:
    """Print the fit-failure-rate grid re-scored on the simulated curves of a result file."""
    rows = json.loads(path.read_text())["simulated"]["curves"]
    result = rescore_grid(rows)
    print(f"{path.name}: {result['n']} curves, network top-1 hits {result['network_top1_hits']}")
    for g in result["grid"]:
        print(f"  failure rate {g['failure_rate']:4.2f}  top1 {g['top1_hits']:4d}  "
              f"top3 {g['top3_hits']:4d}")
    print(f"chosen failure rate (best top-1, ties -> larger): {result['chosen_failure_rate']}")
    print(json.dumps(true_model_fits(rows)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=3,
                        help="simulated test curves per class (default 3 = 213 curves)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--top", type=int, default=5, help="candidates verified (default 5)")
    parser.add_argument("--workers", type=int, default=None,
                        help="verification worker processes (default: the default pool)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="verification budget per curve (default: the library default)")
    parser.add_argument("--max-minutes", type=float, default=21.0,
                        help="time budget of the simulated part; stops at a round boundary")
    parser.add_argument("--models", default=None,
                        help="comma-separated classes to sample (default: all; for debugging)")
    parser.add_argument("--weights", default=None, help="weights folder (default: bundled)")
    parser.add_argument("--dataset", type=Path, default=DATASET,
                        help="training dataset folder (default build/dataset)")
    parser.add_argument("--split", choices=("test", "val"), default="test",
                        help="split of the simulated curves; 'val' is the calibration mode "
                             "(simulated only, written to " + CALIBRATION.name + ")")
    parser.add_argument("--rescore", type=Path, default=None,
                        help="only re-score the evidence weights on the curves of this "
                             "result file (no fitting) and print the grid")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--output", type=Path, default=None,
                        help=f"default {RESULTS.name} ({CALIBRATION.name} with --split val)")
    parser.add_argument("--simulated-only", action="store_true")
    parser.add_argument("--real-only", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every curve")
    args = parser.parse_args(argv)
    if args.rescore is not None:
        return print_rescore(args.rescore)
    if args.split == "val":
        args.simulated_only = True
    if args.output is None:
        args.output = CALIBRATION if args.split == "val" else RESULTS

    from sasnets_plugin.suggestion import get_classifier
    from sasnets_plugin.verification import DEFAULT_MAX_SECONDS, DEFAULT_N_STARTS, warm_up
    from sasnets_plugin.verification.verify import FIT_FAILURE_RATE, default_workers

    options = {}
    if args.workers is not None:
        options["workers"] = args.workers
    if args.max_seconds is not None:
        options["max_seconds"] = args.max_seconds

    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    classifier = get_classifier(args.weights)
    print(f"network: {len(classifier.classes)} classes from {classifier.weights_dir}")
    t = time.perf_counter()
    workers = args.workers or default_workers(args.top)
    warm_up(workers)
    warm_s = time.perf_counter() - t

    report = {
        "benchmark": "verified_accuracy",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "argv": sys.argv[1:],
        "date_utc": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average_at_start": load_avg(),
        "weights": weights_info(classifier),
        "settings": {
            "sample_size_choice": SAMPLE_SIZE_NOTE,
            "max_minutes_simulated": args.max_minutes,
            "top": args.top,
            "workers": workers,
            "workers_note": "default pool (one per candidate up to the CPU count)"
                            if args.workers is None else "set by --workers",
            "max_seconds": args.max_seconds or DEFAULT_MAX_SECONDS,
            "n_starts": DEFAULT_N_STARTS, "seed": 0,
            "fit_failure_rate": FIT_FAILURE_RATE,
            "pool_warm_up_seconds": round(warm_s, 2),
            "verification_rank_rule": "true model's place in the verified order when it is "
                                      "among the candidates, else its network rank",
        },
    }
    if not args.real_only:
        print(f"--- simulated held-out curves ({args.split} split, {args.per_class}/class, "
              f"seed {args.seed})")
        report["simulated"] = run_simulated(classifier, args, options)
    if not args.simulated_only:
        print(f"--- real measured curves ({args.labels.name})")
        report["real"] = run_real(classifier, args, options)
    report["total_wall_seconds"] = round(time.perf_counter() - t0, 1)
    report["load_average_at_end"] = load_avg()

    for part in ("simulated", "real"):
        if part not in report:
            continue
        s = report[part]["summary"] if part == "simulated" else report[part]["summary_all"]
        n, v, c = s["network"], s["verified"], s["top1_change"]
        print(f"{part:9s} n={s['n']:3d}  top1 {n['top1']:.3f} -> {v['top1']:.3f}   "
              f"top3 {n['top3']:.3f} -> {v['top3']:.3f}   top5 {n['top5']:.3f} -> {v['top5']:.3f}"
              f"   fixed {c['fixed']} broke {c['broke']} (p={c['sign_test_p']})   "
              f"verify median {s['verify_seconds']['median'] or 0:.1f} s "
              f"p90 {s['verify_seconds']['p90'] or 0:.1f} s max {s['verify_seconds']['max'] or 0:.1f} s")
    if "simulated" in report:
        sim = report["simulated"]
        print("true-model fits:", json.dumps(sim["true_model_fits"]))
        r = sim["rescored"]
        print("fit-failure rate grid: top-1 hits",
              {g["failure_rate"]: g["top1_hits"] for g in r["grid"]},
              "chosen:", r["chosen_failure_rate"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(f"wrote {args.output}  ({report['total_wall_seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
