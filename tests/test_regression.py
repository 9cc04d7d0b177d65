"""Regression (``data.task: regression``): a quantity predicted from a table, through the whole pipeline.

The loss and score as ``evaluate`` computes them, the splits (stratified by the label's deciles,
standardized by the training rows), every refusal in one line, `suite init` inferring the task and
measuring a ridge baseline on the study's own splits, and a study run end to end through the real
keras-tuner search, MLflow store and report, lower-is-better wherever a loss or an error is compared.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_diabetes

from suite.cli import main
from suite.ground.errors import StudyError
from suite.study import Data, load_study
from suite.train import tasks
from suite.train.splits import prepare


def diabetes_table(gaps: int = 0) -> pd.DataFrame:
    """scikit-learn's bundled diabetes table: 442 patients, 10 measurements, and a year's disease progression
    (whole numbers from 25 to 346): a quantity. ``gaps`` rows lose their label, as real tables do."""
    table = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    table["sex"] = table["sex"].map({1.0: "female", 2.0: "male"})  # a categorical column, as it comes
    if gaps:
        table.loc[: gaps - 1, "progression"] = np.nan
    return table


def test_the_loss_and_score_of_outputs_are_what_keras_computes():
    import keras

    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    out = (y + rng.normal(scale=1.5, size=200)).reshape(-1, 1)
    for loss, reference in (("mse", keras.losses.MeanSquaredError()), ("mae", keras.losses.MeanAbsoluteError()),
                            ("huber", keras.losses.Huber(delta=1.0))):
        task = tasks.Task(tasks.REGRESSION, loss)
        value, r2 = task.loss_and_score(out, y, penalty=0.25)
        assert value == pytest.approx(float(reference(y, out)) + 0.25, rel=1e-5)
        from sklearn.metrics import r2_score

        assert r2 == pytest.approx(r2_score(y, out[:, 0]))
    scaled = tasks.Task(tasks.REGRESSION, "mse", label_mean=20.0, label_sd=4.0)
    errors = scaled.errors("test", out, y)  # in the label's units: standardized residuals times its SD
    assert errors["test_rmse"] == pytest.approx(4.0 * np.sqrt(np.mean((out[:, 0] - y) ** 2)))
    assert errors["test_mae"] == pytest.approx(4.0 * np.mean(np.abs(out[:, 0] - y)))
    assert tasks.Task().history_keys == ("loss", "accuracy", "val_loss", "val_accuracy")
    assert scaled.history_keys == ("loss", "r2", "val_loss", "val_r2") and scaled.outputs(7) == 1


def test_splits_of_a_quantity_are_stratified_by_decile_and_standardized_by_the_training_rows(tmp_path):
    path = tmp_path / "diabetes.csv"
    diabetes_table(gaps=6).to_csv(path, index=False)
    s = prepare(Data(path=str(path), label="progression", task="regression"))
    assert s.label_scale is not None and s.outputs == 1 and s.classes == 0
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == 436  # the 6 unlabelled rows dropped, and said
    assert "label: 6 rows without a label dropped" in s.preprocessing
    assert s.y_train.mean() == pytest.approx(0.0, abs=1e-5) and s.y_train.std() == pytest.approx(1.0, abs=1e-5)
    mean, sd = s.label_scale
    raw = diabetes_table().dropna()["progression"]
    assert 25 <= mean <= 346 and sd == pytest.approx(raw.std(ddof=0), rel=0.15)
    for y in (s.y_val, s.y_test):  # every split holds low and high values: stratified by the deciles
        assert y.min() < -1.0 and y.max() > 1.0
    strata = tasks.strata(np.arange(100.0))
    assert np.bincount(strata).tolist() == [10] * 10


@pytest.mark.slow
def test_a_quantity_without_data_task_is_refused_in_one_line_naming_data_task(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    path = tmp_path / "diabetes.csv"
    diabetes_table().to_csv(path, index=False)
    study = tmp_path / "s.yaml"
    study.write_text(f"name: s\ntitle: t\nclaim: c\ndata: {{path: {path}, label: progression}}\n")
    for command in ("validate", "run"):
        assert main([command, str(study)]) == 2
        err = capsys.readouterr().err
        assert "looks like a quantity, not classes (214 distinct whole numbers in 442 rows: more than 10% of the rows): declare data.task: regression" in err


@pytest.mark.parametrize("extra, field", [
    ("data: {path: d.csv, label: y, task: regression, rebalance: class_weight}", "data.rebalance"),
    ("data: {path: d.csv, label: y, task: regression, classes: [0, 1]}", "data.classes"),
    ("data: {path: d.csv, label: y, task: regression}\nmodel: {members: 3}\ntrain: {epochs: 2}", "model.members"),
    ("data: {path: d.csv, label: y, task: regression}\ntrain: {monitor: val_accuracy, patience: 2}", "train.monitor"),
    ("data: {path: d.csv, label: y, task: regression}\ntarget: {metric: val_accuracy, value: 0.9}", "target.metric"),
    ("data: {path: d.csv, label: y, task: regression}\ntune: {objective: val_accuracy, space: "
     "{train.learning_rate: {log: [0.001, 0.1]}}}", "tune.objective"),
    ("data: {path: d.csv, label: y, task: regression}\ndiagnostics: [gradients]", "diagnostics"),
    ("data: {task: regression}", "data.path"),
    ("train: {loss: huber}", "train.loss"),
    ("target: {metric: val_r2, value: 0.5}", "target.metric: val_r2 scores a regression"),
    ("tune: {objective: val_r2, space: {train.learning_rate: {log: [0.001, 0.1]}}}", "tune.objective: val_r2"),
])
def test_what_a_regression_cannot_do_is_refused_in_one_line_naming_the_field(tmp_path, extra, field):
    (tmp_path / "d.csv").write_text("x,y\n1,2.5\n2,3.5\n")
    study = tmp_path / "s.yaml"
    study.write_text(f"name: s\ntitle: t\nclaim: c\n{extra}\n")
    with pytest.raises(StudyError) as raised:
        load_study(study)
    message = str(raised.value)
    assert field in message and "\n" not in message.strip()


def test_a_regression_study_defaults_to_validation_loss_and_the_mean_squared_error(tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n1,2.5\n2,3.5\n")
    study = tmp_path / "s.yaml"
    study.write_text("name: s\ntitle: t\nclaim: c\ndata: {path: d.csv, label: y, task: regression}\n"
                     "tune: {space: {train.learning_rate: {log: [0.001, 0.1]}}}\n")
    s = load_study(study).study
    assert (s.target.metric, s.target.direction, s.tune.objective, s.train.loss) == ("val_loss", "min", "val_loss", "mse")


@pytest.mark.slow
def test_suite_init_infers_a_regression_measures_a_ridge_baseline_and_the_study_runs_as_written(tmp_path, monkeypatch, capsys):
    """From a raw table with a continuous label (a categorical column, gaps in the label) to a judged report in two
    commands; the ridge baseline is the one fitted on the study's own training rows; every metric that is a loss
    or an error is lower-is-better in the search, the record and the verdict."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    data = tmp_path / "diabetes.csv"
    diabetes_table(gaps=5).to_csv(data, index=False)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["init", str(data), "--label", "progression"]) == 0
    said = capsys.readouterr().out
    assert "label: 5 rows without a label dropped" in said and "sex: categorical (strings)" in said
    text = (tmp_path / "diabetes.yaml").read_text()
    assert "is a quantity\n#   (214 distinct whole numbers in 437 rows: more than 10% of the rows), so this is a regression" in text
    assert "task: regression" in text and "per: seed" in text and "objective: val_loss" in text
    resolved = load_study(tmp_path / "diabetes.yaml", "smoke")
    splits = prepare(resolved.cells[0].settings.data)
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(splits.x_train, splits.y_train)
    (claim,) = resolved.study.expect
    assert claim.metric == "test_r2" and claim.above == pytest.approx(r2_score(splits.y_test, ridge.predict(splits.x_test)), abs=1e-4)
    assert resolved.study.target.metric == "val_r2"
    assert resolved.study.target.value == pytest.approx(r2_score(splits.y_val, ridge.predict(splits.x_val)), abs=1e-4)

    assert main(["run", str(tmp_path / "diabetes.yaml"), "--profile", "smoke"]) == 0
    out = tmp_path / "home" / "results" / "diabetes" / "smoke"
    report = (out / "report.md").read_text()
    assert "| test R² | test RMSE | test MAE |" in report and "best val R² found" in report
    assert "The tuned MLP's test R² is above a ridge regression's on the same splits" in report and "No verdict" not in report
    trials = pd.read_csv(out / "trials.csv")
    assert {"test_r2", "test_rmse", "test_mae", "val_rmse", "final_val_r2", "best_val_r2"} <= set(trials.columns)
    assert "test_accuracy" not in trials.columns and (trials["test_rmse"] > 1).all()  # in the label's units
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert verdicts["verdicts"][0]["metric"] == "test_r2"
    searches = pd.read_csv(out / "searches.csv")
    store = MlflowClient(f"sqlite:///{tmp_path / 'home' / '.suite' / 'mlflow.db'}")
    run = store.get_run(trials["run_id"].iloc[0])
    assert run.data.params["data.task"] == "regression" and run.data.params["train.loss"] == "mse"
    assert "data.rebalance" not in run.data.params  # a classification's settings do not apply
    assert [m.step for m in store.get_metric_history(run.info.run_id, "val_r2")][0] == 1
    # the search ranks by validation loss, lower first: its chosen setting is its lowest search score
    chosen = json.loads(trials["tuned"].iloc[0])
    best = searches.sort_values("search_score").iloc[0]
    assert json.loads(best["values"]) == chosen


