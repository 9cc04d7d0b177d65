"""One trial, top to bottom: data -> seed -> build -> fit -> measure (an ensemble: build and fit per member).

No tracking and no search logic here: the tuner decides which cell and seed to
run and records what this returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from suite.ground import timing
from suite.train import convergence, ensemble, fitting, loop, measure, models, reuse, tasks
from suite.train import groups as groups_module
from suite.train import diagnostics as probing
from suite.train.kept import Kept
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
    preprocessing: tuple[str, ...] = ()  # a raw table's encoding, in words
    group: str = ""  # trained together with other trials (suite run --grouped): which group


def run(settings: Settings, seed: int, target: Target, evaluate: bool = True, diagnostics: tuple[str, ...] = (),
        kept: Kept | None = None, stop=None, groups=None) -> TrialResult:
    """Train one model (an ensemble: each of its members). ``evaluate=False`` (search trials) keeps the
    per-epoch record and skips the end-of-training evaluation of every split, which only the compared
    trials need. ``diagnostics`` (activations, gradients) adds per-layer measurements on a probe batch
    (an ensemble's first member's); without it nothing is probed. ``kept`` is what the run keeps across
    its trials (data, compiled models); without it the trial starts from nothing. ``stop``: a search
    candidate's declared rule (``losers.Stopping``), which may end its training early. ``groups``: the run's plan of
    trials that train together (``groups.Plan``, on the grouped path); a trial it holds trains in its group."""
    kept = kept or Kept()
    family = models.FAMILIES.get(settings.model.family)
    if family is not None and family.fit is not None:  # a HyperModel's own fit: its batch_size and shuffle, taken
        settings = family.fit(settings)
    # 1. Data: built once per study run and shared by its trials (kept by settings).
    with timing.section("trial.data"):
        splits = prepare(settings.data, kept)

    # 2-3. Build and fit each network: one, or an ensemble's members one after another.
    plan = ensemble.members(settings.model.members, settings.model.resample, seed, len(splits.y_train))
    fits = [_fit(settings, splits, member, evaluate, diagnostics if i == 0 else (), len(plan) > 1, kept, stop, groups)
            for i, member in enumerate(plan)]
    if len(fits) == 1:
        history = fits[0].history
    else:
        histories = [f.history for f in fits]
        history = ensemble.history(histories, [f.validation for f in fits], splits.y_val, measure.loss_and_accuracy)

    n_train, k = len(splits.y_train), len(fits)
    task = tasks.of(splits, settings.train)
    metrics = convergence.summarize(  # an ensemble's steps and examples count every member's
        history,
        history["epoch_train_s"],
        target,
        steps_per_epoch=math.ceil(n_train / settings.train.batch_size) * k,
        examples_per_epoch=n_train * k,
        score=task.score,
    )
    parameters = fits[0].parameters * k
    if not evaluate:
        result = TrialResult(_finite(metrics), history, splits.fingerprint, parameters, class_names=splits.class_names,
                             preprocessing=splits.preprocessing)
        _grouped(result, fits[0])
        if fits[0].ruled_out is not None:  # the search's declared rule stopped this candidate
            result.metrics["search_stopped_epoch"] = float(fits[0].ruled_out)
        return result

    # 4. Measure: end-of-training accuracy (a regression's R², RMSE and MAE) on every split in inference mode (the
    # running training accuracy of fit is taken with dropout on, mid-update); an ensemble's from its averaged probabilities.
    with timing.section("trial.measure"):
        penalty = float(np.mean([f.penalty for f in fits]))
        initial_loss, _ = task.loss_and_score(_combined(f.initial for f in fits), splits.y_train,
                                              float(np.mean([f.initial_penalty for f in fits])))
        outputs = {name: _combined(f.outputs[name] for f in fits) for name in ("train", "val", "test")}
        train_loss, train_score = task.loss_and_score(outputs["train"], splits.y_train, penalty)
        _, val_score = task.loss_and_score(outputs["val"], splits.y_val, penalty)
        test_loss, test_score = task.loss_and_score(outputs["test"], splits.y_test, penalty)
        # The model as it ends (early stopping restores its best epoch), measured the same way on every split.
        score = task.score
        metrics[f"final_val_{score}"] = val_score
        metrics["initial_loss"] = initial_loss  # before any training: about ln(classes) for a sound initialisation
        metrics["train_loss"] = train_loss
        metrics[f"train_{score}"] = train_score
        metrics[f"test_{score}"] = test_score
        metrics["test_loss"] = test_loss
        metrics["near_zero_weights"] = float(np.mean([f.near_zero for f in fits]))
        if task.regression:  # errors in the label's own units, on every split
            for name, y in (("train", splits.y_train), ("val", splits.y_val), ("test", splits.y_test)):
                metrics.update(task.errors(name, outputs[name], y))
        else:
            metrics.update(measure.scores(splits.y_test, measure.softmax(outputs["test"])))
        metrics["generalization_gap"] = metrics[f"train_{score}"] - metrics[f"final_val_{score}"]
    result = TrialResult(_finite(metrics), history, splits.fingerprint, parameters, class_names=splits.class_names,
                           preprocessing=splits.preprocessing)
    _grouped(result, fits[0])
    record = fits[0].record
    if record is not None:
        result.series = record.series()
        result.metrics.update(_finite(probing.summary(record.per_epoch)))
        result.artifacts["activations_init.json"] = {str(k): v for k, v in record.histograms.items()}
    return result


def _grouped(result: TrialResult, fitted) -> None:
    """A trial trained together with others: which group, its width, the group's own seconds."""
    if fitted.group is not None:
        result.group = fitted.group.group
        result.metrics.update(group_width=float(fitted.group.width), group_train_s=fitted.group.group_seconds)


