"""Rebuild the SASNets network: generate → train → evaluate → export.

    python -m training.run                     # the network, from nothing (data directory)
    python -m training.run --models sphere,cylinder,lamellar --per-model 60 --epochs 2 --out /tmp/t
    python -m training.run evaluate --out DIR    # one stage on an existing run
    python -m training.run export --out DIR --export-to model_weights   # ship it

Without ``--out`` and ``--dataset`` everything goes to the data directory outside the work
tree (:mod:`training.storage`: ``$SASNETS_DATA`` or the user cache directory), one folder
per generator version and data settings, where a later checkout finds it again.

Layout of ``--out DIR``: ``dataset/`` (simulated curves, unless ``--dataset`` points
elsewhere), ``cache/`` (network inputs, per preprocessing version), ``runs/<architecture>/``
(checkpoints, resumable after any stop), ``evaluation/`` (scores and plots of every
network, the shipped one included), ``weights/`` (the exported network, loadable by
``sasnets-suggest --weights``). ``model_weights/`` is only written by an explicit
``--export-to``. An architecture ``a+b`` is an ensemble: ``a`` and ``b`` are trained,
the average of their log-probabilities is evaluated and exported (``training.ensemble``).

Every stage reuses finished work, so the same command resumes after an interruption
(a chunk file of the dataset that is damaged, a truncated copy say, is generated again).
The dataset options default to what an existing dataset was generated with; given
explicitly, they must match it. A wrong command line, a damaged file, a full disk or a
second run on the same ``--out`` (refused: "another run is writing here") stops with
``error: ...`` and exit status 2; after a full disk, the same command resumes.
``--export-to`` fills a temporary folder beside the target and swaps it in, so the
target holds the old network or the new one, whole.
"""
from __future__ import annotations

import argparse
import errno
import json
import logging
import math
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path

from sasnets_plugin import environment

from . import storage
from .architectures import ARCHITECTURES, BASELINE_ARCHITECTURE, DEFAULT_ARCHITECTURE, hyperparameters
from . import atomic, stage_times
from .classes import MODELS_HELP, resolve_models
from .dataset import DamagedChunk
from .ensemble import SEPARATOR, members
from .evaluate import EQUIVALENT_SAMPLE, EQUIVALENT_TOP
from .generate import DEFAULT_PER_MODEL, DEFAULT_SEED, DEFAULT_SHIFTED_PER_MODEL
from .train import TrainingError, TrainSettings, is_finished, read_state

log = logging.getLogger("training")

STAGES = ("generate", "train", "evaluate", "export", "all")
#: The shipped network, evaluated beside the new one with its own preprocessing.
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "model_weights"
EXIT_USAGE = 2
MANIFEST = "manifest.json"
#: Held in ``--out`` for the whole run: two runs there would delete each other's files.
RUN_LOCK = ".run.lock"


