"""Issue 24 ("Reliability v3"): one test per row of the sweep of bad inputs and faults.

Each test produces the fault for real (a file root cannot read, a truncated chunk, a full
filesystem, kill -9, SIGINT...) and asserts what the user sees: the message and the exit
status. Rows 1, 3 and 12-17 are the runtime's (sasnets-suggest, the Python API); rows 2
and 4-11 the training's (``training.run``, ``training.generate``) on a tiny dataset.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sasnets_plugin import DataError, WeightsError, suggest, suggest_file
from sasnets_plugin.classifier import Classifier, default_weights_dir

CLI = Path(sys.executable).parent / "sasnets-suggest"
ROOT = Path(__file__).resolve().parent.parent
#: Write-only kernel attributes: regular files of non-zero size that even root cannot read.
WRITE_ONLY_FILES = ("/sys/bus/pci/rescan", "/sys/bus/pci/drivers_probe",
                    "/sys/bus/platform/drivers_probe", "/sys/kernel/mm/page_idle/bitmap")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=300,
                          env=_env(), **kwargs)


def _strict_json(text: str):
    """``json.loads`` that refuses NaN and Infinity (what other JSON readers do)."""
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def _sphere(n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    q = np.logspace(-2.3, -0.6, n)
    x = 50.0 * q
    return q, 1e3 * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 0.01


@pytest.fixture
def unreadable_file(tmp_path) -> Path:
    """A regular, non-empty file that this process cannot open for reading: chmod 000 for
    a user; for root (who reads chmod-000 files) a write-only /sys attribute."""
    if os.geteuid() != 0:
        path = tmp_path / "locked.txt"
        q, I = _sphere()
        np.savetxt(path, np.column_stack([q, I]))
        path.chmod(0)
        return path
    for name in WRITE_ONLY_FILES:
        path = Path(name)
        try:
            info = path.stat()
            with open(path, "rb"):
                continue  # readable after all
        except PermissionError:
            if stat.S_ISREG(info.st_mode) and info.st_size > 0:
                return path
        except OSError:
            continue
    pytest.skip("running as root (chmod 000 does not stop root) and none of the write-only "
                f"/sys files {WRITE_ONLY_FILES} exists here")


@pytest.fixture
def weights_copy(tmp_path) -> Path:
    dst = tmp_path / "weights"
    shutil.copytree(default_weights_dir(), dst)
    return dst


# --- row 1: a file that cannot be read ---------------------------------------------------
def test_row01_unreadable_file_is_named_and_the_others_ranked(unreadable_file, example_1d):
    good = example_1d / "cyl_400_20.txt"
    proc = _run("--json", str(unreadable_file), str(good))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    bad, ranked = _strict_json(proc.stdout)
    assert bad["error"] == f"{unreadable_file}: cannot be read (Permission denied)."
    assert len(ranked["suggestions"]) == 5
    with pytest.raises(DataError, match="cannot be read \\(Permission denied\\)"):
        suggest_file(unreadable_file)


# --- row 3: NaN in dI or dQ, a 1-row file, all-NaN rows -----------------------------------
def test_row03_nan_uncertainties_are_ignored_and_the_points_kept(tmp_path):
    q, I = _sphere()
    every_second = 0.05 * I
    every_second[::2] = np.nan
    files = {"dI_nan.txt": [q, I, np.full_like(q, np.nan)],
             "dQ_nan.txt": [q, I, 0.05 * I, np.full_like(q, np.nan)],
             "dI_half.txt": [q, I, every_second]}
    for name, columns in files.items():
        np.savetxt(tmp_path / name, np.column_stack(columns))
    proc = _run("--json", *(str(tmp_path / name) for name in files))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    di_nan, dq_nan, di_half = _strict_json(proc.stdout)
    for result in (di_nan, di_half):
        assert result["cleaning"] == ["ignored the uncertainties dI (missing, zero or not "
                                      "finite)"], result
    assert dq_nan["cleaning"] == ["ignored the resolution dQ (zero or not finite at some "
                                  "points)"]
    ranking = suggest_file(tmp_path / "dI_half.txt", details=True)
    assert ranking.prepared.report.n_usable == 100  # all 100 points, not 50


def test_row03_one_row_and_all_nan_files_say_what_is_wrong(tmp_path):
    q, I = _sphere()
    np.savetxt(tmp_path / "one_row.txt", np.column_stack([q[:1], I[:1], 0.05 * I[:1]]))
    np.savetxt(tmp_path / "all_nan.txt", np.full((100, 3), np.nan))
    proc = _run("--json", str(tmp_path / "one_row.txt"), str(tmp_path / "all_nan.txt"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    one, nan = _strict_json(proc.stdout)
    assert one["error"] == ("one_row.txt: only 1 row(s) of numbers; at least 10 points are "
                            "needed to suggest a model.")
    assert nan["error"] == ("all_nan.txt: none of its 100 row(s) of numbers has a finite q and "
                            "I (NaN or infinite values only).")


def test_row03_rows_with_nan_in_q_or_i_are_still_reported_as_skipped(tmp_path):
    q, I = _sphere()
    table = np.column_stack([q, I, 0.05 * I])
    table[10:20, 1] = np.nan
    np.savetxt(tmp_path / "gap.txt", table)
    ranking = suggest_file(tmp_path / "gap.txt", details=True)
    assert ranking.prepared.report.n_usable == 90
    assert ranking.prepared.report.notes()[0].startswith(
        "the file reader skipped 10 row(s) of numbers (line 11: nan is not a finite number")


# --- row 12: results that cannot be written ---------------------------------------------
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_row12_output_to_a_full_device_is_an_error_with_exit_2(example_1d):
    for option in ([], ["--json"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([str(CLI), *option, str(example_1d / "cyl_400_20.txt")],
                                  stdout=full, stderr=subprocess.PIPE, text=True, timeout=300,
                                  env=_env())
        assert proc.returncode == 2
        assert proc.stderr == ("error: cannot write the results to the standard output "
                               "(No space left on device).\n")


def test_row12_closed_stdout_is_an_error_with_exit_2(example_1d):
    proc = subprocess.run(["sh", "-c", '"$0" "$@" >&-', str(CLI),
                           str(example_1d / "cyl_400_20.txt")],
                          capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 2
    assert proc.stderr == ("error: the standard output is closed: the results could not be "
                           "written.\n")


# --- row 13: a TensorFlow that fails to import --------------------------------------------
def test_row13_broken_tensorflow_gives_the_needs_tensorflow_message(tmp_path, example_1d):
    broken = tmp_path / "site" / "tensorflow"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        "raise AttributeError(\"module 'numpy' has no attribute 'float_'\")\n")
    env = _env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
    proc = subprocess.run([str(CLI), "--json", "--runtime", "keras",
                           str(example_1d / "cyl_400_20.txt")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (result,) = _strict_json(proc.stdout)
    assert result["error"].startswith(
        "Running the Keras network (--device gpu, --runtime keras) needs TensorFlow, which is "
        "installed but fails to import (AttributeError: module 'numpy' has no attribute "
        "'float_')")


# --- row 14: an edited metadata.json ----------------------------------------------------
def _edit_metadata(weights: Path, edit) -> None:
    path = weights / "metadata.json"
    metadata = json.loads(path.read_text())
    edit(metadata)
    path.write_text(json.dumps(metadata))  # json.dumps writes NaN as Python reads it back


def test_row14_file_size_as_a_string_is_a_weights_error(weights_copy, example_1d):
    _edit_metadata(weights_copy, lambda m: m["files"]["model.tflite"].update(
        bytes=str(m["files"]["model.tflite"]["bytes"])))
    with pytest.raises(WeightsError, match="metadata.json was edited: its record of "
                       "model.tflite must be"):
        Classifier(weights_copy)
    proc = _run("--json", "--weights", str(weights_copy), str(example_1d / "cyl_400_20.txt"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "was edited: its record of model.tflite" in _strict_json(proc.stdout)[0]["error"]


def test_row14_nan_novelty_threshold_is_a_weights_error(weights_copy, example_1d):
    _edit_metadata(weights_copy, lambda m: m["novelty"].update(threshold=float("nan")))
    with pytest.raises(WeightsError, match="OOD reference .* holds NaN or infinite values"):
        Classifier(weights_copy)
    proc = _run("--json", "--weights", str(weights_copy), str(example_1d / "cyl_400_20.txt"))
    assert proc.returncode == 2
    (result,) = _strict_json(proc.stdout)  # strict JSON: no NaN anywhere
    assert "holds NaN or infinite values" in result["error"]


def test_row14_json_output_is_strict_even_for_infinite_numbers(example_1d, capsys):
    """A verified result whose best chi2r is infinite (no fit) prints null, not Infinity."""
    from sasnets_plugin import cli

    text = '{"a": 1.0, "b": [2.0, {"c": 3}]}'
    assert cli._strict(json.loads(text)) == json.loads(text)
    assert cli._strict({"chi2r": float("inf"), "x": [float("nan"), 1.5]}) == \
        {"chi2r": None, "x": [None, 1.5]}
    assert cli.main(["--json", str(example_1d / "sphere_80.txt")]) == 0
    _strict_json(capsys.readouterr().out)


# --- row 15: Ctrl-C during --verify ------------------------------------------------------
def test_row15_ctrl_c_during_verify_prints_the_rankings_and_exits_130(example_1d):
    files = [example_1d / name for name in ("cyl_400_20.txt", "sphere_80.txt",
                                            "latex_smeared.xml", "ISIS_Polymer_Blend_TK49.xml")]
    proc = subprocess.Popen([str(CLI), "-v", "--json", "--verify", "--top", "10",
                             *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(), start_new_session=True)
    for line in proc.stderr:  # the network is loaded: ranking is done in a moment
        if "Loaded" in line:
            break
    time.sleep(1.0)  # the fits have started (they take several seconds in all)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the workers get it too
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err, err
    results = _strict_json(out)
    assert [r["file"] for r in results] == list(map(str, files))
    for result in results:
        assert len(result["suggestions"]) == 10
        assert result["verification_error"] == "interrupted before the fits finished"


# --- row 16: verify=True from a script ------------------------------------------------------
def test_row16_readme_guarded_verify_script_runs_once_with_workers(tmp_path, example_1d):
    readme = (ROOT / "README.md").read_text()
    block = readme.split('if __name__ == "__main__":', 1)
    assert len(block) == 2, "the README's Python section shows the main guard for verify=True"
    script = tmp_path / "guarded.py"
    script.write_text(textwrap.dedent(f"""\
        import logging
        from sasnets_plugin import suggest_file

        if __name__ == "__main__":
            print("body")
            logging.basicConfig()
            result = suggest_file({str(example_1d / 'sphere_80.txt')!r}, top=2, verify=True)
            print(result.ranked[0].model, list(result.notes))
        """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["body", "sphere []"]
    assert "Traceback" not in proc.stderr


# --- row 17: complex arrays ---------------------------------------------------------------
@pytest.mark.parametrize("which", ["q", "I", "dI"])
def test_row17_complex_arrays_are_a_data_error(which):
    q, I = _sphere()
    arrays = {"q": q, "I": I, "dI": 0.05 * I}
    arrays[which] = arrays[which] + 1j
    with pytest.raises(DataError, match=f"^{which} holds complex numbers; SAS data are real"):
        suggest(arrays["q"], arrays["I"], arrays["dI"])
    with pytest.raises(DataError, match="^q holds complex numbers"):
        suggest(list(q + 0j), I)


# =========================================================================================
# Training rows (training.run / training.generate on a tiny dataset)
# =========================================================================================
TINY_MODELS = ["sphere", "lamellar"]
NOISE = ("^WARNING", "^E0000", "^I0000", "oneDNN", "cuda", "TF_ENABLE", "AVX")


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    from training.generate import generate_dataset

    out = tmp_path_factory.mktemp("sweep") / "dataset"
    generate_dataset(out, TINY_MODELS, per_model=20, seed=5, workers=1, progress=False,
                     serial_sample=0, shifted_per_model=0)
    return out


def _training(*args, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.run", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env or _env())


def _train_args(dataset: Path, out: Path, epochs: int = 2) -> list:
    return ["train", "--dataset", dataset, "--out", out, "--architectures", "resnet1d",
            "--epochs", epochs, "--batch-size", 8, "--patience", 100]


def _error_line(stderr: str) -> str:
    """The last line of stderr: ``error: ...`` for a run that stopped on purpose."""
    return stderr.strip().splitlines()[-1]


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
    assert _error_line(proc.stderr).startswith(f"error: {chunk} is damaged (")
    assert _error_line(proc.stderr).endswith("run the generate stage (or all) with the same "
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
    assert _error_line(proc.stderr) == (
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
    assert _error_line(proc.stderr) == message and "Traceback" not in proc.stderr
    small_disk("4m")  # the cache fits, two checkpoints (2.9 MB each) do not
    proc = _training(*_train_args(tiny_dataset, out))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert _error_line(proc.stderr) == message and "Traceback" not in proc.stderr
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
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())

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
    assert _error_line(proc.stderr) == f"error: --out {afile} is a file, not a folder."
    disk = small_disk("1m", "ro")
    proc = _training("generate", "--out", disk / "run", "--models", "sphere", "--per-model", 3)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _error_line(proc.stderr) == (f"error: {disk / 'run'}: Read-only file system. Give an "
                                        "--out (and --dataset) folder this user can write.")


def test_row07_truncated_manifest_is_named(tiny_dataset, tmp_path):
    copy = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, copy)
    manifest = copy / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    proc = _training(*_train_args(copy, tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = _error_line(proc.stderr)
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
    env = _env()
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "2s"  # distributed's own setting
    proc = _training("generate", "--out", tmp_path / "run", "--models", "sphere", "--per-model", 3,
                     "--shifted-per-model", 0, "--scheduler", "tcp://127.0.0.1:9", env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _error_line(proc.stderr).startswith(
        "error: cannot use the Dask scheduler at tcp://127.0.0.1:9: Timed out trying to connect")


# --- row 8: two runs on one --out -----------------------------------------------------------
def test_row08_second_run_on_the_same_out_is_refused(tiny_dataset, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "training.run",
                              *map(str, _train_args(tiny_dataset, out, 3))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=_env())
    try:
        deadline = time.monotonic() + 120
        while not (out / "cache").exists() and time.monotonic() < deadline:  # it is working
            time.sleep(0.05)
        second = _training(*_train_args(tiny_dataset, out, 3))
    finally:
        _, first_err = first.communicate(timeout=600)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert _error_line(second.stderr) == (f"error: another run is writing here ({out}): wait "
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
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env())
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
    assert _error_line(proc.stderr) == (f"error: --learning-rate must be a positive number, not "
                                        f"{float(rate)}.")
    assert not (tmp_path / "out").exists()


def test_row10_diverging_run_says_so(tiny_dataset, tmp_path):
    out = tmp_path / "out"
    proc = _training(*_train_args(tiny_dataset, out), "--learning-rate", "1e30")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _error_line(proc.stderr) == (
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
    assert _error_line(proc.stderr) == message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--serial-sample", "-1"], "serial_sample must be at least 0, got -1"),
    (["--seed", "-1"], "seed must be at least 0, got -1"),
    (["--models", ""], "model specification '' selects no model"),
])
def test_row11_generate_options_are_checked_before_anything_is_written(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "training.generate", "--out", tmp_path / "ds",
                           "--per-model", "3", "--shifted-per-model", "0", "--models", "sphere",
                           *args], capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _error_line(proc.stderr).endswith(message)
    assert not (tmp_path / "ds").exists()
