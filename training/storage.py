"""Where datasets, input caches and checkpoints live by default: outside the work tree.

A dataset takes an hour to make and gigabytes to keep, and a fresh checkout (a new clone,
a CI run, the next working session) starts with an empty ``build/``. So the defaults lie
in a data directory that outlives checkouts: ``$SASNETS_DATA`` if set, else the user
cache directory (``~/.cache/sasnets`` on Linux; platformdirs' choice elsewhere). Each
generator version and data setting has its own sub-folder::

    <data>/datasets/v4-<models>-<per model>-<shifted per model>-s<seed>/   simulated curves
    <data>/runs/v4-<same key>/        input cache, checkpoints, evaluation, weights

so a checkout on the same machine finds and reuses what an earlier one made. What it
finds is checked, not trusted: every chunk file is opened and its attributes compared
before it is skipped (:func:`training.generate.chunk_is_complete`). ``--out`` /
``--dataset`` still name any other folder.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: The environment variable that moves the data directory.
ENVIRONMENT = "SASNETS_DATA"


def data_root() -> Path:
    """The data directory (module docstring)."""
    chosen = os.environ.get(ENVIRONMENT, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    from platformdirs import user_cache_path

    return user_cache_path("sasnets", appauthor=False)


def data_key(models: list[str], per_model: int, shifted_per_model: int, seed: int) -> str:
    """Folder name of one data setting: generator version, the classes (their number
    and a digest of their names), curves per class, seed."""
    from .generate import GENERATOR_VERSION

    digest = hashlib.sha256(",".join(models).encode()).hexdigest()[:8]
    return (f"v{GENERATOR_VERSION}-{len(models)}models-{digest}-{per_model}-"
            f"{shifted_per_model}-s{seed}")


def default_dataset(models: list[str], per_model: int, shifted_per_model: int,
                    seed: int) -> Path:
    """The dataset folder of these data settings in the data directory."""
    return data_root() / "datasets" / data_key(models, per_model, shifted_per_model, seed)


def default_run(models: list[str], per_model: int, shifted_per_model: int, seed: int) -> Path:
    """The training run folder (cache, checkpoints, evaluation) of these data settings."""
    return data_root() / "runs" / data_key(models, per_model, shifted_per_model, seed)