class UsageError(Exception):
    """A command line or a folder state that cannot work; the message says why and what to do."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", nargs="?", choices=STAGES, default="all",
                   help="stage to run (default: all, in order; finished work is reused)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="working folder for inputs, checkpoints, reports (default: "
                   "<data>/runs/<version and settings>, where <data> is "
                   f"${storage.ENVIRONMENT} or the user cache directory, now {storage.data_root()})")
    data = p.add_argument_group("data (default: as the existing dataset has them)")
    data.add_argument("--dataset", type=Path, default=None, metavar="DIR",
                      help="dataset folder (default: OUT/dataset with --out, else "
                      "<data>/datasets/<version and settings>); generated there if missing")
    data.add_argument("--models", default=None, metavar="LIST", help=MODELS_HELP)
    data.add_argument("--per-model", type=int, default=None, metavar="N",
                      help=f"curves per model, split 80/10/10 train/val/test (new dataset: "
                      f"{DEFAULT_PER_MODEL})")
    data.add_argument("--shifted-per-model", type=int, default=None, metavar="N",
                      help="curves per model in the shifted test split (held-out instrument "
                      f"and prior family; new dataset: {DEFAULT_SHIFTED_PER_MODEL})")
    data.add_argument("--seed", type=int, default=None,
                      help=f"base seed for data and training (new dataset: {DEFAULT_SEED})")
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
    p.add_argument("--shipped-weights", type=Path, default=SHIPPED_WEIGHTS, metavar="DIR",
                   help="the current network, evaluated as a baseline with its own "
                   "preprocessing (default: model_weights/; 'none' to skip)")
    p.add_argument("--equivalent-sample", type=int, default=EQUIVALENT_SAMPLE, metavar="N",
                   help="curves per split (test, shifted) whose 90 %% credible set and top "
                   f"{EQUIVALENT_TOP} are checked by fitting for models that fit as well as the "
                   "true one (default "
                   "%(default)s; 0 skips it)")
    p.add_argument("--export-to", type=Path, default=None, metavar="DIR",
                   help="also copy the exported network here (e.g. model_weights to ship it)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings")
    from .extend import add_arguments  # --from: add models to a trained network

    add_arguments(p)
    return p


# --------------------------------------------------------------------------- checks

def check_arguments(args) -> list[str]:
    """Refuse impossible values before any work; the architectures as a list."""
    for name, value, smallest in (("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1),
                                  ("--patience", args.patience, 1),
                                  ("--per-model", args.per_model, 3),
                                  ("--shifted-per-model", args.shifted_per_model, 0),
                                  ("--equivalent-sample", args.equivalent_sample, 0),
                                  ("--workers", args.workers, 1)):
        if value is not None and value < smallest:
            extra = " (one curve each for train, val and test)" if name == "--per-model" else ""
            raise UsageError(f"{name} must be at least {smallest}{extra}, not {value}.")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be at least 0, not {args.seed}.")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        raise UsageError(f"--learning-rate must be a positive number, not {args.learning_rate}.")
    for option, folder in (("--out", args.out), ("--dataset", args.dataset),
                           ("--export-to", args.export_to)):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise UsageError(f"{option} {folder} is a file, not a folder.")
    architectures = [a.strip() for a in args.architectures.split(",") if a.strip()]
    if not architectures:
        raise UsageError("--architectures names no network.")
    try:
        _all_members(architectures)
    except ValueError as exc:
        raise UsageError(f"--architectures: {exc}") from None
    if args.models is not None:
        try:
            args.models = resolve_models(args.models)
        except ValueError as exc:
            raise UsageError(f"--models: {exc}") from None
    return architectures


def default_folders(args) -> None:
    """Without --out: the run folder in the data directory, named by the data settings
    given on the command line (or the defaults of a new dataset), and so is the dataset's
    unless --dataset names one."""
    if args.out is not None:
        return
    if args.dataset is not None:  # runs on a dataset elsewhere: named after its folder
        args.out = storage.data_root() / "runs" / args.dataset.resolve().name
        log.info("run folder: %s", args.out)
        return
    settings = (args.models or resolve_models("default"),
                DEFAULT_PER_MODEL if args.per_model is None else args.per_model,
                DEFAULT_SHIFTED_PER_MODEL if args.shifted_per_model is None
                else args.shifted_per_model,
                DEFAULT_SEED if args.seed is None else args.seed)
    args.dataset = storage.default_dataset(*settings)
    args.out = storage.default_run(*settings)
    log.info("data directory: dataset %s, run %s", args.dataset, args.out)


def dataset_dir(args) -> Path:
    return args.dataset if args.dataset is not None else args.out / "dataset"


def read_dataset_manifest(args, stage: str) -> dict | None:
    """The dataset's manifest; for a stage that needs the data, a clear error without one."""
    path = dataset_dir(args) / MANIFEST
    if path.is_file():
        try:
            manifest = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path} is damaged ({exc}): restore it, or generate the dataset "
                             "again in another folder.") from None
        if not isinstance(manifest, dict):
            raise UsageError(f"{path} is not a dataset manifest (a JSON object).")
        return manifest
    if stage in ("train", "evaluate", "export"):
        raise UsageError(f"no dataset in {dataset_dir(args)} ({MANIFEST} is missing): run the "
                         "generate stage (or all) first, or point --dataset at a generated dataset.")
    return None


