"""The rule `suite replicate --from` applies on another machine: each cell's rerun seeds against its committed
seeds as two samples per metric, Holm over every (cell, metric), and verdicts judged as a confirmation judges
them. Pure functions on committed files: no training."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from suite import statistics
from suite.kinds.base import finished
from suite.running.replicate import calibration, same_distribution

ROOT = Path(__file__).resolve().parent.parent


def committed(study: str) -> pd.DataFrame:
    return finished(pd.read_csv(ROOT / "results" / study / "quick" / "trials.csv"))


def test_a_rerun_from_the_same_distribution_passes_at_least_95_percent_of_the_time():
    """Calibration by resampling: each cell's committed seeds split at random into two halves (and, apart, two
    samples from each cell's fitted normal), compared as a replication compares them: the rule passes at least
    1 - alpha of 200 draws (seeded: the same figure on every machine)."""
    trials = committed("learning_rate")
    used = ["diverged", "epochs_to_target", "train_loss"]  # the metrics learning_rate's verdicts use
    assert calibration(trials, used, draws=200, seed=0, resample="split") >= 0.95
    assert calibration(trials, used, draws=100, seed=0, resample="normal") >= 0.95


def test_the_old_rule_a_fresh_mean_inside_the_committed_interval_fails_sound_reruns_often():
    """Why the rule changed: a fresh mean of n seeds falls outside the committed mean's 95% interval about 17% of
    the time for one cell and metric, since the fresh mean has noise of its own. Measured here on normal samples."""
    rng = np.random.default_rng(0)
    outside = 0
    for _ in range(2000):
        a, b = rng.normal(size=20), rng.normal(size=20)
        half = 2.093 * a.std(ddof=1) / math.sqrt(20)
        outside += abs(b.mean() - a.mean()) > half
    assert 0.13 < outside / 2000 < 0.22
    p = [statistics.welch(rng.normal(size=20), rng.normal(size=20)).pvalue for _ in range(2000)]
    assert 0.03 < np.mean(np.array(p) < 0.05) < 0.07  # the two-sample test holds its level


def test_a_shifted_cell_is_named_with_its_test_and_holm_p():
    trials = committed("learning_rate")
    rerun = trials.copy()
    moved = rerun["cell"] == 3
    rerun.loc[moved, "train_loss"] += 0.2  # ten of its seed SDs: no sound rerun does this
    tests, lines = same_distribution(trials, rerun, ["diverged", "epochs_to_target", "train_loss"], {3: "rate=0.1"})
    assert tests >= 7 and len(lines) == 1
    assert lines[0].startswith("rate=0.1: train_loss rerun mean") and "Welch t" in lines[0] and "Holm p" in lines[0]
    _, unchanged = same_distribution(trials, trials, ["diverged", "epochs_to_target", "train_loss"], {})
    assert unchanged == []


def test_a_time_to_target_is_compared_by_ranks_with_misses_last_and_a_yes_no_outcome_by_counts():
    fast = pd.DataFrame({"cell": 0, "seed": range(8), "epochs_to_target": [3.0] * 8, "diverged": [0.0] * 8})
    slow = fast.assign(epochs_to_target=[math.nan] * 8, diverged=[1.0] * 8)  # never reached, and all diverged
    tests, lines = same_distribution(fast, slow, ["epochs_to_target", "diverged"], {0: "c"})
    assert tests == 2 and len(lines) == 2
    assert "Mann-Whitney U" in lines[0] and "0% reached" in lines[0] and "Fisher exact" in lines[1]


def test_welch_is_exact_where_neither_sample_varies():
    assert statistics.welch([1.0, 1.0], [1.0, 1.0]).pvalue == 1.0
    assert statistics.welch([1.0, 1.0], [2.0, 2.0]).pvalue == 0.0
    assert math.isnan(statistics.welch([1.0], [2.0, 3.0]).pvalue)
    assert statistics.holm([0.01, 0.04, math.nan])[:2] == [0.02, 0.04]
