"""Training survives interruption (a real kill -9 at several moments, mid-write included)
and a wrong training command line stops with a clear message and exit status 2."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from training.generate import generate_dataset

MODELS = ["sphere", "lamellar"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "dataset"
    generate_dataset(out, MODELS, per_model=20, seed=5, workers=1, progress=False,
                     serial_sample=0, shifted_per_model=0)
    return out


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "training.run", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--models", "sphere,nosuchmodel"], "error: --models: unknown sasmodels model(s) or pattern(s) "
                                         "matching nothing: 'nosuchmodel'"),
    (["--per-model", "2"], "error: --per-model must be at least 3 (one curve each for train, val "
                           "and test), not 2."),
    (["--batch-size", "0"], "error: --batch-size must be at least 1, not 0."),
    (["--epochs", "0"], "error: --epochs must be at least 1, not 0."),
    (["--architectures", "resnet1d+nosuchnet"], "error: --architectures: 'resnet1d+nosuchnet': "
                                                "members must be distinct names"),
    (["train"], "error: no dataset in {out}/dataset (manifest.json is missing): run the generate "
                "stage (or all) first, or point --dataset at a generated dataset."),
])
def test_bad_arguments_stop_with_a_message_and_exit_2(tmp_path, args, message):
    proc = _run(*args, "--out", tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message.format(out=tmp_path) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_evaluating_or_exporting_before_training_is_refused(dataset, tmp_path):
    proc = _run("evaluate", "--dataset", dataset, "--out", tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (f"error: cannot evaluate before training: {tmp_path}/runs/resnet1d holds no trained "
            "network yet (no finished epoch): run the train stage first.") in proc.stderr
    proc = _run("export", "--dataset", dataset, "--out", tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: cannot export before evaluating" in proc.stderr


def test_other_dataset_settings_on_an_existing_dataset_are_refused(dataset, tmp_path):
    proc = _run("--dataset", dataset, "--per-model", "30", "--out", tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (f"error: the dataset in {dataset} was generated with --per-model 20, not 30. Leave "
            "--per-model out to use it as it is") in proc.stderr
    proc = _run("--dataset", dataset, "--models", "sphere", "--out", tmp_path)
    assert proc.returncode == 2 and "generated with --models sphere,lamellar, not sphere" in proc.stderr


def test_a_state_file_not_written_by_this_training_is_named(dataset, tmp_path):
    run = tmp_path / "runs" / "resnet1d"
    run.mkdir(parents=True)
    (run / "state.json").write_text("")  # what the old, non-atomic writer left after a kill
    proc = _run("train", "--dataset", dataset, "--out", tmp_path, "--architectures", "resnet1d")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"error: {run / 'state.json'} is unreadable" in proc.stderr
    assert f"Delete {run} to start over" in proc.stderr


EPOCHS = 8


def _train(dataset, out):
    return subprocess.Popen(
        [sys.executable, "-m", "training.run", "train", "--dataset", str(dataset), "--out", str(out),
         "--architectures", "resnet1d", "--epochs", str(EPOCHS), "--batch-size", "8",
         "--patience", "100"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _epoch(run):
    try:
        return json.loads((run / "state.json").read_text())["epoch"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _kill_when(proc, condition, timeout=240.0):
    """SIGKILL ``proc`` as soon as ``condition()`` holds (polled every 2 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    return False


def test_kill_9_at_any_moment_leaves_a_run_that_resumes(dataset, tmp_path):
    run = tmp_path / "runs" / "resnet1d"

    def writing():  # a checkpoint's temporary file exists: the kill lands mid-write
        return any(p.name.startswith(".partial-") for p in run.glob("*"))

    moments = [
        writing,
        lambda: _epoch(run) >= 2,  # just after state.json moved on, before old files go
        lambda: _epoch(run) >= 3 and writing(),
        lambda: _epoch(run) >= 4 and not writing(),  # during an epoch's training steps
    ]
    killed = 0
    for condition in moments:
        proc = _train(dataset, tmp_path)
        killed += _kill_when(proc, condition)
        state_text = (run / "state.json").read_text() if (run / "state.json").exists() else "{}"
        json.loads(state_text)  # never torn: whole or absent
    assert killed >= 3, "the run finished before it could be killed"
    proc = _train(dataset, tmp_path)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr.decode()[-3000:]
    assert b"resuming resnet1d after epoch" in stderr
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == EPOCHS
    assert len(state["history"]["loss"]) == EPOCHS  # one entry per epoch, none lost or doubled
    assert (run / state["last"]).is_file() and (run / state["best"]).is_file()
    left = sorted(p.name for p in run.iterdir() if p.name not in ("state.json", ".train.lock"))
    assert left == sorted({state["last"], state["best"]}), left
    import keras

    model = keras.saving.load_model(run / state["best"], compile=False)
    x = np.zeros((1, *model.input.shape[1:]), np.float32)
    assert set(model.predict(x, verbose=0)) == {"form", "structure", "estimate"}


def test_an_interrupted_cache_is_made_again(dataset, tmp_path):
    from sasnets_plugin.preprocessing import PREPROCESSING_VERSION
    from training.features import encode_split

    first = encode_split(dataset, "val", MODELS, PREPROCESSING_VERSION, tmp_path)
    folder = tmp_path / PREPROCESSING_VERSION
    (folder / "val.json").unlink()  # as if killed before the record was written
    (folder / ".partial-999-val.npy").write_bytes(b"half")
    again = encode_split(dataset, "val", MODELS, PREPROCESSING_VERSION, tmp_path)
    np.testing.assert_array_equal(np.asarray(first.inputs), np.asarray(again.inputs))
    assert not list(folder.glob(".partial-*"))


def test_a_complete_dataset_is_used_as_it_is(dataset, tmp_path):
    """Generator settings that changed in the code since (a model's cost table, say) do
    not stop training on a finished dataset; an unfinished one would be refused."""
    import shutil

    copy = tmp_path / "dataset"
    shutil.copytree(dataset, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["settings"]["curve_budget_us"] = 1.0
    (copy / "manifest.json").write_text(json.dumps(manifest))
    proc = _run("generate", "--dataset", copy, "--out", tmp_path)
    assert proc.returncode == 0 and "is complete: generation skipped" in proc.stderr
    next(copy.glob("chunks/val/*/*.h5")).unlink()
    proc = _run("generate", "--dataset", copy, "--out", tmp_path, "--workers", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "already holds a dataset generated with other settings" in proc.stderr
