"""Write a trained network in the layout the runtime loads (``sasnets_plugin.classifier``).

``model.keras`` stays the source of truth. For network v3 it is one Keras model that
ends where the runtime starts: the two heads calibrated by their temperatures, combined
into probabilities over the ranked list (models and ``form@structure`` products, a frozen
layer: :mod:`training.heads`), and the shape distance of the out-of-distribution score (a
frozen branch on the features: :mod:`training.ood`), concatenated into one output vector
whose layout ``metadata.json`` records (``"outputs"``); network v4 appends its parameter
estimates (:mod:`sasnets_plugin.estimates`; their slot list is recorded too). One output
keeps the LiteRT side simple: the converter does not keep a multi-output model's order.

From ``model.keras``, export derives ``model.tflite`` for the light runtime that ranks
without TensorFlow, checks that both give the same outputs on network inputs of
synthetic curves (probabilities within :data:`TOLERANCE`, the distance within
:data:`DISTANCE_RTOL`), and records the sha256 and size of ``model.keras``,
``model.tflite`` and ``classes.json`` in ``metadata.json`` (the runtime refuses a folder
that does not match), beside the preprocessing version, the temperatures and the OOD
reference.

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

The conversion to LiteRT is a TensorFlow step. A network trained on another Keras backend
(``KERAS_BACKEND=jax`` or ``torch``) is saved as ``model.keras`` (backend-independent) and
converted by that command in a TensorFlow process.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from sasnets_plugin import environment
from sasnets_plugin import estimates
from sasnets_plugin.classifier import (CLASSES_FILE, ESTIMATES, FILES_KEY, LIGHT_MODEL_FILE,
                                       METADATA_FILE, MODEL_FILE, OUTPUTS_KEY, PROBABILITIES,
                                       SHAPE_DISTANCE, file_record, output_layout, read_classes,
                                       read_metadata)
from sasnets_plugin.cleaning import clean_curve
from sasnets_plugin.errors import SasnetsError
from sasnets_plugin.novelty import METADATA_KEY as NOVELTY_KEY
from sasnets_plugin.preprocessing import PREPROCESSING_VERSION, Transform, get_transform

from .atomic import replacing, write_bytes, write_json
from .ood import Mahalanobis, keras_distance

log = logging.getLogger(__name__)

REPORT_FILE = "report.json"
#: Largest difference in any probability allowed between the two files.
TOLERANCE = 1e-5
#: Largest relative difference of the shape distance (float32 sums of squares): the
#: OOD score reads its log10, so 1e-3 is 0.0004 decades, far below the score's scale
#: (its validation spread is 0.1 to 1 decade).
DISTANCE_RTOL = 1e-3
#: Largest difference of an estimate (log10 units for lengths: 1e-4 is 0.02 %).
ESTIMATE_TOLERANCE = 1e-4
#: Synthetic curves the two files are compared on at export.
N_CHECK = 256


def export_model(model, temperature_form: float, temperature_structure: float,
                 matrix: np.ndarray, mahalanobis: Mahalanobis):
    """One Keras model from a trained ``[form, structure, embedding(, estimates)]``
    network: output ``[probabilities over the ranked list..., shape distance(,
    estimates...)]`` (module docstring)."""
    import keras
    from keras import layers

    inputs = keras.Input(model.input.shape[1:])
    form, structure, embedding, *estimated = model(inputs)
    log_form = layers.Activation("log_softmax")(
        layers.Rescaling(1.0 / temperature_form, name="temperature_form")(form))
    log_structure = layers.Activation("log_softmax")(
        layers.Rescaling(1.0 / temperature_structure, name="temperature_structure")(structure))
    ranked = layers.Dense(matrix.shape[1], use_bias=False, trainable=False, name="ranked_list",
                          dtype="float32")
    joint = ranked(layers.Concatenate()([log_form, log_structure]))
    ranked.set_weights([matrix.astype(np.float32)])
    probs = layers.Softmax(name=PROBABILITIES, dtype="float32")(joint)
    distance = keras_distance(embedding, mahalanobis)
    out = layers.Concatenate(name="outputs", dtype="float32")([probs, distance, *estimated])
    return keras.Model(inputs, out, name=f"{model.name}_exported")


def _synthetic_curve(rng: np.random.Generator):
    """A noisy sphere-plus-power-law curve on a random window, with or without dI, dQ or
    a slit: realistic network inputs for the export check."""
    q_min = 10 ** rng.uniform(-4.5, -1.5)
    q = np.geomspace(q_min, q_min * 10 ** rng.uniform(0.8, 4.5), int(rng.integers(10, 500)))
    x = q * 10 ** rng.uniform(0.5, 3.5) / q_min / 30
    intensity = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 1e-4 * x ** -rng.uniform(1, 4)
    intensity *= 1 + 0.05 * rng.standard_normal(q.size)
    error = 0.05 * np.abs(intensity) if rng.random() < 0.5 else None
    kind = rng.random()
    dq = 0.05 * q if kind < 0.5 else None
    slit = 10 * q_min if kind > 0.8 else None
    return clean_curve(q, np.abs(intensity) + 1e-12, error, dQ=dq, slit_length=slit)[0]


def check_inputs(transform: Transform, n: int = N_CHECK, seed: int = 0) -> np.ndarray:
    """Network inputs of ``n`` synthetic curves for ``transform``."""
    rng = np.random.default_rng(seed)
    return np.stack([transform.encode(_synthetic_curve(rng)) for _ in range(n)])


def to_tflite(model) -> bytes:
    """The Keras ``model`` as a LiteRT (TFLite) flatbuffer."""
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()) as printed:  # Keras lists the endpoints
        flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    log.debug("TFLite converter: %s", printed.getvalue())
    return flatbuffer


def _light_outputs(flatbuffer: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


def differences(model, flatbuffer: bytes, metadata: dict, n_classes: int) -> dict[str, float]:
    """Largest |Keras - LiteRT| of the probabilities and largest relative difference of
    the shape distance (when exported) on :func:`check_inputs` of the network's version."""
    transform = get_transform(metadata.get("preprocessing_version"))
    x = check_inputs(transform).astype(np.float32)
    keras_out, light = model.predict(x, verbose=0), _light_outputs(flatbuffer, x)
    layout = output_layout(metadata, n_classes)
    out = {"max_abs_difference": float(np.max(np.abs(keras_out[:, layout[PROBABILITIES]]
                                                     - light[:, layout[PROBABILITIES]])))}
    if ESTIMATES in layout:
        out["estimates_max_abs_difference"] = float(np.max(np.abs(
            keras_out[:, layout[ESTIMATES]] - light[:, layout[ESTIMATES]])))
    if SHAPE_DISTANCE in layout:
        a, b = keras_out[:, layout[SHAPE_DISTANCE]], light[:, layout[SHAPE_DISTANCE]]
        relative = np.abs(a - b) / np.maximum(np.abs(a), 1.0)
        out["shape_distance_max_rel_difference"] = float(np.max(relative))
    return out


