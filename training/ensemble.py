"""A trained network, or several as one, with the outputs evaluation and export read.

An ensemble is named by its members joined with ``+`` (``resnet1d+resnet1d_dropout``).
It is never trained itself: each member is trained in ``runs/<member>/`` and the
ensemble is assembled from their best checkpoints. Per head, the members' log-softmaxes
are averaged (a normalised geometric mean of their probabilities), which keeps each head
a logits output, so temperature scaling and the exported softmax apply unchanged; their
embeddings are concatenated for the out-of-distribution distance, and their parameter
estimates (network v4) averaged.
"""
from __future__ import annotations

from pathlib import Path

from .architectures import ARCHITECTURES, EMBEDDING, ESTIMATE, FORM, STRUCTURE
from .train import best_checkpoint

SEPARATOR = "+"


def members(name: str) -> list[str]:
    """The registered networks an architecture name stands for (one unless an ensemble)."""
    parts = name.split(SEPARATOR)
    unknown = [p for p in parts if p not in ARCHITECTURES]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(f"{name!r}: members must be distinct names from {', '.join(ARCHITECTURES)}")
    return parts


def with_embedding(model):
    """``model`` (outputs ``form``, ``structure``, maybe ``estimate``) as a model with
    outputs ``[form logits, structure logits, embedding]`` (``+ [estimates]``)."""
    import keras

    outputs = model.output
    listed = [outputs[FORM], outputs[STRUCTURE], model.get_layer(EMBEDDING).output]
    if ESTIMATE in outputs:
        listed.append(outputs[ESTIMATE])
    return keras.Model(model.input, listed, name=model.name)


def combine(models: list, name: str):
    """One model ``[form, structure, embedding]`` from several such models (module doc)."""
    import keras
    from keras import layers

    if len(models) == 1:
        return models[0]
    inputs = keras.Input(models[0].input.shape[1:])
    outs = [m(inputs) for m in models]
    heads = []
    for k, head in enumerate((FORM, STRUCTURE)):
        log_probs = [layers.Activation("log_softmax",
                                       name=f"{m.name}_{head}_log_probabilities")(o[k])
                     for m, o in zip(models, outs)]
        heads.append(layers.Average(name=f"{head}_logits", dtype="float32")(log_probs))
    embedding = layers.Concatenate(name=EMBEDDING)([o[2] for o in outs])
    extra = []
    if all(len(o) > 3 for o in outs):
        extra = [layers.Average(name=ESTIMATE, dtype="float32")([o[3] for o in outs])]
    return keras.Model(inputs, [*heads, embedding, *extra], name=name.replace(SEPARATOR, "_and_"))


def load_network(runs_dir: Path, name: str):
    """The ``[form, structure, embedding(, estimates)]`` model of a trained network or
    ensemble."""
    import keras

    loaded = [with_embedding(keras.saving.load_model(best_checkpoint(runs_dir / m), compile=False))
              for m in members(name)]
    return combine(loaded, name)
