"""Calibrate on validation; score on test, shifted and the labelled real files; fit and
measure the out-of-distribution score; numbers (``report.json``, ``report.md``) + plots.

Every network is scored on the same curves and the same ranked list (the dataset's
models and their allowed ``form@structure`` products):

* the trained v3 networks (and each ensemble member on its own),
* the 2017 baseline trained on the same data (``sasnets2017``),
* the *shipped* network (``model_weights/`` by default), run by the runtime with its own
  preprocessing version: it ranks no products, so a product curve counts as a miss for
  it in the exact scores, and its form scores say whether it found the form.

Scores per split: top-1/3/5 and mean rank of the exact label, the same for the form
alone, ECE of the top-1 probability, the 90 % credible set (the most probable models
until their probabilities reach 90 %: how often it holds the true label, and its mean
size), and the product curves apart. The OOD score is fitted on training and validation
curves (:mod:`training.ood`) and its AUROC measured against the test split for the
shifted split, far-out windows (the test curves with q multiplied, as when q in 1/nm is
read as 1/Å) and curves of models the network never saw.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from sasnets_plugin.models import products

from . import atomic
from .heads import form_of_joint, joint_matrix, joint_probabilities

log = logging.getLogger(__name__)

#: Probability mass of the credible set.
CREDIBLE_MASS = 0.9
#: Default number of curves per split whose credible set and top 5 are checked for models
#: the data cannot tell from the true one (each miss costs a few fits).
EQUIVALENT_SAMPLE = 100
#: The top-k that the Network v3 issue's shifted-split target counts equivalents in.
EQUIVALENT_TOP = 5
#: Far-out windows: the test curves with q (and dQ, slit) multiplied by these factors.
FAR_WINDOWS = {"q x 10 (1/nm read as 1/Å)": 10.0, "q x 1000": 1e3, "q / 1000": 1e-3}
#: Models outside the ranked list simulated as "never seen" shapes (those with a file in
#: sasnets_plugin/models), at most N_UNSEEN_MODELS of them, UNSEEN_PER_MODEL curves each.
UNSEEN_CANDIDATES = ("superball", "core_shell_sphere", "guinier", "pringle", "fuzzy_sphere")
N_UNSEEN_MODELS = 2
UNSEEN_PER_MODEL = 60
#: Labelled real files (see benchmarks/real_data/README.md).
REAL_LABELS = Path(__file__).resolve().parent.parent / "benchmarks" / "real_data" / "labels.json"
REPORT_FILE, SUMMARY_FILE = "report.json", "report.md"


# --------------------------------------------------------------------------- calibration

def predict_heads(model, inputs: np.ndarray, batch_size: int = 2048) -> list[np.ndarray]:
    """``[form logits, structure logits, embedding]`` (+ ``[estimates]`` for a network
    with them) of ``model`` on ``inputs``, in batches (a memory-mapped split is read a
    batch at a time)."""
    parts: list[list[np.ndarray]] = [[] for _ in model.outputs]
    for start in range(0, len(inputs), batch_size):
        batch = np.asarray(inputs[start:start + batch_size], dtype=np.float32)
        for part, out in zip(parts, model.predict_on_batch(batch)):
            part.append(np.asarray(out, dtype=np.float64))
    return [np.concatenate(p) if p else np.empty((0, 0)) for p in parts]


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T minimising the validation negative log-likelihood of softmax(logits / T)."""
    if not len(labels):
        return 1.0

    def nll(log_t: float) -> float:
        return -log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean()

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


@dataclass(frozen=True)
class Calibrated:
    """A trained network's heads turned into probabilities over the ranked list."""

    temperature_form: float
    temperature_structure: float
    matrix: np.ndarray

    def probabilities(self, form_logits: np.ndarray, structure_logits: np.ndarray) -> np.ndarray:
        return joint_probabilities(log_softmax(form_logits / self.temperature_form, axis=1),
                                   log_softmax(structure_logits / self.temperature_structure, axis=1),
                                   self.matrix)


