"""Do the network's estimates start the fits better? The true model fitted from today's
starts and from the estimate, on the same curves.

    .venv/bin/python benchmarks/bench_estimate_starts.py                 # shipped network
    .venv/bin/python benchmarks/bench_estimate_starts.py --weights DIR --curves 142

Curves as ``bench_fit_optimum.py`` makes them (``bench_verified_accuracy.simulated_curve``:
the training simulator's instruments, priors, noise and resolution, products included;
seed stream ``[seed, split, k]``, one class after another of the default models). Each
curve is prepared and ranked by the network as a user's file is
(:func:`sasnets_plugin.suggestion.prepare`, :func:`~sasnets_plugin.suggestion.rank`); its
true model is then fitted twice with ``fit_model`` at the verification's defaults: once
from the invariant guesses and random starts (today's starts), once with the network's
estimate screened first (:meth:`~sasnets_plugin.suggestion.Ranking.estimate`). Counted:
fits within the noise (the fit's own verdict), fits at the optimum (``chi2r <= 1.1 *
truth + 0.1``, ``bench_fit_optimum``), model evaluations and CPU seconds; and the main
size's relative error of the estimate itself.

Results go to ``benchmarks/results/estimate_starts.json``. A network without estimates
(v3) is refused: there is nothing to compare.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "estimate_starts.json"


def _fit(label: str, data, estimate: dict | None) -> dict:
    from sasnets_plugin.verification import fit_model

    cpu = time.process_time()
    fit = fit_model(label, data, estimate=estimate)
    return {"chi2r": round(float(fit.chi2r), 4), "ok": fit.ok, "within_noise": fit.within_noise,
            "evaluations": fit.n_evaluations, "cpu_seconds": round(time.process_time() - cpu, 3),
            "status": fit.status}


def fit_one(item: tuple[str, str, int, int, str | None]) -> dict:
    """Simulate one curve, rank it, fit its true model from both kinds of starts."""
    import math

    from benchmarks.bench_fit_optimum import reaches_optimum
    from benchmarks.bench_verified_accuracy import simulated_curve, truth_chi2r
    from sasnets_plugin.estimates import main_size
    from sasnets_plugin.models import products
    from sasnets_plugin.suggestion import get_classifier, prepare, rank
    from sasnets_plugin.verification.engines import single_threaded_blas

    model, split, k, seed, weights = item
    single_threaded_blas()
    curve, raw = simulated_curve(model, split, k, seed)
    truth = truth_chi2r(curve.params["drawn_as"], raw, curve.params["model"])
    ranking = rank(get_classifier(weights), [prepare(raw)])[0]
    estimate = ranking.estimate(curve.label)
    data = ranking.prepared.data
    row = {"curve": f"{split}[{k}]", "class": model, "model": curve.label,
           "truth_chi2r": truth, "network_rank": ranking.models.index(curve.label) + 1
           if curve.label in ranking.models else None}
    size = main_size(products.split(curve.label)[0])
    if size and size in estimate and size in curve.params["model"]:
        row["size_relative_error"] = round(
            abs(math.log(estimate[size] / curve.params["model"][size])), 4)  # |ln ratio|
    for kind, start in (("today", None), ("estimate", estimate or None)):
        fit = _fit(curve.label, data, start)
        fit["optimum"] = truth is not None and fit["ok"] and reaches_optimum(fit["chi2r"], truth)
        row[kind] = fit
    return row


def _summary(rows: list[dict], kind: str) -> dict:
    fits = [r[kind] for r in rows]
    scored = [r for r in rows if r["truth_chi2r"] is not None]
    products = [r for r in rows if "@" in r["model"]]
    return {"within_noise": sum(f["within_noise"] for f in fits),
            "optimum": sum(r[kind]["optimum"] for r in scored),
            "products_within_noise": sum(r[kind]["within_noise"] for r in products),
            "evaluations_median": statistics.median(f["evaluations"] for f in fits),
            "cpu_seconds_median": round(statistics.median(f["cpu_seconds"] for f in fits), 3),
            "cpu_seconds_total": round(sum(f["cpu_seconds"] for f in fits), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="network folder (default: shipped)")
    parser.add_argument("--curves", type=int, default=71)
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.curves < 1 or args.workers < 1:
        parser.error("--curves and --workers must be at least 1")

    from sasnets_plugin.models import DEFAULT_MODELS
    from sasnets_plugin.suggestion import get_classifier

    if not len(get_classifier(args.weights).estimate_slots):
        parser.error("this network gives no parameter estimates (network v4 does)")
    models = sorted(DEFAULT_MODELS)
    items = [(models[k % len(models)], args.split, k, args.seed, args.weights)
             for k in range(args.curves)]
    t0 = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        for i, row in enumerate(pool.map(fit_one, items), 1):
            rows.append(row)
            print(f"{i:3d} {row['model']:34s} today chi2r {row['today']['chi2r']:<9} "
                  f"({row['today']['evaluations']} ev)  estimate chi2r "
                  f"{row['estimate']['chi2r']:<9} ({row['estimate']['evaluations']} ev)", flush=True)
    errors = sorted(r["size_relative_error"] for r in rows if "size_relative_error" in r)
    summary = {"date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
               "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "weights": args.weights or "model_weights", "curves": len(rows),
               "scored": sum(r["truth_chi2r"] is not None for r in rows),
               "products": sum("@" in r["model"] for r in rows),
               "main_size_median_abs_log_error": (round(statistics.median(errors), 4)
                                                  if errors else None),
               "today": _summary(rows, "today"), "estimate": _summary(rows, "estimate"),
               "wall_seconds": round(time.perf_counter() - t0, 1), "fits": rows}
    for kind in ("today", "estimate"):
        s = summary[kind]
        print(f"{kind:9s}: within noise {s['within_noise']}/{len(rows)}, at optimum "
              f"{s['optimum']}/{summary['scored']}, median {s['evaluations_median']} evaluations, "
              f"{s['cpu_seconds_total']} CPU s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
