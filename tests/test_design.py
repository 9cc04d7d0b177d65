"""A report's design checks (suite.analyze.design): tuned optima on an edge, near-duplicate candidates,
cells still improving, and the verdicts that name a cell tuned on a hard limit. Pure: hand-made tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from suite.analyze import design, scorecard, verdict
from suite.ground.errors import SuiteError
from suite.study import load_study

STUDY = """\
name: checked
title: Design checks
claim: A wider network ends more accurate.
data: {dataset: digits, train_size: 300}
model: {depth: 1, width: 16}
train: {optimizer: sgd, learning_rate: 0.01, batch_size: 64, epochs: 10}
grid:
  model.width: [16, 32]
seeds: [0, 1, 2, 3]
target: {metric: val_accuracy, value: 0.3}
tune:
  algorithm: sweep
  trials: 6
  per: block
  blocks: 2
  space:
    train.learning_rate: {log: [0.3, 3.0], step: 10}
  limits:
    train.learning_rate: [1.0e-4, 3.0]
expect:
  - says: A wider network ends more accurate.
    metric: test_accuracy
    compare: {model.width: 32}
    against: {model.width: 16}
    direction: greater
"""
LR = "train.learning_rate"


def study(tmp_path):
    path = tmp_path / "checked.yaml"
    path.write_text(STUDY)
    return load_study(path)


def tables(tmp_path):
    """Cell 0 (width 16): both block searches choose 3.0, the hard limit. Cell 1 (width 32): block 0 chooses 1.0
    inside what it tried; block 2 tried 0.3 and 0.31 (one candidate) and chose 0.3, the low edge. Cell 1's
    seeds peak in their last epoch at the cap: still improving, and behind cell 0 (so its verdict is withheld)."""
    resolved = study(tmp_path)
    rows = []
    for cell, tried in ((0, {0: [0.3, 3.0], 2: [0.3, 3.0]}), (1, {0: [0.3, 1.0, 3.0], 2: [0.3, 0.31, 3.0]})):
        for search, rates in tried.items():
            rows += [{"cell": cell, "for_seed": search, "values": json.dumps({LR: r}), "why": "ladder"} for r in rates]
    searches = pd.DataFrame(rows)
    picks = {(0, 0): 3.0, (0, 2): 3.0, (1, 0): 1.0, (1, 2): 0.3}
    trials = pd.DataFrame([
        {"cell": cell, "model.width": (16, 32)[cell], "seed": seed, "status": "FINISHED",
         "tuned": json.dumps({LR: picks[(cell, 0 if seed < 2 else 2)]}),
         "best_epoch": (4, 10)[cell], "epochs_run": 10, "test_accuracy": 0.6 - 0.1 * cell + 0.01 * seed}
        for cell in (0, 1) for seed in resolved.study.seeds])
    return resolved, trials, searches


def write_report(results, resolved, trials, searches, judged):
    """A quick report's verdicts.json, as far as the scorecard reads it, with the design checks of these tables."""
    name = resolved.study.name
    entry = {"study": name, "title": "t", "claim": "c", "profile": "quick", "wall_s": 1.0, "verdicts": judged,
             "design": design.checks(resolved, trials, searches, design.edges(resolved, trials, searches))}
    out = results / name / "quick"
    out.mkdir(parents=True)
    (out / "verdicts.json").write_text(json.dumps(entry))


def test_each_search_choice_is_placed_inside_or_on_an_edge_with_why(tmp_path):
    resolved, trials, searches = tables(tmp_path)
    found = {(c, s): e for c, s, e in design.edges(resolved, trials, searches)}
    assert (found[(0, 0)].where, found[(0, 0)].why) == ("high", "hard limit")
    assert found[(1, 0)].where == "inside"
    assert (found[(1, 2)].where, found[(1, 2)].why) == ("low", "budget")  # 0.03 was allowed: trials ran out
    assert design.near_duplicates(searches) == [(1, 2)]


def test_the_checks_count_what_a_reviewer_asks_and_name_each_exception(tmp_path):
    resolved, trials, searches = tables(tmp_path)
    checks = design.checks(resolved, trials, searches, design.edges(resolved, trials, searches))
    assert (checks["searches"], checks["choices"], checks["cells"]) == (4, 4, 2)
    assert [(x["cell"], x["why"]) for x in checks["on_edge"]] == [
        ("model.width=16", "hard limit"), ("model.width=16", "hard limit"), ("model.width=32", "budget")]
    assert checks["near_duplicates"] == [{"cell": "model.width=32", "search": 2}]
    assert [x["cell"] for x in checks["still_improving"]] == ["model.width=32"]
    json.dumps(checks)  # what verdicts.json keeps


