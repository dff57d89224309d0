"""Parallel, resumable generation of the simulated SASNets dataset.

    python -m training.generate --models sphere,cylinder --per-model 40 --out DIR
    python -m training.generate --out build/dataset          # the default dataset

Layout of ``DIR``::

    manifest.json                     settings; a restart with others is refused
    generation_report.json            throughput, rejections (rewritten per run)
    chunks/{split}/{model}/{index:05d}.h5

Each chunk file holds ``count`` curves of one model and split:

* ``q``, ``I``, ``dI``: float64 ``(count, width)``, NaN padded beyond
  ``n_points`` (``width`` = the largest point count of the instrument model);
* ``n_points``: int32 ``(count,)``;
* ``params``: UTF-8 strings ``(count,)``, one JSON object per curve with the
  model parameters (``model``), instrument (``instrument``) and measurement
  (``measurement``: scale, background, flux) that produced it;
* attributes ``model, split, index, seed, count, width, generator_version,
  rejections`` (JSON reason -> count), ``rejected``, ``elapsed_s``.

A chunk is a pure function of :class:`Chunk` (its random stream is
``SeedSequence([seed, split id, crc32(model), index])``), written to a
temporary name in its folder and moved into place with :func:`os.replace`, so
a killed run never leaves a partial file and a restart skips finished chunks.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import sys
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sasnets_plugin import environment, models

from . import simulate
from .classes import MODELS_HELP, resolve_models

log = logging.getLogger("training.generate")

GENERATOR_VERSION = 1
FORMAT = "sasnets-simulated-curves"
SPLITS = ("train", "val", "test")
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
DEFAULT_PER_MODEL = 4000
DEFAULT_SEED = 2017
DEFAULT_CHUNK_SIZE = 250
#: Curves per model simulated serially (in the parent) for the throughput report.
DEFAULT_SERIAL_SAMPLE = 16
#: Fixed row width of the chunk arrays: the largest point count of a curve.
WIDTH = int(simulate.INSTRUMENT["n_points"][1])


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


def split_counts(per_model: int) -> dict[str, int]:
    """80/10/10 split of *per_model* curves, each split at least one curve."""
    if per_model < 3:
        raise ValueError(f"per_model must be at least 3 (one curve per split), got {per_model}")
    small = max(1, int(round(0.1 * per_model)))
    return {"train": per_model - 2 * small, "val": small, "test": small}


def plan_chunks(models, per_model: int, seed: int, chunk_size: int) -> list[Chunk]:
    """Every chunk of the dataset, in (model, split, index) order."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    chunks = []
    for model in models:
        for split, total in split_counts(per_model).items():
            for index in range(math.ceil(total / chunk_size)):
                count = min(chunk_size, total - index * chunk_size)
                chunks.append(Chunk(model, split, index, int(seed), count))
    return chunks


def estimated_cost(chunk: Chunk) -> float:
    """Rough relative cost of a chunk (for scheduling slow work first)."""
    family = models.get(chunk.model).simulation.family
    if family is not None:
        per_curve = family.budget_us * 1.5
    else:
        per_curve = min(simulate.CURVE_BUDGET_US, simulate.kernel_cost(chunk.model) * 400)
    return chunk.count * (per_curve + 600.0)


def chunk_is_complete(chunk: Chunk, out_dir) -> bool:
    path = chunk.path(out_dir)
    if not path.is_file():
        return False
    try:
        import h5py

        with h5py.File(path, "r") as handle:
            return (handle.attrs.get("complete", False) and
                    int(handle.attrs["count"]) == chunk.count and
                    int(handle.attrs["seed"]) == chunk.seed and
                    handle["I"].shape == (chunk.count, WIDTH))
    except Exception:  # unreadable: regenerate it
        return False


def simulate_chunk(chunk: Chunk) -> tuple[list, Counter, Counter]:
    """The curves of *chunk* (no I/O): ``(curves, rejections, stats)``."""
    rng = np.random.default_rng(chunk.seed_sequence())
    rejections: Counter = Counter()
    stats: Counter = Counter()
    curves = simulate.simulate_curves(chunk.model, rng, chunk.count, rejections, stats)
    return curves, rejections, stats


