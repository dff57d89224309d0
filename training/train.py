"""Train one architecture: fixed seeds, a checkpoint every epoch, resume after any stop.

A run folder holds ``state.json`` (settings, epoch, history, the names of the current
checkpoints) and two checkpoints, ``epoch-NNNN.keras`` (the last epoch, with its
optimiser) and ``best-NNNN.keras`` (lowest validation loss). After each epoch the new
checkpoints are written under temporary names and renamed (:mod:`training.atomic`), then
``state.json`` is replaced the same way, and only then are the previous checkpoints
deleted. So whenever the process dies (kill -9 included), ``state.json`` is whole and
names files that exist; the same command resumes after the last finished epoch, with the
batch order and random state that epoch would have had anyway. The rows of each batch
are a function of (seed, epoch); two random states that a ``.keras`` file does not hold
are kept in ``state.json`` after every epoch and restored: the counters of the dropout
layers' random generators and Python's ``random`` state, with which Keras shuffles the
order of the batches. Without them a resumed run diverged from the first resumed epoch
(its weights ended 0.04 away from the uninterrupted run's after 5 epochs of a tiny run);
with them it ends with the same weights (``tests/test_reliability_sweep_training.py``).
A run whose loss stops being finite is stopped with a :class:`TrainingError` before that
epoch is saved.

The training batches come from the memory-mapped cache (:mod:`training.features`), so
the full dataset never has to fit in memory. Only Keras 3 APIs are used, so any Keras
backend trains (``KERAS_BACKEND=jax``, ``torch`` or the default ``tensorflow``); when the
backend computes on a GPU it does so with mixed precision, otherwise on the CPU.
"""
from __future__ import annotations

import json
import logging
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from sasnets_plugin import environment

from . import atomic
from .architectures import ESTIMATE, FORM, STRUCTURE
from .features import Encoded
from .heads import STRUCTURE_CLASSES

log = logging.getLogger(__name__)

STATE = "state.json"
LAST_PATTERN = "epoch-{:04d}.keras"
BEST_PATTERN = "best-{:04d}.keras"
LOCK = ".train.lock"
#: Name Keras gives the state variable of each random generator (one per dropout layer).
SEED_STATE = "seed_generator_state"


class TrainingError(RuntimeError):
    """A run that cannot be trained or resumed, with the reason for the user."""


@dataclass(frozen=True)
class TrainSettings:
    """Everything that shapes a training run (stored with the run and the weights)."""

    architecture: str = "resnet1d"
    epochs: int = 8  # network v4: 8 (v3: 12), so that the whole pipeline fits 3 h here
    batch_size: int = 512
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 4
    seed: int = 2017
    structure_loss_weight: float = 1.0
    estimate_loss_weight: float = 1.0


#: Where the estimate loss turns from quadratic to linear (log10 units for lengths: a
#: factor 3 off counts linearly, so a few curves whose size the window cannot tell do not
#: dominate).
HUBER_DELTA = 0.5


def masked_huber(y_true, y_pred):
    """The estimate head's loss: Huber over the slots a curve informs (the others are NaN
    in ``y_true``), averaged per curve; 0 for a curve that informs none."""
    from keras import ops

    known = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(known, y_pred - ops.where(known, y_true, 0.0), 0.0)
    size = ops.abs(diff)
    huber = ops.where(size <= HUBER_DELTA, 0.5 * diff * diff,
                      HUBER_DELTA * (size - 0.5 * HUBER_DELTA))
    count = ops.sum(ops.cast(known, huber.dtype), axis=-1)
    return ops.sum(huber, axis=-1) / ops.maximum(count, 1.0)


#: What loading a checkpoint needs to rebuild its compiled losses.
CUSTOM_OBJECTS = {"masked_huber": masked_huber}


