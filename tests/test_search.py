"""Nuisance search: the tune: block, the search space, the budget, and a real search end to end."""

import json
import math

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from oracles import drive

from suite.cli import main
from suite.ground.errors import StudyError, SuiteError
from suite.search import nuisance as search
from suite.study import Range, Tune, load_study
from suite.study.profiles import CONFIRM_OFFSET

BASE = """\
name: tuned
title: Tuned
claim: The search picks the best tried setting.
data: {dataset: digits, train_size: 300}
model: {depth: 1, width: 16}
train: {optimizer: sgd, learning_rate: 0.01, batch_size: 64, epochs: 3}
seeds: [0, 1]
target: {metric: val_accuracy, value: 0.3}
"""


def study(tmp_path, extra: str):
    path = tmp_path / "tuned.yaml"
    path.write_text(BASE + extra)
    return load_study(path)


def error(tmp_path, extra: str) -> str:
    with pytest.raises(StudyError) as e:
        study(tmp_path, extra)
    message = str(e.value)
    assert "\n" not in message
    return message


# ---- the tune: block -------------------------------------------------------


def test_tune_block_parses_ranges_and_choices(tmp_path):
    s = study(tmp_path, "tune:\n  trials: 4\n  space:\n    train.learning_rate: {log: [1.0e-4, 1.0]}\n"
                        "    train.momentum: [0, 0.9]\n    model.width: {int: [8, 32], step: 8}\n").study
    space = s.tune.space
    assert space["train.learning_rate"] == Range(log=[1e-4, 1.0])
    assert space["train.momentum"] == [0.0, 0.9]  # one type for keras-tuner
    assert space["model.width"].bounds == [8, 32]


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("tune:\n  space: {train.learning_rat: [0.1]}\n", "tune.space.train.learning_rat: no such setting (did you mean 'train.learning_rate'?)"),
        ("tune:\n  space: {train.epochs: [1, 2]}\n", "tune.space.train.epochs: epochs are the unit of the search budget"),
        ("tune:\n  space: {train.learning_rate: {log: [1.0, 1.0e-4]}}\n", "tune.space.train.learning_rate"),
        ("tune:\n  space: {train.learning_rate: {log: [-1.0, 1.0]}}\n", "tune.space.train.learning_rate"),
        ("tune:\n  space: {model.dropout: [0.0, 1.5]}\n", "tune.space.model.dropout: 1.5 is not allowed"),
        ("tune:\n  space: {train.momentum: [0.0, fast]}\n", "choices must be all numbers, all strings or all booleans"),
        ("tune:\n  space: {}\n", "tune: space must name at least one setting"),
        ("tune:\n  algorithm: annealing\n  space: {train.momentum: [0.0]}\n", "tune.algorithm: must be one of"),
        ("tune:\n  trials: 0\n  space: {train.momentum: [0.0]}\n", "tune.trials: must be a positive integer"),
        ("tune:\n  spaces: {train.momentum: [0.0]}\n", "tune.spaces: unknown key (did you mean 'space'?)"),
        ("grid: {train.batch_size: [16]}\ntune:\n  space: {train.batch_size: [8, 16]}\n", "tune.space.train.batch_size: is a grid axis"),
        ("grid: {tune.algorithm: [random]}\n", "grid.tune.algorithm: the study has no tune: block"),
        ("grid: {tune.space: [1]}\ntune:\n  space: {train.momentum: [0.0]}\n", "grid.tune.space: a grid may vary only"),
        ("grid: {tune.algorithm: [random, simplex]}\ntune:\n  space: {train.momentum: [0.0]}\n", "grid.tune.algorithm[1]: must be one of"),
    ],
)
def test_bad_tune_blocks_name_the_field(tmp_path, extra, expected):
    assert expected in error(tmp_path, extra)


def test_tune_axes_give_each_cell_its_own_search(tmp_path):
    resolved = study(tmp_path, "grid:\n  tune.algorithm: [grid, random]\n  tune.seed: [0, 3]\n"
                               "tune:\n  trials: 2\n  space: {train.momentum: [0.0, 0.9]}\n")
    searches = [(c.tune.algorithm, c.tune.seed, c.tune.trials) for c in resolved.cells]
    assert searches == [("grid", 0, 2), ("grid", 3, 2), ("random", 0, 2), ("random", 3, 2)]
    assert all(c.settings == resolved.cells[0].settings for c in resolved.cells)  # no setting differs


# ---- the space and the budget -------------------------------------------------


def test_grid_values_of_each_kind():
    assert search.grid_values([0.0, 0.9], "x") == [0.0, 0.9]
    assert search.grid_values(Range(log=[1e-4, 1.0], step=10), "x") == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert search.grid_values(Range(linear=[0.0, 0.5], step=0.25), "x") == [0.0, 0.25, 0.5]
    assert search.grid_values(Range(int=[8, 32], step=8), "x") == [8, 16, 24, 32]
    with pytest.raises(SuiteError, match="x: a grid search needs a step"):
        search.grid_values(Range(log=[1e-4, 1.0]), "x")


