"""Add models to a trained network in half an hour instead of a six-hour retraining.

    python -m training.run --models +superball --from model_weights
    python -m training.run --models +superball --from model_weights --export-to model_weights

A SasView user who writes a plugin model should not wait for the whole dataset to be
simulated again. Starting from an exported network (``model_weights/``), this:

1. simulates curves of the new models only (:data:`EXTEND_PER_MODEL` each by default),
   and a small *replay* sample of every class the network already ranks
   (:data:`REPLAY_PER_MODEL` each), both with the same generator as a full dataset;
2. widens the form head by one output per new model (the structure head stays: a new
   form SasView combines with structure factors brings its products into the ranked list
   through the same head), keeping every trained weight;
3. fine-tunes on new + replay curves (:data:`FINE_TUNE`), every form weighing the same
   in the loss whatever its number of curves, the batch-normalisation statistics frozen;
4. evaluates like a normal run (temperatures on validation, scores, OOD reference) and
   checks that the other classes did not drop: the shipped network and the extended
   one on the same replay test curves, top-1 and top-5 paired curve by curve;
5. exports to ``OUT/weights`` (``--export-to`` copies it, e.g. to ``model_weights``).

Every step reuses finished work (datasets, input caches, checkpoints), so the same command
resumes after an interruption. Without ``--out`` the datasets and the run lie in the data
directory (:mod:`training.storage`); with it, in ``OUT/dataset`` (new models) and
``OUT/replay``.
"""
from __future__ import annotations

import json
import logging
import platform
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sasnets_plugin.classifier import MODEL_FILE, Classifier, read_metadata
from sasnets_plugin.errors import SasnetsError
from sasnets_plugin.estimates import make_slots, slots_from_metadata

from . import storage
from .architectures import ESTIMATE, FORM, STRUCTURE
from .ensemble import SEPARATOR
from .features import Encoded
from .generate import DEFAULT_SEED
from .heads import joint_classes, joint_matrix
from .train import TrainingError, TrainSettings

log = logging.getLogger("training.extend")


class ExtensionError(TrainingError):
    """A network or command line that cannot be extended; the message says why and what
    to do (``python -m training.run`` prints it as ``error: ...``, exit status 2)."""

#: Curves per new model (80/10/10 train/val/test). Superball, the slowest family model,
#: costs 0.31 CPU-s a curve (measured: 64 curves in 19.6 CPU-s, generator v4), so 3,000
#: take 7.8 min on this machine's 2 cores: the largest share of the half hour.
EXTEND_PER_MODEL = 3000
#: Curves per new model in the shifted split (held-out instrument and prior family).
EXTEND_SHIFTED_PER_MODEL = 100
#: Curves per class already ranked, simulated to replay it while fine-tuning.
REPLAY_PER_MODEL = 100
#: How the fine-tuning trains where the command line leaves the training options at their
#: defaults (those of a training from nothing): small batches, so that the new outputs get
#: enough steps from a few thousand curves, at a thirtieth of the rate, so that what the
#: replay cannot show again is not undone. Calibrated on the +superball run (3,000 curves,
#: replay 100 per class): rates 1e-3, 3e-4 and 1e-4 moved the other classes' top-1 by
#: -3.9, -1.1 and -0.7 points (± 1.3, paired, 710 replay test curves) and gave superball
#: a top-1 of 57, 57 and 61 %; the validation loss ranks them alike (1.93, 1.87, 1.83).
FINE_TUNE = TrainSettings(epochs=12, batch_size=64, learning_rate=1e-4, patience=4)
#: A drop of the other classes' top-1 beyond this many standard errors (paired over the
#: replay test curves) is reported as a drop, smaller ones as noise.
DROP_SIGMAS = 2.0
#: Curves (new and replay) the new outputs are first fitted on, and the ridge penalty of
#: that fit, which keeps it finite where the new model's curves are separable.
PROBE_CURVES = 20000
PROBE_L2 = 1e-3
#: Headline scores recorded in ``metadata.json``.
HEADLINE = ("top1", "top3", "top5", "mean_rank", "form_top1", "form_top5", "ece", "n_curves")


