"""The ranked list from two heads (products only where SasView allows them, probabilities
summing to 1) and the out-of-distribution score (numpy and exported Keras agree, the
threshold flags the intended share, the warning names the likely unit error)."""
import numpy as np
import pytest
from scipy.special import log_softmax

from sasnets_plugin.models import products
from sasnets_plugin.novelty import Novelty, window_features
from training import ood
from training.heads import (STRUCTURE_CLASSES, encode_labels, joint_classes, joint_matrix,
                            joint_probabilities)

FORMS = ["sphere", "lamellar", "cylinder", "power_law"]


def test_the_list_holds_the_models_then_the_allowed_products():
    names = joint_classes(FORMS)
    assert names[:4] == FORMS
    assert names[4:] == [f"{f}@{s}" for f in ("sphere", "cylinder") for s in products.STRUCTURES]
    assert not any(n.startswith(("lamellar@", "power_law@")) for n in names)  # no radius


def test_joint_probabilities_sum_to_one_and_factorise():
    rng = np.random.default_rng(0)
    form = log_softmax(rng.normal(size=(50, 4)), axis=1)
    structure = log_softmax(rng.normal(size=(50, 5)), axis=1)
    names = joint_classes(FORMS)
    p = joint_probabilities(form, structure, joint_matrix(FORMS))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    pf, ps = np.exp(form), np.exp(structure)
    j = names.index("cylinder@hayter_msa")
    np.testing.assert_allclose(p[:, j], pf[:, 2] * ps[:, STRUCTURE_CLASSES.index("hayter_msa")])
    np.testing.assert_allclose(p[:, names.index("cylinder")], pf[:, 2] * ps[:, 0])
    np.testing.assert_allclose(p[:, names.index("lamellar")], pf[:, 1])  # not combinable


def test_labels_become_targets_and_unknown_ones_are_left_out():
    t = encode_labels(["sphere@squarewell", "lamellar", "cylinder", "ellipsoid"], FORMS)
    assert t.form.tolist()[:3] == [0, 1, 2]
    assert t.structure.tolist()[:3] == [STRUCTURE_CLASSES.index("squarewell"), 0, 0]
    assert t.structure_weight.tolist() == [1.0, 0.0, 1.0, 0.0]  # lamellar has no S(q)
    assert t.valid.tolist() == [True, True, True, False]
    assert joint_classes(FORMS)[t.joint[0]] == "sphere@squarewell"


def test_mahalanobis_in_numpy_equals_the_exported_keras_branch():
    import keras

    rng = np.random.default_rng(1)
    features = rng.normal(size=(600, 6)) * [1, 2, 3, 1, 1, 5]
    classes = rng.integers(0, 3, 600)
    features[:, 0] += 4 * classes
    maha = ood.fit_mahalanobis(features, classes)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, ood.keras_distance(inputs, maha))
    x = rng.normal(size=(40, 6)) * 3
    np.testing.assert_allclose(model.predict(x.astype("float32"), verbose=0)[:, 0],
                               maha.distance(x), rtol=1e-4)
    # a point far from every class mean is far in the metric too
    assert maha.distance(np.full((1, 6), 30.0))[0] > np.quantile(maha.distance(features), 0.999)


def _record(rng):
    train = window_features(10 ** rng.uniform(-3, -2, 3000), 10 ** rng.uniform(-1, -0.3, 3000))
    val = window_features(10 ** rng.uniform(-3, -2, 1000), 10 ** rng.uniform(-1, -0.3, 1000))
    val_distance = rng.chisquare(8, 1000)
    return ood.fit_record(train, val, val_distance, seed=0), val, val_distance


def test_threshold_flags_the_intended_share_of_validation_curves():
    record, val, val_distance = _record(np.random.default_rng(2))
    novelty = Novelty(record)
    score = ood.scores(novelty, val, val_distance)
    assert (score > novelty.threshold).mean() == pytest.approx(ood.FALSE_ALARM, abs=0.002)
    w, s = novelty.components(val, val_distance)
    assert np.median(w) == pytest.approx(0, abs=1e-6) and np.median(s) == pytest.approx(0, abs=1e-6)