def settle_dataset_options(args, manifest: dict | None) -> None:
    """Fill the dataset options from the existing dataset, or refuse ones that differ."""
    wanted = {"models": args.models, "per_model": args.per_model,
              "shifted_per_model": args.shifted_per_model, "seed": args.seed}
    if manifest is None:
        args.models = args.models or resolve_models("default")
        args.per_model = DEFAULT_PER_MODEL if args.per_model is None else args.per_model
        args.shifted_per_model = (DEFAULT_SHIFTED_PER_MODEL if args.shifted_per_model is None
                                  else args.shifted_per_model)
        args.seed = DEFAULT_SEED if args.seed is None else args.seed
        return
    existing = {"models": list(manifest["models"]), "per_model": manifest["per_model"],
                "shifted_per_model": manifest.get("shifted_per_model", 0), "seed": manifest["seed"]}
    for key, value in wanted.items():
        if value is not None and value != existing[key]:
            shown = (lambda v: ",".join(v) if isinstance(v, list) else v)  # noqa: E731
            option = "--" + key.replace("_", "-")
            raise UsageError(
                f"the dataset in {dataset_dir(args)} was generated with {option} "
                f"{shown(existing[key])}, not {shown(value)}. Leave {option} out to use it as "
                "it is, or give another --dataset / --out for a new one.")
        setattr(args, key, existing[key])


def _all_members(architectures: list[str]) -> list[str]:
    """Every single network the architectures need, each once, in order of appearance."""
    return list(dict.fromkeys(m for a in architectures for m in members(a)))


def _settings(args, architecture: str) -> TrainSettings:
    return TrainSettings(architecture=architecture, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, patience=args.patience, seed=args.seed)


def _encode(args, split: str, forms: list[str], version: str | None = None):
    from sasnets_plugin.preprocessing import PREPROCESSING_VERSION

    from .features import encode_split

    try:
        return encode_split(dataset_dir(args), split, forms, version or PREPROCESSING_VERSION,
                            args.out / "cache")
    except (FileNotFoundError, DamagedChunk) as exc:  # generation unfinished or damaged
        raise UsageError(str(exc)) from None


# --------------------------------------------------------------------------- stages

def unfinished_chunks(folder: Path, manifest: dict) -> list[Path]:
    """The chunk files of the dataset that are missing or damaged (truncated, not marked
    complete, not of the dataset's generator version): each is renamed into place whole,
    so anything else was changed after generation."""
    from .generate import chunk_is_complete, plan_chunks

    chunks = plan_chunks(manifest["models"], manifest["per_model"], manifest["seed"],
                         manifest["chunk_size"], manifest.get("shifted_per_model", 0))
    version = int(manifest["generator_version"])
    return [c.path(folder) for c in chunks if not chunk_is_complete(c, folder, version)]


def dataset_complete(folder: Path, manifest: dict | None) -> bool:
    """Every chunk file of the dataset is there and whole (:func:`unfinished_chunks`)."""
    if manifest is None:
        return False
    unfinished = unfinished_chunks(folder, manifest)
    damaged = [p for p in unfinished if p.is_file()]
    if damaged:
        log.warning("%d chunk file(s) of %s are damaged and will be generated again: %s",
                    len(damaged), folder, ", ".join(str(p.relative_to(folder)) for p in damaged))
    return not unfinished


def stage_generate(args, manifest: dict | None) -> Path:
    """Generate or complete the dataset; a complete one is used as it is (its generator
    settings are in its manifest, whatever the code's settings are now)."""
    from .generate import generate_dataset

    if dataset_complete(dataset_dir(args), manifest):
        log.info("dataset %s is complete: generation skipped", dataset_dir(args))
        return dataset_dir(args)
    try:
        with stage_times.timed(args.out, "generate"):
            return generate_dataset(dataset_dir(args), args.models, args.per_model, seed=args.seed,
                                    workers=args.workers,
                                    shifted_per_model=args.shifted_per_model,
                                    scheduler=args.scheduler)
    except (ValueError, RuntimeError) as exc:  # other settings in the folder, a generator
        raise UsageError(str(exc)) from None   # already writing there, a model that fails
    except OSError as exc:
        if args.scheduler and exc.errno is None:  # distributed's "Timed out trying to connect"
            raise UsageError(f"cannot use the Dask scheduler at {args.scheduler}: {exc}") from None
        raise


