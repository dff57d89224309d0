"""Adding a model to a trained network (``python -m training.run --models +name --from
WEIGHTS``, training/extend.py): a tiny network trained here is extended by one model, and
what comes out is a network the runtime loads, with one more form and its products."""
import json
import subprocess
import sys

import numpy as np
import pytest

from sasnets_plugin.classifier import Classifier, read_metadata
from sasnets_plugin.estimates import make_slots, slots_from_metadata
from training.heads import joint_classes

BASE = ["sphere", "lamellar"]
NEW = "cylinder"


def _run(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "training.run", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny two-model network, trained and exported like a normal run."""
    out = tmp_path_factory.mktemp("base")
    proc = _run("--models", ",".join(BASE), "--per-model", "20", "--shifted-per-model", "0",
                "--epochs", "1", "--batch-size", "16", "--workers", "1",
                "--architectures", "resnet1d", "--equivalent-sample", "0",
                "--shipped-weights", "none", "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "weights"


@pytest.fixture(scope="module")
def extended(base, tmp_path_factory):
    out = tmp_path_factory.mktemp("extended")
    args = ("--models", ",".join([*BASE, NEW]), "--from", base, "--per-model", "20",
            "--shifted-per-model", "4", "--replay-per-model", "10", "--epochs", "1",
            "--batch-size", "16", "--workers", "1", "--out", out)
    proc = _run(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, args, proc.stderr


def test_the_extended_network_ranks_one_more_model_and_its_products(base, extended):
    out, _, log = extended
    weights = out / "weights"
    names = json.loads((weights / "classes.json").read_text())
    before = json.loads((base / "classes.json").read_text())
    assert before == joint_classes(BASE) and len(before) == 2 + 4
    assert names == joint_classes([*BASE, NEW]) and len(names) == 3 + 2 * 4
    meta = json.loads((weights / "metadata.json").read_text())
    assert meta["forms"] == [*BASE, NEW] and meta["n_classes"] == len(names)
    assert meta["extended_from"]["forms"] == BASE
    assert meta["light_runtime"]["max_abs_difference"] <= 1e-5
    clf = Classifier(weights)  # hashes, class list and output size all agree
    assert clf.classes == names and clf.has_shape_distance
    assert clf.estimate_slots.slots == make_slots([*BASE, NEW])  # estimates for the new one too
    x = np.load(out / "cache" / "new" / clf.transform.version / "test.npy")
    probs = clf.predict(x)
    assert probs.shape == (len(x), len(names))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert not (out / "dataset" / "chunks" / "train" / "sphere").exists()  # only the new one
    assert sorted(p.name for p in (out / "replay" / "chunks" / "train").iterdir()) == sorted(BASE)
    assert f"{NEW}, test split: top-1" in log and "other classes on the same" in log


def test_the_report_scores_the_new_model_and_the_others_before_and_after(extended):
    out, _, _ = extended
    report = json.loads((out / "weights" / "report.json").read_text())
    assert report["new_models"] == [NEW]
    for split, n in (("test", 2), ("shifted", 4)):
        s = report["new"][split]
        assert s["n_curves"] == n and 0 <= s["top1"] <= s["top5"] <= 1
    replay = report["replay"]
    assert replay["before"]["n_curves"] == replay["after"]["n_curves"] == len(BASE)
    for k in ("top1", "top5"):
        row = replay["paired"][k]
        assert row["before"] == replay["before"][k] and row["after"] == replay["after"][k]
        assert row["change"] == pytest.approx(row["after"] - row["before"])
    assert "top-1" in (out / "weights" / "report.md").read_text()


def test_the_same_command_resumes_instead_of_redoing(extended):
    out, args, _ = extended
    state = json.loads((out / "runs" / "resnet1d" / "state.json").read_text())
    proc = _run(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "already trained" in proc.stderr and "0 chunks (0 curves) to do" in proc.stderr
    assert json.loads((out / "runs" / "resnet1d" / "state.json").read_text()) == state


def test_widening_keeps_every_trained_output(base):
    """Before fine-tuning, the widened network gives the old forms the old logits."""
    import keras

    from training.extend import trained_network, widen
    from training.features import Encoded
    from training.heads import encode_labels

    network = trained_network(base)
    rng = np.random.default_rng(0)
    shape = network.input.shape[1:]
    x = rng.normal(size=(60, *shape)).astype("float32")
    x[40:] += 2.0  # the new model's curves: unlike the others
    labels = np.array(["sphere"] * 20 + ["lamellar"] * 20 + [NEW] * 20)
    forms = [*BASE, NEW]
    slots = make_slots(forms)
    train = Encoded(x, labels, np.zeros((60, 2)), encode_labels(labels.tolist(), forms),
                    np.zeros((60, len(slots)), np.float32))
    form, structure, _, estimated = network.predict(x, verbose=0)
    old_slots = slots_from_metadata(read_metadata(base))
    wide = widen(network, train, 1, old_slots=old_slots, forms=forms).predict(x, verbose=0)
    assert wide["form"].shape == (60, len(BASE) + 1)
    np.testing.assert_allclose(wide["form"][:, :len(BASE)], form, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wide["structure"], structure, rtol=1e-5, atol=1e-5)
    # the estimates of the models it knew are kept; the new model's slots are added
    assert wide["estimate"].shape == (60, len(slots))
    where = {(s.model, s.parameter): i for i, s in enumerate(slots)}
    for i, slot in enumerate(old_slots):
        np.testing.assert_allclose(wide["estimate"][:, where[slot.model, slot.parameter]],
                                   estimated[:, i], rtol=1e-5, atol=1e-5)
    assert any(s.model == NEW for s in slots)
    batch_norm = [layer for layer in network.layers
                  if isinstance(layer, keras.layers.BatchNormalization)]
    assert batch_norm and not any(layer.trainable for layer in batch_norm)


def test_new_outputs_are_fitted_to_pick_out_their_curves_and_leave_the_others():
    from training.extend import fit_new_outputs

    rng = np.random.default_rng(1)
    centres = 3.0 * np.eye(3, 8)  # two trained classes and a new one, in feature space
    forms = np.repeat([0, 1, 2], [200, 200, 50])
    features = np.maximum(centres[forms] + 0.5 * rng.normal(size=(len(forms), 8)), 0.0)
    kernel, bias = centres[:2].T.copy(), np.zeros(2)  # the trained head tells 0 from 1
    weights = np.where(forms == 2, 4.0, 1.0)  # every form weighs alike
    new_kernel, new_bias = fit_new_outputs(features, forms, weights, kernel, bias, 1)
    top = (features @ np.concatenate([kernel, new_kernel], 1) + [*bias, *new_bias]).argmax(1)
    assert (top[forms == 2] == 2).mean() > 0.95
    assert (top[forms < 2] == forms[forms < 2]).mean() > 0.95
    zero = (features @ np.concatenate([kernel, np.zeros((8, 1))], 1)).argmax(1)
    assert (zero[forms == 2] == 2).mean() < 0.5  # unfitted, the new output would not win


@pytest.mark.parametrize("args, message", [
    (["--models", "sphere,cylinder"], "error: --models leaves out 1 class(es) the network in "
                                      "{base} ranks (lamellar); extending keeps them all"),
    (["--models", "sphere,lamellar"], "error: --models names no model that the network in {base} "
                                      "does not rank already: nothing to add."),
    (["--models", "sphere,lamellar,cylinder", "--replay-per-model", "2"],
     "error: --replay-per-model must be at least 3"),
])
def test_an_extension_that_cannot_work_stops_with_a_message(base, tmp_path, args, message):
    proc = _run(*args, "--from", base, "--out", tmp_path, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message.format(base=base) in proc.stderr


def test_a_folder_without_a_network_is_named(tmp_path):
    proc = _run("--models", "+superball", "--from", tmp_path, "--out", tmp_path, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"error: --from: The class list is missing: {tmp_path}/classes.json" in proc.stderr
