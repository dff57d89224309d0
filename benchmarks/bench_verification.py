"""Fit-verification benchmark: wall time of verifying 5 candidates, serial vs parallel
(a 10^6-point file included), the per-process cost of sasmodels kernels, and how often a
model's own fit finds the truth (self-recovery over the 71 network classes).

    .venv/bin/python benchmarks/bench_verification.py               # timing + kernel cost
    .venv/bin/python benchmarks/bench_verification.py --recovery    # + self-recovery (~2 min)
    .venv/bin/python benchmarks/bench_verification.py --costs       # rewrite verification/costs.py

Writes ``benchmarks/results/verification.json``. This machine is shared and noisy: every
timing is reported with the 1-minute load average measured just before it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "verification.json"
REAL_D22 = Path("/work/shared/real_data/093191_201.dat")

#: (file, five plausible candidates in network order). The bundled network is not needed:
#: the candidates are fixed so that runs are comparable.
SPHERES = ["sphere", "core_shell_sphere", "fuzzy_sphere", "ellipsoid", "vesicle"]
CASES = [
    ("cyl_400_20.txt",
     ["cylinder", "sphere", "ellipsoid", "core_shell_cylinder", "flexible_cylinder"]),
    ("sphere_80.txt", SPHERES),
    ("100nmPinholeSphere.txt", SPHERES),
    (str(REAL_D22), ["ellipsoid", "core_shell_sphere", "hayter_msa", "broad_peak", "sphere"]),
    ("1umSlitSmearSphere.ABS", SPHERES),
    ("million", SPHERES),  # a 10^6-point sphere curve written by big_file()
]
#: Points of the long file (binned to 500 for the fits).
BIG_POINTS = 1_000_000
PRIORS = [0.4, 0.25, 0.15, 0.1, 0.1]


def _example(name: str) -> Path:
    import sasdata

    path = Path(name)
    examples = Path(sasdata.__file__).parent / "example_data" / "1d_data"
    return path if path.is_absolute() else examples / name


def big_file(folder: Path) -> Path:
    """A sphere curve (R 60 Å, 5 % noise) of :data:`BIG_POINTS` points, as a text file."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    q = np.linspace(0.002, 0.5, BIG_POINTS)
    clean = call_kernel(load_model("sphere").make_kernel([q]),
                        {"radius": 60.0, "scale": 0.01, "background": 0.01})
    dI = 0.05 * clean
    I = clean + dI * np.random.default_rng(0).standard_normal(q.size)  # noqa: E741
    path = folder / "sphere_million.txt"
    np.savetxt(path, np.column_stack([q, I, dI]), fmt="%.8g")
    return path


def _load(name: str, folder: Path):
    """The first 1D data set of an example file (with its pinhole or slit resolution)."""
    from sasnets_plugin.loading import load_1d

    return load_1d(big_file(folder) if name == "million" else _example(name))[0]


def _verify(raw, models, workers):
    from sasnets_plugin.verification import prepare_data, verify_candidates

    load = os.getloadavg()[0]
    t = time.perf_counter()
    v = verify_candidates(prepare_data(raw)[0], models, PRIORS, workers=workers)
    return time.perf_counter() - t, load, v