def add_arguments(parser) -> None:
    """The options of ``python -m training.run`` that add models to a trained network."""
    group = parser.add_argument_group(
        "adding models to a trained network (see training/extend.py)")
    group.add_argument(
        "--from", dest="extend_from", type=Path, default=None, metavar="WEIGHTS",
        help="extend this exported network (e.g. model_weights) by the models of --models "
        "it does not rank yet (e.g. --models +superball): simulates only those "
        f"(--per-model, default {EXTEND_PER_MODEL}; --shifted-per-model, default "
        f"{EXTEND_SHIFTED_PER_MODEL}) and a replay sample of the others, fine-tunes "
        f"(unless given: --epochs {FINE_TUNE.epochs}, --batch-size {FINE_TUNE.batch_size}, "
        f"--learning-rate {FINE_TUNE.learning_rate:g}), evaluates and exports to OUT/weights")
    group.add_argument(
        "--replay-per-model", type=int, default=REPLAY_PER_MODEL, metavar="N",
        help="with --from: curves per class already ranked, replayed while fine-tuning "
        "(default %(default)s)")


@dataclass(frozen=True)
class Plan:
    """What an extension works on: the network it starts from and its data."""

    weights: Path
    architecture: str
    old_forms: list[str]
    new_forms: list[str]
    per_model: int
    shifted_per_model: int
    replay_per_model: int
    seed: int
    out: Path
    new_dataset: Path
    replay_dataset: Path

    @property
    def forms(self) -> list[str]:
        return self.old_forms + self.new_forms


def plan(args) -> Plan:
    """Check the command line against the network in ``--from``; the folders to use."""
    from sasnets_plugin.preprocessing import PREPROCESSING_VERSION

    weights = args.extend_from
    if args.stage != "all":
        raise ExtensionError("--from runs every step itself (and resumes where it stopped): "
                         f"leave out the stage {args.stage!r}.")
    try:
        metadata = Classifier(weights).metadata  # every file there, as the export left it
    except SasnetsError as exc:
        raise ExtensionError(f"--from: {exc}") from None
    architecture, old = metadata.get("architecture"), list(metadata.get("forms") or [])
    if not architecture or not old:
        raise ExtensionError(f"--from: {weights} records no architecture and forms in its "
                         "metadata.json (a network exported before v3 cannot be extended).")
    if SEPARATOR in architecture:
        raise ExtensionError(f"--from: the network in {weights} is an ensemble ({architecture}); "
                         "only a single network can be extended.")
    if metadata.get("preprocessing_version") != PREPROCESSING_VERSION:
        raise ExtensionError(f"--from: the network in {weights} reads preprocessing "
                         f"{metadata.get('preprocessing_version')!r}, this code makes "
                         f"{PREPROCESSING_VERSION!r}: retrain it instead of extending it.")
    if args.models is None:
        raise ExtensionError("--from needs --models with the models to add (e.g. --models "
                         "+superball: the default classes and superball).")
    missing = [f for f in old if f not in args.models]
    if missing:
        raise ExtensionError(f"--models leaves out {len(missing)} class(es) the network in "
                         f"{weights} ranks ({', '.join(missing[:5])}"
                         f"{', ...' if len(missing) > 5 else ''}); extending keeps them all: "
                         "write the new models as +name.")
    new = [m for m in args.models if m not in old]
    if not new:
        raise ExtensionError(f"--models names no model that the network in {weights} does not "
                         "rank already: nothing to add.")
    if args.replay_per_model < 3:
        raise ExtensionError("--replay-per-model must be at least 3 (one curve each for train, "
                         f"val and test), not {args.replay_per_model}.")
    per_model = EXTEND_PER_MODEL if args.per_model is None else args.per_model
    shifted = EXTEND_SHIFTED_PER_MODEL if args.shifted_per_model is None else args.shifted_per_model
    seed = DEFAULT_SEED if args.seed is None else args.seed
    if args.out is not None:
        out = args.out
        new_dataset = args.dataset or out / "dataset"
        replay = out / "replay"
    else:
        key = storage.data_key(old + new, per_model, shifted, seed)
        out = storage.data_root() / "runs" / f"extend-{key}-r{args.replay_per_model}"
        new_dataset = args.dataset or storage.default_dataset(new, per_model, shifted, seed)
        replay = storage.default_dataset(old, args.replay_per_model, 0, seed)
    return Plan(weights, architecture, old, new, per_model, shifted, args.replay_per_model,
                seed, out, new_dataset, replay)


