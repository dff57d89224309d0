"""Resumable generation of the simulated SASNets dataset, on a Dask cluster.

    python -m training.generate --models sphere,cylinder --per-model 40 --out DIR
    python -m training.generate                # the default dataset, in the data directory
    python -m training.generate --scheduler tcp://host:8786 ...  # on a running cluster

Layout of ``DIR``::

    manifest.json                     settings; a restart with others is refused
    generation_report.json            settings, fractions, rejections, throughput
    chunks/{split}/{model}/{index:05d}.h5

Splits: ``train``/``val``/``test`` (80/10/10 of ``--per-model``) and ``shifted``
(``--shifted-per-model`` curves from the held-out instrument archetype and prior family,
see :mod:`training.instrument` and :mod:`training.priors`). Each chunk file holds
``count`` curves of one class and split, ragged (each curve its own number of points):

* ``offsets``: int64 ``(count + 1,)``; curve ``i`` is rows ``offsets[i]:offsets[i+1]`` of
* ``q``, ``I``, ``dI``, ``dQ``: float32 (``dQ``, the pinhole sigma, is NaN for slit data);
* ``slit_length``: float32 ``(count,)`` (0 for pinhole data);
* ``label``: UTF-8 ``(count,)``, the class the curve teaches: the model, a product
  ``form@structure``, or the simpler model at an exact nested limit;
* ``params``: UTF-8 ``(count,)``, one JSON object per curve with the model parameters,
  what was drawn, the instrument and the measurement;
* attributes ``model, split, index, seed, count, generator_version, rejections`` (JSON
  reason -> count), ``rejected``, ``elapsed_s``, ``stats``, ``complete``.

A chunk is a pure function of :class:`Chunk` (its random stream is
``SeedSequence([seed, split id, crc32(model), index])``): the dataset is bit-identical
whether it is generated serially, on a LocalCluster or on a remote cluster. Workers only
compute; this process writes each chunk to a temporary name and moves it into place with
:func:`os.replace`, so a killed run never leaves a partial file and a restart (the same
command) skips finished chunks.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import platform
import sys
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sasnets_plugin import cluster, models

from . import atomic, simulate, storage
from .classes import MODELS_HELP, resolve_models

log = logging.getLogger("training.generate")

GENERATOR_VERSION = 4
FORMAT = "sasnets-simulated-curves"
SPLITS = ("train", "val", "test", "shifted")
SPLIT_IDS = {"train": 0, "val": 1, "test": 2, "shifted": 3}
#: 71 classes x 14,100 = 1,001,100 curves in train/val/test.
DEFAULT_PER_MODEL = 14100
#: Curves per class of the shifted split (held-out instrument and prior family).
DEFAULT_SHIFTED_PER_MODEL = 300
DEFAULT_SEED = 2017
DEFAULT_CHUNK_SIZE = 250
#: Curves per model simulated serially (in the parent) for the throughput report.
DEFAULT_SERIAL_SAMPLE = 16
#: Chunks in flight per worker (enough to keep workers busy, bounded memory).
IN_FLIGHT_PER_WORKER = 3


# ---------------------------------------------------------------------------
# Work units
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Chunk:
    """One unit of work: *count* curves of *model* in *split*.

    *seed* is the dataset's base seed; the chunk's own random stream is
    derived from (seed, split, model, index) so the result does not depend on
    which process runs it, or when.
    """
    model: str
    split: str
    index: int
    seed: int
    count: int

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            [int(self.seed), SPLIT_IDS[self.split],
             zlib.crc32(self.model.encode("utf-8")), int(self.index)])

    def relpath(self) -> Path:
        return Path("chunks") / self.split / self.model / f"{self.index:05d}.h5"

    def path(self, out_dir) -> Path:
        return Path(out_dir) / self.relpath()


def split_counts(per_model: int, shifted_per_model: int = 0) -> dict[str, int]:
    """80/10/10 split of *per_model* curves (each split at least one curve), plus
    *shifted_per_model* curves of the shifted split."""
    if per_model < 3:
        raise ValueError(f"per_model must be at least 3 (one curve per split), got {per_model}")
    if shifted_per_model < 0:
        raise ValueError(f"shifted_per_model must be >= 0, got {shifted_per_model}")
    small = max(1, int(round(0.1 * per_model)))
    counts = {"train": per_model - 2 * small, "val": small, "test": small}
    if shifted_per_model:
        counts["shifted"] = shifted_per_model
    return counts


def plan_chunks(models, per_model: int, seed: int, chunk_size: int,
                shifted_per_model: int = 0) -> list[Chunk]:
    """Every chunk of the dataset, in (model, split, index) order."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    chunks = []
    for model in models:
        for split, total in split_counts(per_model, shifted_per_model).items():
            for index in range(math.ceil(total / chunk_size)):
                count = min(chunk_size, total - index * chunk_size)
                chunks.append(Chunk(model, split, index, int(seed), count))
    return chunks