def test_a_window_in_nm_read_as_angstrom_is_flagged_with_the_reason():
    record, _, _ = _record(np.random.default_rng(3))
    novelty = Novelty(record)
    usual = novelty.assess(3e-3, 0.3, 8.0)
    assert not usual.unusual and usual.warning is None
    nm = novelty.assess(3e-2, 4.0, 8.0)  # the same window with q ten times too large
    assert nm.unusual and nm.score > usual.score
    assert "q window (0.03 to 4 1/Å) lies outside" in nm.warning
    assert "if q is in 1/nm, divide it by 10" in nm.warning
    odd_shape = novelty.assess(3e-3, 0.3, 1e4)
    assert odd_shape.unusual and "shape is unlike every curve" in odd_shape.warning
    assert odd_shape.as_dict()["unusual"] is True
    assert "q window" not in odd_shape.warning
    # q in 1/nm with an odd shape too: the window, which the user can correct, is named
    both = novelty.assess(3e-2, 4.0, 1e30)
    assert both.shape > both.window
    assert "if q is in 1/nm, divide it by 10" in both.warning
    assert "shape is unlike every curve" in both.warning


def test_auroc():
    assert ood.auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    assert ood.auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0
    assert ood.auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5


def test_a_malformed_reference_is_refused():
    from sasnets_plugin.errors import WeightsError

    with pytest.raises(WeightsError, match="OOD reference .*incomplete or malformed"):
        Novelty({"window": {"reference": [[0, 1]]}})


def test_credible_sets_and_top_k_count_models_the_data_cannot_tell_apart():
    """A sphere curve whose credible set and top 2 hold ellipsoid, not sphere: an
    ellipsoid with equal radii fits it as well (counted as equivalent); sets of lamellar
    and guinier do not. Each row is fitted once for both kinds of set."""
    from sasmodels.core import load_model
    from sasmodels.data import empty_data1D
    from sasmodels.direct_model import DirectModel

    from sasnets_plugin.loading import RawCurve
    from training.evaluate import fits_as_well, sets_with_equivalents

    assert fits_as_well(1.0, 1.2) and not fits_as_well(1.0, 1.3)
    q = np.geomspace(5e-3, 0.3, 120)
    clean = DirectModel(empty_data1D(q), load_model("sphere"))(
        radius=60.0, scale=0.01, background=0.001)
    rng = np.random.default_rng(4)
    noisy = clean * (1 + 0.02 * rng.standard_normal(q.size))
    curve = RawCurve("sphere", q, noisy, 0.02 * clean, dQ=0.03 * q)
    names = ["sphere", "ellipsoid", "lamellar", "guinier"]
    # row 0: ellipsoid alone is the 90 % set, lamellar second, sphere third;
    # row 1: lamellar alone is the set, guinier second, sphere third
    probs = np.array([[0.015, 0.95, 0.03, 0.005], [0.01, 0.005, 0.96, 0.025]])
    result = sets_with_equivalents(probs, names, ["sphere", "sphere"], lambda row: curve,
                                   sample=2, seed=0, top=2)
    assert result["n"] == 2 and result["fits"] == 3 + 3  # sphere + the sets' union, per row
    assert result["credible_set"]["exact"] == 0 and result["credible_set"]["equivalent"] == 1
    assert result["credible_set"]["coverage_with_equivalents"] == 0.5
    assert result["top2"]["exact"] == 0 and result["top2"]["equivalent"] == 1
    top3 = sets_with_equivalents(probs, names, ["sphere", "sphere"], lambda row: curve,
                                 sample=2, seed=0, top=3)
    assert top3["top3"]["exact"] == 2 and top3["credible_set"]["equivalent"] == 1
    assert top3["fits"] == 2 + 2  # only the credible sets missed