def test_a_choice_of_flags_samples_true_and_false_not_one_and_zero():
    """keras-tuner's Choice turns booleans into integers, which a flag setting refuses."""
    import keras_tuner

    hp = search.hyperparameters({"model.residual": [False, True], "model.bidirectional": [True]})
    objective = keras_tuner.Objective("score", "max")
    oracle = keras_tuner.oracles.RandomSearchOracle(objective=objective, max_trials=20, hyperparameters=hp, seed=0)
    drawn = {oracle.populate_space(str(i))["values"]["model.residual"] for i in range(20)}
    assert drawn == {False, True} and all(type(v) is bool for v in drawn)
    assert hp.values["model.bidirectional"] is True


def test_grid_plan_is_the_product_in_file_order():
    plan = search.grid_plan({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(plan) == 6
    assert plan[:3] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}]


def test_budget_is_trials_times_epochs_for_every_algorithm():
    epochs = 10
    for algorithm in ("random", "bayesian", "grid", "hyperband"):
        tune = Tune(algorithm=algorithm, trials=6, space={"train.momentum": [0.0, 0.9]})
        assert tune.candidate_epochs(epochs) == tune.budget(epochs) == 60
    # each candidate scored by 3 runs: the oracle still hands out 60 candidate-epochs, which train 180 epochs
    tune = Tune(trials=6, repeats=3, space={"train.momentum": [0.0, 0.9]})
    assert tune.candidate_epochs(epochs) == 60 and tune.budget(epochs) == 180
    assert search.make_oracle(tune, epochs).budget_epochs == 60
    # Hyperband's rounds are charged their own epochs; other trials train them all.
    assert search.cost({"train.momentum": 0.9}, epochs) == 10
    assert search.cost({"train.momentum": 0.9, "tuner/epochs": 4, "tuner/initial_epoch": 2}, epochs) == 4
    assert search.spent([{"tuner/epochs": 2}] * 5 + [{"tuner/epochs": 4}] * 2, epochs) == 18


@pytest.mark.parametrize("algorithm", ["random", "bayesian", "grid", "hyperband"])
def test_oracles_stop_at_the_budget(algorithm, tmp_path):
    step = 10 if algorithm == "grid" else None  # a grid needs points; the others sample a continuous range
    tune = Tune(algorithm=algorithm, trials=3, space={"train.learning_rate": Range(log=[1e-3, 1.0], step=step),
                                                      "train.momentum": [0.0, 0.9]})
    scores = iter(range(1, 1000))
    created = drive(search.make_oracle(tune, epochs=9), lambda values: next(scores) / 10, tmp_path)
    assert search.spent(created, 9) >= 27  # the whole budget is used...
    assert search.spent(created[:-1], 9) < 27  # ...and not a trial more
    if algorithm != "hyperband":
        assert len(created) == 3


def test_apply_sets_values_and_epochs_and_validates():
    from suite.study import Settings

    s = search.apply(Settings(), {"train.learning_rate": 0.3, "model.width": 24}, epochs=5)
    assert (s.train.learning_rate, s.model.width, s.train.epochs) == (0.3, 24, 5)
    with pytest.raises(Exception):
        search.apply(Settings(), {"model.dropout": 2.0})


def test_score_is_the_best_finite_value_and_a_diverged_trial_scores_worst():
    assert search.score({"val_accuracy": [0.2, 0.5, 0.4]}, "val_accuracy") == 0.5
    assert search.score({"val_loss": [2.0, 1.5, math.nan]}, "val_loss") == 1.5
    assert search.score({"val_accuracy": [math.nan, math.nan]}, "val_accuracy") == search.WORST["max"]
    # what a model scores once its loss is NaN (e.g. one class everywhere) does not count
    assert search.score({"loss": [2.0, math.nan, math.nan], "val_accuracy": [0.3, 0.1, 0.1]}, "val_accuracy") == 0.3
    assert search.score({"loss": [math.nan], "val_accuracy": [0.1]}, "val_accuracy") == search.WORST["max"]
    assert search.nuisance({"a": 1, "tuner/epochs": 3, "tuner/round": 1}) == {"a": 1}


# ---- end to end: a real search, a real MLflow store ---------------------------

E2E = BASE.replace("name: tuned", "name: tuned-e2e") + """\
grid:
  train.batch_size: [32, 128]
tune:
  algorithm: random
  trials: 4
  space:
    train.learning_rate: [1.0e-3, 0.1, 1.0e+9]   # the last one diverges
"""


