"""The sweep: candidates that cover the space (a ladder, quasi-random points), and the boundary check that
widens it up to the hard limits; end to end through keras-tuner, MLflow and the report."""

import json
import math

import pytest
from mlflow.tracking import MlflowClient
from oracles import drive

from suite.cli import main
from suite.ground.errors import StudyError
from suite.search import nuisance
from suite.study import Range, Tune, load_study
from suite.study.space import edges, halton, ladder, near

LR = "train.learning_rate"


def search(tune: Tune, score, tmp_path) -> list[dict]:
    """Run a sweep's real keras-tuner oracle, scoring each candidate with ``score(values)``; the candidates in order."""
    return drive(nuisance.make_oracle(tune, epochs=5), score, tmp_path)


def run_study(tmp_path, monkeypatch, name: str, text: str) -> MlflowClient:
    """``suite run NAME`` in a workspace of its own holding the study ``text``; a client of its store."""
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / f"{name}.yaml").write_text(text)
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", name]) == 0
    return MlflowClient(f"sqlite:///{tmp_path / '.suite' / 'mlflow.db'}")


def peaked_at(lr: float):
    return lambda v: -abs(math.log10(v[LR]) - math.log10(lr))  # best at lr, worse a decade either side


def test_a_log_range_is_a_ladder_a_third_of_a_decade_apart_unless_its_step_says_otherwise():
    rungs = ladder(Range(log=[1e-3, 1e-1]))
    assert rungs == [0.001, 0.00215, 0.00464, 0.01, 0.0215, 0.0464, 0.1]
    assert ladder(Range(log=[1e-3, 1e-1], step=10)) == [0.001, 0.01, 0.1]
    assert ladder(Range(linear=[0.0, 0.9], step=0.3)) == [0.0, 0.3, 0.6, 0.9]
    assert ladder(Range(int=[1, 4])) == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="step"):
        ladder(Range(linear=[0.0, 1.0]))


def test_quasi_random_points_cover_the_box_and_none_is_near_another():
    space = {LR: Range(log=[1e-4, 1.0]), "train.momentum": Range(linear=[0.0, 0.99]), "train.optimizer": ["sgd", "adam"]}
    points = halton(space, 16, seed=3)
    assert len(points) == 16 and points == halton(space, 16, seed=3)  # seeded: the same points again
    assert not any(near(a, b) for i, a in enumerate(points) for b in points[i + 1:])
    decades = {math.floor(math.log10(p[LR])) for p in points}
    assert decades == {-4, -3, -2, -1}  # every decade of the log range, in 16 points
    assert {p["train.optimizer"] for p in points} == {"sgd", "adam"}
    assert halton(space, 16, seed=4) != points


@pytest.mark.parametrize("peak, extended", [(3e-2, []), (4e-4, [0.000464, 0.000215]), (0.5, [0.215, 0.464, 1.0]), (5.0, [0.215, 0.464, 1.0])])
def test_the_boundary_check_extends_the_ladder_until_the_best_is_inside(peak, extended, tmp_path):
    tune = Tune(algorithm="sweep", trials=12, space={LR: Range(log=[1e-3, 1e-1])}, limits={LR: [1e-5, 1.0]})
    tried = search(tune, peaked_at(peak), tmp_path)
    values = [v[LR] for v in tried]
    assert values[:7] == ladder(tune.space[LR])  # every rung first
    assert values[7:] == extended  # then one step at a time beyond the best, until it is inside
    best = max(tried, key=peaked_at(peak))
    where = edges(tune.space, tune.limits, tried, best)
    assert [e.where for e in where] == (["high"] if peak == 5.0 else ["inside"])
    if peak == 5.0:
        assert where[0].why == "hard limit" and "largest tried: on its hard limit (tune.limits)" in where[0].words()


def test_a_sweep_without_limits_stays_in_its_range_and_one_out_of_trials_says_budget(tmp_path):
    tune = Tune(algorithm="sweep", trials=7, space={LR: Range(log=[1e-3, 1e-1])}, limits={LR: [1e-5, 1.0]})
    tried = search(tune, peaked_at(1e-5), tmp_path / "budget")
    assert len(tried) == 7  # no trial left to extend with
    edge, = edges(tune.space, tune.limits, tried, tried[0])
    assert (edge.where, edge.why) == ("low", "budget")
    unlimited = Tune(algorithm="sweep", trials=12, space={LR: Range(log=[1e-3, 1e-1])})
    tried = search(unlimited, peaked_at(1e-5), tmp_path / "unlimited")
    assert len(tried) == 7  # its range is its limit
    edge, = edges(unlimited.space, {}, tried, tried[0])
    assert edge.why == "the end of the declared range"
    listed = {LR: [0.01, 0.1]}
    assert edges(listed, {}, [{LR: 0.01}, {LR: 0.1}], {LR: 0.1})[0].why == "the end of the listed values"


