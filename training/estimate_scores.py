"""How good the network's parameter estimates are (network v4's third head).

Scores are per slot (:mod:`sasnets_plugin.estimates`), over the curves whose label
informs it: for lengths, ratios and q positions (log scales) the median relative error
``10^|Δ| - 1``, for fractions, polydispersities and bounded values the median absolute
error. A model's *main size* is its first length slot (sphere radius, cylinder radius,
lamellar thickness...). *Compact shapes* are the models SasView files under a ``shape:``
category other than lamellae (spheres, cylinders, ellipsoids, parallelepipeds and their
shells): bodies whose size the curve's Guinier region or first minimum fixes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sasnets_plugin.estimates import BOUNDED, LENGTH, LINEAR, Slot

#: Log scales: errors are reported as relative errors.
_RELATIVE = frozenset({LENGTH, "area", "q", "log"})
#: Curves per model in the scatter plots (a sample keeps the file small).
PLOT_POINTS = 400
#: Models in the estimate-vs-truth plot.
PLOT_MODELS = 24


def compact(model: str) -> bool:
    """A compact shape (module docstring)."""
    from sasnets_plugin.models import model_info

    category = model_info(model).category or ""
    return category.startswith("shape:") and category != "shape:lamellae"


def main_size(slots: tuple[Slot, ...], model: str) -> int | None:
    """Index of ``model``'s main size slot (None without a length)."""
    return next((i for i, s in enumerate(slots) if s.model == model and s.scale == LENGTH), None)


def _error(slot: Slot, predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    if slot.scale in _RELATIVE:
        return 10.0 ** np.abs(predicted - true) - 1.0
    if slot.scale == BOUNDED:
        return np.abs(predicted - true) * (slot.hi - slot.lo)
    return np.abs(np.maximum(predicted, 0.0) - true) if slot.scale == LINEAR else np.abs(predicted - true)


def score(predicted: np.ndarray, targets: np.ndarray, slots: tuple[Slot, ...]) -> dict:
    """Per model and parameter: curves, median error and its kind; per model the main
    size's median relative error; the median of those over the compact shapes."""
    predicted, targets = np.asarray(predicted, float), np.asarray(targets, float)
    per_model: dict[str, dict] = {}
    for i, slot in enumerate(slots):
        known = np.isfinite(targets[:, i])
        if not known.any():
            continue
        errors = _error(slot, predicted[known, i], targets[known, i])
        entry = per_model.setdefault(slot.model, {"parameters": {}})
        entry["parameters"][slot.parameter] = {
            "n": int(known.sum()), "median_error": float(np.median(errors)),
            "error": "relative" if slot.scale in _RELATIVE else "absolute",
            "within_20_percent": (float(np.mean(errors <= 0.2)) if slot.scale in _RELATIVE
                                  else None)}
    for model, entry in per_model.items():
        i = main_size(slots, model)
        if i is not None and slots[i].parameter in entry["parameters"]:
            entry["main_size"] = slots[i].parameter
            entry["main_size_median_relative_error"] = entry["parameters"][slots[i].parameter]["median_error"]
    sizes = [e["main_size_median_relative_error"] for m, e in per_model.items()
             if "main_size" in e and compact(m)]
    return {"models": per_model,
            "compact_main_size_median_relative_error": float(np.median(sizes)) if sizes else None,
            "compact_models": len(sizes),
            "compact_within_20_percent": (int(sum(s <= 0.2 for s in sizes)) if sizes else 0)}


def plot(predicted: np.ndarray, targets: np.ndarray, slots: tuple[Slot, ...], path: Path,
         seed: int = 0) -> bool:
    """Estimate against truth of the main size, one panel per model (log-log, in units of
    1/q_min), for the first :data:`PLOT_MODELS` models; whether there was anything to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    panels = []
    for model in dict.fromkeys(s.model for s in slots):
        i = main_size(slots, model)
        if i is not None and np.isfinite(targets[:, i]).sum() >= 2:
            panels.append((model, i))
    panels = panels[:PLOT_MODELS]
    if not panels:
        return False
    cols = 6
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (model, i) in zip(axes.flat, panels):
        rows_known = np.flatnonzero(np.isfinite(targets[:, i]))
        pick = rng.choice(rows_known, min(PLOT_POINTS, rows_known.size), replace=False)
        true, guess = targets[pick, i], predicted[pick, i]
        ax.scatter(true, guess, s=3, alpha=0.4)
        lo, hi = np.percentile(np.r_[true, guess], [1, 99])
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        median = np.median(_error(slots[i], predicted[rows_known, i], targets[rows_known, i]))
        ax.set_title(f"{model}\n{slots[i].parameter}: {100 * median:.0f} %", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.supxlabel("true log10(size · q_min)")
    fig.supylabel("estimated log10(size · q_min)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def markdown(scores: dict, split: str) -> list[str]:
    """The report's table: each model's main size, its median error and share within 20 %."""
    lines = [f"### parameter estimates ({split} split)", "",
             f"Main size, median relative error over the compact shapes: "
             f"{100 * scores['compact_main_size_median_relative_error']:.1f} % "
             f"({scores['compact_within_20_percent']} of {scores['compact_models']} compact "
             "shapes within 20 %)." if scores["compact_models"] else "No compact shapes.", "",
             "| model | main size | curves | median relative error | within 20 % |",
             "| --- | --- | --- | --- | --- |"]
    for model, entry in sorted(scores["models"].items()):
        if "main_size" not in entry:
            continue
        p = entry["parameters"][entry["main_size"]]
        lines.append(f"| {model} | {entry['main_size']} | {p['n']} | "
                     f"{100 * p['median_error']:.1f} % | {100 * p['within_20_percent']:.0f} % |")
    return lines + [""]
