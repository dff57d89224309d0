"""A tiny end-to-end training run: generate → train → evaluate → export → rank files with
the exported network through the runtime (LiteRT), products and OOD score included."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sasnets_plugin import estimates
from sasnets_plugin.classifier import Classifier
from sasnets_plugin.errors import WeightsError
from sasnets_plugin.preprocessing import PREPROCESSING_VERSION, V3
from training.heads import joint_classes

MODELS = ["sphere", "cylinder", "lamellar"]
CLI = Path(sys.executable).parent / "sasnets-suggest"


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
           "--per-model", "40", "--shifted-per-model", "4", "--epochs", "1", "--batch-size", "32",
           "--workers", "1", "--equivalent-sample", "6", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _suggest(weights, *args):
    env = dict(os.environ, SASNETS_WEIGHTS=str(weights))
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=120)


def _sphere_file(folder, name, scale_q=1.0):
    q = np.geomspace(3e-3, 0.3, 120)
    x = 60.0 * q
    intensity = 1e3 * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 0.05
    path = folder / name
    np.savetxt(path, np.column_stack([q * scale_q, intensity, 0.03 * intensity, 0.04 * q * scale_q]))
    return path


def test_everything_is_written_under_out(tiny_run):
    weights = tiny_run / "weights"
    for name in ("model.keras", "model.tflite", "classes.json", "metadata.json", "report.json",
                 "report.md", "confusion_matrix.png", "confusion_dendrogram.png",
                 "training_curves.png", "calibration.png", "ood_scores.png", "estimates.png"):
        assert (weights / name).is_file(), name
    names = json.loads((weights / "classes.json").read_text())
    assert names == joint_classes(MODELS) and len(names) == 3 + 2 * 4
    meta = json.loads((weights / "metadata.json").read_text())
    assert meta["preprocessing_version"] == PREPROCESSING_VERSION == V3
    slots = estimates.make_slots(MODELS)
    assert meta["outputs"] == [["probabilities", 11], ["shape_distance", 1],
                               ["estimates", len(slots)]]
    assert estimates.slots_from_metadata(meta) == slots
    assert meta["light_runtime"]["max_abs_difference"] <= 1e-5
    assert meta["light_runtime"]["estimates_max_abs_difference"] <= 1e-4
    assert set(meta["temperature"]) == {"form", "structure"}
    assert meta["novelty"]["threshold"] > 0 and len(meta["novelty"]["window"]["reference"]) > 50
    assert meta["command"].startswith("python -m training.run --models sphere,cylinder,lamellar")
    assert meta["architecture"] == "resnet1d" and set(meta["training"]) == {"resnet1d"}
    # the wall time of every stage is kept with the run, and the weights carry it
    times = json.loads((tiny_run / "stage_times.json").read_text())
    assert set(times) == {"generate", "encode", "train resnet1d", "train sasnets2017",
                          "evaluate", "export"}
    assert all(r["finished"] and r["seconds"] > 0 for runs in times.values() for r in runs)
    assert set(meta["stage_seconds"]) == set(times) - {"export"}
    report = json.loads((weights / "report.json").read_text())
    for row in (report["architectures"]["resnet1d"], report["architectures"]["sasnets2017"],
                report["shipped"]):
        for split in ("test", "shifted"):
            s = row[split]
            assert 0 <= s["top1"] <= s["top3"] <= s["top5"] <= 1
            assert 0 <= s["credible_set"]["coverage"] <= 1 and s["credible_set"]["mean_size"] >= 1
            assert s["n_curves"] == (12 if split == "test" else 12)
    for split in ("test", "shifted"):  # the exported network's sets, checked by fitting
        eq = report["architectures"]["resnet1d"][split]["with_equivalents"]
        assert eq["n"] == 6
        for kind in ("credible_set", "top5"):
            s = eq[kind]
            assert s["exact"] + s["equivalent"] <= 6
            assert s["coverage_exact"] <= s["coverage_with_equivalents"] <= 1
        every_set_exact = min(eq["credible_set"]["exact"], eq["top5"]["exact"]) == 6
        assert (eq["fits"] > 0) != every_set_exact  # every miss was fitted
    # the network in model_weights/ is scored beside the new one, with its own transform
    assert report["shipped"]["preprocessing_version"] == Classifier().transform.version
    for split in ("test", "shifted"):  # the estimates, scored per model and slot
        scored = report["architectures"]["resnet1d"][split]["estimates"]
        assert scored["models"]["sphere"]["main_size"] == "radius"
        assert scored["models"]["sphere"]["parameters"]["radius"]["n"] > 0
        assert scored["compact_models"] == 2  # sphere, cylinder (lamellar is not compact)
    assert "parameter estimates (resnet1d, test split)" in (weights / "report.md").read_text()
    by = report["architectures"]["resnet1d"]["test"]["products"]["by_volfraction"]
    assert sum(b["n_curves"] for b in by.values()) == \
        report["architectures"]["resnet1d"]["test"]["products"]["n_curves"]  # every product binned
    assert "by volume fraction" in (weights / "report.md").read_text()
    ood = report["architectures"]["resnet1d"]["ood"]["sets"]
    # far-out windows are told apart (chance is 0.5; this one-epoch network scores 0.92,
    # a score that moves with the threads' summation order: the shipped network's is 0.98)
    assert ood["q x 1000"]["auroc_vs_test"] > 0.8
    assert "shifted split" in ood and report["unseen_models"]


def test_exported_network_ranks_files_through_the_runtime(tiny_run, tmp_path):
    weights = tiny_run / "weights"
    clf = Classifier(weights)
    assert clf.transform.version == V3 and clf.has_shape_distance and clf.novelty is not None
    usual = _sphere_file(tmp_path, "sphere.txt")
    far = _sphere_file(tmp_path, "sphere_q_x1000.txt", scale_q=1000.0)
    proc = _suggest(weights, "--json", "--top", "11", usual, far)
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout)
    probabilities = [s["probability"] for s in first["suggestions"]]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    assert any("@" in s["model"] for s in first["suggestions"])
    assert set(first["ood"]) >= {"score", "threshold", "unusual", "warning"}
    assert not second["ood"]["unusual"] or second["ood"]["score"] > first["ood"]["score"]
    assert second["ood"]["unusual"] and "divide it by 10" in second["ood"]["warning"]
    table = _suggest(weights, "--top", "11", usual, far)
    assert table.returncode == 0 and " × " in table.stdout  # products shown readably
    assert "OOD score" in table.stdout and "warning: This curve is unlike" in table.stdout
    # every suggestion carries the network's estimate of its parameters, in sasmodels units
    for s in first["suggestions"]:
        form, structure = s["model"].partition("@")[::2]
        names = {slot.parameter for slot in estimates.model_slots(form)}
        if structure:
            names |= {slot.parameter for slot in estimates.model_slots(structure)} - {"radius_effective"}
        assert set(s["estimate"]) == names and all(v >= 0 for v in s["estimate"].values())
    sphere = next(s for s in first["suggestions"] if s["model"] == "sphere")
    assert 1.0 < sphere["estimate"]["radius"] < 1e5  # Å, not the encoded log
    shown = _suggest(weights, "--top", "3", "--estimates", usual)
    assert shown.returncode == 0 and shown.stdout.count("estimate: ") == 3
    assert "estimate: " not in table.stdout  # only on request


def test_estimates_and_their_slot_list_must_belong_together(tiny_run, tmp_path):
    import shutil

    weights = tmp_path / "weights"
    shutil.copytree(tiny_run / "weights", weights)
    meta = json.loads((weights / "metadata.json").read_text())
    meta["estimate_slots"] = meta["estimate_slots"][:-1]
    (weights / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="estimate slots"):
        Classifier(weights)


def test_the_cache_keeps_each_curves_estimate_targets(tiny_run):
    from training.features import encode_split

    forms = MODELS
    inputs_file = tiny_run / "cache" / PREPROCESSING_VERSION / "test.npy"
    written = inputs_file.stat().st_mtime_ns
    encoded = encode_split(tiny_run / "dataset", "test", forms, PREPROCESSING_VERSION,
                           tiny_run / "cache")
    assert inputs_file.stat().st_mtime_ns == written  # the run's cache is reused, not redone
    index = estimates.SlotIndex(estimates.make_slots(forms))
    assert encoded.estimates.shape == (len(encoded), len(index))
    for label, row in zip(encoded.labels.tolist(), np.asarray(encoded.estimates)):
        known = set(np.flatnonzero(np.isfinite(row)).tolist())
        assert known <= set(index.indices(label))  # only the curve's own model's slots
        assert index.indices(label)[0] in known  # its first fitted parameter, a size


def test_the_api_reads_the_resolution_and_reports_the_score(tiny_run, monkeypatch):
    from sasnets_plugin import suggest
    from sasnets_plugin.suggestion import get_classifier

    monkeypatch.setenv("SASNETS_WEIGHTS", str(tiny_run / "weights"))
    get_classifier.cache_clear()
    try:
        q = np.geomspace(1e-3, 0.2, 90)
        intensity = q**-4 + 10.0
        ranking = suggest(q, intensity, 0.05 * intensity, slit_length=0.05, details=True)
        assert ranking.prepared.curve.slit_length == 0.05
        assert isinstance(ranking.ood_score, float)
        far = suggest(q * 1000, intensity, details=True)  # q up to 200 "1/Å"
        assert far.ood_score > ranking.ood_score and "if q is in 1/nm" in far.warning
        pairs = suggest(q, intensity, dQ=0.05 * q, top=None)
        assert len(pairs) == 11 and sum(p for _, p in pairs) == pytest.approx(1.0, abs=1e-6)
        network_q, _ = ranking.network_curve()
        assert network_q[0] == pytest.approx(q[0])
        # the verification screens the network's estimates first, for every model it may fit
        from sasnets_plugin.suggestion import verification_request

        request = verification_request(ranking, top=3)
        assert set(request.estimates) == set(ranking.models)
        assert request.estimates[ranking.models[0]] == ranking.estimate(ranking.models[0])
        with pytest.raises(ValueError, match="cannot be combined"):
            suggest(q, intensity, verify=True, details=True)
    finally:
        get_classifier.cache_clear()


def test_training_uses_the_runtime_transform():
    import training.features as features
    from sasnets_plugin import cleaning, preprocessing

    assert features.clean_curve is cleaning.clean_curve
    assert features.get_transform is preprocessing.get_transform


def test_model_weights_folder_is_left_untouched(tiny_run, shipped_before):
    from sasnets_plugin.classifier import default_weights_dir

    assert _snapshot(default_weights_dir()) == shipped_before


def test_a_second_run_resumes_instead_of_redoing(tiny_run):
    state = json.loads((tiny_run / "runs" / "resnet1d" / "state.json").read_text())
    cmd = [sys.executable, "-m", "training.run", "train", "--epochs", "1", "--batch-size", "32",
           "--architectures", "resnet1d", "--out", str(tiny_run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "epoch 1/1" not in proc.stderr and "already trained" in proc.stderr
    times = json.loads((tiny_run / "stage_times.json").read_text())
    assert len(times["train resnet1d"]) == 1 and len(times["encode"]) == 1  # nothing redone
    assert json.loads((tiny_run / "runs" / "resnet1d" / "state.json").read_text()) == state


def test_an_ensemble_averages_its_members_log_probabilities_per_head():
    import keras

    from training.architectures import ARCHITECTURES
    from training.ensemble import combine, with_embedding

    keras.utils.set_random_seed(0)
    nets = [with_embedding(ARCHITECTURES[name](3, 5)) for name in ("resnet1d", "sasnets2017")]
    x = np.random.default_rng(0).normal(size=(4, *nets[0].input.shape[1:])).astype("float32")
    outs = [n.predict(x, verbose=0) for n in nets]
    ensemble = combine(nets, "resnet1d+sasnets2017").predict(x, verbose=0)
    from scipy.special import log_softmax

    for k in (0, 1):
        expected = np.mean([log_softmax(o[k], axis=1) for o in outs], axis=0)
        np.testing.assert_allclose(ensemble[k], expected, rtol=1e-5, atol=1e-5)
    assert ensemble[2].shape[1] == outs[0][2].shape[1] + outs[1][2].shape[1]


def test_unknown_or_repeated_ensemble_members_are_refused():
    from training.ensemble import members

    assert members("resnet1d+resnet1d_dropout") == ["resnet1d", "resnet1d_dropout"]
    for bad in ("resnet1d+nosuchnet", "resnet1d+resnet1d"):
        with pytest.raises(ValueError, match="distinct names"):
            members(bad)


def test_export_to_swaps_in_a_whole_network_and_keeps_other_files(tiny_run, tmp_path):
    """--export-to fills a folder beside the target and swaps it in (issue 24, row 9; the
    kill -9 case is tests/test_reliability_sweep_training.py::test_row09_...)."""
    target = tmp_path / "shipped"
    target.mkdir()
    (target / "README.md").write_text("kept")
    (target / "model.tflite").write_bytes(b"a stale network")
    cmd = [sys.executable, "-m", "training.run", "export", "--out", str(tiny_run),
           "--export-to", str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (target / "README.md").read_text() == "kept"
    exported = tiny_run / "weights"
    assert (target / "model.tflite").read_bytes() == (exported / "model.tflite").read_bytes()
    assert Classifier(target).classes == json.loads((exported / "classes.json").read_text())
    assert not list(tmp_path.glob(".partial-*"))
