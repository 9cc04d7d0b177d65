"""The metric catalogue (``suite/metrics.py``): each metric declared once, every list the suite needs a query on it.

Adding a metric is one declaration plus the code that computes it: ``test_mape`` (a regression's mean absolute
percentage error) was added that way, a line in the catalogue and three in ``train/tasks.py``; the tests below
show it judged, margined and shown with no other edit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from suite import metrics
from suite.analyze import report
from suite.analyze.drawing import panels
from suite.analyze.verdict import evaluate
from suite.kinds import expectation
from suite.kinds.margins import default
from suite.train import tasks


def test_every_metric_declares_a_direction_a_task_a_shape_and_a_label():
    for m in metrics.CATALOGUE:
        assert m.better in ("max", "min") and m.task in ("any", *metrics.TASKS), m.name
        assert m.shape in ("mean", "censored", "binary") and m.scale in ("metric", "relative") and m.label, m.name
        assert (m.shape == "censored") == (m.censored_at is not None), m.name
        assert m.margin is None or m.why, f"{m.name}: a default margin says why"


def test_each_task_reads_only_its_own_columns_and_panels():
    for task, other in (("classification", "regression"), ("regression", "classification")):
        for m in (*metrics.columns(task), *metrics.panels(task)):
            assert m.task in ("any", task), f"{m.name} is a {m.task} metric shown in a {task} report"
    names = [m.name for m in metrics.columns("classification")]
    assert "test_accuracy" in names and "test_r2" not in names
    assert metrics.columns(None) == metrics.columns("classification")  # a study that leaves data.task out classifies


def test_the_default_margin_of_each_metric_is_the_one_it_declares():
    for m in metrics.CATALOGUE:
        margin = default("metric", m.name)
        if m.margin is None:
            assert margin is None
        else:
            assert (margin.value, margin.scale, margin.why) == (m.margin, m.scale, "default: " + m.why)


def test_a_metric_added_by_one_declaration_is_computed_judged_margined_and_shown():
    # its computation: a trial's regression errors (train/tasks.py)
    task = tasks.Task(tasks.REGRESSION, "mse", label_mean=100.0, label_sd=10.0)
    y = np.array([0.0, 1.0, -1.0])  # standardized: labels 100, 110, 90
    errors = task.errors("test", np.array([[0.5], [1.0], [-1.0]]), y)  # off by 5 on the first
    assert errors["test_mape"] == pytest.approx((5 / 100) / 3)
    # its declaration: lower is better, a regression's, margin 10% of the reference arm, in the regression table
    m = metrics.get("test_mape")
    assert m.better == "min" and m.task == "regression" and "test_mape" in metrics.NAMES
    assert default("metric", "test_mape").at(0.4) == pytest.approx(0.04)
    assert "test MAPE" in [c.label for c in report.shown_columns("regression", targeted=False)]
    assert "test_mape" not in [c.name for c in metrics.columns("classification")]
    # judged like any metric: an expectation names it, a comparison reads its direction from the catalogue
    e = expectation(says="mae gives a lower MAPE", metric="test_mape", compare={"train.loss": "mae"},
                    against={"train.loss": "mse"}, direction="less")
    rows = pd.DataFrame({"cell": [0] * 6 + [1] * 6, "train.loss": ["mae"] * 6 + ["mse"] * 6, "seed": list(range(6)) * 2,
                         "status": "FINISHED", "test_mape": [0.20, 0.21, 0.19, 0.20, 0.22, 0.18] + [0.30, 0.31, 0.29,
                                                                                                    0.30, 0.32, 0.28]})
    (v,) = evaluate([e], rows, {"train.loss": ["mae", "mse"]}, alpha=0.05)
    assert v.verdict == "supported" and v.effect == pytest.approx(-0.10)


def test_the_figure_panels_come_from_the_catalogue_with_their_titles():
    assert [name for name, _ in panels("classification")] == ["test_accuracy", "generalization_gap", "epochs_to_target",
                                                              "time_to_target_s"]
    assert dict(panels("regression"))["test_rmse"] == "test RMSE (label units)"
