"""Compiled models kept across the trials of a cell.

Trials of one cell differ only by their seed, and tracing a model's training
epoch costs more than a short trial's arithmetic. So the model compiled and
traced for a cell's first trial of a run is kept (``suite.train.kept``; the last
few cells' models: a search may alternate between, say, two momentum values), and every trial
(the first included) takes its starting state from a model freshly built and
compiled with its own seed: weights, dropout and noise generator states, and
optimizer slots are copied in. A trial thus starts exactly where a model built
from scratch with its seed would, whether or not the traced one is reused
(TensorFlow's global seed aside, which nothing in a compiled epoch reads:
setting it would clear the kept functions' kernels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras

from suite.train import backend, fitting, loop, models, optimizers, tasks, transfer
from suite.train.kept import Kept

if TYPE_CHECKING:
    from suite.study import Settings


@dataclass
class Compiled:
    key: str  # the settings and data it was built for (``_key``)
    model: keras.Model
    epoch: object  # loop.compile_epoch's function, or None where the backend has none


def model_for(settings: Settings, splits, seed: int, kept: Kept | None = None) -> Compiled:
    """A compiled model for ``settings`` on ``splits``, in the state a fresh build with ``seed`` gives
    (the run's kept one where ``kept`` holds it)."""
    kept = kept or Kept()
    key = _key(settings, splits)
    source = transfer.pretrained(settings, seed, kept) if settings.train.transfer != "scratch" else None
    reused = kept.models.pop(key, None)
    if reused is None and (len(kept.models) >= kept.models.size or not kept.models):  # a full store, or nothing
        kept.forget_models()  # kept (JAX, torch: no compiled epoch to keep) starts afresh, as keras-tuner's trials should
    # The kept model's compiled epoch reads no TensorFlow global seed, and setting it would cost the
    # kept functions their set-up again: the fresh build is seeded in full only when nothing is kept.
    backend.seed_everything(seed, tensorflow_global=not kept.models and reused is None)
    fresh = _build(settings, splits, source)
    if reused is None:
        compiled = Compiled(key, fresh, loop.compile_epoch(fresh, settings.train, splits))
        # Only a compiled epoch is worth keeping. Elsewhere the trial runs model.fit, whose data pipeline
        # and compiled step belong to the model: every trial then trains its own fresh model.
        if compiled.epoch is not None:
            kept.models.put(key, compiled)
        return compiled
    kept.models.put(key, reused)  # now the most recently used
    fresh.optimizer.build(fresh.trainable_variables)
    _copy(fresh.variables, reused.model.variables)
    _copy(fresh.optimizer.variables, reused.model.optimizer.variables)
    return reused


def _key(settings: Settings, splits) -> str:
    """What a compiled epoch depends on: the settings and data, less what the graph does not hold.

    A constant learning rate is an optimizer variable, copied in with the others, and the epoch
    budget and early stopping only steer the loop outside the graph: so the trials of a search over the
    rate (or of a search and its final runs) share one trace; so do those of a search over
    momentum, a variable of the suite's SGD, or over epsilon, a variable of its RMSprop, Adam and AdamW. A schedule holds the rate and the budget in its
    graph, so then they stay in the key. An ensemble's members, and ensembles of any size, share
    the trace of their one network: a bootstrap resample is an argument of the compiled epoch."""
    train = settings.train
    ignored = {"patience": None, "monitor": "val_loss"}
    if train.schedule == "constant":
        ignored |= {"learning_rate": 0.0, "epochs": 1}
    if train.optimizer in optimizers.VARIABLE_MOMENTUM:  # a variable too, but a momentum of zero builds no slots
        ignored["momentum"] = float(train.momentum != 0)
    if train.optimizer in optimizers.VARIABLE_EPSILON:  # a variable too
        ignored["epsilon"] = 1.0
    # An ensemble's members are the same network trained one after another, each on its rows (``ensemble``).
    model = settings.model.model_copy(update={"members": 1, "resample": "none"})
    settings = settings.model_copy(update={"train": train.model_copy(update=ignored), "model": model})
    return f"{settings.model_dump_json()}|{splits.fingerprint}"


def _build(settings: Settings, splits, source) -> keras.Model:
    model = models.build(settings.model, splits.input_shape, splits.outputs, settings.data.augment)
    if source is not None:  # start from the source task's weights, with a fresh output layer
        transfer.transplant(model, source, freeze=settings.train.transfer == "head")
    fitting.compile_model(model, settings.train, math.ceil(len(splits.y_train) / settings.train.batch_size),
                          tasks.of(splits, settings.train))
    return model


def _copy(sources: list, targets: list) -> None:
    if len(sources) != len(targets):  # the same settings always build the same structure
        raise RuntimeError(f"a rebuilt model has {len(sources)} variables where the kept one has {len(targets)}")
    for source, target in zip(sources, targets):
        target.assign(source.value)
