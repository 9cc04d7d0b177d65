"""One trial, top to bottom: data -> seed -> build -> fit -> measure.

No tracking and no search logic here: the tuner decides which cell and seed to
run and records what this returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from suite import timing
from suite.train import convergence, fitting, loop, measure, reuse
from suite.train import diagnostics as probing
from suite.train.splits import prepare

if TYPE_CHECKING:
    from suite.study import Settings, Target


@dataclass
class TrialResult:
    metrics: dict[str, float | None]  # one value per trial; None = censored or not measured
    history: dict[str, list[float]]  # one value per epoch
    splits_fingerprint: str
    parameters: int
    series: dict[str, list[float]] = field(default_factory=dict)  # diagnostics: index 0 = initialization
    artifacts: dict[str, dict] = field(default_factory=dict)  # JSON files kept with the run
    class_names: tuple[str, ...] | None = None  # a data file's labels, by class code


def run(settings: Settings, seed: int, target: Target, evaluate: bool = True, diagnostics: tuple[str, ...] = ()) -> TrialResult:
    """Train one model. ``evaluate=False`` (search trials) keeps the per-epoch record and skips the
    end-of-training evaluation of every split, which only the compared trials need. ``diagnostics``
    (activations, gradients) adds per-layer measurements on a probe batch; without it nothing is probed."""
    # 1. Data: built once per study run and shared by its trials (cached by settings).
    with timing.section("trial.data"):
        splits = prepare(settings.data)

    # 2. A seeded, deterministic model: the same seed gives the same run. The cell's compiled model is
    # reused across its seeds, starting each from the state a fresh build with the seed gives.
    with timing.section("trial.build"):
        compiled = reuse.model_for(settings, splits, seed)
        model = compiled.model

    # The loss before any training: about ln(classes) for a sound initialisation.
    if evaluate:
        with timing.section("trial.measure"):
            initial_loss, _ = measure.evaluate(model, splits.x_train, splits.y_train)

    # 3. Fit, timing training apart from validation, and stopping on NaN/inf loss.
    clock, guard, lr = fitting.EpochClock(), fitting.DivergenceGuard(), fitting.LearningRate()
    probes = []
    if diagnostics:  # after the clock in the callback list: probing is never counted as training time
        probe = probing.Probe.of(model, splits.x_train, splits.y_train, settings.model.activation, diagnostics)
        probes = [probing.Recorder(probe)]
    with timing.section("trial.fit"):
        callbacks = [clock, guard, lr, *fitting.early_stopping(settings.train), *probes, fitting.StopOnRequest()]
        history = loop.fit(model, compiled.epoch, settings.train, splits, callbacks, seed)
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
    if not evaluate:
        return TrialResult(_finite(metrics), history, splits.fingerprint, model.count_params(), class_names=splits.class_names)

    # 4. Measure: end-of-training accuracy on every split in inference mode
    # (the running training accuracy of fit is taken with dropout on, mid-update).
    with timing.section("trial.measure"):
        train_loss, train_acc = measure.evaluate(model, splits.x_train, splits.y_train)
        _, val_acc = measure.evaluate(model, splits.x_val, splits.y_val)
        test_logits = measure.logits(model, splits.x_test)
        test_loss, test_acc = measure.loss_and_accuracy(model, test_logits, splits.y_test)
        # The model as it ends (early stopping restores its best epoch), measured the same way on every split.
        metrics["final_val_accuracy"] = val_acc
        metrics["initial_loss"] = initial_loss
        metrics["train_loss"] = train_loss
        metrics["train_accuracy"] = train_acc
        metrics["test_accuracy"] = test_acc
        metrics["test_loss"] = test_loss
        metrics["near_zero_weights"] = measure.near_zero_fraction(model)
        metrics.update(measure.scores(splits.y_test, measure.softmax(test_logits)))
        metrics["generalization_gap"] = metrics["train_accuracy"] - metrics["final_val_accuracy"]
    result = TrialResult(_finite(metrics), history, splits.fingerprint, model.count_params(), class_names=splits.class_names)
    if probes:
        result.series = probes[0].series()
        result.metrics.update(_finite(probing.summary(probes[0].per_epoch)))
        result.artifacts["activations_init.json"] = {str(k): v for k, v in probes[0].histograms.items()}
    return result


def _finite(metrics: dict) -> dict:
    return {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in metrics.items()}
