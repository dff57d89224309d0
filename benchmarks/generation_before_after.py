"""The v4 dataset's generation against v3's: worker time per curve and class, and what the
curves hold.

    .venv/bin/python benchmarks/generation_before_after.py            # the default v4 dataset
    .venv/bin/python benchmarks/generation_before_after.py --after DIR

Reads two ``generation_report.json`` files (``--before``: v3's, kept in
``benchmarks/results/generation_report.json``; ``--after``: the finished v4 dataset's,
by default the one ``python -m training.run`` makes in the data directory) and the v4
chunk files' own counts (low-q upturns, size families, which the report does not sum).
Worker time per curve is the chunks' own ``elapsed_s`` (time inside the worker, so the
load of the machine while generating enters both sides). Writes
``benchmarks/results/generation_v3_v4.json`` and copies the v4 report beside v3's as
``generation_report_v4.json``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
BEFORE = RESULTS / "generation_report.json"


def chunk_counts(dataset: Path) -> dict:
    """Upturns, size families and kernel points summed over the chunk files' stats."""
    import h5py

    stats: Counter = Counter()
    curves = 0
    for path in sorted((dataset / "chunks").glob("*/*/*.h5")):
        with h5py.File(path, "r") as handle:
            stats.update(json.loads(handle.attrs.get("stats", "{}")))
            curves += int(handle.attrs["count"])
    return {"curves": curves, **{k: int(v) for k, v in sorted(stats.items())}}


def compare(before: dict, after: dict) -> dict:
    """Per class: worker seconds per curve before and after, and their ratio."""
    rows = {}
    for model, new in after["rejections"].items():
        old = before["rejections"].get(model)
        rows[model] = {"v3_ms_per_curve": (round(1000 * old["worker_s_per_curve"], 2)
                                           if old else None),
                       "v4_ms_per_curve": round(1000 * new["worker_s_per_curve"], 2),
                       "speedup": (round(old["worker_s_per_curve"] / new["worker_s_per_curve"], 2)
                                   if old else None)}
    return rows


def main(argv=None) -> int:
    from sasnets_plugin.models import DEFAULT_MODELS
    from training.generate import DEFAULT_PER_MODEL, DEFAULT_SEED, DEFAULT_SHIFTED_PER_MODEL
    from training.storage import default_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=BEFORE)
    parser.add_argument("--after", type=Path, default=None,
                        help="the v4 dataset folder (default: the data directory's)")
    parser.add_argument("--output", type=Path, default=RESULTS / "generation_v3_v4.json")
    args = parser.parse_args(argv)
    dataset = args.after or default_dataset(list(DEFAULT_MODELS), DEFAULT_PER_MODEL,
                                            DEFAULT_SHIFTED_PER_MODEL, DEFAULT_SEED)
    report_path = dataset / "generation_report.json"
    if not report_path.is_file():
        parser.error(f"{report_path} does not exist: the generation has not finished")
    before = json.loads(args.before.read_text())
    after = json.loads(report_path.read_text())
    per_class = compare(before, after)
    labels = after["labels"]
    n = sum(labels.values())
    combinable = {m.partition("@")[0] for m in labels if "@" in m}
    of_combinable = sum(v for m, v in labels.items() if m.partition("@")[0] in combinable)
    counts = chunk_counts(dataset)
    last = after["runs"][-1]
    worker = {v: sum(r[f"v{v}_ms_per_curve"] * after["rejections"][m]["accepted"]
                     for m, r in per_class.items() if r[f"v{v}_ms_per_curve"]) / 1000
              for v in (3, 4)}
    result = {
        "dataset": str(dataset), "curves": n,
        "wall_s": {"v3": before["total_wall_s"], "v4": after["total_wall_s"]},
        "worker_s": {"v3": round(worker[3]), "v4": round(worker[4])},
        "worker_speedup": round(worker[3] / worker[4], 2),
        "v4_runs": after["runs"],
        "fractions": {**last.get("fractions", {}),
                      "products_of_combinable_forms": round(
                          sum(v for m, v in labels.items() if "@" in m) / of_combinable, 4),
                      "upturns": round(counts.get("upturns", 0) / counts["curves"], 4)},
        "archetypes": last.get("archetypes"),
        "chunk_stats": counts,
        "per_class": per_class,
    }
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    shutil.copy2(report_path, RESULTS / "generation_report_v4.json")
    print(f"{n} curves; worker time v3 {result['worker_s']['v3']} s -> v4 "
          f"{result['worker_s']['v4']} s ({result['worker_speedup']}x); wall v4 "
          f"{after['total_wall_s']:.0f} s; products {result['fractions']['products_of_combinable_forms']:.1%} "
          f"of the combinable forms' curves; upturns {result['fractions']['upturns']:.1%}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
