"""Load the bundled network and turn network inputs into class probabilities.

TensorFlow is imported only when a :class:`Classifier` is built, so ``--help``, the
cleaning code and SasView's start-up never pay for it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from importlib import resources
from pathlib import Path

import numpy as np

from . import environment
from .errors import SasnetsError, WeightsError
from .preprocessing import N_CHANNELS, N_POINTS, PREPROCESSING_VERSION

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
CLASSES_FILE = "classes.json"
METADATA_FILE = "metadata.json"
DEVICES = ("auto", "cpu", "gpu")


def default_weights_dir() -> Path:
    """``$SASNETS_WEIGHTS`` if set, else the bundled network (``model_weights/``)."""
    if os.environ.get("SASNETS_WEIGHTS"):
        return Path(os.environ["SASNETS_WEIGHTS"])
    source_tree = Path(__file__).resolve().parent.parent / "model_weights"
    if source_tree.is_dir():
        return source_tree
    return Path(str(resources.files("sasnets_plugin.model_weights")))


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise WeightsError(f"The {what} is missing: {path} does not exist.")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"The {what} {path} is corrupt ({exc}).") from exc


def read_classes(weights_dir: Path) -> list[str]:
    """The class names in network output order."""
    classes = _read_json(weights_dir / CLASSES_FILE, "class list")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise WeightsError(f"{weights_dir / CLASSES_FILE} must be a JSON list of model names.")
    if len(set(classes)) != len(classes):
        raise WeightsError(f"{weights_dir / CLASSES_FILE} lists a model twice.")
    return classes


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's C++ start-up notes (CUDA probing, oneDNN) bypass Python logging.

    Only done on the main thread of a command-line process: file descriptor 2 belongs
    to the whole process, and in a GUI other threads may be writing to it.
    """
    if log.isEnabledFor(logging.DEBUG) or threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow(device: str):
    environment.configure()
    with _native_stderr_silenced():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")  # device probing logs too
    if device == "gpu" and not gpus:
        raise SasnetsError("--device gpu was asked for, but TensorFlow sees no GPU.")
    if device == "cpu" and gpus:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow already initialised its devices
            pass
    return tf, ("/GPU:0" if gpus and device != "cpu" else "/CPU:0")


class Classifier:
    """The trained network with its class list; checks both before use."""

    def __init__(self, weights_dir: str | Path | None = None, device: str = "auto"):
        if device not in DEVICES:
            raise SasnetsError(f"device must be one of {', '.join(DEVICES)}, not {device!r}.")
        self.weights_dir = Path(weights_dir) if weights_dir else default_weights_dir()
        self.classes = read_classes(self.weights_dir)
        self.metadata = _read_json(self.weights_dir / METADATA_FILE, "network metadata")
        version = self.metadata.get("preprocessing_version")
        if version != PREPROCESSING_VERSION:
            raise WeightsError(
                f"The network in {self.weights_dir} was trained with preprocessing "
                f"{version!r}, but this version of SASNets prepares data as "
                f"{PREPROCESSING_VERSION!r}; retrain it or install the matching SASNets."
            )
        model_path = self.weights_dir / MODEL_FILE
        if not model_path.is_file():
            raise WeightsError(f"The network file is missing: {model_path} does not exist.")

        tf, self.device = _import_tensorflow(device)
        import keras

        try:
            with tf.device(self.device):
                model = keras.saving.load_model(model_path, compile=False)
        except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors...
            raise WeightsError(f"The network file {model_path} is corrupt ({exc}).") from exc
        expected_in = (None, N_POINTS, N_CHANNELS)
        if tuple(model.input_shape) != expected_in:
            raise WeightsError(
                f"The network in {model_path} reads inputs of shape {model.input_shape}, "
                f"not {expected_in}."
            )
        n_out = model.output_shape[-1]
        if n_out != len(self.classes):
            raise WeightsError(
                f"The network in {model_path} has {n_out} outputs but {CLASSES_FILE} "
                f"lists {len(self.classes)} models; they do not belong together."
            )
        self._model = model
        self._tf = tf
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, N_POINTS, N_CHANNELS), tf.float32)],
            reduce_retracing=True,
        )
        log.info("Loaded %d-class network from %s on %s", n_out, self.weights_dir, self.device)

    def predict(self, inputs: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Probabilities, shape ``(n, n_classes)``, each row summing to 1."""
        inputs = np.asarray(inputs, dtype=np.float32)
        if inputs.ndim == 2:
            inputs = inputs[None]
        out = np.empty((inputs.shape[0], len(self.classes)), dtype=np.float64)
        with self._tf.device(self.device):
            for start in range(0, inputs.shape[0], batch_size):
                batch = inputs[start : start + batch_size]
                out[start : start + batch.shape[0]] = self._forward(batch).numpy()
        return out / out.sum(axis=1, keepdims=True)