@pytest.fixture(scope="module")
def tuned_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("tuned")
    (home / "studies").mkdir()
    (home / "studies" / "tuned-e2e.yaml").write_text(E2E)
    return home


def run_in(home, name: str, monkeypatch) -> tuple[MlflowClient, str]:
    """``suite run NAME`` in ``home``'s own store; its client and the study's experiment id."""
    monkeypatch.setenv("SUITE_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", name]) == 0
    client = MlflowClient(f"sqlite:///{home / '.suite' / 'mlflow.db'}")
    return client, client.get_experiment_by_name(name).experiment_id


@pytest.mark.slow
def test_search_picks_the_best_tried_setting_and_reruns_it_for_every_seed(tuned_home, monkeypatch):
    client, exp = run_in(tuned_home, "tuned-e2e", monkeypatch)
    searched = client.search_runs([exp], "tags.`suite.kind` = 'search'")
    finals = client.search_runs([exp], "tags.`suite.kind` = 'trial'")
    assert {r.info.status for r in searched} == {"FINISHED"}
    assert len(finals) == 2 * 2 and {r.info.status for r in finals} == {"FINISHED"}

    for cell in ("0", "1"):
        runs = [r for r in searched if r.data.tags["suite.cell"] == cell]
        tried = {json.dumps(json.loads(r.data.tags["suite.search_values"])): r.data.metrics["search_score"] for r in runs}
        assert 1 <= len(runs) <= 4 and sum(r.data.metrics["search_epochs"] for r in runs) <= 4 * 3
        best = max(tried, key=tried.get)
        chosen = {r.data.tags["suite.tuned"] for r in finals if r.data.tags["suite.cell"] == cell}
        assert chosen == {best}  # the best validation score among the tried settings...
        seeds = sorted(int(r.data.tags["suite.seed"]) for r in finals if r.data.tags["suite.cell"] == cell)
        assert seeds == [0, 1]  # ...rerun with every seed
        lr = json.loads(best)["train.learning_rate"]
        assert {r.data.params["train.learning_rate"] for r in finals if r.data.tags["suite.cell"] == cell} == {json.dumps(lr)}
        # the diverging setting, when tried, is recorded as a finished, diverged trial and the search went on
        for r in runs:
            if json.loads(r.data.tags["suite.search_values"])["train.learning_rate"] > 1e6:
                assert r.data.metrics["diverged"] == 1.0 and r.data.metrics["search_score"] == search.WORST["max"]

    out = tuned_home / "results" / "tuned-e2e" / "base"
    text = (out / "report.md").read_text()
    assert "## Nuisance search" in text and (out / "search.png").stat().st_size > 0
    progress = pd.read_csv(out / "searches.csv")
    assert len(progress) == len(searched)
    trials = pd.read_csv(out / "trials.csv")
    assert "search_best_val_accuracy" in trials


