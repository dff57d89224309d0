"""Simulated-data generator: classes, priors, simulation, chunks, resume, reader."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from training import classes, generate, priors, simulate
from training.dataset import iter_curves, load_split

ROOT = Path(__file__).resolve().parent.parent
CHEAP = ["sphere", "lamellar", "guinier"]


def _generate(out, models=CHEAP, per_model=10, workers=1, chunk_size=4, seed=7):
    return generate.generate_dataset(out, models, per_model, seed=seed, workers=workers,
                                     chunk_size=chunk_size, progress=False, serial_sample=0)


def _all_arrays(dataset):
    out = {}
    for split in generate.SPLITS:
        data = load_split(dataset, split)
        out[split] = (data.q, data.I, data.dI, data.n_points, data.models,
                      [json.dumps(p, sort_keys=True) for p in data.params])
    return out


def _children(pid):
    """PIDs whose parent is *pid* (Linux /proc)."""
    result = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            result.append(int(stat.parent.name))
    return result


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for split in a:
        for x, y in zip(a[split], b[split]):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y)
            else:
                assert x == y


# --- classes ---------------------------------------------------------------

def test_default_classes_and_resolve():
    assert len(classes.DEFAULT_MODELS) == 71
    assert set(classes.DEFAULT_MODELS) <= set(classes.available_models())
    assert classes.resolve_models("sphere, cylinder") == ["sphere", "cylinder"]
    shells = classes.resolve_models("core_shell_*")
    assert "core_shell_sphere" in shells and all(s.startswith("core_shell_") for s in shells)
    assert classes.resolve_models("all") == list(classes.available_models())
    assert classes.resolve_models("default") == list(classes.DEFAULT_MODELS)
    assert classes.resolve_models("+superball") == [*classes.DEFAULT_MODELS, "superball"]
    assert classes.resolve_models("sphere,sphere,sph*") == ["sphere", "spherical_sld"]
    with pytest.raises(ValueError, match="spheer.*nomatch_"):
        classes.resolve_models("sphere,spheer,nomatch_*")


# --- simulation pieces -----------------------------------------------------

def test_pinhole_smear_matches_sasmodels():
    from sasmodels.resolution import Pinhole1D

    q = np.geomspace(2e-3, 0.3, 57)
    dq = 0.05 * q
    inst = simulate.Instrument(q=q, dq=dq, dq_over_q=0.05, spacing="log")
    q_calc = simulate.calc_grid(inst)
    theory = 1.0 / (1.0 + (q_calc * 80.0) ** 4) + 0.3 * np.sin(q_calc * 200.0) ** 2
    ours = simulate.pinhole_smear(q_calc, theory, q, dq)
    ref = Pinhole1D(q, dq, q_calc=q_calc).apply(theory)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_noise_matches_reported_uncertainty():
    rng = np.random.default_rng(3)
    q = np.geomspace(1e-3, 0.3, 200)
    inst = simulate.Instrument(q=q, dq=0.03 * q, dq_over_q=0.03, spacing="log")
    model = 1.0 / (1.0 + (q * 50) ** 2)
    pulls = []
    for _ in range(200):
        I, dI, info = simulate.measure(rng, inst, model)
        expected = info["scale"] * (model / model.max()) + info["background"]
        assert np.all(I > 0) and np.all(dI > 0)
        pulls.append((I - expected) / dI)
    pulls = np.concatenate(pulls)
    assert abs(np.mean(pulls)) < 0.05
    assert 0.9 < np.std(pulls) < 1.1


def test_priors_emit_known_parameters_only():
    rng = np.random.default_rng(0)
    for name in classes.DEFAULT_MODELS:
        info, _ = simulate.load_model(name)
        for _ in range(3):
            pars = priors.draw_parameters(info, rng, q_range=(1e-3, 0.3), pd_probability=1.0)
            assert pars["scale"] == 1.0 and pars["background"] == 0.0
            pds = [k for k in pars if k.endswith("_pd")]
            assert all(0 < pars[k] <= 0.3 for k in pds)


def _apart(*names):
    """Predicate: the first SLD differs from every other by the minimum contrast."""
    def check(p):
        return all(abs(p[names[0]] - p[other]) >= priors.MIN_SHELL_CONTRAST
                   for other in names[1:])
    return check


# A richer model drawn in the limit where it equals a simpler one is mislabelled
# data: the priors must keep the distinguishing feature.
NESTED_LIMITS = {
    "multilayer_vesicle": lambda p: p["n_shells"] >= 2,
    "star_polymer": lambda p: p["arms"] >= 3,
    "poly_gauss_coil": lambda p: not 1.7 < p["polydispersity"] < 2.5 and p["polydispersity"] > 1.2,
    "polymer_excl_volume": lambda p: not 1.8 < p["porod_exp"] < 2.3,
    "core_shell_sphere": _apart("sld_shell", "sld_core", "sld_solvent"),
    "core_shell_cylinder": _apart("sld_shell", "sld_core", "sld_solvent"),
    "fractal_core_shell": _apart("sld_shell", "sld_core", "sld_solvent"),
    "lamellar_hg": _apart("sld_head", "sld", "sld_solvent"),
    "lamellar_hg_stack_caille": _apart("sld_head", "sld", "sld_solvent"),
    "polymer_micelle": _apart("sld_corona", "sld_solvent"),
    "ellipsoid": lambda p: not 1 / 1.4 < p["radius_polar"] / p["radius_equatorial"] < 1.4,
    "triaxial_ellipsoid": lambda p: p["radius_equat_major"] >= 1.5 * p["radius_equat_minor"],
    "elliptical_cylinder": lambda p: p["axis_ratio"] >= 1.4,
    "flexible_cylinder_elliptical": lambda p: p["axis_ratio"] >= 1.8,
    "capped_cylinder": lambda p: p["radius"] >= 0.6 * p["radius_cap"],
    "hollow_rectangular_prism": lambda p: p["thickness"] >= 0.1 * p["length_a"],
}


@pytest.mark.parametrize("name", sorted(NESTED_LIMITS))
def test_priors_keep_richer_models_away_from_their_simpler_limit(name):
    info, _ = simulate.load_model(name)
    rng = np.random.default_rng(5)
    for _ in range(200):
        pars = priors.draw_parameters(info, rng, q_range=(2e-3, 0.4), pd_probability=0.0)
        assert NESTED_LIMITS[name](pars), pars


@pytest.mark.parametrize("name", classes.DEFAULT_MODELS)
def test_every_default_model_yields_valid_curves(name):
    rng = np.random.default_rng(11)
    rejections: Counter = Counter()
    curves = simulate.simulate_curves(name, rng, 3, rejections)
    assert len(curves) == 3
    for curve in curves:
        assert curve.q.dtype == curve.I.dtype == curve.dI.dtype == np.float64
        n = curve.q.size
        assert 30 <= n <= 300 and curve.I.size == n and curve.dI.size == n
        assert np.all(np.isfinite(curve.I)) and np.all(curve.I > 0)
        assert np.all(np.isfinite(curve.dI)) and np.all(curve.dI > 0)
        assert np.all(np.diff(curve.q) > 0)
        assert curve.params["model"]
        json.dumps(curve.params)


# --- generation --------------------------------------------------------------

def test_split_counts_and_seeds():
    assert generate.split_counts(10) == {"train": 8, "val": 1, "test": 1}
    assert generate.split_counts(3) == {"train": 1, "val": 1, "test": 1}
    assert generate.split_counts(4000) == {"train": 3200, "val": 400, "test": 400}
    with pytest.raises(ValueError):
        generate.split_counts(2)
    base = generate.Chunk("sphere", "train", 0, 5, 10)
    variants = [base, generate.Chunk("sphere", "val", 0, 5, 10),
                generate.Chunk("sphere", "test", 0, 5, 10),
                generate.Chunk("cylinder", "train", 0, 5, 10),
                generate.Chunk("sphere", "train", 1, 5, 10),
                generate.Chunk("sphere", "train", 0, 6, 10)]
    states = {tuple(c.seed_sequence().generate_state(4)) for c in variants}
    assert len(states) == len(variants)
    again = generate.Chunk("sphere", "train", 0, 5, 10).seed_sequence().generate_state(4)
    np.testing.assert_array_equal(again, base.seed_sequence().generate_state(4))


def test_tiny_generation_and_reading(tmp_path):
    out = _generate(tmp_path / "ds", per_model=10, workers=2)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["models"] == CHEAP
    assert manifest["split_counts"] == {"train": 8, "val": 1, "test": 1}
    assert manifest["sasmodels_version"] and manifest["generator_version"]
    report = json.loads((out / "generation_report.json").read_text())
    assert set(report["rejections"]) == set(CHEAP)
    for split, expected in manifest["split_counts"].items():
        data = load_split(out, split)
        assert len(data) == expected * len(CHEAP)
        assert data.q.shape == data.I.shape == data.dI.shape == (len(data), generate.WIDTH)
        assert data.q.dtype == np.float64
        assert list(data.models) == sorted(data.models.tolist())
        assert Counter(data.models.tolist()) == {m: expected for m in CHEAP}
        assert len(data.params) == len(data)
        np.testing.assert_array_equal(data.labels(), [CHEAP.index(m) for m in data.models])
        for row, (q, I, dI) in enumerate(iter_curves(data)):
            n = data.n_points[row]
            assert q.size == I.size == dI.size == n
            assert np.all(np.isfinite(I)) and np.all(I > 0) and np.all(dI > 0)
            assert np.all(np.isnan(data.I[row, n:]))
    # all curves are distinct
    train = load_split(out, "train")
    assert len({row.tobytes() for row in train.I}) == len(train)
    # a second run finds everything done
    assert _generate(tmp_path / "ds", per_model=10) == out


def test_determinism_and_split_streams(tmp_path):
    a = _all_arrays(_generate(tmp_path / "a", workers=1))
    b = _all_arrays(_generate(tmp_path / "b", workers=2))
    _assert_same(a, b)
    c = _all_arrays(_generate(tmp_path / "c", seed=8))
    assert not np.array_equal(a["train"][1], c["train"][1])
    # train / val / test curves come from different streams
    firsts = {split: a[split][1][0] for split in generate.SPLITS}
    assert not np.array_equal(firsts["train"], firsts["val"])
    assert not np.array_equal(firsts["val"], firsts["test"])


def test_restart_with_other_settings_is_refused(tmp_path):
    _generate(tmp_path / "ds", per_model=10)
    with pytest.raises(ValueError, match="per_model"):
        _generate(tmp_path / "ds", per_model=12)
    with pytest.raises(ValueError, match="models"):
        _generate(tmp_path / "ds", models=["sphere"], per_model=10)
    assert generate.main(["--models", "sphere", "--per-model", "10", "--out",
                          str(tmp_path / "ds"), "--no-progress"]) == 2


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        generate.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--models", "--per-model", "--seed", "--workers", "--chunk-size", "--out",
                   "--serial-sample", "--no-progress", "--log-level"):
        assert option in text
    import argparse

    parser = generate.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--models", "sphere", "--per-model", "5"])
    assert args.models == "sphere" and args.per_model == 5 and args.chunk_size > 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_resume_after_sigkill(tmp_path):
    models = "sphere,lamellar,core_shell_cylinder"
    per_model, chunk = 150, 6
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "training.generate", "--models", models,
               "--per-model", str(per_model), "--chunk-size", str(chunk), "--seed", "3",
               "--workers", "2", "--out", str(out), "--no-progress", "--serial-sample", "0"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n_chunks = len(generate.plan_chunks(models.split(","), per_model, 3, chunk))
    deadline = time.monotonic() + 120
    workers = []
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(out.glob("chunks/*/*/*.h5"))) >= 4:
                break
            time.sleep(0.05)
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # kill -9 the generator
        proc.wait()
        # its pool workers notice the dead parent and leave
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "orphaned pool workers"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    done = len(list(out.glob("chunks/*/*/*.h5")))
    assert 0 < done < n_chunks, f"kill did not land mid-run ({done}/{n_chunks} chunks)"
    # restart to completion (as a subprocess again, same settings)
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert not list(out.glob("chunks/*/*/.*tmp*"))
    resumed = _all_arrays(out)
    for split, expected in generate.split_counts(per_model).items():
        assert Counter(resumed[split][4].tolist()) == {m: expected for m in models.split(",")}
        rows = resumed[split][1]
        assert len({row.tobytes() for row in rows}) == len(rows)  # no duplicates
    reference = generate.generate_dataset(tmp_path / "straight", models, per_model, seed=3,
                                          workers=2, chunk_size=chunk, progress=False,
                                          serial_sample=0)
    _assert_same(resumed, _all_arrays(reference))
