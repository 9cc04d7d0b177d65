"""The baseline of ``make bench``: a study's trials as a bare ``model.fit`` loop.

The same data, models, optimizers, epochs and seeds as ``suite run``, with
nothing around them: no keras-tuner, no MLflow, no measurements beyond fit's
own validation, no report. Run as ``python -m suite.bench.bare STUDY.yaml
PROFILE OUT.json``; the caller times the whole process.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path


def fit_all(path: Path, profile: str | None) -> dict:
    import keras

    from suite.study import load_study
    from suite.train import backend, fitting, models
    from suite.train.kept import Kept
    from suite.train.splits import prepare

    resolved = load_study(path, profile)
    if resolved.study.tune is not None:
        raise SystemExit("bench: a study with tune: runs searches a bare fit loop has no counterpart for; pick another")
    start = time.perf_counter()
    fits, kept = [], Kept()
    for cell, seed in resolved.trials:
        settings = cell.settings
        splits = prepare(settings.data, kept)  # once per dataset, as a hand-written script would
        keras.backend.clear_session()
        backend.seed_everything(seed)
        model = models.build(settings.model, splits.input_shape, splits.classes, settings.data.augment)
        fitting.compile_model(model, settings.train, math.ceil(len(splits.y_train) / settings.train.batch_size))
        began = time.perf_counter()
        model.fit(**fitting.fit_arguments(settings.train, splits), callbacks=fitting.early_stopping(settings.train))
        fits.append(time.perf_counter() - began)
    return {"trials": len(fits), "fit_s": sum(fits), "loop_s": time.perf_counter() - start}


if __name__ == "__main__":
    study, profile, out = sys.argv[1:4]
    Path(out).write_text(json.dumps(fit_all(Path(study), profile or None)))