def stage_train(args, architectures: list[str]) -> dict:
    from .train import configure_device, train

    device = configure_device()
    with stage_times.timed(args.out, "encode", skip=_encoded_already(args, ("train", "val"))):
        train_data = _encode(args, "train", args.models)
        val_data = _encode(args, "val", args.models)
    runs = {}
    for arch in _all_members(architectures):
        settings = _settings(args, arch)
        log.info("training %s on %d curves (%s)", arch, int(train_data.targets.valid.sum()), device)
        with stage_times.timed(args.out, f"train {arch}",
                               skip=is_finished(read_state(args.out / "runs" / arch), settings)):
            runs[arch] = train(train_data, val_data, len(args.models), args.out / "runs" / arch,
                               settings)
    return runs


def _encoded_already(args, splits) -> bool:
    """Whether every split is in the input cache already (its record written last)."""
    from sasnets_plugin.preprocessing import PREPROCESSING_VERSION

    folder = args.out / "cache" / PREPROCESSING_VERSION
    return all((folder / f"{split}.json").is_file() for split in splits)


def _training_record(runs_dir: Path, architecture: str) -> tuple[dict, dict]:
    """How each member was trained (settings, hyperparameters, time) and its history."""
    from .train import read_state

    record, histories = {}, {}
    for member in members(architecture):
        state = read_state(runs_dir / member)
        record[member] = {"settings": state["settings"], "hyperparameters": hyperparameters(member),
                          "training_seconds": state["seconds"], "epochs_run": state["epoch"],
                          "best_epoch": state["best_epoch"]}
        histories[member] = state["history"]
    return record, histories


def _check_trained(args, architectures: list[str]) -> None:
    from .train import best_checkpoint

    for member in _all_members(architectures):
        try:
            best_checkpoint(args.out / "runs" / member)
        except TrainingError as exc:
            raise UsageError(f"cannot evaluate before training: {exc}") from None


