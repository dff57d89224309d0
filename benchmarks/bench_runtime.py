"""Runtime benchmark: the light runtime (LiteRT) beside the TensorFlow path, in one run.

    .venv/bin/python benchmarks/bench_runtime.py          # writes benchmarks/results/runtime.json

Measured for both ``--runtime litert`` (the default) and ``--runtime keras`` (TensorFlow,
CPU), so that every figure has its TensorFlow counterpart from the same run on the same
(noisy, 2-core) machine:

* cold start: ``sasnets-suggest FILE`` as a whole process (wall time and peak memory),
  beside a bare ``python -c "import numpy"``; and, inside a fresh process, ``import
  sasnets_plugin`` + ``suggest_file(FILE)`` (TensorFlow: the same with the Keras network);
* warm latency of ranking one loaded curve (what ``suggest()`` does) and of the network
  call alone;
* 2,000 curves ranked in one batch, against one call per curve, then the CLI on 2,000
  files (light runtime);
* equality: the largest difference between the two runtimes' probabilities on realistic
  inputs, i.e. every 1D example file of sasdata plus curves simulated by the training
  simulator (``training.simulate``, same priors and instruments as the training data; the
  test split itself is not on disk here).

Targets (issue 15): cold CLI < 1.5 s, warm latency <= 2 ms, difference <= 1e-5.
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
RUNTIMES = ("litert", "keras")
TARGETS = {"cold_cli_s": 1.5, "warm_ms": 2.0, "max_abs_difference": 1e-5}

#: Fresh process: import the package and rank one file; prints the in-process seconds.
IN_PROCESS = {
    "litert": "import time; t = time.perf_counter()\n"
              "import sasnets_plugin\n"
              "sasnets_plugin.suggest_file(FILE)\n"
              "print(time.perf_counter() - t)\n",
    "keras": "import time; t = time.perf_counter()\n"
             "import sasnets_plugin\n"
             "from sasnets_plugin.loading import load_1d\n"
             "from sasnets_plugin.suggestion import get_classifier, prepare, rank\n"
             "rank(get_classifier(runtime='keras'), [prepare(load_1d(FILE)[0])])[0].top(5)\n"
             "print(time.perf_counter() - t)\n",
}


def _process(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident memory (MiB) and stdout of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} exited with {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, out


def cold_starts(example: Path, repeats: int) -> dict:
    """Every cold measurement, interleaved round by round so that a busy moment of the
    machine hits them alike."""
    commands = {"import_numpy": [sys.executable, "-c", "import numpy"]}
    for runtime in RUNTIMES:
        commands[f"cli_{runtime}"] = [str(CLI), str(example), "--runtime", runtime]
        commands[f"import_and_suggest_file_{runtime}"] = [
            sys.executable, "-c", f"FILE = {str(example)!r}\n" + IN_PROCESS[runtime]]
    runs: dict[str, list[tuple[float, float, str]]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            runs[name].append(_process(cmd))
    out = {}
    for name, measured in runs.items():
        walls = [w for w, _, _ in measured]
        entry = {"wall_s_median": statistics.median(walls), "wall_s_runs": walls,
                 "peak_rss_mib_median": statistics.median(m for _, m, _ in measured)}
        if name.startswith("import_and"):
            entry["in_process_s_median"] = statistics.median(float(o) for *_, o in measured)
        out[name] = entry
    return out


def _timed(fn, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def simulated_curves(per_model: int, seed: int) -> list:
    """``per_model`` curves of every class, from the training simulator (raw q, I, dI)."""
    from sasnets_plugin.loading import RawCurve
    from sasnets_plugin.suggestion import get_classifier
    from training import simulate

    rng = np.random.default_rng(seed)
    curves = []
    for model in get_classifier().classes:
        for c in simulate.simulate_curves(model, rng, per_model):
            curves.append(RawCurve(f"{model} (simulated)", c.q, c.I, c.dI))
    return curves


def example_curves() -> list:
    """Every 1D data set of sasdata's example files that the runtime ranks."""
    from sasnets_plugin.cli import demo_files
    from sasnets_plugin.errors import SasnetsError
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import prepare

    curves = []
    for path in sorted(demo_files()[0].parent.iterdir()):
        try:
            for curve in load_1d(path):
                prepare(curve)
                curves.append(curve)
        except SasnetsError:
            continue
    return curves


