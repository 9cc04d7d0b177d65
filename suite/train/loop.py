"""The training loop: epochs, validation once per epoch, and the callbacks that time and guard them.

On TensorFlow an epoch is one compiled call (``backend.compiled_epoch``): Keras's
own ``train_step`` looped over the batches inside the graph. This loop drives
it epoch by epoch with Keras's ``CallbackList``, so the callbacks that matter
keep their meaning: the clock (stopped when validation begins), the divergence
guard, the learning rate, early stopping with restored weights, diagnostics
probes. Validation is one inference pass over the split, its loss computed as
``evaluate`` reports it. Other backends compile their own steps: there the loop
is ``model.fit`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np

from suite.train import backend, fitting, measure, tasks
from suite.train import splits as splits_module

if TYPE_CHECKING:
    from suite.study import Train


def compile_epoch(model, t: Train, splits):
    """The compiled epoch of ``model`` on ``splits`` (``None`` where the backend has none: then ``fit`` uses ``model.fit``)."""
    weights = None
    if splits.class_weight is not None:  # as fit does: each example weighted by its class's weight
        table = np.array([splits.class_weight.get(c, 1.0) for c in range(splits.classes)], dtype="float32")
        weights = table[splits.y_train]
    return backend.compiled_epoch(model, splits.x_train, splits.y_train, weights, t.batch_size)


def fit(model, epoch_fn, t: Train, splits, callbacks: list, seed: int, rows=None) -> dict[str, list[float]]:
    """Train ``model`` on ``splits`` for ``t.epochs`` epochs; the per-epoch history (loss, accuracy, val_loss, val_accuracy;
    a regression's r2 for accuracy: ``Task.history_keys``).

    ``rows``: the training examples to use, by index, repeats allowed (a bootstrap resample); all of them once if ``None``.
    Each epoch reshuffles them, unless ``data.order`` fixes their order (``splits.fixed_order``)."""
    fixed = splits_module.fixed_order(splits, seed, rows)
    if fixed is not None:
        rows = fixed
    task = tasks.of(splits, t)
    keys = task.history_keys
    if epoch_fn is None:
        fitted = model.fit(**fitting.fit_arguments(t, splits, rows, shuffle=fixed is None), callbacks=callbacks)
        return {k: [float(v) for v in fitted.history[k]] for k in keys}

    steps = -(-len(splits.y_train) // t.batch_size)
    hooks = keras.callbacks.CallbackList(callbacks, model=model, epochs=t.epochs, steps=steps, verbose=0)
    history: dict[str, list[float]] = {k: [] for k in keys}
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(t.epochs):
        hooks.on_epoch_begin(epoch)
        logs = {k: float(v) for k, v in epoch_fn((seed, epoch), rows, fixed is None).items()}  # the shuffle: by seed and epoch
        hooks.on_test_begin()  # the clock stops: validation is not training time
        logs["val_loss"], logs[keys[3]] = task.loss_and_score(measure.logits(model, splits.x_val), splits.y_val,
                                                              measure.penalty(model))
        hooks.on_test_end()
        hooks.on_epoch_end(epoch, logs)
        for key in history:
            history[key].append(logs[key])
        if model.stop_training:
            break
    hooks.on_train_end()
    return history
