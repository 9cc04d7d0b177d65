"""Optimizers and learning-rate schedules: a registry of builders from train settings to Keras 3 optimizers.

An optimizer is a function ``(keras, learning rate or schedule, train settings, clip) -> keras
optimizer`` registered with ``@optimizer_kind(name)`` (``train.optimizer`` in a study file). The
schema asks ``known()`` for the names, so Keras is handed to the builders, never imported here
at import.
"""

from __future__ import annotations

import functools
import math

from suite.train.registry import Registry

OPTIMIZERS = Registry("optimizer")  # train.optimizer -> builder(keras, learning rate or schedule, train settings, clip)
optimizer_kind = OPTIMIZERS.register
known = OPTIMIZERS.names

_BUILT_IN = {
    "sgd": lambda keras, lr, t, clip: keras.optimizers.SGD(lr, **clip),
    "momentum": lambda keras, lr, t, clip: _momentum_sgd(keras)(lr, momentum=t.momentum, **clip),
    "nesterov": lambda keras, lr, t, clip: _momentum_sgd(keras)(lr, momentum=t.momentum, nesterov=True, **clip),
    "rmsprop": lambda keras, lr, t, clip: _variable_epsilon(keras, "RMSprop")(lr, epsilon=t.epsilon, **clip),
    "adam": lambda keras, lr, t, clip: _variable_epsilon(keras, "Adam")(lr, epsilon=t.epsilon, **clip),
    "adamw": lambda keras, lr, t, clip: _variable_epsilon(keras, "AdamW")(lr, weight_decay=t.weight_decay, epsilon=t.epsilon,
                                                                         **clip),
}
for _name, _builder in _BUILT_IN.items():
    optimizer_kind(_name)(_builder)


VARIABLE_MOMENTUM = ("momentum", "nesterov")  # built-ins whose momentum is a variable: see _momentum_sgd
VARIABLE_EPSILON = ("rmsprop", "adam", "adamw")  # built-ins whose epsilon is a variable: see _variable_epsilon


@functools.cache
def _variable_epsilon(keras, name: str):
    """Keras's ``name`` optimizer (RMSprop, Adam, AdamW) with its epsilon held in an optimizer variable, as its
    learning rate is: one compiled step serves every epsilon (a search over it retraced every trial), and a group
    holds each lane's epsilon as it holds its rate (``grouped.Group``). The update is Keras's own: while it runs,
    ``epsilon`` reads the variable (the same float32 number Keras would add)."""
    base = getattr(keras.optimizers, name)

    class VariableEpsilon(base):
        def build(self, variables):
            if self.built:
                return
            super().build(variables)
            self.epsilon_value = self.add_variable((), keras.initializers.Constant(self.epsilon), name="epsilon_value")

        def update_step(self, gradient, variable, learning_rate):
            held, self.epsilon = self.epsilon, keras.ops.cast(self.epsilon_value, variable.dtype)
            try:
                return super().update_step(gradient, variable, learning_rate)
            finally:
                self.epsilon = held

    VariableEpsilon.__name__ = VariableEpsilon.__qualname__ = name
    return VariableEpsilon


@functools.cache
def _momentum_sgd(keras):
    """Keras's SGD with its momentum held in an optimizer variable, as its learning rate is.

    Keras reads ``momentum`` as a Python number, so each value is a constant of the traced step and a
    search over momentum retraced every trial. Held in a variable, one compiled epoch serves every
    nonzero value (``reuse`` copies it in with the other optimizer variables). The update is Keras's,
    term for term (``keras/src/optimizers/sgd.py``); a momentum of zero builds no slots and takes
    Keras's plain step."""

    class MomentumSGD(keras.optimizers.SGD):
        def build(self, variables):
            if self.built:
                return
            super().build(variables)
            if self.momentum != 0:
                self.momentum_value = self.add_variable((), keras.initializers.Constant(self.momentum), name="momentum_value")

        def update_step(self, gradient, variable, learning_rate):
            if self.momentum == 0:
                return super().update_step(gradient, variable, learning_rate)
            ops = keras.ops
            learning_rate = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            momentum = ops.cast(self.momentum_value, variable.dtype)
            m = self.momentums[self._get_variable_index(variable)]
            self.assign(m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
            if self.nesterov:
                self.assign_add(variable, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
            else:
                self.assign_add(variable, m)

    return MomentumSGD


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
