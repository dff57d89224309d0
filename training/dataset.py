"""Read a dataset written by :mod:`training.generate`.

    split = load_split(dataset_folder, "train")
    q, I, dI, dQ, slit_length = split.curve(0)     # one curve (dQ None for slit data)
    for q, I, dI in iter_curves(split): ...
    split.forms(), split.structures()             # the two parts of each label
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .generate import SPLITS, plan_chunks

#: Label of the structure-factor part of a curve without one.
NO_STRUCTURE = ""


class DamagedChunk(ValueError):
    """A chunk file that exists but cannot be read whole; the message names it."""


@dataclass
class Split:
    """All curves of one split, ragged; row order: class name (sorted), chunk, row."""
    offsets: np.ndarray      # int64 (n + 1,): curve i is rows offsets[i]:offsets[i+1]
    q: np.ndarray            # float32, every point of every curve
    I: np.ndarray            # noqa: E741
    dI: np.ndarray
    dQ: np.ndarray           # pinhole sigma; NaN for slit data
    slit_length: np.ndarray  # float32 (n,), 0 for pinhole data
    label: np.ndarray        # str (n,): model, form@structure or the nested-limit model
    models: np.ndarray       # str (n,): the class whose chunk drew the curve
    params: list = field(default_factory=list)  # dict per curve
    class_names: tuple = ()  # models of the dataset, in class (output) order
    split: str = ""

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_points(self) -> np.ndarray:
        return np.diff(self.offsets)

    def curve(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None,
                                     float]:
        """``(q, I, dI, dQ or None, slit_length)`` of curve *i*, in float64."""
        rows = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        dq = self.dQ[rows].astype(np.float64)
        slit = float(self.slit_length[i])
        return (self.q[rows].astype(np.float64), self.I[rows].astype(np.float64),
                self.dI[rows].astype(np.float64), None if slit > 0 else dq, slit)

    def forms(self) -> np.ndarray:
        """The form-factor (or single-model) part of each label."""
        return np.array([s.partition("@")[0] for s in self.label.tolist()], dtype=str)

    def structures(self) -> np.ndarray:
        """The structure-factor part of each label (:data:`NO_STRUCTURE` when none)."""
        return np.array([s.partition("@")[2] for s in self.label.tolist()], dtype=str)

    def labels(self, class_names=None) -> np.ndarray:
        """Class index of each curve's form in *class_names* (default: manifest order)."""
        names = list(class_names or self.class_names)
        index = {name: i for i, name in enumerate(names)}
        forms = self.forms().tolist()
        missing = sorted(set(forms) - set(index))
        if missing:
            raise ValueError(f"curves of models outside the class list: {missing}")
        return np.array([index[m] for m in forms], dtype=np.int64)


def read_manifest(dataset_dir) -> dict:
    path = Path(dataset_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a generated dataset")
    return json.loads(path.read_text())


def load_split(dataset_dir, split: str, models=None, allow_partial: bool = False) -> Split:
    """Load every curve of *split* ("train", "val", "test" or "shifted").

    *models* restricts to some classes. Missing chunk files raise
    :class:`FileNotFoundError` unless *allow_partial* (then they are skipped); a chunk
    file that cannot be read raises :class:`DamagedChunk`.
    """
    import h5py

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    dataset_dir = Path(dataset_dir)
    manifest = read_manifest(dataset_dir)
    names = list(manifest["models"])
    selected = sorted(names if models is None else models)
    unknown = sorted(set(selected) - set(names))
    if unknown:
        raise ValueError(f"models not in the dataset: {unknown}")
    chunks = [c for c in plan_chunks(selected, manifest["per_model"], manifest["seed"],
                                     manifest["chunk_size"],
                                     manifest.get("shifted_per_model", 0))
              if c.split == split]
    chunks.sort(key=lambda c: (c.model, c.index))
    parts: dict[str, list] = {k: [] for k in ("q", "I", "dI", "dQ", "slit_length")}
    sizes, labels, model_col, params, missing = [], [], [], [], []
    for chunk in chunks:
        path = chunk.path(dataset_dir)
        if not path.is_file():
            missing.append(str(chunk.relpath()))
            continue
        try:
            with h5py.File(path, "r") as handle:
                arrays = {key: handle[key][()] for key in parts}
                offsets = handle["offsets"][()]
                chunk_labels = handle["label"].asstr()[()].tolist()
                chunk_params = [json.loads(s) for s in handle["params"].asstr()[()]]
                count = int(handle.attrs["count"])
        except (OSError, KeyError, ValueError) as exc:  # truncated, overwritten, edited
            raise DamagedChunk(
                f"{path} is damaged ({exc}): run the generate stage (or all) with the same "
                "options to generate it again.") from None
        for key in parts:
            parts[key].append(arrays[key])
        sizes.append(np.diff(offsets))
        labels.extend(chunk_labels)
        params.extend(chunk_params)
        model_col.extend([chunk.model] * count)
    if missing and not allow_partial:
        raise FileNotFoundError(
            f"{len(missing)} chunk file(s) of split {split!r} missing in {dataset_dir} "
            f"(e.g. {missing[0]}); finish the generation first")

    def stack(key):
        return (np.concatenate(parts[key]) if parts[key] else np.empty(0, np.float32))

    offsets = np.concatenate([[0], np.cumsum(np.concatenate(sizes))]) if sizes \
        else np.zeros(1, np.int64)
    return Split(offsets=offsets.astype(np.int64), q=stack("q"), I=stack("I"),
                 dI=stack("dI"), dQ=stack("dQ"), slit_length=stack("slit_length"),
                 label=np.array(labels, dtype=str), models=np.array(model_col, dtype=str),
                 params=params, class_names=tuple(names), split=split)


def iter_curves(split: Split) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(q, I, dI)`` of each curve (float64)."""
    for row in range(len(split)):
        q, intensity, error, _, _ = split.curve(row)
        yield q, intensity, error