def accelerator() -> str:
    """The kind of device the Keras backend computes on: ``"gpu"``, ``"tpu"`` or ``"cpu"``
    (asked of the backend itself, so no backend is imported that is not in use)."""
    environment.configure()
    import keras

    if keras.backend.backend() == "torch":  # keras.distribution has no torch support
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    devices = keras.distribution.list_devices()  # the accelerators' when there are any
    return devices[0].split(":")[0].lower() if devices else "cpu"


def configure_device() -> str:
    """Mixed precision on a GPU; returns ``"<backend> <device>"`` for the log."""
    import keras

    device = accelerator()
    if device == "gpu":
        keras.mixed_precision.set_global_policy("mixed_float16")
    return f"{keras.backend.backend()} {device}"


def form_balanced_weights(targets) -> np.ndarray:
    """Per-curve loss weights that give every form the same total weight, whatever its
    number of curves (zero for curves outside the list)."""
    valid = targets.valid
    counts = np.bincount(targets.form[valid])
    weights = np.zeros(len(valid), np.float32)
    present = np.count_nonzero(counts)
    weights[valid] = valid.sum() / (present * counts[targets.form[valid]])
    return weights


def _batches(data: Encoded, batch_size: int, seed: int | None, first_epoch: int = 0,
             balance: bool = False, estimates: bool = False):
    """A Keras ``PyDataset`` over the valid rows of ``data``: a new order every epoch from
    ``(seed, epoch)`` (no shuffling for ``seed=None``), so a resumed run sees the batches
    the uninterrupted one would have. ``balance``: :func:`form_balanced_weights`;
    ``estimates``: the estimate head's targets too."""
    import keras

    rows = np.flatnonzero(data.targets.valid)
    row_weights = (form_balanced_weights(data.targets) if balance
                   else np.ones(len(data.targets.valid), np.float32))

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = first_epoch

        def __len__(self) -> int:
            return math.ceil(len(rows) / batch_size)

        def _order(self) -> np.ndarray:
            if seed is None:
                return rows
            return rows[np.random.default_rng([seed, self.epoch]).permutation(len(rows))]

        def __getitem__(self, index: int):
            if getattr(self, "_cached_epoch", None) != self.epoch:
                self._cached_order, self._cached_epoch = self._order(), self.epoch
            pick = np.sort(self._cached_order[index * batch_size:(index + 1) * batch_size])
            t = data.targets
            x = np.asarray(data.inputs[pick], dtype=np.float32)
            y = {FORM: t.form[pick], STRUCTURE: t.structure[pick]}
            weights = {FORM: row_weights[pick], STRUCTURE: t.structure_weight[pick] * row_weights[pick]}
            if estimates:
                y[ESTIMATE] = np.asarray(data.estimates[pick], dtype=np.float32)
                weights[ESTIMATE] = row_weights[pick]
            return x, y, weights

        def on_epoch_end(self):
            self.epoch += 1

    return Batches()


def has_estimates(model) -> bool:
    """Whether ``model`` has the estimate head (network v4)."""
    return ESTIMATE in model.output


def _compile(model, settings: TrainSettings, steps_per_epoch: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        settings.learning_rate, settings.epochs * steps_per_epoch, alpha=0.02)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    losses = {FORM: loss, STRUCTURE: loss}
    weights = {FORM: 1.0, STRUCTURE: settings.structure_loss_weight}
    if has_estimates(model):
        losses[ESTIMATE], weights[ESTIMATE] = masked_huber, settings.estimate_loss_weight
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=settings.weight_decay),
                  loss=losses, loss_weights=weights,
                  metrics={FORM: ["accuracy"]},
                  # weighted: only the curves the structure head learns from (forms SasView
                  # combines); unweighted, it also counted the others' untrained answers
                  weighted_metrics={STRUCTURE: ["accuracy"]})