@dataclass
class _Fitted:
    """One trained network, as the trial measures it."""

    history: dict[str, list[float]]
    parameters: int
    validation: list[tuple] = field(default_factory=list)  # per epoch: validation logits and penalty (ensembles)
    record: probing.Record | None = None  # diagnostics' probes
    initial: np.ndarray | None = None  # training-split logits before training
    initial_penalty: float = 0.0
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # split -> logits after training
    penalty: float = 0.0
    near_zero: float = 0.0
    group: object = None  # groups.Trained, when trained in a group
    ruled_out: int | None = None  # the epoch after which a search's declared rule stopped it


def _fit(settings: Settings, splits, member: ensemble.Member, evaluate: bool, diagnostics: tuple[str, ...],
         keep_validation: bool, kept: Kept, stop=None, groups=None) -> _Fitted:
    if (groups is not None and member.rows is None and not keep_validation and groups.applies(settings, evaluate)
            and groups.holds(settings, member.seed, evaluate)):
        return _fit_in_group(settings, splits, member, evaluate, diagnostics, kept, groups, stop)
    # A seeded, deterministic model: the same seed gives the same run. The cell's compiled model is
    # reused across its seeds (and an ensemble's members), starting each from the state a fresh build
    # with the seed gives.
    with timing.section("trial.build"):
        compiled = reuse.model_for(settings, splits, member.seed, kept)
        model = compiled.model
    fitted = _Fitted(history={}, parameters=model.count_params())
    if evaluate:
        with timing.section("trial.measure"):
            fitted.initial, fitted.initial_penalty = measure.logits(model, splits.x_train), measure.penalty(model)

    # Fit, timing training apart from validation, and stopping on NaN/inf loss. Probes and the
    # validation record come after the clock in the callback list: never counted as training time.
    clock, guard, lr = fitting.EpochClock(), fitting.DivergenceGuard(), fitting.LearningRate()
    extra = []
    if diagnostics:
        probe = probing.Probe.of(model, splits.x_train, splits.y_train, settings.model.activation, diagnostics)
        recorder = probing.Recorder(probe)
        fitted.record = recorder.record
        extra.append(recorder)
    if keep_validation:
        outputs = fitting.ValidationOutputs(splits.x_val)
        extra.append(outputs)
    losing = [fitting.StopLosing(stop)] if stop is not None else []
    with timing.section("trial.fit"):
        callbacks = [clock, guard, lr, *fitting.early_stopping(settings.train), *losing, *extra, fitting.StopOnRequest()]
        history = loop.fit(model, compiled.epoch, settings.train, splits, callbacks, member.seed, member.rows)
    fitted.ruled_out = losing[0].stopped_epoch if losing else None
    history["learning_rate"] = lr.values
    history["epoch_train_s"] = clock.seconds
    fitted.history = history
    if keep_validation:
        fitted.validation = outputs.per_epoch
    if evaluate:
        _measure(fitted, model, splits)
    return fitted


def _fit_in_group(settings: Settings, splits, member: ensemble.Member, evaluate: bool, diagnostics: tuple[str, ...],
                  kept: Kept, groups, stop=None) -> _Fitted:
    """A trial trained in its cell's group (suite run --grouped): its weights set into the model the trial
    would have trained alone, then measured the same way. Its seconds are its share of each group epoch; its
    diagnostics, the group's probes of its lane; a search's declared rule (``stop``) judges every lane of the group."""
    with timing.section("trial.fit"):
        trained = groups.trained(settings, splits, member.seed, evaluate, diagnostics, stop)
    with timing.section("trial.build"):
        model = reuse.model_for(settings, splits, member.seed, kept).model
    fitted = _Fitted(history={}, parameters=model.count_params(), group=trained, record=trained.outcome.record,
                     ruled_out=trained.outcome.ruled_out)
    if evaluate:
        with timing.section("trial.measure"):
            fitted.initial, fitted.initial_penalty = measure.logits(model, splits.x_train), measure.penalty(model)
    trainable, non_trainable = trained.outcome.weights
    for variable, value in zip(model.trainable_variables, trainable):
        variable.assign(value)
    for variable, value in zip(model.non_trainable_variables, non_trainable):
        variable.assign(value)
    history = {k: list(v) for k, v in trained.outcome.history.items()}
    steps = math.ceil(len(splits.y_train) / settings.train.batch_size)
    history["learning_rate"] = groups_module.rates(settings.train, steps, len(history["loss"]))
    history["epoch_train_s"] = trained.epoch_seconds
    fitted.history = history
    if evaluate:
        _measure(fitted, model, splits)
    return fitted


def _measure(fitted: _Fitted, model, splits) -> None:
    """The trained network as the trial reports it: logits on every split, its penalty, its near-zero weights."""
    with timing.section("trial.measure"):
        fitted.outputs = {name: measure.logits(model, x) for name, x in
                          (("train", splits.x_train), ("val", splits.x_val), ("test", splits.x_test))}
        fitted.penalty = measure.penalty(model)
        fitted.near_zero = measure.near_zero_fraction(model)


def _combined(logits) -> np.ndarray:
    """One network's logits as they are; an ensemble's members' as log mean probabilities."""
    logits = list(logits)
    return logits[0] if len(logits) == 1 else ensemble.log_mean_probabilities(logits)


def _finite(metrics: dict) -> dict:
    return {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in metrics.items()}