def stage_evaluate(args, architectures: list[str]) -> dict:
    import numpy as np

    from sasnets_plugin.novelty import Novelty
    from sasnets_plugin.preprocessing import get_transform

    from sasnets_plugin.estimates import make_slots

    from . import estimate_scores, ood
    from .ensemble import load_network
    from .evaluate import (FAR_WINDOWS, calibrate, predict_heads, real_curves, real_entries,
                           real_scores, save_plots, scores, structure_volfraction,
                           unseen_curves, write_report)
    from .heads import STRUCTURE_CLASSES, joint_classes

    _check_trained(args, architectures)
    transform = get_transform()
    forms = list(args.models)
    names = joint_classes(forms)
    out = args.out / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    splits = {s: _encode(args, s, forms) for s in ("train", "val", "test", "shifted")
              if s != "shifted" or args.shifted_per_model}
    listed = set(names)
    real = [(e, p) for e, p in real_curves(real_entries())
            if {e["model"], *e.get("also_accept", [])} & listed]
    unseen_models, unseen = unseen_curves(forms, args.seed)
    report = {"classes": names, "forms": forms, "structures": list(STRUCTURE_CLASSES),
              "main": architectures[0], "dataset": str(dataset_dir(args)),
              "unseen_models": unseen_models, "real_files_in_list": len(real), "architectures": {}}
    histories, ood_scores, predicted_estimates = {}, {}, None
    volfractions = {s: structure_volfraction(d.estimates, make_slots(forms))
                    for s, d in splits.items()}
    rng = np.random.default_rng(args.seed)
    train_valid = np.flatnonzero(splits["train"].targets.valid)
    fit_rows = np.sort(rng.choice(train_valid, min(ood.N_FIT, len(train_valid)), replace=False))
    for arch in dict.fromkeys(architectures + _all_members(architectures)):
        model = load_network(args.out / "runs", arch)
        heads = {s: predict_heads(model, d.inputs) for s, d in splits.items() if s != "train"}
        calibrated = calibrate(heads["val"], splits["val"].targets, forms)
        result: dict = {"temperature": {"form": calibrated.temperature_form,
                                        "structure": calibrated.temperature_structure}}
        for split in ("test", "shifted"):
            if split not in splits:
                continue
            valid = splits[split].targets.valid
            probs = calibrated.probabilities(heads[split][0], heads[split][1])[valid]
            result[split] = scores(probs, names, splits[split].labels[valid].tolist(),
                                   confusion=arch == architectures[0] and split == "test",
                                   volfraction=volfractions[split][valid])
            if arch == architectures[0] and args.equivalent_sample > 0:
                result[split]["with_equivalents"] = _with_equivalents(
                    args, split, splits[split], probs, names)
            if arch == architectures[0] and len(heads[split]) > 3:
                result[split]["estimates"] = estimate_scores.score(
                    heads[split][3], splits[split].estimates, make_slots(forms))
        if real:
            x = np.stack([transform.encode(p_.curve) for _, p_ in real])
            f, s = predict_heads(model, x)[:2]
            result["real"] = real_scores(calibrated.probabilities(f, s), names,
                                         [e for e, _ in real])
        if arch == architectures[0] and len(heads["test"]) > 3:
            predicted_estimates = heads["test"][3]
        if arch in architectures:  # the OOD reference of every network that can be exported
            fit_heads = predict_heads(model, splits["train"].inputs[fit_rows])
            maha = ood.fit_mahalanobis(fit_heads[2], splits["train"].targets.form[fit_rows])
            val_d = maha.distance(heads["val"][2])
            record = ood.fit_record(splits["train"].windows[train_valid], splits["val"].windows,
                                    val_d, args.seed)
            novelty = Novelty(record)
            test_w, test_d = splits["test"].windows, maha.distance(heads["test"][2])
            sets = {"test": ood.scores(novelty, test_w, test_d)}
            if "shifted" in splits:
                sets["shifted split"] = ood.scores(novelty, splits["shifted"].windows,
                                                   maha.distance(heads["shifted"][2]))
            for label, factor in FAR_WINDOWS.items():
                # the input is shift-invariant (tests/test_preprocessing.py): only the window moves
                sets[label] = ood.scores(novelty, test_w + np.log10(factor), test_d)
            if unseen:
                x = np.stack([transform.encode(c) for c in unseen])
                windows = np.log10([[c.q[0], c.q[-1]] for c in unseen])
                sets["unseen models (" + ", ".join(unseen_models) + ")"] = ood.scores(
                    novelty, windows, maha.distance(predict_heads(model, x)[2]))
            result["ood"] = {
                "threshold": record["threshold"], "false_alarm": record["false_alarm"],
                "sets": {k: {"n": int(len(v)), "flagged": float((v > record["threshold"]).mean()),
                             "auroc_vs_test": None if k == "test" else ood.auroc(sets["test"], v)}
                         for k, v in sets.items()}}
            np.savez(out / f"ood-{arch}.npz", means=maha.means, cholesky=maha.cholesky)
            (out / f"novelty-{arch}.json").write_text(json.dumps(record))
            if arch == architectures[0]:
                ood_scores = sets
        result["training"], trained = _training_record(args.out / "runs", arch)
        histories.update(trained)
        result["training_seconds"] = sum(m["training_seconds"] for m in result["training"].values())
        report["architectures"][arch] = result
        t = result["test"]
        log.info("%s on test: top-1 %.1f %%, top-5 %.1f %%, form top-1 %.1f %%, ECE %.3f, 90 %% set "
                 "coverage %.1f %% (mean size %.1f)", arch, 100 * t["top1"], 100 * t["top5"],
                 100 * t["form_top1"], t["ece"], 100 * t["credible_set"]["coverage"],
                 t["credible_set"]["mean_size"])
    if str(args.shipped_weights) != "none":
        report["shipped"] = evaluate_shipped(args, args.shipped_weights, splits, forms, real,
                                             volfractions)
    report["plots"] = save_plots(architectures[0], report, histories, ood_scores, out)
    if predicted_estimates is not None and estimate_scores.plot(
            predicted_estimates, splits["test"].estimates, make_slots(forms),
            out / ESTIMATES_PLOT, args.seed):
        report["plots"].append(ESTIMATES_PLOT)
    write_report(out, report)
    return report