def test_a_sweep_of_two_settings_draws_quasi_random_points_then_checks_each_boundary(tmp_path):
    space = {LR: Range(log=[1e-3, 1e-1]), "train.momentum": Range(linear=[0.0, 0.9], step=0.1)}
    tune = Tune(algorithm="sweep", trials=10, extensions=3, space=space, limits={LR: [1e-5, 1.0]})
    tried = search(tune, peaked_at(1e-4), tmp_path)
    assert tried[:7] == halton(space, 7, nuisance.oracle_seed(0))
    assert len(tried) > 7 and min(v[LR] for v in tried[7:]) < min(v[LR] for v in tried[:7])  # stepped out below


@pytest.mark.parametrize("extra, expected", [
    ("  algorithm: sweep\n  trials: 3\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n",
     "trials: a sweep of train.learning_rate tries its 7 rungs"),
    ("  algorithm: random\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n  limits:\n    train.learning_rate: [1.0e-5, 1]\n",
     "only a sweep extends its space"),
    ("  algorithm: sweep\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n  limits:\n    train.learning_rate: [1.0e-2, 1]\n",
     "must contain the range"),
    ("  algorithm: sweep\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n  limits:\n    train.momentum: [0, 1]\n",
     "limits.train.momentum: not in tune.space"),
    ("  algorithm: hyperband\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n  stop: {rule: median}\n",
     "stop: Hyperband stops losing candidates by its own rounds"),
    ("  algorithm: random\n  repeats: 2\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n  stop: {after: 5}\n",
     "stop: the rule judges one curve per candidate; it needs repeats: 1"),
    ("  algorithm: random\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n  stop: {rule: halving}\n",
     "tune.stop.rule"),
    ("  algorithm: random\n  space:\n    train.learning_rate: {log: [1.0e-3, 1.0e-1]}\n  stop: {after: 0}\n",
     "tune.stop.after"),
])
def test_bad_sweeps_name_the_field(extra, expected, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(STUDY.split("tune:")[0] + "tune:\n" + extra)
    with pytest.raises(StudyError, match=expected.replace("[", r"\[")) as e:
        load_study(path)
    assert "\n" not in str(e.value)


STUDY = """\
name: swept
title: A swept learning rate
claim: The sweep's best rate is inside the rates it tried.
data: {dataset: digits, train_size: 300}
model: {depth: 1, width: 16}
train: {optimizer: sgd, learning_rate: 0.01, batch_size: 64, epochs: 3}
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.3}
tune:
  algorithm: sweep
  trials: 6
  space:
    train.learning_rate: {log: [1.0e-3, 1.0e-2], step: 10}
  limits:
    train.learning_rate: [1.0e-4, 3.0]
"""


@pytest.mark.slow
def test_a_sweep_end_to_end_extends_toward_the_better_rates_and_records_why(tmp_path, monkeypatch):
    client = run_study(tmp_path, monkeypatch, "swept", STUDY)
    exp = client.get_experiment_by_name("swept").experiment_id
    searched = client.search_runs([exp], "tags.`suite.kind` = 'search'", order_by=["attributes.start_time ASC"])
    rates = [json.loads(r.data.tags["suite.search_values"])[LR] for r in searched]
    whys = [r.data.tags["search.candidate"] for r in searched]
    assert rates[:2] == [1e-3, 1e-2] and whys[:2] == ["ladder", "ladder"]
    assert all(w.startswith("boundary check") for w in whys[2:])
    assert all(not 1e-3 <= r <= 1e-2 and 1e-4 <= r <= 3.0 for r in rates[2:])  # beyond the range, within the limits
    text = (tmp_path / "results" / "swept" / "base" / "report.md").read_text()
    assert "boundary check" in text
    checks = json.loads((tmp_path / "results" / "swept" / "base" / "verdicts.json").read_text())["design"]
    assert (checks["searches"], checks["choices"]) == (1, 1)  # the design checks, as the report recorded them
    assert bool(checks["on_edge"]) == ("inside the values tried" not in text)


@pytest.mark.slow
@pytest.mark.parametrize("per, seeds, searcher, says", [
    ("seed", "[0, 1]", {"0": "0", "1": "1"}, "each seed of the study had its own search"),
    ("block\n  blocks: 2", "[0, 1, 2]", {"0": "0", "1": "0", "2": "2"}, "split into 2 blocks (0, 1; 2)"),
])
def test_each_seed_or_block_searches_for_itself_and_trains_with_its_own_search_choice(tmp_path, monkeypatch, per, seeds,
                                                                                      searcher, says):
    text = (STUDY.replace("name: swept", "name: perseed").replace("  trials: 6\n", f"  trials: 4\n  per: {per}\n")
            .replace("seeds: [0, 1]", f"seeds: {seeds}"))
    client = run_study(tmp_path, monkeypatch, "perseed", text)
    exp = client.get_experiment_by_name("perseed").experiment_id
    searched = client.search_runs([exp], "tags.`suite.kind` = 'search'")
    finals = client.search_runs([exp], "tags.`suite.kind` = 'trial'")
    assert sorted({r.data.tags["suite.search_for_seed"] for r in searched}) == sorted(set(searcher.values()))
    for r in finals:  # each trial ran with the best rate of its own seed's (or block's) search
        mine = [s for s in searched if s.data.tags["suite.search_for_seed"] == searcher[r.data.tags["suite.seed"]]]
        scores = {json.loads(s.data.tags["suite.search_values"])[LR]: s.data.metrics["search_score"] for s in mine}
        chosen = json.loads(r.data.tags["suite.tuned"])[LR]
        assert scores[chosen] == max(scores.values())
    report = (tmp_path / "results" / "perseed" / "base" / "report.md").read_text()
    assert says in report and "| for seed |" in report
    assert main(["replicate", "perseed", "--trials", "2"]) == 0  # each rerun with its own search's choice: identical


@pytest.mark.slow
def test_a_budget_in_steps_gives_every_batch_size_the_same_gradient_steps(tmp_path, monkeypatch):
    steps = STUDY.replace("name: swept", "name: steps").replace("epochs: 3}", "epochs: 3, steps: 20}")
    steps = steps.split("tune:")[0] + "grid:\n  train.batch_size: [16, 64]\n"
    run_study(tmp_path, monkeypatch, "steps", steps)
    import pandas as pd

    trials = pd.read_csv(tmp_path / "results" / "steps" / "base" / "trials.csv")
    # 300 examples of digits -> 240 training rows: 15 steps an epoch at batch 16, 4 at batch 64
    epochs = trials.groupby("train.batch_size")["epochs_run"].max().to_dict()
    assert epochs == {16: 2, 64: 5}  # ceil(20 / 15), ceil(20 / 4): about the same steps, not the same epochs
    assert main(["replicate", "steps", "--trials", "2"]) == 0


def test_a_resumed_search_breaks_ties_in_score_as_the_uninterrupted_one_did(tmp_path):
    """keras-tuner reloads a search's trials in the order its files glob, and its choices among equal scores follow
    that order. Rates 0.01 and 0.1 tie: the uninterrupted sweep keeps 0.01 (first tried, inside) and stops; the
    same search reloaded with its trials in another order would pick 0.1, on the edge, and train 1.0 as well."""
    from suite.search.tuner import in_creation_order

    tune = Tune(algorithm="sweep", trials=5, space={LR: Range(log=[1e-3, 1e-1], step=10)}, limits={LR: [1e-4, 10.0]})
    scores = {0.001: 0.5, 0.01: 0.7, 0.1: 0.7}
    created = search(tune, lambda v: scores[round(v[LR], 6)], tmp_path)
    assert [round(v[LR], 6) for v in created] == [0.001, 0.01, 0.1]

    def reloaded(fix: bool):
        oracle = nuisance.make_oracle(tune, epochs=5)
        oracle._set_project_dir(str(tmp_path), "driven")
        oracle.reload()
        oracle._retry_queue.clear()  # the last trial, still "ongoing" in the saved state, is handed back for a retry
        # first (a real resume replays it from the record); what follows it is the question here
        shuffled = sorted(oracle.trials.items(), key=lambda kv: -int(kv[0]))  # as a file system may list them
        oracle.trials.clear()
        oracle.trials.update(shuffled)
        if fix:
            in_creation_order(oracle)
        return oracle

    fixed = reloaded(fix=True)
    assert round(fixed.get_best_trials(1)[0].hyperparameters.values[LR], 6) == 0.01
    assert fixed.create_trial("resumed").status == "STOPPED"
    shuffled = reloaded(fix=False)  # what the resume did before: the other tied rate, and a candidate more
    assert round(shuffled.get_best_trials(1)[0].hyperparameters.values[LR], 6) == 0.1
    assert round(shuffled.create_trial("resumed").hyperparameters.values[LR], 6) == 1.0
