"""Load the bundled network and turn network inputs into class probabilities.

Two files hold the same network. ``model.keras`` (Keras 3) is the source of truth that
training writes; ``model.tflite`` is derived from it at export (``training/export.py``)
and is what ranking runs on: the LiteRT interpreter (``ai-edge-litert``) loads it in
milliseconds without TensorFlow (``sasnets-suggest FILE`` from cold: 0.23 s and 75 MiB,
against 3.98 s and 731 MiB with TensorFlow; ``benchmarks/results/runtime.json``).
``metadata.json`` records the sha256 and size of both and of ``classes.json``; a
folder whose files do not match that record is refused, so a retrained ``model.keras``
next to a stale ``model.tflite``, a reordered class list or a truncated copy never
produces labels. ``runtime="keras"`` (what ``--device gpu`` uses) runs ``model.keras``
with TensorFlow instead, which only the ``training`` extra installs.

The preprocessing version in ``metadata.json`` selects the transform that prepares curves
for this network (:func:`sasnets_plugin.preprocessing.get_transform`); an unknown version
is refused. A v3 network has one output vector laid out as ``metadata["outputs"]``
(``[["probabilities", n_classes], ["shape_distance", 1]]``): the probabilities over the
ranked list (models and ``form@structure`` products) and the feature distance that the
out-of-distribution score reads (:mod:`sasnets_plugin.novelty`). Without ``"outputs"``
(the v2 network) the output is the probabilities alone.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import environment
from .errors import SasnetsError, WeightsError
from .estimates import SlotIndex, slots_from_metadata
from .novelty import Novelty
from .preprocessing import Transform, get_transform

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
LIGHT_MODEL_FILE = "model.tflite"
CLASSES_FILE = "classes.json"
METADATA_FILE = "metadata.json"
#: Key of ``metadata.json`` mapping each file above to ``{"sha256": ..., "bytes": ...}``.
FILES_KEY = "files"
DEVICES = ("auto", "cpu", "gpu")
RUNTIMES = ("litert", "keras")
#: Threads of the LiteRT interpreter. Two halve a 2,000-curve batch on a 2-core machine
#: (0.51 s -> 0.27 s) and speed up one curve too (0.24 -> 0.19 ms); more were not
#: measured, and the fit verification wants the other cores.
MAX_THREADS = 4
#: The command that (re)writes ``model.tflite`` and the hashes for a weights folder.
EXPORT_COMMAND = "python -m training.export"
#: Key of ``metadata.json`` with the output layout: ``[[name, size], ...]`` in order.
OUTPUTS_KEY = "outputs"
PROBABILITIES = "probabilities"
SHAPE_DISTANCE = "shape_distance"
ESTIMATES = "estimates"
KNOWN_OUTPUTS = (PROBABILITIES, SHAPE_DISTANCE, ESTIMATES)


def default_weights_dir() -> Path:
    """``$SASNETS_WEIGHTS`` if set, else the bundled network (``model_weights/``)."""
    if os.environ.get("SASNETS_WEIGHTS"):
        return Path(os.environ["SASNETS_WEIGHTS"])
    source_tree = Path(__file__).resolve().parent.parent / "model_weights"
    if source_tree.is_dir():
        return source_tree
    return Path(str(resources.files("sasnets_plugin.model_weights")))


def file_record(path: Path) -> dict:
    """What ``metadata.json`` records of one exported file: sha256 and size."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


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


def read_metadata(weights_dir: Path) -> dict:
    """``metadata.json`` as a dict; refuses any other JSON value."""
    path = weights_dir / METADATA_FILE
    metadata = _read_json(path, "network metadata")
    if not isinstance(metadata, dict):
        raise WeightsError(f"The network metadata {path} must be a JSON object (with the "
                           f"preprocessing version and file hashes), not {metadata!r:.40}.")
    return metadata


