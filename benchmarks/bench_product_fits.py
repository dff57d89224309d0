"""How often the fit of the *true* product reaches the noise, under fit settings to compare.

    .venv/bin/python benchmarks/bench_product_fits.py                      # default settings
    .venv/bin/python benchmarks/bench_product_fits.py --variant 12:3e6     # n_starts:work

The verification can only confirm a product ``form@structure`` whose fit reaches the noise.
This benchmark isolates that step: it takes the product curves of a
``bench_verified_accuracy.py`` result (validation and test), keeps those whose true
parameters fit within the noise (its ``truth_chi2r`` <= ``NOISE_CHI2R``: the data *can*
be fitted by the true product), regenerates each curve from its seed stream (checked
against the recorded label) and fits the true product with
:func:`sasnets_plugin.verification.fitting.fit_model` under the default settings and under
every ``--variant`` (``n_starts:work``), on a pool of worker processes with one BLAS
thread each, as the verification runs them. Every fit is a pure function of (model,
data, settings), so the counts do not depend on the machine's load; the CPU seconds do.

Each fit is also scored against the optimum (``bench_fit_optimum.reaches_optimum``:
``chi2r <= 1.1 * truth + 0.1``, the truth's chi2r recomputed with this code's smearing
and weights: the recorded one may come from another version).

Writes ``benchmarks/results/product_fits.json``: per variant the number of fits within
the noise and at the optimum, their CPU time, and every fit's reduced chi2.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_verified_accuracy import RESULTS as VERIFIED  # noqa: E402
from benchmarks.bench_fit_optimum import FACTOR, SLACK, reaches_optimum  # noqa: E402
from benchmarks.bench_verified_accuracy import (  # noqa: E402
    machine_info,
    simulated_curve,
    truth_chi2r,
)
from sasnets_plugin.verification import DEFAULT_WORK, NOISE_CHI2R  # noqa: E402
from sasnets_plugin.verification.verify import DEFAULT_N_STARTS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "product_fits.json"
#: The result file's parts that hold simulated curves, and their seed-stream split.
PARTS = {"validation": "val", "test": "test"}


def product_curves(report: dict, classes: list[str]) -> list[dict]:
    """The product curves of a verified-accuracy result whose truth fits within the noise,
    with what regenerates them (class, split, index, seed)."""
    seed = report["settings"]["seed"]
    out = []
    for part, split in PARTS.items():
        for row in report[part]["curves"]:
            truth = row.get("truth_chi2r")
            if "@" not in row["true_model"] or truth is None or truth > NOISE_CHI2R:
                continue
            k = int(row["title"].split("[", 1)[1].split("]", 1)[0])
            out.append({"split": split, "k": k, "seed": seed,
                        "class": row.get("class", classes[k % len(classes)]),
                        "label": row["true_model"], "truth_chi2r": truth})
    return out


def fit_one(item: dict, n_starts: int, work: float) -> dict:
    """Regenerate one curve and fit its true product (in a worker process)."""
    from sasnets_plugin.verification import fit_model, prepare_data
    from sasnets_plugin.verification.engines import single_threaded_blas

    single_threaded_blas()
    curve, raw = simulated_curve(item["class"], item["split"], item["k"], item["seed"])
    if curve.label != item["label"]:
        raise RuntimeError(f"{item['split']}[{item['k']}] regenerates as {curve.label}, "
                           f"not {item['label']}: another generator or class list")
    data, _ = prepare_data(raw)
    truth = truth_chi2r(curve.params["drawn_as"], raw, curve.params["model"])
    cpu = time.process_time()
    fit = fit_model(item["label"], data, n_starts=n_starts, work=work)
    return {"curve": f"{item['split']}[{item['k']}]", "model": item["label"],
            "truth_chi2r": truth, "chi2r": round(float(fit.chi2r), 4),
            "optimum": truth is not None and fit.ok and reaches_optimum(fit.chi2r, truth),
            "within_noise": bool(fit.within_noise), "converged": bool(fit.converged),
            "cut": fit.cut, "cpu_seconds": round(time.process_time() - cpu, 3)}


def parse_variant(text: str) -> tuple[int, float]:
    """``"12:3e6"`` -> ``(12, 3e6)``: refined starts (at least 1) and work (positive)."""
    starts, _, work = text.partition(":")
    try:
        n_starts, budget = int(starts), float(work)
    except ValueError:
        n_starts, budget = 0, 0.0
    if n_starts < 1 or not budget > 0:
        raise argparse.ArgumentTypeError(
            f"expected n_starts:work with n_starts >= 1 and work > 0 (e.g. 12:3e6), not {text!r}")
    return n_starts, budget


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verified", type=Path, default=VERIFIED,
                        help="bench_verified_accuracy.py result to take the curves from")
    parser.add_argument("--variant", type=parse_variant, action="append", default=[],
                        metavar="N_STARTS:WORK", help="fit settings besides the default "
                        f"({DEFAULT_N_STARTS}:{DEFAULT_WORK:g}); repeatable")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    if not args.verified.is_file():
        parser.error(f"no verified-accuracy result at {args.verified} (run "
                     "benchmarks/bench_verified_accuracy.py first)")

    from sasnets_plugin.suggestion import get_classifier

    report = json.loads(args.verified.read_text())
    items = product_curves(report, list(get_classifier().classes))
    variants = [(DEFAULT_N_STARTS, DEFAULT_WORK), *args.variant]
    result = {"benchmark": "product_fits",
              "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "date_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
              "machine": machine_info(), "source": str(args.verified.relative_to(ROOT)
                                                       if args.verified.is_relative_to(ROOT)
                                                       else args.verified),
              "noise_chi2r": NOISE_CHI2R,
              "optimum": f"chi2r <= {FACTOR} * truth_chi2r + {SLACK} (truth recomputed with "
                         "this code's smearing and weights)",
              "curves": len(items), "variants": []}
    print(f"{len(items)} product curves whose truth fits within the noise")
    with ProcessPoolExecutor(args.workers) as pool:
        for n_starts, work in variants:
            t0 = time.perf_counter()
            fits = list(pool.map(fit_one, items, repeat(n_starts), repeat(work)))
            within = sum(f["within_noise"] for f in fits)
            optimum = sum(f["optimum"] for f in fits)
            cpu = round(sum(f["cpu_seconds"] for f in fits), 1)
            result["variants"].append({"n_starts": n_starts, "work": work,
                                       "within_noise": within, "reached_optimum": optimum,
                                       "cpu_seconds": cpu,
                                       "wall_seconds": round(time.perf_counter() - t0, 1),
                                       "fits": fits})
            print(f"n_starts {n_starts:3d} work {work:8.3g}: {within}/{len(fits)} within the "
                  f"noise, {optimum} reach the optimum, {cpu} CPU s", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