def estimated_cost(chunk: Chunk) -> float:
    """Rough relative cost of a chunk (for scheduling slow work first)."""
    family = models.get(chunk.model).simulation.family
    if family is not None:
        per_curve = family.budget_us / family.size * 1.5  # a family's budget is per shape
    else:
        per_curve = min(simulate.CURVE_BUDGET_US, simulate.kernel_cost(chunk.model) * 400)
    return chunk.count * (per_curve + 600.0)


def chunk_is_complete(chunk: Chunk, out_dir, generator_version: int = GENERATOR_VERSION) -> bool:
    """Whether *chunk*'s file is there, opens, is marked ``complete`` and holds its
    curves, written by *generator_version* (a damaged file, a truncated copy say, is not:
    it is regenerated)."""
    path = chunk.path(out_dir)
    if not path.is_file():
        return False
    try:
        import h5py

        with h5py.File(path, "r") as handle:
            return (bool(handle.attrs.get("complete", False)) and
                    int(handle.attrs["generator_version"]) == generator_version and
                    int(handle.attrs["count"]) == chunk.count and
                    int(handle.attrs["seed"]) == chunk.seed and
                    handle["offsets"].shape == (chunk.count + 1,))
    except Exception:  # unreadable: regenerate it
        return False


def simulate_chunk(chunk: Chunk) -> tuple[list, Counter, Counter]:
    """The curves of *chunk* (no I/O): ``(curves, rejections, stats)``."""
    rng = np.random.default_rng(chunk.seed_sequence())
    rejections: Counter = Counter()
    stats: Counter = Counter()
    curves = simulate.simulate_curves(chunk.model, rng, chunk.count, rejections, stats,
                                      shifted=chunk.split == "shifted")
    return curves, rejections, stats


def pack(curves) -> dict[str, np.ndarray]:
    """The chunk arrays of *curves* (see the module docstring)."""
    sizes = np.array([c.q.size for c in curves], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])

    def flat(values):
        return np.concatenate(values).astype(np.float32)

    return {
        "offsets": offsets,
        "q": flat([c.q for c in curves]),
        "I": flat([c.I for c in curves]),
        "dI": flat([c.dI for c in curves]),
        "dQ": flat([np.full(c.q.size, np.nan) if c.dq is None else c.dq for c in curves]),
        "slit_length": np.array([c.slit_length for c in curves], dtype=np.float32),
        "label": np.array([c.label for c in curves], dtype=object),
        "params": np.array([json.dumps(c.params, sort_keys=True) for c in curves],
                           dtype=object),
    }


def describe(curves) -> dict:
    """What the curves of a chunk cover (summed over chunks for the report)."""
    inst = [c.params["instrument"] for c in curves]
    return {
        "labels": Counter(c.label for c in curves),
        "archetypes": Counter(i["archetype"] for i in inst),
        "slit": sum(c.slit_length > 0 for c in curves),
        "products": sum("@" in c.label for c in curves),
        "nested_limits": sum("nested_limit" in c.params for c in curves),
        "broad": sum(bool(c.params["broad"]) for c in curves),
        "subtracted": sum(bool(c.params["measurement"]["subtracted"]) for c in curves),
        "q_min": min(i["q_min"] for i in inst), "q_max": max(i["q_max"] for i in inst),
        "n_points": [min(i["n_points"] for i in inst), max(i["n_points"] for i in inst)],
    }