def write_chunk(chunk: Chunk, out_dir, curves, rejections: Counter, elapsed: float,
                stats: Counter | None = None) -> Path:
    import h5py

    path = chunk.path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(curves)
    q = np.full((n, WIDTH), np.nan)
    intensity = np.full((n, WIDTH), np.nan)
    error = np.full((n, WIDTH), np.nan)
    n_points = np.zeros(n, dtype=np.int32)
    for row, curve in enumerate(curves):
        m = curve.q.size
        q[row, :m], intensity[row, :m], error[row, :m] = curve.q, curve.I, curve.dI
        n_points[row] = m
    params = [json.dumps(curve.params, sort_keys=True) for curve in curves]
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as handle:
            opts = dict(compression="gzip", compression_opts=4, shuffle=True)
            handle.create_dataset("q", data=q, **opts)
            handle.create_dataset("I", data=intensity, **opts)
            handle.create_dataset("dI", data=error, **opts)
            handle.create_dataset("n_points", data=n_points)
            handle.create_dataset("params", data=params, dtype=h5py.string_dtype("utf-8"),
                                  **opts)
            attrs = handle.attrs
            attrs["model"] = chunk.model
            attrs["split"] = chunk.split
            attrs["index"] = chunk.index
            attrs["seed"] = chunk.seed
            attrs["count"] = chunk.count
            attrs["width"] = WIDTH
            attrs["generator_version"] = GENERATOR_VERSION
            attrs["rejections"] = json.dumps(dict(sorted(rejections.items())))
            attrs["rejected"] = int(sum(rejections.values()))
            attrs["elapsed_s"] = float(elapsed)
            attrs["stats"] = json.dumps(dict(stats or {}))
            attrs["complete"] = True
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def run_chunk(chunk: Chunk, out_dir) -> dict:
    """Simulate and store *chunk* unless it is already complete.

    A pure function of its arguments (no shared state), so it can run in any
    process or on a cluster executor.  Returns a summary for the report.
    """
    if chunk_is_complete(chunk, out_dir):
        return {"chunk": asdict(chunk), "skipped": True}
    start = time.perf_counter()
    curves, rejections, stats = simulate_chunk(chunk)
    elapsed = time.perf_counter() - start
    write_chunk(chunk, out_dir, curves, rejections, elapsed, stats)
    return {"chunk": asdict(chunk), "skipped": False, "elapsed_s": elapsed,
            "total_s": time.perf_counter() - start, "rejections": dict(rejections),
            "stats": dict(stats)}


# ---------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------

