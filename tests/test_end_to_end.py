"""A smoke study through the real CLI, real keras-tuner, a real SQLite MLflow store and real report files."""

import json
import math

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from suite.cli import main

STUDY = """\
name: e2e
title: End-to-end check
claim: Every trial is trained, recorded and reported.
sources: [tests]
data: {dataset: mnist1d, train_size: 200}
model: {depth: 1, width: 16, init: normal, init_std: 1.0}
train: {optimizer: sgd, learning_rate: 0.05, batch_size: 64, epochs: 4}
grid:
  train.learning_rate: [0.05, 1.0e+12]   # the second one diverges
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.12}
design:
  fixed: {train.batch_size: "4 steps an epoch on 200 examples: enough to see a step diverge"}
expect:
  - says: The diverging rate ends with a lower training accuracy.
    literature: {cite: "Bottou 2012, SGD tricks", found: holds}
    metric: train_accuracy
    compare: {train.learning_rate: 1.0e+12}
    against: {train.learning_rate: 0.05}
    direction: less
profiles:
  smoke: {train.epochs: 2}
  quick: {train.epochs: 3}
"""
TIMINGS = {"warmup_s", "train_time_s", "epoch_time_s", "time_to_target_s"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    (home / "studies").mkdir()
    (home / "studies" / "e2e.yaml").write_text(STUDY)
    return home


@pytest.fixture(scope="module")
def client(home):
    return MlflowClient(f"sqlite:///{home / '.suite' / 'mlflow.db'}")


def suite(home, *args, monkeypatch):
    monkeypatch.setenv("SUITE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return main(list(args))


def runs(client, kind, profile="smoke"):
    exp = client.get_experiment_by_name("e2e")
    return client.search_runs([exp.experiment_id], f"tags.`suite.kind` = '{kind}' and tags.`suite.profile` = '{profile}'")


@pytest.fixture(scope="module")
def first_run(home):
    mp = pytest.MonkeyPatch()
    try:
        assert suite(home, "run", "e2e", "--profile", "smoke", monkeypatch=mp) == 0
    finally:
        mp.undo()


@pytest.mark.slow
def test_the_experiment_says_what_it_tests_and_what_was_found(first_run, client):
    exp = client.get_experiment_by_name("e2e")
    note = exp.tags["mlflow.note.content"]
    assert note.startswith("**Claim:** Every trial is trained, recorded and reported.")
    assert "| The diverging rate ends with a lower training accuracy. | **" in note  # the verdict, once reported
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = runs(client, "study")[0]
    assert "2 cells x 2 seeds = 4 trials" in parent.data.tags["mlflow.note.content"]
    assert parent.data.metrics["trials_finished"] == 4 and "test_accuracy/learning_rate 0.05" in parent.data.metrics
    trial = runs(client, "trial")[0]
    assert trial.info.run_name.startswith("learning_rate=") and trial.data.params["model.init"] == "normal"
    assert [d.dataset.name for d in trial.inputs.dataset_inputs] == ["mnist1d"]
    assert trial.inputs.dataset_inputs[0].dataset.digest == trial.data.tags["data.fingerprint"]


def test_every_trial_is_a_finished_child_run(first_run, client):
    (parent,) = runs(client, "study")
    trials = runs(client, "trial")
    assert parent.info.status == "FINISHED"
    assert len(trials) == 4 and {t.info.status for t in trials} == {"FINISHED"}
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parent.info.run_id}
    assert sorted((t.data.tags["suite.cell"], t.data.tags["suite.seed"]) for t in trials) == [
        ("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")
    ]


def test_runs_carry_settings_metrics_and_provenance(first_run, client):
    for t in runs(client, "trial"):
        params, tags, metrics = t.data.params, t.data.tags, t.data.metrics
        assert params["train.epochs"] == "2" and params["seed"] == t.data.tags["suite.seed"]
        assert float(params["train.learning_rate"]) in (0.05, 1e12)
        for tag in ("git.commit", "git.dirty", "python", "backend", "device", "data.fingerprint", "suite.file_sha",
                    "suite.config_sha", "version.tensorflow", "version.keras", "version.keras-tuner", "version.mlflow"):
            assert tags.get(tag), tag
        for metric in ("test_accuracy", "final_val_accuracy", "best_val_accuracy", "generalization_gap", "diverged",
                       "reached_target", "warmup_s", "epochs_run", "initial_loss", "test_macro_f1",
                       "test_macro_precision", "test_macro_recall", "test_balanced_accuracy", "near_zero_weights"):
            assert metric in metrics, metric
        history = client.get_metric_history(t.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == list(range(1, len(history) + 1))
        assert len(client.get_metric_history(t.info.run_id, "epoch_train_s")) == len(history)
        diverging = float(params["train.learning_rate"]) > 1
        assert metrics["diverged"] == float(diverging)
        if metrics["reached_target"]:
            assert metrics["epochs_to_target"] >= 1
        else:
            assert "epochs_to_target" not in metrics  # censored: absent, never invented


def test_report_files(first_run, home, client):
    out = home / "results" / "e2e" / "smoke"
    assert {p.name for p in out.iterdir()} == {"report.md", "trials.csv", "summary.csv", "verdicts.json", "curves.png", "metrics.png"}
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and set(trials["status"]) == {"FINISHED"}
    summary = pd.read_csv(out / "summary.csv")
    assert summary["train.learning_rate"].tolist() == [0.05, 1e12]
    assert summary["diverged"].tolist() == [0, 2]
    text = (out / "report.md").read_text()
    for needle in ("# End-to-end check", "Every trial is trained", "| train.learning_rate |", "4 finished, 0 failed, 2 diverged",
                   "Trials run by commit", "report built by commit", "Backend: tensorflow", "suite run e2e --profile smoke", "## Verdict",
                   "| The diverging rate ends with a lower training accuracy. |", "## Design",
                   "- **Scientific** (the grid: what the claim is about): `train.learning_rate`.",
                   "- **Nuisance** (re-tuned per cell): none: every cell trains at the same settings.",
                   "  - `train.batch_size` = `64`: 4 steps an epoch on 200 examples", "| published finding |",
                   "| Bottou 2012, SGD tricks: holds; **"):
        assert needle in text, needle
    assert text.index("## Design") < text.index("## Verdict")
    (entry,) = json.loads((out / "verdicts.json").read_text())["verdicts"]
    assert entry["literature"]["cite"] == "Bottou 2012, SGD tricks"
    # agrees or disagrees only inside the finding's regime (converged arms); otherwise "cannot tell: why"
    expected = {"supported": "agrees", "refuted": "disagrees"}.get(entry["verdict"], "cannot tell: inconclusive")
    assert entry["agreement"] == expected or entry["agreement"].startswith("cannot tell: ") and entry["outside"]
    if entry["agreement"] in ("agrees", "disagrees"):  # on these seeds: the scorecard says whether fresh ones confirm it
        assert f"**{entry['agreement']}** on these seeds (the scorecard adds whether it held on fresh ones)" in text
    (parent,) = runs(client, "study")
    assert "report.md" in {a.path for a in client.list_artifacts(parent.info.run_id)}


@pytest.mark.slow
def test_scorecard_collects_the_verdicts(first_run, home, monkeypatch):
    assert suite(home, "scorecard", monkeypatch=monkeypatch) == 0
    card = (home / "results" / "README.md").read_text()
    assert "| e2e |" not in card  # smoke checks the pipeline; it is not a result
    assert suite(home, "run", "e2e", "--profile", "quick", monkeypatch=monkeypatch) == 0
    assert suite(home, "scorecard", monkeypatch=monkeypatch) == 0
    card = (home / "results" / "README.md").read_text()
    verdicts = json.loads((home / "results" / "e2e" / "quick" / "verdicts.json").read_text())["verdicts"]
    counts = [int(verdicts[0]["verdict"] == k) for k in ("supported", "refuted", "negligible", "inconclusive")]
    # one row per study (the claim once, its counts, the link), then its expectations under its own heading
    study_row = "| [e2e](#e2e) | Every trial is trained, recorded and reported. | " + " | ".join(map(str, counts)) + " |"
    assert study_row in card and "[quick](e2e/quick/report.md)" in card
    section = card[card.index("### e2e"):]
    assert f"| The diverging rate ends with a lower training accuracy. | **{verdicts[0]['verdict']}**" in section
    assert "Benjamini-Yekutieli" in card and "**Totals**: 1 expectations in 1 studies" in card


@pytest.mark.slow
def test_confirm_reruns_on_fresh_seeds_and_the_scorecard_says_what_became_of_each_verdict(first_run, home, client, monkeypatch):
    assert suite(home, "run", "e2e", "--profile", "quick", monkeypatch=monkeypatch) == 0  # resumes if the test above ran
    assert suite(home, "confirm", "e2e", "--profile", "quick", monkeypatch=monkeypatch) == 0
    fresh = runs(client, "trial", profile="quick-confirm")
    assert sorted(int(t.data.tags["suite.seed"]) for t in fresh) == [100000, 100000, 100001, 100001]
    assert {t.data.tags["suite.seed"] for t in runs(client, "trial", profile="quick")} == {"0", "1"}  # untouched
    (parent,) = runs(client, "study", profile="quick-confirm")
    assert parent.info.status == "FINISHED"
    report = (home / "results" / "e2e" / "quick-confirm" / "report.md").read_text()
    original = json.loads((home / "results" / "e2e" / "quick" / "verdicts.json").read_text())["verdicts"][0]["verdict"]
    again = json.loads((home / "results" / "e2e" / "quick-confirm" / "verdicts.json").read_text())["verdicts"][0]["verdict"]
    assert "## Confirmation on fresh seeds" in report
    assert f"| The diverging rate ends with a lower training accuracy. | {original} | {again} |" in report
    assert "suite run e2e --profile quick --confirm" in report  # how to reproduce this one
    assert suite(home, "scorecard", monkeypatch=monkeypatch) == 0
    card = (home / "results" / "README.md").read_text()
    expected = "confirmed" if original == again != "inconclusive" else None
    assert "[quick](e2e/quick/report.md)" in card and "quick-confirm" not in card  # the original speaks; fresh is a column
    if expected:
        assert f"| {expected} |" in card.split("### e2e")[1] and "On fresh seeds (1 expectations" in card
        assert "| 1 / 0 / 0 | [quick](e2e/quick/report.md) |" in card  # the study's row: confirmed / flipped / reversed
    # a second confirm resumes, as a run does
    assert suite(home, "confirm", "e2e", "--profile", "quick", monkeypatch=monkeypatch) == 0
    assert len(runs(client, "trial", profile="quick-confirm")) == 4


@pytest.mark.slow
def test_rerun_resumes_without_retraining(first_run, home, client, monkeypatch, capsys):
    assert suite(home, "run", "e2e", "--profile", "smoke", monkeypatch=monkeypatch) == 0
    assert "resuming: 4 of 4 trials already recorded" in capsys.readouterr().err
    assert len(runs(client, "trial")) == 4
    assert suite(home, "report", "e2e", "--profile", "smoke", monkeypatch=monkeypatch) == 0


@pytest.mark.slow
def test_fresh_rerun_gives_identical_metrics(first_run, home, client, monkeypatch):
    before = {(t.data.tags["suite.cell"], t.data.tags["suite.seed"]): t.data.metrics for t in runs(client, "trial")}
    studies_before = runs(client, "study")
    assert suite(home, "run", "e2e", "--profile", "smoke", "--fresh", monkeypatch=monkeypatch) == 0
    # the earlier study run stays (with its report), visibly replaced: a tag, and the name the UI lists
    for old in studies_before:
        again = client.get_run(old.info.run_id)
        assert again.data.tags["suite.superseded"] == "true"
        assert again.data.tags["mlflow.runName"].startswith("(superseded by --fresh) ")
    after = {(t.data.tags["suite.cell"], t.data.tags["suite.seed"]): t.data.metrics for t in runs(client, "trial")}
    assert len(after) == 4 and after.keys() == before.keys()
    for key in before:
        same = {k: v for k, v in before[key].items() if k not in TIMINGS | {"epoch_train_s"}}
        again = {k: v for k, v in after[key].items() if k not in TIMINGS | {"epoch_train_s"}}
        assert same.keys() == again.keys()
        for k in same:
            assert same[k] == again[k] or (math.isnan(same[k]) and math.isnan(again[k])), (key, k)


@pytest.mark.parametrize(
    "text, message",
    [
        (STUDY.replace("batch_size: 64", "batch_size: abc"), "error: train.batch_size: must be a positive integer, got 'abc'"),
        (STUDY.replace("dataset: mnist1d", "dataset: imagenet"), "error: data.dataset: unknown dataset (known: digits, mnist1d"),
        (STUDY.replace("train.learning_rate: [", "train.learning_rat: ["), "error: grid.train.learning_rat: no such setting"),
    ],
)
def test_bad_study_fails_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert suite(tmp_path, "run", "bad.yaml", monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # no store, no results


def test_several_studies_are_all_checked_before_any_trains(tmp_path, monkeypatch, capsys):
    (tmp_path / "good.yaml").write_text(STUDY)
    (tmp_path / "bad.yaml").write_text(STUDY.replace("batch_size: 64", "batch_size: abc"))
    monkeypatch.chdir(tmp_path)
    assert suite(tmp_path, "run", "good.yaml", "bad.yaml", "--profile", "smoke", monkeypatch=monkeypatch) == 2
    assert capsys.readouterr().err.strip().startswith("error: bad.yaml: train.batch_size: must be a positive integer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "good.yaml"]  # the good one did not run first


@pytest.mark.slow
def test_unusable_store_fails_before_training(tmp_path, monkeypatch, capsys):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "e2e.yaml").write_text(STUDY)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker}/sub/mlflow.db")
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    assert main(["run", "e2e", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: tracking store sqlite:///{blocker}/sub/mlflow.db: cannot be reached")
    assert not (tmp_path / "results").exists() and not (tmp_path / ".suite").exists()


@pytest.mark.slow
def test_a_failing_trial_is_recorded_the_study_goes_on_and_the_run_ends_non_zero(tmp_path, monkeypatch, capsys):
    from suite.train import trial as trials

    real = trials.run

    def flaky(settings, seed, target, **options):  # one cell raises inside training, as an OOM would
        if settings.train.learning_rate > 1:
            raise MemoryError("simulated out of memory")
        return real(settings, seed, target, **options)

    monkeypatch.setattr(trials, "run", flaky)
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "e2e.yaml").write_text(STUDY.replace("seeds: [0, 1]", "seeds: [0]"))
    assert suite(tmp_path, "run", "e2e", "--profile", "smoke", monkeypatch=monkeypatch) == 1  # never a false all-clear
    err = capsys.readouterr().err
    assert "trial failed" in err
    summary_line = err.strip().splitlines()[-1]
    assert summary_line.startswith("error: e2e: 1 of 2 trials FAILED; the first: MemoryError: simulated out of memory")
    client = MlflowClient(f"sqlite:///{tmp_path / '.suite' / 'mlflow.db'}")
    by_status = {t.info.status: t for t in runs(client, "trial")}
    assert set(by_status) == {"FINISHED", "FAILED"}
    assert "MemoryError: simulated out of memory" in by_status["FAILED"].data.tags["suite.error"]
    summary = pd.read_csv(tmp_path / "results" / "e2e" / "smoke" / "summary.csv")
    assert summary["failed"].tolist() == [0, 1]
    assert "1 finished, 1 failed" in (tmp_path / "results" / "e2e" / "smoke" / "report.md").read_text()


@pytest.mark.slow
def test_systematic_failure_stops_the_study_with_its_cause(tmp_path, monkeypatch, capsys):
    from suite.train import trial as trials

    def broken(settings, seed, target, **options):
        raise RuntimeError("the same bug every time")

    monkeypatch.setattr(trials, "run", broken)
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "e2e.yaml").write_text(STUDY.replace("seeds: [0, 1]", "seeds: [0, 1, 2]"))
    assert suite(tmp_path, "run", "e2e", "--profile", "smoke", monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: study stopped: several trials in a row failed") and "the same bug every time" in err
    client = MlflowClient(f"sqlite:///{tmp_path / '.suite' / 'mlflow.db'}")
    assert {t.info.status for t in runs(client, "trial")} == {"FAILED"}
    assert [r.info.status for r in runs(client, "study")] == ["FAILED"]
