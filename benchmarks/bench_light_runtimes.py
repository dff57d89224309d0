"""Which light runtime ranks without TensorFlow: LiteRT against ONNX Runtime, side by side.

    .venv/bin/python benchmarks/bench_light_runtimes.py   # -> results/light_runtimes.json

Both files are derived from the shipped ``model_weights/model.keras`` in this run
(``tf.lite.TFLiteConverter`` / ``tf2onnx``) and measured on the same inputs: file
size, conversion time, largest difference from Keras on the network inputs of
sasdata's example files and on random inputs, a fresh process that imports the runtime,
loads the file and ranks one curve (whole-process wall time, beside a bare
``import numpy`` process), one-curve latency and a 2,000-curve batch. ONNX needs
``pip install onnxruntime tf2onnx onnx`` (not SASNets dependencies); without them its
entry says so.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "light_runtimes.json"

#: Fresh-process programs: import the runtime, load the file, rank one input.
COLD = {
    "litert": "from ai_edge_litert.interpreter import Interpreter\n"
              "it = Interpreter(model_path=PATH)\n"
              "(i,), (o,) = it.get_input_details(), it.get_output_details()\n"
              "it.resize_tensor_input(i['index'], x.shape); it.allocate_tensors()\n"
              "it.set_tensor(i['index'], x); it.invoke(); y = it.get_tensor(o['index'])\n",
    "onnxruntime": "import onnxruntime\n"
                   "s = onnxruntime.InferenceSession(PATH, providers=['CPUExecutionProvider'])\n"
                   "y = s.run(None, {s.get_inputs()[0].name: x})[0]\n",
}


def _runner(kind: str, path: Path):
    """A function: float32 network inputs (n, points, channels) -> outputs, for the file ``path``."""
    if kind == "litert":
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=str(path), num_threads=min(4, os.cpu_count() or 1))
        (i,), (o,) = it.get_input_details(), it.get_output_details()
        shape = [None]

        def run(x):
            if x.shape != shape[0]:
                it.resize_tensor_input(i["index"], x.shape)
                it.allocate_tensors()
                shape[0] = x.shape
            it.set_tensor(i["index"], x)
            it.invoke()
            return it.get_tensor(o["index"])
        return run
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _convert(kind: str, model, folder: Path) -> tuple[Path, float]:
    import tensorflow as tf

    start = time.perf_counter()
    if kind == "litert":
        from training.export import to_tflite

        path = folder / "model.tflite"
        path.write_bytes(to_tflite(model))
    else:
        import tf2onnx

        path = folder / "model.onnx"
        forward = tf.function(lambda x: model(x, training=False))
        spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="inputs"),)
        with contextlib.redirect_stdout(io.StringIO()):
            tf2onnx.convert.from_function(forward, input_signature=spec, opset=17,
                                          output_path=str(path))
    return path, time.perf_counter() - start


def _cold(files: dict[str, Path], repeats: int, shape: tuple[int, int]) -> dict[str, list[float]]:
    """Whole-process wall times per runtime and for a bare ``import numpy``, interleaved
    (round after round) so that a busy moment of the machine hits them alike."""
    codes = {"numpy": "import numpy"}
    for kind, path in files.items():
        codes[kind] = (f"import numpy as np\nx = np.zeros((1, *{shape}), np.float32)\n"
                       f"PATH = {str(path)!r}\n" + COLD[kind])
    walls: dict[str, list[float]] = {kind: [] for kind in codes}
    for _ in range(repeats):
        for kind, code in codes.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            walls[kind].append(time.perf_counter() - start)
    return walls


def example_inputs() -> np.ndarray:
    """Network inputs of every sasdata 1D example file the runtime ranks (in the bundled
    network's preprocessing version)."""
    from sasnets_plugin.cli import demo_files
    from sasnets_plugin.errors import SasnetsError
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import get_classifier, prepare

    transform = get_classifier().transform
    inputs = []
    for path in sorted(demo_files()[0].parent.iterdir()):
        try:
            inputs.extend(prepare(curve, transform).inputs for curve in load_1d(path))
        except SasnetsError:
            continue
    return np.stack(inputs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="fresh processes per runtime")
    parser.add_argument("--calls", type=int, default=300, help="one-curve calls")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from sasnets_plugin import environment

    environment.configure()
    import keras

    from sasnets_plugin.classifier import MODEL_FILE, default_weights_dir

    model = keras.saving.load_model(default_weights_dir() / MODEL_FILE, compile=False)
    realistic = example_inputs().astype(np.float32)
    shape = realistic.shape[1:]  # the bundled network's input (its preprocessing version)
    noise = np.random.default_rng(0).normal(size=(256, *shape)).astype(np.float32)
    batch = np.resize(realistic, (2000, *shape))
    reference = {"examples": model.predict(realistic, verbose=0),
                 "random": model.predict(noise, verbose=0)}
    result: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "python": platform.python_version()},
                    "inputs": {"examples": len(realistic), "random": len(noise)}}
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("litert", "onnxruntime"):
            try:
                path, seconds = _convert(kind, model, Path(tmp))
                run = _runner(kind, path)
            except ImportError as exc:
                result[kind] = {"error": f"not installed: {exc}"}
                continue
            one = realistic[:1]
            run(one)
            times = []
            for _ in range(args.calls):
                start = time.perf_counter()
                run(one)
                times.append(time.perf_counter() - start)
            run(batch)
            start = time.perf_counter()
            run(batch)
            batch_s = time.perf_counter() - start
            files[kind] = path
            result[kind] = {
                "file_bytes": path.stat().st_size, "conversion_s": seconds,
                "max_abs_difference": {k: float(np.max(np.abs(run(x) - reference[k])))
                                       for k, x in (("examples", realistic), ("random", noise))},
                "one_curve_ms_median": 1e3 * statistics.median(times),
                "batch_2000_s": batch_s,
            }
        for kind, walls in _cold(files, args.repeats, tuple(shape)).items():
            entry = result.setdefault(kind, {})
            entry["cold_process_s_median"] = statistics.median(walls)
            entry["cold_process_runs_s"] = walls
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