def test_a_verdict_comparing_a_cell_tuned_on_a_hard_limit_names_it(tmp_path):
    resolved, trials, searches = tables(tmp_path)
    limits = design.on_limits(design.edges(resolved, trials, searches))
    assert limits == {0: "train.learning_rate = 3 on its hard limit in 2 of 2 searches"}
    (v,) = verdict.evaluate(resolved.study.expect, trials, resolved.study.grid, 0.05, limits=limits)
    assert v.on_limit == "model.width=16: train.learning_rate = 3 on its hard limit in 2 of 2 searches"
    (plain,) = verdict.evaluate(resolved.study.expect, trials, resolved.study.grid, 0.05)
    assert plain.on_limit == ""


def test_the_hard_limit_note_counts_searches_not_settings():
    """One search that leaves two settings on their hard limits is one search of the cell's two."""
    from suite.study.space import Edge
    found = [(0, 0, Edge(LR, 3.0, "high", "hard limit")), (0, 0, Edge("train.momentum", 0.99, "high", "hard limit")),
             (0, 2, Edge(LR, 1.0, "inside"))]
    assert design.on_limits(found) == {
        0: "train.learning_rate = 3, train.momentum = 0.99 on its hard limit in 1 of 2 searches"}


def test_the_scorecard_adds_the_checks_up_and_lists_the_exceptions(tmp_path):
    resolved, trials, searches = tables(tmp_path)
    (v,) = verdict.evaluate(resolved.study.expect, trials, resolved.study.grid, 0.05)
    judged = [{**{k: (None if isinstance(x, float) and np.isnan(x) else x) for k, x in vars(v).items()},
               "agreement": None}]
    write_report(tmp_path / "results", resolved, trials, searches, judged)
    text = scorecard.build(tmp_path / "results").read_text()
    assert "## Design checks" in text
    assert "Tuned optima on an edge** of the values their search tried: 3 of 4 (75%)" in text
    assert "2 of them on a declared hard limit" in text
    assert "near-duplicate candidates** (within 5% in every setting): 1 of 4 (25%)" in text
    assert "checked: model.width=32, still improving" in text
    assert "**Inconclusive verdicts**: 1 of 1 (100%); 1 budget-limited, 0 with too few replicates" in text


def test_a_trend_in_time_to_target_says_when_the_shared_budget_leaves_nothing_to_compare():
    """Budgets in steps give small batches few epochs: up to the smallest, no cell reached the target."""
    rows = pd.DataFrame([{"cell": i, "train.batch_size": b, "seed": s, "status": "FINISHED", "epochs_run": cap,
                          "epochs_to_target": np.nan if cap == 3 else 5.0 * (i + 1), "reached_target": float(cap != 3)}
                         for i, (b, cap) in enumerate(((4, 3), (64, 40), (1600, 1000))) for s in range(3)])
    from suite.kinds import expectation
    e = expectation(says="Larger batches need more epochs.", metric="epochs_to_target", along="train.batch_size",
               trend="increasing")
    v = e.test(rows, {e.along: [4, 64, 1600]}, None)
    assert v.observed.startswith("no variation to correlate over 3 cells: up to the budget every cell shares (3 epochs")


def test_the_compute_line_splits_the_wall_time_by_machine_when_reports_were_run_on_more_than_one():
    one = [(None, {"wall_s": 60.0, "device": "CPU: A"}), (None, {"wall_s": 120.0, "device": "CPU: A"})]
    assert scorecard.cost(one)[0] == "Compute: the study runs behind 2 of these 2 reports took 3.0 min of wall time in all, on CPU: A."
    two = one + [(None, {"wall_s": 30.0, "device": "CPU: B"}), (None, {"device": "CPU: B"})]
    assert scorecard.cost(two)[0] == (
        "Compute: the study runs behind 3 of these 4 reports took 3.5 min of wall time in all: "
        "3.0 min for 2 on CPU: A; 0.5 min for 1 on CPU: B (1 reports were made before runs recorded their wall time).")