@pytest.mark.slow
def test_a_grid_over_the_regression_loss_trains_each_and_compares_lower_errors_as_better(tmp_path, monkeypatch):
    data = tmp_path / "diabetes.csv"
    diabetes_table().to_csv(data, index=False)
    study = tmp_path / "losses.yaml"
    study.write_text(f"""\
name: losses
title: Losses
claim: the absolute error is not worse than the squared error on its own measure
data: {{path: {data}, label: progression, task: regression}}
model: {{depth: 1, width: 16}}
train: {{epochs: 4, batch_size: 64}}
grid: {{train.loss: [mse, mae, huber]}}
seeds: [0, 1]
expect:
  - says: mae ends with a lower test MAE than mse
    metric: test_mae
    compare: {{train.loss: mae}}
    against: {{train.loss: mse}}
    direction: less
""")
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", str(study)]) == 0
    out = tmp_path / "home" / "results" / "losses" / "base"
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 6 and trials["test_loss"].notna().all()
    by_loss = trials.groupby("train.loss")["test_loss"].mean()
    assert by_loss["huber"] < by_loss["mse"]  # Huber is at most half the squared error at every residual
    report = (out / "report.md").read_text()
    assert "mae ends with a lower test MAE than mse" in report


def test_init_takes_the_task_it_is_told_instead_of_inferring_it(tmp_path, monkeypatch, capsys):
    """`suite init --task`: the diabetes progression taken as classes, as declared (the notes say it looked like a
    quantity); an .npz file's y as a quantity, with the ridge baseline measured on its splits."""
    table = diabetes_table()
    table.to_csv(tmp_path / "diabetes.csv", index=False)
    assert main(["init", str(tmp_path / "diabetes.csv"), "--label", "progression", "--task", "classification"]) == 0
    said = capsys.readouterr().out
    assert "label: declared classes (data.task: classification), although it looks like a quantity" in said
    text = (tmp_path / "diabetes.yaml").read_text()
    assert 'label: "progression", task: classification' in text and "metric: test_" in text
    assert load_study(tmp_path / "diabetes.yaml").study.data.task == "classification"

    x = table.drop(columns=["progression", "sex"]).to_numpy(dtype="float32")
    np.savez(tmp_path / "arrays.npz", x=x, y=table["progression"].to_numpy(dtype="float64"))
    assert main(["init", str(tmp_path / "arrays.npz"), "--task", "regression"]) == 0
    text = (tmp_path / "arrays.yaml").read_text()
    assert '{path: "arrays.npz", task: regression}' in text and "(declared with --task regression)" in text
    resolved = load_study(tmp_path / "arrays.yaml")
    assert resolved.study.data.task == "regression" and resolved.study.expect[0].metric == "test_r2"
    assert 0.2 < resolved.study.expect[0].above < 0.7  # a ridge regression's test R² on the diabetes measurements


