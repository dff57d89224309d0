"""The runtime ranks with LiteRT, equals the Keras model, and refuses missing, corrupt or
mismatched weights with a message naming the problem."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from sasnets_plugin.classifier import Classifier, default_weights_dir, file_record
from sasnets_plugin.errors import SasnetsError, WeightsError
from sasnets_plugin.preprocessing import TRANSFORMS


@pytest.fixture()
def weights_copy(tmp_path):
    dst = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), dst)
    return dst


def _rehash(folder, name):
    """Record ``name``'s new content in metadata.json, as an export would."""
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files"][name] = file_record(folder / name)
    (folder / "metadata.json").write_text(json.dumps(meta))


def _example_inputs(example_1d):
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import prepare

    names = ["cyl_400_20.txt", "sphere_80.txt", "latex_smeared.xml", "100nmPinholeSphere.txt",
             "ISIS_Polymer_Blend_TK49.xml", "Ludox_silica.xml", "apoferritin.txt"]
    transform = Classifier().transform  # the shipped network's own
    return np.stack([prepare(c, transform).inputs for n in names for c in load_1d(example_1d / n)])


def test_shipped_network_loads_and_predicts_probabilities():
    clf = Classifier()
    assert clf.runtime == "litert"
    assert len(clf.classes) == clf.metadata["n_classes"]
    assert clf.metadata["preprocessing_version"] in TRANSFORMS
    assert clf.transform is TRANSFORMS[clf.metadata["preprocessing_version"]]
    x = np.random.default_rng(0).normal(size=(7, *clf.transform.shape)).astype(np.float32)
    p = clf.predict(x)
    assert p.shape == (7, len(clf.classes))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(p >= 0)