def test_searches_that_are_the_subject_of_their_study_are_counted_apart(tmp_path):
    """Where every verdict measures the searches themselves, where a search stops is the outcome: the scorecard
    reports those edges and near-duplicates on a line of their own, not as flaws in tuning."""
    resolved, trials, searches = tables(tmp_path)
    assert not design.searches_studied(resolved)
    path = tmp_path / "searched.yaml"
    path.write_text(STUDY.replace("name: checked", "name: searched").replace("metric: test_accuracy",
                                                                              "metric: search_best_val_accuracy"))
    studied = load_study(path)
    assert design.searches_studied(studied)
    for r in (resolved, studied):
        write_report(tmp_path / "results", r, trials, searches, [])
    text = scorecard.build(tmp_path / "results").read_text()
    assert "Tuned optima on an edge** of the values their search tried: 3 of 4 (75%)" in text
    assert "near-duplicate candidates** (within 5% in every setting): 1 of 4 (25%)" in text
    assert "**Searches under study**, not counted above: 4 searches in searched" in text
    assert "3 of 4 (75%) choices on an edge, 1 searches with near-duplicate candidates" in text


def test_the_compute_line_tells_apart_machines_that_share_a_name_by_their_cpu_features():
    runs = [(None, {"wall_s": 60.0, "device": "CPU: A", "cpu_features": "avx2"}),
            (None, {"wall_s": 120.0, "device": "CPU: A", "cpu_features": "avx2 avx512f"}),
            (None, {"wall_s": 30.0, "device": "CPU: B", "cpu_features": "avx2"})]
    assert scorecard.cost(runs)[0] == (
        "Compute: the study runs behind 3 of these 3 reports took 3.5 min of wall time in all: "
        "1.0 min for 1 on CPU: A with avx2; 2.0 min for 1 on CPU: A with avx2 avx512f; 0.5 min for 1 on CPU: B.")


def test_the_scorecard_sorts_undecided_verdicts_by_the_seeds_their_plans_ask_for_and_projects_the_cost(tmp_path):
    resolved, trials, searches = tables(tmp_path)
    (v,) = verdict.evaluate(resolved.study.expect, trials, resolved.study.grid, 0.05)
    base = {**{k: (None if isinstance(x, float) and np.isnan(x) else x) for k, x in vars(v).items()},
            "verdict": "inconclusive", "blocked": "", "agreement": None}
    plan = lambda needed, never=False: {"needed": needed, "now": 4, "never": never, "units": "seeds per arm",
                                        "planned": True}
    judged = [{**base, "power": plan(6)}, {**base, "power": plan(12)}, {**base, "power": plan(40)},
              {**base, "power": plan(None, never=True)}, {**base, "power": plan(None)},
              {**base, "power": {**plan(None), "planned": False}}, {**base, "verdict": "supported", "power": None}]
    write_report(tmp_path / "results", resolved, trials, searches, judged)
    path = tmp_path / "results" / resolved.study.name / "quick" / "verdicts.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "wall_s": 600.0}))
    text = scorecard.build(tmp_path / "results").read_text()
    assert ("against those they have: 1 at most 2x the seeds they have, 1 between 2x and 4x, 1 more than 4x; "
            "1 beyond 1000 per arm; 1 that no number of seeds decides (the observed difference lies outside an "
            "equivalence margin); 1 it cannot plan" in text)
    assert "decide those asking at most 4x: about 30 min for the 1 timed studies against 10.0 min recorded" in text
    assert "decide every one with a plan: about 100 min for the 1 timed studies against 10.0 min recorded" in text


def test_a_cell_that_searches_nothing_counts_each_seed_as_a_replicate(tmp_path):
    """A grid over tune.algorithm with ``none`` (batch_size's fixed-rate arm): those cells train every seed at the
    file's values, so no search is shared and the test counts seeds; the swept cells count their block searches."""
    path = tmp_path / "checked.yaml"
    path.write_text(STUDY.replace("  model.width: [16, 32]\n", "  model.width: [16, 32]\n  tune.algorithm: [sweep, none]\n"))
    resolved = load_study(path)
    algorithm = {c.index: c.values["tune.algorithm"] for c in resolved.cells}
    trials = pd.DataFrame([{"cell": c.index, "seed": s} for c in resolved.cells for s in resolved.study.seeds])
    search = design.with_searches(resolved, trials)
    fixed, swept = (search[[algorithm[c] == a for c in search.cell]] for a in ("none", "sweep"))
    assert list(fixed["search"]) == list(fixed["seed"])  # each its own
    assert sorted(set(swept["search"])) == [0, 2]  # two blocks of seeds, a search each
    from suite.kinds import expectation
    fixed_rate = expectation(says="s", metric="reached_target", compare={"model.width": 32}, against={"model.width": 16},
                             direction="greater", where={"tune.algorithm": "none"})
    assert fixed_rate.too_few_planned(list(resolved.cells), resolved.study.seeds, 0.05) == ""  # 4 vs 4 seeds: 0.029
    swept = expectation(says="s", metric="reached_target", compare={"model.width": 32}, against={"model.width": 16},
                        direction="greater", where={"tune.algorithm": "sweep"})
    assert "cannot give p below 0.33" in swept.too_few_planned(list(resolved.cells), resolved.study.seeds, 0.05)  # 2 vs 2
    both = expectation(says="s", metric="reached_target", compare={"model.width": 32}, against={"model.width": 16},
                       direction="greater")  # each arm: a swept cell's 2 block searches and a fixed cell's 4 seeds
    assert both.too_few_planned(list(resolved.cells), resolved.study.seeds, 0.01) == ""  # 6 vs 6: 0.0011, not 4 vs 4