def test_a_baseline_is_measured_on_the_studys_own_splits_so_a_dropped_column_moves_it(tmp_path, capsys):
    """Issue 60: init wrote the ridge regression's R² into the file; dropping a column that leaks the label (as the
    README says to) left the baseline measured with it, and a sound network read "refuted". ``above: baseline`` is
    measured whenever the study is read, on the splits its trials see."""
    import pandas as pd

    from suite.analyze.verdict import evaluate

    rng = np.random.default_rng(0)
    temp_max = rng.normal(15, 8, 400).round(1)
    pd.DataFrame({"temp_max": temp_max, "temp_min": (temp_max - 7 + rng.normal(0, 0.8, 400)).round(1),
                  "wind": rng.normal(4, 1, 400).round(1)}).to_csv(tmp_path / "weather.csv", index=False)
    body = ("name: weather\ntitle: t\nclaim: c\ndata: {{path: weather.csv, label: temp_max, task: regression{drop}}}\n"
            "expect:\n  - says: above the baseline\n    metric: test_r2\n    above: baseline\n")
    (tmp_path / "leaky.yaml").write_text(body.format(drop=""))
    (tmp_path / "clean.yaml").write_text(body.format(drop=", columns: {temp_min: drop}"))
    leaky, clean = (load_study(tmp_path / f"{n}.yaml").study.expect[0] for n in ("leaky", "clean"))
    assert leaky.above > 0.95 and clean.above < 0.1  # the leak makes the ridge regression near perfect
    trials = pd.DataFrame({"cell": 0, "seed": [0, 1, 2], "status": "FINISHED", "test_r2": [0.50, 0.52, 0.48]})
    (with_leak,), (without,) = (evaluate([e], trials, {}, 0.05) for e in (leaky, clean))
    assert with_leak.verdict == "refuted" and without.verdict == "supported"
    assert "a ridge regression on this study's own splits" in without.observed
    assert main(["validate", str(tmp_path / "clean.yaml")]) == 0
    wrong = body.format(drop="").replace("metric: test_r2", "metric: test_mae")
    (tmp_path / "wrong.yaml").write_text(wrong)
    assert main(["validate", str(tmp_path / "wrong.yaml")]) == 2
    assert "expect[0].metric: a baseline is measured on test_accuracy" in capsys.readouterr().err
