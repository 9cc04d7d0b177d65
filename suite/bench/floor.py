"""Training speed against the arithmetic floor, on one cell, in one fresh process (``python -m suite.bench.floor``).

Three ways to train the study's largest cell (the most training examples; the first such in
file order), measured back to back in the same minute:

- the **floor**: the same forward and backward matrix products of a dense network (MLPs only),
  done in plain NumPy float32, with no framework at all: the arithmetic any path must pay;
- **bare** ``model.fit`` (same model, optimizer, data and epochs) and its seconds per epoch;
- the **suite**'s trial (``suite.train.trial.run``): its training seconds per epoch (validation
  excluded), and its whole wall time (data, build, warm-up, validation, measurement) over the floor's
  time for the same number of epochs: for a cell's first trial, which traces the model's compiled
  functions, and for the next seed's, which reuses them as a study's further seeds do.

Per-epoch figures are medians over the epochs after the first (the first carries compilation).
Each path is timed with its results waited for: every epoch ends by reading a value back.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def largest_cell(resolved):
    return max(resolved.cells, key=lambda c: (c.settings.data.train_size or 0, -c.index))


def mlp_cell(resolved, part: str):
    """The study's largest cell, its splits and its layer widths (an MLP's: the NumPy floor is written for one)."""
    from suite.train.splits import prepare

    cell = largest_cell(resolved)
    s = cell.settings
    if s.model.family != "mlp":
        raise SystemExit(f"bench {part}: the NumPy floor is written for MLPs; pick a study whose largest cell is one")
    splits = prepare(s.data)
    layers = [int(np.prod(splits.input_shape)), *[s.model.width] * s.model.depth, splits.classes]
    return cell, splits, layers


def numpy_floor(layers: list[int], n: int, batch: int, epochs: int, seed: int = 0) -> list[float]:
    """Seconds per epoch of an MLP's matrix products in NumPy: forward, backward (both gradients) and an SGD update."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.05, (a, b)).astype("float32") for a, b in zip(layers[:-1], layers[1:])]
    x = rng.normal(size=(n, layers[0])).astype("float32")
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for i in range(0, n, batch):
            acts = [x[i : i + batch]]
            for w in weights:
                acts.append(np.maximum(acts[-1] @ w, 0))
            grad = acts[-1] - 0.1  # any upstream gradient of the right shape
            for j in range(len(weights) - 1, -1, -1):
                g_w = acts[j].T @ grad
                if j:
                    grad = (grad @ weights[j].T) * (acts[j] > 0)
                weights[j] -= 1e-6 * g_w
        seconds.append(time.perf_counter() - start)
    return seconds


def measure(study: Path, profile: str | None) -> dict:
    from suite.ground import console

    console.import_backend()
    import keras

    from suite.study import load_study
    from suite.train import backend, fitting, models, trial
    from suite.train.kept import Kept

    resolved = load_study(study, profile)
    cell, splits, layers = mlp_cell(resolved, "floor")
    s = cell.settings
    n, epochs = len(splits.y_train), s.train.epochs

    floor = numpy_floor(layers, n, s.train.batch_size, epochs)

    keras.backend.clear_session()
    backend.seed_everything(0)
    model = models.build(s.model, splits.input_shape, splits.classes, s.data.augment)
    fitting.compile_model(model, s.train, math.ceil(n / s.train.batch_size))
    clock = fitting.EpochClock()  # the suite's own clock: validation excluded, results waited for
    model.fit(**fitting.fit_arguments(s.train, splits), callbacks=[clock])
    bare = clock.seconds

    start = time.perf_counter()
    kept = Kept()  # as a run keeps them: the next seed reuses the first trial's compiled model
    result = trial.run(s, 0, resolved.study.target, kept=kept)
    trial_wall = time.perf_counter() - start
    suite = result.history["epoch_train_s"]
    start = time.perf_counter()
    trial.run(s, 1, resolved.study.target, kept=kept)
    next_trial_wall = time.perf_counter() - start

    steady = lambda seconds: statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]  # noqa: E731
    return {
        "cell": cell.label,
        "layers": layers,
        "train_examples": n,
        "batch_size": s.train.batch_size,
        "epochs": epochs,
        "training_loop": backend.training_loop(),
        "floor_epoch_s": steady(floor),
        "bare_epoch_s": steady(bare),
        "suite_epoch_s": steady(suite),
        "suite_trial_wall_s": trial_wall,
        "suite_next_trial_wall_s": next_trial_wall,
        "floor_epochs_s": sum(floor),
    }


if __name__ == "__main__":
    study, profile, out = sys.argv[1:4]
    Path(out).write_text(json.dumps(measure(Path(study), profile or None)))
