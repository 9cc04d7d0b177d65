"""make bench: the arithmetic of the breakdown, the timing sections, and a capped real bench run."""

import json
import time

import pytest

from suite.bench.overhead import breakdown
from suite.cli import main
from suite.ground import timing

TINY = """\
name: tiny
title: Bench
claim: none
data: {dataset: synthetic, synthetic: {samples: 300, features: 8, informative: 4, classes: 3}}
model: {depth: 1, width: 8}
train: {epochs: 2, batch_size: 32}
grid: {model.width: [4, 8]}
seeds: [0]
target: {metric: val_accuracy, value: 0.5}
profiles: {smoke: {train.epochs: 1}}
"""


def test_timing_sections_sum_wall_time_and_count_calls():
    timing.reset()
    for _ in range(2):
        with timing.section("a"):
            time.sleep(0.01)
    with pytest.raises(ZeroDivisionError), timing.section("b"):
        1 / 0  # noqa: B018 - a failing section is still counted
    snap = timing.snapshot()
    assert snap["a"]["calls"] == 2 and snap["a"]["seconds"] >= 0.02
    assert snap["b"]["calls"] == 1
    timing.reset()
    assert timing.snapshot() == {}


def test_breakdown_splits_fixed_costs_per_study_and_per_trial():
    sections = {
        "command": 90.0, "study.setup": 2.0, "study.data": 1.0, "study.report": 3.0, "study.trials": 84.0,
        "tuner.run_trial": 80.0, "trial.data": 0.0, "trial.build": 4.0, "trial.fit": 70.0, "trial.measure": 2.0,
        "tracking.start_trial": 1.0, "tracking.finish_trial": 1.0,
    }
    b = breakdown(sections, wall_s=100.0, trials=10, bare_wall_s=80.0, bare_fit_s=72.0)
    assert b["ratio"] == pytest.approx(1.25)
    assert b["overhead_share"] == pytest.approx(0.2)
    assert b["training_share"] == pytest.approx(0.7)
    assert b["bare_training_share"] == pytest.approx(0.9)
    assert b["per_study"] == pytest.approx({"startup_s": 10.0, "setup_s": 2.0, "data_s": 1.0, "report_s": 3.0})
    assert b["per_trial"] == pytest.approx(
        {"build_s": 0.4, "measure_s": 0.2, "tracking_s": 0.2, "tuner_s": 0.4, "other_s": 0.2}
    )


def test_a_capped_bench_measures_and_writes_results_bench(tmp_path, monkeypatch, capsys):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "tiny.yaml").write_text(TINY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["bench", "tiny", "--profile", "smoke", "--parts", "floor,overhead,scaling", "--sizes", "10,20"]) == 0
    out = tmp_path / "results" / "bench"
    found = json.loads((out / "bench.json").read_text())
    o = found["overhead"]
    assert o["trials"] == 2 and o["suite_wall_s"] > o["training_s"] > 0 and o["bare_wall_s"] > 0
    assert o["ratio"] == pytest.approx(o["suite_wall_s"] / o["bare_wall_s"])
    assert o["per_study"]["startup_s"] > 0 and o["per_trial"]["build_s"] > 0
    assert [s["trials"] for s in found["scaling"]] == [10, 20]
    assert all(s["report_s"] > 0 and s["resume_s"] > 0 for s in found["scaling"])
    assert found["environment"]["backend"] == "tensorflow"
    fl = found["floor"]  # the largest cell: both have every example, so the first in file order (width 4)
    assert fl["layers"] == [8, 4, 3] and fl["epochs"] == 1 and fl["training_loop"] == "compiled epoch (tf.function)"
    assert fl["floor_epoch_s"] > 0 and fl["bare_epoch_s"] > 0 and fl["suite_epoch_s"] > 0 and fl["suite_trial_wall_s"] > 0
    assert fl["suite_next_trial_wall_s"] > 0
    text = (out / "README.md").read_text()
    assert "Ratio suite / bare" in text and "| 20 |" in text and "over the floor" in text
    assert "Ratio suite / bare" in capsys.readouterr().out


def test_the_numpy_floor_times_every_epoch():
    from suite.bench.floor import numpy_floor

    seconds = numpy_floor([8, 16, 3], n=100, batch=32, epochs=3)
    assert len(seconds) == 3 and all(s > 0 for s in seconds)


