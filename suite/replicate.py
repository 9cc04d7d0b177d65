"""Replication: rerun recorded trials and compare their metrics with the record.

On the same machine and backend a trial is deterministic, so its metrics must
match exactly. Elsewhere (another CPU, a GPU, another backend) floating-point
order differs, and metrics must agree within ``TOLERANCE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from suite.record import provenance
from suite.search import nuisance
from suite.train import groups, trial
from suite.train.kept import Kept
from suite.study import ResolvedStudy
from suite.record import EPOCH_METRICS, Tracker

# Timings are not reproducible by nature; everything else must be.
TIMINGS = {"warmup_s", "train_time_s", "epoch_time_s", "time_to_target_s", "group_train_s"}
TOLERANCE = 0.02  # largest difference allowed across machines or backends, on any compared metric
# What must match for a rerun to give the same numbers to the last digit: the backend, the device, and the
# CPU's instruction-set features (other kernels round differently). A record made before the features were
# tagged is compared within the tolerance.
SAME_PLACE = ("backend", "device", "cpu.features")


@dataclass
class Difference:
    cell: str
    seed: int
    metric: str
    recorded: float | None
    replicated: float | None


def replicate(resolved: ResolvedStudy, tracker: Tracker, trials: int, seed: int = 0):
    """Rerun up to ``trials`` recorded trials (a seeded sample); return (compared, differences, exact)."""
    recorded = tracker.finished_trials(resolved)
    if not recorded:
        return 0, [], True
    here = provenance.collect(provenance.CODE_ROOT)
    study_run = tracker.latest_study_run(resolved)
    tags = study_run.data.tags if study_run else {}
    same_place = all(tags.get(k) == here.get(k) for k in SAME_PLACE)
    keys = sorted(recorded)
    chosen = [keys[i] for i in sorted(np.random.default_rng(seed).choice(len(keys), min(trials, len(keys)), replace=False))]
    cells = {cell.index: cell for cell in resolved.cells}
    tuned = tracker.tuned_values(resolved)  # a tuned study reran each cell with its search's choice: so do we
    differences = []
    kept = Kept()
    for cell_index, trial_seed in chosen:
        cell = cells[cell_index]
        settings = nuisance.apply(cell.settings, tuned[cell_index]) if tuned.get(cell_index) else cell.settings
        before = recorded[(cell_index, trial_seed)]
        if before.get("group_width"):  # trained together with its cell's seeds: again in a group of that width
            kept.groups = kept.groups or groups.Plan()
            kept.groups.cell(settings, list(resolved.study.seeds))
        again = trial.run(settings, trial_seed, resolved.study.target, diagnostics=tuple(resolved.study.diagnostics),
                          kept=kept).metrics
        for metric in sorted(set(before) | {k for k, v in again.items() if v is not None}):
            if metric in TIMINGS or metric in EPOCH_METRICS or "/" in metric:
                continue  # timings; and per-epoch or per-layer series, whose summaries are compared
            a, b = before.get(metric), again.get(metric)
            if not agree(a, b, exact=same_place):
                differences.append(Difference(cell.label, trial_seed, metric, a, b))
    return len(chosen), differences, same_place


def agree(a: float | None, b: float | None, exact: bool) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        missing = lambda x: x is None or (isinstance(x, float) and math.isnan(x))  # noqa: E731
        return missing(a) and missing(b)
    return a == b if exact else abs(a - b) <= TOLERANCE
