"""Fitting: the loss, metric and optimizer every trial compiles, and the callbacks that time and guard a fit.

Keras 3 APIs only. The clock counts training time and stops while Keras
evaluates the validation split (AlgoPerf's rule), so time-to-target measures
training, not evaluation.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import keras

from suite.ground import stopping
from suite.train import measure
from suite.train.optimizers import optimizer
from suite.train.tasks import Task

CLASSES = Task()

if TYPE_CHECKING:
    from suite.study import Train


class EpochClock(keras.callbacks.Callback):
    """Training seconds per epoch, excluding the validation pass."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def _stop(self):
        if self._start is not None:
            # Wait for the epoch's updates: JAX and GPUs dispatch asynchronously, and a clock read
            # before the results exist would time the dispatch, not the training.
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
            self.seconds.append(time.perf_counter() - self._start)
            self._start = None

    def on_test_begin(self, logs=None):  # Keras validates inside the epoch: stop the clock here
        self._stop()

    def on_epoch_end(self, epoch, logs=None):  # no validation this epoch
        self._stop()


class DivergenceGuard(keras.callbacks.Callback):
    """Stop a fit whose loss has become NaN or infinite; the epoch is kept as evidence."""

    def __init__(self):
        super().__init__()
        self.diverged_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_epoch = epoch + 1
            self.model.stop_training = True


class StopLosing(keras.callbacks.Callback):
    """A search candidate stopped under its study's declared rule (``losers.Stopping``): after every epoch, its
    objective so far against its earlier candidates'. Placed after early stopping and the divergence guard: an epoch
    where the fit ends anyway is not the rule's stop, and a diverged fit's curve ends before its divergence."""

    def __init__(self, stopping):
        super().__init__()
        self.stopping = stopping
        self.curve: list[float] = []
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.model.stop_training or epoch + 1 >= self.params.get("epochs", math.inf):
            return
        self.curve.append(float(logs.get(self.stopping.objective, math.nan)))
        if self.stopping.losing(self.curve):
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True


class StopOnRequest(keras.callbacks.Callback):
    """A safe point at the end of every epoch: a pending SIGTERM or Ctrl-C stops the fit here (``suite.ground.stopping``)."""

    def on_epoch_end(self, epoch, logs=None):
        stopping.check()


class ValidationOutputs(keras.callbacks.Callback):
    """After every epoch, the model's logits on the validation split and its regularization penalty
    (an ensemble's record averages its members' probabilities epoch by epoch: ``suite.train.ensemble``)."""

    def __init__(self, x_val):
        super().__init__()
        self.x_val = x_val
        self.per_epoch: list[tuple] = []

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append((measure.logits(self.model, self.x_val), measure.penalty(self.model)))


class LearningRate(keras.callbacks.Callback):
    """The learning rate in force at the end of each epoch (schedules change it)."""

    def __init__(self):
        super().__init__()
        self.values: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def compile_model(model, t: Train, steps_per_epoch: int, task: Task = CLASSES) -> None:
    """Every trial's loss and metric (the task's: cross-entropy on logits and accuracy, or a regression's loss
    and R²) and optimizer: the suite's trials and the bench's bare loop share it."""
    model.compile(optimizer=optimizer(t, steps_per_epoch), loss=task.keras_loss(), metrics=task.keras_metrics())


def fit_arguments(t: Train, splits, rows=None, shuffle: bool = True) -> dict:
    """``model.fit``'s arguments for a trial on ``splits`` (callbacks apart); ``rows``: the training examples
    to use, by index, repeats allowed (a bootstrap resample), or all of them; ``shuffle=False``: in that order."""
    rows = slice(None) if rows is None else rows
    return dict(
        x=splits.x_train[rows],
        y=splits.y_train[rows],
        batch_size=t.batch_size,
        epochs=t.epochs,
        validation_data=(splits.x_val, splits.y_val),
        shuffle=shuffle,
        class_weight=splits.class_weight,
        verbose=0,
    )


def early_stopping(t: Train) -> list[keras.callbacks.Callback]:
    """Stop when ``t.monitor`` (val_loss, or val_accuracy) has not improved for ``patience`` epochs, and keep
    the best epoch's weights."""
    if t.patience is None:
        return []
    return [keras.callbacks.EarlyStopping(monitor=t.monitor, patience=t.patience, restore_best_weights=True)]
