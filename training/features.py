"""Network inputs for a dataset split, made by the runtime's own cleaning + preprocessing."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sasnets_plugin.cleaning import clean_curve
from sasnets_plugin.preprocessing import N_CHANNELS, N_POINTS, PREPROCESSING_VERSION, network_input

from .dataset import load_split

log = logging.getLogger(__name__)


def encode_split(dataset_dir: Path, split: str, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, labels)`` for ``split``: inputs ``(n, N_POINTS, N_CHANNELS)``, labels the
    class index of each curve's form (a product ``form@structure`` teaches its form).

    Cached next to the dataset, keyed by the preprocessing version, so retraining
    does not redo the resampling but a changed transform never reuses stale inputs.
    """
    cache = Path(dataset_dir) / f"inputs-{split}-{PREPROCESSING_VERSION}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            if list(stored["classes"]) == classes:
                return stored["inputs"], stored["labels"]
    data = load_split(dataset_dir, split)
    labels = data.labels(classes).astype(np.int32)
    inputs = np.empty((len(data), N_POINTS, N_CHANNELS), dtype=np.float32)
    for row in tqdm(range(len(data)), desc=f"preprocess {split}", unit="curve",
                    mininterval=2.0):
        q, intensity, error, _, _ = data.curve(row)
        curve, _ = clean_curve(q, intensity, error)
        inputs[row] = network_input(curve.q, curve.I, curve.dI)
    np.savez(cache, inputs=inputs, labels=labels, classes=np.array(classes))
    log.info("%s: %d curves encoded", split, len(labels))
    return inputs, labels