def calibrate(val_heads: list[np.ndarray], val_targets, forms: list[str]) -> Calibrated:
    """Temperatures of both heads on validation (the structure head on curves whose form
    is combinable, the only ones it is trained on)."""
    valid = val_targets.valid
    combinable = valid & (val_targets.structure_weight > 0)
    return Calibrated(fit_temperature(val_heads[0][valid], val_targets.form[valid]),
                      fit_temperature(val_heads[1][combinable], val_targets.structure[combinable]),
                      joint_matrix(forms))


# --------------------------------------------------------------------------- scores

def expected_calibration_error(probs: np.ndarray, correct_top1: np.ndarray,
                               n_bins: int = 15) -> float:
    """ECE of the top-1 probability: mean |accuracy - confidence| over equal-width bins."""
    confidence = probs.max(axis=1)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(correct_top1[inside].mean() - confidence[inside].mean())
    return float(ece)


def reliability(probs: np.ndarray, correct_top1: np.ndarray, n_bins: int = 10) -> dict:
    """Accuracy and confidence per confidence bin (the calibration plot)."""
    confidence = probs.max(axis=1)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    rows = [(float(confidence[bins == b].mean()), float(correct_top1[bins == b].mean()),
             int((bins == b).sum())) for b in range(n_bins) if (bins == b).any()]
    return {"confidence": [r[0] for r in rows], "accuracy": [r[1] for r in rows],
            "count": [r[2] for r in rows]}


def true_ranks(probs: np.ndarray, names: list[str], labels: list[str]) -> np.ndarray:
    """Rank (1 = first) of each true label in its row; len(names) + 1 when not listed."""
    index = {n: i for i, n in enumerate(names)}
    out = np.full(len(labels), len(names) + 1, dtype=np.int64)
    for i, label in enumerate(labels):
        if label in index:
            out[i] = 1 + int((probs[i] > probs[i, index[label]]).sum())
    return out


