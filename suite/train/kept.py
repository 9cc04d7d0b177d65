"""What lives across trials: one object, made by whoever runs trials and passed down to them.

A study's trials share much that is costly to make: the raw datasets and files they read, the
splits cut from them, a transfer study's pretrained source models, and each cell's compiled model and
traced epoch. (The plan of trials that train together, on the grouped path, is not kept here: it is the
run's, and passed to the tuners and trials as ``groups``.) The runner
makes one ``Kept`` for a run and hands it to every search and trial (``suite replicate`` and
``make bench`` make their own), so this class is the whole list of what outlives a trial; no
module keeps state of its own. A function given no ``Kept`` keeps nothing: each call starts afresh.

Each store is bounded: a full one starts over rather than growing (a study's cells come one after
another, so when a new one finds the store full, what the earlier ones made is done with).

Two things stay outside, because their life is not a run's: a model's compiled forward pass lives
with its model (``backend.inference``, weakly keyed), and ``freeze_libraries`` moves the libraries'
objects out of the garbage collector's sight once per process.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field


class Bounded(dict):
    """A dict of at most ``size`` entries: when full, ``put`` empties it first."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value):
        if key not in self and len(self) >= self.size:
            self.clear()
        self.pop(key, None)  # re-inserted: the most recently used last
        self[key] = value
        return value

    def get_or_make(self, key, make):
        """The entry for ``key``, made (and kept) on first use."""
        return self[key] if key in self else self.put(key, make())


KEEP_MODELS = 4  # compiled models kept at once: a search may alternate between a few structures


@dataclass
class Kept:
    """Everything a run keeps from one trial to the next (see the module's docstring)."""

    sources: Bounded = field(default_factory=lambda: Bounded(4))  # raw datasets, by name (datasets.load_source)
    files: Bounded = field(default_factory=lambda: Bounded(4))  # data files read, by path, label, version (files.read)
    splits: Bounded = field(default_factory=lambda: Bounded(64))  # splits, by data settings (splits.prepare)
    pretrained: Bounded = field(default_factory=lambda: Bounded(8))  # source models' weights (transfer.pretrained)
    models: Bounded = field(default_factory=lambda: Bounded(KEEP_MODELS))  # compiled models (reuse.model_for)

    def next_study(self) -> Kept:
        """What the next study run in the same process starts from: the raw datasets and files read carry
        over (the same arrays, never changed in place); splits and models start afresh."""
        return Kept(sources=self.sources, files=self.files)

    def forget_models(self) -> None:
        """Let every kept model and its functions go (when a new cell finds the store full, or a trial on a
        backend with nothing to keep starts afresh, as keras-tuner's trials should)."""
        import keras

        self.models.clear()
        freeze_libraries()
        # Not with Keras's full garbage collection: Keras's optimizer on TensorFlow leaves each traced
        # cell's graphs reachable (about 7,000 objects, 5 MB), so a full collection per cell grew slower
        # cell after cell (1.1 -> 1.6 s a cell over 90 cells, measured); Python's own collections run as usual.
        keras.backend.clear_session(free_memory=False)


def freeze_libraries() -> None:
    """Move everything alive before the first trial (TensorFlow, Keras, MLflow: about half a million
    objects) out of the garbage collector's sight, once per process: a full collection would scan them
    all each time (0.28 s, measured)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
