"""Optimizers and learning-rate schedules: a registry of builders from train settings to Keras 3 optimizers.

An optimizer is a function ``(keras, learning rate or schedule, train settings, clip) -> keras
optimizer`` registered with ``@optimizer_kind(name)`` (``train.optimizer`` in a study file). The
schema asks ``known()`` for the names, so Keras is handed to the builders, never imported here
at import.
"""

from __future__ import annotations

import math

from suite.train.registry import Registry

OPTIMIZERS = Registry("optimizer")  # train.optimizer -> builder(keras, learning rate or schedule, train settings, clip)
optimizer_kind = OPTIMIZERS.register
known = OPTIMIZERS.names

_BUILT_IN = {
    "sgd": lambda keras, lr, t, clip: keras.optimizers.SGD(lr, **clip),
    "momentum": lambda keras, lr, t, clip: keras.optimizers.SGD(lr, momentum=t.momentum, **clip),
    "nesterov": lambda keras, lr, t, clip: keras.optimizers.SGD(lr, momentum=t.momentum, nesterov=True, **clip),
    "rmsprop": lambda keras, lr, t, clip: keras.optimizers.RMSprop(lr, **clip),
    "adam": lambda keras, lr, t, clip: keras.optimizers.Adam(lr, **clip),
    "adamw": lambda keras, lr, t, clip: keras.optimizers.AdamW(lr, weight_decay=t.weight_decay, **clip),
}
for _name, _builder in _BUILT_IN.items():
    optimizer_kind(_name)(_builder)


def optimizer(t, steps_per_epoch: int = 1):
    import keras

    clip = {"clipnorm": t.clip_norm} if t.clip_norm else {}
    return OPTIMIZERS[t.optimizer](keras, schedule(t, steps_per_epoch), t, clip)


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
