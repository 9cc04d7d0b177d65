"""The user's own data: CSV, Parquet and NPZ files as a study's data, and every bad file in one line."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_wine

from suite.cli import main
from suite.ground.errors import DataError, StudyError
from suite.study import Data, load_study
from suite.train.splits import prepare


def wine_table() -> pd.DataFrame:
    """A small real table that ships with scikit-learn: 178 wines, 13 measurements, 3 cultivars (named here)."""
    wine = load_wine(as_frame=True)
    table = wine.frame.rename(columns={"target": "cultivar"})
    table["cultivar"] = table["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return table


def test_a_csv_with_string_labels_is_encoded_in_sorted_order_and_keeps_the_names(tmp_path):
    path = tmp_path / "wine.csv"
    wine_table().to_csv(path, index=False)
    s = prepare(Data(path=str(path), label="cultivar", test=0.2, validation=0.25))
    assert s.class_names == ("barbera", "barolo", "grignolino") and s.classes == 3
    assert s.input_shape == (13,)
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == 178
    assert np.allclose(s.x_train.mean(axis=0), 0, atol=1e-5)  # scaled on the training split, as the built-ins


def test_parquet_and_npz_give_the_same_splits_as_the_csv(tmp_path):
    table = wine_table()
    table.to_csv(tmp_path / "wine.csv", index=False)
    table.to_parquet(tmp_path / "wine.parquet")
    names, codes = np.unique(table["cultivar"], return_inverse=True)
    np.savez(tmp_path / "wine.npz", x=table.drop(columns="cultivar").to_numpy(), y=names[codes].astype(str))  # strings, not pickled objects
    csv = prepare(Data(path=str(tmp_path / "wine.csv"), label="cultivar"))
    parquet = prepare(Data(path=str(tmp_path / "wine.parquet"), label="cultivar"))
    npz = prepare(Data(path=str(tmp_path / "wine.npz")))
    assert csv.fingerprint == parquet.fingerprint == npz.fingerprint
    assert npz.class_names == csv.class_names


def test_an_npz_with_its_own_test_split_and_images_keeps_both(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "img.npz", x=rng.normal(size=(60, 4, 4)), y=rng.integers(0, 3, 60),
             x_test=rng.normal(size=(20, 4, 4)), y_test=rng.integers(0, 3, 20))
    s = prepare(Data(path=str(tmp_path / "img.npz"), train_size=40))
    assert s.input_shape == (4, 4) and len(s.y_test) == 20 and len(s.y_train) + len(s.y_val) == 40


def bad_files(tmp_path):
    table = wine_table()
    cases = {}

    def csv(name, frame, label="cultivar", message=""):
        frame.to_csv(tmp_path / name, index=False)
        cases[name] = (label, message)

    csv("nolabel.csv", table, label="grape", message="data.label: no column 'grape' in nolabel.csv")
    dates = table.copy()
    dates["harvest"] = [f"2019-09-{1 + i % 28:02d}" if i else "2019-09-99" for i in range(len(dates))]
    csv("dates.csv", dates, message="data.columns: column 'harvest' is taken as dates but 1 of its values are not (e.g. '2019-09-99')")
    notes = table.copy()
    notes["tasting"] = "a long and fruity finish with notes of cherry"
    csv("notes.csv", notes, message="data.path: column 'tasting' of notes.csv holds free text")
    csv("oneclass.csv", table.assign(cultivar="barolo"), message="data.label: column 'cultivar' of oneclass.csv holds one class only")
    (tmp_path / "empty.csv").write_text("alcohol,cultivar\n")
    cases["empty.csv"] = ("cultivar", "data.path: empty.csv has no rows")
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    cases["garbage.parquet"] = ("cultivar", "data.path: cannot read garbage.parquet as parquet")
    cases["absent.csv"] = ("cultivar", "data.path: no such file")
    np.savez(tmp_path / "short.npz", x=np.zeros((10, 3)), y=np.arange(9) % 2)
    cases["short.npz"] = (None, "data.path: short.npz: x has 10 rows but y has 9")
    np.savez(tmp_path / "noy.npz", x=np.zeros((10, 3)))
    cases["noy.npz"] = (None, "data.path: noy.npz: no array 'y'")
    return cases


def test_a_raw_table_is_encoded_per_split_fitted_on_its_training_rows(tmp_path):
    """Strings, booleans (as pandas.get_dummies writes them) and gaps: no hand cleaning, nothing learnt from
    validation or test rows, a category first seen outside the training rows is all zeros."""
    table = wine_table()
    rng = np.random.default_rng(0)
    table["region"] = rng.choice(["piemonte", "toscana"], len(table)).astype(object)
    table.loc[len(table) - 1, "region"] = "sicilia"  # one row only: held out or in training, never a failure
    table["oak"] = rng.choice([True, False], len(table))
    table.loc[[3, 7], "alcohol"] = np.nan
    table["id"] = [f"bottle-{i}" for i in range(len(table))]
    table.to_csv(tmp_path / "raw.csv", index=False)
    with pytest.raises(DataError, match="column 'id' of raw.csv has a different value on every row"):
        prepare(Data(path=str(tmp_path / "raw.csv"), label="cultivar"))
    splits = prepare(Data(path=str(tmp_path / "raw.csv"), label="cultivar", columns={"id": "drop"}, scaling="none"))
    assert np.isfinite(splits.x_train).all() and np.isfinite(splits.x_test).all()
    notes = "\n".join(splits.preprocessing)
    assert "id: dropped (declared in data.columns)" in notes and "oak: boolean" in notes
    assert "region: categorical (strings), one-hot over the" in notes and "unseen values: all zeros" in notes
    assert "alcohol: numeric" in notes
    # the encoder saw the training rows only: a column per region of the training rows, 1/0 indicators
    regions = int(notes.split("region: categorical (strings), one-hot over the ")[1].split(" ")[0])
    numeric = table.shape[1] - 1 - 3  # the wine columns, without the label, region, oak and id
    width = splits.x_train.shape[1]
    assert width in (numeric + 1 + regions + 1, numeric + 1 + regions)  # (+ the indicator of alcohol's gaps, if in training)
    assert splits.x_train.shape[1] == splits.x_val.shape[1] == splits.x_test.shape[1]


def test_every_bad_file_is_a_one_line_error_naming_the_file_and_column(tmp_path):
    for name, (label, message) in bad_files(tmp_path).items():
        with pytest.raises(DataError) as e:
            prepare(Data(path=str(tmp_path / name), label=label))
        assert str(e.value).startswith(message), (name, str(e.value))
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("data, message", [
    ({"path": "wine.csv"}, "data: a .csv or .parquet data.path needs label"),
    ({"path": "wine.npz", "label": "y"}, "data: an .npz file holds its labels in y"),
    ({"path": "wine.csv", "label": "cultivar", "dataset": "digits"}, "data: give data.dataset or data.path, not both"),
    ({"path": "wine.xlsx", "label": "cultivar"}, "data.path: must name a .csv, .parquet, .npz file"),
    ({"dataset": "digits", "label": "cultivar"}, "data: label names a column of a data.path table"),
])
def test_a_study_file_with_a_wrong_data_block_is_refused_by_field(tmp_path, data, message):
    import yaml

    study = {"name": "own", "title": "t", "claim": "c", "data": data, "target": {"metric": "val_accuracy", "value": 0.5}}
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(study))
    with pytest.raises(StudyError) as e:
        load_study(tmp_path / "own.yaml")
    assert message in str(e.value), str(e.value)


STUDY = """\
name: wine
title: Width on the wine table
claim: A wider MLP classifies wines better.
data: {path: data/wine.csv, label: cultivar, test: 0.25}
model: {family: mlp, depth: 1, width: 8}
train: {optimizer: adam, learning_rate: 0.01, batch_size: 32, epochs: 4}
grid:
  model.width: [4, 32]
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.6}
expect:
  - says: A wider MLP reaches a better validation accuracy.
    metric: best_val_accuracy
    compare: {model.width: 32}
    against: {model.width: 4}
    direction: greater