def read_state(run_dir: Path) -> dict | None:
    """The run's ``state.json`` (None when the run has not finished an epoch)."""
    path = Path(run_dir) / STATE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:  # not written by this module
        raise TrainingError(f"{path} is unreadable ({exc}); it was not written by this "
                            f"version of the training. Delete {run_dir} to start over.") from None


def best_checkpoint(run_dir: Path) -> Path:
    """The best checkpoint of a trained run, or a :class:`TrainingError` saying to train."""
    state = read_state(run_dir)
    if state is None or not state.get("best"):
        raise TrainingError(f"{run_dir} holds no trained network yet (no finished epoch): "
                            "run the train stage first.")
    return Path(run_dir) / state["best"]


def is_finished(state: dict | None, settings: TrainSettings) -> bool:
    return bool(state) and (state["epoch"] >= settings.epochs or state["wait"] >= settings.patience)


def _seed_states(model) -> list:
    """The model's random generator variables, in layer order (not saved by Keras)."""
    return [v for v in model.variables if v.path.endswith(SEED_STATE)]


def _random_state(model) -> dict:
    """What :func:`_restore_random_state` needs, as JSON values (module docstring)."""
    version, internal, gauss = random.getstate()
    return {"seed_generators": [np.asarray(v.numpy()).tolist() for v in _seed_states(model)],
            "python_random": [version, list(internal), gauss]}


def _restore_random_state(model, saved: dict | None) -> None:
    """Put the random generators where the interrupted run left them."""
    variables = _seed_states(model)
    if saved is None or len(saved["seed_generators"]) != len(variables):
        log.warning("the run's state holds no random state (written by an older version): "
                    "the resumed epochs draw other dropout masks and batch orders than an "
                    "uninterrupted run would")
        return
    for variable, value in zip(variables, saved["seed_generators"]):
        variable.assign(np.asarray(value, dtype=variable.dtype))
    version, internal, gauss = saved["python_random"]
    random.setstate((version, tuple(internal), gauss))


def _epoch_checkpoint(run_dir: Path, settings: TrainSettings, state: dict):
    """A Keras callback: after every epoch, new checkpoints, then ``state.json``, then the
    old checkpoints go (module docstring)."""
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if not (math.isfinite(logs["loss"]) and math.isfinite(logs["val_loss"])):
                self.model.stop_training = True
                raise TrainingError(
                    f"{settings.architecture} diverged in epoch {epoch + 1} (loss "
                    f"{logs['loss']:g}, validation loss {logs['val_loss']:g}); that epoch "
                    f"was not saved. The learning rate {settings.learning_rate:g} is too "
                    f"high: train with a lower --learning-rate in another --out (or delete "
                    f"{run_dir}).")
            for key, value in logs.items():
                state["history"].setdefault(key, []).append(value)
            now = time.perf_counter()
            state["seconds"] += now - state.pop("_t0")
            state["_t0"] = now
            old = {state.get("last"), state.get("best")}
            improved = logs["val_loss"] < state["best_val_loss"]
            if improved:
                state["best_val_loss"], state["best_epoch"], state["wait"] = logs["val_loss"], epoch + 1, 0
                state["best"] = BEST_PATTERN.format(epoch + 1)
                with atomic.replacing(run_dir / state["best"]) as tmp:
                    self.model.save(tmp)
            else:
                state["wait"] += 1
            state["last"] = LAST_PATTERN.format(epoch + 1)
            with atomic.replacing(run_dir / state["last"]) as tmp:
                self.model.save(tmp)
            state["epoch"] = epoch + 1
            state["random_state"] = _random_state(self.model)
            atomic.write_json(run_dir / STATE,
                              {k: v for k, v in state.items() if not k.startswith("_")})
            for name in old - {state["last"], state["best"], None}:
                (run_dir / name).unlink(missing_ok=True)
            log.info("%s epoch %d/%d: loss %.3f form acc %.3f structure acc %.3f estimate loss "
                     "%.3f | val_loss %.3f val form acc %.3f val estimate loss %.3f%s",
                     settings.architecture, epoch + 1, settings.epochs, logs["loss"],
                     logs.get("form_accuracy", float("nan")),
                     logs.get("structure_accuracy", float("nan")),
                     logs.get("estimate_loss", float("nan")), logs["val_loss"],
                     logs.get("val_form_accuracy", float("nan")),
                     logs.get("val_estimate_loss", float("nan")), "  (best)" if improved else "")
            if state["wait"] >= settings.patience:
                log.info("early stop: no val_loss improvement for %d epochs", settings.patience)
                self.model.stop_training = True

    return EpochCheckpoint()


