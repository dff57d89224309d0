"""How well the shipped network names form@structure products, by how visible S(q) is.

    .venv/bin/python benchmarks/bench_products.py    # writes benchmarks/results/products.json (+ .png)

A product curve is P(q)·S(q), but over a given q window and noise level S(q) may change
the curve by less than its error bars: then no method can tell the product from its form
factor, and the exact ``form@structure`` label is a coin toss. This benchmark scores the
product curves of a dataset split (the evaluation's own cached inputs, so the overall
figure is the report's "exact form@structure in the top 5") in bins of the **structure
contrast**: the reduced χ² of the noiseless product curve against the same form factor
without S(q), best scale, with the curve's own error bars::

    X = min_a mean_i [ s (P_i S_i - a P_i) / (peak · dI_i) ]²

(``s``, ``peak``: the curve's recorded measurement scale and model maximum; unsmeared
theory on the generator's own evaluation grid for that curve, interpolated to the data's q). ``X < 1``: S(q) is inside the noise even before the form's
parameters adjust to it; such curves are products only by their label. The form's
parameters can often absorb more than that, so ``X`` is a necessary, not a sufficient
condition for telling the two apart.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the training package: the dataset and its cache
    sys.path.insert(0, str(ROOT))

from sasnets_plugin.models import products  # noqa: E402
from sasnets_plugin.suggestion import get_classifier  # noqa: E402
from training.dataset import load_split  # noqa: E402
from training.evaluate import form_probabilities, true_ranks  # noqa: E402
from training.features import encode_split  # noqa: E402
from training.simulate import evaluate, loglog_interp  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "products.json"
#: Bin edges of the structure contrast X.
CONTRAST_EDGES = (0.0, 1.0, 10.0, 100.0, 1e3, 1e4, np.inf)
TOP = 5

log = logging.getLogger("bench_products")


def form_parameters(form: str, pars: dict) -> dict:
    """The product's parameters that belong to its form (polydispersity included)."""
    from sasnets_plugin.models import model_info

    known = model_info(form).parameters.defaults
    return {k: v for k, v in pars.items() if k in known or k.partition("_pd")[0] in known}


def structure_contrast(q: np.ndarray, dI: np.ndarray, record: dict) -> float:
    """``X`` of the module docstring for one product curve."""
    label = record["label"]
    form, _ = products.split(label)
    pars = record["model"]
    # on as many points as the generator could afford for this curve, interpolated as it did
    q_eval = np.geomspace(q[0], q[-1], min(q.size, int(record["eval_points"])))
    with_s = loglog_interp(q_eval, evaluate(label, q_eval, pars), q)
    without = loglog_interp(q_eval, evaluate(form, q_eval, form_parameters(form, pars)), q)
    factor = record["measurement"]["scale"] / record["measurement"]["model_peak"] / dI
    x, y = with_s * factor, without * factor
    a = float(np.dot(x, y) / np.dot(y, y))
    return float(np.mean((x - a * y) ** 2))


