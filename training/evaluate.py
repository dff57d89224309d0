"""Calibrate on the validation split and score on the held-out test split (numbers + plots)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

log = logging.getLogger(__name__)


def predict_logits(model, inputs: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float64)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T minimising the validation negative log-likelihood of softmax(logits / T)."""
    def nll(log_t: float) -> float:
        return -log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(labels)), labels].mean()

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the top-1 probability: mean |accuracy - confidence| over equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def scores(probs: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict:
    """Headline metrics and per-class recall on one split."""
    true_p = probs[np.arange(len(labels)), labels]
    rank = 1 + (probs > true_p[:, None]).sum(axis=1)
    top1 = probs.argmax(axis=1)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (labels, top1), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "n_curves": int(len(labels)),
        "top1": float((rank <= 1).mean()),
        "top3": float((rank <= 3).mean()),
        "top5": float((rank <= 5).mean()),
        "mean_rank": float(rank.mean()),
        "ece": expected_calibration_error(probs, labels),
        "per_class_recall": {c: float(r) for c, r in zip(classes, per_class)},
        "confusion": confusion.tolist(),
    }


def evaluate(model, temperature: float, inputs: np.ndarray, labels: np.ndarray,
             classes: list[str]) -> dict:
    """Scores of the calibrated network (and, for reference, uncalibrated ECE)."""
    logits = predict_logits(model, inputs)
    result = scores(softmax(logits / temperature, axis=1), labels, classes)
    result["ece_uncalibrated"] = expected_calibration_error(softmax(logits, axis=1), labels)
    result["temperature"] = temperature
    return result


def save_plots(report: dict, histories: dict[str, dict], classes: list[str], out_dir: Path) -> list[str]:
    """Confusion matrix, confusion dendrogram, training curves and per-class recall as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    out_dir.mkdir(parents=True, exist_ok=True)
    n = len(classes)
    conf = np.asarray(report["confusion"], dtype=float)
    rows = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    size = max(6.0, 0.16 * n + 2)
    written = []

    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(rows, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=90, fontsize=6 if n > 20 else 9)
    ax.set_yticks(range(n), classes, fontsize=6 if n > 20 else 9)
    ax.set_xlabel("predicted model")
    ax.set_ylabel("true model")
    ax.set_title(f"Test confusion (row-normalised), top-1 {100 * report['top1']:.1f} %")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(out_dir / "confusion_matrix.png", dpi=110)
    plt.close(fig)
    written.append("confusion_matrix.png")

    if n > 2:
        similarity = 0.5 * (rows + rows.T)
        np.fill_diagonal(similarity, 1.0)
        distance = np.clip(1.0 - similarity, 0.0, 1.0)
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method="average")
        fig, ax = plt.subplots(figsize=(size * 0.7, size))
        dendrogram(tree, labels=classes, orientation="left", ax=ax, leaf_font_size=7)
        ax.set_xlabel("1 - mutual confusion rate")
        ax.set_title("Which models the network confuses")
        fig.tight_layout()
        fig.savefig(out_dir / "confusion_dendrogram.png", dpi=110)
        plt.close(fig)
        written.append("confusion_dendrogram.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, hist in histories.items():
        for ax, key in zip(axes, ("loss", "accuracy")):
            epochs = np.arange(1, len(hist.get(key, [])) + 1)
            ax.plot(epochs, hist.get(key, []), label=f"{name} train")
            ax.plot(epochs, hist.get(f"val_{key}", []), "--", label=f"{name} validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(key)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "training_curves.png", dpi=110)
    plt.close(fig)
    written.append("training_curves.png")

    recall = report["per_class_recall"]
    order = sorted(recall, key=recall.get)
    fig, ax = plt.subplots(figsize=(6, size))
    ax.barh(range(n), [recall[c] for c in order])
    ax.set_yticks(range(n), order, fontsize=6 if n > 20 else 9)
    ax.set_xlabel("recall (top-1) on the test split")
    ax.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(out_dir / "per_class_recall.png", dpi=110)
    plt.close(fig)
    written.append("per_class_recall.png")
    return written


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=1, sort_keys=False))