def test_the_scorecard_audits_decided_verdicts_for_seeds_that_share_a_search(tmp_path):
    """Each verdict records whether its test counted seeds although some share a search; the scorecard counts the
    decided ones that did (#46's goal: none) and names each."""
    resolved, trials, searches = tables(tmp_path)
    searched = design.with_searches(resolved, trials)
    (v,) = verdict.evaluate(resolved.study.expect, searched, resolved.study.grid, 0.05)
    assert v.units == "searches" and v.shared_seeds is False
    record = {**{k: (None if isinstance(x, float) and np.isnan(x) else x) for k, x in vars(v).items()}, "agreement": None}
    pseudo = {**record, "says": "A claim judged on seeds that share searches.", "verdict": "supported", "shared_seeds": True}
    honest = {**record, "says": "A claim judged on its searches.", "verdict": "supported"}
    write_report(tmp_path / "results", resolved, trials, searches, [pseudo, honest])
    text = scorecard.build(tmp_path / "results").read_text()
    assert "**Decided verdicts whose test counted seeds that share a search** as independent replicates: 1 of 2 (50%)." in text
    assert "  - A claim judged on seeds that share searches." in text
    margin = v.margin_from  # the default for its metric, recorded with the verdict
    assert margin.startswith("±") and "(default: " in margin
    assert f"| {margin} | {v.metric} | 2 | 0 |" in text.split("## Margins")[1]


def test_a_studys_wall_time_sums_its_attempts_and_a_killed_one_counts_to_its_last_finished_trial():
    """A study stopped by a kill and resumed counts both attempts; the killed one up to the end of the last trial
    it finished (its recorded end is when the next attempt found it orphaned, hours later); one run again when
    finished adds its few seconds instead of replacing the time that made the trials."""
    from types import SimpleNamespace as N

    from suite.analyze.report import attempts_wall_s

    def run(run_id, start, end, status="FINISHED", parent=None):
        tags = {"mlflow.parentRunId": parent} if parent else {}
        return N(info=N(run_id=run_id, start_time=start * 1000, end_time=end * 1000, status=status), data=N(tags=tags))

    killed = run("a", 0, 50_000, "KILLED")  # killed at about 600 s; marked KILLED when "b" started, much later
    resumed = run("b", 40_000, 40_300)
    again = run("c", 90_000, 90_004)  # run again once finished: nothing left to train
    children = [run("t1", 10, 300, parent="a"), run("t2", 300, 600, parent="a"), run("t3", 40_010, 40_290, parent="b")]
    assert attempts_wall_s(resumed, [killed, resumed], children) == 600 + 300
    assert attempts_wall_s(again, [killed, resumed, again], children) == 600 + 300 + 4
    assert attempts_wall_s(run("d", 0, 0), [], []) is None  # still running: no end yet


def test_the_scorecard_tables_each_margin_with_its_source_and_names_a_studys_own():
    """Defaults first, each with the metrics it covers and the verdicts it made negligible; a margin a study set for
    one expectation is named with that expectation, so its reason can be read beside the verdict it decided."""
    said = lambda says, metric, verdict, margin: {"says": says, "metric": metric, "verdict": verdict, "margin_from": margin}
    accuracy = "±0.02 (default: two points of accuracy-like score)"
    report = {"study": "s", "verdicts": [said("A", "test_accuracy", "negligible", accuracy),
                                         said("B", "final_val_accuracy", "supported", accuracy),
                                         said("C", "test_accuracy", "negligible", "±0.05 (the test set has 400 images)")]}
    lines = scorecard.margins([(None, report, None)])
    rows = [line for line in lines if line.startswith("| ±")]
    assert rows == [f"| {accuracy} | final_val_accuracy, test_accuracy | 2 | 1 |",
                    "| ±0.05 (the test set has 400 images)<br>s: C | test_accuracy | 1 | 1 |"]