def form_probabilities(probs: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    forms = list(dict.fromkeys(products.split(n)[0] for n in names))
    to_form = np.zeros((len(names), len(forms)))
    for j, name in enumerate(names):
        to_form[j, forms.index(products.split(name)[0])] = 1.0
    return probs @ to_form, forms


def credible_sizes(probs: np.ndarray) -> np.ndarray:
    """Size of each row's credible set: its most probable entries until they reach
    :data:`CREDIBLE_MASS`."""
    ordered = -np.sort(-probs, axis=1)
    size = 1 + (np.cumsum(ordered, axis=1) < CREDIBLE_MASS).sum(axis=1)
    return np.minimum(size, probs.shape[1])


def _credible(probs: np.ndarray, ranks: np.ndarray) -> dict:
    size = credible_sizes(probs)
    return {"mass": CREDIBLE_MASS, "coverage": float((ranks <= size).mean()),
            "mean_size": float(size.mean()), "median_size": float(np.median(size))}


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if hits.size else None


#: Volume fractions splitting the products by how strongly their S(q) shows: a few
#: percent barely bends the curve, beyond 20 % the correlation peak dominates.
VOLFRACTION_BINS = (0.05, 0.2)


def structure_volfraction(targets: np.ndarray | None, slots) -> np.ndarray | None:
    """Each curve's true structure-factor volume fraction (NaN for single models), read
    from the estimate head's targets (:attr:`training.features.Encoded.estimates`)."""
    if targets is None:
        return None
    columns = [i for i, s in enumerate(slots)
               if s.parameter == "volfraction" and s.model in products.STRUCTURES]
    out = np.full(len(targets), np.nan)
    for i in columns:
        known = np.isfinite(targets[:, i])
        out[known] = [slots[i].decode(float(t), 1.0) for t in np.asarray(targets)[known, i]]
    return out


def _by_volfraction(hits: np.ndarray, volfraction: np.ndarray) -> dict:
    edges = (0.0, *VOLFRACTION_BINS, np.inf)
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (volfraction >= lo) & (volfraction < hi)
        name = (f"< {100 * hi:g} %" if lo == 0 else f">= {100 * lo:g} %" if hi == np.inf
                else f"{100 * lo:g}-{100 * hi:g} %")
        out[name] = {"n_curves": int(inside.sum()), "top5": _share(hits[inside])}
    return out


def scores(probs: np.ndarray, names: list[str], labels: list[str], confusion: bool = False,
           volfraction: np.ndarray | None = None) -> dict:
    """Headline metrics of one network (probabilities over ``names``) on curves with the
    true ``labels`` (model or ``form@structure``); see the module docstring. With each
    curve's true ``volfraction``, the products' top 5 by :data:`VOLFRACTION_BINS` too."""
    labels = [str(x) for x in labels]
    ranks = true_ranks(probs, names, labels)
    form_probs, forms = form_probabilities(probs, names)
    form_ranks = true_ranks(form_probs, forms, [products.split(x)[0] for x in labels])
    listed = ranks <= len(names)
    is_product = np.array(["@" in x for x in labels])
    out = {
        "n_curves": int(len(labels)),
        "n_labels_outside_list": int((~listed).sum()),
        "top1": float((ranks <= 1).mean()), "top3": float((ranks <= 3).mean()),
        "top5": float((ranks <= 5).mean()),
        "mean_rank": float(ranks[listed].mean()) if listed.any() else None,
        "form_top1": float((form_ranks <= 1).mean()), "form_top5": float((form_ranks <= 5).mean()),
        "ece": expected_calibration_error(probs, ranks == 1),
        "credible_set": _credible(probs, ranks),
        "reliability": reliability(probs, ranks == 1),
        "products": {"n_curves": int(is_product.sum()),
                     "top5": _share(ranks[is_product] <= 5),
                     "form_top5": _share(form_ranks[is_product] <= 5)},
    }
    if volfraction is not None:
        out["products"]["by_volfraction"] = _by_volfraction(
            ranks[is_product] <= 5, np.asarray(volfraction)[is_product])
    top1 = np.asarray(names)[probs.argmax(axis=1)]
    true = np.asarray(labels)
    out["per_class_recall"] = {name: float((top1[true == name] == name).mean())
                               for name in names if (true == name).any()}
    if confusion:
        index = {n: i for i, n in enumerate(names)}
        matrix = np.zeros((len(names), len(names)), dtype=np.int64)
        for label, predicted in zip(labels, probs.argmax(axis=1)):
            if label in index:
                matrix[index[label], predicted] += 1
        out["confusion"] = matrix.tolist()
    return out


#: :func:`fits_as_well` in words, for reports.
FITS_AS_WELL = "reduced chi2 within 10 % + 0.1 of the true model's"


def fits_as_well(true_chi2r: float, chi2r: float) -> bool:
    """The Network v3 issue's criterion for a model the data cannot tell from the true
    one (:data:`FITS_AS_WELL`)."""
    return chi2r <= 1.1 * true_chi2r + 0.1


def sets_with_equivalents(probs: np.ndarray, names: list[str], labels: list[str],
                          raw_curve, sample: int, seed: int, workers: int = 1,
                          top: int = EQUIVALENT_TOP) -> dict:
    """How often the credible set and the top ``top`` hold the true label *or* a model
    that fits the curve as well (:func:`fits_as_well`), on ``sample`` random rows. For a
    row where a set misses the label, the label and the missing sets' models are fitted
    once by the verification engine (no rescue). ``raw_curve(row)`` gives a row's curve
    as a ``loading.RawCurve``. A row whose true model's fit fails counts as a miss."""
    from sasnets_plugin.verification import prepare_data, verify_candidates

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(labels), min(sample, len(labels)), replace=False))
    sizes = credible_sizes(probs)
    kinds = ("credible_set", f"top{top}")
    exact = dict.fromkeys(kinds, 0)
    equivalent = dict.fromkeys(kinds, 0)
    fits = 0
    for row in rows:
        label = str(labels[row])
        order = [names[j] for j in np.argsort(-probs[row])]
        sets = dict(zip(kinds, (order[:sizes[row]], order[:top])))
        missing = [kind for kind, members in sets.items() if label not in members]
        for kind in kinds:
            exact[kind] += kind not in missing
        if not missing:
            continue
        fitted = list(dict.fromkeys(m for kind in missing for m in sets[kind]))
        result = verify_candidates(prepare_data(raw_curve(row))[0], [label, *fitted], workers=workers,
                                   rescue=False)
        fits += len(result.candidates)
        by_model = {c.model: c for c in result.candidates}
        true_fit = by_model.get(label)
        if true_fit is None or not true_fit.ok:
            continue
        for kind in missing:
            equivalent[kind] += any(by_model[m].ok and fits_as_well(true_fit.chi2r, by_model[m].chi2r)
                                    for m in sets[kind] if m in by_model)
    n = len(rows)
    out: dict = {"n": int(n), "fits": fits, "criterion": FITS_AS_WELL}
    for kind in kinds:
        out[kind] = {"exact": exact[kind], "equivalent": equivalent[kind],
                     "coverage_exact": exact[kind] / n if n else None,
                     "coverage_with_equivalents": (exact[kind] + equivalent[kind]) / n if n else None}
    out["credible_set"]["mass"] = CREDIBLE_MASS
    return out


