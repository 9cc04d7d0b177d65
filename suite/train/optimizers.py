"""Optimizers and learning-rate schedules: a registry of builders from train settings to Keras 3 optimizers.

An optimizer is a function ``(learning rate or schedule, train settings, clip) -> keras optimizer``
registered with ``@optimizer_kind(name)`` (``train.optimizer`` in a study file). The schema asks
``known()`` for the names, so Keras is imported inside the builders, never at import.
"""

from __future__ import annotations

import math
from typing import Callable

OPTIMIZERS: dict[str, Callable] = {}


def optimizer_kind(name: str):
    def register(builder):
        OPTIMIZERS[name] = builder
        return builder

    return register


def known() -> list[str]:
    return list(OPTIMIZERS)


@optimizer_kind("sgd")
def _sgd(lr, t, clip: dict):
    import keras

    return keras.optimizers.SGD(lr, **clip)


@optimizer_kind("momentum")
def _momentum(lr, t, clip: dict):
    import keras

    return keras.optimizers.SGD(lr, momentum=t.momentum, **clip)


@optimizer_kind("nesterov")
def _nesterov(lr, t, clip: dict):
    import keras

    return keras.optimizers.SGD(lr, momentum=t.momentum, nesterov=True, **clip)


@optimizer_kind("rmsprop")
def _rmsprop(lr, t, clip: dict):
    import keras

    return keras.optimizers.RMSprop(lr, **clip)


@optimizer_kind("adam")
def _adam(lr, t, clip: dict):
    import keras

    return keras.optimizers.Adam(lr, **clip)


@optimizer_kind("adamw")
def _adamw(lr, t, clip: dict):
    import keras

    return keras.optimizers.AdamW(lr, weight_decay=t.weight_decay, **clip)


def optimizer(t, steps_per_epoch: int = 1):
    clip = {"clipnorm": t.clip_norm} if t.clip_norm else {}
    return OPTIMIZERS[t.optimizer](schedule(t, steps_per_epoch), t, clip)


def schedule(t, steps_per_epoch: int):
    """The learning rate over training. Every decaying schedule ends at ``learning_rate x lr_final``."""
    import keras

    lr, total = t.learning_rate, max(t.epochs * steps_per_epoch, 1)
    if t.schedule == "constant":
        return lr
    if t.schedule == "step":  # two equal drops, at 50% and 75% of training (x0.1 each for lr_final 0.01)
        drop = math.sqrt(t.lr_final)
        return keras.optimizers.schedules.PiecewiseConstantDecay([total // 2, (3 * total) // 4], [lr, lr * drop, lr * t.lr_final])
    if t.schedule == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(lr, decay_steps=total, decay_rate=t.lr_final)
    if t.schedule == "inverse_time":  # lr / (1 + k t / total), with k so that it ends at lr x decay
        return keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=total, decay_rate=1 / t.lr_final - 1)
    if t.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total, alpha=t.lr_final)
    raise ValueError(f"unknown schedule {t.schedule!r}")  # the schema makes this unreachable
