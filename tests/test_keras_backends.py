"""The training uses Keras 3 APIs only: a tiny run trains on JAX in a process where
TensorFlow cannot even be imported, resumes after a kill like on TensorFlow, and exports a
network the runtime loads (the LiteRT conversion runs in a TensorFlow process of its own)."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sasnets_plugin.classifier import Classifier
from training.heads import joint_classes

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="JAX is not installed. It is not in the test extra: its wheels (jaxlib: 83 MB) "
           "are not in this machine's offline package index for Python 3.12; "
           "`pip install jax jaxlib` runs this test.")

MODELS = ["sphere", "lamellar"]
#: ``python -m training.run`` with every import of TensorFlow failing.
WITHOUT_TENSORFLOW = ("import sys; sys.modules['tensorflow'] = None; "
                      "from training.run import main; sys.exit(main(sys.argv[1:]))")


def _command(*args):
    return [sys.executable, "-c", WITHOUT_TENSORFLOW, *map(str, args)]


def _env():
    return dict(os.environ, KERAS_BACKEND="jax")


def test_a_tiny_run_trains_resumes_and_exports_on_jax(tmp_path):
    common = ["--models", ",".join(MODELS), "--per-model", "20", "--shifted-per-model", "0",
              "--batch-size", "2", "--workers", "1", "--architectures", "resnet1d",
              "--patience", "100", "--out", tmp_path]
    proc = subprocess.run(_command("generate", *common), env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "runs" / "resnet1d"

    def epoch() -> int:
        try:
            return json.loads((run / "state.json").read_text())["epoch"]
        except (FileNotFoundError, json.JSONDecodeError):
            return 0

    train = subprocess.Popen(_command("train", "--epochs", "2", *common), env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while train.poll() is None and epoch() < 1 and time.monotonic() < deadline:
        time.sleep(0.002)
    stopped_early = train.poll() is None
    if stopped_early:
        os.kill(train.pid, signal.SIGKILL)
    _, stderr = train.communicate(timeout=60)
    assert stopped_early, "training finished before it could be stopped: " + stderr.decode()[-2000:]
    assert b"training resnet1d on 32 curves (jax cpu)" in stderr

    proc = subprocess.run(_command("--epochs", "2", "--equivalent-sample", "0",
                                   "--shipped-weights", "none", *common),
                          env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming resnet1d after epoch 1" in proc.stderr
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 2 and len(state["history"]["loss"]) == 2

    weights = tmp_path / "weights"
    meta = json.loads((weights / "metadata.json").read_text())
    assert meta["machine"]["keras_backend"] == "jax" and meta["machine"]["device"] == "cpu"
    assert meta["light_runtime"]["max_abs_difference"] <= 1e-5
    clf = Classifier(weights)
    assert clf.classes == joint_classes(MODELS)
    x = np.load(tmp_path / "cache" / clf.transform.version / "test.npy")
    np.testing.assert_allclose(clf.predict(x).sum(axis=1), 1.0, atol=1e-5)