def check_files(weights_dir: Path, metadata: dict) -> None:
    """Refuse a folder whose files are not those the export recorded in ``metadata``."""
    records = metadata.get(FILES_KEY)
    if not (isinstance(records, dict)
            and all(isinstance(records.get(n), dict) for n in (MODEL_FILE, LIGHT_MODEL_FILE,
                                                                CLASSES_FILE))):
        raise WeightsError(
            f"{weights_dir / METADATA_FILE} records no hashes of {MODEL_FILE}, "
            f"{LIGHT_MODEL_FILE} and {CLASSES_FILE} (an export by an older SASNets?); "
            f"derive them with `{EXPORT_COMMAND} {weights_dir}` (needs the training extra).")
    for name in (CLASSES_FILE, MODEL_FILE, LIGHT_MODEL_FILE):
        record = records[name]
        if not (isinstance(record.get("sha256"), str) and type(record.get("bytes")) is int):
            raise WeightsError(
                f"{weights_dir / METADATA_FILE} was edited: its record of {name} must be "
                f'{{"sha256": "<hex digest>", "bytes": <whole number>}}, not {record!r:.80}. '
                f"Restore the exported file, or derive it again with `{EXPORT_COMMAND} "
                f"{weights_dir}` (needs the training extra).")
    for name in (CLASSES_FILE, MODEL_FILE, LIGHT_MODEL_FILE):
        path = weights_dir / name
        if not path.is_file():
            raise WeightsError(f"The network file is missing: {path} does not exist.")
        expected, actual = records[name], file_record(path)
        if actual == expected:
            continue
        if name == CLASSES_FILE:
            raise WeightsError(
                f"{path} was changed after export (its sha256 differs from the one in "
                f"{METADATA_FILE}): its model names would no longer label the network's "
                "outputs correctly. Restore the exported class list.")
        if actual["bytes"] < expected.get("bytes", 0):
            raise WeightsError(
                f"{path} is truncated or corrupt: {actual['bytes']:,} of the "
                f"{expected['bytes']:,} bytes exported (an interrupted copy or download?). "
                "Copy the weights folder again or reinstall SASNets.")
        raise WeightsError(
            f"{path} is corrupt or not the file this network was exported with (its sha256 "
            f"differs from the one in {METADATA_FILE}): {MODEL_FILE} and {LIGHT_MODEL_FILE} "
            f"must come from the same export. If {MODEL_FILE} was replaced on purpose, derive "
            f"the rest from it with `{EXPORT_COMMAND} {weights_dir}` (needs the training "
            "extra); otherwise copy the weights folder again.")


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's and LiteRT's C++ start-up notes (CUDA probing, "Created TensorFlow
    Lite XNNPACK delegate") bypass Python logging.

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


class _LiteRT:
    """``model.tflite`` in LiteRT's interpreter (no TensorFlow); resized per batch shape."""

    device = "CPU (LiteRT)"

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        threads = max(1, min(MAX_THREADS, len(os.sched_getaffinity(0))
                             if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise WeightsError(f"The network file {path} is corrupt ({exc}).") from exc
        (inp,) = self._interpreter.get_input_details()
        (out,) = self._interpreter.get_output_details()
        self._in, self._out = inp["index"], out["index"]
        self.input_shape = (None, *map(int, inp["shape_signature"][1:]))
        self.n_outputs = int(out["shape_signature"][-1])
        self._batch: tuple[int, ...] | None = None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape != self._batch:
            self._interpreter.resize_tensor_input(self._in, batch.shape)
            with _native_stderr_silenced():  # XNNPACK announces itself on first allocation
                self._interpreter.allocate_tensors()
            self._batch = batch.shape
        self._interpreter.set_tensor(self._in, batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._out).copy()


def tensorflow_conflict() -> str | None:
    """Why TensorFlow must not be imported into this process, or None.

    TensorFlow ships its own LLVM; so does Mesa's OpenGL driver (llvmpipe), which
    SasView's plots load. With both in one process, importing TensorFlow or drawing with
    OpenGL afterwards crashes the process (segmentation fault, measured with SasView
    6.2 and TensorFlow 2.21, either order). Mesa's ``libLLVM`` already mapped here is the
    case this can still refuse.
    """
    if "tensorflow" in sys.modules:
        return None
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # not Linux: no Mesa llvmpipe to clash with
        return None
    if "/libLLVM" in maps:
        return ("this process already uses OpenGL through Mesa's LLVM (inside SasView, "
                "for instance), and TensorFlow's own LLVM would crash it")
    return None


def _import_tensorflow(device: str):
    environment.configure()
    conflict = tensorflow_conflict()
    if conflict:
        raise SasnetsError(f"The Keras network (--device gpu, --runtime keras) cannot run "
                           f"here: {conflict}. Use the light runtime (device auto or cpu), "
                           "or rank in a separate process (sasnets-suggest --device gpu).")
    try:
        with _native_stderr_silenced():
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")  # device probing logs too
    except ImportError as exc:
        raise SasnetsError(
            "Running the Keras network (--device gpu, --runtime keras) needs TensorFlow, "
            "which is not installed: pip install 'sasnets-plugin[training]'. Without it, "
            "leave --device at auto or cpu (the light runtime).") from exc
    except Exception as exc:  # a broken install fails in its own ways (AttributeError...)
        raise SasnetsError(
            "Running the Keras network (--device gpu, --runtime keras) needs TensorFlow, "
            f"which is installed but fails to import ({type(exc).__name__}: {exc}): "
            "reinstall it with pip install --force-reinstall 'sasnets-plugin[training]'. "
            "Without it, leave --device at auto or cpu (the light runtime).") from exc
    if device == "gpu" and not gpus:
        raise SasnetsError("--device gpu was asked for, but TensorFlow sees no GPU.")
    if device == "cpu" and gpus:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow already initialised its devices
            pass
    return tf, ("/GPU:0" if gpus and device != "cpu" else "/CPU:0")


class _Keras:
    """``model.keras`` with TensorFlow, on ``device`` (the GPU path and the reference)."""

    def __init__(self, path: Path, device: str, input_shape: tuple[int, int]):
        tf, self.device = _import_tensorflow(device)
        import keras

        try:
            with tf.device(self.device):
                model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors...
            raise WeightsError(f"The network file {path} is corrupt ({exc}).") from exc
        self.input_shape = tuple(model.input_shape)
        self.n_outputs = model.output_shape[-1]
        self._tf = tf
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *input_shape), tf.float32)],
            reduce_retracing=True,
        )

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._tf.device(self.device):
            return self._forward(batch).numpy()


