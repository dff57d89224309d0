"""The parameter estimates' slots (sasnets_plugin.estimates), checked for every model alike,
and the estimate head's loss."""
import math

import numpy as np
import pytest

from sasnets_plugin import estimates
from sasnets_plugin.models import DEFAULT_MODELS, get, model_info, products

STRUCTURES = products.STRUCTURES


def _default(model: str, parameter: str) -> float:
    if parameter.endswith(estimates.PD_SUFFIX):
        return 0.12
    table = {p.name: p for p in model_info(model).parameters.call_parameters}
    return float(table[parameter].default)


@pytest.mark.parametrize("model", DEFAULT_MODELS)
def test_every_model_estimates_what_its_fit_varies(model):
    slots = estimates.model_slots(model)
    fit = get(model).fit
    varied = {name for name, role in fit.free.items() if not role.is_contrast}
    main = estimates.main_size(model)
    assert {s.parameter for s in slots} == varied | ({main + "_pd"} if main else set())
    for slot in slots:
        value = _default(model, slot.parameter)
        if slot.scale in (estimates.LINEAR, estimates.BOUNDED) or value > 0:
            target = slot.encode(value, 1e-3)
            assert math.isfinite(target) and abs(target) <= estimates.LIMIT
            expected = min(max(value, slot.lo), slot.hi) if slot.scale == estimates.BOUNDED else value
            assert slot.decode(target, 1e-3) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        else:  # a log scale has no target for 0 (no polydispersity is LINEAR)
            assert math.isnan(slot.encode(value, 1e-3))


def test_lengths_and_q_positions_are_relative_to_the_window():
    """The input is shift-invariant: the same curve moved to another window (lengths / k,
    q × k) has the same targets, so the network can learn them."""
    slots = {s.parameter: s for s in estimates.model_slots("broad_peak")
             + estimates.model_slots("cylinder")}
    k = 7.0
    for name, value in (("radius", 50.0), ("length", 800.0)):
        assert slots[name].encode(value, 1e-3) == pytest.approx(slots[name].encode(value / k, k * 1e-3))
    peak = slots["peak_pos"]
    assert peak.encode(0.01, 1e-3) == pytest.approx(peak.encode(0.01 * k, k * 1e-3))
    assert slots["radius"].decode(slots["radius"].encode(50.0, 2e-3), 2e-3) == pytest.approx(50.0)


def test_a_product_estimates_its_form_and_its_structure_factor():
    index = estimates.SlotIndex(estimates.make_slots(["sphere", "cylinder", "lamellar"]))
    params = {"radius": 40.0, "radius_pd": 0.1, "length": 300.0, "volfraction": 0.2,
              "charge": 30.0, "temperature": 300.0}
    row = index.targets("cylinder@hayter_msa", params, 1e-3)
    filled = {index.slots[i].model + "." + index.slots[i].parameter
              for i in np.flatnonzero(np.isfinite(row))}
    assert filled == {"cylinder.radius", "cylinder.length", "cylinder.radius_pd",
                      "hayter_msa.volfraction", "hayter_msa.charge"}
    back = index.estimate("cylinder@hayter_msa", np.nan_to_num(row), 1e-3)
    assert back == pytest.approx({"radius": 40.0, "length": 300.0, "radius_pd": 0.1,
                                  "volfraction": 0.2, "charge": 30.0})
    # a single model: its own slots only; the structure factors' slots stay unknown
    row = index.targets("sphere", {"radius": 40.0}, 1e-3)
    assert [index.slots[i].parameter for i in np.flatnonzero(np.isfinite(row))] == \
        ["radius", "radius_pd"]
    assert not any("radius_effective" == s.parameter for s in index.slots
                   if s.model in STRUCTURES)


def test_the_slot_list_survives_the_metadata():
    slots = estimates.make_slots(DEFAULT_MODELS)
    meta = {estimates.METADATA_KEY: [s.as_list() for s in slots]}
    assert estimates.slots_from_metadata(meta) == slots
    assert estimates.slots_from_metadata({}) == ()


def test_the_loss_ignores_unknown_slots():
    """Curves inform only their own model's slots: the others (NaN) neither count nor
    give a gradient that is not finite."""
    import keras
    from keras import ops

    from training.train import HUBER_DELTA, masked_huber

    y_true = np.array([[0.0, np.nan, 2.0], [np.nan, np.nan, np.nan]], np.float32)
    y_pred = np.array([[0.2, 50.0, 0.0], [1.0, 2.0, 3.0]], np.float32)
    loss = np.asarray(ops.convert_to_numpy(masked_huber(ops.convert_to_tensor(y_true),
                                                        ops.convert_to_tensor(y_pred))))
    huber = [0.5 * 0.2**2, HUBER_DELTA * (2.0 - 0.5 * HUBER_DELTA)]
    np.testing.assert_allclose(loss, [np.mean(huber), 0.0], rtol=1e-6)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        pred = tf.Variable(y_pred)
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(masked_huber(tf.constant(y_true), pred))
        grad = tape.gradient(value, pred).numpy()
        assert np.all(np.isfinite(grad)) and grad[0, 1] == 0 and not grad[1].any()
