"""Issue 24 ("Reliability v3"), the training's rows (2, 4-11) of the sweep of bad inputs
and faults: ``training.run`` and ``training.generate`` on a tiny dataset. The runtime's
rows are in ``tests/test_reliability_sweep.py``.

Each test produces the fault for real (a truncated chunk, a full or read-only tmpfs,
kill -9, two runs at once...) and asserts what the user sees: the message, the exit
status, and that the same command then resumes.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reliability_helpers import checkout_env, last_line

TINY_MODELS = ["sphere", "lamellar"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    from training.generate import generate_dataset

    out = tmp_path_factory.mktemp("sweep") / "dataset"
    generate_dataset(out, TINY_MODELS, per_model=20, seed=5, workers=1, progress=False,
                     serial_sample=0, shifted_per_model=0)
    return out


def _training(*args, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.run", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env=env or checkout_env())


def _train_args(dataset: Path, out: Path, epochs: int = 2) -> list:
    return ["train", "--dataset", dataset, "--out", out, "--architectures", "resnet1d",
            "--epochs", epochs, "--batch-size", 8, "--patience", 100]


@pytest.fixture
def small_disk(tmp_path):
    """A mounted tmpfs of a given size (remountable with another): a disk that fills up."""
    mounted = []

    def mount(size: str, options: str = "") -> Path:
        folder = tmp_path / "disk"
        folder.mkdir(exist_ok=True)
        opts = f"size={size}" + (f",{options}" if options else "")
        cmd = (["mount", "-o", f"remount,{opts}", str(folder)] if mounted
               else ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(folder)])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip()}): a full disk "
                        "cannot be produced")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted[:1]:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


# --- row 2: a damaged chunk file ---------------------------------------------------------
def test_row02_truncated_chunk_is_named_then_generated_again(tiny_dataset, tmp_path):
    import h5py

    copy = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, copy)
    chunk = copy / "chunks" / "val" / "lamellar" / "00000.h5"
    with h5py.File(chunk, "r") as handle:
        original = handle["I"][()]
    chunk.write_bytes(chunk.read_bytes()[:1000])  # a truncated copy
    proc = _training(*_train_args(copy, tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert last_line(proc.stderr).startswith(f"error: {chunk} is damaged (")
    assert last_line(proc.stderr).endswith("run the generate stage (or all) with the same "
                                             "options to generate it again.")
    proc = _training("generate", "--dataset", copy, "--out", tmp_path / "out", "--workers", 1)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (f"1 chunk file(s) of {copy} are damaged and will be generated again: "
            "chunks/val/lamellar/00000.h5") in proc.stderr
    with h5py.File(chunk, "r") as handle:
        np.testing.assert_array_equal(handle["I"][()], original)


# --- row 4: disk full while generating -----------------------------------------------------
def test_row04_full_disk_while_generating_is_an_error_and_resumes(small_disk):
    disk = small_disk("64k")
    args = ["generate", "--out", disk / "run", "--models", "sphere,lamellar,cylinder",
            "--per-model", 60, "--shifted-per-model", 0, "--workers", 1]
    proc = _training(*args)
    assert proc.returncode == 2, proc.stderr[-2000:]  # not 139 (segmentation fault)
    assert "Traceback" not in proc.stderr
    assert last_line(proc.stderr) == (
        f"error: No space left on device (in {disk / 'run'}). Free some space (or point --out "
        "elsewhere) and run the same command again: finished work is kept.")
    small_disk("16m")
    proc = _training(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "dataset complete" in proc.stderr
    assert not list((disk / "run").rglob("*.tmp-*"))


# --- row 5: disk full while training ------------------------------------------------------
def test_row05_full_disk_while_training_is_an_error_and_resumes(tiny_dataset, small_disk):
    disk = small_disk("100k")  # too small for the input cache (164 kB)
    out = disk / "run"
    message = (f"error: No space left on device (in {out}). Free some space (or point --out "
               "elsewhere) and run the same command again: finished work is kept.")
    proc = _training(*_train_args(tiny_dataset, out))
    assert proc.returncode == 2, proc.stderr[-2000:]  # not 135 (SIGBUS)
    assert last_line(proc.stderr) == message and "Traceback" not in proc.stderr
    small_disk("4m")  # the cache fits, two checkpoints (2.9 MB each) do not
    proc = _training(*_train_args(tiny_dataset, out))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert last_line(proc.stderr) == message and "Traceback" not in proc.stderr
    small_disk("40m")
    proc = _training(*_train_args(tiny_dataset, out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads((out / "runs" / "resnet1d" / "state.json").read_text())
    assert state["epoch"] == 2
    assert sorted(p.name for p in (out / "runs" / "resnet1d").glob("*.keras")) == \
        sorted({state["last"], state["best"]})


# --- row 6: a resumed run is the same run --------------------------------------------------
def test_row06_run_killed_after_epoch_2_resumes_to_the_same_weights(tiny_dataset, tmp_path):
    import keras

    epochs = 4
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    assert _training(*_train_args(tiny_dataset, full, epochs)).returncode == 0
    run = resumed / "runs" / "resnet1d"
    proc = subprocess.Popen([sys.executable, "-m", "training.run",
                             *map(str, _train_args(tiny_dataset, resumed, epochs))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=checkout_env())

    def epoch() -> int:
        try:
            return json.loads((run / "state.json").read_text())["epoch"]
        except (FileNotFoundError, json.JSONDecodeError):
            return 0

    while proc.poll() is None and epoch() < 2:
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    assert epoch() == 2, "the run was not killed between epochs 2 and 4"
    proc = _training(*_train_args(tiny_dataset, resumed, epochs))
    assert proc.returncode == 0 and "resuming resnet1d after epoch 2" in proc.stderr

    def final(out: Path):
        state = json.loads((out / "runs" / "resnet1d" / "state.json").read_text())
        model = keras.saving.load_model(out / "runs" / "resnet1d" / state["last"], compile=False)
        return state["history"], model.get_weights()

    (h_full, w_full), (h_resumed, w_resumed) = final(full), final(resumed)
    assert h_resumed == h_full  # every epoch's losses, the resumed ones included
    for a, b in zip(w_full, w_resumed):
        np.testing.assert_array_equal(a, b)


# --- row 7: unusable folders, damaged files, an unreachable scheduler ----------------------
def test_row07_out_that_is_a_file_or_read_only(tmp_path, small_disk):
    afile = tmp_path / "afile"
    afile.write_text("x")
    proc = _training("--out", afile)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert last_line(proc.stderr) == f"error: --out {afile} is a file, not a folder."
    disk = small_disk("1m", "ro")
    proc = _training("generate", "--out", disk / "run", "--models", "sphere", "--per-model", 3)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert last_line(proc.stderr) == (f"error: {disk / 'run'}: Read-only file system. Give an "
                                        "--out (and --dataset) folder this user can write.")


def test_row07_truncated_manifest_is_named(tiny_dataset, tmp_path):
    copy = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, copy)
    manifest = copy / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    proc = _training(*_train_args(copy, tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = last_line(proc.stderr)
    assert line.startswith(f"error: {manifest} is damaged (") and line.endswith(
        "restore it, or generate the dataset again in another folder.")


@pytest.mark.parametrize("damage", ["record", "inputs", "labels"])
def test_row07_damaged_cache_is_encoded_again(tiny_dataset, tmp_path, damage, caplog):
    from sasnets_plugin.preprocessing import PREPROCESSING_VERSION
    from training.features import encode_split

    first = encode_split(tiny_dataset, "val", TINY_MODELS, PREPROCESSING_VERSION, tmp_path)
    inputs, labels = np.array(first.inputs), first.labels
    del first  # its memory map would fault on the truncated file
    path = tmp_path / PREPROCESSING_VERSION / {"record": "val.json", "inputs": "val.npy",
                                                "labels": "val.npz"}[damage]
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    again = encode_split(tiny_dataset, "val", TINY_MODELS, PREPROCESSING_VERSION, tmp_path)
    np.testing.assert_array_equal(inputs, np.asarray(again.inputs))
    np.testing.assert_array_equal(labels, again.labels)
    assert "damaged cache" in caplog.text


def test_row07_unreachable_scheduler_is_named(tmp_path):
    env = checkout_env()
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "2s"  # distributed's own setting
    proc = _training("generate", "--out", tmp_path / "run", "--models", "sphere", "--per-model", 3,
                     "--shifted-per-model", 0, "--scheduler", "tcp://127.0.0.1:9", env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert last_line(proc.stderr).startswith(
        "error: cannot use the Dask scheduler at tcp://127.0.0.1:9: Timed out trying to connect")


# --- row 8: two runs on one --out -----------------------------------------------------------
def test_row08_second_run_on_the_same_out_is_refused(tiny_dataset, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "training.run",
                              *map(str, _train_args(tiny_dataset, out, 3))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=checkout_env())
    try:
        deadline = time.monotonic() + 120
        while not (out / "cache").exists() and time.monotonic() < deadline:  # it is working
            time.sleep(0.05)
        second = _training(*_train_args(tiny_dataset, out, 3))
    finally:
        _, first_err = first.communicate(timeout=600)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert last_line(second.stderr) == (f"error: another run is writing here ({out}): wait "
                                          "for it to finish, or use another --out.")
    assert first.returncode == 0, first_err[-2000:]
    assert json.loads((out / "runs" / "resnet1d" / "state.json").read_text())["epoch"] == 3


# --- row 9: kill -9 during --export-to -------------------------------------------------------
def test_row09_kill_during_export_to_leaves_the_old_network_whole(tmp_path):
    from training.atomic import replace_folder

    target = tmp_path / "weights"
    target.mkdir()
    (target / "model.keras").write_bytes(b"old" * 1000)
    (target / "README.md").write_text("kept")
    new = tmp_path / "new"
    new.mkdir()
    for i in range(4):  # large enough that the copy is still running when it is killed
        with open(new / f"part{i}.bin", "wb") as handle:
            handle.write(os.urandom(1 << 20) * 64)
    (new / "model.keras").write_bytes(b"new" * 1000)
    code = (f"from pathlib import Path; from training.atomic import replace_folder; "
            f"replace_folder(Path({str(target)!r}), sorted(Path({str(new)!r}).iterdir()))")
    proc = subprocess.Popen([sys.executable, "-c", code], env=checkout_env())
    while proc.poll() is None and not list(tmp_path.glob(".partial-*-weights")):
        time.sleep(0.001)
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the copy ended before it could be killed"
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "model.keras"]
    assert (target / "model.keras").read_bytes() == b"old" * 1000
    replace_folder(target, sorted(new.iterdir()))
    assert (target / "model.keras").read_bytes() == b"new" * 1000
    assert (target / "README.md").read_text() == "kept"
    assert (target / "part3.bin").stat().st_size == 64 << 20
    assert not list(tmp_path.glob(".partial-*"))


# --- row 10: a learning rate that cannot work --------------------------------------------------
@pytest.mark.parametrize("rate", ["inf", "nan", "0"])
def test_row10_learning_rate_that_is_not_a_positive_number_is_refused(tmp_path, rate):
    proc = _training("--out", tmp_path / "out", "--learning-rate", rate)
    assert proc.returncode == 2
    assert last_line(proc.stderr) == (f"error: --learning-rate must be a positive number, not "
                                        f"{float(rate)}.")
    assert not (tmp_path / "out").exists()


def test_row10_diverging_run_says_so(tiny_dataset, tmp_path):
    out = tmp_path / "out"
    proc = _training(*_train_args(tiny_dataset, out), "--learning-rate", "1e30")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert last_line(proc.stderr) == (
        f"error: resnet1d diverged in epoch 1 (loss nan, validation loss nan); that epoch was "
        "not saved. The learning rate 1e+30 is too high: train with a lower --learning-rate in "
        f"another --out (or delete {out / 'runs' / 'resnet1d'}).")
    assert not list((out / "runs" / "resnet1d").glob("*.keras"))


# --- row 11: options checked before anything is written ---------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--models", ""], "error: --models: model specification '' selects no model"),
    (["--seed", "-1"], "error: --seed must be at least 0, not -1."),
])
def test_row11_run_options_are_checked_before_anything_is_written(tmp_path, args, message):
    proc = _training(*args, "--out", tmp_path / "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert last_line(proc.stderr) == message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--serial-sample", "-1"], "serial_sample must be at least 0, got -1"),
    (["--seed", "-1"], "seed must be at least 0, got -1"),
    (["--models", ""], "model specification '' selects no model"),
])
def test_row11_generate_options_are_checked_before_anything_is_written(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "training.generate", "--out", tmp_path / "ds",
                           "--per-model", "3", "--shifted-per-model", "0", "--models", "sphere",
                           *args], capture_output=True, text=True, timeout=300, env=checkout_env())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert last_line(proc.stderr).endswith(message)
    assert not (tmp_path / "ds").exists()