def derive_light_model(out_dir: Path, metadata: dict) -> dict:
    """Write ``model.tflite`` from ``out_dir/model.keras``; the metadata entries to add.

    ``metadata`` gives the preprocessing version and the output layout. Raises
    RuntimeError when the two files disagree by more than the tolerances.
    """
    import keras
    import tensorflow as tf

    model = keras.saving.load_model(out_dir / MODEL_FILE, compile=False)
    flatbuffer = to_tflite(model)
    found = differences(model, flatbuffer, metadata, len(read_classes(out_dir)))
    if not found["max_abs_difference"] <= TOLERANCE:
        raise RuntimeError(f"{LIGHT_MODEL_FILE} would differ from {MODEL_FILE} by "
                           f"{found['max_abs_difference']:.2g} in a probability (more than "
                           f"{TOLERANCE:g}); not written.")
    if not found.get("estimates_max_abs_difference", 0.0) <= ESTIMATE_TOLERANCE:
        raise RuntimeError(f"{LIGHT_MODEL_FILE} would differ from {MODEL_FILE} by "
                           f"{found['estimates_max_abs_difference']:.2g} in an estimate (more "
                           f"than {ESTIMATE_TOLERANCE:g}); not written.")
    if not found.get("shape_distance_max_rel_difference", 0.0) <= DISTANCE_RTOL:
        raise RuntimeError(f"{LIGHT_MODEL_FILE} would differ from {MODEL_FILE} by "
                           f"{found['shape_distance_max_rel_difference']:.2g} (relative) in the "
                           f"shape distance (more than {DISTANCE_RTOL:g}); not written.")
    write_bytes(out_dir / LIGHT_MODEL_FILE, flatbuffer)
    log.info("wrote %s (%d bytes, differences %s)", out_dir / LIGHT_MODEL_FILE, len(flatbuffer),
             found)
    return {
        "light_runtime": {
            "file": LIGHT_MODEL_FILE, "runtime": "LiteRT (ai-edge-litert)",
            "converter": f"tf.lite.TFLiteConverter.from_keras_model, TensorFlow {tf.__version__}",
            **found,
            "compared_on": f"network inputs of {N_CHECK} synthetic curves (seed 0)",
        },
        FILES_KEY: {name: file_record(out_dir / name)
                    for name in (MODEL_FILE, LIGHT_MODEL_FILE, CLASSES_FILE)},
    }


