"""What a run refuses before its first trial, checked without training: the same checks for
``suite run`` (before it touches the store) and ``suite validate`` (so "ok" means the run will start).

Every cell's data loads and splits (the file exists, the label column is there, the classes and
shapes are known), and every plugin model family builds once for its data and maps a batch to one
logit per class. Built-in families need no build here; a plugin family wakes Keras to build it.
"""

from __future__ import annotations

from suite import console, plugins
from suite.study import ResolvedStudy
from suite.train import models
from suite.train.kept import Kept
from suite.train.splits import prepare


def check(resolved: ResolvedStudy, kept: Kept | None = None) -> None:
    """Raise the one-line error ``suite run`` would raise before training; return quietly otherwise.
    The splits made here are kept in ``kept`` for the run's trials."""
    built: set[str] = set()
    for cell in resolved.cells:  # every dataset loads (and is kept for the trials) before any trial
        splits = prepare(cell.settings.data, kept)
        family = cell.settings.model.family
        if models.plugin_family(family) is not None:  # the user's builder, tried before any trial
            key = f"{cell.settings.model!r}|{splits.input_shape}|{splits.classes}"
            if key in built:
                continue
            console.import_backend()
            plugins.try_build(cell.settings, splits.input_shape, splits.classes)
            built.add(key)