def timing() -> list[dict]:
    from sasnets_plugin.verification import shutdown_pool

    rows = []
    with tempfile.TemporaryDirectory(prefix="sasnets-bench-") as folder:
        raws = {name: _load(name, Path(folder)) for name, _ in CASES}
    for name, models in CASES:
        raw = raws[name]
        row = {"file": Path(name).name, "points": int(np.size(raw.q)), "candidates": models}
        row["serial_s"], row["serial_load"], v = _verify(raw, models, 1)
        shutdown_pool()
        row["parallel_cold_s"], row["parallel_cold_load"], _ = _verify(raw, models, 2)
        row["parallel_warm_s"], row["parallel_warm_load"], v2 = _verify(raw, models, 2)
        row["resolution"] = v.resolution
        row["weighting"] = v.weighting
        row["verified_order"] = list(v.verified_order)
        row["verified_order_parallel"] = list(v2.verified_order)
        row["same_answer_serial_parallel"] = [
            (c.model, c.chi2) for c in v.ranked] == [(c.model, c.chi2) for c in v2.ranked]
        row["rescued"], row["no_fit"] = v.rescued, v.no_fit
        row["fits"] = {c.model: {"status": c.status, "chi2r": c.chi2r,
                                 "seconds": round(c.seconds, 3), "converged": c.converged,
                                 "cut": c.cut, "rescue": c.rescue, "parameters": c.parameters}
                       for c in v.candidates}
        rows.append(row)
        print(f"{row['file']:28s} n={row['points']:4d}  serial {row['serial_s']:5.2f} s   "
              f"parallel cold {row['parallel_cold_s']:5.2f} s   "
              f"warm {row['parallel_warm_s']:5.2f} s   (load {row['serial_load']:.1f}/"
              f"{row['parallel_warm_load']:.1f})  -> {row['verified_order'][0]}")
    shutdown_pool()
    return rows


_KERNEL_PROBE = """
import time, sys
t0 = time.perf_counter()
import sasmodels.core, sasmodels.direct_model, bumps.fitters
t1 = time.perf_counter()
from sasnets_plugin.kernels import kernel_model
for m in sys.argv[1:]:
    kernel_model(m)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def kernel_cost(models=("sphere", "cylinder", "ellipsoid", "core_shell_sphere", "vesicle")) -> dict:
    """Per-process cost: imports, and loading 5 kernels from sasmodels' compile cache vs
    compiling them into an empty cache."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="sasdll-") as empty:
        for label, env_extra in (("cached", {}), ("compile", {"SAS_DLL_PATH": empty})):
            env = {**os.environ, **env_extra}
            res = subprocess.run([sys.executable, "-c", _KERNEL_PROBE, *models],
                                 capture_output=True, text=True, env=env, cwd=ROOT, check=True)
            imports, kernels = map(float, res.stdout.split())
            out[f"{label}_imports_s"] = imports
            out[f"{label}_5_kernels_s"] = kernels
    print(f"worker start: imports {out['cached_imports_s']:.2f} s; 5 kernels "
          f"{out['cached_5_kernels_s']:.3f} s from the cache, "
          f"{out['compile_5_kernels_s']:.2f} s compiled")
    return out


def recovery(seed: int = 0) -> dict:
    """Simulate each class with 2 % noise (sizes = defaults x 0.6..1.6), fit the same model
    (default work budget); a fit 'recovers' when chi2r < 1.5, i.e. it found the global
    minimum's basin."""
    sys.path.insert(0, str(ROOT))
    from sasmodels.direct_model import call_kernel

    from sasnets_plugin.verification import fit_model, make_fit_data
    from sasnets_plugin.kernels import kernel_model
    from sasnets_plugin.verification.parameters import setup_for
    from training.classes import DEFAULT_MODELS

    q = np.geomspace(0.003, 0.5, 120)
    rng = np.random.default_rng(seed)
    results = {}
    for model in DEFAULT_MODELS:
        setup = setup_for(model, q[0], q[-1])
        pars = dict(setup.fixed)
        for name in setup.shape:
            default = setup.defaults[name]
            role = setup.spec.free[name].role
            factor = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
            scalable = role in ("size", "long", "area", "ratio") and default > 0
            pars[name] = default * factor if scalable else default
        clean = call_kernel(kernel_model(model).make_kernel([q]), {**pars, "background": 0.0})
        if not (np.all(np.isfinite(clean)) and np.all(clean > 0)):
            results[model] = {"skipped": "non-positive intensities"}
            continue
        clean = clean / clean[0] * 100 + 1e-3
        dI = 0.02 * clean
        data = make_fit_data(q, clean + dI * rng.standard_normal(q.size), dI)
        fit = fit_model(model, data)
        results[model] = {"recovered": bool(fit.ok and fit.chi2r < 1.5), "chi2r": fit.chi2r,
                          "seconds": round(fit.seconds, 3), "converged": fit.converged}
    fitted = [r for r in results.values() if "recovered" in r]
    n_ok = sum(r["recovered"] for r in fitted)
    failed = sorted(m for m, r in results.items() if r.get("recovered") is False)
    print(f"self-recovery: {n_ok}/{len(fitted)} (default work budget); "
          f"not recovered: {failed}")
    return {"recovered": n_ok, "fitted": len(fitted), "not_recovered": failed,
            "models": results}


