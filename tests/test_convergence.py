"""Convergence metrics on hand-made histories, including censored and diverged trials."""

import math

import numpy as np
import pytest

from suite.study import Target
from suite.train.convergence import first_nonfinite, summarize, warmup_seconds

MAX = Target(metric="val_accuracy", value=0.5)
MIN = Target(metric="val_loss", value=1.0)


def history(val_acc, loss=None, val_loss=None):
    n = len(val_acc)
    return {
        "loss": loss or [1.0] * n,
        "accuracy": [0.0] * n,
        "val_loss": val_loss or [2.0] * n,
        "val_accuracy": val_acc,
    }


def test_first_epoch_reaching_target():
    m = summarize(history([0.2, 0.4, 0.5, 0.7]), [3.0, 1.0, 1.0, 1.0], MAX, steps_per_epoch=10, examples_per_epoch=320)
    assert m["epochs_to_target"] == 3  # 0.5 >= 0.5 counts: the first epoch at the value
    assert m["steps_to_target"] == 30
    assert m["examples_to_target"] == 960
    assert m["warmup_s"] == 2.0  # 3.0 - median(1, 1, 1)
    assert m["time_to_target_s"] == 3.0  # warm-up excluded: 1 + 1 + 1
    assert m["train_time_s"] == 4.0
    assert m["reached_target"] == 1.0
    assert (m["best_val_accuracy"], m["best_epoch"]) == (0.7, 4.0)
    assert m["diverged"] == 0.0 and m["diverged_epoch"] is None


def test_never_reached_is_censored_not_invented():
    m = summarize(history([0.1, 0.2, 0.3]), [1.0, 1.0, 1.0], MAX, 10, 100)
    assert m["reached_target"] == 0.0
    for key in ("epochs_to_target", "steps_to_target", "examples_to_target", "time_to_target_s"):
        assert m[key] is None


def test_min_direction_target():
    m = summarize(history([0.1] * 3, val_loss=[3.0, 1.0, 0.5]), [1.0] * 3, MIN, 1, 1)
    assert m["epochs_to_target"] == 2


def test_diverged_trial_is_flagged_and_never_converges_after():
    h = history([0.3, 0.6, 0.9], loss=[1.0, math.nan, math.nan])
    m = summarize(h, [1.0, 1.0, 1.0], MAX, 1, 1)
    assert m["diverged"] == 1.0 and m["diverged_epoch"] == 2.0
    assert m["epochs_to_target"] is None  # 0.6 at a NaN-loss epoch does not count


def test_infinite_loss_is_divergence():
    assert first_nonfinite([1.0, math.inf]) == 2
    assert first_nonfinite([1.0, 2.0]) is None


@pytest.mark.parametrize("seconds, expected", [([], 0.0), ([5.0], 0.0), ([5.0, 1.0, 3.0], 3.0), ([0.5, 1.0, 1.0], 0.0)])
def test_warmup(seconds, expected):
    assert warmup_seconds(seconds) == expected


@pytest.mark.slow
@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
def test_grouped_trainings_plateau_stops_where_keras_early_stopping_stops(monitor):
    """The grouped path's rule (Plateau) and the Keras path's callback stop at the same epoch and keep the same best."""
    import keras

    from suite.train.convergence import Plateau

    rng = np.random.default_rng(7)
    for _ in range(200):
        values = list(np.round(rng.normal(0, 1, 30).cumsum() * 0.1, 2))  # rounded: ties happen, as they do in accuracy
        patience = int(rng.integers(1, 6))
        callback = keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, mode="min" if monitor == "val_loss" else "max")
        callback.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
        callback.model.stop_training = False  # as fit sets it
        callback.on_train_begin()
        plateau, stopped = Plateau(monitor, patience), None
        for epoch, value in enumerate(values):
            callback.on_epoch_end(epoch, {monitor: value})
            if plateau.update(epoch, value) == "stop" and stopped is None:
                stopped = epoch
            if callback.model.stop_training:
                break
        assert stopped == (callback.stopped_epoch if callback.model.stop_training else None)
        assert plateau.best_epoch == callback.best_epoch + 1
