"""Seeds in rounds at a group-sequential boundary: the spending, a look's p, and the error it keeps, by simulation."""

import math

import numpy as np
import pytest
from scipy import stats

from suite.analyze import decision
from suite.analyze.sequential import LOUDEST, at_look, level, spent


@pytest.mark.slow
@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
@pytest.mark.parametrize("looks", [1, 2, 4, 10])
def test_the_levels_of_the_looks_add_up_to_alpha_and_each_grows_with_alpha(spending, looks):
    for alpha in (0.001, 0.01, 0.05, 0.2):
        assert sum(level(k, looks, alpha, spending) for k in range(1, looks + 1)) == pytest.approx(alpha, rel=1e-12)
    grid = np.linspace(1e-6, LOUDEST, 400)
    for k in range(1, looks + 1):
        levels = [level(k, looks, a, spending) for a in grid]
        assert all(b > a for a, b in zip(levels, levels[1:])), f"look {k} of {looks}: a level must grow with alpha"


def test_obrien_fleming_spends_almost_nothing_early_and_pocock_evenly():
    of = [level(k, 4, 0.05, "obrien_fleming") for k in range(1, 5)]
    assert [round(x, 4) for x in of] == [0.0001, 0.0055, 0.0181, 0.0264]  # as the module's docstring says
    pocock = [level(k, 4, 0.05, "pocock") for k in range(1, 5)]
    assert pocock[0] > of[0] * 100 and max(pocock) / min(pocock) < 2.5
    assert spent(0.0, 0.05, "pocock") == 0 and spent(1.0, 0.05, "obrien_fleming") == 0.05


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_a_looks_p_on_the_scale_of_alpha_rejects_exactly_where_the_level_does(spending):
    assert at_look(0.03, 1, 1, spending) == 0.03 and math.isnan(at_look(math.nan, 2, 4, spending))
    for look in (1, 2, 3, 4):
        for p in (1e-7, 1e-4, 0.003, 0.02, 0.04, 0.3):
            scaled = at_look(p, look, 4, spending)
            for alpha in (0.01, 0.025, 0.05, 0.1):
                assert (p <= level(look, 4, alpha, spending)) == (scaled <= alpha + 1e-12), (look, p, alpha)
    assert at_look(0.9, 1, 4, spending) == 1.0  # no alpha up to 0.5 reaches it at an early look


def _t_p(a, b):
    return stats.ttest_ind(a, b, equal_var=False).pvalue


@pytest.mark.slow
@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_under_no_effect_four_looks_at_three_hypotheses_reject_any_at_most_alpha_of_the_time(spending):
    """The family-wise error over every look and hypothesis, simulated: 3 null comparisons of two arms, 4 rounds of
    4 seeds, each look's p's on the scale of alpha, adjusted together by the step-down, a rejection kept."""
    rng = np.random.default_rng(0)
    runs, looks, per_round, alpha = 1500, 4, 4, 0.05
    wrong = 0
    for _ in range(runs):
        data = rng.normal(size=(3, 2, looks * per_round))
        rejected = False
        for k in range(1, looks + 1):
            n = k * per_round
            ps = [at_look(_t_p(h[0, :n], h[1, :n]), k, looks, spending) for h in data]
            adjusted, _ = decision.step_down(ps, [math.nan] * 3)
            if min(adjusted) < alpha:
                rejected = True
                break
        wrong += rejected
    rate = wrong / runs
    assert rate <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / runs), rate  # within two standard errors of alpha


def test_a_real_effect_is_found_at_an_early_look_under_pocock_and_by_the_last_under_obrien_fleming():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.5, 1, 16), rng.normal(0, 1, 16)
    first = {s: at_look(_t_p(a[:4], b[:4]), 1, 4, s) for s in ("obrien_fleming", "pocock")}
    last = at_look(_t_p(a, b), 4, 4, "obrien_fleming")
    assert first["pocock"] < first["obrien_fleming"] and last < 0.05


# --------------------------------------------------------------------------
# A whole study in rounds: the real CLI, keras-tuner, MLflow store and report
# --------------------------------------------------------------------------

