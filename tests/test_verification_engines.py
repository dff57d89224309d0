"""Where fits run: pool, this process, Dask; cancellation, safety cap, determinism."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from sasnets_plugin.kernels import LOCK_FILE
from sasnets_plugin.loading import RawCurve, load_1d
from sasnets_plugin.verification import (
    Request,
    VerificationCancelled,
    shutdown_pool,
    verify_candidates,
    verify_many,
)
from verification_cases import (  # noqa: F401 - fixtures
    busy_cpu,
    data_of,
    fits_signature,
    network_top,
    noise_curve,
    sphere_curve,
    sphere_raw,
)


@pytest.fixture(scope="module", autouse=True)
def _stop_pool():
    yield
    shutdown_pool()


def test_cancellation_returns_promptly(sphere_raw):
    cancel = threading.Event()
    outcome = {}

    def run():
        try:
            verify_candidates(data_of(sphere_raw), ["ellipsoid", "core_shell_cylinder", "cylinder",
                                           "sphere"], None, workers=1, cancel=cancel,
                              max_seconds=60)
            outcome["result"] = "finished"
        except VerificationCancelled as exc:
            outcome["result"] = exc
        outcome["t"] = time.perf_counter()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    t_cancel = time.perf_counter()
    cancel.set()
    thread.join(10)
    assert isinstance(outcome["result"], VerificationCancelled)
    assert outcome["t"] - t_cancel < 1.0
    assert all(f.ok for f in outcome["result"].partial)


def test_parallel_timing_and_cancellation(example_1d, capsys):
    raw = load_1d(example_1d / "sphere_80.txt")[0]
    models = ["sphere", "core_shell_sphere", "fuzzy_sphere", "ellipsoid", "vesicle"]
    probs = [0.4, 0.25, 0.15, 0.1, 0.1]
    t = time.perf_counter()
    v = verify_candidates(data_of(raw), models, probs, workers=2)  # cold pool: includes process start
    cold = time.perf_counter() - t
    t = time.perf_counter()
    v = verify_candidates(data_of(raw), models, probs, workers=2)  # warm pool
    warm = time.perf_counter() - t
    with capsys.disabled():
        print(f"\n[verification timing] 5 candidates, {raw.q.size} points, 2 workers: "
              f"cold {cold:.2f} s, warm {warm:.2f} s")
    assert v.workers == 2 and v.verified_order[0] == "sphere"
    assert all(c.ok for c in v.candidates)
    assert cold < 30 and warm < 30

    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    t = time.perf_counter()
    with pytest.raises(VerificationCancelled):
        verify_candidates(data_of(raw), ["ellipsoid", "core_shell_cylinder", "cylinder", "fcc_paracrystal"],
                          None, workers=2, cancel=cancel, max_seconds=60)
    assert time.perf_counter() - t < 0.3 + 2.5


def test_budget_is_a_hard_bound_even_for_slow_kernels():
    # pringle: one evaluation at a large radius takes several to tens of seconds and
    # cannot be interrupted; the call must still end with its budget (generous margin)
    q = np.linspace(0.0006, 0.16, 237)
    I = 1 / (1 + (q * 300) ** 2) ** 1.5 + 0.01  # noqa: E741
    raw = RawCurve("slow", q, I, 0.02 * I, 0.02 * q)
    models = ["pringle", "core_shell_bicelle", "stacked_disks",
              "core_shell_bicelle_elliptical", "cylinder"]
    seen = []
    t = time.perf_counter()
    v = verify_candidates(data_of(raw), models, None, workers=2, max_seconds=4.0,
                          progress=lambda i, fit: seen.append((i, fit.model)))
    elapsed = time.perf_counter() - t
    assert elapsed < 4.0 + 1.5
    assert sorted(seen) == list(enumerate(models))  # one progress call per candidate
    assert len(v.candidates) == 5
    assert all(c.ok or c.cut == "safety cap" for c in v.candidates)  # nothing else failed
    # the pool still works afterwards (restarted if a worker had to be stopped)
    again = verify_candidates(data_of(sphere_curve()), ["sphere", "power_law"], None, workers=2)
    assert again.verified_order[0] == "sphere"


@pytest.mark.slow
def test_same_answer_on_a_busy_machine(example_1d):
    """apoferritin.txt gave different verified orders on an idle and a busy machine:
    the budget is work, so a busy machine gives the same answer, later."""
    raw = load_1d(example_1d / "apoferritin.txt")[0]
    models, probabilities, reserve = network_top(raw)
    idle = verify_candidates(data_of(raw), models, probabilities, reserve=reserve, workers=2)
    with busy_cpu():
        busy = verify_candidates(data_of(raw), models, probabilities, reserve=reserve, workers=2)
    assert fits_signature(busy) == fits_signature(idle)
    assert not any(c.cut == "safety cap" for c in busy.candidates)


@pytest.mark.slow
def test_same_answer_alone_or_with_other_files_anywhere(example_1d):
    """A curve alone vs together with another file gave sphere chi2r 0.0 vs 3.11: now
    the same fits whether a file is verified alone or with others, in this process, in
    worker processes or on a Dask cluster (the noise curve goes through the rescue)."""
    from sasnets_plugin.cluster import connect

    raw = load_1d(example_1d / "sphere_80.txt")[0]
    models, probabilities, reserve = network_top(raw)
    sphere = Request(data_of(raw), tuple(models), tuple(probabilities), tuple(reserve))
    noise = Request(data_of(noise_curve()), ("sphere", "power_law"))
    alone = verify_many([sphere], workers=2)[0]
    together = verify_many([noise, sphere, noise], workers=2)
    assert together[0].rescued and fits_signature(together[0]) == fits_signature(together[2])
    assert fits_signature(together[1]) == fits_signature(alone)
    here = verify_many([sphere, noise], workers=1)
    assert fits_signature(here[0]) == fits_signature(alone)
    assert fits_signature(here[1]) == fits_signature(together[0])
    with connect(None, workers=2) as client:
        on_dask = verify_many([noise, sphere], client=client)
    assert fits_signature(on_dask[1]) == fits_signature(alone)
    assert fits_signature(on_dask[0]) == fits_signature(together[0])


@pytest.mark.slow
def test_concurrent_runs_with_a_cold_kernel_cache_compile_safely(example_1d, tmp_path):
    """Two `sasnets-suggest --verify` runs meeting an empty kernel cache: every fit
    failed and 3 of 4 processes printed a traceback at exit. Now the compile lock
    serialises the builds: every fit works and nothing is printed at exit."""
    cache = tmp_path / "compiled_models"
    env = {**os.environ, "SAS_DLL_PATH": str(cache)}
    command = [sys.executable, "-m", "sasnets_plugin.cli", "--json", "--verify", "--top", "3",
               str(example_1d / "sphere_80.txt"), str(example_1d / "cyl_400_20.txt")]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err and "RuntimeError" not in err, err[-3000:]
        for result in json.loads(out):
            assert all(isinstance(s["fit"], dict) for s in result["suggestions"]), result
            assert not result["no_fit"]
    assert (cache / LOCK_FILE).exists()
    first, second = (json.loads(out) for out, _ in outputs)
    for a, b in zip(first, second):  # same answer from both runs (seconds aside)
        assert [v["model"] for v in a["verified"]] == [v["model"] for v in b["verified"]]
        assert [v["chi2r"] for v in a["verified"]] == [v["chi2r"] for v in b["verified"]]


@pytest.mark.slow
def test_cli_batch_on_a_dask_cluster_matches_the_local_pool(example_1d):
    """`sasnets-suggest --verify FILES... --scheduler ADDRESS` fits on the cluster and
    gives the same answer as the local worker processes."""
    from sasnets_plugin.cluster import connect

    files = [str(example_1d / "sphere_80.txt"), str(example_1d / "cyl_400_20.txt")]
    command = [sys.executable, "-m", "sasnets_plugin.cli", "--json", "--verify", "--top", "3"]
    local = subprocess.run(command + files, capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    with connect(None, workers=2) as client:
        address = client.scheduler.address
        remote = subprocess.run(command + ["--scheduler", address] + files,
                                capture_output=True, text=True, timeout=600)
    assert remote.returncode == 0, remote.stderr[-3000:]
    for a, b in zip(json.loads(local.stdout), json.loads(remote.stdout)):
        assert [(v["model"], v["chi2r"]) for v in a["verified"]] == \
            [(v["model"], v["chi2r"]) for v in b["verified"]]


def test_scheduler_without_verify_is_refused(example_1d, capsys):
    from sasnets_plugin.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--scheduler", "tcp://127.0.0.1:9", str(example_1d / "sphere_80.txt")])
    assert stop.value.code == 2 and "--scheduler needs --verify" in capsys.readouterr().err


def test_pool_workers_run_one_blas_thread_each():
    """The pool runs one fit per core; BLAS threads on top would oversubscribe them."""
    from threadpoolctl import threadpool_info

    from sasnets_plugin.verification.engines import _get_pool

    info = _get_pool(1).executor.submit(threadpool_info).result(timeout=120)
    blas = [lib for lib in info if lib["user_api"] == "blas"]
    assert len(blas) >= 2 and all(lib["num_threads"] == 1 for lib in blas)  # numpy's, scipy's