def test_ranking_a_file_never_imports_tensorflow(example_1d):
    code = ("import sys, sasnets_plugin\n"
            f"print(sasnets_plugin.suggest_file({str(example_1d / 'cyl_400_20.txt')!r}, top=1))\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "cylinder" in proc.stdout


def test_light_runtime_equals_the_keras_model(example_1d):
    x = _example_inputs(example_1d)
    light = Classifier().predict(x)
    keras = Classifier(device="cpu", runtime="keras").predict(x)
    assert np.max(np.abs(light - keras)) < 1e-5
    assert (light.argmax(axis=1) == keras.argmax(axis=1)).all()


def test_batches_give_the_same_answer_as_one_call():
    clf = Classifier()
    x = np.random.default_rng(1).normal(size=(50, *clf.transform.shape)).astype(np.float32)
    np.testing.assert_allclose(clf.predict(x, batch_size=7), clf.predict(x), atol=1e-5)
    np.testing.assert_allclose(clf.predict(x[3]), clf.predict(x)[3:4], atol=1e-6)


def test_missing_folder(tmp_path):
    with pytest.raises(WeightsError, match="class list is missing"):
        Classifier(tmp_path / "nothing")


@pytest.mark.parametrize("name", ["model.keras", "model.tflite"])
def test_missing_model_file(weights_copy, name):
    (weights_copy / name).unlink()
    with pytest.raises(WeightsError, match=f"network file is missing: .*{name} does not exist"):
        Classifier(weights_copy)


@pytest.mark.parametrize("name", ["model.keras", "model.tflite"])
def test_truncated_model_file_is_called_truncated(weights_copy, name):
    path = weights_copy / name
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    with pytest.raises(WeightsError, match=f"{name} is truncated or corrupt: {size // 2:,} of the "
                       f"{size:,} bytes exported"):
        Classifier(weights_copy)


def test_corrupt_model_file_of_the_right_size(weights_copy):
    path = weights_copy / "model.tflite"
    path.write_bytes(bytes(path.stat().st_size))
    with pytest.raises(WeightsError, match="model.tflite is corrupt or not the file this network "
                       "was exported with"):
        Classifier(weights_copy)


def test_retrained_keras_file_beside_a_stale_light_file_is_refused(weights_copy):
    with zipfile.ZipFile(weights_copy / "model.keras", "a") as archive:  # still a valid .keras
        archive.writestr("notes.txt", "retrained")
    with pytest.raises(WeightsError, match="model.keras is corrupt or not the file this network "
                       "was exported with .*model.keras and model.tflite must come from the same "
                       "export. If model.keras was replaced on purpose, derive the rest from it "
                       "with `python -m training.export "):
        Classifier(weights_copy)


def test_swapped_class_names_are_refused(weights_copy):
    classes = json.loads((weights_copy / "classes.json").read_text())
    classes[0], classes[1] = classes[1], classes[0]
    (weights_copy / "classes.json").write_text(json.dumps(classes, indent=1) + "\n")
    with pytest.raises(WeightsError, match="classes.json was changed after export .*would no "
                       "longer label the network's outputs correctly"):
        Classifier(weights_copy)


def test_corrupt_class_list(weights_copy):
    (weights_copy / "classes.json").write_text("[\"sphere\", ")
    with pytest.raises(WeightsError, match="class list .*classes.json is corrupt"):
        Classifier(weights_copy)


def test_class_list_that_does_not_match_the_network(weights_copy):
    classes = json.loads((weights_copy / "classes.json").read_text())
    (weights_copy / "classes.json").write_text(json.dumps(classes[:-1]))
    _rehash(weights_copy, "classes.json")
    with pytest.raises(WeightsError, match=f"outputs but classes.json lists {len(classes) - 1} "
                       "models"):
        Classifier(weights_copy)


@pytest.mark.parametrize("content", ["null", "[1, 2]", "\"metadata\""])
def test_metadata_that_is_not_an_object(weights_copy, content):
    (weights_copy / "metadata.json").write_text(content)
    with pytest.raises(WeightsError, match="metadata.json must be a JSON object"):
        Classifier(weights_copy)


def test_metadata_without_file_hashes(weights_copy):
    meta = json.loads((weights_copy / "metadata.json").read_text())
    del meta["files"]
    (weights_copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="records no hashes of model.keras, model.tflite and "
                       "classes.json .*python -m training.export"):
        Classifier(weights_copy)


def test_other_preprocessing_version_is_refused(weights_copy):
    meta = json.loads((weights_copy / "metadata.json").read_text())
    meta["preprocessing_version"] = "some-older-transform"
    (weights_copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="trained with preprocessing 'some-older-transform', "
                       "which this version of SASNets does not know .*knows loglog-window-2ch-v1"):
        Classifier(weights_copy)


def test_unknown_device_runtime_and_absent_gpu():
    with pytest.raises(SasnetsError, match="device must be one of auto, cpu, gpu"):
        Classifier(device="tpu")
    with pytest.raises(SasnetsError, match="runtime must be one of litert, keras"):
        Classifier(runtime="onnx")
    with pytest.raises(SasnetsError, match="LiteRT\\) runs on the CPU"):
        Classifier(device="gpu", runtime="litert")
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(SasnetsError, match="TensorFlow sees no GPU"):
            Classifier(device="gpu")


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X server (./test.sh)")
def test_keras_is_refused_where_opengl_already_runs():
    """Inside a process that draws with Mesa's OpenGL (as SasView does), importing
    TensorFlow would crash it: the Keras runtime says so instead, and the light runtime
    still ranks."""
    code = (
        "import numpy as np\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from PySide6.QtOpenGLWidgets import QOpenGLWidget\n"
        "from sasnets_plugin.classifier import Classifier\n"
        "from sasnets_plugin.errors import SasnetsError\n"
        "app = QApplication(['gl'])\n"
        "view = QOpenGLWidget(); view.resize(64, 64); view.show()\n"
        "for _ in range(20): app.processEvents()\n"
        "try:\n"
        "    Classifier(runtime='keras')\n"
        "except SasnetsError as exc:\n"
        "    print('REFUSED', exc)\n"
        "clf = Classifier()\n"
        "print('RANKED', clf.predict(np.zeros((1, *clf.transform.shape), np.float32)).shape)\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "REFUSED The Keras network" in proc.stdout and "Mesa's LLVM" in proc.stdout
    assert "RANKED (1, " in proc.stdout


def _edit_metadata(folder, **changes):
    meta = json.loads((folder / "metadata.json").read_text())
    meta.update(changes)
    (folder / "metadata.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("outputs, message", [
    ("probabilities", "must list \\[name, size\\] pairs"),
    ([["shape_distance", 1], ["probabilities", 71]], "must start with 'probabilities'"),
    ([["probabilities", 71], ["entropy", 1]], "name only probabilities, shape_distance, estimates once"),
])
def test_a_malformed_output_layout_is_refused(weights_copy, outputs, message):
    _edit_metadata(weights_copy, outputs=outputs)
    with pytest.raises(WeightsError, match=message):
        Classifier(weights_copy)


def test_an_output_layout_that_does_not_fit_the_network_is_refused(weights_copy):
    n = len(json.loads((weights_copy / "classes.json").read_text()))
    _edit_metadata(weights_copy, outputs=[["probabilities", n]])  # the shape distance left out
    with pytest.raises(WeightsError, match=f"has {n + 1} outputs but classes.json lists {n} models "
                       f"\\(and metadata.json expects {n} outputs in all\\)"):
        Classifier(weights_copy)


def test_a_malformed_ood_reference_is_refused(weights_copy):
    _edit_metadata(weights_copy, novelty={"threshold": 1.0})
    with pytest.raises(WeightsError, match="OOD reference \\('novelty' in its metadata\\) is "
                       "incomplete or malformed"):
        Classifier(weights_copy)


def test_the_shipped_network_scores_how_unusual_a_curve_is(example_1d):
    """The shipped (v3) network carries an OOD reference: a measured curve is like its
    training data, the same curve with q in 1/nm read as 1/Å (q x 10) scores higher, and
    the plotted network input starts at the data's q_min on the fixed log-q grid."""
    from sasnets_plugin import suggest, suggest_file
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.preprocessing import DECADE_POINTS

    assert Classifier().novelty is not None
    ranking = suggest_file(example_1d / "sphere_80.txt", details=True)
    assert ranking.assessment is not None and ranking.warning is None
    curve = load_1d(example_1d / "sphere_80.txt")[0]
    far = suggest(curve.q * 1000, curve.I, curve.dI, top=None, details=True)
    assert far.ood_score > ranking.ood_score and far.warning
    q, relative = ranking.network_curve()
    assert q[0] == pytest.approx(ranking.prepared.curve.q[0], rel=1e-5)
    assert np.diff(np.log10(q)) == pytest.approx(1 / DECADE_POINTS, rel=1e-6)


def test_a_network_without_ood_reference_says_nothing(weights_copy, example_1d):
    from sasnets_plugin.loading import load_1d
    from sasnets_plugin.suggestion import prepare, rank

    meta = json.loads((weights_copy / "metadata.json").read_text())
    del meta["novelty"]
    (weights_copy / "metadata.json").write_text(json.dumps(meta))
    classifier = Classifier(weights_copy)
    assert classifier.novelty is None
    (ranking,) = rank(classifier, [prepare(load_1d(example_1d / "sphere_80.txt")[0])])
    assert ranking.assessment is None and ranking.warning is None and ranking.ood_score is None
