"""How `suite report` and resuming grow with the number of recorded trials.

A store is filled with N synthetic finished trials (made-up metrics and
per-epoch histories, written through the suite's own Tracker exactly as real
trials are), then the report is rebuilt and the study resumed, which must find
every trial recorded and train none. Only the times are kept: the synthetic
numbers are never reported as results.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from suite.analyze import report
from suite.ground import timing
from suite.record import provenance
from suite.running import runner
from suite.study import load_study
from suite.train import convergence
from suite.train.trial import TrialResult
from suite.workspace import Workspace

SEEDS = 10
EPOCHS = 20


def study_file(folder: Path, trials: int) -> Path:
    """A study of ``trials`` trials: trials / 10 cells x 10 seeds on a small synthetic dataset."""
    cells = max(trials // SEEDS, 1)
    rates = ", ".join(f"{0.5 * i / cells:.6f}" for i in range(cells))
    path = folder / "studies" / "scaling.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "name: scaling\ntitle: bench scaling store\nclaim: none, a store of synthetic trials for timing\n"
        "data: {dataset: synthetic, synthetic: {samples: 400}}\n"
        f"model: {{width: 8}}\ntrain: {{epochs: {EPOCHS}}}\n"
        f"grid: {{model.dropout: [{rates}]}}\nseeds: {list(range(SEEDS))}\n"
        "target: {metric: val_accuracy, value: 0.9}\n"
    )
    return path


def fake_result(rng: np.random.Generator, target) -> TrialResult:
    curve = np.sort(rng.uniform(0.3, 0.95, EPOCHS))
    history = {
        "loss": list(np.linspace(2.0, 0.2, EPOCHS) * rng.uniform(0.8, 1.2)),
        "accuracy": list(curve + 0.02),
        "val_loss": list(np.linspace(2.1, 0.3, EPOCHS)),
        "val_accuracy": list(curve),
        "learning_rate": [1e-3] * EPOCHS,
        "epoch_train_s": list(rng.uniform(0.05, 0.1, EPOCHS)),
    }
    history = {k: [float(v) for v in vs] for k, vs in history.items()}
    metrics = convergence.summarize(history, history["epoch_train_s"], target, steps_per_epoch=3, examples_per_epoch=320)
    for name in ("final_val_accuracy", "train_accuracy", "test_accuracy", "train_loss", "test_loss", "initial_loss"):
        metrics[name] = float(rng.uniform(0.2, 0.9))
    metrics["generalization_gap"] = metrics["train_accuracy"] - metrics["final_val_accuracy"]
    return TrialResult({k: v for k, v in metrics.items() if v is not None}, history, "synthetic", 100)


def record(home: Path, trials: int) -> tuple:
    """Fill a fresh store with ``trials`` finished synthetic trials; returns (workspace, resolved study, seconds)."""
    ws = Workspace(home)
    resolved = load_study(study_file(home, trials))
    tracker = ws.tracker()
    tags = provenance.collect(provenance.CODE_ROOT)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    parent = tracker.start_study(resolved, tags)
    for i, (cell, seed) in enumerate(resolved.trials):
        run_id = tracker.start_trial(resolved, parent, cell, seed, str(i), tags)
        tracker.finish_trial(run_id, fake_result(rng, resolved.study.target))
    tracker.end(parent)
    return ws, resolved, time.perf_counter() - start


def measure(scratch: Path, trials: int) -> dict:
    home = scratch / f"scaling-{trials}"
    shutil.rmtree(home, ignore_errors=True)  # a fresh store: exactly these trials
    ws, resolved, recorded_s = record(home, trials)
    start = time.perf_counter()
    report.write(resolved, ws.tracker(), ws.report_dir(resolved))
    report_s = time.perf_counter() - start

    timing.reset()
    start = time.perf_counter()
    runner.run_study(resolved, ws)  # every trial is recorded: it must train none, then writes the report again
    resume_s = time.perf_counter() - start - timing.snapshot()["study.report"]["seconds"]
    trained = timing.snapshot().get("trial.fit", {}).get("calls", 0)
    if trained:
        raise RuntimeError(f"bench: resuming a fully recorded study trained {trained} trials")
    return {"trials": trials, "record_s": recorded_s, "report_s": report_s, "resume_s": resume_s}
