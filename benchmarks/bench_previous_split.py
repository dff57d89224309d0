"""The shipped network on the previous network's own test split, beside that network.

    .venv/bin/python benchmarks/bench_previous_split.py   # writes benchmarks/results/previous_split.json

The v2 network was scored on the test split of its own dataset (generator v1: 71 models,
400 curves each, seed 2017): top-1 70.8 %, top-5 93.3 %. That dataset is not kept, but
every chunk is a pure function of (seed, split, model, index), so the previous commit's
generator makes the same curves again. This benchmark

1. checks out the previous commit (:data:`PREVIOUS_COMMIT`) as a git worktree under
   ``build/`` and runs its generator for the test chunks only (two processes);
2. scores the previous network with the previous code (its own cleaning, transform and
   weights) in that checkout: reproducing 70.8 / 93.3 shows the curves are the same;
3. scores the shipped network on the same files with this checkout's loader path
   (:func:`sasnets_plugin.cleaning.clean_curve`, the network's transform): its rank of
   the true model among all the entries it ranks, products included;
4. counts the curves one network has in its top k and the other not (McNemar's test).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from sasnets_plugin.suggestion import get_classifier

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "previous_split.json"
#: The commit that shipped the v2 network (and still held the v1 generator).
PREVIOUS_COMMIT = "312010d580305c2140f2b491a7f4c1441079eb28"
PREVIOUS_SCORE = {"top1": 0.708, "top5": 0.933}
TOP = (1, 3, 5)

log = logging.getLogger("bench_previous_split")

#: Run inside the previous checkout: generate the test chunks (skips finished ones).
GENERATE = """
import sys
from multiprocessing import Pool
from pathlib import Path
from training import generate
from training.classes import resolve_models
out = Path(sys.argv[1])
models = resolve_models("default")
generate.check_or_write_manifest(out, generate.build_manifest(models, 4000, 2017, 250))
chunks = [c for c in generate.plan_chunks(models, 4000, 2017, 250) if c.split == "test"]
chunks.sort(key=generate.estimated_cost, reverse=True)
generate._precompile(models)
with Pool(2) as pool:
    pool.starmap(generate.run_chunk, [(c, out) for c in chunks])
"""

#: Run inside the previous checkout: its network's rank of the true model, per curve.
SCORE = """
import sys
from pathlib import Path
import numpy as np
from sasnets_plugin.classifier import Classifier
from training.features import encode_split
clf = Classifier()
inputs, labels = encode_split(Path(sys.argv[1]), "test", clf.classes)
probs = clf.predict(inputs)
rank = (probs > probs[np.arange(len(labels)), labels][:, None]).sum(1)
np.savez(sys.argv[2], rank=rank, model=np.array(clf.classes)[labels])
"""


def checkout(commit: str) -> Path:
    """A detached worktree of ``commit`` under build/ (made once)."""
    path = ROOT / "build" / f"previous-{commit[:7]}"
    if not (path / "training").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force",
                        str(path), commit], check=True, capture_output=True)
    return path


def _in_checkout(path: Path, script: str, *args: str) -> None:
    subprocess.run([sys.executable, "-c", script, *args], cwd=path, check=True)


def shipped_ranks(dataset: Path, classifier) -> tuple[np.ndarray, np.ndarray]:
    """The shipped network's rank of the true model for every test curve (chunk files of
    the v1 format: q, I, dI NaN-padded to a width, n_points, model attribute)."""
    import h5py

    from sasnets_plugin.cleaning import clean_curve

    index = {name: i for i, name in enumerate(classifier.classes)}
    inputs, truth = [], []
    for path in sorted((dataset / "chunks" / "test").glob("*/*.h5")):
        with h5py.File(path, "r") as handle:
            model = str(handle.attrs["model"])
            for q, i, di, n in zip(handle["q"][()], handle["I"][()], handle["dI"][()],
                                   handle["n_points"][()]):
                curve, _ = clean_curve(q[:n], i[:n], di[:n])
                inputs.append(classifier.transform.encode(curve))
                truth.append(model)
    probs = classifier.predict(np.stack(inputs))
    labels = np.array([index[m] for m in truth])
    return (probs > probs[np.arange(len(labels)), labels][:, None]).sum(1), np.array(truth)


def mcnemar(a: np.ndarray, b: np.ndarray) -> dict:
    """Curves in a's top k but not b's and the reverse, with the two-sided p-value."""
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    z = abs(only_a - only_b) / math.sqrt(max(only_a + only_b, 1))
    return {"only_previous": only_a, "only_shipped": only_b,
            "p_value": math.erfc(z / math.sqrt(2.0))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", default=PREVIOUS_COMMIT)
    parser.add_argument("--weights", type=Path, default=None, metavar="DIR",
                        help="the network to score (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    previous = checkout(args.commit)
    dataset = ROOT / "build" / f"previous-{args.commit[:7]}-test"
    present = len(list((dataset / "chunks" / "test").glob("*/*.h5")))
    start = time.perf_counter()
    log.info("generating the previous test split in %s (%d chunk files there)", dataset, present)
    _in_checkout(previous, GENERATE, str(dataset))
    generated = time.perf_counter() - start
    log.info("scoring the previous network with the previous code")
    _in_checkout(previous, SCORE, str(dataset), str(dataset / "previous_ranks.npz"))
    with np.load(dataset / "previous_ranks.npz") as stored:
        previous_rank, previous_model = stored["rank"], stored["model"]
    log.info("scoring the shipped network")
    classifier = get_classifier(args.weights)
    shipped_rank, shipped_model = shipped_ranks(dataset, classifier)
    if not np.array_equal(previous_model, shipped_model):
        raise SystemExit("the two scorings read the curves in different orders")
    report = {
        "what": "previous network's own test split (regenerated), both networks scored",
        "previous_commit": args.commit, "n_curves": len(shipped_rank),
        "generation_seconds": round(generated, 1), "chunks_present_before": present,
        "previous_score_at_ship": PREVIOUS_SCORE,
        "shipped": {"weights": str(classifier.weights_dir),
                    "architecture": classifier.metadata.get("architecture"),
                    "preprocessing_version": classifier.transform.version,
                    "n_entries": len(classifier.classes)},
        "previous": {f"top{k}": float((previous_rank < k).mean()) for k in TOP},
        "shipped_scores": {f"top{k}": float((shipped_rank < k).mean()) for k in TOP},
        "mcnemar": {f"top{k}": mcnemar(previous_rank < k, shipped_rank < k) for k in TOP},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    for k in TOP:
        log.info("top-%d: previous %.1f %%, shipped %.1f %%", k,
                 100 * report["previous"][f"top{k}"], 100 * report["shipped_scores"][f"top{k}"])
    log.info("written %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
