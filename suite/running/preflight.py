"""What a run refuses before its first trial, checked without training: the same checks for
``suite run`` (before it touches the store) and ``suite validate`` (so "ok" means the run will start).

Every cell's data loads and splits (the file exists, the label column is there, the classes and
shapes are known), and every plugin model family builds once for its data and maps a batch to one
logit per class. Built-in families need no build here; a plugin family wakes Keras to build it.
"""

from __future__ import annotations

from suite.ground import console
from suite.study import ResolvedStudy
from suite.train import models
from suite.train.kept import Kept
from suite.train.splits import prepare
from suite.usercode import plugins


def budgeted(resolved: ResolvedStudy, kept: Kept | None = None) -> ResolvedStudy:
    """The study with each budget in gradient steps (``train.steps``) turned into its cell's epoch cap:
    ceil(steps / steps per epoch) for the cell's training split and batch size. Cells without one are unchanged."""
    import dataclasses
    import math

    kept = Kept() if kept is None else kept  # each dataset loads once, not once per cell

    def capped(settings):
        t = settings.train
        if t.steps is None:
            return settings
        per_epoch = math.ceil(len(prepare(settings.data, kept).y_train) / t.batch_size)
        return settings.model_copy(update={"train": t.model_copy(update={"epochs": math.ceil(t.steps / per_epoch)})})

    cells = []
    for cell in resolved.cells:
        by_seed = {s: (capped(settings), tuned) for s, (settings, tuned) in cell.by_seed.items()} if cell.by_seed else None
        cells.append(dataclasses.replace(cell, settings=capped(cell.settings), by_seed=by_seed))
    return dataclasses.replace(resolved, cells=tuple(cells))


def check(resolved: ResolvedStudy, kept: Kept | None = None) -> None:
    """Raise the one-line error ``suite run`` would raise before training; return quietly otherwise.
    The splits made here are kept in ``kept`` for the run's trials."""
    kept = Kept() if kept is None else kept  # each dataset loads once, not once per cell (7 s for MNIST-1D)
    built: set[str] = set()
    for cell in resolved.cells:  # every dataset loads (and is kept for the trials) before any trial
        splits = prepare(cell.settings.data, kept)
        family = cell.settings.model.family
        if models.plugin_family(family) is not None:  # the user's builder, tried before any trial
            key = f"{cell.settings.model!r}|{splits.input_shape}|{splits.outputs}"
            if key in built:
                continue
            console.import_backend()
            plugins.try_build(cell.settings, splits.input_shape, splits.outputs)
            built.add(key)
