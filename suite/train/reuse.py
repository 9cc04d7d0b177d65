"""Compiled models kept across the trials of a cell.

Trials of one cell differ only by their seed, and tracing a model's training
epoch costs more than a short trial's arithmetic. So the model compiled and
traced for a cell's first trial in this process is kept, and every trial
(the first included) takes its starting state from a model freshly built and
compiled with its own seed: weights, dropout and noise generator states, and
optimizer slots are copied in. A trial thus starts exactly where a model built
from scratch with its seed would, whether or not the traced one is reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras

from suite.train import backend, fitting, loop, models, transfer

if TYPE_CHECKING:
    from suite.study import Settings


@dataclass
class Compiled:
    key: str  # the settings and data it was built for
    model: keras.Model
    epoch: object  # loop.compile_epoch's function, or None where the backend has none


_KEPT: Compiled | None = None  # the current cell's: trials run cell by cell, seed after seed


def model_for(settings: Settings, splits, seed: int) -> Compiled:
    """A compiled model for ``settings`` on ``splits``, in the state a fresh build with ``seed`` gives."""
    global _KEPT
    key = f"{settings.model_dump_json()}|{splits.fingerprint}"
    source = transfer.pretrained(settings, seed) if settings.train.transfer != "scratch" else None
    if _KEPT is None or _KEPT.key != key:
        _KEPT = None
        keras.backend.clear_session()  # a new cell: let the previous cell's model and functions go
    backend.seed_everything(seed)
    fresh = _build(settings, splits, source)
    if _KEPT is None:
        compiled = Compiled(key, fresh, loop.compile_epoch(fresh, settings.train, splits))
        # Only a compiled epoch is worth keeping. Elsewhere the trial runs model.fit, whose data pipeline
        # and compiled step belong to the model: every trial then trains its own fresh model.
        _KEPT = compiled if compiled.epoch is not None else None
        return compiled
    fresh.optimizer.build(fresh.trainable_variables)
    _copy(fresh.variables, _KEPT.model.variables)
    _copy(fresh.optimizer.variables, _KEPT.model.optimizer.variables)
    return _KEPT


def _build(settings: Settings, splits, source) -> keras.Model:
    model = models.build(settings.model, splits.input_shape, splits.classes, settings.data.augment)
    if source is not None:  # start from the source task's weights, with a fresh output layer
        transfer.transplant(model, source, freeze=settings.train.transfer == "head")
    fitting.compile_model(model, settings.train, math.ceil(len(splits.y_train) / settings.train.batch_size))
    return model


def _copy(sources: list, targets: list) -> None:
    if len(sources) != len(targets):  # the same settings always build the same structure
        raise RuntimeError(f"a rebuilt model has {len(sources)} variables where the kept one has {len(targets)}")
    for source, target in zip(sources, targets):
        target.assign(source.value)
