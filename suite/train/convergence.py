"""Convergence and accuracy metrics from one trial's per-epoch history.

Pure functions, no Keras. "Convergence" means the declared target metric
crossing the declared value, judged after each epoch (DeepOBS, AlgoPerf). A
trial that never gets there is censored: its ``*_to_target`` values are absent
(None), never an invented number, and ``reached_target`` is 0.
"""

from __future__ import annotations

import math
from statistics import median
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from suite.study import Target


def warmup_seconds(epoch_seconds: list[float]) -> float:
    """The first epoch's extra cost (tracing, compilation, pipeline set-up).

    Estimated as the first epoch's time minus the median of the later ones, so
    time-to-target compares steady-state training, with warm-up reported beside it.
    """
    if len(epoch_seconds) < 2:
        return 0.0
    return max(0.0, epoch_seconds[0] - median(epoch_seconds[1:]))


def first_nonfinite(values: list[float]) -> int | None:
    """1-based epoch of the first NaN or infinite value, or None."""
    for i, v in enumerate(values):
        if not math.isfinite(v):
            return i + 1
    return None


def summarize(
    history: dict[str, list[float]],
    epoch_seconds: list[float],
    target: Target,
    steps_per_epoch: int,
    examples_per_epoch: int,
    score: str = "accuracy",
) -> dict[str, float | None]:
    """Per-trial metrics; ``None`` marks a censored (never reached) value. ``score``: the history's score beside
    the loss (``accuracy``, or a regression's ``r2``), whose best validation value and epoch are recorded."""
    epochs = len(history["loss"])
    warmup = warmup_seconds(epoch_seconds)
    steady = [epoch_seconds[0] - warmup, *epoch_seconds[1:]] if epoch_seconds else []
    diverged_at = first_nonfinite(history["loss"])

    reached_at = None
    for i, value in enumerate(history.get(target.metric, [])):
        if diverged_at is not None and i + 1 >= diverged_at:
            break  # nothing measured on a diverged model counts as convergence
        if math.isfinite(value) and target.reached(value):
            reached_at = i + 1
            break

    val = [v for v in history.get(f"val_{score}", []) if math.isfinite(v)]
    scored = [v for v in history.get(target.metric, []) if math.isfinite(v)]
    return {
        "epochs_run": float(epochs),
        "steps_run": float(epochs * steps_per_epoch),  # the budgets that censor the *_to_target values
        "examples_run": float(epochs * examples_per_epoch),
        "reached_target": float(reached_at is not None) if target.declared else None,  # None: no target to reach
        "epochs_to_target": None if reached_at is None else float(reached_at),
        "steps_to_target": None if reached_at is None else float(reached_at * steps_per_epoch),
        "examples_to_target": None if reached_at is None else float(reached_at * examples_per_epoch),
        "time_to_target_s": None if reached_at is None else float(sum(steady[:reached_at])),
        "warmup_s": float(warmup),
        "train_time_s": float(sum(steady)),
        "epoch_time_s": float(median(steady)) if steady else None,
        f"best_val_{score}": max(val) if val else None,
        "best_epoch": float(history[f"val_{score}"].index(max(val)) + 1) if val else None,
        "target_best": ((max if target.direction == "max" else min)(scored)) if scored else None,
        "diverged": float(diverged_at is not None),
        "diverged_epoch": None if diverged_at is None else float(diverged_at),
    }


class Plateau:
    """The early-stopping rule, as ``keras.callbacks.EarlyStopping(monitor, patience, restore_best_weights=True)``
    applies it (``min_delta`` 0, no baseline): after each epoch, a value better than the best so far is the new best
    (its weights are the ones kept); otherwise the epochs since the best grow, and at ``patience`` of them, past the
    first epoch, training stops. The Keras path uses that callback, grouped training this class: one rule, checked
    against the callback in ``tests/test_convergence.py``."""

    def __init__(self, monitor: str, patience: int):
        self.sign = -1.0 if monitor.endswith("loss") else 1.0  # a loss is better lower, an accuracy higher
        self.patience = patience
        self.best = -math.inf
        self.best_epoch = 0  # 1-based; 0 until an epoch is seen
        self.wait = 0

    def update(self, epoch: int, value: float) -> str:
        """After 0-based ``epoch`` with ``value``: "best" (keep these weights), "stop", or "" (go on)."""
        self.wait += 1
        if self.sign * value > self.best:
            self.best, self.best_epoch, self.wait = self.sign * value, epoch + 1, 0
            return "best"
        return "stop" if self.wait >= self.patience and epoch > 0 else ""
