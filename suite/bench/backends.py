"""The same study file on each installed Keras backend: time per epoch, and the backend on every run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mlflow.tracking import MlflowClient

from suite.bench.processes import Timed, suite_run
from suite.workspace import Workspace

BACKENDS = ("tensorflow", "jax", "torch")


def installed() -> list[str]:
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def recorded_backends(home: Path, study: str) -> dict[str, int]:
    """How many trial runs in the workspace's store name each backend (the tag every run carries)."""
    client = MlflowClient(Workspace(home).tracking_uri())
    experiment = client.get_experiment_by_name(study)
    runs = client.search_runs([experiment.experiment_id], "tags.`suite.kind` = 'trial'", max_results=10000)
    counts: dict[str, int] = {}
    for run in runs:
        name = run.data.tags.get("backend", "missing")
        counts[name] = counts.get(name, 0) + 1
    return counts


def figures(timed: Timed, study: str, profile: str, backend: str) -> dict:
    trials = timed.trials(study, profile)
    recorded = recorded_backends(timed.home, study)
    if set(recorded) != {backend}:
        raise RuntimeError(f"bench: runs on {backend} were recorded as {recorded}")
    n = len(trials)
    return {
        "backend": backend,
        "trials": n,
        "wall_s": timed.wall_s,
        "epoch_s": float(trials["epoch_time_s"].median()),  # a steady epoch: the first one's tracing left out
        "first_epoch_extra_s": float(trials["warmup_s"].median()),
        "build_s": timed.sections.get("trial.build", 0.0) / n,
        "test_accuracy": float(trials["test_accuracy"].mean()),
        "runs_recorded": recorded,
    }


def measure(scratch: Path, study: Path, profile: str, backend: str) -> dict:
    return figures(suite_run(scratch, backend, study, profile, keras_backend=backend), study.stem, profile, backend)