"""


@pytest.mark.slow
def test_a_grid_study_on_a_csv_outside_the_repository_runs_records_and_reports(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"  # the user's folder: a study, a data folder, nothing else
    (project / "data").mkdir(parents=True)
    wine_table().to_csv(project / "data" / "wine.csv", index=False)
    (project / "wine.yaml").write_text(STUDY)
    monkeypatch.chdir(tmp_path)  # the study is found from elsewhere: its data path is relative to the file
    monkeypatch.setenv("SUITE_HOME", str(project))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", str(project / "wine.yaml")]) == 0
    report = (project / "results" / "wine" / "base" / "report.md").read_text()
    assert "A wider MLP reaches a better validation accuracy." in report
    client = MlflowClient(f"sqlite:///{project / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("wine")
    trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    assert len(trials) == 4 and {r.info.status for r in trials} == {"FINISHED"}
    assert {r.data.tags["data.classes"] for r in trials} == {"barbera, barolo, grignolino"}
    assert {r.data.params["data.path"] for r in trials} == {str(project / "data" / "wine.csv")}

    before = load_study(project / "wine.yaml").config_sha
    table = wine_table()
    table.loc[0, "alcohol"] += 1.0  # an edited file: the recorded trials no longer describe it
    table.to_csv(project / "data" / "wine.csv", index=False)
    assert load_study(project / "wine.yaml").config_sha != before
    capsys.readouterr()
    assert main(["run", str(project / "wine.yaml")]) == 2
    assert "stale" in capsys.readouterr().err


@pytest.mark.slow
def test_suite_init_writes_a_study_that_runs_as_written_with_a_measured_target(tmp_path, monkeypatch, capsys):
    from sklearn.linear_model import LogisticRegression  # noqa: F401 - the baseline's model

    data = tmp_path / "My Wines.csv"
    wine_table().to_csv(data, index=False)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["init", str(data), "--label", "cultivar"]) == 0
    study = tmp_path / "My Wines.yaml"
    assert f"wrote {study}" in capsys.readouterr().out
    text = study.read_text()
    assert "name: my_wines" in text and 'data: {path: "My Wines.csv", label: "cultivar"}' in text
    assert "# Columns (encoded per split" in text and "alcohol: numeric" in text
    resolved = load_study(study, "smoke")
    # the baseline, measured on the study's own splits: its validation accuracy the target, its test accuracy the bound
    from sklearn.linear_model import LogisticRegression as Baseline

    from suite.train.splits import prepare

    splits = prepare(resolved.cells[0].settings.data)
    fitted = Baseline(max_iter=2000).fit(splits.x_train, splits.y_train)
    assert resolved.study.target.value == pytest.approx(fitted.score(splits.x_val, splits.y_val), abs=1e-4)
    (claim,) = resolved.study.expect
    assert claim.metric == "test_accuracy" and claim.above == pytest.approx(fitted.score(splits.x_test, splits.y_test), abs=1e-4)
    assert f"a validation accuracy of\n#   {resolved.study.target.value:.4f}" in text
    assert resolved.study.tune is not None and not resolved.study.grid
    assert main(["run", str(study), "--profile", "smoke"]) == 0  # as written
    report = (tmp_path / "home" / "results" / "my_wines" / "smoke" / "report.md").read_text()
    assert "No verdict" not in report and "The tuned MLP's test accuracy is above a logistic regression's on the same splits" in report

    assert main(["init", str(data), "--label", "cultivar"]) == 2  # never over an existing file
    assert "exists; give another path with --out" in capsys.readouterr().err
    assert main(["init", str(data), "--label", "grape", "--out", str(tmp_path / "other.yaml")]) == 2
    assert "data.label: no column 'grape'" in capsys.readouterr().err
    assert not (tmp_path / "other.yaml").exists()


@pytest.mark.slow
def test_the_cars_example_goes_from_a_raw_table_to_a_report_in_two_commands(tmp_path, monkeypatch, capsys):
    """vega_datasets' cars table as it comes (a name column, gaps in two measurements, the year as a date):
    `suite init` writes a study that runs on it unchanged, and says what it does to each column."""
    pytest.importorskip("vega_datasets")
    import importlib.util

    spec = importlib.util.spec_from_file_location("cars_data", Path(__file__).resolve().parent.parent / "examples" / "cars" / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.main(tmp_path / "cars.csv")
    monkeypatch.setenv("SUITE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["init", str(table), "--label", "Origin"]) == 0
    said = capsys.readouterr().out
    assert "Horsepower: numeric, " in said and "imputed by the median, with a missing-value indicator" in said
    assert "Year: date (holds dates, e.g. '1970-01-01') as its year, month" in said
    # 311 distinct names in 406 rows: names, not categories (one-hot, about a column per row), dropped with the reason
    assert "Name: dropped: it has a value of its own on most rows (311 distinct in 406" in said
    study = tmp_path / "cars.yaml"
    assert 'columns: {"Year": date, "Name": drop}' in study.read_text()  # offered as a date, not dropped
    assert "# The classes are imbalanced (the smallest is 18% of the rows)" in study.read_text()
    assert "metric: test_balanced_accuracy" in study.read_text()  # judged on balanced accuracy
    assert "rebalance: class_weight" in study.read_text()
    assert main(["run", str(study), "--profile", "smoke"]) == 0
    report = (tmp_path / "home" / "results" / "cars" / "smoke" / "report.md").read_text()
    assert "## Data preprocessing" in report and "- Name: dropped (declared in data.columns)" in report
    assert "dataset:" not in report.split("## Settings")[1].split("```")[1]  # a CSV study shows its file, not mnist1d
    balance = report.split("## Class balance")[1]  # 63% of the cars are American, 18% European
    assert balance.split("\n\n")[1].startswith("The test split is imbalanced: its largest class holds 6")
    assert "| base | " in balance and "balanced accuracy | macro F1 |" in balance
    store = MlflowClient(f"sqlite:///{tmp_path / 'home' / '.suite' / 'mlflow.db'}")
    described = store.get_experiment_by_name("cars").tags["mlflow.note.content"]
    assert "## Class balance" in described and "The test split is imbalanced" in described  # in the MLflow UI too


def test_a_date_column_becomes_its_year_month_day_of_year_and_weekday(tmp_path):
    """A column of dates (inferred, or declared ``date``) is four numbers, a missing date a gap imputed like any other;
    the encoding is fitted on the training rows and said in words."""
    import pandas as pd

    from suite.train import tables

    frame = pd.DataFrame({"day": ["2019-09-01", "2020-02-29", None, "2021-12-31"], "rain": [1.0, 0.0, 2.0, 0.5]})
    plan = tables.plan(frame, {}, "weather.csv")
    assert plan.kinds == {"day": "date", "rain": "numeric"} and plan.reasons["day"] == "holds dates, e.g. '2019-09-01'"
    parts = tables.as_frame(frame, plan)
    assert list(parts.columns) == ["day.year", "day.month", "day.day_of_year", "day.weekday", "rain"]
    assert parts.iloc[0, :4].tolist() == [2019.0, 9.0, 244.0, 6.0]  # a Sunday, the 244th day of 2019
    assert parts.iloc[1, :4].tolist() == [2020.0, 2.0, 60.0, 5.0]  # a leap day, a Saturday
    encoded = tables.fit(parts, plan)
    x = encoded.transform(parts)
    assert x.shape == (4, 4 + 1 + 4)  # four parts and rain, then one missing-value indicator per date part
    assert x[2, 0] == 2020.0 and x[2, -1] == 1.0  # the missing date: the training median, its indicator set
    assert encoded.notes[0] == ("day: date (holds dates, e.g. '2019-09-01') as its year, month, day of the year and "
                                "weekday, 1 missing in the training rows imputed by the median, with a missing-value indicator")
    declared = tables.plan(frame.assign(day=["1", "2", "3", "4"]), {"day": "date"}, "weather.csv")
    with pytest.raises(DataError, match="column 'day' is taken as dates but"):
        tables.as_frame(frame.assign(day=["x", "2019-01-01", None, "y"]), declared)


def test_a_missing_label_drops_its_row_and_a_quantity_is_not_taken_for_classes(tmp_path):
    """Rows without a label are dropped, and the encoding's notes say how many; a label column holding a quantity
    (the cars' fuel economy) is refused in one line instead of becoming a 100-way classification."""
    from suite.train import files

    table = wine_table()
    gappy = table.astype({"cultivar": object})
    gappy.loc[:7, "cultivar"] = None
    gappy.to_csv(tmp_path / "gappy.csv", index=False)
    source = files.read(str(tmp_path / "gappy.csv"), "cultivar")
    assert len(source.y) == len(table) - 8 and source.plan.unlabelled == 8
    from suite.train import tables

    notes = tables.fit(source.table, source.plan).notes
    assert notes[0] == "label: 8 rows without a label dropped"
    rng = np.random.default_rng(0)
    table.assign(mpg=rng.normal(25, 6, len(table)).round(1)).drop(columns="cultivar").to_csv(tmp_path / "mpg.csv", index=False)
    with pytest.raises(DataError, match=r"data.label: column 'mpg' of mpg.csv looks like a quantity, not classes \(\d+ "
                                        r"distinct values, \d+% of them not whole numbers\): declare data.task: regression"):
        files.read(str(tmp_path / "mpg.csv"), "mpg")
    declared = files.read(str(tmp_path / "mpg.csv"), "mpg", task="classification")  # taken at its word, and said
    assert len(declared.class_names) > 20 and "declared classes (data.task: classification), although it looks like " \
        "a quantity" in declared.plan.label_note
    assert "label: declared classes" in " ".join(tables.fit(declared.table, declared.plan).notes)
    # whole numbers: a quantity where they take many distinct values for the table's size (AutoGluon's rule: over
    # 10% of the rows under 1,000 rows, over 5% beyond), classes otherwise (issue 60: a mass in whole grams)
    table.assign(grade=rng.integers(0, 40, len(table))).to_csv(tmp_path / "grades.csv", index=False)
    with pytest.raises(DataError, match=r"\(\d+ distinct whole numbers in 178 rows: more than 10% of the rows\)"):
        files.read(str(tmp_path / "grades.csv"), "grade")
    many = pd.DataFrame({"x": rng.normal(size=2000), "grade": rng.integers(0, 40, 2000)})
    many.to_csv(tmp_path / "many.csv", index=False)  # 40 distinct in 2,000 rows: 2%, classes
    assert len(files.read(str(tmp_path / "many.csv"), "grade").class_names) == 40


def test_the_class_balance_section_appears_only_where_the_test_split_is_imbalanced():
    from suite.analyze.notes import balance_section

    summary = pd.DataFrame({"cell": ["a"], "test_accuracy_mean": [0.70], "test_accuracy_ci95": [0.02],
                            "test_balanced_accuracy_mean": [0.40], "test_balanced_accuracy_ci95": [0.05],
                            "test_macro_f1_mean": [0.35], "test_macro_f1_ci95": [0.04]})
    skewed = pd.DataFrame({"test_majority_rate": [0.49, 0.49], "test_minority_rate": [0.02, 0.02]})
    lines = balance_section(skewed, summary, [])
    assert lines[0] == "## Class balance" and "largest class holds 49% of the rows, its smallest 2% (24x)" in lines[2]
    assert "scores an accuracy of 0.490" in lines[2]
    assert lines[-2] == "| base | 0.700 ± 0.020 | +0.210 | 0.400 ± 0.050 | 0.350 ± 0.040 |"
    assert balance_section(skewed.assign(test_minority_rate=0.2), summary, []) == []  # 2.5x: balanced enough
    assert balance_section(pd.DataFrame({"test_accuracy": [0.7]}), summary, []) == []  # recorded before the rates


@pytest.mark.parametrize("name, content, said", [
    ("picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\xff\xfe\x00\x01", "data.path: cannot read picture.csv as csv"),
    ("ragged.csv", b'a,b,label\n1,2,"x\n3,4,y\n', "data.path: cannot read ragged.csv as csv"),
    ("empty.csv", b"", "data.path: cannot read empty.csv as csv"),
    ("headless.csv", b"1,2,0\n3,4,1\n5,6,0\n", "data.label: no column 'label' in headless.csv"),
    ("unlabelled.csv", b"a,b,label\n1,2,\n3,4,\n", "data.label: column 'label' of unlabelled.csv holds no value in any of its 2 rows"),
])
def test_init_on_a_file_it_cannot_read_says_why_in_one_line_and_writes_nothing(name, content, said, tmp_path, capsys):
    """Issue 60: a PNG renamed .csv printed 30 lines ending in UnicodeDecodeError, a ragged CSV a pandas ParserError."""
    data = tmp_path / name
    data.write_bytes(content)
    assert main(["init", str(data), "--label", "label"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {said}") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written beside it


def test_two_studies_of_one_table_are_named_after_their_files_and_keep_apart(tmp_path, capsys):
    """Issue 60: `init --out mpg.yaml` kept the table's name, so a second study of the same CSV found the first's
    trials stale. Each study is named after its own file."""
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=60), "origin": rng.choice(["a", "b"], 60),
                  "mpg": rng.normal(25, 6, 60).round(1)}).to_csv(tmp_path / "cars.csv", index=False)
    assert main(["init", str(tmp_path / "cars.csv"), "--label", "origin"]) == 0
    assert main(["init", str(tmp_path / "cars.csv"), "--label", "mpg", "--out", str(tmp_path / "mpg.yaml")]) == 0
    capsys.readouterr()
    from suite.study import load_study

    first, second = load_study(tmp_path / "cars.yaml"), load_study(tmp_path / "mpg.yaml")
    assert (first.name, second.name) == ("cars", "mpg")
    assert (first.study.data.task, second.study.data.task) == (None, "regression")