@pytest.mark.slow
def test_a_rerun_resumes_without_searching_again(tuned_home, monkeypatch, capsys):
    monkeypatch.setenv("SUITE_HOME", str(tuned_home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    client = MlflowClient(f"sqlite:///{tuned_home / '.suite' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tuned-e2e").experiment_id
    before = len(client.search_runs([exp], "tags.`suite.kind` != 'study'"))
    assert main(["run", "tuned-e2e"]) == 0
    assert len(client.search_runs([exp], "tags.`suite.kind` != 'study'")) == before


@pytest.mark.slow
def test_replicating_a_tuned_study_reruns_the_chosen_settings_exactly(tuned_home, monkeypatch, capsys):
    monkeypatch.setenv("SUITE_HOME", str(tuned_home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["replicate", "tuned-e2e", "--trials", "2"]) == 0
    assert "0 differences" in capsys.readouterr().out


def test_search_seeds_give_independent_candidates_and_the_same_seed_the_same_ones(tmp_path):
    def candidates(seed):
        tune = Tune(algorithm="random", trials=8, seed=seed, space={"train.learning_rate": Range(log=[1e-4, 1.0])})
        oracle = search.make_oracle(tune, epochs=1)
        oracle._set_project_dir(str(tmp_path), f"seed{seed}-{len(list(tmp_path.iterdir()))}")
        values = []
        for _ in range(8):
            trial = oracle.create_trial("worker")
            values.append(trial.hyperparameters.values["train.learning_rate"])
            oracle.update_trial(trial.trial_id, {search.SCORE: 0.0})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
        return values

    assert candidates(0) == candidates(0)
    for a, b in ((0, 1), (0, 2), (1, 3)):  # keras-tuner's own seeds s and s+k would share 8-k of 8 candidates
        assert not set(candidates(a)) & set(candidates(b))


@pytest.mark.parametrize("algorithm", ["random", "bayesian", "hyperband"])
def test_every_search_takes_a_confirming_runs_seed(algorithm, tmp_path):
    # `suite confirm` moves tune.seed by 100,000; numpy (under the Bayesian oracle) refuses seeds >= 2**32.
    tune = Tune(algorithm=algorithm, trials=4, seed=CONFIRM_OFFSET + 9, space={"train.learning_rate": Range(log=[1e-4, 1.0])})
    oracle = search.make_oracle(tune, epochs=3)
    oracle._set_project_dir(str(tmp_path), algorithm)
    assert 0 < oracle.seed < 2**32
    assert oracle.create_trial("worker").hyperparameters.values["train.learning_rate"] > 0
    assert search.oracle_seed(3) == 1 + 3 * search.SEED_STRIDE  # seeds a study uses did not move


@pytest.mark.slow
def test_a_search_trial_with_repeats_trains_each_seed_and_scores_their_mean(tmp_path, monkeypatch):
    from suite.train import trial

    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "tuned.yaml").write_text(BASE + """\
tune:
  algorithm: grid
  trials: 2
  repeats: 3
  space:
    train.learning_rate: [0.01, 0.3]
""")
    client, exp = run_in(tmp_path, "tuned", monkeypatch)
    runs = client.search_runs([exp], "tags.`suite.kind` = 'search'")
    resolved = load_study(tmp_path / "studies" / "tuned.yaml")
    assert len(runs) == 2
    for r in runs:
        assert r.data.metrics["search_epochs"] == 3 * 3 and r.data.metrics["search_score_sd"] >= 0
        lr = json.loads(r.data.tags["suite.search_values"])["train.learning_rate"]
        settings = search.apply(resolved.cells[0].settings, {"train.learning_rate": lr})
        scores = [search.score(trial.run(settings, search.SEARCH_SEED + j * search.REPEAT_STRIDE, resolved.study.target,
                                         evaluate=False).history, "val_accuracy") for j in range(3)]
        assert r.data.metrics["search_score"] == pytest.approx(sum(scores) / 3, abs=1e-9)
    report = (tmp_path / "results" / "tuned" / "base" / "report.md").read_text()
    assert "x 3 seeds (a trial scores the mean of its 3 runs) = 18 epochs per search" in report


def test_a_run_whose_searches_lost_candidates_fails_in_one_line_unless_the_study_tolerates_it(tmp_path):
    """Issue 60: a build() that failed for some candidates dropped 3 of 6 and the run exited 0. A search that lost
    candidates chose among fewer than it planned: the run exits non-zero, saying so, unless ``tune.tolerate`` allows it."""
    from suite.cli import failed_candidates
    from suite.study import load_study

    study = tmp_path / "s.yaml"
    text = ("name: s\ntitle: t\nclaim: c\ntarget: {metric: val_accuracy, value: 0.5}\nseeds: [0]\n"
            "tune: {algorithm: random, trials: 3, space: {train.learning_rate: {log: [1.0e-4, 1.0e-2]}}%s}\n")
    study.write_text(text % "")
    searches = tmp_path / "searches.csv"
    searches.write_text("cell,trial,status,error,run_id\n0,0,FINISHED,,a\n0,1,FAILED,\"Traceback...\nValueError: "
                        "no such layer\",b\n0,2,FINISHED,,c\n")
    line = failed_candidates(load_study(study), searches)
    assert line == ("error: s: 1 of 3 search candidates FAILED (tune.tolerate: 0); the first: ValueError: no such layer; "
                    "its search chose among the rest: fix what fails, or declare tune.tolerate")
    study.write_text(text % ", tolerate: 1")
    assert failed_candidates(load_study(study), searches) == ""


def test_a_runs_lines_count_the_whole_run_and_name_the_search_score_with_its_direction():
    """Issue 60: "elapsed / ETA" restarted with every search, and "score" meant validation loss (lower better) in a
    regression. One bar for the run: each line carries the run's count; a candidate's score is named."""
    import io

    from suite.ground.console import Progress, RunBar
    from suite.study import Target

    out = io.StringIO()
    bar = RunBar(planned=5, stream=out)
    search = Progress(total=2, done=1, label="search a", bar=bar, score=("val_loss", "min"), stream=out)
    search.begin("lr=0.01")
    search.end("COMPLETED", {"search_score": 0.25}, Target(metric="val_accuracy"))
    trials = Progress(total=3, bar=bar, stream=out)
    trials.begin("a seed=0")
    trials.end("COMPLETED", {"final_val_accuracy": 0.5}, Target(metric="val_accuracy"))
    bar.close()
    lines = out.getvalue().splitlines()
    assert "resuming: 1 of 2 trials already recorded" in lines[0]
    assert lines[1].startswith("[search a: 2/2] lr=0.01 ... val_loss 0.250 (lower is better)") and "| run 2/5, ETA" in lines[1]
    assert lines[2].startswith("[1/3] a seed=0 ... val_accuracy 0.500") and "| run 3/5, ETA" in lines[2]
