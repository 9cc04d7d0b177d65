"""Parallel trials through keras-tuner's chief oracle over gRPC (loopback), against a serial run of the same study."""

import json
import os

import keras_tuner
import pytest
import pandas as pd
from mlflow.tracking import MlflowClient

from suite.cli import main
from suite.search import distributed
from suite.search.oracle import GridOracle
from suite.study import load_study

pytestmark = pytest.mark.slow  # every test here trains, starts a process or a server, or opens a browser

STUDY = """\
name: par
title: Parallel workers
claim: Workers give the serial run's numbers.
data: {dataset: synthetic, synthetic: {samples: 300, features: 8, informative: 4, classes: 3}}
model: {depth: 1, width: 8}
train: {optimizer: sgd, learning_rate: 0.05, batch_size: 32, epochs: 2}
grid:
  model.width: [4, 8]
seeds: [0, 1]
tune:
  algorithm: random
  trials: 2
  space: {train.learning_rate: [0.05, 0.2]}
target: {metric: val_accuracy, value: 0.5}
"""
TIMINGS = {"warmup_s", "train_time_s", "epoch_time_s", "time_to_target_s"}


def run(home, *args, monkeypatch):
    (home / "studies").mkdir(parents=True, exist_ok=True)
    (home / "studies" / "par.yaml").write_text(STUDY)
    monkeypatch.setenv("SUITE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return main(["run", "par", *args])


def compared(home) -> pd.DataFrame:
    trials = pd.read_csv(home / "results" / "par" / "base" / "trials.csv")
    keep = [c for c in trials.columns if c not in TIMINGS | {"run_id"}]
    return trials[keep].sort_values(["cell", "seed"]).reset_index(drop=True)


def test_two_workers_run_each_trial_once_and_match_the_serial_run(tmp_path, monkeypatch, capsys):
    assert run(tmp_path / "serial", monkeypatch=monkeypatch) == 0
    assert run(tmp_path / "parallel", "--workers", "2", monkeypatch=monkeypatch) == 0
    err = capsys.readouterr().err
    assert "2 local workers" in err and "all 4 trials ended" in err

    client = MlflowClient(f"sqlite:///{tmp_path / 'parallel' / '.suite' / 'mlflow.db'}")
    assert [e.name for e in client.search_experiments() if e.name != "Default"] == ["par"]  # one experiment
    exp = client.get_experiment_by_name("par").experiment_id
    trials = client.search_runs([exp], "tags.`suite.kind` = 'trial'")
    assert sorted((r.data.tags["suite.cell"], r.data.tags["suite.seed"]) for r in trials) == [
        ("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")
    ]  # every trial exactly once
    assert {r.info.status for r in trials} == {"FINISHED"}
    (study_run,) = client.search_runs([exp], "tags.`suite.kind` = 'study'")
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {study_run.info.run_id}
    logs = tmp_path / "parallel" / ".suite" / "workers" / "par"
    assert sorted(p.name for p in logs.iterdir()) == ["worker0.log", "worker1.log"]

    pd.testing.assert_frame_equal(compared(tmp_path / "serial"), compared(tmp_path / "parallel"))
    verdicts = lambda home: {k: v for k, v in json.loads((home / "results" / "par" / "base" / "verdicts.json").read_text()).items()
                             if k != "wall_s"}  # noqa: E731 - the same verdicts; the wall time is the runs' own
    assert verdicts(tmp_path / "serial") == verdicts(tmp_path / "parallel")

    # Resuming a finished parallel study trains nothing and hands out no trial.
    assert run(tmp_path / "parallel", "--workers", "2", monkeypatch=monkeypatch) == 0
    assert len(client.search_runs([exp], "tags.`suite.kind` = 'trial'")) == 4


def test_a_dead_workers_trial_goes_to_the_next_worker(tmp_path):
    path = tmp_path / "par.yaml"
    path.write_text(STUDY)
    oracle = GridOracle(load_study(path), keras_tuner.Objective("best_val_accuracy", "max"))
    oracle._set_project_dir(str(tmp_path), "p")
    first = oracle.create_trial("worker0")
    distributed.requeue(oracle, "worker0")
    assert oracle.create_trial("worker1").trial_id == first.trial_id
    assert distributed.unfinished(oracle, 4) == 4


def test_a_worker_without_a_chief_fails_in_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "par.yaml").write_text(STUDY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["worker", "par", "--chief", "127.0.0.1:1", "--id", "w"]) == 2
    assert "no chief is running par [base]" in capsys.readouterr().err
    assert main(["worker", "par", "--chief", "nowhere", "--id", "w"]) == 2
    assert "--chief 'nowhere': expected HOST:PORT" in capsys.readouterr().err
    assert main(["run", "par", "--listen", "0.0.0.0"]) == 2
    assert "--listen '0.0.0.0': expected HOST:PORT" in capsys.readouterr().err
    store = MlflowClient(f"sqlite:///{tmp_path / '.suite' / 'mlflow.db'}")
    assert store.get_experiment_by_name("par") is None  # refused before any run was written
    assert not {k for k in os.environ if k.startswith("KERASTUNER_")}  # nothing else in this process became a worker


def test_worker_settings_are_restored_after_the_worker_ends(monkeypatch):
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    with distributed.as_worker("127.0.0.1:9", "w3"):
        assert os.environ["KERASTUNER_TUNER_ID"] == "w3" and os.environ["KERASTUNER_ORACLE_PORT"] == "9"
    assert "KERASTUNER_TUNER_ID" not in os.environ
