"""Read a dataset written by :mod:`training.generate`.

    split = load_split("build/dataset", "train")
    split.I.shape            # (n, width), NaN beyond split.n_points
    for q, I, dI in iter_curves(split): ...
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .generate import SPLITS, plan_chunks


@dataclass
class Split:
    """All curves of one split; row order: model name (sorted), chunk index, row."""
    q: np.ndarray          # float64 (n, width), NaN padded
    I: np.ndarray          # float64 (n, width), NaN padded
    dI: np.ndarray         # float64 (n, width), NaN padded
    n_points: np.ndarray   # int (n,)
    models: np.ndarray     # str (n,): model name of each curve
    params: list = field(default_factory=list)  # dict per curve
    class_names: tuple = ()  # models of the dataset, in class (output) order
    split: str = ""

    def __len__(self) -> int:
        return int(self.n_points.size)

    def labels(self, class_names=None) -> np.ndarray:
        """Class index of each curve in *class_names* (default: the manifest order)."""
        names = list(class_names or self.class_names)
        index = {name: i for i, name in enumerate(names)}
        missing = sorted(set(self.models.tolist()) - set(index))
        if missing:
            raise ValueError(f"curves of models outside the class list: {missing}")
        return np.array([index[m] for m in self.models.tolist()], dtype=np.int64)


def read_manifest(dataset_dir) -> dict:
    path = Path(dataset_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a generated dataset")
    return json.loads(path.read_text())


def load_split(dataset_dir, split: str, models=None, allow_partial: bool = False) -> Split:
    """Load every curve of *split* ("train", "val" or "test").

    *models* restricts to some models.  Missing chunk files raise
    :class:`FileNotFoundError` unless *allow_partial* (then they are skipped).
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
                                     manifest["chunk_size"]) if c.split == split]
    chunks.sort(key=lambda c: (c.model, c.index))
    width = int(manifest["width"])
    parts = {"q": [], "I": [], "dI": [], "n_points": []}
    model_col, params = [], []
    missing = []
    for chunk in chunks:
        path = chunk.path(dataset_dir)
        if not path.is_file():
            missing.append(str(chunk.relpath()))
            continue
        with h5py.File(path, "r") as handle:
            for key in parts:
                parts[key].append(handle[key][()])
            params.extend(json.loads(s) for s in handle["params"].asstr()[()])
            model_col.extend([chunk.model] * int(handle["n_points"].shape[0]))
    if missing and not allow_partial:
        raise FileNotFoundError(
            f"{len(missing)} chunk file(s) of split {split!r} missing in {dataset_dir} "
            f"(e.g. {missing[0]}); finish the generation first")

    def stack(key, dtype, shape):
        return (np.concatenate(parts[key]).astype(dtype, copy=False) if parts[key]
                else np.empty(shape, dtype=dtype))

    return Split(q=stack("q", np.float64, (0, width)), I=stack("I", np.float64, (0, width)),
                 dI=stack("dI", np.float64, (0, width)),
                 n_points=stack("n_points", np.int64, (0,)),
                 models=np.array(model_col, dtype=str), params=params,
                 class_names=tuple(names), split=split)


def iter_curves(split: Split) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(q, I, dI)`` of each curve without the NaN padding."""
    for row in range(len(split)):
        n = int(split.n_points[row])
        yield split.q[row, :n], split.I[row, :n], split.dI[row, :n]
