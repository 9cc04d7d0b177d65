"""One trial, top to bottom: data -> seed -> build -> fit -> measure.

No tracking and no search logic here: the tuner decides which cell and seed to
run and records what this returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np

from suite import backend, classification, convergence, data, models, timing, training, transfer
from suite import diagnostics as probing
from suite.study import Settings, Target

EVAL_BATCH = 1024  # evaluation batch size only changes speed, never the result


@dataclass
class TrialResult:
    metrics: dict[str, float | None]  # one value per trial; None = censored or not measured
    history: dict[str, list[float]]  # one value per epoch
    splits_fingerprint: str
    parameters: int
    series: dict[str, list[float]] = field(default_factory=dict)  # diagnostics: index 0 = initialization
    artifacts: dict[str, dict] = field(default_factory=dict)  # JSON files kept with the run


def run(settings: Settings, seed: int, target: Target, measure: bool = True, diagnostics: tuple[str, ...] = ()) -> TrialResult:
    """Train one model. ``measure=False`` (search trials) keeps the per-epoch record and skips the
    end-of-training evaluation of every split, which only the compared trials need. ``diagnostics``
    (activations, gradients) adds per-layer measurements on a probe batch; without it nothing is probed."""
    # 1. Data: built once per study run and shared by its trials (cached by settings).
    with timing.section("trial.data"):
        splits = data.prepare(settings.data)

    # 2. A clean graph and a seeded, deterministic backend: the same seed gives the same run.
    with timing.section("trial.build"):
        keras.backend.clear_session()
        source = transfer.pretrained(settings, seed) if settings.train.transfer != "scratch" else None
        backend.seed_everything(seed)
        model = models.build(settings.model, splits.input_shape, splits.classes, settings.data.augment)
        if source is not None:  # start from the source task's weights, with a fresh output layer
            transfer.transplant(model, source, freeze=settings.train.transfer == "head")
        training.compile_model(model, settings.train, math.ceil(len(splits.y_train) / settings.train.batch_size))

    # The loss before any training: about ln(classes) for a sound initialisation.
    if measure:
        with timing.section("trial.measure"):
            initial_loss, _ = evaluate(model, splits.x_train, splits.y_train)

    # 3. Fit, timing training apart from validation, and stopping on NaN/inf loss.
    clock, guard, lr = training.EpochClock(), training.DivergenceGuard(), training.LearningRate()
    probes = []
    if diagnostics:  # after the clock in the callback list: probing is never counted as training time
        probe = probing.Probe(model, splits.x_train, splits.y_train, settings.model.activation, diagnostics)
        probes = [probing.Recorder(probe)]
    with timing.section("trial.fit"):
        fit = model.fit(
            **training.fit_arguments(settings.train, splits),
            callbacks=[clock, guard, lr, *training.early_stopping(settings.train), *probes],
        )
    history = {k: [float(v) for v in fit.history[k]] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    history["learning_rate"] = lr.values
    history["epoch_train_s"] = clock.seconds

    n_train = len(splits.y_train)
    metrics = convergence.summarize(
        history,
        clock.seconds,
        target,
        steps_per_epoch=math.ceil(n_train / settings.train.batch_size),
        examples_per_epoch=n_train,
    )
    if not measure:
        return TrialResult(_finite(metrics), history, splits.fingerprint, model.count_params())

    # 4. Measure: end-of-training accuracy on every split in inference mode
    # (the running training accuracy of fit is taken with dropout on, mid-update).
    with timing.section("trial.measure"):
        train_loss, train_acc = evaluate(model, splits.x_train, splits.y_train)
        _, val_acc = evaluate(model, splits.x_val, splits.y_val)
        test_logits = logits(model, splits.x_test)
        test_loss, test_acc = loss_and_accuracy(model, test_logits, splits.y_test)
        # The model as it ends (early stopping restores its best epoch), measured the same way on every split.
        metrics["final_val_accuracy"] = val_acc
        metrics["initial_loss"] = initial_loss
        metrics["train_loss"] = train_loss
        metrics["train_accuracy"] = train_acc
        metrics["test_accuracy"] = test_acc
        metrics["test_loss"] = test_loss
        metrics["near_zero_weights"] = near_zero_fraction(model)
        metrics.update(classification.scores(splits.y_test, softmax(test_logits)))
        metrics["generalization_gap"] = metrics["train_accuracy"] - metrics["final_val_accuracy"]
    result = TrialResult(_finite(metrics), history, splits.fingerprint, model.count_params())
    if probes:
        result.series = probes[0].series()
        result.metrics.update(_finite(probing.summary(probes[0].per_epoch)))
        result.artifacts["activations_init.json"] = {str(k): v for k, v in probes[0].histograms.items()}
    return result


def logits(model, x: np.ndarray) -> np.ndarray:
    """The model's outputs in inference mode, by direct calls in EVAL_BATCH chunks.

    Called eagerly: for the few thousand examples of a split this is several times faster
    than ``evaluate``/``predict``, which build a dataset iterator and trace a function per call."""
    chunks = [keras.ops.convert_to_numpy(model(x[i : i + EVAL_BATCH], training=False)) for i in range(0, len(x), EVAL_BATCH)]
    return np.concatenate(chunks).astype(np.float64)


def loss_and_accuracy(model, out: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """What ``evaluate`` reports: mean cross-entropy from the logits plus the regularization penalty, and accuracy."""
    with np.errstate(invalid="ignore", over="ignore"):
        top = out.max(axis=1, keepdims=True)
        log_norm = (top + np.log(np.exp(out - top).sum(axis=1, keepdims=True)))[:, 0]
        cross_entropy = float(np.mean(log_norm - out[np.arange(len(y)), y]))
    penalty = float(sum(keras.ops.convert_to_numpy(loss) for loss in model.losses)) if model.losses else 0.0
    return cross_entropy + penalty, float(np.mean(out.argmax(axis=1) == y))


def evaluate(model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return loss_and_accuracy(model, logits(model, x), y)


def _finite(metrics: dict) -> dict:
    return {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in metrics.items()}


NEAR_ZERO = 1e-3  # |w| below this counts as zero: gradient steps leave L1's zeros jittering at about this size


def near_zero_fraction(model) -> float:
    """The fraction of connection weights (kernels, not biases or norm scales) with |w| < NEAR_ZERO."""
    kernels = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights if len(w.shape) >= 2]
    if not kernels:
        return 0.0
    values = np.concatenate([k.ravel() for k in kernels])
    return float(np.mean(np.abs(values) < NEAR_ZERO))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)
