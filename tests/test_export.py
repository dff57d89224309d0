"""``python -m training.export DIR`` derives the light model from model.keras and records
the hashes the runtime checks."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sasnets_plugin.classifier import Classifier, default_weights_dir


def test_export_derives_a_light_model_the_runtime_accepts(tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), weights)
    (weights / "model.tflite").unlink()
    meta = json.loads((weights / "metadata.json").read_text())
    del meta["files"], meta["light_runtime"]
    (weights / "metadata.json").write_text(json.dumps(meta))

    proc = subprocess.run([sys.executable, "-m", "training.export", str(weights)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((weights / "metadata.json").read_text())
    assert set(meta["files"]) == {"model.keras", "model.tflite", "classes.json"}
    assert meta["light_runtime"]["max_abs_difference"] < 1e-5
    assert not list(weights.glob(".*partial*")), "temporary files left behind"

    shipped = Classifier()
    x = np.random.default_rng(3).normal(size=(20, *shipped.transform.shape)).astype(np.float32)
    np.testing.assert_allclose(Classifier(weights).predict(x), shipped.predict(x), atol=1e-6)
    with pytest.raises(ValueError, match="reads inputs of shape"):
        shipped.predict(x[:, :-1])


def test_export_of_a_folder_without_keras_model_says_so(tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), weights)
    (weights / "model.keras").unlink()
    proc = subprocess.run([sys.executable, "-m", "training.export", str(weights)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert f"error: {weights / 'model.keras'} does not exist." in proc.stderr