def build_manifest(models, per_model: int, seed: int, chunk_size: int) -> dict:
    import sasmodels

    return {
        "format": FORMAT,
        "generator_version": GENERATOR_VERSION,
        "sasmodels_version": sasmodels.__version__,
        "models": list(models),
        "per_model": int(per_model),
        "split_counts": split_counts(per_model),
        "chunk_size": int(chunk_size),
        "seed": int(seed),
        "width": WIDTH,
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


@contextlib.contextmanager
def _exclusive(out_dir: Path):
    """Refuse two generators writing into the same folder at once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(out_dir / ".generate.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another generator is writing into {out_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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

def _worker_init(level: int, parent: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(processName)s %(message)s")
    logging.getLogger("sasmodels").setLevel(max(level, logging.WARNING))
    environment.configure()
    # A SIGKILLed parent leaves its pool workers blocked forever: leave too.
    import threading

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _precompile(models) -> None:
    """Compile every kernel once in the parent, before the workers start."""
    for model in models:
        simulate.load_model(model)


def serial_throughput(models, sample: int, seed: int) -> dict[str, dict]:
    """Curves/s of a plain serial loop (no pool, no I/O) over *sample*
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


def _collect_rejections(out_dir: Path, chunks) -> dict:
    """Rejections per model and reason over every chunk file of the dataset."""
    import h5py

    per_model: dict[str, Counter] = {}
    accepted: Counter = Counter()
    for chunk in chunks:
        path = chunk.path(out_dir)
        if not path.is_file():
            continue
        with h5py.File(path, "r") as handle:
            reasons = json.loads(handle.attrs.get("rejections", "{}"))
        per_model.setdefault(chunk.model, Counter()).update(reasons)
        accepted[chunk.model] += chunk.count
    report = {}
    for model, count in accepted.items():
        reasons = per_model.get(model, Counter())
        rejected = sum(reasons.values())
        report[model] = {"accepted": count, "rejected": rejected,
                         "rejection_rate": rejected / (rejected + count),
                         "reasons": dict(sorted(reasons.items()))}
    return report


def generate_dataset(out_dir, models=None, per_model: int = DEFAULT_PER_MODEL,
                     seed: int = DEFAULT_SEED, workers: int | None = None,
                     chunk_size: int = DEFAULT_CHUNK_SIZE, progress: bool = True,
                     serial_sample: int = DEFAULT_SERIAL_SAMPLE) -> Path:
    """Generate (or complete) the dataset in *out_dir* and return its path.

    *models*: list of sasmodels names, or a specification string for
    :func:`training.classes.resolve_models` (``None``: the 71 defaults).
    *per_model* curves per model are split 80/10/10 into train/val/test.
    *workers*: processes (default: every core; 0 or 1 runs in this process).
    Finished chunks of an earlier run with the same settings are kept; other
    settings in an existing folder raise :class:`ValueError`.
    *serial_sample* curves per model are also simulated in a serial loop to
    report the parallel speed-up (0 disables it).
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
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    manifest = build_manifest(models, per_model, seed, chunk_size)
    check_or_write_manifest(out_dir, manifest)
    with _exclusive(out_dir):
        stale = _remove_stale_temporaries(out_dir)
        if stale:
            log.info("removed %d temporary file(s) of an interrupted run", stale)
        chunks = plan_chunks(models, per_model, seed, chunk_size)
        pending = [c for c in chunks if not chunk_is_complete(c, out_dir)]
        pending.sort(key=estimated_cost, reverse=True)  # slow models first
        total = sum(c.count for c in chunks)
        todo = sum(c.count for c in pending)
        log.info("%s: %d models x %d curves = %d curves in %d chunks; %d chunks "
                 "(%d curves) to do, %d worker(s)", out_dir, len(models), per_model,
                 total, len(chunks), len(pending), todo, workers)
        start = time.perf_counter()
        summaries = []
        if pending:
            _precompile(models)
            summaries = _run(pending, out_dir, workers, progress, todo)
        wall = time.perf_counter() - start
        if pending:
            _write_report(out_dir, models, chunks, summaries, wall, workers,
                          serial_sample, seed)
        log.info("dataset complete: %s (%d curves, this run %.1f s)", out_dir, total, wall)
    return out_dir


def _run(pending, out_dir: Path, workers: int, progress: bool, todo: int) -> list[dict]:
    from tqdm import tqdm

    summaries = []
    bar = tqdm(total=todo, unit="curve", desc="simulate", disable=not progress,
               smoothing=0.05, mininterval=1.0, dynamic_ncols=True)
    try:
        if workers <= 1:
            for chunk in pending:
                summaries.append(run_chunk(chunk, out_dir))
                bar.update(chunk.count)
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                     initializer=_worker_init,
                                     initargs=(log.getEffectiveLevel(), os.getpid())) as pool:
                futures = {pool.submit(run_chunk, chunk, str(out_dir)): chunk
                           for chunk in pending}
                try:
                    for future in as_completed(futures):
                        chunk = futures[future]
                        summary = future.result()
                        summaries.append(summary)
                        bar.update(chunk.count)
                        log.debug("done %s/%s/%05d in %.1f s", chunk.split, chunk.model,
                                  chunk.index, summary.get("elapsed_s", 0.0))
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        bar.close()
    return summaries


def _write_report(out_dir: Path, models, chunks, summaries, wall: float, workers: int,
                  serial_sample: int, seed: int) -> None:
    done = [s for s in summaries if not s.get("skipped")]
    curves = sum(s["chunk"]["count"] for s in done)
    per_model: dict[str, dict] = {}
    for s in done:
        entry = per_model.setdefault(s["chunk"]["model"], {"curves": 0, "seconds": 0.0})
        entry["curves"] += s["chunk"]["count"]
        entry["seconds"] += s["elapsed_s"]
    for entry in per_model.values():
        entry["curves_per_s_in_worker"] = entry["curves"] / max(entry["seconds"], 1e-9)
    report = {
        "generator_version": GENERATOR_VERSION,
        "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                 "platform": platform.platform()},
        "workers": workers,
        "this_run": {"chunks": len(done), "curves": curves, "wall_s": wall,
                     "curves_per_s": curves / wall if wall > 0 else None,
                     "worker_cpu_s": sum(s["elapsed_s"] for s in done)},
        "per_model_throughput": dict(sorted(per_model.items())),
        "rejections": _collect_rejections(out_dir, chunks),
    }
    if serial_sample > 0 and curves:
        log.info("measuring a serial baseline (%d curves per model)", serial_sample)
        serial = serial_throughput(models, serial_sample, seed)
        # time a serial loop would need for the curves of this run
        serial_s = sum(per_model[m]["curves"] / serial[m]["curves_per_s"]
                       for m in per_model if m in serial)
        report["serial_sample"] = serial
        report["serial_estimate_s"] = serial_s
        report["serial_curves_per_s"] = curves / serial_s if serial_s > 0 else None
        report["speedup_vs_serial"] = serial_s / wall if wall > 0 else None
        log.info("parallel %.1f curves/s vs serial %.1f curves/s (x%.2f)",
                 report["this_run"]["curves_per_s"] or 0, report["serial_curves_per_s"] or 0,
                 report["speedup_vs_serial"] or 0)
    tmp = out_dir / ".generation_report.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, out_dir / "generation_report.json")


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
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="simulation processes (default: all cores; 1 = no subprocess)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, metavar="N",
                        help="curves per chunk file, the unit of work and of resuming "
                        f"(default: {DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--out", type=Path, default=Path("build/dataset"), metavar="DIR",
                        help="dataset folder; an interrupted run resumes there "
                        "(default: build/dataset)")
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
        generate_dataset(args.out, models, args.per_model, seed=args.seed,
                         workers=args.workers, chunk_size=args.chunk_size,
                         progress=not args.no_progress, serial_sample=args.serial_sample)
    except (ValueError, RuntimeError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