@pytest.mark.slow
def test_scorecard_since_lists_the_verdicts_that_changed_against_the_committed_reports(tmp_path):
    """``suite scorecard --since REV`` reads each study's speaking report as committed at REV and lists every
    expectation whose verdict changed, with what the new report recorded (here: the replicate its test counts)."""
    import subprocess

    from suite.analyze import changes

    def verdict(says, outcome, units="seeds"):
        return {"says": says, "verdict": outcome, "units": units, "n": 6, "p": 0.01, "p_holm": 0.02, "metric": "m"}

    report = tmp_path / "results" / "s" / "quick" / "verdicts.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"study": "s", "verdicts": [verdict("A", "supported"), verdict("B", "refuted"),
                                                             verdict("D", "inconclusive")]}))
    git = lambda *a: subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=tmp_path, check=True,
                                    capture_output=True)
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "before")
    report.write_text(json.dumps({"study": "s", "verdicts": [verdict("A", "inconclusive", units="searches"),
                                                             verdict("B", "refuted"), verdict("C", "supported"),
                                                             {**verdict("D", "supported"), "observed": "means 0.6 vs 0.4; "
                                                              "decided although x=1 was still improving at its cap"}]}))
    lines = changes.since(tmp_path / "results", "HEAD")
    assert lines[0] == "Verdicts changed since HEAD: 3, in 1 of the 1 studies compared."
    rows = [line for line in lines if line.startswith("| s |")]
    assert rows[0].startswith("| s | A | supported (p 0.02, 6 seeds) | inconclusive") and "counts searches, not seeds" in rows[0]
    assert rows[1] == "| s | C | absent | supported (p 0.02, 6 seeds) | new in the study file |"
    assert rows[2].endswith("| decided although an arm was still improving at its cap: the arm ahead |")
    with pytest.raises(SuiteError, match="--since: git ls-tree failed"):
        changes.since(tmp_path / "results", "no-such-revision")


def test_a_confirming_run_made_by_other_code_than_its_report_is_not_compared(tmp_path):
    """After a study is run again (new trial code) and not yet confirmed, the confirming run beside it confirms the
    old trials, not these: the scorecard says so instead of counting its flips against the new verdicts."""
    resolved, trials, searches = tables(tmp_path)
    (v,) = verdict.evaluate(resolved.study.expect, design.with_searches(resolved, trials), resolved.study.grid, 0.05)
    record = {**{k: (None if isinstance(x, float) and np.isnan(x) else x) for k, x in vars(v).items()}, "agreement": None}
    results = tmp_path / "results"
    write_report(results, resolved, trials, searches, [{**record, "verdict": "supported"}])
    quick = results / resolved.study.name / "quick"
    confirm = quick.with_name("quick-confirm")
    confirm.mkdir()
    (confirm / "verdicts.json").write_text(json.dumps({**json.loads((quick / "verdicts.json").read_text()),
                                                       "verdicts": [{**record, "verdict": "inconclusive"}]}))
    for where, code in ((quick, "aaa"), (confirm, "aaa")):
        trials.assign(code_version=code).to_csv(where / "trials.csv", index=False)
    assert "1 flipped to inconclusive" in scorecard.build(results).read_text()  # one experiment, twice
    trials.assign(code_version="bbb").to_csv(quick / "trials.csv", index=False)  # the study was run again since
    text = scorecard.build(results).read_text()
    assert "flipped" not in text.split("## Studies")[0].split("Compute")[0]
    assert "Not compared on fresh seeds: 1 studies whose confirming run's trials were made by other code" in text
    assert "its confirming run's trials were made by other code (aaa) than its own (bbb)" in text


def test_a_users_own_study_run_from_the_repository_stays_out_of_the_projects_scorecard(tmp_path, monkeypatch):
    """Issue 60: four of a user's own tables, run from the repository, made `suite scorecard` count 41 studies.
    The command counts the studies whose files are in studies/; a user's results stay beside them, uncounted."""
    import shutil
    from pathlib import Path

    from suite.cli import main

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "studies").mkdir()
    for name in ("dropout", "learning_rate"):
        shutil.copy(root / "studies" / f"{name}.yaml", tmp_path / "studies")
        shutil.copytree(root / "results" / name, tmp_path / "results" / name)
    shutil.copytree(root / "results" / "dropout", tmp_path / "results" / "cars")  # a user's study, its file elsewhere
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    assert main(["scorecard"]) == 0
    text = (tmp_path / "results" / "README.md").read_text()
    assert "in 2 studies" in text and "cars/quick/report.md" not in text
