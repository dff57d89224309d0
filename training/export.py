"""Write a trained network in the layout the runtime loads (``sasnets_plugin.classifier``)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from sasnets_plugin.classifier import CLASSES_FILE, METADATA_FILE, MODEL_FILE
from sasnets_plugin.preprocessing import PREPROCESSING_VERSION

REPORT_FILE = "report.json"


def calibrated_model(logits_model, temperature: float):
    """The logits network followed by softmax(logits / T): outputs calibrated probabilities."""
    import keras
    from keras import layers

    scaled = layers.Rescaling(1.0 / temperature, name="temperature")(logits_model.output)
    probs = layers.Softmax(name="probabilities", dtype="float32")(scaled)
    return keras.Model(logits_model.input, probs, name=f"{logits_model.name}_calibrated")


def export(logits_model, temperature: float, classes: list[str], metadata: dict,
           report: dict, plots_dir: Path, plots: list[str], out_dir: Path) -> Path:
    """Write model, class list, metadata (with preprocessing version), report and plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    calibrated_model(logits_model, temperature).save(out_dir / MODEL_FILE)
    (out_dir / CLASSES_FILE).write_text(json.dumps(classes, indent=1) + "\n")
    meta = {"preprocessing_version": PREPROCESSING_VERSION, "n_classes": len(classes),
            "temperature": temperature, **metadata}
    (out_dir / METADATA_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n")
    for name in plots:
        if (plots_dir / name).resolve() != (out_dir / name).resolve():
            shutil.copy2(plots_dir / name, out_dir / name)
    return out_dir