# --------------------------------------------------------------------------- data

def _generate(folder: Path, models: list[str], per_model: int, shifted: int, seed: int,
              args) -> None:
    from .generate import generate_dataset

    try:
        generate_dataset(folder, models, per_model, seed=seed, workers=args.workers,
                         shifted_per_model=shifted, scheduler=args.scheduler,
                         serial_sample=0, progress=not args.quiet)
    except (ValueError, RuntimeError) as exc:
        raise ExtensionError(str(exc)) from None


def concatenate(parts: list[Encoded], forms: list[str]) -> Encoded:
    """One in-memory split from several (same forms, so the targets simply stack)."""
    from .heads import encode_labels

    labels = np.concatenate([p.labels for p in parts])
    estimated = (None if any(p.estimates is None for p in parts)
                 else np.concatenate([np.asarray(p.estimates) for p in parts]))
    return Encoded(np.concatenate([np.asarray(p.inputs) for p in parts]), labels,
                   np.concatenate([p.windows for p in parts]),
                   encode_labels(labels.tolist(), forms), estimated)


def _encode(p: Plan, dataset: Path, name: str, split: str) -> Encoded:
    from sasnets_plugin.preprocessing import PREPROCESSING_VERSION

    from .features import encode_split

    return encode_split(dataset, split, p.forms, PREPROCESSING_VERSION, p.out / "cache" / name)


# --------------------------------------------------------------------------- network

def fine_tune_settings(args, architecture: str, seed: int) -> TrainSettings:
    """:data:`FINE_TUNE`, with each training option the command line sets to other than a
    training from nothing's default."""
    scratch = TrainSettings()
    chosen = {key: getattr(args, key) if getattr(args, key) != getattr(scratch, key)
              else getattr(FINE_TUNE, key)
              for key in ("epochs", "batch_size", "learning_rate", "patience")}
    return TrainSettings(architecture=architecture, seed=seed, **chosen)


def trained_network(weights: Path):
    """The ``[form, structure, embedding]`` network inside an exported ``model.keras``
    (:func:`training.export.export_model` wraps it as one nested model)."""
    import keras

    exported = keras.saving.load_model(weights / MODEL_FILE, compile=False)
    inner = [layer for layer in exported.layers if isinstance(layer, keras.Model)]
    if len(inner) != 1 or FORM not in [layer.name for layer in inner[0].layers]:
        raise ExtensionError(f"--from: {weights / MODEL_FILE} holds no single trained network "
                         "with a form head (not written by training.export?).")
    return inner[0]