def compute_chunk(chunk: Chunk) -> dict:
    """Simulate *chunk* and return its arrays and summary: a pure function of *chunk*
    (what runs on a worker, local or remote)."""
    start = time.perf_counter()
    curves, rejections, stats = simulate_chunk(chunk)
    elapsed = time.perf_counter() - start
    return {"chunk": chunk, "arrays": pack(curves), "rejections": dict(rejections),
            "stats": dict(stats), "coverage": describe(curves), "elapsed_s": elapsed}


def write_chunk(result: dict, out_dir) -> Path:
    """Write a :func:`compute_chunk` result atomically (temporary name, then rename).

    The HDF5 file is built in memory and written with plain file I/O: HDF5 writing to a
    full disk raised in its destructors and crashed the process (segmentation fault),
    where a plain write raises one ``OSError`` (ENOSPC) that the caller reports.
    """
    import h5py

    chunk: Chunk = result["chunk"]
    path = chunk.path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    text = h5py.string_dtype("utf-8")
    buffer = io.BytesIO()
    try:
        with h5py.File(buffer, "w") as handle:
            opts = dict(compression="gzip", compression_opts=4, shuffle=True)
            for key, values in result["arrays"].items():
                if values.dtype == object:
                    handle.create_dataset(key, data=values.tolist(), dtype=text, **opts)
                else:
                    handle.create_dataset(key, data=values,
                                          **(opts if values.size > 16 else {}))
            attrs = handle.attrs
            attrs["model"] = chunk.model
            attrs["split"] = chunk.split
            attrs["index"] = chunk.index
            attrs["seed"] = chunk.seed
            attrs["count"] = chunk.count
            attrs["generator_version"] = GENERATOR_VERSION
            attrs["rejections"] = json.dumps(dict(sorted(result["rejections"].items())))
            attrs["rejected"] = int(sum(result["rejections"].values()))
            attrs["elapsed_s"] = float(result["elapsed_s"])
            attrs["stats"] = json.dumps(result["stats"])
            attrs["complete"] = True
        with open(tmp, "wb") as handle:
            handle.write(buffer.getbuffer())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def _summary(result: dict) -> dict:
    return {"chunk": asdict(result["chunk"]), "elapsed_s": result["elapsed_s"],
            "rejections": result["rejections"], "stats": result["stats"],
            "coverage": result["coverage"]}


# ---------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------

def build_manifest(models, per_model: int, seed: int, chunk_size: int,
                   shifted_per_model: int = 0) -> dict:
    import sasmodels

    return {
        "format": FORMAT,
        "generator_version": GENERATOR_VERSION,
        "sasmodels_version": sasmodels.__version__,
        "models": list(models),
        "per_model": int(per_model),
        "shifted_per_model": int(shifted_per_model),
        "split_counts": split_counts(per_model, shifted_per_model),
        "chunk_size": int(chunk_size),
        "seed": int(seed),
        "settings": simulate.simulator_settings(),
    }


def _normalise(value):
    return json.loads(json.dumps(value))


