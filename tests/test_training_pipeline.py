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
           "--per-model", "40", "--shifted-per-model", "4", "--epochs", "1", "--workers", "2",
           "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_everything_is_written_under_out(tiny_run):
    weights = tiny_run / "weights"
    for name in ("model.keras", "model.tflite", "classes.json", "metadata.json", "report.json",
                 "confusion_matrix.png", "confusion_dendrogram.png", "training_curves.png"):
        assert (weights / name).is_file(), name
    assert json.loads((weights / "classes.json").read_text()) == MODELS
    meta = json.loads((weights / "metadata.json").read_text())
    assert meta["preprocessing_version"] == PREPROCESSING_VERSION
    assert meta["command"].startswith("python -m training.run --models sphere,cylinder,lamellar")
    assert meta["data"]["seed"] == 2017 or "seed" in json.dumps(meta["data"])
    assert meta["architecture"] == "resnet1d+resnet1d_dropout"
    assert set(meta["training"]) == {"resnet1d", "resnet1d_dropout"}
    assert meta["training"]["resnet1d_dropout"]["hyperparameters"]["dropout"] == 0.3
    report = json.loads((weights / "report.json").read_text())
    for arch in ("resnet1d+resnet1d_dropout", "resnet1d", "resnet1d_dropout", "sasnets2017"):
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
           "--per-model", "40", "--shifted-per-model", "4", "--epochs", "1", "--architectures", "resnet1d",
           "--out", str(tiny_run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "epoch 1/1" not in proc.stderr  # nothing retrained
    assert json.loads((tiny_run / "runs" / "resnet1d" / "state.json").read_text()) == state


def test_an_ensemble_averages_its_members_log_probabilities():
    import keras
    from scipy.special import log_softmax

    from training.architectures import ARCHITECTURES
    from training.ensemble import average_log_probabilities

    keras.utils.set_random_seed(0)
    nets = [ARCHITECTURES[name](3) for name in ("resnet1d", "sasnets2017")]
    x = np.random.default_rng(0).normal(size=(4, *nets[0].input.shape[1:])).astype("float32")
    expected = np.mean([log_softmax(n.predict(x, verbose=0), axis=1) for n in nets], axis=0)
    ensemble = average_log_probabilities(nets, "resnet1d+sasnets2017")
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def test_unknown_or_repeated_ensemble_members_are_refused():
    from training.ensemble import members

    assert members("resnet1d+resnet1d_dropout") == ["resnet1d", "resnet1d_dropout"]
    for bad in ("resnet1d+nosuchnet", "resnet1d+resnet1d"):
        with pytest.raises(ValueError, match="distinct names"):
            members(bad)


def test_a_bad_architecture_list_is_refused_with_its_reason(tmp_path):
    from training.run import main

    with pytest.raises(SystemExit, match="--architectures: 'resnet1d\\+nosuchnet': members must be distinct"):
        main(["train", "--architectures", "resnet1d+nosuchnet", "--out", str(tmp_path)])
