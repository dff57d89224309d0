"""The runtime refuses missing, corrupt or mismatched weights with a message naming the problem."""
import json
import shutil

import numpy as np
import pytest

from sasnets_plugin.classifier import Classifier, default_weights_dir
from sasnets_plugin.errors import SasnetsError, WeightsError
from sasnets_plugin.preprocessing import PREPROCESSING_VERSION


@pytest.fixture()
def weights_copy(tmp_path):
    dst = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), dst)
    return dst


def test_shipped_network_loads_and_predicts_probabilities():
    clf = Classifier()
    assert len(clf.classes) == clf.metadata["n_classes"]
    assert clf.metadata["preprocessing_version"] == PREPROCESSING_VERSION
    x = np.random.default_rng(0).normal(size=(7, 100, 2)).astype(np.float32)
    p = clf.predict(x)
    assert p.shape == (7, len(clf.classes))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(p >= 0)


def test_batches_give_the_same_answer_as_one_call():
    clf = Classifier()
    x = np.random.default_rng(1).normal(size=(50, 100, 2)).astype(np.float32)
    np.testing.assert_allclose(clf.predict(x, batch_size=7), clf.predict(x), atol=1e-5)


def test_missing_folder(tmp_path):
    with pytest.raises(WeightsError, match="class list is missing"):
        Classifier(tmp_path / "nothing")


def test_missing_model_file(weights_copy):
    (weights_copy / "model.keras").unlink()
    with pytest.raises(WeightsError, match="network file is missing"):
        Classifier(weights_copy)


def test_corrupt_model_file(weights_copy):
    (weights_copy / "model.keras").write_bytes(b"PK\x03\x04 this is not a keras archive")
    with pytest.raises(WeightsError, match="model.keras is corrupt"):
        Classifier(weights_copy)


def test_corrupt_class_list(weights_copy):
    (weights_copy / "classes.json").write_text("[\"sphere\", ")
    with pytest.raises(WeightsError, match="class list .*classes.json is corrupt"):
        Classifier(weights_copy)


def test_class_list_that_does_not_match_the_network(weights_copy):
    classes = json.loads((weights_copy / "classes.json").read_text())
    (weights_copy / "classes.json").write_text(json.dumps(classes[:-1]))
    with pytest.raises(WeightsError, match=f"has {len(classes)} outputs but classes.json lists "
                       f"{len(classes) - 1} models"):
        Classifier(weights_copy)


def test_other_preprocessing_version_is_refused(weights_copy):
    meta = json.loads((weights_copy / "metadata.json").read_text())
    meta["preprocessing_version"] = "some-older-transform"
    (weights_copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="trained with preprocessing 'some-older-transform'"):
        Classifier(weights_copy)


def test_unknown_device_and_absent_gpu():
    with pytest.raises(SasnetsError, match="device must be one of auto, cpu, gpu"):
        Classifier(device="tpu")
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(SasnetsError, match="TensorFlow sees no GPU"):
            Classifier(device="gpu")