def test_bench_rejects_an_unknown_part(tmp_path, monkeypatch, capsys):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "tiny.yaml").write_text(TINY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    assert main(["bench", "tiny", "--profile", "smoke", "--parts", "overhead,speed"]) == 2
    assert "--parts: unknown speed" in capsys.readouterr().err


def test_metric_histories_of_many_runs_are_read_in_bulk_and_equal_one_read_per_run(tmp_path, monkeypatch):
    """The report draws every trial's curve: one query per 500 runs (the store's bulk read), the same values as one
    query per run, in chunks of any size, with an empty history for a run that logged none."""
    from suite.bench import scaling
    from suite.record import reading

    ws, resolved, _ = scaling.record(tmp_path / "home", 20)
    tracker = ws.tracker()
    ids = [r.info.run_id for r in tracker.runs(resolved.name, "trial")]
    parent = tracker.runs(resolved.name, "study")[0].info.run_id  # logged no val_accuracy
    monkeypatch.setattr(reading, "BULK", 7)  # three chunks
    bulk = tracker.histories([*ids, parent], "val_accuracy")
    assert len(ids) == 20 and bulk == {**{i: tracker.history(i, "val_accuracy") for i in ids}, parent: []}
    assert all(len(bulk[i]) == scaling.EPOCHS for i in ids)


def test_resuming_a_recorded_study_reads_its_trials_once_and_hands_out_no_trial(tmp_path, monkeypatch):
    """Records at scale: a fully recorded study resumes without a keras-tuner trial per recorded one (the plan skips
    them) and reads its trial runs once for settling the record and the tuner (the report reads them once more)."""
    from mlflow.tracking import MlflowClient

    from suite.bench import scaling
    from suite.running import runner

    ws, resolved, _ = scaling.record(tmp_path / "home", 20)
    reads = []
    search_runs = MlflowClient.search_runs

    def counted(self, experiment_ids, filter_string="", *args, **kwargs):
        reads.append(filter_string)
        return search_runs(self, experiment_ids, filter_string, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "search_runs", counted)
    runner.run_study(resolved, ws)
    assert sum("'trial'" in f for f in reads) == 2  # resume once, the report once
    assert not list((ws.root / ".suite" / "tuner").rglob("trial.json"))  # no keras-tuner trial replayed a record


def test_the_cell_part_times_one_cell_end_to_end_against_the_floor(tmp_path, monkeypatch):
    """Part ``cell``: the study's largest cell as a study of its own (its grid value fixed, no search or
    expectations), run cold, warm (the cold run's JAX cache) and on TensorFlow, each timed from its first trial's start
    to its last trial's end against the NumPy floor for the same trial-epochs."""
    from suite.bench import cell

    monkeypatch.setattr(cell, "SEEDS", 2)
    monkeypatch.setattr(cell, "EPOCHS", 2)
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "tiny.yaml").write_text(TINY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["bench", "tiny", "--profile", "smoke", "--parts", "cell"]) == 0
    found = json.loads((tmp_path / "results" / "bench" / "bench.json").read_text())["cell"]
    assert found["cell"] == "model.width=4" and found["layers"] == [8, 4, 3] and found["seeds"] == found["epochs"] == 2
    ways = {r["way"]: r for r in found["runs"]}
    assert list(ways) == ["default, cold cache", "default, warm cache", "tensorflow"]
    assert ways["default, cold cache"]["executor"] == "grouped" and ways["tensorflow"]["executor"] == "alone"
    for r in found["runs"]:
        assert r["trials"] == 2 and 0 < r["span_s"] < r["wall_s"]
        assert r["over_floor"] == pytest.approx(r["span_s"] / found["floor_s"])
    text = (tmp_path / "results" / "bench" / "README.md").read_text()
    assert "One cell end to end: 2 seeds x 2 epochs" in text and "| default, warm cache | grouped (jax) |" in text


def test_bench_rejects_an_unknown_way(tmp_path, monkeypatch, capsys):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "tiny.yaml").write_text(TINY)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    assert main(["bench", "tiny", "--profile", "smoke", "--parts", "grouped", "--ways", "grouped,fast"]) == 2
    assert "--ways: unknown fast" in capsys.readouterr().err
