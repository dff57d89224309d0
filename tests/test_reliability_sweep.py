"""Issue 24 ("Reliability v3"): one test per row of the sweep of bad inputs and faults,
the runtime's rows (1, 3, 12-17: sasnets-suggest and the Python API); the training's rows
(2, 4-11) are in ``tests/test_reliability_sweep_training.py``.

Each test produces the fault for real (a file root cannot read, a full device, a broken
TensorFlow, SIGINT...) and asserts what the user sees: the message and the exit status.
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
from reliability_helpers import ROOT, checkout_env
from sasnets_plugin.classifier import Classifier, default_weights_dir

CLI = Path(sys.executable).parent / "sasnets-suggest"
#: Write-only kernel attributes: regular files of non-zero size that even root cannot read.
WRITE_ONLY_FILES = ("/sys/bus/pci/rescan", "/sys/bus/pci/drivers_probe",
                    "/sys/bus/platform/drivers_probe", "/sys/kernel/mm/page_idle/bitmap")


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=300,
                          env=checkout_env(), **kwargs)


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
                                  env=checkout_env())
        assert proc.returncode == 2
        assert proc.stderr == ("error: cannot write the results to the standard output "
                               "(No space left on device).\n")


def test_row12_closed_stdout_is_an_error_with_exit_2(example_1d):
    proc = subprocess.run(["sh", "-c", '"$0" "$@" >&-', str(CLI),
                           str(example_1d / "cyl_400_20.txt")],
                          capture_output=True, text=True, timeout=300, env=checkout_env())
    assert proc.returncode == 2
    assert proc.stderr == ("error: the standard output is closed: the results could not be "
                           "written.\n")


# --- row 13: a TensorFlow that fails to import --------------------------------------------
def test_row13_broken_tensorflow_gives_the_needs_tensorflow_message(tmp_path, example_1d):
    broken = tmp_path / "site" / "tensorflow"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        "raise AttributeError(\"module 'numpy' has no attribute 'float_'\")\n")
    env = checkout_env()
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
                            text=True, env=checkout_env(), start_new_session=True)
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
                          timeout=300, env=checkout_env())
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