def check_or_write_manifest(out_dir: Path, manifest: dict) -> None:
    path = out_dir / "manifest.json"
    if path.is_file():
        existing = json.loads(path.read_text())
        wanted = _normalise(manifest)
        diffs = sorted(key for key in set(existing) | set(wanted)
                       if key != "created" and existing.get(key) != wanted.get(key))
        if diffs:
            details = "; ".join(
                f"{key}: dataset has {_short(existing.get(key))}, "
                f"requested {_short(wanted.get(key))}" for key in diffs)
            raise ValueError(
                f"{out_dir} already holds a dataset generated with other settings "
                f"({details}). Refusing to mix them: use another --out folder, or "
                f"delete {out_dir} to start over.")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = dict(manifest, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    tmp = path.with_name(".manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _remove_stale_temporaries(out_dir: Path) -> int:
    removed = 0
    for tmp in (out_dir / "chunks").glob("*/*/.*.h5.tmp-*"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def _precompile(models) -> None:
    """Compile every class's kernel once here, before the workers start (products are
    compiled by the workers, under the compile lock, when they first meet them)."""
    for model in models:
        simulate.load_model(model)


def serial_throughput(models, sample: int, seed: int) -> dict[str, dict]:
    """Curves/s of a plain serial loop (no cluster, no I/O) over *sample*
    curves per model, measured in this process."""
    result = {}
    for model in models:
        chunk = Chunk(model, "train", 10 ** 6, seed, sample)  # index outside the dataset
        start = time.perf_counter()
        simulate_chunk(chunk)
        elapsed = time.perf_counter() - start
        result[model] = {"curves": sample, "seconds": elapsed,
                         "curves_per_s": sample / elapsed if elapsed > 0 else float("inf")}
    return result


#: Every run's progress (rewritten atomically after each chunk), so that the report
#: counts the time of runs that were stopped before the dataset was complete.
RUNS_FILE = "generation_runs.json"


class RunLog:
    """This run's record in :data:`RUNS_FILE`: wall time, chunks and curves so far."""

    def __init__(self, out_dir: Path, where: str):
        self.path = Path(out_dir) / RUNS_FILE
        self.runs = read_runs(out_dir)
        self.run = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "where": where,
                    "wall_s": 0.0, "chunks": 0, "curves": 0, "worker_cpu_s": 0.0,
                    "finished": False}
        self.runs.append(self.run)
        self._start = time.perf_counter()
        self.write()

    def chunk_done(self, result: dict) -> None:
        self.run["chunks"] += 1
        self.run["curves"] += result["chunk"].count
        self.run["worker_cpu_s"] += result["elapsed_s"]
        self.write()

    def write(self, finished: bool = False) -> None:
        self.run["wall_s"] = time.perf_counter() - self._start
        self.run["finished"] = finished
        atomic.write_json(self.path, self.runs)


def read_runs(out_dir: Path) -> list[dict]:
    """The runs recorded in *out_dir* (:data:`RUNS_FILE`), oldest first."""
    path = Path(out_dir) / RUNS_FILE
    try:
        runs = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return []
    return runs if isinstance(runs, list) else []


def _collect(out_dir: Path, chunks) -> dict:
    """Rejections per model and what the finished chunk files hold, from their files."""
    import h5py

    per_model: dict[str, Counter] = {}
    accepted: Counter = Counter()
    labels: Counter = Counter()
    seconds: Counter = Counter()
    for chunk in chunks:
        path = chunk.path(out_dir)
        if not path.is_file():
            continue
        with h5py.File(path, "r") as handle:
            reasons = json.loads(handle.attrs.get("rejections", "{}"))
            labels.update(handle["label"].asstr()[()].tolist())
            seconds[chunk.model] += float(handle.attrs.get("elapsed_s", 0.0))
        per_model.setdefault(chunk.model, Counter()).update(reasons)
        accepted[chunk.model] += chunk.count
    report = {}
    for model, count in accepted.items():
        reasons = per_model.get(model, Counter())
        rejected = sum(reasons.values())
        report[model] = {"accepted": count, "rejected": rejected,
                         "rejection_rate": rejected / (rejected + count),
                         "reasons": dict(sorted(reasons.items())),
                         "worker_s": round(seconds[model], 1),
                         "worker_s_per_curve": seconds[model] / count}
    return {"rejections": report, "labels": dict(sorted(labels.items())),
            "worker_cpu_s_all_chunks": round(sum(seconds.values()), 1)}


def generate_dataset(out_dir, models=None, per_model: int = DEFAULT_PER_MODEL,
                     seed: int = DEFAULT_SEED, workers: int | None = None,
                     chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = True,
                     serial_sample: int = DEFAULT_SERIAL_SAMPLE,
                     shifted_per_model: int = DEFAULT_SHIFTED_PER_MODEL,
                     scheduler: str | None = None) -> Path:
    """Generate (or complete) the dataset in *out_dir* and return its path.

    *models*: list of sasmodels names, or a specification string for
    :func:`training.classes.resolve_models` (``None``: the 71 defaults).
    *per_model* curves per model are split 80/10/10 into train/val/test, plus
    *shifted_per_model* in the shifted split. *scheduler*: address of a running Dask
    scheduler; otherwise a LocalCluster of *workers* processes (default: every core;
    ``workers=1`` without a scheduler runs in this process, no cluster). Finished chunks
    of an earlier run with the same settings are kept; other settings in an existing
    folder raise :class:`ValueError`. *serial_sample* curves per model are also
    simulated in a serial loop to report the parallel speed-up (0 disables it).
    """
    out_dir = Path(out_dir)
    if models is None or isinstance(models, str):
        models = resolve_models(models)
    else:
        models = list(models)
        unknown = sorted(set(models) - set(resolve_models("all")))
        if unknown:
            raise ValueError(f"unknown sasmodels model(s): {', '.join(unknown)}")
    if len(set(models)) != len(models):
        raise ValueError("duplicate model names")
    workers = cluster.default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    for name, value, smallest in (("seed", seed, 0), ("serial_sample", serial_sample, 0)):
        if value < smallest:  # refused before the manifest is written
            raise ValueError(f"{name} must be at least {smallest}, got {value}")
    manifest = build_manifest(models, per_model, seed, chunk_size, shifted_per_model)
    check_or_write_manifest(out_dir, manifest)
    with atomic.exclusive(out_dir / ".generate.lock",
                          RuntimeError(f"another generator is writing into {out_dir}")):
        stale = _remove_stale_temporaries(out_dir)
        if stale:
            log.info("removed %d temporary file(s) of an interrupted run", stale)
        chunks = plan_chunks(models, per_model, seed, chunk_size, shifted_per_model)
        pending = [c for c in chunks if not chunk_is_complete(c, out_dir)]
        pending.sort(key=estimated_cost, reverse=True)  # slow models first
        total = sum(c.count for c in chunks)
        todo = sum(c.count for c in pending)
        where = scheduler or (f"{workers} local worker(s)" if workers > 1 else "this process")
        log.info("%s: %d models, %d curves in %d chunks; %d chunks (%d curves) to do on %s",
                 out_dir, len(models), total, len(chunks), len(pending), todo, where)
        start = time.perf_counter()
        summaries = []
        if pending:
            runs = RunLog(out_dir, where)
            _precompile(models)
            summaries = _run(pending, out_dir, workers, scheduler, progress, todo,
                             runs.chunk_done)
            runs.write(finished=True)
        wall = time.perf_counter() - start
        if pending:
            _write_report(out_dir, models, chunks, summaries, wall, serial_sample, seed)
        log.info("dataset complete: %s (%d curves, this run %.1f s)", out_dir, total, wall)
    return out_dir


def _run(pending, out_dir: Path, workers: int, scheduler: str | None, progress: bool,
         todo: int, on_chunk=None) -> list[dict]:
    """Compute *pending* chunks (serially, or on a Dask cluster) and write each here as
    it arrives (then ``on_chunk(result)``); returns their summaries."""
    from tqdm import tqdm

    summaries = []
    bar = tqdm(total=todo, unit="curve", desc="simulate", disable=not progress,
               smoothing=0.05, mininterval=1.0, dynamic_ncols=True)

    def done(result: dict) -> None:
        write_chunk(result, out_dir)
        summaries.append(_summary(result))
        bar.update(result["chunk"].count)
        if on_chunk is not None:
            on_chunk(result)

    try:
        if workers <= 1 and not scheduler:
            for chunk in pending:
                done(compute_chunk(chunk))
        else:
            with cluster.connect(scheduler, workers) as client:
                _run_on(client, pending, done)
    finally:
        bar.close()
    return summaries


def _run_on(client, pending, done) -> None:
    """Keep ``IN_FLIGHT_PER_WORKER`` chunks per worker submitted; hand each result to
    *done* in this process (workers need no access to the output folder)."""
    from distributed import as_completed

    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    queue = list(pending)
    first = [client.submit(compute_chunk, queue.pop(0), pure=False)
             for _ in range(min(len(queue), IN_FLIGHT_PER_WORKER * n_workers))]
    stream = as_completed(first)
    for future in stream:
        result = future.result()
        future.release()
        done(result)
        if queue:
            stream.add(client.submit(compute_chunk, queue.pop(0), pure=False))


def _totals(summaries) -> dict:
    """Coverage of this run's curves: fractions and ranges (for the report)."""
    coverage = [s["coverage"] for s in summaries]
    n = sum(s["chunk"]["count"] for s in summaries)
    if not n:
        return {}
    archetypes: Counter = Counter()
    for c in coverage:
        archetypes.update(c["archetypes"])
    share = {k: sum(c[k] for c in coverage) / n
             for k in ("slit", "products", "nested_limits", "broad", "subtracted")}
    return {"curves": n, "fractions": share,
            "archetypes": {k: v / n for k, v in sorted(archetypes.items())},
            "q_min": min(c["q_min"] for c in coverage),
            "q_max": max(c["q_max"] for c in coverage),
            "n_points": [min(c["n_points"][0] for c in coverage),
                         max(c["n_points"][1] for c in coverage)]}


def _write_report(out_dir: Path, models, chunks, summaries, wall: float,
                  serial_sample: int, seed: int) -> None:
    curves = sum(s["chunk"]["count"] for s in summaries)
    per_model: dict[str, dict] = {}
    for s in summaries:
        entry = per_model.setdefault(s["chunk"]["model"], {"curves": 0, "seconds": 0.0})
        entry["curves"] += s["chunk"]["count"]
        entry["seconds"] += s["elapsed_s"]
    for entry in per_model.values():
        entry["curves_per_s_in_worker"] = entry["curves"] / max(entry["seconds"], 1e-9)
    path = out_dir / "generation_report.json"
    runs = read_runs(out_dir)  # every run, also those stopped before the end
    runs[-1] = {**runs[-1], "curves_per_s": curves / wall if wall > 0 else None,
                **_totals(summaries)}
    report = {
        "generator_version": GENERATOR_VERSION,
        "settings": json.loads((out_dir / "manifest.json").read_text()),
        "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                 "platform": platform.platform()},
        "runs": runs,
        "total_wall_s": sum(r["wall_s"] for r in runs),
        "per_model_throughput_last_run": dict(sorted(per_model.items())),
        **_collect(out_dir, chunks),
    }
    if serial_sample > 0 and curves:
        log.info("measuring a serial baseline (%d curves per model)", serial_sample)
        serial = serial_throughput(models, serial_sample, seed)
        serial_s = sum(per_model[m]["curves"] / serial[m]["curves_per_s"]
                       for m in per_model if m in serial)
        report["serial_sample"] = serial
        report["serial_estimate_s"] = serial_s
        report["speedup_vs_serial_last_run"] = serial_s / wall if wall > 0 else None
    tmp = out_dir / ".generation_report.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the dataset options (--models, --per-model, --seed, --workers,
    --chunk-size, --out) to *parser*."""
    parser.add_argument("--models", default="default", metavar="LIST",
                        help=MODELS_HELP)
    parser.add_argument("--per-model", type=int, default=DEFAULT_PER_MODEL, metavar="N",
                        help="curves per model, split 80/10/10 into train/val/test, each "
                        f"at least 1 (default: {DEFAULT_PER_MODEL})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"base random seed; same seed, same data (default: {DEFAULT_SEED})")
    parser.add_argument("--shifted-per-model", type=int, default=DEFAULT_SHIFTED_PER_MODEL,
                        metavar="N", help="curves per model in the shifted split (held-out "
                        f"instrument and prior family; default: {DEFAULT_SHIFTED_PER_MODEL})")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local Dask worker processes (default: all cores; 1 = no "
                        "cluster, this process)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a running Dask scheduler (tcp://host:8786) to "
                        "generate on a cluster instead of this machine")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, metavar="N",
                        help="curves per chunk file, the unit of work and of resuming "
                        f"(default: {DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="dataset folder; an interrupted run resumes there (default: "
                        f"<data>/datasets/<version and settings>, where <data> is "
                        f"${storage.ENVIRONMENT} or the user cache directory, now "
                        f"{storage.data_root()})")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.generate", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--serial-sample", type=int, default=DEFAULT_SERIAL_SAMPLE,
                        metavar="N", help="curves per model simulated in a serial loop at "
                        "the end, for the speed-up in generation_report.json; 0 = skip "
                        f"(default: {DEFAULT_SERIAL_SAMPLE})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging level (default: INFO)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "DEBUG":  # sasmodels logs every kernel it loads
        logging.getLogger("sasmodels").setLevel(logging.WARNING)
    try:
        models = resolve_models(args.models)
        out = args.out or storage.default_dataset(models, args.per_model,
                                                  args.shifted_per_model, args.seed)
        log.info("dataset folder: %s", out)
        generate_dataset(out, models, args.per_model, seed=args.seed,
                         workers=args.workers, chunk_size=args.chunk_size,
                         progress=not args.no_progress, serial_sample=args.serial_sample,
                         shifted_per_model=args.shifted_per_model,
                         scheduler=args.scheduler)
    except (ValueError, RuntimeError, OSError) as exc:  # OSError: a full disk, say
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
