"""The networks: the 2017 SASNets baseline and our residual CNNs, for the v3 input.

Every network reads the current transform's input (:data:`INPUT_SHAPE`, see
:mod:`sasnets_plugin.preprocessing`) and has two heads in *logits*: ``form`` over the
dataset's models and ``structure`` over none + the four structure factors
(:mod:`training.heads`), and (network v4, ``n_estimates`` > 0) a third, ``estimate``: the
parameter estimates of every model of the list (:mod:`sasnets_plugin.estimates`). The layer named ``embedding`` holds the features both heads read;
the out-of-distribution score measures distances there (:mod:`training.ood`).
:mod:`training.export` appends the calibrated softmaxes, the ranked list and that
distance. ``ARCHITECTURES`` names every trainable network with all its hyperparameters
(recorded with the weights).
"""
from __future__ import annotations

from functools import partial

from sasnets_plugin.preprocessing import CHANNEL, WINDOW_DECADES, get_transform

# Keras is imported inside the builders: importing this module (e.g. for the names in
# ARCHITECTURES) must not start TensorFlow in the data-generation worker processes.

#: The input every network here reads: the current preprocessing version's.
INPUT_SHAPE = get_transform().shape
FORM, STRUCTURE, EMBEDDING, ESTIMATE = "form", "structure", "embedding", "estimate"
#: Added to padded positions before the max pooling, so that they never win it.
MASK_PENALTY = 1e4


def _heads(inputs, features, n_forms: int, n_structures: int, n_estimates: int, name: str):
    """The two logits heads on ``features`` and, for ``n_estimates`` > 0, the estimate
    head, as one Keras model."""
    import keras
    from keras import layers

    outputs = {FORM: layers.Dense(n_forms, name=FORM, dtype="float32")(features),
               STRUCTURE: layers.Dense(n_structures, name=STRUCTURE, dtype="float32")(features)}
    if n_estimates:
        outputs[ESTIMATE] = layers.Dense(n_estimates, name=ESTIMATE, dtype="float32")(features)
    return keras.Model(inputs, outputs, name=name)


def sasnets2017(n_forms: int, n_structures: int, n_estimates: int = 0):
    """The poster's network rebuilt from its description, with the two v3 heads.

    Two blocks of Conv1D → MaxPool → Dropout, then a tanh dense layer and the class
    layers (128 and 64 filters of width 6, pooling by 4, dropout 0.17, 128 tanh units).
    """
    import keras
    from keras import layers

    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Conv1D(128, 6, activation="relu")(inputs)
    x = layers.MaxPooling1D(4)(x)
    x = layers.Dropout(0.17)(x)
    x = layers.Conv1D(64, 6, activation="relu")(x)
    x = layers.MaxPooling1D(4)(x)
    x = layers.Dropout(0.17)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="tanh", name=EMBEDDING)(x)
    x = layers.Dropout(0.17)(x)
    return _heads(inputs, x, n_forms, n_structures, n_estimates, "sasnets2017")


def _residual_block(x, filters: int, kernel: int, dilation: int = 1):
    from keras import layers

    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv1D(filters, 1, use_bias=False)(x)
    y = layers.Conv1D(filters, kernel, padding="same", dilation_rate=dilation, use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv1D(filters, kernel, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    return layers.Activation("relu")(layers.Add()([shortcut, y]))


def _masked_pooling(x, mask):
    """Global average and max over the positions inside the window only, concatenated:
    a window padded to the grid gives the same features as its points alone."""
    from keras import ops

    mask = ops.cast(mask, x.dtype)
    average = ops.sum(x * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
    largest = ops.max(x + (mask - 1.0) * MASK_PENALTY, axis=1)
    return average, largest


def resnet1d(n_forms: int, n_structures: int, n_estimates: int = 0, *, width: int,
             head_units: int, dropout: float, name: str):
    """A small 1D residual network over the v3 input and the local log-log slope.

    The local slope d log I / d log q (what SAS users read by eye: -4 Porod, -2 Gaussian
    coil, oscillation minima) is computed inside the network from the log I and position
    channels, inside the window only, so the exported model needs nothing beyond the
    shared preprocessing. Three stages (full, 1/2, 1/4 resolution) of residual blocks,
    then average and max pooling over the window (the mask follows the pooling), so a
    feature is recognised wherever it sits on the grid: with the shift-invariant input,
    the same shape at another size. Both heads read one shared dense layer.
    """
    import keras
    from keras import layers, ops

    inputs = keras.Input(INPUT_SHAPE)
    log_i = inputs[:, :, CHANNEL["log_i"]:CHANNEL["log_i"] + 1]
    position = inputs[:, :, CHANNEL["position"]:CHANNEL["position"] + 1]
    mask = inputs[:, :, CHANNEL["mask"]:CHANNEL["mask"] + 1]
    decades = ops.maximum(position[:, 1:] - position[:, :-1], 1e-4) * WINDOW_DECADES
    slope = ops.clip((log_i[:, 1:] - log_i[:, :-1]) / decades, -10.0, 10.0) / 4.0
    slope = slope * mask[:, 1:] * mask[:, :-1]
    x = layers.Concatenate()([inputs, layers.ZeroPadding1D((1, 0))(slope)])
    x = layers.Conv1D(width, 7, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = _residual_block(x, width, 5)
    x = layers.MaxPooling1D(2)(x)
    mask = layers.MaxPooling1D(2)(mask)
    x = _residual_block(x, 2 * width, 5, dilation=2)
    x = layers.MaxPooling1D(2)(x)
    mask = layers.MaxPooling1D(2)(mask)
    x = _residual_block(x, 4 * width, 3)
    x = layers.Concatenate(name=EMBEDDING)(list(_masked_pooling(x, mask)))
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(head_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    return _heads(inputs, x, n_forms, n_structures, n_estimates, name)


ARCHITECTURES = {
    "resnet1d": partial(resnet1d, width=32, head_units=384, dropout=0.1, name="resnet1d"),
    "resnet1d_dropout": partial(resnet1d, width=32, head_units=256, dropout=0.3,
                                name="resnet1d_dropout"),
    "sasnets2017": partial(sasnets2017),
}
DEFAULT_ARCHITECTURE = "resnet1d"
BASELINE_ARCHITECTURE = "sasnets2017"


def hyperparameters(architecture: str) -> dict:
    """The builder and options that define one registered network."""
    builder = ARCHITECTURES[architecture]
    return {"builder": builder.func.__name__, "input_shape": list(INPUT_SHAPE), **builder.keywords}