def scores(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """Exact entry in the top 5, its form in the top 5 (summed over the form's entries),
    and the share of curves the network gives more than half its mass to plain models."""
    if not len(labels):
        return {"n_curves": 0, "exact_top5": None, "form_top5": None, "plain_over_half": None}
    labels = labels.tolist()
    form_probs, forms = form_probabilities(probs, classes)
    form_ranks = true_ranks(form_probs, forms, [products.split(x)[0] for x in labels])
    plain = probs[:, [products.SEPARATOR not in c for c in classes]].sum(1) > 0.5
    return {"n_curves": len(labels),
            "exact_top5": float((true_ranks(probs, classes, labels) <= TOP).mean()),
            "form_top5": float((form_ranks <= TOP).mean()),
            "plain_over_half": float(plain.mean())}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = report["by_contrast"]
    labels = [b["bin"] for b in bins]
    x = np.arange(len(bins))
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for offset, key, name in ((-0.2, "exact_top5", "exact form@structure in top 5"),
                              (0.2, "form_top5", "its form in top 5")):
        ax.bar(x + offset, [100 * (b[key] or 0) for b in bins], 0.4, label=name)
    for i, b in enumerate(bins):
        ax.text(i, 2, f"n={b['n_curves']}", ha="center", fontsize=8, color="white")
    ax.set_xticks(x, labels)
    ax.set_xlabel("structure contrast X (S(q) signal / noise, reduced chi2)")
    ax.set_ylabel("% of product curves")
    ax.set_ylim(0, 100)
    ax.axhline(70, color="grey", lw=0.8, ls="--")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Product curves of the {report['split']} split "
                 f"({report['sampled']['n_curves']} curves)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=ROOT / "build" / "dataset")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "network-v3" / "cache",
                        help="the training run's cache of network inputs (made if missing)")
    parser.add_argument("--split", default="test", choices=("test", "shifted"))
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="compute the contrast of N product curves drawn at random "
                        "(default: all; the overall score always covers all)")
    parser.add_argument("--weights", type=Path, default=None, metavar="DIR",
                        help="the network to score (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    classifier = get_classifier(args.weights)
    forms = classifier.metadata["forms"]
    encoded = encode_split(args.dataset, args.split, forms, classifier.transform.version,
                           args.cache)
    listed = set(classifier.classes)
    every = np.flatnonzero([products.SEPARATOR in str(label) and str(label) in listed
                            for label in encoded.labels])
    every_labels = encoded.labels[every].astype(str)
    every_probs = classifier.predict(np.asarray(encoded.inputs[every]))
    keep = np.arange(len(every))
    if args.sample and args.sample < len(every):
        keep = np.sort(np.random.default_rng(0).choice(keep, args.sample, replace=False))
    rows, labels, probs = every[keep], every_labels[keep], every_probs[keep]

    split = load_split(args.dataset, args.split)
    if [split.params[r]["label"] for r in rows] != labels.tolist():
        raise SystemExit(f"{args.cache}: the cached inputs are not in the dataset's row order")
    start = time.perf_counter()
    contrast = []
    for r in tqdm(rows, desc="structure contrast", mininterval=5.0):
        q, _, dI, _, _ = split.curve(r)
        contrast.append(structure_contrast(q.astype(float), dI.astype(float), split.params[r]))
    contrast = np.array(contrast)
    log.info("structure contrast of %d curves in %.0f s", len(rows), time.perf_counter() - start)

    report = {"split": args.split, "dataset": str(args.dataset),
              "weights": str(classifier.weights_dir),
              "network": classifier.metadata.get("architecture"),
              "preprocessing_version": classifier.transform.version,
              "overall": scores(every_probs, every_labels, classifier.classes),
              "sampled": scores(probs, labels, classifier.classes),
              "contrast_quantiles": dict(zip(("10", "25", "50", "75", "90"),
                                             np.percentile(contrast, [10, 25, 50, 75, 90]).tolist())),
              "by_contrast": [], "by_structure": {}}
    for lo, hi in itertools.pairwise(CONTRAST_EDGES):
        pick = (contrast >= lo) & (contrast < hi)
        name = f">= {lo:g}" if np.isinf(hi) else f"{lo:g}-{hi:g}"
        report["by_contrast"].append({"bin": name, **scores(probs[pick], labels[pick],
                                                             classifier.classes)})
    visible = contrast >= 1.0
    report["visible"] = scores(probs[visible], labels[visible], classifier.classes)
    for structure in products.STRUCTURES:
        pick = np.char.endswith(labels, products.SEPARATOR + structure)
        report["by_structure"][structure] = {
            "all": scores(probs[pick], labels[pick], classifier.classes),
            "visible": scores(probs[pick & visible], labels[pick & visible], classifier.classes)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    plot(report, args.out.with_suffix(".png"))
    log.info("exact form@structure in the top %d: %.1f %% of %d product curves; of the %d "
             "scored for contrast %.1f %%, of their %d with X >= 1 %.1f %%", TOP,
             100 * report["overall"]["exact_top5"], len(every), len(rows),
             100 * report["sampled"]["exact_top5"], int(visible.sum()),
             100 * report["visible"]["exact_top5"])
    log.info("written %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
