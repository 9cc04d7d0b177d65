"""Transfer learning: pretrain on a source task, then start the target model from its weights.

The source task is the same dataset and architecture restricted to ``pretrain.classes``
(relabelled 0..k-1); the target keeps every layer's weights but the output layer, which
starts fresh. ``head`` freezes the transplanted layers and trains only the new output
layer; ``full`` fine-tunes everything. Pretraining is seeded by the trial's seed and
kept for the run (``suite.train.kept``), so the head and full cells of one seed share the same source model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import keras
import numpy as np

from suite.train import backend, fitting, models
from suite.train.kept import Kept
from suite.train.splits import prepare

if TYPE_CHECKING:
    from suite.study import Settings


def pretrained(settings: Settings, seed: int, kept: Kept | None = None) -> list[list[np.ndarray]]:
    """Per layer of the source model, its weights after pretraining (once per run, ``kept``: a study's
    head and full cells share their source model)."""
    kept = kept or Kept()
    source = settings.model_copy(update={"train": settings.train.model_copy(update={"transfer": "scratch"})})
    return kept.pretrained.get_or_make((source.model_dump_json(), seed), lambda: _pretrain(source, seed, kept))


def _pretrain(settings: Settings, seed: int, kept: Kept) -> list[list[np.ndarray]]:
    p = settings.pretrain
    source = settings.data.model_copy(update={"classes": p.classes, "train_size": p.train_size})
    splits = prepare(source, kept)
    backend.seed_everything(seed)
    model = models.build(settings.model, splits.input_shape, splits.outputs, settings.data.augment)
    fitting.compile_model(model, settings.train, math.ceil(len(splits.y_train) / settings.train.batch_size))
    model.fit(splits.x_train, splits.y_train, batch_size=settings.train.batch_size, epochs=p.epochs, shuffle=True, verbose=0)
    return [[keras.ops.convert_to_numpy(w) for w in layer.weights] for layer in model.layers]


def transplant(model: keras.Model, weights: list[list[np.ndarray]], freeze: bool) -> None:
    """Copy every layer's weights but the output layer's; with ``freeze``, only the output layer trains."""
    if len(weights) != len(model.layers):
        raise ValueError("the pretrained model and the target model differ in their layers")
    for layer, values in zip(model.layers[:-1], weights[:-1]):
        if values:
            layer.set_weights(values)
        if freeze:
            layer.trainable = False
