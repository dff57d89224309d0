"""Rebuild the SASNets network: generate → train → evaluate → export.

    python -m training.run                       # everything, default settings, into build/training
    python -m training.run --models sphere,cylinder,lamellar --per-model 40 --epochs 1 --out /tmp/t
    python -m training.run evaluate --out DIR    # one stage on an existing run
    python -m training.run export --out DIR --export-to model_weights   # ship it

Layout of ``--out DIR``: ``dataset/`` (simulated curves), ``runs/<architecture>/``
(checkpoints, resumable), ``evaluation/`` (scores and plots of every architecture),
``weights/`` (the exported network, loadable by ``sasnets-suggest --weights``).
``model_weights/`` is only written by an explicit ``--export-to``. An architecture
``a+b`` is an ensemble: ``a`` and ``b`` are trained, the average of their
log-probabilities is evaluated and exported (``training.ensemble``).
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path

from .architectures import ARCHITECTURES, BASELINE_ARCHITECTURE, DEFAULT_ARCHITECTURE, hyperparameters
from .classes import MODELS_HELP, resolve_models
from .ensemble import SEPARATOR, members
from .generate import DEFAULT_PER_MODEL, DEFAULT_SHIFTED_PER_MODEL
from .train import TrainSettings

log = logging.getLogger("training")

STAGES = ("generate", "train", "evaluate", "export", "all")
DEFAULT_OUT = Path("build/training")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", nargs="?", choices=STAGES, default="all",
                   help="stage to run (default: all, in order; finished work is reused)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help=f"working folder for data, checkpoints, reports (default {DEFAULT_OUT})")
    data = p.add_argument_group("data")
    data.add_argument("--models", default="default", metavar="LIST",
                      help=MODELS_HELP)
    data.add_argument("--per-model", type=int, default=DEFAULT_PER_MODEL, metavar="N",
                      help=f"curves per model, split 80/10/10 train/val/test (default {DEFAULT_PER_MODEL})")
    data.add_argument("--seed", type=int, default=2017, help="base seed for data and training")
    data.add_argument("--shifted-per-model", type=int, default=DEFAULT_SHIFTED_PER_MODEL,
                      metavar="N", help="curves per model in the shifted test split "
                      f"(held-out instrument and prior family; default {DEFAULT_SHIFTED_PER_MODEL})")
    data.add_argument("--workers", type=int, default=None,
                      help="local Dask worker processes (default: all cores; 1: no cluster)")
    data.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="generate on a running Dask scheduler (tcp://host:8786)")
    train = p.add_argument_group("training")
    train.add_argument("--architectures", default=f"{DEFAULT_ARCHITECTURE},{BASELINE_ARCHITECTURE}",
                       help="comma list from: " + ", ".join(ARCHITECTURES) + f", or ensembles "
                       f"of them joined by '{SEPARATOR}'; the first one is exported (default: "
                       "%(default)s)")
    train.add_argument("--epochs", type=int, default=TrainSettings.epochs)
    train.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    train.add_argument("--learning-rate", type=float, default=TrainSettings.learning_rate)
    train.add_argument("--patience", type=int, default=TrainSettings.patience,
                       help="early stop after this many epochs without validation improvement")
    p.add_argument("--export-to", type=Path, default=None, metavar="DIR",
                   help="also copy the exported network here (e.g. model_weights to ship it)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings")
    return p


def _settings(args, architecture: str) -> TrainSettings:
    return TrainSettings(architecture=architecture, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, patience=args.patience, seed=args.seed)


def _all_members(architectures: list[str]) -> list[str]:
    """Every single network the architectures need, each once, in order of appearance."""
    return list(dict.fromkeys(m for a in architectures for m in members(a)))


def _training_record(runs_dir: Path, architecture: str) -> tuple[dict, dict]:
    """How each member was trained (settings, hyperparameters, time) and its history."""
    record, histories = {}, {}
    for member in members(architecture):
        state = json.loads((runs_dir / member / "state.json").read_text())
        record[member] = {"settings": state["settings"], "hyperparameters": hyperparameters(member),
                          "training_seconds": state["seconds"], "epochs_run": state["epoch"],
                          "best_epoch": state["best_epoch"]}
        histories[member] = state["history"]
    return record, histories


def _dataset_classes(dataset_dir: Path) -> list[str]:
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    return list(manifest["models"])


def stage_generate(args, models: list[str]) -> Path:
    from .generate import generate_dataset

    return generate_dataset(args.out / "dataset", models, args.per_model, seed=args.seed,
                            workers=args.workers, shifted_per_model=args.shifted_per_model,
                            scheduler=args.scheduler)


def stage_train(args, architectures: list[str]) -> dict:
    from .features import encode_split
    from .train import configure_device, train

    dataset = args.out / "dataset"
    classes = _dataset_classes(dataset)
    device = configure_device()
    x_train, y_train = encode_split(dataset, "train", classes)
    x_val, y_val = encode_split(dataset, "val", classes)
    runs = {}
    for arch in _all_members(architectures):
        log.info("training %s on %d curves (%s)", arch, len(y_train), device)
        _, state = train(x_train, y_train, x_val, y_val, len(classes), args.out / "runs" / arch,
                         _settings(args, arch))
        runs[arch] = state
    return runs


def stage_evaluate(args, architectures: list[str]) -> dict:
    from .ensemble import load_network
    from .evaluate import evaluate, fit_temperature, predict_logits, save_plots, write_json
    from .features import encode_split

    dataset = args.out / "dataset"
    classes = _dataset_classes(dataset)
    x_val, y_val = encode_split(dataset, "val", classes)
    x_test, y_test = encode_split(dataset, "test", classes)
    out = args.out / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    report = {"classes": classes, "architectures": {}}
    histories = {}  # training curves of every trained network (the baseline's too)
    # the listed networks, then any ensemble member on its own (to show what averaging adds)
    for arch in dict.fromkeys(architectures + _all_members(architectures)):
        model = load_network(args.out / "runs", arch)
        temperature = fit_temperature(predict_logits(model, x_val), y_val)
        result = evaluate(model, temperature, x_test, y_test, classes)
        result["training"], trained = _training_record(args.out / "runs", arch)
        histories.update(trained)
        result["training_seconds"] = sum(m["training_seconds"] for m in result["training"].values())
        report["architectures"][arch] = result
        log.info("%s on test: top-1 %.1f %%, top-3 %.1f %%, top-5 %.1f %%, mean rank %.2f, "
                 "ECE %.3f (uncalibrated %.3f), T = %.2f", arch, 100 * result["top1"],
                 100 * result["top3"], 100 * result["top5"], result["mean_rank"], result["ece"],
                 result["ece_uncalibrated"], temperature)
    if BASELINE_ARCHITECTURE in report["architectures"] and len(architectures) > 1:
        main, base = report["architectures"][architectures[0]], report["architectures"][BASELINE_ARCHITECTURE]
        report["top1_gain_over_baseline"] = main["top1"] - base["top1"]
    report["plots"] = save_plots(report["architectures"][architectures[0]], histories, classes, out)
    write_json(out / "report.json", report)
    return report


def stage_export(args, architectures: list[str], argv: list[str]) -> Path:
    import keras
    import sasmodels
    import tensorflow as tf

    from .ensemble import load_network
    from .export import export

    arch = architectures[0]
    evaluation = args.out / "evaluation"
    report = json.loads((evaluation / "report.json").read_text())
    dataset_manifest = json.loads((args.out / "dataset" / "manifest.json").read_text())
    result = report["architectures"][arch]
    headline = {k: result[k] for k in ("top1", "top3", "top5", "mean_rank", "ece", "n_curves")}
    metadata = {
        "architecture": arch,
        # the whole pipeline with these options reproduces the weights (stages are skipped
        # when their output exists, so the stage actually run is not part of the recipe)
        "command": "python -m training.run " + shlex.join(a for a in argv if a not in STAGES),
        "training": result["training"],  # per member: settings, hyperparameters, time
        "training_seconds": result["training_seconds"],
        "data": dataset_manifest,
        "test_scores": headline,
        "baseline": {k: report["architectures"][BASELINE_ARCHITECTURE][k]
                     for k in ("top1", "top3", "top5", "mean_rank", "ece")}
        if BASELINE_ARCHITECTURE in report["architectures"] and arch != BASELINE_ARCHITECTURE else None,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__, "keras": keras.__version__,
                    "sasmodels": sasmodels.__version__,
                    "device": "gpu" if tf.config.list_physical_devices("GPU") else "cpu"},
    }
    model = load_network(args.out / "runs", arch)
    out = export(model, result["temperature"], report["classes"], metadata, report,
                 evaluation, report["plots"], args.out / "weights")
    generation = args.out / "dataset" / "generation_report.json"
    if generation.is_file():  # throughput and rejection rates of the data behind the weights
        shutil.copy2(generation, out / generation.name)
    log.info("exported %s to %s", arch, out)
    if args.export_to:
        args.export_to.mkdir(parents=True, exist_ok=True)
        for item in out.iterdir():
            shutil.copy2(item, args.export_to / item.name)
        log.info("copied the network to %s", args.export_to)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    architectures = [a.strip() for a in args.architectures.split(",") if a.strip()]
    try:
        _all_members(architectures)
    except ValueError as exc:
        raise SystemExit(f"--architectures: {exc}") from None
    started = time.perf_counter()
    if args.stage in ("generate", "all"):
        stage_generate(args, resolve_models(args.models))
    if args.stage in ("train", "all"):
        stage_train(args, architectures)
    if args.stage in ("evaluate", "all"):
        stage_evaluate(args, architectures)
    if args.stage in ("export", "all"):
        stage_export(args, architectures, argv)
    log.info("%s finished in %.0f s", args.stage, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