def derive_in_tensorflow(out_dir: Path) -> None:
    """:func:`main` on ``out_dir`` in a process with the TensorFlow backend (module doc);
    RuntimeError with its message when it fails."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    proc = subprocess.run([sys.executable, "-m", "training.export", str(out_dir)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(f"deriving {LIGHT_MODEL_FILE} with TensorFlow failed: "
                           f"{lines[-1] if lines else f'exit status {proc.returncode}'}")
    log.info("wrote %s with TensorFlow (the network was trained on %s)",
             out_dir / LIGHT_MODEL_FILE, os.environ.get("KERAS_BACKEND"))


def export(model, temperatures: dict[str, float], forms: list[str], classes: list[str],
           matrix: np.ndarray, mahalanobis: Mahalanobis, novelty: dict, metadata: dict,
           report: dict, plots_dir: Path, plots: list[str], out_dir: Path) -> Path:
    """Write model, light model, class list (the ranked list), metadata (preprocessing
    version, output layout, temperatures, OOD reference, estimate slots, file hashes),
    report and plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exported = export_model(model, temperatures["form"], temperatures["structure"], matrix,
                            mahalanobis)
    with replacing(out_dir / MODEL_FILE) as tmp:
        exported.save(tmp)
    write_json(out_dir / CLASSES_FILE, classes)
    layout = [[PROBABILITIES, len(classes)], [SHAPE_DISTANCE, 1]]
    slots = estimates.make_slots(forms) if len(model.outputs) > 3 else ()
    if slots:
        if model.outputs[3].shape[-1] != len(slots):
            raise RuntimeError(f"the network estimates {model.outputs[3].shape[-1]} numbers, "
                               f"the models of its list have {len(slots)} estimate slots")
        layout.append([ESTIMATES, len(slots)])
    meta = {"preprocessing_version": PREPROCESSING_VERSION, "n_classes": len(classes),
            "forms": forms, OUTPUTS_KEY: layout, "temperature": temperatures, **metadata,
            NOVELTY_KEY: novelty}
    if slots:
        meta[estimates.METADATA_KEY] = [slot.as_list() for slot in slots]
    import keras

    if keras.backend.backend() == "tensorflow":
        meta.update(derive_light_model(out_dir, meta))
        write_json(out_dir / METADATA_FILE, meta)
    else:
        write_json(out_dir / METADATA_FILE, meta)
        derive_in_tensorflow(out_dir)
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
        meta.update(derive_light_model(args.weights_dir, meta))
    except (SasnetsError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # an unknown preprocessing version
        print(f"error: {args.weights_dir / METADATA_FILE}: {exc.args[0]}", file=sys.stderr)
        return 2
    write_json(args.weights_dir / METADATA_FILE, meta)
    print(json.dumps({k: meta[k] for k in ("light_runtime", FILES_KEY)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
