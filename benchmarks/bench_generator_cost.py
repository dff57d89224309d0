"""Worker time per class: generator v4 (this checkout) against v3, measured in one run.

    python benchmarks/bench_generator_cost.py      # -> benchmarks/results/generator_cost.json
    python benchmarks/bench_generator_cost.py --models pringle,sphere --curves 100

Each class's chunk (``--curves`` curves, the dataset's chunk size by default, at a chunk
index outside any dataset) is computed by two long-lived processes, one importing the v3
generator from a detached worktree of :data:`V3_COMMIT` (made once under build/) and one
importing this checkout; the classes alternate between them so both see the same machine
load. The projection multiplies each class's time per curve by the default dataset's
curves per class and divides by the worker processes (2 on this machine), which is what
a run's wall time comes to when the slow chunks are scheduled first (they are).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench_previous_split import checkout

ROOT = Path(__file__).resolve().parent.parent
#: The last commit with generator v3 (the shipped network's data).
V3_COMMIT = "f300263"
#: Reads class names on stdin, prints each chunk's worker time as one JSON line.
MEASURE = """
import json, sys
from training.generate import Chunk, compute_chunk
from training import simulate
seed, count = int(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
for line in sys.stdin:
    model = line.strip()
    simulate.load_model(model)  # compile outside the timing
    result = compute_chunk(Chunk(model, "train", 10**6 + 17, seed, count))
    coverage = result["coverage"]
    print(json.dumps({"model": model, "seconds": result["elapsed_s"], "curves": count,
                      "products": coverage["products"],
                      "upturns": result["stats"].get("upturns", 0)}), flush=True)
"""


class Generator:
    """One generator version in its own process."""

    def __init__(self, root: Path, seed: int, count: int):
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = subprocess.Popen([sys.executable, "-c", MEASURE, str(seed), str(count)],
                                     cwd=root, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"error: the generator in {root} did not start")

    def chunk(self, model: str) -> dict:
        self.proc.stdin.write(model + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"error: the generator process stopped on {model}")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    from training.classes import resolve_models
    from training.generate import (DEFAULT_CHUNK_SIZE, DEFAULT_PER_MODEL, DEFAULT_SEED,
                                   DEFAULT_SHIFTED_PER_MODEL)

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="default", help="classes (default: the 71)")
    parser.add_argument("--curves", type=int, default=DEFAULT_CHUNK_SIZE,
                        help="curves per class and generator")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the projected run")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks/results/generator_cost.json")
    args = parser.parse_args(argv)
    if args.curves < 1 or args.workers < 1:
        parser.error("--curves and --workers must be at least 1")
    models = resolve_models(args.models)
    per_class = DEFAULT_PER_MODEL + DEFAULT_SHIFTED_PER_MODEL
    generators = {"v3": Generator(checkout(V3_COMMIT), DEFAULT_SEED, args.curves),
                  "v4": Generator(ROOT, DEFAULT_SEED, args.curves)}
    rows = {}
    start = time.perf_counter()
    try:
        for i, model in enumerate(models):
            order = ("v3", "v4") if i % 2 == 0 else ("v4", "v3")
            row = {version: generators[version].chunk(model) for version in order}
            rows[model] = {
                **{f"{v}_ms_per_curve": 1000 * row[v]["seconds"] / row[v]["curves"]
                   for v in ("v3", "v4")},
                "speedup": row["v3"]["seconds"] / row["v4"]["seconds"],
                "v4_products": row["v4"]["products"], "v4_upturns": row["v4"]["upturns"]}
            print(f"{model:36s} v3 {rows[model]['v3_ms_per_curve']:8.1f} ms  "
                  f"v4 {rows[model]['v4_ms_per_curve']:8.1f} ms  "
                  f"x{rows[model]['speedup']:.2f}", flush=True)
    finally:
        for generator in generators.values():
            generator.close()
    totals = {v: sum(r[f"{v}_ms_per_curve"] for r in rows.values()) * per_class / 1000
              for v in ("v3", "v4")}
    result = {
        "command": " ".join(["python benchmarks/bench_generator_cost.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "v3_commit": V3_COMMIT, "curves_per_class": args.curves, "classes": len(rows),
        "dataset_curves_per_class": per_class,
        "projected_worker_s": totals,
        "projected_wall_min": {v: t / args.workers / 60 for v, t in totals.items()},
        "workers": args.workers, "speedup": totals["v3"] / totals["v4"],
        "per_class": rows, "measure_s": time.perf_counter() - start,
        "load_average": os.getloadavg()[0],
        "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                 "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d %H:%M")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"projected default dataset ({per_class} curves x {len(rows)} classes, "
          f"{args.workers} workers): v3 {result['projected_wall_min']['v3']:.0f} min, "
          f"v4 {result['projected_wall_min']['v4']:.0f} min (x{result['speedup']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