#: The plot of the main network's estimates against the truth (test split).
ESTIMATES_PLOT = "estimates.png"


def _with_equivalents(args, split: str, encoded, probs, names: list[str]) -> dict:
    """:func:`training.evaluate.sets_with_equivalents` on a sample of ``split``: the
    valid rows' curves as files would give them (q, I, dI and the resolution)."""
    import numpy as np

    from sasnets_plugin.loading import RawCurve

    from .dataset import load_split
    from .evaluate import sets_with_equivalents

    data = load_split(dataset_dir(args), split)
    rows = np.flatnonzero(encoded.targets.valid)
    labels = encoded.labels[rows].tolist()

    def raw_curve(i: int) -> RawCurve:
        row = int(rows[i])
        if str(data.label[row]) != labels[i]:
            raise RuntimeError(f"{split}: row {row} of the dataset and of its encoding differ")
        q, intensity, error, dq, slit = data.curve(row)
        return RawCurve(f"{split}[{row}]", q, intensity, error, dQ=dq,
                        dQl=None if dq is not None else np.full_like(q, slit))

    log.info("%s: checking %d credible sets and top %d for models that fit as well as the true "
             "one", split, min(args.equivalent_sample, len(rows)), EQUIVALENT_TOP)
    return sets_with_equivalents(probs, names, labels, raw_curve, args.equivalent_sample,
                                 args.seed, workers=args.workers or None)


def evaluate_shipped(args, weights: Path, splits: dict, forms: list[str], real: list,
                     volfractions: dict) -> dict:
    """The current network on the same curves, through the runtime, with its own transform."""
    import numpy as np

    from sasnets_plugin.classifier import Classifier
    from sasnets_plugin.errors import WeightsError

    from .evaluate import real_scores, scores

    try:
        classifier = Classifier(weights)
    except WeightsError as exc:
        raise UsageError(f"--shipped-weights: {exc}") from None
    version = classifier.transform.version
    row: dict = {"weights": str(weights), "preprocessing_version": version,
                 "architecture": classifier.metadata.get("architecture")}
    for split in ("test", "shifted"):
        if split in splits:
            data = _encode(args, split, forms, version)
            valid = data.targets.valid
            probs = classifier.predict(np.asarray(data.inputs)[valid])
            row[split] = scores(probs, classifier.classes, data.labels[valid].tolist(),
                                volfraction=volfractions[split][valid])
    if real:
        x = np.stack([classifier.transform.encode(p.curve) for _, p in real])
        row["real"] = real_scores(classifier.predict(x), classifier.classes, [e for e, _ in real])
    log.info("shipped network (%s) on test: top-1 %.1f %%, form top-1 %.1f %%", version,
             100 * row["test"]["top1"], 100 * row["test"]["form_top1"])
    return row


