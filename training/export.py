"""Write a trained network in the layout the runtime loads (``sasnets_plugin.classifier``).

``model.keras`` stays the source of truth. From it, export derives ``model.tflite`` for
the light runtime that ranks without TensorFlow, checks that both give the same
probabilities, and records the sha256 and size of ``model.keras``, ``model.tflite`` and
``classes.json`` in ``metadata.json`` (the runtime refuses a folder that does not match).

Why LiteRT (``ai-edge-litert``) and not ONNX Runtime: both run the shipped network
without TensorFlow, from files of the same size (1.9 MB), and agree with Keras within
5e-6 on the example files' inputs. LiteRT was faster in each measurement: a fresh
process that imports it, loads the file and ranks one curve took 0.22 s against 0.33 s
(a bare ``import numpy`` process: 0.20 s), one curve 0.25 ms against 0.41 ms, 2,000
curves 0.7 s against 2.8 s. And its converter is part of TensorFlow, which training
has anyway, where ONNX needs ``tf2onnx`` and ``onnx`` on top. Measured side by side
by ``benchmarks/bench_light_runtimes.py`` (``benchmarks/results/light_runtimes.json``,
2-core machine).

For a folder that has ``model.keras`` but no (or a stale) ``model.tflite``::

    python -m training.export WEIGHTS_DIR
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from sasnets_plugin import environment
from sasnets_plugin.classifier import (CLASSES_FILE, FILES_KEY, LIGHT_MODEL_FILE, METADATA_FILE,
                                       MODEL_FILE, file_record, read_metadata)
from sasnets_plugin.errors import SasnetsError
from sasnets_plugin.preprocessing import N_CHANNELS, N_POINTS, PREPROCESSING_VERSION

log = logging.getLogger(__name__)

REPORT_FILE = "report.json"
#: Largest difference in any probability allowed between the two files.
TOLERANCE = 1e-5
#: Random network inputs the two files are compared on at export.
N_CHECK = 256


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, whole."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, value) -> None:
    write_atomic(path, (json.dumps(value, indent=1) + "\n").encode())


def calibrated_model(logits_model, temperature: float):
    """The logits network followed by softmax(logits / T): outputs calibrated probabilities."""
    import keras
    from keras import layers

    scaled = layers.Rescaling(1.0 / temperature, name="temperature")(logits_model.output)
    probs = layers.Softmax(name="probabilities", dtype="float32")(scaled)
    return keras.Model(logits_model.input, probs, name=f"{logits_model.name}_calibrated")


def to_tflite(model) -> bytes:
    """The Keras ``model`` as a LiteRT (TFLite) flatbuffer."""
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()) as printed:  # Keras lists the endpoints
        flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    log.debug("TFLite converter: %s", printed.getvalue())
    return flatbuffer


def max_difference(model, flatbuffer: bytes, n: int = N_CHECK, seed: int = 0) -> float:
    """Largest |Keras - LiteRT| over the probabilities of ``n`` random network inputs."""
    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(seed).normal(size=(n, N_POINTS, N_CHANNELS)).astype(np.float32)
    interpreter = Interpreter(model_content=flatbuffer)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    light = interpreter.get_tensor(out["index"])
    return float(np.max(np.abs(model.predict(x, verbose=0) - light)))


def derive_light_model(out_dir: Path) -> dict:
    """Write ``model.tflite`` from ``out_dir/model.keras``; the metadata entries to add.

    Raises RuntimeError when the two disagree by more than :data:`TOLERANCE`.
    """
    import keras
    import tensorflow as tf

    model = keras.saving.load_model(out_dir / MODEL_FILE, compile=False)
    flatbuffer = to_tflite(model)
    difference = max_difference(model, flatbuffer)
    if not difference <= TOLERANCE:
        raise RuntimeError(f"{LIGHT_MODEL_FILE} would differ from {MODEL_FILE} by {difference:.2g} "
                           f"in a probability (more than {TOLERANCE:g}); not written.")
    write_atomic(out_dir / LIGHT_MODEL_FILE, flatbuffer)
    log.info("wrote %s (%d bytes, max difference %.2g)", out_dir / LIGHT_MODEL_FILE,
             len(flatbuffer), difference)
    return {
        "light_runtime": {
            "file": LIGHT_MODEL_FILE, "runtime": "LiteRT (ai-edge-litert)",
            "converter": f"tf.lite.TFLiteConverter.from_keras_model, TensorFlow {tf.__version__}",
            "max_abs_difference": difference,
            "compared_on": f"{N_CHECK} random network inputs (seed 0)",
        },
        FILES_KEY: {name: file_record(out_dir / name)
                    for name in (MODEL_FILE, LIGHT_MODEL_FILE, CLASSES_FILE)},
    }


def export(logits_model, temperature: float, classes: list[str], metadata: dict,
           report: dict, plots_dir: Path, plots: list[str], out_dir: Path) -> Path:
    """Write model, light model, class list, metadata (preprocessing version, file
    hashes), report and plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f".partial.{MODEL_FILE}"  # Keras insists on the .keras suffix
    calibrated_model(logits_model, temperature).save(partial)
    os.replace(partial, out_dir / MODEL_FILE)
    write_json(out_dir / CLASSES_FILE, classes)
    meta = {"preprocessing_version": PREPROCESSING_VERSION, "n_classes": len(classes),
            "temperature": temperature, **metadata, **derive_light_model(out_dir)}
    write_json(out_dir / METADATA_FILE, meta)
    write_json(out_dir / REPORT_FILE, report)
    for name in plots:
        if (plots_dir / name).resolve() != (out_dir / name).resolve():
            shutil.copy2(plots_dir / name, out_dir / name)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """``python -m training.export DIR``: (re)derive the light model of a weights folder."""
    parser = argparse.ArgumentParser(
        prog="python -m training.export",
        description=f"Derive {LIGHT_MODEL_FILE} (the light runtime's file) from {MODEL_FILE} "
        f"in a weights folder and record the files' hashes in its {METADATA_FILE}.")
    parser.add_argument("weights_dir", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    environment.configure()
    try:
        meta = read_metadata(args.weights_dir)
        if not (args.weights_dir / MODEL_FILE).is_file():
            raise SasnetsError(f"{args.weights_dir / MODEL_FILE} does not exist.")
        meta.update(derive_light_model(args.weights_dir))
    except (SasnetsError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json(args.weights_dir / METADATA_FILE, meta)
    print(json.dumps({k: meta[k] for k in ("light_runtime", FILES_KEY)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
