"""A tiny end-to-end training run: generate → train → evaluate → export → load via the runtime."""
import json
import subprocess
import sys

import numpy as np
import pytest

from sasnets_plugin.classifier import Classifier
from sasnets_plugin.cleaning import clean_curve
from sasnets_plugin.preprocessing import PREPROCESSING_VERSION, network_input

MODELS = ["sphere", "cylinder", "lamellar"]


def _snapshot(folder):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture(scope="module")
def shipped_before():
    from sasnets_plugin.classifier import default_weights_dir

    return _snapshot(default_weights_dir())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, shipped_before):
    out = tmp_path_factory.mktemp("tiny")
    cmd = [sys.executable, "-m", "training.run", "--models", ",".join(MODELS),
           "--per-model", "40", "--epochs", "1", "--workers", "2", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_everything_is_written_under_out(tiny_run):
    weights = tiny_run / "weights"
    for name in ("model.keras", "classes.json", "metadata.json", "report.json",
                 "confusion_matrix.png", "confusion_dendrogram.png", "training_curves.png"):
        assert (weights / name).is_file(), name
    assert json.loads((weights / "classes.json").read_text()) == MODELS
    meta = json.loads((weights / "metadata.json").read_text())
    assert meta["preprocessing_version"] == PREPROCESSING_VERSION
    assert meta["command"].startswith("python -m training.run --models sphere,cylinder,lamellar")
    assert meta["data"]["seed"] == 2017 or "seed" in json.dumps(meta["data"])
    report = json.loads((weights / "report.json").read_text())
    for arch in ("resnet1d", "sasnets2017"):
        scores = report["architectures"][arch]
        assert 0 <= scores["top1"] <= scores["top3"] <= 1
        assert scores["n_curves"] == 12
        assert set(scores["per_class_recall"]) == set(MODELS)


def test_exported_network_loads_through_the_runtime(tiny_run):
    clf = Classifier(tiny_run / "weights")
    assert clf.classes == MODELS
    q = np.logspace(-2.5, -0.5, 80)
    curve, _ = clean_curve(q, q**-4 + 1e-2)
    p = clf.predict(network_input(curve.q, curve.I))
    assert p.shape == (1, 3) and p.sum() == pytest.approx(1.0)


def test_training_uses_the_runtime_transform():
    import training.features as features

    assert features.network_input is network_input
    assert features.clean_curve is clean_curve


def test_model_weights_folder_is_left_untouched(tiny_run, shipped_before):
    from sasnets_plugin.classifier import default_weights_dir

    assert _snapshot(default_weights_dir()) == shipped_before


def test_a_second_run_resumes_instead_of_redoing(tiny_run):
    state = json.loads((tiny_run / "runs" / "resnet1d" / "state.json").read_text())
    cmd = [sys.executable, "-m", "training.run", "train", "--models", ",".join(MODELS),
           "--per-model", "40", "--epochs", "1", "--architectures", "resnet1d", "--out", str(tiny_run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "epoch 1/1" not in proc.stderr  # nothing retrained
    assert json.loads((tiny_run / "runs" / "resnet1d" / "state.json").read_text()) == state
