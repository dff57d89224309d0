"""Public API and ``sasnets-suggest`` on real files, including every sasdata 1D example."""
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from sasnets_plugin import DataError, suggest, suggest_file
from sasnets_plugin.cli import main
from sasnets_plugin.suggestion import get_classifier

CLI = Path(sys.executable).parent / "sasnets-suggest"


def _sphere_curve():
    q = np.logspace(-2.3, -0.6, 120)
    x = 50.0 * q
    return q, 1e3 * (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 + 0.01


def test_suggest_returns_sorted_probabilities_summing_to_one():
    q, I = _sphere_curve()
    everything = suggest(q, I, top=None)
    n = len(get_classifier().classes)
    assert len(everything) == n
    probs = [p for _, p in everything]
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) == pytest.approx(1.0, abs=1e-6)
    top3 = suggest(q, I, 0.05 * I, top=3)
    assert len(top3) == 3 and all(isinstance(m, str) for m, _ in top3)


def test_suggest_refuses_bad_arrays_with_a_message():
    q, I = _sphere_curve()
    with pytest.raises(DataError, match="All 120 intensities are zero, negative or invalid"):
        suggest(q, -I)
    with pytest.raises(DataError, match="at least 10 are needed"):
        suggest(q[:5], I[:5])


def test_cleaned_curve_is_still_ranked():
    q, I = _sphere_curve()
    q2, I2 = q.copy(), I.copy()
    I2[[4, 9]] = [np.nan, -3.0]
    perm = np.random.default_rng(0).permutation(q.size)
    q2, I2 = np.concatenate([q2[perm], q[:5]]), np.concatenate([I2[perm], I[:5]])
    ranked = suggest(q2, I2, top=None)
    assert sum(p for _, p in ranked) == pytest.approx(1.0, abs=1e-6)


def test_suggest_file_on_a_real_file(example_1d):
    ranked = suggest_file(example_1d / "cyl_400_20.txt", top=5)
    assert len(ranked) == 5
    assert ranked[0][1] >= ranked[-1][1]
    with pytest.raises(DataError, match="has 2 1D data set\\(s\\); no number 5"):
        suggest_file(example_1d / "latex_smeared.xml", dataset=5)


def test_cli_ranks_or_clearly_refuses_every_sasdata_1d_example(example_1d, capsys):
    files = sorted(p for p in example_1d.iterdir() if p.is_file())
    status = main([*map(str, files), "--json", "--top", "3"])
    out = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in out] == [str(f) for f in files]
    for r in out:
        if "error" in r:
            assert r["error"].startswith(Path(r["file"]).name) or "point" in r["error"], r
        else:
            assert len(r["suggestions"]) == 3
            assert all(0 <= s["probability"] <= 1 for s in r["suggestions"])
    ranked = sum("suggestions" in r for r in out)
    assert ranked >= len(files) - 3, [r for r in out if "error" in r]
    assert status == (0 if ranked == len(files) else 2)


