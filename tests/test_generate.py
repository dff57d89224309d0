"""Simulated-data generator: classes, priors, instruments, simulation against sasmodels,
chunks on Dask, resume, reader."""
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

from sasnets_plugin.cleaning import MIN_POINTS
from training import classes, generate, instrument, priors, simulate
from training.dataset import iter_curves, load_split

ROOT = Path(__file__).resolve().parent.parent
CHEAP = ["sphere", "lamellar", "guinier"]


def _generate(out, models=CHEAP, per_model=10, workers=1, chunk_size=4, seed=7, shifted=2):
    return generate.generate_dataset(out, models, per_model, seed=seed, workers=workers,
                                     chunk_size=chunk_size, progress=False, serial_sample=0,
                                     shifted_per_model=shifted)


def _all_arrays(dataset):
    out = {}
    for split in generate.SPLITS:
        data = load_split(dataset, split)
        out[split] = (data.offsets, data.q, data.I, data.dI, data.dQ, data.slit_length,
                      data.label, data.models,
                      [json.dumps(p, sort_keys=True) for p in data.params])
    return out


def _descendants(pid):
    """PIDs of every process below *pid* (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [c for c, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


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
                np.testing.assert_array_equal(x, y)  # NaN == NaN here: bit for bit
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

def _pinhole(q, dq, weight=None):
    return instrument.Instrument("test", q, dq, 0.0, np.ones_like(q) if weight is None else weight)


def test_pinhole_smear_with_per_point_resolution_matches_sasmodels():
    from sasmodels.resolution import Pinhole1D

    q = np.geomspace(2e-3, 0.3, 57)
    dq = q * np.linspace(0.15, 0.02, q.size)  # dQ/Q falling with q, as measured
    inst = _pinhole(q, dq)
    q_calc = simulate.calc_grid(inst)
    theory = 1.0 / (1.0 + (q_calc * 80.0) ** 4) + 0.3 * np.sin(q_calc * 200.0) ** 2
    ours = simulate.smear(inst, q_calc, theory)
    ref = Pinhole1D(q, dq, q_calc=q_calc).apply(theory)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_slit_smearing_matches_sasmodels_slit1d():
    """USANS: a 1 um sphere behind a 0.117 1/A slit (as sasdata's 1umSlitSmearSphere.ABS).
    sasmodels' own Slit1D weights on a dense grid are the reference; our log grid is
    within 2 % of it (sasmodels' default grid for these points is 45 % off: the slit
    integral reaches q = 0.117, where the form factor oscillates every 6e-4 1/A)."""
    from sasmodels.resolution import Slit1D

    q = np.geomspace(1e-4, 1e-2, 60)
    inst = instrument.Instrument("usans", q, None, 0.117, np.ones_like(q))
    pars = {"radius": 5000.0, "sld": 4.0, "sld_solvent": 1.0, "scale": 1.0, "background": 0}
    q_calc = simulate.calc_grid(inst)
    ours = simulate.smear(inst, q_calc, simulate.evaluate("sphere", q_calc, pars))
    dense = np.linspace(0.5e-4, 0.12, 40000)
    ref = Slit1D(q, q_length=0.117, q_calc=dense).apply(simulate.evaluate("sphere", dense, pars))
    assert np.max(np.abs(ours / ref - 1)) < 0.02


def test_products_match_form_times_structure_factor():
    """sphere@hardsphere, radius_effective from the form: P(q) S(q; R_eff = radius)."""
    q = np.geomspace(1e-3, 0.4, 200)
    pars = {"radius": 60.0, "sld": 4.0, "sld_solvent": 1.0, "volfraction": 0.3,
            "radius_effective_mode": 1, "structure_factor_mode": 0,
            "scale": 1.0, "background": 0.0}
    product = simulate.evaluate("sphere@hardsphere", q, pars)
    form = simulate.evaluate("sphere", q, {k: pars[k] for k in ("radius", "sld", "sld_solvent")})
    structure = simulate.evaluate("hardsphere", q, {"radius_effective": 60.0,
                                                    "volfraction": 0.3})
    expected = 0.3 * form * structure  # sasmodels scales P(q) by the volume fraction
    resolved = form > 1e-2 * form.max()  # away from the form factor's zeros
    np.testing.assert_allclose(product[resolved], expected[resolved], rtol=1e-4)
    assert np.max(np.abs(product - expected)) < 1e-4 * product.max()
    # the generator labels such curves by form and structure factor
    rng = np.random.default_rng(0)
    curves = simulate.simulate_curves("sphere", rng, 60)
    labels = Counter(c.label for c in curves)
    assert labels["sphere"] > 30 and sum(v for k, v in labels.items() if "@" in k) >= 8
    for c in curves:
        if "@" in c.label:
            assert c.params["drawn_as"] == c.label and "volfraction" in c.params["model"]


def test_instruments_cover_the_stated_windows_resolutions_and_sizes():
    rng = np.random.default_rng(1)
    insts = [instrument.draw_instrument(rng) for _ in range(4000)]
    q_min = min(i.q[0] for i in insts)
    q_max = max(i.q[-1] for i in insts)
    assert q_min < 2e-5 and q_max >= 2.5  # USANS to WAXS
    sizes = [i.q.size for i in insts]
    assert min(sizes) <= 12 and max(sizes) >= 1800
    slit = [i for i in insts if i.kind == "slit"]
    assert 0.15 < len(slit) / len(insts) < 0.25
    assert min(i.slit_length for i in slit) < 0.006 and max(i.slit_length for i in slit) > 0.15
    ratios = np.concatenate([i.dq / i.q for i in insts if i.kind == "pinhole"])
    assert ratios.min() == pytest.approx(0.005) and ratios.max() == pytest.approx(0.2)
    varying = [i for i in insts if i.kind == "pinhole" and np.ptp(i.dq / i.q) > 0.01]
    assert len(varying) > 0.3 * len(insts)
    # count profiles rise (solid angle) and fall (detector edge) within one curve
    turning = [i for i in insts if np.argmax(i.weight) not in (0, i.q.size - 1)]
    assert len(turning) > 0.2 * len(insts)
    # the same shape at any size: sphere radii from a few A to tens of um
    info, _ = simulate.load_model("sphere")
    radii = [priors.draw_parameters(info, rng, q_range=(i.q[0], i.q[-1]))["radius"]
             for i in insts]
    assert min(radii) < 10 and max(radii) > 1e5


def test_shifted_split_uses_the_held_out_instrument_and_prior_family():
    rng = np.random.default_rng(2)
    curves = simulate.simulate_curves("sphere", rng, 40, shifted=True)
    assert {c.params["instrument"]["archetype"] for c in curves} == {"sans_merged", "saxs_slit"}
    assert all(c.slit_length > 0 for c in curves
               if c.params["instrument"]["archetype"] == "saxs_slit")
    pd_types = {v for c in curves for k, v in c.params["model"].items()
                if k.endswith("_pd_type")}
    assert pd_types == {"schulz"}
    train = simulate.simulate_curves("sphere", np.random.default_rng(2), 200)
    assert not {"sans_merged", "saxs_slit"} & {c.params["instrument"]["archetype"] for c in train}
    assert {v for c in train for k, v in c.params["model"].items()
            if k.endswith("_pd_type")} == {"gaussian"}


def test_curves_at_a_nested_limit_carry_the_simpler_label():
    rng = np.random.default_rng(4)
    curves = simulate.simulate_curves("multilayer_vesicle", rng, 300)
    at_limit = [c for c in curves if c.params.get("nested_limit")]
    assert at_limit and all(c.label == "vesicle" for c in at_limit)
    assert all(c.params["model"]["n_shells"] == 1 and c.params["broad"] for c in at_limit)
    others = [c for c in curves if not c.params.get("nested_limit")]
    assert all(c.params["model"]["n_shells"] >= 2 for c in others)
    assert all(c.label.startswith("multilayer_vesicle") for c in others)


def test_noise_matches_reported_uncertainty():
    rng = np.random.default_rng(3)
    q = np.geomspace(1e-3, 0.3, 200)
    inst = _pinhole(q, 0.03 * q, weight=(q / q[-1]) ** 1.5 / (1 + (q / 0.25) ** 4))
    model = 1.0 / (1.0 + (q * 50) ** 2)
    pulls = []
    for _ in range(200):
        I, dI, info = simulate.measure(rng, inst, model)  # noqa: E741
        expected = info["scale"] * (model / model.max())
        if not info["subtracted"]:
            expected = expected + info["background"]
        assert np.all(dI > 0) and np.count_nonzero(I > 0) >= MIN_POINTS
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
        assert 10 <= n <= 2000 and curve.I.size == n and curve.dI.size == n
        assert np.all(np.isfinite(curve.I)) and np.count_nonzero(curve.I > 0) >= MIN_POINTS
        assert np.all(np.isfinite(curve.dI)) and np.all(curve.dI > 0)
        assert (curve.dq is None) == (curve.slit_length > 0)
        assert curve.label.partition("@")[0] in (name, *(n.simpler for n in
                                                         simulate.models.get(name).nested))
        assert np.all(np.diff(curve.q) > 0)
        assert curve.params["model"]
        json.dumps(curve.params)


# --- generation --------------------------------------------------------------

def test_split_counts_and_seeds():
    assert generate.split_counts(10) == {"train": 8, "val": 1, "test": 1}
    assert generate.split_counts(10, 3) == {"train": 8, "val": 1, "test": 1, "shifted": 3}
    assert sum(generate.split_counts(generate.DEFAULT_PER_MODEL).values()) * 71 >= 1_000_000
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
    assert manifest["split_counts"] == {"train": 8, "val": 1, "test": 1, "shifted": 2}
    assert manifest["sasmodels_version"] and manifest["generator_version"]
    report = json.loads((out / "generation_report.json").read_text())
    assert set(report["rejections"]) == set(CHEAP)
    run = report["runs"][-1]
    assert run["curves"] == sum(manifest["split_counts"].values()) * len(CHEAP)
    assert set(run["fractions"]) == {"slit", "products", "nested_limits", "broad", "subtracted"}
    assert sum(run["archetypes"].values()) == pytest.approx(1.0)
    assert report["settings"]["models"] == CHEAP and report["total_wall_s"] > 0
    for split, expected in manifest["split_counts"].items():
        data = load_split(out, split)
        assert len(data) == expected * len(CHEAP)
        assert data.q.shape == data.I.shape == data.dI.shape == data.dQ.shape
        assert data.q.dtype == np.float32 and data.offsets[-1] == data.q.size
        assert list(data.models) == sorted(data.models.tolist())
        assert Counter(data.models.tolist()) == {m: expected for m in CHEAP}
        assert len(data.params) == len(data) == len(data.label)
        np.testing.assert_array_equal(data.labels(), [CHEAP.index(m) for m in data.forms()])
        for row, (q, I, dI) in enumerate(iter_curves(data)):  # noqa: E741
            assert q.size == I.size == dI.size == data.n_points[row]
            assert np.count_nonzero(I > 0) >= MIN_POINTS and np.all(dI > 0)
            _, _, _, dq, slit = data.curve(row)
            assert (dq is None) == (slit > 0)
    # all curves are distinct
    train = load_split(out, "train")
    assert len({train.curve(i)[1].tobytes() for i in range(len(train))}) == len(train)
    # a second run finds everything done
    assert _generate(tmp_path / "ds", per_model=10) == out


def test_determinism_and_split_streams(tmp_path):
    a = _all_arrays(_generate(tmp_path / "a", workers=1))
    b = _all_arrays(_generate(tmp_path / "b", workers=2))
    _assert_same(a, b)
    c = _all_arrays(_generate(tmp_path / "c", seed=8))
    assert not np.array_equal(a["train"][2], c["train"][2])
    # train / val / test curves come from different streams
    firsts = {split: a[split][2][:a[split][0][1]] for split in generate.SPLITS}
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
    for option in ("--models", "--per-model", "--shifted-per-model", "--seed", "--workers",
                   "--scheduler", "--chunk-size", "--out", "--serial-sample", "--no-progress",
                   "--log-level"):
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
               "--per-model", str(per_model), "--shifted-per-model", "6", "--chunk-size",
               str(chunk), "--seed", "3", "--workers", "2", "--out", str(out), "--no-progress",
               "--serial-sample", "0"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n_chunks = len(generate.plan_chunks(models.split(","), per_model, 3, chunk, 6))
    deadline = time.monotonic() + 120
    workers = []
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(out.glob("chunks/*/*/*.h5"))) >= 4:
                break
            time.sleep(0.05)
        workers = _descendants(proc.pid)
        assert workers, "no Dask worker processes seen"
        os.kill(proc.pid, signal.SIGKILL)  # kill -9 the generator
        proc.wait()
        # its Dask workers notice the dead scheduler and leave
        deadline = time.monotonic() + 30
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
    # the report counts the killed run too (its record is rewritten after every chunk)
    report = json.loads((out / "generation_report.json").read_text())
    killed, finished = report["runs"]
    assert not killed["finished"] and done - 1 <= killed["chunks"] <= done
    assert finished["finished"] and killed["chunks"] + finished["chunks"] >= n_chunks - 1
    assert report["total_wall_s"] == pytest.approx(killed["wall_s"] + finished["wall_s"])
    assert report["worker_cpu_s_all_chunks"] > 0
    resumed = _all_arrays(out)
    for split, expected in generate.split_counts(per_model, 6).items():
        assert Counter(resumed[split][7].tolist()) == {m: expected for m in models.split(",")}
        offsets, intensity = resumed[split][0], resumed[split][2]
        rows = [intensity[a:b].tobytes() for a, b in zip(offsets[:-1], offsets[1:])]
        assert len(set(rows)) == len(rows)  # no duplicates
    reference = generate.generate_dataset(tmp_path / "straight", models, per_model, seed=3,
                                          workers=1, chunk_size=chunk, progress=False,
                                          serial_sample=0, shifted_per_model=6)
    _assert_same(resumed, _all_arrays(reference))