def _tidy(run_dir: Path, state: dict | None) -> None:
    """Remove what a killed run left: temporaries and checkpoints ``state.json`` does not name."""
    removed = atomic.remove_partials(run_dir)
    keep = {state.get("last"), state.get("best")} if state else set()
    for path in [*run_dir.glob("epoch-*.keras"), *run_dir.glob("best-*.keras")]:
        if path.name not in keep:
            path.unlink()
            removed += 1
    if removed:
        log.info("%s: removed %d file(s) of an interrupted epoch", run_dir, removed)


def train(train_data: Encoded, val_data: Encoded, n_forms: int, run_dir: Path,
          settings: TrainSettings, initial: Callable[[], object] | None = None,
          balance: bool = False) -> dict:
    """Train (or resume, or skip when finished) in ``run_dir``; returns the run state.

    ``initial`` builds the network to start from (default: a new ``settings.architecture``;
    :mod:`training.extend` passes a trained one widened by new classes). ``balance``
    weighs the loss so that every form counts alike (:func:`form_balanced_weights`), for
    data with unequal numbers of curves per form."""
    import keras

    from .architectures import ARCHITECTURES

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    busy = TrainingError(f"another training is running in {run_dir}")
    with atomic.exclusive(run_dir / LOCK, busy):
        state = read_state(run_dir)
        if state and state["settings"] != asdict(settings):
            changed = sorted(k for k, v in asdict(settings).items()
                             if state["settings"].get(k) != v)
            raise TrainingError(f"{run_dir} holds a run with other settings ({', '.join(changed)}); "
                                "use another --out or delete that folder to start over.")
        _tidy(run_dir, state)
        if is_finished(state, settings):
            log.info("%s: already trained (%d epochs)", settings.architecture, state["epoch"])
            return state
        first_epoch = state["epoch"] if state else 0
        keras.utils.set_random_seed(settings.seed)
        n_estimates = 0 if train_data.estimates is None else train_data.estimates.shape[1]
        if state:
            log.info("resuming %s after epoch %d", settings.architecture, first_epoch)
            model = keras.saving.load_model(run_dir / state["last"], custom_objects=CUSTOM_OBJECTS)
        else:
            state = {"settings": asdict(settings), "epoch": 0, "best_epoch": 0, "wait": 0,
                     "best_val_loss": float("inf"), "seconds": 0.0, "history": {},
                     "last": None, "best": None}
            model = (initial() if initial is not None
                     else ARCHITECTURES[settings.architecture](n_forms, len(STRUCTURE_CLASSES),
                                                               n_estimates))
        estimates = has_estimates(model)
        batches = _batches(train_data, settings.batch_size, settings.seed, first_epoch, balance,
                           estimates)
        validation = _batches(val_data, settings.batch_size, None, balance=balance,
                              estimates=estimates)
        if first_epoch:
            _restore_random_state(model, state.get("random_state"))
        else:
            _compile(model, settings, len(batches))
        state["_t0"] = time.perf_counter()
        model.fit(batches, validation_data=validation, epochs=settings.epochs,
                  initial_epoch=first_epoch, verbose=1 if sys.stderr.isatty() else 0,
                  callbacks=[_epoch_checkpoint(run_dir, settings, state)])
        state.pop("_t0", None)
    return state