# --------------------------------------------------------------------------- real files

def real_entries(labels_file: Path = REAL_LABELS) -> list[dict]:
    """The labelled real files with their paths resolved (``sasdata:`` examples, else
    relative to the repository root, as ``benchmarks/bench_verified_accuracy.py`` reads them)."""
    import sasdata

    root = labels_file.resolve().parent.parent.parent
    entries = []
    for entry in json.loads(labels_file.read_text())["files"]:
        kind, _, rest = entry["path"].partition(":")
        path = Path(entry["path"])
        if kind == "sasdata":
            path = Path(sasdata.__file__).parent / "example_data" / rest
        elif not path.is_absolute():
            path = root / path
        entries.append({**entry, "resolved": path})
    return entries


def real_curves(entries: list[dict]) -> list[tuple[dict, object]]:
    """``(entry, Prepared)`` of each labelled file that can be read (others are logged)."""
    from sasnets_plugin.errors import SasnetsError
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import prepare

    out = []
    for entry in entries:
        try:
            out.append((entry, prepare(load_1d(entry["resolved"])[entry.get("dataset", 0)])))
        except (SasnetsError, IndexError, OSError) as exc:
            log.warning("real file %s skipped: %s", entry["resolved"], exc)
    return out


def real_scores(probs: np.ndarray, names: list[str], entries: list[dict]) -> dict:
    """Rank of each real file's label (or an accepted equivalent) and the counts."""
    rows = []
    for row, entry in zip(probs, entries):
        accepted = [entry["model"], *entry.get("also_accept", [])]
        order = np.argsort(-row, kind="stable")
        ranked = [names[i] for i in order]
        rank = min((ranked.index(m) + 1 for m in accepted if m in ranked), default=None)
        rows.append({"file": Path(entry["resolved"]).name, "dataset": entry.get("dataset", 0),
                     "label": entry["model"], "rank": rank, "top5": ranked[:5],
                     "p_top1": float(row[order[0]])})
    n = len(rows)

    def count(k):
        return sum(1 for r in rows if r["rank"] is not None and r["rank"] <= k)

    return {"n_files": n, "top1": count(1), "top3": count(3), "top5": count(5), "files": rows}


# --------------------------------------------------------------------------- unseen shapes

def unseen_curves(forms: list[str], seed: int, per_model: int = UNSEEN_PER_MODEL):
    """Curves of models outside the list (simulated now), cleaned: ``(models, curves)``."""
    from sasnets_plugin import models as model_files
    from sasnets_plugin.cleaning import clean_curve

    from .simulate import simulate_curves

    chosen = [m for m in UNSEEN_CANDIDATES if m not in forms and m in model_files.names()]
    chosen = chosen[:N_UNSEEN_MODELS]
    curves = []
    for k, model in enumerate(chosen):
        rng = np.random.default_rng([seed, 77, k])
        for c in simulate_curves(model, rng, per_model):
            curves.append(clean_curve(c.q, c.I, c.dI, dQ=c.dq, slit_length=c.slit_length)[0])
    return chosen, curves


# --------------------------------------------------------------------------- plots