COSTS_MODULE = ROOT / "sasnets_plugin" / "verification" / "costs.py"
_COSTS_HEADER = '''"""Kernel time of every network class per theory point, as the fits evaluate it.

The work budget of a fit (:mod:`.evaluation`) counts each model evaluation at a fixed
estimate built on these numbers, so they must not be measured at run time (the answer
would depend on the machine's load). Written by ``python benchmarks/bench_verification.py
--costs``: CPU time per evaluation at the model's default parameters on {points} log-spaced q
points (1e-3..0.5 1/Å, pinhole dQ/q 5 %: {n_calc} theory points), least of three runs, less
:data:`.evaluation.EVAL_OVERHEAD_US`, per theory point, divided by the adaptive-quadrature
factor at those parameters. Relative values matter (which model may take how many
evaluations); the absolute scale of this machine is absorbed by ``DEFAULT_WORK``.
"""

#: Microseconds per theory point (reference quadrature), by model.
KERNEL_US = {{
{rows}}}
'''


def measure_costs(points: int = 200) -> dict[str, float]:
    """Rewrite :data:`COSTS_MODULE` with each network class's measured kernel time."""
    from sasnets_plugin.models import DEFAULT_MODELS
    from sasnets_plugin.kernels import kernel_model
    from sasnets_plugin.verification import evaluation as E
    from sasnets_plugin.verification import make_fit_data, setup_for

    q = np.geomspace(1e-3, 0.5, points)
    data = make_fit_data(q, np.ones_like(q), 0.01 * np.ones_like(q), dQ=0.05 * q)
    costs, n_calc = {}, 0
    for model in DEFAULT_MODELS:
        setup = setup_for(model, q[0], q[-1])
        values = {**setup.defaults, **setup.fixed}
        cost = dataclasses.replace(E.EvalCost.of(model, setup), per_point_us=1.0)
        evaluate = E.Evaluator(kernel_model(model), data, None, cost)
        evaluate(values)
        best = math.inf
        for _ in range(3):
            n, t = 0, time.process_time()
            while n < 200 and time.process_time() - t < 0.15:
                evaluate(values)
                n += 1
            best = min(best, (time.process_time() - t) / n)
        # cost(values) = overhead + 1 us x points x factor: recover points x factor
        scale = cost(values, evaluate.q_calc) - E.EVAL_OVERHEAD_US
        n_calc = evaluate.q_calc.size
        costs[model] = max(0.01, (best * 1e6 - E.EVAL_OVERHEAD_US) / scale)
        print(f"{model:36s} {best * 1e3:9.3f} ms per evaluation -> {costs[model]:9.3g} us/point")
    rows = "".join(f"    {m!r}: {float(f'{c:.2g}')},\n" for m, c in costs.items())
    COSTS_MODULE.write_text(_COSTS_HEADER.format(points=points, n_calc=n_calc, rows=rows))
    print(f"wrote {COSTS_MODULE}")
    return costs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recovery", action="store_true", help="also run the self-recovery sweep")
    parser.add_argument("--costs", action="store_true",
                        help="only measure the kernel costs and rewrite verification/costs.py")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.costs:
        measure_costs()
        return 0
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "kernel_cost": kernel_cost(),
        "timing": timing(),
    }
    if args.recovery:
        report["recovery"] = recovery()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=float))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