def test_cli_json_mixes_results_and_errors_in_input_order(example_1d, example_2d, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    paths = [example_1d / "sphere_80.txt", tmp_path / "missing.dat", empty,
             example_2d / "P123_D2O_10_percent.dat", example_1d / "cyl_400_20.txt"]
    proc = subprocess.run([str(CLI), "--json", *map(str, paths)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert [r["file"] for r in out] == list(map(str, paths))
    assert len(out[0]["suggestions"]) == 5 and len(out[4]["suggestions"]) == 5
    assert out[1]["error"].endswith("missing.dat: no such file.")
    assert out[2]["error"] == "empty.txt: the file is empty."
    assert "2D data only" in out[3]["error"]


def test_cli_table_and_exit_zero(example_1d):
    proc = subprocess.run([str(CLI), str(example_1d / "cyl_400_20.txt"), "--top", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].endswith("cyl_400_20.txt")
    assert lines[1].strip().startswith("OOD score") and "like the training data" in lines[1]
    assert "rank" in lines[2] and "probability" in lines[2]
    assert len([l for l in lines if l.strip().endswith("%")]) == 2
    assert proc.stderr == ""


def test_cli_reports_cleaning_notes(tmp_path):
    q, I = _sphere_curve()
    I[3] = -1.0
    path = tmp_path / "neg.txt"
    np.savetxt(path, np.column_stack([q, I]))
    proc = subprocess.run([str(CLI), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "note: dropped 1 point(s) with I <= 0" in proc.stdout


def test_cli_with_broken_weights_reports_every_file(example_1d, tmp_path):
    proc = subprocess.run([str(CLI), "--json", "--weights", str(tmp_path),
                           str(example_1d / "sphere_80.txt")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (r,) = json.loads(proc.stdout)
    assert "class list is missing" in r["error"]


def test_cli_help_and_ranking_do_not_import_tensorflow(example_1d):
    code = ("import sys; from sasnets_plugin.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, 'TensorFlow imported by --help'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Exit status: 0 when every file was ranked, 2" in proc.stdout
    code = ("import sys; from sasnets_plugin.cli import main\n"
            f"assert main([{str(example_1d / 'sphere_80.txt')!r}]) == 0\n"
            "assert not {'tensorflow', 'keras'} & set(sys.modules), 'TensorFlow imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cli_usage_errors():
    proc = subprocess.run([str(CLI)], capture_output=True, text=True)
    assert proc.returncode == 2 and "give at least one data file" in proc.stderr


def test_cli_ranks_2000_files_in_one_call(example_1d, tmp_path):
    source = (example_1d / "cyl_400_40.txt").read_bytes()
    paths = []
    for i in range(2000):
        path = tmp_path / f"{i:04d}.txt"
        path.write_bytes(source)
        paths.append(str(path))
    proc = subprocess.run([str(CLI), "--json", "--top", "1", *paths], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert [r["file"] for r in out] == paths
    assert len({r["suggestions"][0]["model"] for r in out}) == 1


def test_suggest_file_with_verification_keeps_both_orders(example_1d):
    path = example_1d / "cyl_400_20.txt"
    network = suggest_file(path, top=3)
    result = suggest_file(path, top=3, verify=True)
    assert [c.model for c in result.candidates] == [m for m, _ in network]
    assert sorted(result.verified_order) == sorted(m for m, _ in network)
    # the models that fit equally well first (simplest first), then by posterior
    group = len(result.indistinguishable)
    assert result.verified_order[:group] == result.indistinguishable
    posteriors = [c.posterior for c in result.ranked]
    assert posteriors[group:] == sorted(posteriors[group:], reverse=True)
    assert sum(posteriors) == pytest.approx(1.0)
    for c in result.candidates:
        assert c.ok and np.isfinite(c.chi2r) and c.bic > c.chi2 - 1e-9
    assert "no dI" in result.weighting  # cyl_400_20.txt has no uncertainties


def test_cli_verify_json_adds_fits_and_the_verified_order(example_1d):
    proc = subprocess.run([str(CLI), "--json", "--verify", "--top", "3",
                           str(example_1d / "sphere_80.txt")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (r,) = json.loads(proc.stdout)
    for s in r["suggestions"]:
        fit = s["fit"]
        assert isinstance(fit, str) and fit.startswith("fit failed") or \
            {"chi2r", "aic", "bic", "parameters"} <= set(fit)
    assert sorted(v["model"] for v in r["verified"]) == sorted(s["model"] for s in r["suggestions"])
    group = r["indistinguishable"]
    assert group and [v["model"] for v in r["verified"][:len(group)]] == group
    post = [v["posterior"] for v in r["verified"][len(group):]]
    assert post == sorted(post, reverse=True)
    assert r["verification"]["resolution"]


@pytest.mark.parametrize("top, message", [(2.5, "top must be a whole number, not 2.5"),
                                          ("3", "top must be a whole number, not '3'"),
                                          (True, "top must be a whole number, not True"),
                                          (-1, "top must be at least 1, not -1"),
                                          (0, "top must be at least 1, not 0")])
def test_top_must_be_a_whole_number_from_one(example_1d, top, message):
    q, I = _sphere_curve()
    with pytest.raises(ValueError, match=message):
        suggest(q, I, top=top)
    with pytest.raises(ValueError, match=message):
        suggest_file(example_1d / "cyl_400_20.txt", top=top)
    assert len(suggest(q, I, top=np.int64(2))) == 2


def test_text_arrays_are_a_data_error():
    q, I = _sphere_curve()
    with pytest.raises(DataError, match="I must hold numbers only; 'high' is not one"):
        suggest(q, ["high"] * q.size)
    with pytest.raises(DataError, match="q must hold numbers only; 'a' is not one"):
        suggest(np.array(["a"] * I.size), I)


def test_suggest_file_from_several_threads(example_1d):
    names = ["cyl_400_20.txt", "sphere_80.txt", "100nmPinholeSphere.txt", "apoferritin.txt"]
    expected = {n: suggest_file(example_1d / n, top=3) for n in names}
    get_classifier.cache_clear()
    start = threading.Barrier(4)

    def first_load(_):
        start.wait()
        return get_classifier()

    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(first_load, range(4)))
        assert len({id(c) for c in loaded}) == 1, "the network was built more than once"
        jobs = [names[i % len(names)] for i in range(120)]
        answers = list(pool.map(lambda n: suggest_file(example_1d / n, top=3), jobs))
    for name, answer in zip(jobs, answers):
        assert [m for m, _ in answer] == [m for m, _ in expected[name]]
        np.testing.assert_allclose([p for _, p in answer], [p for _, p in expected[name]],
                                   atol=1e-6)


def test_skipped_rows_reach_the_cleaning_notes(tmp_path):
    q, I = _sphere_curve()
    rows = [f"{a:.6g} {b:.6g}" for a, b in zip(q, I)]
    rows[10] = f"{q[10]:.6g} 1e400"
    path = tmp_path / "bom.txt"
    path.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    proc = subprocess.run([str(CLI), "--json", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (r,) = json.loads(proc.stdout)
    assert r["cleaning"][0] == ("the file reader skipped 2 row(s) of numbers (line 1: starts with "
                                "an invisible byte-order mark; line 11: 1e400 is not a finite "
                                "number)")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_cli_refuses_a_proc_file_with_exit_2():
    proc = subprocess.run([str(CLI), "/proc/self/mem"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: /proc/self/mem: a special file of unknown size" in proc.stdout


def test_cli_piped_into_a_closed_reader_exits_quietly(example_1d):
    proc = subprocess.Popen([str(CLI), str(example_1d / "cyl_400_20.txt"), "--top", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head` that has already quit: every write is a broken pipe
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert stderr == ""
