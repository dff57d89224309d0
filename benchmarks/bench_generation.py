"""Data generation throughput: serial loop vs Dask LocalCluster with 1 and 2 workers.

    python benchmarks/bench_generation.py            # -> benchmarks/results/generation.json

One fixed workload (chunks of a mix of cheap and expensive classes, outside any dataset's
chunk indices; several chunks per class so that, as in a real run, no single chunk
dominates the parallel time) is computed three ways in one run: in this process, then on a
LocalCluster of 1 and of 2 single-threaded worker processes. Cluster start-up is timed
apart from the work. The ideal for n workers is n times the serial rate; the results
must be bit-identical in every mode (checked, by hashing each chunk's arrays).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The workload: cheap, product-heavy, slow-family and lattice classes.
MODELS = ("sphere", "cylinder", "core_shell_sphere", "lamellar_stack_caille", "mass_fractal",
          "vesicle", "parallelepiped", "pringle", "fcc_paracrystal", "hayter_msa",
          "flexible_cylinder", "pearl_necklace")


def _digest(result: dict) -> str:
    h = hashlib.sha256()
    for key, values in sorted(result["arrays"].items()):
        h.update(key.encode())
        h.update(repr(values.tolist()).encode() if values.dtype == object else values.tobytes())
    return h.hexdigest()


def _serial(chunks) -> tuple[float, list[str], float]:
    """Wall time, digests, and the longest chunk's time (the parallel time's floor)."""
    from training.generate import compute_chunk

    start = time.perf_counter()
    results = [compute_chunk(c) for c in chunks]
    longest = max(r["elapsed_s"] for r in results)
    return time.perf_counter() - start, [_digest(r) for r in results], longest


def _cluster(chunks, workers: int) -> tuple[float, float, list[str]]:
    from distributed import wait

    from sasnets_plugin.cluster import connect
    from training.generate import compute_chunk

    start = time.perf_counter()
    with connect(workers=workers) as client:
        client.wait_for_workers(workers)
        up = time.perf_counter() - start
        start = time.perf_counter()
        futures = [client.submit(compute_chunk, c, pure=False) for c in chunks]
        wait(futures)
        elapsed = time.perf_counter() - start
        digests = [_digest(f.result()) for f in futures]
    return up, elapsed, digests


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curves", type=int, default=100, help="curves per class")
    parser.add_argument("--chunk", type=int, default=25, help="curves per chunk")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/generation.json")
    args = parser.parse_args(argv)

    from training import simulate
    from training.generate import DEFAULT_SEED, Chunk

    per_class = max(1, args.curves // args.chunk)
    chunks = [Chunk(m, "train", 10**6 + 1000 * i + j, DEFAULT_SEED, args.chunk)
              for i, m in enumerate(MODELS) for j in range(per_class)]
    n_curves = sum(c.count for c in chunks)
    for model in MODELS:  # compile once, before any timing
        simulate.load_model(model)
    _serial([Chunk(m, "train", 2 * 10**6, DEFAULT_SEED, 2) for m in MODELS])  # warm
    load_before = os.getloadavg()[0]
    serial_s, reference, longest = _serial(chunks)
    rows = {"serial": {"seconds": serial_s, "curves_per_s": n_curves / serial_s,
                       "longest_chunk_s": longest, "identical": True}}
    for workers in (1, 2):
        up, elapsed, digests = _cluster(chunks, workers)
        rate = n_curves / elapsed
        rows[f"local_cluster_{workers}"] = {
            "workers": workers, "startup_s": up, "seconds": elapsed, "curves_per_s": rate,
            "speedup_vs_serial": serial_s / elapsed,
            "ideal_curves_per_s": workers * rows["serial"]["curves_per_s"],
            "ideal_seconds_bound": max(serial_s / workers, longest),
            "efficiency": rate / (workers * rows["serial"]["curves_per_s"]),
            "identical": digests == reference}
    command = " ".join(["python benchmarks/bench_generation.py", *(argv or sys.argv[1:])])
    result = {"command": command, "models": MODELS,
              "curves_per_class": per_class * args.chunk, "curves_per_chunk": args.chunk,
              "chunks": len(chunks), "curves": n_curves, "modes": rows,
              "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
              "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                       "platform": platform.platform()},
              "date": time.strftime("%Y-%m-%d %H:%M")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, row in rows.items():
        print(f"{name:16s} {row['curves_per_s']:7.1f} curves/s"
              + (f"  x{row['speedup_vs_serial']:.2f} (ideal x{row['workers']})"
                 if "workers" in row else "") + f"  identical={row['identical']}")
    return 0 if all(r["identical"] for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