def save_plots(main: str, report: dict, histories: dict[str, dict], ood: dict[str, np.ndarray],
               out_dir: Path) -> list[str]:
    """Confusion (incl. products), dendrogram, training curves, per-class recall,
    calibration (test and shifted, beside the previously shipped network) and OOD histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        fig.tight_layout()
        with atomic.replacing(out_dir / name) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        written.append(name)

    names = report["classes"]
    test = report["architectures"][main]["test"]
    labels = [products.display_name(n) for n in names]
    conf = np.asarray(test["confusion"], dtype=float)
    rows = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    n = len(names)
    size = max(6.0, 0.12 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(rows, cmap="viridis", vmin=0, vmax=1)
    font = 4 if n > 100 else 6 if n > 20 else 9
    ax.set_xticks(range(n), labels, rotation=90, fontsize=font)
    ax.set_yticks(range(n), labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true label")
    ax.set_title(f"{main}: test confusion incl. products\n(row-normalised), top-1 "
                 f"{100 * test['top1']:.1f} %", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03)
    save(fig, "confusion_matrix.png")

    forms = report["forms"]
    to_form = form_of_joint(forms)
    form_conf = to_form.T @ conf @ to_form
    form_rows = form_conf / np.maximum(form_conf.sum(axis=1, keepdims=True), 1)
    if len(forms) > 2:
        similarity = 0.5 * (form_rows + form_rows.T)
        np.fill_diagonal(similarity, 1.0)
        distance = np.clip(1.0 - similarity, 0.0, 1.0)
        np.fill_diagonal(distance, 0.0)
        fig, ax = plt.subplots(figsize=(size * 0.6, max(6.0, 0.16 * len(forms) + 2)))
        dendrogram(linkage(squareform(distance, checks=False), method="average"), labels=forms,
                   orientation="left", ax=ax, leaf_font_size=7)
        ax.set_xlabel("1 - mutual confusion rate (forms)")
        ax.set_title("Which models the network confuses")
        save(fig, "confusion_dendrogram.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, hist in histories.items():
        for ax, key in zip(axes, ("loss", "form_accuracy")):
            epochs = np.arange(1, len(hist.get(key, [])) + 1)
            ax.plot(epochs, hist.get(key, []), label=f"{name} train")
            ax.plot(epochs, hist.get(f"val_{key}", []), "--", label=f"{name} validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(key.replace("_", " "))
    axes[1].legend(fontsize=8)
    save(fig, "training_curves.png")

    recall = test["per_class_recall"]
    order = sorted(recall, key=recall.get)
    fig, ax = plt.subplots(figsize=(6, max(4.0, 0.1 * len(order) + 2)))
    ax.barh(range(len(order)), [recall[c] for c in order])
    ax.set_yticks(range(len(order)), [products.display_name(c) for c in order],
                  fontsize=4 if len(order) > 100 else 6)
    ax.set_xlabel("recall (top-1) on the test split")
    ax.set_xlim(0, 1)
    save(fig, "per_class_recall.png")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
    rows_to_plot = {main: report["architectures"][main]}
    if report.get("shipped"):
        rows_to_plot["previously shipped"] = report["shipped"]
    for ax, split in zip(axes, ("test", "shifted")):
        ax.plot([0, 1], [0, 1], ":", color="grey")
        for name, row in rows_to_plot.items():
            if split in row:
                rel = row[split]["reliability"]
                ax.plot(rel["confidence"], rel["accuracy"], "o-",
                        label=f"{name}: ECE {row[split]['ece']:.3f}")
        ax.set_title(f"calibration on the {split} split")
        ax.set_xlabel("top-1 probability")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("accuracy")
    save(fig, "calibration.png")

    if ood:
        threshold = report["architectures"][main]["ood"]["threshold"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        finite = np.concatenate([v for v in ood.values() if len(v)])
        hi = float(np.quantile(finite, 0.995)) if finite.size else 1.0
        bins = np.linspace(min(-2.0, float(finite.min())), max(hi, 2 * threshold), 60)
        for name, values in ood.items():
            if len(values):
                ax.hist(np.clip(values, bins[0], bins[-1]), bins=bins, histtype="step",
                        density=True, label=f"{name} ({len(values)})")
        ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.2f}")
        ax.set_xlabel("OOD score (0: validation median, 1: its 99th percentile)")
        ax.set_ylabel("density")
        ax.legend(fontsize=7)
        save(fig, "ood_scores.png")
    return written


# --------------------------------------------------------------------------- summary

def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def summary_markdown(report: dict) -> str:
    """The report's tables as Markdown (what the README quotes)."""
    rows = dict(report["architectures"])
    if report.get("shipped"):
        version = report["shipped"]["preprocessing_version"]
        rows[f"previously shipped network ({version})"] = report["shipped"]
    lines = []
    for split in ("test", "shifted"):
        lines += [f"### {split} split", "",
                  "| network | top-1 | top-3 | top-5 | form top-1 | form top-5 | products top-5 | "
                  "ECE | 90 % set: coverage / mean size |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, row in rows.items():
            s = row.get(split)
            if not s:
                continue
            c = s["credible_set"]
            lines.append(f"| {name} | {_pct(s['top1'])} | {_pct(s['top3'])} | {_pct(s['top5'])} | "
                         f"{_pct(s['form_top1'])} | {_pct(s['form_top5'])} | "
                         f"{_pct(s['products']['top5'])} | {s['ece']:.3f} | "
                         f"{_pct(c['coverage'])} / {c['mean_size']:.1f} |")
        lines.append("")
    bins = [name for name in next((r[s]["products"].get("by_volfraction", {}) for r in rows.values()
                                   for s in ("test",) if r.get(s)), {})]
    if bins:
        lines += ["### products: exact form@structure in the top 5, by volume fraction", "",
                  "| network | split | " + " | ".join(bins) + " |",
                  "| --- | --- | " + " | ".join("---" for _ in bins) + " |"]
        for name, row in rows.items():
            for split in ("test", "shifted"):
                by = row.get(split, {}).get("products", {}).get("by_volfraction")
                if by:
                    lines.append(f"| {name} | {split} | " + " | ".join(
                        f"{_pct(by[b]['top5'])} ({by[b]['n_curves']})" for b in bins) + " |")
        lines.append("")
    lines += ["### labelled real files", "", "| network | top-1 | top-3 | top-5 | files |",
              "| --- | --- | --- | --- | --- |"]
    for name, row in rows.items():
        if row.get("real"):
            r = row["real"]
            lines.append(f"| {name} | {r['top1']} | {r['top3']} | {r['top5']} | {r['n_files']} |")
    lines.append("")
    main = report["architectures"][report["main"]]
    checked = {split: main[split]["with_equivalents"] for split in ("test", "shifted")
               if main.get(split, {}).get("with_equivalents")}
    if checked:
        lines += [f"### the true model or one that fits as well ({report['main']})", "",
                  "A sample of curves; where a set misses the true model, its models and the "
                  f"true one are fitted ({FITS_AS_WELL}).", "",
                  "| split | curves | top-5: exact / with equivalents | "
                  "90 % set: exact / with equivalents |", "| --- | --- | --- | --- |"]
        for split, eq in checked.items():
            t, c = eq[f"top{EQUIVALENT_TOP}"], eq["credible_set"]
            lines.append(f"| {split} | {eq['n']} | {_pct(t['coverage_exact'])} / "
                         f"{_pct(t['coverage_with_equivalents'])} | {_pct(c['coverage_exact'])} / "
                         f"{_pct(c['coverage_with_equivalents'])} |")
        lines.append("")
    if main.get("ood"):
        o = main["ood"]
        lines += ["### out-of-distribution score (" + report["main"] + ")", "",
                  f"threshold {o['threshold']:.2f} (exceeded by {100 * o['false_alarm']:.0f} % of "
                  "validation curves)", "", "| curves | AUROC against test | flagged |",
                  "| --- | --- | --- |"]
        for name, row in o["sets"].items():
            auc = "-" if row["auroc_vs_test"] is None else f"{row['auroc_vs_test']:.3f}"
            lines.append(f"| {name} ({row['n']}) | {auc} | {_pct(row['flagged'])} |")
        lines.append("")
    from .estimate_scores import markdown

    for split in ("test", "shifted"):
        if main.get(split, {}).get("estimates"):
            lines += markdown(main[split]["estimates"], f"{report['main']}, {split}")
    return "\n".join(lines)


def write_report(out_dir: Path, report: dict) -> None:
    atomic.write_json(out_dir / REPORT_FILE, report)
    atomic.write_bytes(out_dir / SUMMARY_FILE, summary_markdown(report).encode())

