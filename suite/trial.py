"""One trial, top to bottom: data -> seed -> build -> fit -> measure.

No tracking and no search logic here: the tuner decides which cell and seed to
run and records what this returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from suite import backend, convergence, data, models, training
from suite.study import Settings, Target

EVAL_BATCH = 1024  # evaluation batch size only changes speed, never the result


@dataclass
class TrialResult:
    metrics: dict[str, float | None]  # one value per trial; None = censored or not measured
    history: dict[str, list[float]]  # one value per epoch
    splits_fingerprint: str
    parameters: int


def run(settings: Settings, seed: int, target: Target) -> TrialResult:
    # 1. Data: built once per study run and shared by its trials (cached by settings).
    splits = data.prepare(settings.data)

    # 2. A clean graph and a seeded, deterministic backend: the same seed gives the same run.
    keras.backend.clear_session()
    backend.seed_everything(seed)
    model = models.build(settings.model, splits.input_shape, splits.classes)
    model.compile(
        optimizer=training.optimizer(settings.train),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )

    # 3. Fit, timing training apart from validation, and stopping on NaN/inf loss.
    clock, guard, lr = training.EpochClock(), training.DivergenceGuard(), training.LearningRate()
    fit = model.fit(
        splits.x_train,
        splits.y_train,
        batch_size=settings.train.batch_size,
        epochs=settings.train.epochs,
        validation_data=(splits.x_val, splits.y_val),
        shuffle=True,
        verbose=0,
        callbacks=[clock, guard, lr, *training.early_stopping(settings.train)],
    )
    history = {k: [float(v) for v in fit.history[k]] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    history["learning_rate"] = lr.values
    history["epoch_train_s"] = clock.seconds

    # 4. Measure: end-of-training accuracy on every split in inference mode
    # (the running training accuracy of fit is taken with dropout on, mid-update).
    n_train = len(splits.y_train)
    metrics = convergence.summarize(
        history,
        clock.seconds,
        target,
        steps_per_epoch=math.ceil(n_train / settings.train.batch_size),
        examples_per_epoch=n_train,
    )
    train = model.evaluate(splits.x_train, splits.y_train, batch_size=EVAL_BATCH, verbose=0, return_dict=True)
    test = model.evaluate(splits.x_test, splits.y_test, batch_size=EVAL_BATCH, verbose=0, return_dict=True)
    metrics["train_accuracy"] = float(train["accuracy"])
    metrics["test_accuracy"] = float(test["accuracy"])
    metrics["test_loss"] = float(test["loss"])
    if metrics["final_val_accuracy"] is not None:
        metrics["generalization_gap"] = metrics["train_accuracy"] - metrics["final_val_accuracy"]
    metrics = {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in metrics.items()}
    return TrialResult(metrics, history, splits.fingerprint, model.count_params())