def fit_new_outputs(features: np.ndarray, forms: np.ndarray, weights: np.ndarray,
                    kernel: np.ndarray, bias: np.ndarray, n_new: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights and biases of ``n_new`` form outputs after the trained ones, fitted on fixed
    features (softmax cross-entropy over all outputs, the trained ones held, weighted
    ``weights``, a small L2 penalty :data:`PROBE_L2`): where the new outputs start."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    n, d = features.shape
    n_old = kernel.shape[1]
    z_old = features @ kernel + bias
    w = weights / weights.sum()
    target = forms[:, None] == n_old + np.arange(n_new)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        new_w, new_b = theta[:d * n_new].reshape(d, n_new), theta[d * n_new:]
        z = np.concatenate([z_old, features @ new_w + new_b], axis=1)
        lse = logsumexp(z, axis=1)
        g = (np.exp(z[:, n_old:] - lse[:, None]) - target) * w[:, None]
        value = w @ (lse - z[np.arange(n), forms]) + PROBE_L2 * (new_w ** 2).sum()
        return value, np.concatenate([(features.T @ g + 2 * PROBE_L2 * new_w).ravel(), g.sum(0)])

    fitted = minimize(loss, np.zeros(d * n_new + n_new), jac=True, method="L-BFGS-B",
                      options={"maxiter": 500}).x
    return fitted[:d * n_new].reshape(d, n_new), fitted[d * n_new:]


def widen_estimates(network, old_slots: tuple, new_slots: tuple):
    """The estimate head of ``network`` for ``new_slots``: the columns of the slots it
    already estimates are kept, a new model's start at zero (the window's scale)."""
    from keras import layers

    old = network.get_layer(ESTIMATE)
    kernel, bias = old.get_weights()
    where = {(s.model, s.parameter): i for i, s in enumerate(old_slots)}
    new_kernel = np.zeros((kernel.shape[0], len(new_slots)), np.float32)
    new_bias = np.zeros(len(new_slots), np.float32)
    for j, slot in enumerate(new_slots):
        i = where.get((slot.model, slot.parameter))
        if i is not None:
            new_kernel[:, j], new_bias[j] = kernel[:, i], bias[i]
    head = layers.Dense(len(new_slots), name=ESTIMATE, dtype="float32")
    output = head(old.input)
    head.set_weights([new_kernel, new_bias])
    return output


def widen(network, train: Encoded, n_new: int, seed: int = 0, old_slots: tuple = (),
          forms: list[str] | None = None):
    """``network`` as a ``{form, structure}`` training model whose form head has ``n_new``
    more outputs (the last forms of ``train``'s targets); a network with estimates
    (``old_slots``, from its metadata) keeps them and gets the slots of all ``forms``.

    Trained weights are kept. The new outputs start fitted on the trained features of
    (up to :data:`PROBE_CURVES`) ``train`` curves, every form weighing alike
    (:func:`fit_new_outputs`): started from nothing, or as a mix of the old outputs, a new
    output stays below the others for more steps than a fine-tuning has. Batch
    normalisation is frozen, so replay and new curves do not move the statistics the old
    classes rely on."""
    import keras
    from keras import layers

    from .train import form_balanced_weights

    for layer in network.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    old = network.get_layer(FORM)
    kernel, bias = (v.astype(np.float64) for v in old.get_weights())
    rows = np.flatnonzero(train.targets.valid)
    rows = np.sort(np.random.default_rng(seed).choice(rows, min(PROBE_CURVES, len(rows)),
                                                      replace=False))
    features = keras.Model(network.input, old.input).predict(
        np.asarray(train.inputs[rows]), batch_size=1024, verbose=0).astype(np.float64)
    balance = form_balanced_weights(train.targets)[rows].astype(np.float64)
    new_kernel, new_bias = fit_new_outputs(features, train.targets.form[rows], balance,
                                           kernel, bias, n_new)
    head = layers.Dense(kernel.shape[1] + n_new, name=FORM, dtype="float32")
    logits = head(old.input)
    head.set_weights([np.concatenate([kernel, new_kernel], axis=1).astype(np.float32),
                      np.concatenate([bias, new_bias]).astype(np.float32)])
    outputs = {FORM: logits, STRUCTURE: network.get_layer(STRUCTURE).output}
    if old_slots and forms and train.estimates is not None:
        outputs[ESTIMATE] = widen_estimates(network, old_slots, make_slots(forms))
    return keras.Model(network.input, outputs, name=network.name)



# --------------------------------------------------------------------------- evaluation

def paired(before: np.ndarray, after: np.ndarray) -> dict:
    """Change of a hit rate on the same curves, with its paired standard error."""
    d = after.astype(float) - before.astype(float)
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    change = float(d.mean())
    return {"before": float(before.mean()), "after": float(after.mean()), "change": change,
            "standard_error": se, "dropped": bool(change < -DROP_SIGMAS * se)}


def evaluate(p: Plan, model, data: dict[str, dict[str, Encoded]], evaluation: Path) -> dict:
    """Scores of the extended network (new models' test and shifted curves, replay test
    curves before and after), temperatures and the OOD reference (written to
    ``evaluation``); the report."""
    from . import ood
    from .evaluate import calibrate, predict_heads, scores, true_ranks

    names = joint_classes(p.forms)
    val = concatenate([data["new"]["val"], data["replay"]["val"]], p.forms)
    val_heads = predict_heads(model, val.inputs)
    calibrated = calibrate(val_heads, val.targets, p.forms)

    def probabilities(encoded: Encoded) -> tuple[np.ndarray, list[str]]:
        valid = encoded.targets.valid
        f, s = predict_heads(model, encoded.inputs[valid])[:2]
        return calibrated.probabilities(f, s), encoded.labels[valid].tolist()

    report: dict = {"extended_from": str(p.weights), "architecture": p.architecture,
                    "new_models": p.new_forms, "forms": p.forms, "classes": names,
                    "datasets": {"new": str(p.new_dataset), "replay": str(p.replay_dataset)},
                    "temperature": {"form": calibrated.temperature_form,
                                    "structure": calibrated.temperature_structure},
                    "new": {}}
    for split in ("test", "shifted"):
        if split in data["new"]:
            probs, labels = probabilities(data["new"][split])
            report["new"][split] = scores(probs, names, labels)
    replay = data["replay"]["test"]
    after, labels = probabilities(replay)
    shipped = Classifier(p.weights)
    before = shipped.predict(np.asarray(replay.inputs)[replay.targets.valid])
    ranks_before = true_ranks(before, shipped.classes, labels)
    ranks_after = true_ranks(after, names, labels)
    report["replay"] = {"before": scores(before, shipped.classes, labels),
                        "after": scores(after, names, labels),
                        "paired": {f"top{k}": paired(ranks_before <= k, ranks_after <= k)
                                   for k in (1, 5)}}
    train = concatenate([data["new"]["train"], data["replay"]["train"]], p.forms)
    rows = np.flatnonzero(train.targets.valid)
    rows = np.sort(np.random.default_rng(p.seed).choice(rows, min(ood.N_FIT, len(rows)),
                                                        replace=False))
    maha = ood.fit_mahalanobis(predict_heads(model, train.inputs[rows])[2],
                               train.targets.form[rows])
    novelty = ood.fit_record(train.windows[rows], val.windows,
                             maha.distance(val_heads[2]), p.seed)
    report["ood"] = {"threshold": novelty["threshold"], "false_alarm": novelty["false_alarm"]}
    evaluation.mkdir(parents=True, exist_ok=True)
    np.savez(evaluation / "ood.npz", means=maha.means, cholesky=maha.cholesky)
    (evaluation / "novelty.json").write_text(json.dumps(novelty))
    return report


def summary_markdown(report: dict) -> str:
    """The report's headline as Markdown."""
    def pct(x: float) -> str:
        return f"{100 * x:.1f} %"

    lines = [f"### {', '.join(report['new_models'])} added to {report['extended_from']}", "",
             "| curves | n | top-1 | top-5 | form top-1 |", "| --- | --- | --- | --- | --- |"]
    rows = {f"new models, {k}": v for k, v in report["new"].items()}
    rows.update({f"other classes (replay test), {k}": report["replay"][k]
                 for k in ("before", "after")})
    for name, s in rows.items():
        lines.append(f"| {name} | {s['n_curves']} | {pct(s['top1'])} | {pct(s['top5'])} | "
                     f"{pct(s['form_top1'])} |")
    lines += ["", "Other classes, same curves before and after (paired):", ""]
    for k, row in report["replay"]["paired"].items():
        lines.append(f"- {k}: {pct(row['before'])} -> {pct(row['after'])} (change "
                     f"{100 * row['change']:+.1f} ± {100 * row['standard_error']:.1f} points"
                     f"{', a drop' if row['dropped'] else ''})")
    timings = report.get("timings_s", {})
    if timings:
        lines += ["", "Time per step: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the whole

def extend(args, argv: list[str]) -> Path:
    """``python -m training.run --from WEIGHTS --models +NEW``: the module docstring's
    steps; returns the exported weights folder."""
    import keras
    import sasmodels

    from .atomic import write_bytes
    from .dataset import read_manifest
    from .ensemble import load_network
    from .export import export
    from .ood import Mahalanobis
    from .run import _training_record  # how a run's network was trained, as run records it
    from .train import accelerator, configure_device, train

    p = plan(args)
    log.info("adding %s to the %d-class network in %s; new curves %s, replay %s, run %s",
             ", ".join(p.new_forms), len(p.old_forms), p.weights, p.new_dataset,
             p.replay_dataset, p.out)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    _generate(p.new_dataset, p.new_forms, p.per_model, p.shifted_per_model, p.seed, args)
    timings["simulate new models"] = time.perf_counter() - started
    started = time.perf_counter()
    _generate(p.replay_dataset, p.old_forms, p.replay_per_model, 0, p.seed, args)
    timings["simulate replay"] = time.perf_counter() - started

    started = time.perf_counter()
    splits = ("train", "val", "test") + (("shifted",) if p.shifted_per_model else ())
    data = {"new": {s: _encode(p, p.new_dataset, "new", s) for s in splits},
            "replay": {s: _encode(p, p.replay_dataset, "replay", s) for s in ("train", "val", "test")}}
    timings["encode"] = time.perf_counter() - started

    started = time.perf_counter()
    device = configure_device()
    settings = fine_tune_settings(args, p.architecture, p.seed)
    train_data = concatenate([data["new"]["train"], data["replay"]["train"]], p.forms)
    val_data = concatenate([data["new"]["val"], data["replay"]["val"]], p.forms)
    log.info("fine-tuning %s on %d curves (%s)", p.architecture,
             int(train_data.targets.valid.sum()), device)
    train(train_data, val_data, len(p.forms), p.out / "runs" / p.architecture, settings,
          initial=lambda: widen(trained_network(p.weights), train_data, len(p.new_forms), p.seed,
                                slots_from_metadata(read_metadata(p.weights)), p.forms),
          balance=True)
    timings["fine-tune"] = time.perf_counter() - started

    started = time.perf_counter()
    evaluation = p.out / "evaluation"
    model = load_network(p.out / "runs", p.architecture)
    report = evaluate(p, model, data, evaluation)
    timings["evaluate"] = time.perf_counter() - started
    report["training"], _ = _training_record(p.out / "runs", p.architecture)
    for split, s in report["new"].items():
        log.info("%s, %s split: top-1 %.1f %%, top-5 %.1f %% (%d curves)",
                 ", ".join(p.new_forms), split, 100 * s["top1"], 100 * s["top5"], s["n_curves"])
    for k, row in report["replay"]["paired"].items():
        (log.warning if row["dropped"] else log.info)(
            "other classes on the same %d replay test curves, %s: %.1f %% before, %.1f %% "
            "after (%+.1f ± %.1f points)%s", report["replay"]["after"]["n_curves"], k,
            100 * row["before"], 100 * row["after"], 100 * row["change"],
            100 * row["standard_error"], ": a drop" if row["dropped"] else "")

    started = time.perf_counter()
    manifests = {"new": read_manifest(p.new_dataset), "replay": read_manifest(p.replay_dataset)}
    base = read_metadata(p.weights)
    metadata = {
        "architecture": p.architecture,
        "command": "python -m training.run " + shlex.join(argv),  # the stage is "all"
        "extended_from": {"weights": str(p.weights), "command": base.get("command"),
                          "forms": p.old_forms, "test_scores": base.get("test_scores")},
        "training": report["training"],
        "training_seconds": sum(m["training_seconds"] for m in report["training"].values()),
        "data": manifests,
        "test_scores": {k: report["new"]["test"][k] for k in HEADLINE},
        "shifted_scores": ({k: report["new"]["shifted"][k] for k in HEADLINE}
                           if "shifted" in report["new"] else None),
        "replay_scores": {k: {m: report["replay"][k][m] for m in HEADLINE}
                          for k in ("before", "after")},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "keras_backend": keras.backend.backend(), "keras": keras.__version__,
                    "sasmodels": sasmodels.__version__, "device": accelerator()},
    }
    with np.load(evaluation / "ood.npz") as stored:
        mahalanobis = Mahalanobis(stored["means"], stored["cholesky"])
    novelty = json.loads((evaluation / "novelty.json").read_text())
    report["timings_s"] = timings
    write_bytes(evaluation / "report.md", summary_markdown(report).encode())
    out = export(model, report["temperature"], p.forms, report["classes"], joint_matrix(p.forms),
                 mahalanobis, novelty, metadata, report, evaluation, ["report.md"],
                 p.out / "weights")
    timings["export"] = time.perf_counter() - started
    log.info("exported the %d-class network to %s; time per step: %s", len(p.forms), out,
             ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    if args.export_to:
        args.export_to.mkdir(parents=True, exist_ok=True)
        for item in out.iterdir():
            shutil.copy2(item, args.export_to / item.name)
        log.info("copied the network to %s", args.export_to)
    return out
