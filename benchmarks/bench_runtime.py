"""Runtime benchmark: CLI cold start, warm ``suggest()`` latency, throughput on 2,000 curves.

    .venv/bin/python benchmarks/bench_runtime.py          # writes benchmarks/results/runtime.json

Every figure comes with a baseline measured in the same run (this machine is noisy):
cold start against a bare ``import tensorflow`` process, warm latency against the
network call alone, batch throughput against one-by-one ``suggest()`` calls.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "runtime.json"
CLI = Path(sys.executable).parent / "sasnets-suggest"


def _wall(cmd: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def _example_curves(n: int) -> list[Path]:
    """n data files: sasdata's rankable 1D examples, copied round-robin into a temporary folder."""
    from sasnets_plugin.cli import demo_files
    from sasnets_plugin.errors import SasnetsError
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import prepare

    sources = []
    for path in sorted(demo_files()[0].parent.iterdir()):
        try:
            prepare(load_1d(path)[0])
        except SasnetsError:  # keep only the files the CLI ranks
            continue
        if path.stat().st_size < 200_000:
            sources.append(path)
    folder = Path(tempfile.mkdtemp(prefix="sasnets-bench-"))
    files = []
    for i in range(n):
        src = sources[i % len(sources)]
        dst = folder / f"{i:05d}_{src.name}"
        shutil.copyfile(src, dst)
        files.append(dst)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold-start repetitions")
    parser.add_argument("--calls", type=int, default=300, help="warm suggest() calls")
    parser.add_argument("--curves", type=int, default=2000, help="throughput set size")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from sasnets_plugin.cli import demo_files
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import get_classifier, prepare, rank, suggest

    example = demo_files()[0]
    result: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "python": platform.python_version()}}

    # 1. cold start: the whole CLI process on one file vs a bare TensorFlow import
    cli = _wall([str(CLI), str(example)], args.repeats)
    tf_only = _wall([sys.executable, "-c", "import tensorflow"], args.repeats)
    result["cold_start_s"] = {
        "cli_one_file_median": statistics.median(cli), "cli_runs": cli,
        "baseline_import_tensorflow_median": statistics.median(tf_only),
        "ratio_cli_over_tf_import": statistics.median(cli) / statistics.median(tf_only),
    }

    # 2. warm latency: suggest() on a loaded file, vs the network call on a prepared input
    raw = load_1d(example)[0]
    classifier = get_classifier()
    suggest(raw.q, raw.I, raw.dI)  # warm-up: loads the network, traces the graph
    times = []
    for _ in range(args.calls):
        start = time.perf_counter()
        suggest(raw.q, raw.I, raw.dI)
        times.append(time.perf_counter() - start)
    prepared = prepare(raw)
    net = []
    for _ in range(args.calls):
        start = time.perf_counter()
        classifier.predict(prepared.inputs)
        net.append(time.perf_counter() - start)
    result["warm_suggest_ms"] = {
        "median": 1e3 * statistics.median(times), "p90": 1e3 * float(np.percentile(times, 90)),
        "baseline_network_call_median": 1e3 * statistics.median(net),
        "ratio_suggest_over_network_call": statistics.median(times) / statistics.median(net),
        "calls": args.calls,
    }

    # 3. throughput on 2,000 curves: batch ranking vs one-by-one, then the CLI on 2,000 files
    files = _example_curves(args.curves)
    raws = [load_1d(f)[0] for f in files]
    start = time.perf_counter()
    rank(classifier, [prepare(r) for r in raws])
    batch_s = time.perf_counter() - start
    start = time.perf_counter()
    for r in raws[:200]:
        suggest(r.q, r.I, r.dI)
    single_s = (time.perf_counter() - start) * len(raws) / 200
    start = time.perf_counter()
    proc = subprocess.run([str(CLI), "--json", *map(str, files)], capture_output=True, text=True)
    cli_s = time.perf_counter() - start
    ranked = sum("suggestions" in r for r in json.loads(proc.stdout))
    shutil.rmtree(files[0].parent)
    result["throughput"] = {
        "curves": len(raws),
        "batch_in_process_s": batch_s, "batch_curves_per_s": len(raws) / batch_s,
        "baseline_one_by_one_s_extrapolated": single_s,
        "speedup_batch_over_one_by_one": single_s / batch_s,
        "cli_files": len(files), "cli_s": cli_s, "cli_files_ranked": ranked,
        "cli_exit_status": proc.returncode, "cli_ms_per_file": 1e3 * cli_s / len(files),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
