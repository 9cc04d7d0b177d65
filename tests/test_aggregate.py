"""Per-cell aggregation: confidence intervals, censored medians, one row per trial."""

import math

import pandas as pd
import pytest

from suite.analyze.aggregate import censored_median, latest_per_trial, mean_ci, summarize


def test_mean_ci_matches_t_interval():
    mean, half, n = mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302652729911275 * 1.0 / math.sqrt(3))  # t(0.975, 2) * sd / sqrt(n)
    assert mean_ci([5.0])[:2] == (5.0, pytest.approx(math.nan, nan_ok=True))
    assert mean_ci([None, float("nan")])[2] == 0


@pytest.mark.parametrize(
    "values, expected",
    [
        ([3, 1, 2], 2),
        ([1, 2, 3, 4], 2.5),
        ([1, None, None], math.inf),  # most seeds never got there: the median did not
        ([1, 2, None], 2),
        ([4, None], math.inf),
    ],
)
def test_censored_median(values, expected):
    assert censored_median(values) == expected


def test_latest_per_trial_prefers_finished_then_latest():
    rows = pd.DataFrame(
        [
            {"cell": 0, "seed": 0, "status": "FINISHED", "start_time": 1, "x": 1},
            {"cell": 0, "seed": 0, "status": "KILLED", "start_time": 2, "x": 2},
            {"cell": 0, "seed": 0, "status": "FINISHED", "start_time": 3, "x": 3},
            {"cell": 0, "seed": 1, "status": "FAILED", "start_time": 1, "x": 4},
        ]
    )
    assert latest_per_trial(rows)["x"].tolist() == [3, 4]


def test_summarize_counts_and_censoring():
    trials = pd.DataFrame(
        [
            {"cell": 0, "seed": s, "lr": 0.1, "status": "FINISHED", "reached_target": 1.0, "epochs_to_target": e,
             "test_accuracy": a, "diverged": 0.0}
            for s, e, a in [(0, 3.0, 0.8), (1, 5.0, 0.9)]
        ]
        + [
            {"cell": 1, "seed": 0, "lr": 10.0, "status": "FINISHED", "reached_target": 0.0, "epochs_to_target": None,
             "test_accuracy": 0.1, "diverged": 1.0},
            {"cell": 1, "seed": 1, "lr": 10.0, "status": "FAILED"},
        ]
    )
    s = summarize(trials, ["lr"]).set_index("cell")
    assert s.loc[0, "epochs_to_target_median"] == 4.0
    assert s.loc[0, "test_accuracy_mean"] == pytest.approx(0.85)
    assert s.loc[1, ["trials", "finished", "failed", "diverged"]].tolist() == [2, 1, 1, 1]
    assert s.loc[1, "reached_target"] == 0.0
    assert s.loc[1, "epochs_to_target_median"] == math.inf