def output_layout(metadata: dict, n_classes: int) -> dict[str, slice]:
    """Where each named output sits in the network's output vector (see module doc)."""
    layout = metadata.get(OUTPUTS_KEY, [[PROBABILITIES, n_classes]])
    try:
        names = [str(name) for name, _ in layout]
        sizes = [int(size) for _, size in layout]
    except (TypeError, ValueError):
        raise WeightsError(f"The network metadata's {OUTPUTS_KEY!r} must list [name, size] "
                           f"pairs, not {layout!r:.80}.") from None
    unknown = sorted(set(names) - set(KNOWN_OUTPUTS))
    if unknown or names[:1] != [PROBABILITIES] or len(set(names)) != len(names):
        raise WeightsError(f"The network metadata's {OUTPUTS_KEY!r} ({names}) must start with "
                           f"{PROBABILITIES!r} and name only {', '.join(KNOWN_OUTPUTS)} once.")
    ends = np.cumsum(sizes)
    return {name: slice(int(end - size), int(end)) for name, size, end in zip(names, sizes, ends)}


class Outputs(NamedTuple):
    """What the network says about a batch of curves."""

    probabilities: np.ndarray      # (n, n_classes)
    distance: np.ndarray | None    # (n,): the shape distance of the novelty score
    estimates: np.ndarray | None   # (n, slots): encoded parameter estimates