def example_files(n: int) -> list[Path]:
    """n copies, round-robin, of sasdata's rankable 1D example files under 200 kB."""
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
    parser.add_argument("--repeats", type=int, default=5, help="cold-start rounds")
    parser.add_argument("--calls", type=int, default=300, help="warm calls per runtime")
    parser.add_argument("--curves", type=int, default=2000, help="batch size")
    parser.add_argument("--per-model", type=int, default=4,
                        help="simulated curves per class for the equality check")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from sasnets_plugin import environment
    from sasnets_plugin.cli import demo_files
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import get_classifier, prepare, rank

    environment.configure()
    example = demo_files()[0]
    result: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "python": platform.python_version()},
                    "example_file": example.name, "targets": TARGETS}

    # 1. cold start, before this process loads anything heavy
    result["cold_start"] = cold_starts(example, args.repeats)

    classifiers = {r: get_classifier(runtime=r) for r in RUNTIMES}
    result["devices"] = {r: c.device for r, c in classifiers.items()}

    # 2. warm latency: one loaded curve ranked (what suggest() does), and the network alone
    raw = load_1d(example)[0]
    result["warm_ms"] = {}
    for runtime, classifier in classifiers.items():
        prepared = prepare(raw, classifier.transform)  # the network's own preprocessing
        rank(classifier, [prepare(raw)])  # warm-up (TensorFlow traces its graph)
        ranking = _timed(lambda: rank(classifier, [prepare(raw)])[0].top(5), args.calls)
        network = _timed(lambda: classifier.predict(prepared.inputs), args.calls)
        result["warm_ms"][runtime] = {
            "rank_one_curve_median": 1e3 * statistics.median(ranking),
            "rank_one_curve_p90": 1e3 * float(np.percentile(ranking, 90)),
            "network_call_median": 1e3 * statistics.median(network), "calls": args.calls}

    # 3. 2,000 curves: one batch vs one call per curve; then the CLI on 2,000 files
    files = example_files(args.curves)
    raws = [load_1d(f)[0] for f in files]
    result["batch"] = {"curves": len(raws)}
    for runtime, classifier in classifiers.items():
        start = time.perf_counter()
        items = [prepare(r, classifier.transform) for r in raws]
        prepare_s = time.perf_counter() - start
        start = time.perf_counter()
        rank(classifier, items)
        rank_s = time.perf_counter() - start
        start = time.perf_counter()
        for item in items[:200]:
            rank(classifier, [item])
        single_s = (time.perf_counter() - start) * len(items) / 200
        result["batch"][runtime] = {
            "prepare_s": prepare_s, "rank_batch_s": rank_s,
            "curves_per_s": len(raws) / (prepare_s + rank_s),
            "rank_one_by_one_s_extrapolated_from_200": single_s}
    start = time.perf_counter()
    proc = subprocess.run([str(CLI), "--json", *map(str, files)], capture_output=True, text=True)
    cli_s = time.perf_counter() - start
    shutil.rmtree(files[0].parent)
    result["batch"]["cli_files_litert"] = {
        "files": len(files), "wall_s": cli_s, "ms_per_file": 1e3 * cli_s / len(files),
        "ranked": sum("suggestions" in r for r in json.loads(proc.stdout)),
        "exit_status": proc.returncode}

    # 4. equality on realistic inputs
    examples, simulated = example_curves(), simulated_curves(args.per_model, seed=15)
    transform = classifiers["litert"].transform
    inputs = np.stack([prepare(c, transform).inputs for c in examples + simulated])
    light, keras = (classifiers[r].predict(inputs) for r in RUNTIMES)
    difference = np.abs(light - keras)
    result["equality"] = {
        "example_data_sets": len(examples), "simulated_curves": len(simulated),
        "max_abs_difference": float(difference.max()),
        "top1_agreement": float(np.mean(light.argmax(1) == keras.argmax(1)))}

    cold = result["cold_start"]
    result["targets_met"] = {
        "cold_cli": cold["cli_litert"]["wall_s_median"] < TARGETS["cold_cli_s"],
        "warm": result["warm_ms"]["litert"]["rank_one_curve_median"] <= TARGETS["warm_ms"],
        "equality": result["equality"]["max_abs_difference"] <= TARGETS["max_abs_difference"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
