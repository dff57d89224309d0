"""The data directory: datasets, caches and checkpoints outside the work tree by default."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from training import run, storage
from training.generate import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parent.parent


def test_the_data_directory_is_sasnets_data_else_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(storage.ENVIRONMENT, str(tmp_path / "data"))
    assert storage.data_root() == tmp_path / "data"
    monkeypatch.delenv(storage.ENVIRONMENT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert storage.data_root() == tmp_path / "cache" / "sasnets"
    assert not storage.data_root().is_relative_to(ROOT)


def test_each_generator_version_and_setting_has_its_own_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(storage.ENVIRONMENT, str(tmp_path))
    a = storage.default_dataset(["sphere", "cylinder"], 30, 3, 1)
    assert a.parent == tmp_path / "datasets" and a.name.startswith(f"v{GENERATOR_VERSION}-2models-")
    assert a != storage.default_dataset(["sphere", "lamellar"], 30, 3, 1)
    assert a != storage.default_dataset(["sphere", "cylinder"], 30, 3, 2)
    assert storage.default_run(["sphere", "cylinder"], 30, 3, 1) == tmp_path / "runs" / a.name


def test_training_run_puts_its_dataset_and_run_in_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(storage.ENVIRONMENT, str(tmp_path))
    args = run.build_parser().parse_args(["--models", "sphere,cylinder", "--per-model", "9"])
    run.check_arguments(args)
    run.default_folders(args)
    expected = storage.default_dataset(["sphere", "cylinder"], 9, run.DEFAULT_SHIFTED_PER_MODEL,
                                       run.DEFAULT_SEED)
    assert args.dataset == expected and args.out == tmp_path / "runs" / expected.name
    # --out keeps everything there; --dataset alone gets a run folder named after it
    args = run.build_parser().parse_args(["--out", str(tmp_path / "mine")])
    run.default_folders(args)
    assert args.out == tmp_path / "mine" and run.dataset_dir(args) == tmp_path / "mine" / "dataset"
    args = run.build_parser().parse_args(["--dataset", str(tmp_path / "elsewhere" / "ds")])
    run.default_folders(args)
    assert args.out == tmp_path / "runs" / "ds"


def test_generate_without_out_writes_to_the_data_directory_and_a_rerun_reuses_it(tmp_path):
    env = {**os.environ, storage.ENVIRONMENT: str(tmp_path)}
    command = [sys.executable, "-m", "training.generate", "--models", "sphere", "--per-model",
               "3", "--shifted-per-model", "0", "--serial-sample", "0", "--workers", "1",
               "--no-progress"]
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    folder = storage.default_dataset(["sphere"], 3, 0, 2017)
    folder = tmp_path / "datasets" / folder.name
    assert (folder / "manifest.json").is_file() and str(folder) in first.stderr
    chunks = sorted((folder / "chunks").rglob("*.h5"))
    stamps = [c.stat().st_mtime_ns for c in chunks]
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stderr
    assert [c.stat().st_mtime_ns for c in chunks] == stamps  # checked and kept, not redone
