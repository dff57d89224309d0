"""Network inputs of a dataset split, made by the runtime's own cleaning + transform, cached.

Every curve goes through :func:`sasnets_plugin.cleaning.clean_curve` and the transform of
the requested preprocessing version, exactly as a user's file does. Real files often lack
dI or a resolution column, so the network must learn to read curves without them: a fixed
share of curves (:data:`WITHHOLD`) is encoded as if its file had no dI, and another as if
it stated no resolution. Which ones is a function of (dataset seed, split, row), the same
for every version, so the shipped network and v3 are scored on the same inputs.

The cache (``CACHE/<version>/<split>.*``) holds the inputs as a float32 ``.npy`` read
memory-mapped (the full training split is about 4 GB), the labels and windows, and a
``.json`` record written last: an interrupted encoding leaves no record, so it is redone;
every file is written under a temporary name and renamed (:mod:`training.atomic`). A
damaged cache (a record or array that does not read) is encoded again. The inputs file
gets all its disk space before it is mapped: writing into a mapped file on a full disk
kills the process (SIGBUS), where the allocation raises an ``OSError``.
"""
from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sasnets_plugin.cleaning import clean_curve
from sasnets_plugin.estimates import SlotIndex, make_slots
from sasnets_plugin.preprocessing import get_transform

from . import atomic
from .dataset import load_split, read_manifest
from .generate import SPLIT_IDS, split_counts
from .heads import Targets, encode_labels

log = logging.getLogger(__name__)

#: Shares of curves encoded as if the file had no dI, and as if it stated no resolution.
WITHHOLD = {"dI": 0.2, "resolution": 0.2}


@dataclass(frozen=True)
class Encoded:
    """One split as the network reads it."""

    inputs: np.ndarray        # (n, points, channels) float32, memory-mapped
    labels: np.ndarray        # str (n,): model, form@structure or nested-limit model
    windows: np.ndarray       # (n, 2) log10 q_min, log10 q_max of each cleaned curve
    targets: Targets
    #: (n, slots) float32, memory-mapped: the estimate head's targets
    #: (:mod:`sasnets_plugin.estimates`), NaN where a curve informs no slot
    estimates: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


def withheld(seed: int, split: str, n: int) -> dict[str, np.ndarray]:
    """Which rows of a split are encoded without dI / without resolution (module doc)."""
    rng = np.random.default_rng([seed, SPLIT_IDS[split], 1_000_003])
    return {key: rng.random(n) < share for key, share in WITHHOLD.items()}


def _record(dataset_dir: Path, split: str, forms: list[str], version: str) -> dict:
    manifest = read_manifest(dataset_dir)
    return {"dataset": str(Path(dataset_dir).resolve()), "created": manifest.get("created"),
            "seed": manifest["seed"], "per_model": manifest["per_model"],
            "shifted_per_model": manifest.get("shifted_per_model", 0),
            "models": manifest["models"], "split": split, "version": version,
            "forms": list(forms), "withhold": WITHHOLD,
            "estimate_slots": [slot.as_list() for slot in make_slots(forms)]}


def _paths(cache_dir: Path, version: str, split: str) -> dict[str, Path]:
    folder = Path(cache_dir) / version
    return {"inputs": folder / f"{split}.npy", "labels": folder / f"{split}.npz",
            "estimates": folder / f"{split}.estimates.npy", "record": folder / f"{split}.json"}


def _load(paths: dict[str, Path], forms: list[str]) -> Encoded:
    with np.load(paths["labels"], allow_pickle=False) as stored:
        labels, windows = stored["labels"], stored["windows"]
    return Encoded(np.load(paths["inputs"], mmap_mode="r"), labels, windows,
                   encode_labels(labels.tolist(), forms),
                   np.load(paths["estimates"], mmap_mode="r"))


def _cached(paths: dict[str, Path], record: dict, forms: list[str]) -> Encoded | None:
    """The cached split when its record matches ``record`` and every file reads, else
    None (then it is encoded again)."""
    if not paths["record"].is_file():
        return None
    try:
        if json.loads(paths["record"].read_text()) != record:
            return None
        return _load(paths, forms)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("%s: damaged cache (%s); encoding it again", paths["record"].parent, exc)
        return None


def _allocate(path: Path) -> None:
    """Reserve the disk space of the whole file (module docstring: SIGBUS)."""
    with open(path, "rb+") as handle:
        size = os.fstat(handle.fileno()).st_size
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(handle.fileno(), 0, size)


def encode_split(dataset_dir: Path, split: str, forms: list[str], version: str,
                 cache_dir: Path) -> Encoded:
    """The split's inputs in preprocessing ``version`` (cached in ``cache_dir``)."""
    paths = _paths(cache_dir, version, split)
    record = _record(dataset_dir, split, forms, version)
    cached = _cached(paths, record, forms)
    if cached is not None:
        return cached
    paths["inputs"].parent.mkdir(parents=True, exist_ok=True)
    atomic.remove_partials(paths["inputs"].parent)
    transform = get_transform(version)
    manifest = read_manifest(dataset_dir)
    models = sorted(manifest["models"])  # load_split's row order
    per_model = split_counts(manifest["per_model"], manifest.get("shifted_per_model", 0))[split]
    n = per_model * len(models)
    hide = withheld(manifest["seed"], split, n)
    labels: list[str] = []
    windows = np.empty((n, 2))
    slots = SlotIndex(make_slots(forms))
    estimates = np.full((n, len(slots)), np.nan, np.float32)
    with atomic.replacing(paths["inputs"]) as tmp:
        inputs = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                           shape=(n, *transform.shape))
        _allocate(tmp)
        row = 0
        with tqdm(total=n, desc=f"encode {split} ({version})", unit="curve",
                  mininterval=5.0, disable=None) as bar:
            for model in models:
                data = load_split(dataset_dir, split, models=[model])
                for i in range(len(data)):
                    q, intensity, error, dq, slit = data.curve(i)
                    curve, _ = clean_curve(
                        q, intensity, None if hide["dI"][row] else error,
                        dQ=None if hide["resolution"][row] else dq,
                        slit_length=None if hide["resolution"][row] else slit)
                    inputs[row] = transform.encode(curve)
                    windows[row] = np.log10([curve.q[0], curve.q[-1]])
                    drawn = data.params[i]
                    if "nested_limit" not in drawn:  # drawn as another model
                        estimates[row] = slots.targets(data.label[i], drawn["model"],
                                                       float(curve.q[0]))
                    row += 1
                labels.extend(data.label.tolist())
                bar.update(len(data))
        if row != n:
            raise RuntimeError(f"{dataset_dir}: split {split!r} holds {row} curves, the "
                               f"manifest says {n}")
        inputs.flush()
        del inputs
    with atomic.replacing(paths["labels"]) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, labels=np.array(labels, dtype=str), windows=windows)
    with atomic.replacing(paths["estimates"]) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, estimates)
    atomic.write_json(paths["record"], record)
    encoded = _load(paths, forms)
    left_out = int((~encoded.targets.valid).sum())
    log.info("%s: %d curves encoded (%s)%s", split, n, version,
             f"; {left_out} labelled outside the ranked list are left out" if left_out else "")
    return encoded
