"""The networks: the 2017 SASNets baseline and our residual CNNs.

All read ``(N_POINTS, N_CHANNELS)`` inputs from :mod:`sasnets_plugin.preprocessing` and
end in *logits*; :mod:`training.export` appends the calibrated softmax. ``ARCHITECTURES``
names every trainable network with all its hyperparameters (recorded with the weights);
the default is an ensemble of two of them (:mod:`training.ensemble`).
"""
from __future__ import annotations

from functools import partial

from sasnets_plugin.preprocessing import N_CHANNELS, N_POINTS

# Keras is imported inside the builders: importing this module (e.g. for the names in
# ARCHITECTURES) must not start TensorFlow in the data-generation worker processes.


def sasnets2017(n_classes: int):
    """The poster's network rebuilt from its description.

    Two blocks of Conv1D → MaxPool → Dropout, then a tanh dense layer and the class
    layer (128 and 64 filters of width 6, pooling by 4, dropout 0.17, 128 tanh units).
    """
    import keras
    from keras import layers

    inputs = keras.Input((N_POINTS, N_CHANNELS))
    x = layers.Conv1D(128, 6, activation="relu")(inputs)
    x = layers.MaxPooling1D(4)(x)
    x = layers.Dropout(0.17)(x)
    x = layers.Conv1D(64, 6, activation="relu")(x)
    x = layers.MaxPooling1D(4)(x)
    x = layers.Dropout(0.17)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="tanh")(x)
    x = layers.Dropout(0.17)(x)
    logits = layers.Dense(n_classes, name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name="sasnets2017")


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


def resnet1d(n_classes: int, *, width: int, head_units: int, dropout: float, name: str):
    """A small 1D residual network over log I and the local log-log slope.

    The local slope d log I / d log q (the quantity SAS users read by eye: -4 Porod,
    -2 Gaussian coil, oscillation minima) is computed inside the network from the two
    input channels, so the exported model needs nothing beyond the shared preprocessing.
    Three stages (full, 1/2, 1/4 resolution) of residual blocks, then global average
    and max pooling, so features are recognised wherever they sit in the q window.
    Sized to train on a 2-core CPU in about two minutes per epoch of 227k curves. Two
    heads are registered: ``resnet1d`` (dropout 0.1, 384 units) fits its training data
    better than ``resnet1d_dropout`` (0.3, 256 units, whose training accuracy never rose
    above validation accuracy); they err differently, which is what the ensemble uses.
    """
    import keras
    from keras import layers

    inputs = keras.Input((N_POINTS, N_CHANNELS))
    d_log_i = inputs[:, 1:, :1] - inputs[:, :-1, :1]
    d_log_q = keras.ops.maximum(inputs[:, 1:, 1:] - inputs[:, :-1, 1:], 1e-4)
    slope = keras.ops.clip(d_log_i / d_log_q, -10.0, 10.0) / 4.0
    x = layers.Concatenate()([inputs, layers.ZeroPadding1D((1, 0))(slope)])
    x = layers.Conv1D(width, 7, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = _residual_block(x, width, 5)
    x = layers.MaxPooling1D(2)(x)
    x = _residual_block(x, 2 * width, 5, dilation=2)
    x = layers.MaxPooling1D(2)(x)
    x = _residual_block(x, 4 * width, 3)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(head_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(n_classes, name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name=name)


ARCHITECTURES = {
    "resnet1d": partial(resnet1d, width=32, head_units=384, dropout=0.1, name="resnet1d"),
    "resnet1d_dropout": partial(resnet1d, width=32, head_units=256, dropout=0.3,
                                name="resnet1d_dropout"),
    "sasnets2017": partial(sasnets2017),
}
DEFAULT_ARCHITECTURE = "resnet1d+resnet1d_dropout"
BASELINE_ARCHITECTURE = "sasnets2017"


def hyperparameters(architecture: str) -> dict:
    """The builder and options that define one registered network."""
    builder = ARCHITECTURES[architecture]
    return {"builder": builder.func.__name__, **builder.keywords}
