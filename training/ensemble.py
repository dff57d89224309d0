"""Several trained networks as one: their averaged log-probabilities are the ensemble's logits.

An ensemble is named by its members joined with ``+`` (``resnet1d+resnet1d_dropout``).
It is never trained itself: each member is trained in ``runs/<member>/`` and the
ensemble is assembled from their best checkpoints, then calibrated, scored and exported
like any single network. Averaging log-probabilities (a normalised geometric mean of
the members' probabilities) keeps the result a logits model, so temperature scaling
and the exported softmax apply unchanged.
"""
from __future__ import annotations

from pathlib import Path

from .architectures import ARCHITECTURES
from .train import BEST

SEPARATOR = "+"


def members(name: str) -> list[str]:
    """The registered networks an architecture name stands for (one unless an ensemble)."""
    parts = name.split(SEPARATOR)
    unknown = [p for p in parts if p not in ARCHITECTURES]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(f"{name!r}: members must be distinct names from {', '.join(ARCHITECTURES)}")
    return parts


def average_log_probabilities(models: list, name: str):
    """One Keras model whose output ("logits") is the mean log-softmax of ``models``."""
    import keras
    from keras import layers

    inputs = keras.Input(models[0].input.shape[1:])
    log_probs = [layers.Activation("log_softmax", name=f"{m.name}_log_probabilities")(m(inputs))
                 for m in models]
    logits = layers.Average(name="logits", dtype="float32")(log_probs)
    return keras.Model(inputs, logits, name=name.replace(SEPARATOR, "_and_"))


def load_network(runs_dir: Path, name: str):
    """The logits model of a trained network or an ensemble of trained networks."""
    import keras

    loaded = [keras.saving.load_model(runs_dir / m / BEST, compile=False) for m in members(name)]
    return loaded[0] if len(loaded) == 1 else average_log_probabilities(loaded, name)