def stage_export(args, architectures: list[str], argv: list[str]) -> Path:
    arch = architectures[0]
    evaluation = args.out / "evaluation"
    report_path = evaluation / "report.json"
    if not report_path.is_file():
        raise UsageError(f"cannot export before evaluating: {report_path} does not exist; run "
                         "the evaluate stage first.")
    report = json.loads(report_path.read_text())
    if arch not in report["architectures"] or not (evaluation / f"ood-{arch}.npz").is_file():
        raise UsageError(f"{report_path} holds no evaluation of {arch}: run the evaluate stage "
                         f"with --architectures {args.architectures}.")

    import keras
    import numpy as np
    import sasmodels

    from .ensemble import load_network
    from .export import export
    from .heads import joint_matrix
    from .ood import Mahalanobis
    from .train import accelerator
    result = report["architectures"][arch]
    dataset_manifest = json.loads((dataset_dir(args) / MANIFEST).read_text())
    headline = ("top1", "top3", "top5", "mean_rank", "form_top1", "form_top5", "ece", "n_curves")
    metadata = {
        "architecture": arch,
        # the whole pipeline with these options reproduces the weights (stages are skipped
        # when their output exists, so the stage actually run is not part of the recipe)
        "command": "python -m training.run " + shlex.join(a for a in argv if a not in STAGES),
        "training": result["training"],  # per member: settings, hyperparameters, time
        "training_seconds": result["training_seconds"],
        "stage_seconds": stage_times.totals(args.out),  # wall time of each stage, this run
        "data": dataset_manifest,
        "test_scores": {k: result["test"][k] for k in headline},
        "shifted_scores": ({k: result["shifted"][k] for k in headline}
                           if "shifted" in result else None),
        "baseline": ({k: report["architectures"][BASELINE_ARCHITECTURE]["test"][k] for k in headline}
                     if BASELINE_ARCHITECTURE in report["architectures"]
                     and arch != BASELINE_ARCHITECTURE else None),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "keras_backend": keras.backend.backend(), "keras": keras.__version__,
                    "sasmodels": sasmodels.__version__, "device": accelerator()},
    }
    with np.load(evaluation / f"ood-{arch}.npz") as stored:
        mahalanobis = Mahalanobis(stored["means"], stored["cholesky"])
    novelty = json.loads((evaluation / f"novelty-{arch}.json").read_text())
    model = load_network(args.out / "runs", arch)
    out = export(model, result["temperature"], report["forms"], report["classes"],
                 joint_matrix(report["forms"]), mahalanobis, novelty, metadata, report,
                 evaluation, report["plots"] + ["report.md"], args.out / "weights")
    generation = dataset_dir(args) / "generation_report.json"
    if generation.is_file():  # throughput and rejection rates of the data behind the weights
        shutil.copy2(generation, out / generation.name)
    log.info("exported %s to %s", arch, out)
    if args.export_to:
        atomic.replace_folder(args.export_to, sorted(out.iterdir()))
        log.info("copied the network to %s", args.export_to)
    return out


def system_error(exc: OSError, out: Path) -> str:
    """A sentence for an OSError in a run writing in ``out``, with what to do when the
    disk is full or read-only."""
    text = (f"{exc.filename}: {exc.strerror or exc}" if exc.filename
            else f"{exc.strerror or exc} (in {out})")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"{text}. Free some space (or point --out elsewhere) and run the same command "
                "again: finished work is kept.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{text}. Give an --out (and --dataset) folder this user can write."
    return f"{text}."


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    environment.configure()
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("sasmodels").setLevel(logging.WARNING)
    started = time.perf_counter()
    try:
        architectures = check_arguments(args)
        if args.extend_from is not None:  # adding models to a trained network
            from .extend import extend

            extend(args, argv)
            log.info("extension finished in %.0f s", time.perf_counter() - started)
            return 0
        default_folders(args)
        manifest = read_dataset_manifest(args, args.stage)
        settle_dataset_options(args, manifest)
        args.out.mkdir(parents=True, exist_ok=True)
        with atomic.exclusive(args.out / RUN_LOCK, UsageError(
                f"another run is writing here ({args.out}): wait for it to finish, or use "
                "another --out.")):
            if args.stage in ("generate", "all"):
                stage_generate(args, manifest)
            if args.stage in ("train", "all"):
                stage_train(args, architectures)
            if args.stage in ("evaluate", "all"):
                with stage_times.timed(args.out, "evaluate"):
                    stage_evaluate(args, architectures)
            if args.stage in ("export", "all"):
                with stage_times.timed(args.out, "export"):
                    stage_export(args, architectures, argv)
    except (UsageError, TrainingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a full disk, a read-only folder...
        print(f"error: {system_error(exc, args.out)}", file=sys.stderr)
        return EXIT_USAGE
    log.info("%s finished in %.0f s", args.stage, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
