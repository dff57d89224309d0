"""Train one architecture on encoded inputs: fixed seeds, checkpoint every epoch, resume, early stop."""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sasnets_plugin import environment

log = logging.getLogger(__name__)

LAST = "last.keras"
BEST = "best.keras"
STATE = "state.json"


@dataclass(frozen=True)
class TrainSettings:
    """Everything that shapes a training run (stored with the run and the weights)."""

    architecture: str = "resnet1d"
    epochs: int = 40
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 6
    seed: int = 2017


def configure_device() -> str:
    """Use the GPU (mixed precision) when TensorFlow sees one, else the CPU."""
    environment.configure()
    import keras
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
        return "gpu"
    return "cpu"


def _epoch_checkpoint(run_dir: Path, settings: TrainSettings, state: dict):
    """A Keras callback: save last/best models and ``state.json`` after every epoch."""
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            for key, value in logs.items():
                state["history"].setdefault(key, []).append(value)
            state["epoch"] = epoch + 1
            state["seconds"] += time.perf_counter() - state.pop("_t0")
            state["_t0"] = time.perf_counter()
            if logs["val_loss"] < state["best_val_loss"]:
                state["best_val_loss"], state["best_epoch"], state["wait"] = logs["val_loss"], epoch + 1, 0
                self.model.save(run_dir / BEST)
            else:
                state["wait"] += 1
            self.model.save(run_dir / (LAST + ".tmp.keras"))
            os.replace(run_dir / (LAST + ".tmp.keras"), run_dir / LAST)
            saved = {k: v for k, v in state.items() if not k.startswith("_")}
            (run_dir / STATE).write_text(json.dumps(saved, indent=1))
            log.info("%s epoch %d/%d: loss %.3f acc %.3f | val_loss %.3f val_acc %.3f%s",
                     settings.architecture, epoch + 1, settings.epochs, logs["loss"],
                     logs["accuracy"], logs["val_loss"], logs["val_accuracy"],
                     "  (best)" if state["wait"] == 0 else "")
            if state["wait"] >= settings.patience:
                log.info("early stop: no val_loss improvement for %d epochs", settings.patience)
                self.model.stop_training = True

    return EpochCheckpoint()


def train(inputs: np.ndarray, labels: np.ndarray, val_inputs: np.ndarray, val_labels: np.ndarray,
          n_classes: int, run_dir: Path, settings: TrainSettings):
    """Train (or resume) in ``run_dir``; returns the best logits model and the run state."""
    import keras

    from .architectures import ARCHITECTURES

    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / STATE
    state = json.loads(state_path.read_text()) if state_path.is_file() else None
    if state and state["settings"] != asdict(settings):
        raise SystemExit(f"{run_dir} holds a run with other settings; use a new --out or delete it.")
    finished = state and (state["epoch"] >= settings.epochs or state["wait"] >= settings.patience)
    if not finished:
        keras.utils.set_random_seed(settings.seed + (state["epoch"] if state else 0))
        if state and (run_dir / LAST).is_file():
            log.info("resuming %s after epoch %d", settings.architecture, state["epoch"])
            model = keras.saving.load_model(run_dir / LAST)
        else:
            state = {"settings": asdict(settings), "epoch": 0, "best_epoch": 0, "wait": 0,
                     "best_val_loss": float("inf"), "seconds": 0.0, "history": {}}
            model = ARCHITECTURES[settings.architecture](n_classes)
            steps = settings.epochs * int(np.ceil(len(labels) / settings.batch_size))
            schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, steps, alpha=0.02)
            model.compile(
                optimizer=keras.optimizers.AdamW(schedule, weight_decay=settings.weight_decay),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"],
            )
        state["_t0"] = time.perf_counter()
        model.fit(inputs, labels, validation_data=(val_inputs, val_labels),
                  batch_size=settings.batch_size, epochs=settings.epochs,
                  initial_epoch=state["epoch"], shuffle=True, verbose=1 if sys.stderr.isatty() else 0,
                  callbacks=[_epoch_checkpoint(run_dir, settings, state)])
        state.pop("_t0", None)
    return keras.saving.load_model(run_dir / BEST, compile=False), state