class Classifier:
    """The trained network with its class list; checks both before use.

    ``runtime``: ``"litert"`` (``model.tflite``, no TensorFlow, CPU) or ``"keras"``
    (``model.keras`` with TensorFlow); by default Keras only for ``device="gpu"``.
    :meth:`predict` may be called from several threads (one call runs at a time).
    """

    def __init__(self, weights_dir: str | Path | None = None, device: str = "auto",
                 runtime: str | None = None):
        if device not in DEVICES:
            raise SasnetsError(f"device must be one of {', '.join(DEVICES)}, not {device!r}.")
        runtime = runtime or ("keras" if device == "gpu" else "litert")
        if runtime not in RUNTIMES:
            raise SasnetsError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}.")
        if runtime == "litert" and device == "gpu":
            raise SasnetsError("The light runtime (LiteRT) runs on the CPU; --device gpu "
                               "uses the Keras network with TensorFlow.")
        self.weights_dir = Path(weights_dir) if weights_dir else default_weights_dir()
        self.classes = read_classes(self.weights_dir)
        self.metadata = read_metadata(self.weights_dir)
        version = self.metadata.get("preprocessing_version")
        try:
            self.transform: Transform = get_transform(str(version))
        except KeyError as exc:
            raise WeightsError(
                f"The network in {self.weights_dir} was trained with preprocessing "
                f"{version!r}, which this version of SASNets does not know ({exc.args[0]}); "
                "retrain it or install the matching SASNets."
            ) from None
        self._outputs = output_layout(self.metadata, len(self.classes))
        #: which estimate belongs to which model (empty: a network without estimates)
        self.estimate_slots = SlotIndex(slots_from_metadata(self.metadata))
        part = self._outputs.get(ESTIMATES)
        if (0 if part is None else part.stop - part.start) != len(self.estimate_slots):
            raise WeightsError(f"The network metadata lists {len(self.estimate_slots)} estimate "
                               f"slots for {0 if part is None else part.stop - part.start} "
                               "estimate outputs; they do not belong together.")
        self.novelty = Novelty.from_metadata(self.metadata)
        check_files(self.weights_dir, self.metadata)
        self.runtime = runtime
        model_path = self.weights_dir / (LIGHT_MODEL_FILE if runtime == "litert" else MODEL_FILE)
        self._network = (_LiteRT(model_path) if runtime == "litert"
                         else _Keras(model_path, device, self.transform.shape))
        self.device = self._network.device
        expected_in = (None, *self.transform.shape)
        if tuple(self._network.input_shape) != expected_in:
            raise WeightsError(
                f"The network in {model_path} reads inputs of shape "
                f"{self._network.input_shape}, not {expected_in} (preprocessing {version})."
            )
        n_expected = max(part.stop for part in self._outputs.values())
        probabilities = self._outputs[PROBABILITIES]
        if self._network.n_outputs != n_expected or \
                probabilities.stop - probabilities.start != len(self.classes):
            raise WeightsError(
                f"The network in {model_path} has {self._network.n_outputs} outputs but "
                f"{CLASSES_FILE} lists {len(self.classes)} models (and {METADATA_FILE} "
                f"expects {n_expected} outputs in all); they do not belong together."
            )
        self._lock = threading.Lock()
        log.info("Loaded %d-class network from %s (%s, %s)", len(self.classes),
                 self.weights_dir, model_path.name, self.device)

    @property
    def has_shape_distance(self) -> bool:
        return SHAPE_DISTANCE in self._outputs

    def outputs(self, inputs: np.ndarray, batch_size: int = 1024) -> "Outputs":
        """:class:`Outputs` of the network for ``inputs``: each row of probabilities sums
        to 1; the distance and the estimates exist for networks that export them."""
        inputs = np.asarray(inputs, dtype=np.float32)
        if inputs.ndim == 2:
            inputs = inputs[None]
        if inputs.shape[1:] != tuple(self.transform.shape):
            raise ValueError(f"this network reads inputs of shape (n, *{self.transform.shape}) "
                             f"(preprocessing {self.transform.version}), not {inputs.shape}")
        out = np.empty((inputs.shape[0], self._network.n_outputs), dtype=np.float64)
        with self._lock:  # LiteRT's interpreter is not thread-safe
            for start in range(0, inputs.shape[0], batch_size):
                batch = np.ascontiguousarray(inputs[start : start + batch_size])
                out[start : start + batch.shape[0]] = self._network(batch)
        probs = out[:, self._outputs[PROBABILITIES]]
        distance = out[:, self._outputs[SHAPE_DISTANCE]][:, 0] if self.has_shape_distance else None
        estimated = out[:, self._outputs[ESTIMATES]] if ESTIMATES in self._outputs else None
        return Outputs(probs / probs.sum(axis=1, keepdims=True), distance, estimated)

    def predict(self, inputs: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Probabilities, shape ``(n, n_classes)``, each row summing to 1."""
        return self.outputs(inputs, batch_size)[0]