def test_init_prints_the_baseline_the_claim_is_judged_against_and_names_a_feature_that_almost_equals_the_label(
        tmp_path, capsys):
    """Issue 60: the baseline's numbers and the imbalance advice stayed comments in the written file, and a feature
    that is a near-copy of the label (temp_min for temp_max) was kept without a word."""
    rng = np.random.default_rng(0)
    temp_max = rng.normal(15, 8, 300).round(1)
    pd.DataFrame({"temp_max": temp_max, "temp_min": (temp_max - 7 + rng.normal(0, 0.8, 300)).round(1),
                  "wind": rng.normal(4, 1, 300).round(1)}).to_csv(tmp_path / "weather.csv", index=False)
    assert main(["init", str(tmp_path / "weather.csv"), "--label", "temp_max"]) == 0
    said = capsys.readouterr().out
    assert "baseline: a ridge regression on this study's own splits scores a validation R² of" in said
    assert "temp_min: almost equals the label (correlation +0.99" in said and 'data.columns: {"temp_min": drop}' in said
    assert "wind: almost equals" not in said
    ratio = np.array(["a"] * 270 + ["b"] * 30)
    pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300), "kind": ratio,
                  "code": np.where(ratio == "a", "A1", "B2")}).to_csv(tmp_path / "skewed.csv", index=False)
    assert main(["init", str(tmp_path / "skewed.csv"), "--label", "kind"]) == 0
    said = capsys.readouterr().out
    assert "baseline: a standardised logistic regression" in said and "imbalanced: always answering the largest class " \
        "scores 0.900 accuracy" in said and "code: maps one-to-one onto the label's classes" in said