ROUNDS_STUDY = """\
name: rounds
title: Rounds of seeds
claim: Seeds are added only where a verdict is open.
sources: [tests]
data: {dataset: mnist1d, train_size: 200}
model: {depth: 1, width: 16}
train: {optimizer: sgd, learning_rate: 0.05, batch_size: 64, epochs: 2}
grid:
  train.learning_rate: [0.05, 1.0e+12, 0.5]   # no verdict compares 0.5: it never gets a later round
seeds: [0, 1]
expect:   # every seed of 1e12 diverges, none of 0.05: the data are certain, so is each look's outcome
  - says: The huge rate diverges more often.
    metric: diverged
    compare: {train.learning_rate: 1.0e+12}
    against: {train.learning_rate: 0.05}
    direction: greater
"""


@pytest.mark.slow
def test_a_study_in_rounds_trains_later_seeds_only_where_a_verdict_is_open_and_resumes_without_repeating(tmp_path, monkeypatch):
    """Its first round recorded without rounds (as a run killed after it would leave it); then, with ``rounds:``, the
    same command trains only the later rounds, in the cells the open verdict compares, until a look decides it. 2 vs 2
    seeds cannot reach alpha (Fisher's floor 0.33); 4 vs 4 give p 0.029, decided at a plain alpha but not at look 2's
    level (0.016); 6 vs 6 give 0.0022, decided at look 3. A third run trains nothing."""
    import json

    from mlflow.tracking import MlflowClient

    from suite.cli import main

    (tmp_path / "studies").mkdir()
    path = tmp_path / "studies" / "rounds.yaml"
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    client = MlflowClient(f"sqlite:///{tmp_path / '.suite' / 'mlflow.db'}")

    def trials():
        exp = client.get_experiment_by_name("rounds")
        found = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
        return sorted((int(r.data.tags["suite.cell"]), int(r.data.tags["suite.seed"])) for r in found)

    path.write_text(ROUNDS_STUDY)
    assert main(["run", str(path)]) == 0
    assert trials() == [(c, s) for c in range(3) for s in (0, 1)]

    path.write_text(ROUNDS_STUDY + "rounds: {looks: 3}\n")  # a study given rounds keeps its recorded first round
    assert main(["run", str(path)]) == 0
    out = tmp_path / "results" / "rounds" / "base"
    entry = json.loads((out / "verdicts.json").read_text())
    looks = entry["rounds"]["judged"]
    assert [(x["seeds"], x["cells"], x["open"], x["stopped"]) for x in looks] == [
        ([0, 1], [0, 1, 2], [0], {}), ([2, 3], [0, 1], [0], {}), ([4, 5], [0, 1], [], {"0": "decided"})]
    assert trials() == sorted([(c, s) for c in range(3) for s in (0, 1)] + [(c, s) for c in (0, 1) for s in range(2, 6)])
    (v,) = entry["verdicts"]
    assert (v["verdict"], v["look"], v["stopped"], v["n"]) == ("supported", 3, "decided", 12)
    assert v["p"] == pytest.approx(1 / 462, rel=1e-6)  # Fisher's exact p (two-sided) for 6/6 against 0/6
    report = (out / "report.md").read_text()
    assert "### Looks: seeds in rounds where a verdict was open" in report and "[look 3: decided]" in report

    assert main(["run", str(path)]) == 0  # resumed: nothing left to train, the same verdicts
    assert len(trials()) == 14
    assert json.loads((out / "verdicts.json").read_text())["verdicts"] == entry["verdicts"]

    # killed during round 3: two of its trials never recorded (nor in keras-tuner's state); the next run judges no
    # look on an incomplete round, trains those two alone, and reaches the same verdicts
    import shutil

    exp = client.get_experiment_by_name("rounds")
    for run in client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial' and tags.`suite.cell` = '1'"):
        if run.data.tags["suite.seed"] in ("4", "5"):
            client.delete_run(run.info.run_id)
    shutil.rmtree(tmp_path / ".suite" / "tuner")
    assert len(trials()) == 12
    assert main(["report", str(path)]) == 0  # meanwhile the report judges the looks whose rounds are whole
    assert json.loads((out / "verdicts.json").read_text())["rounds"]["next"] == [0, 1]
    assert "**2 not yet run**" in (out / "report.md").read_text()
    assert main(["run", str(path)]) == 0
    assert len(trials()) == 14
    assert json.loads((out / "verdicts.json").read_text())["verdicts"] == entry["verdicts"]
