"""Verdict statistics on constructed seed-level data where the right answer is known."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.analyze.verdict import evaluate
from suite.kinds import expectation
from suite.statistics import holm

GRID = {"x": [0.0, 0.25, 0.5, 0.75, 1.0]}


def trials(values_per_cell: dict, metric="test_accuracy", axis="x") -> pd.DataFrame:
    rows = []
    for cell, (x, values) in enumerate(values_per_cell.items()):
        for seed, v in enumerate(values):
            rows.append({"cell": cell, "seed": seed, axis: x, "status": "FINISHED", metric: v})
    return pd.DataFrame(rows)


def one(expect: dict, data: pd.DataFrame, grid=GRID, alpha=0.05, caps=None):
    (v,) = evaluate([expectation(says="s", **expect)], data, grid, alpha, caps=caps)
    return v


def noisy(means, n=4, sd=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return {x: list(m + rng.normal(0, sd, n)) for x, m in zip(GRID["x"], means)}


def test_clear_increasing_trend_is_supported():
    v = one({"metric": "test_accuracy", "along": "x", "trend": "increasing"}, trials(noisy([0.1, 0.2, 0.3, 0.4, 0.5])))
    # the unit is the cell: 5 cells in perfect order give the exact p 2/5! whatever the number of seeds
    assert v.verdict == "supported" and v.effect == 1.0 and v.n == 5 and v.units == "cells"
    assert v.p == pytest.approx(2 / 120) and math.isnan(v.low) and "perfect ordering" in v.observed


def test_a_trend_over_too_few_cells_says_no_data_could_decide_it():
    three = {x: v for x, v in list(noisy([0.1, 0.2, 0.3, 0.4, 0.5]).items())[:3]}
    v = one({"metric": "test_accuracy", "along": "x", "trend": "increasing"}, trials(three))
    assert v.verdict == "inconclusive" and v.effect == 1.0
    assert v.blocked == "too few replicates: a trend over 3 cells cannot give p below 0.33 whatever the data (add cells)"
    five = one({"metric": "test_accuracy", "along": "x", "trend": "increasing"}, trials(noisy([0.1, 0.2, 0.3, 0.4, 0.5])))
    assert five.blocked == ""


def test_an_exact_test_over_too_few_seeds_says_no_data_could_decide_it():
    data = trials({0.0: [1, 1], 0.25: [0, 0]}, metric="diverged")
    v = one({"metric": "diverged", "compare": {"x": 0.0}, "against": {"x": 0.25}, "direction": "greater"}, data)
    assert v.verdict == "inconclusive"
    assert v.blocked == "too few replicates: 2 vs 2 seeds cannot give p below 0.33 whatever the data (add seeds)"


def test_a_bound_whose_few_seeds_share_one_value_says_the_sign_test_cannot_decide_it():
    same = one({"metric": "train_accuracy", "above": 0.9}, trials({0.0: [1.0, 1.0, 1.0]}, metric="train_accuracy"))
    assert same.verdict == "inconclusive" and same.p == 0.25
    assert same.blocked == ("too few replicates: with every one of its 3 seeds at the same value, the exact sign "
                            "test cannot give p below 0.25 (add seeds)")
    spread = one({"metric": "train_accuracy", "above": 0.9}, trials({0.0: [0.99, 1.0, 0.995]}, metric="train_accuracy"))
    assert spread.blocked == ""


def test_flat_trend_is_inconclusive():
    v = one({"metric": "test_accuracy", "along": "x", "trend": "increasing"}, trials(noisy([0.3] * 5, sd=0.05)))
    assert v.verdict == "inconclusive"


def test_reversed_trend_is_refuted():
    v = one({"metric": "test_accuracy", "along": "x", "trend": "increasing"}, trials(noisy([0.5, 0.4, 0.3, 0.2, 0.1])))
    assert v.verdict == "refuted" and v.effect < -0.9
    assert "decreasing" in v.observed


def test_censored_values_enter_a_trend_through_each_cells_restricted_mean():
    # epochs to target grows with x; x = 0.75 reaches it in half its seeds and x = 1.0 never within 20 epochs
    data = trials({0.0: [2, 3, 2, 3], 0.25: [5, 6, 5, 6], 0.5: [9, 10, 9, 11], 0.75: [12, 14, None, None], 1.0: [None] * 4},
                  metric="epochs_to_target").assign(epochs_run=20.0)
    v = one({"metric": "epochs_to_target", "along": "x", "trend": "increasing"}, data)
    assert v.verdict == "supported" and v.effect == 1.0 and v.n == 5
    assert "restricted mean time to target" in v.observed


def test_compare_greater_with_welch():
    data = trials({0.0: [0.5, 0.51, 0.49, 0.5], 0.5: [0.6, 0.61, 0.59, 0.6]})
    v = one({"metric": "test_accuracy", "compare": {"x": 0.5}, "against": {"x": 0.0}, "direction": "greater"}, data)
    assert v.verdict == "supported" and v.test == "Welch t-test" and v.effect == pytest.approx(0.1)
    v = one({"metric": "test_accuracy", "compare": {"x": 0.5}, "against": {"x": 0.0}, "direction": "less"}, data)
    assert v.verdict == "refuted"


def test_compare_with_censored_values_is_survival_analysis():
    data = trials({0.0: [3, 4, 3, 4, 3, 4], 0.5: [None, None, 9, None, None, 10]}, metric="epochs_to_target")
    data = data.assign(epochs_run=12.0)
    v = one({"metric": "epochs_to_target", "compare": {"x": 0.5}, "against": {"x": 0.0}, "direction": "greater"}, data)
    assert v.test.startswith("log-rank test (exact over all 924 relabellings)")
    # RMST up to the shared 12 epochs: (4 x 12 + 9 + 10) / 6 against 3.5
    assert v.effect == pytest.approx((4 * 12 + 9 + 10) / 6 - 3.5) and v.low < v.effect < v.high
    assert v.verdict == "supported" and v.finding == "reachability"
    assert "reached 2 of 6 vs 6 of 6 seeds" in v.observed and "complete separation" in v.observed


def test_equivalence_within_a_margin():
    data = trials({0.0: [0.80, 0.81, 0.80, 0.81, 0.80], 0.5: [0.805, 0.81, 0.80, 0.805, 0.81]})
    e = {"metric": "test_accuracy", "compare": {"x": 0.5}, "against": {"x": 0.0}, "within": 0.02}
    assert one(e, data).verdict == "supported"
    far = trials({0.0: [0.80, 0.81, 0.80, 0.81, 0.80], 0.5: [0.90, 0.91, 0.90, 0.91, 0.90]})
    assert one(e, far).verdict == "refuted"


def test_non_inferiority_is_a_direction_judged_against_its_margin():
    """"Not lower, within 2 points" (``not_below_by``) holds for an arm far ahead, which a claim of equality
    (``within``) refutes; an arm behind by less than the margin supports it, one behind by more refutes it."""
    base = [0.80, 0.81, 0.80, 0.81, 0.80]
    claim = {"metric": "test_accuracy", "compare": {"x": 0.5}, "against": {"x": 0.0}, "not_below_by": 0.02}
    ahead = trials({0.0: base, 0.5: [0.87, 0.88, 0.87, 0.88, 0.87]})
    assert one({**claim, "not_below_by": None, "within": 0.02}, ahead).verdict == "refuted"
    v = one(claim, ahead)
    assert v.verdict == "supported" and v.boundary == -0.02 and "non-inferiority margin -0.02" in v.test
    assert v.margin_from == "-0.02 (the claim's own: not below the other arm by more than it)" and np.isnan(v.p_equiv)
    behind = one(claim, trials({0.0: base, 0.5: [x - 0.005 for x in base]}))
    assert behind.verdict == "supported" and behind.effect == pytest.approx(-0.005)
    far = one(claim, trials({0.0: base, 0.5: [x - 0.06 for x in base]}))
    assert far.verdict == "refuted"
    above = {**claim, "not_below_by": None, "not_above_by": 0.02}  # e.g. a loss: not higher by more than 0.02
    assert one(above, ahead).verdict == "refuted" and one(above, trials({0.0: base, 0.5: base[::-1]})).verdict == "supported"
    exact = one(claim, trials({0.0: [0.8] * 4, 0.5: [0.79] * 4}))  # no spread: the exact permutation test, one-sided
    assert exact.verdict == "supported" and exact.p == pytest.approx(1 / 70)
    with pytest.raises(ValueError, match="exactly one of direction, within, not_below_by or not_above_by"):
        expectation(says="s", **{**claim, "within": 0.02})
    with pytest.raises(ValueError, match="not a yes/no or censored one"):
        expectation(says="s", **{**claim, "metric": "diverged"})


def test_best_at():
    data = trials(noisy([0.3, 0.5, 0.7, 0.5, 0.3]))
    assert one({"metric": "test_accuracy", "best_at": {"x": 0.5}}, data).verdict == "supported"
    wrong = one({"metric": "test_accuracy", "best_at": {"x": 0.75}}, data)
    assert wrong.verdict == "refuted" and "best: x=0.5" in wrong.observed
    close = trials(noisy([0.5, 0.5, 0.5, 0.5, 0.5], sd=0.05))
    assert one({"metric": "test_accuracy", "best_at": {"x": 0.5}}, close).verdict == "inconclusive"


def test_best_at_uses_the_declared_direction():
    data = trials(noisy([0.3, 0.1, 0.2, 0.3, 0.4]), metric="generalization_gap")  # smaller gap is better
    assert one({"metric": "generalization_gap", "best_at": {"x": 0.25}}, data).verdict == "supported"


def test_bounds():
    data = trials({0.0: [2.30, 2.31, 2.29, 2.30, 2.31]}, metric="initial_loss")
    assert one({"metric": "initial_loss", "near": math.log(10), "within": 0.05}, data).verdict == "supported"
    assert one({"metric": "initial_loss", "below": 1.0}, data).verdict == "refuted"
    assert one({"metric": "initial_loss", "above": 1.0}, data).verdict == "supported"


def test_where_restricts_cells_and_missing_data_is_inconclusive():
    data = trials(noisy([0.1, 0.2, 0.3, 0.4, 0.5]))
    v = one({"metric": "test_accuracy", "along": "x", "trend": "increasing", "where": {"x": 0.0}}, data)
    assert v.verdict == "inconclusive" and v.observed == "no variation to correlate over 1 cells"
    v = one({"metric": "test_accuracy", "best_at": {"x": 0.5}}, data.iloc[:0])
    assert v.verdict == "inconclusive"


def test_holm():
    assert holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx([0.03, 0.06, 0.06, math.nan], nan_ok=True)
    assert holm([]) == []


def test_holm_turns_a_marginal_result_inconclusive():
    data = trials(noisy([0.1, 0.2, 0.3, 0.4, 0.5]))
    strong = {"metric": "test_accuracy", "along": "x", "trend": "increasing"}
    v1 = evaluate([expectation(says="a", **strong)], data, GRID, alpha=0.05)[0]
    many = evaluate([expectation(says=str(i), **strong) for i in range(3)], data, GRID, alpha=0.05)
    assert many[0].p_holm == pytest.approx(min(1, 3 * v1.p))


@pytest.mark.parametrize(
    "expect, message",
    [
        ({"metric": "test_accuracy"}, "needs exactly one of"),
        ({"metric": "test_accuracy", "along": "x"}, "a trend needs both"),
        ({"metric": "test_accuracy", "compare": {"x": 1}}, "needs both compare and against"),
        ({"metric": "test_accuracy", "compare": {"x": 1}, "against": {"x": 0}}, "exactly one of direction, within, not_below_by or not_above_by"),
        ({"metric": "test_accuracy", "near": 1.0}, "near needs within"),
        ({"metric": "epochs_to_target", "below": 3}, "not a censored one"),
    ],
)
def test_malformed_expectations(expect, message):
    with pytest.raises(ValueError, match=message):
        expectation(says="s", **expect)


def folds(values_fn, replicates=10, k=4):
    rows = []
    for r in range(replicates):
        for f in range(k):
            rows.append({"cell": r * k + f, "seed": 0, "data.seed": r, "data.fold": f, "status": "FINISHED",
                         "best_epoch": values_fn(r, f)})
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_averaging_over_folds_is_steadier():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 5, (10, 4))
    data = folds(lambda r, f: 20 + noise[r, f])  # fold-to-fold noise dominates: averaging 4 folds halves the SD
    e = {"metric": "best_epoch", "steadier": "data.fold", "replicate": "data.seed"}
    v = one(e, data, grid={"data.seed": list(range(10)), "data.fold": [0, 1, 2, 3]})
    assert v.verdict == "supported" and v.effect == pytest.approx(math.log(0.5), abs=0.35)
    # the p is the effect over the bootstrap's standard error on t with 9 df: not the 1/2000 of the resamples' share
    assert v.test.endswith("t with 9 df") and 0 < v.p < 0.05 and v.p != pytest.approx(1 / 2000)
    same = folds(lambda r, f: 20 + 3 * r)  # no fold noise: averaging changes nothing, and that is a finding
    v = one(e, same, grid={"data.seed": list(range(10)), "data.fold": [0, 1, 2, 3]})
    assert v.verdict == "negligible" and v.effect == 0.0 and v.margin == pytest.approx(0.22)


def test_binary_outcomes_are_compared_as_counts_with_fishers_exact_test():
    from suite.analyze.verdict import evaluate
    from suite.kinds import expectation

    trials = pd.DataFrame(
        {"status": "FINISHED", "cell": [0] * 5 + [1] * 5, "seed": list(range(5)) * 2,
         "train.clip_norm": [1.0] * 5 + [None] * 5, "diverged": [0.0] * 5 + [1.0] * 5}
    )
    e = expectation(says="Clipping keeps training finite.", metric="diverged", compare={"train.clip_norm": 1.0},
               against={"train.clip_norm": None}, direction="less")
    (v,) = evaluate([e], trials, {"train.clip_norm": [None, 1.0]}, alpha=0.05)
    assert v.test.startswith("Fisher's exact test") and v.effect == -1.0
    assert v.low == -1.0 and -0.5 < v.high < -0.3  # Newcombe's interval: never the zero-width [-1, -1] of a bootstrap
    assert v.p == pytest.approx(2 / 252)  # all 5 vs none of 5: the two extreme tables of C(10, 5)
    assert v.verdict == "supported"


def test_exact_tests_have_a_floor_that_validate_warns_about():
    
    e = expectation(says="x", metric="epochs_to_target", compare={"a": 1}, against={"a": 0}, direction="less")
    assert e.smallest_p(3, 3) == pytest.approx(0.1)  # 2 / C(6, 3): never below alpha = 0.05
    assert e.smallest_p(5, 5) == pytest.approx(2 / 252)
    welch = expectation(says="x", metric="test_accuracy", compare={"a": 1}, against={"a": 0}, direction="less")
    assert welch.smallest_p(3, 3) == 0.0


def test_an_inconclusive_verdict_states_the_effects_its_interval_rules_out():
    from suite.analyze.decision import ruled_out

    assert ruled_out("inconclusive", "mean difference", -0.011, 0.019, 1) == "rules out a mean difference above +0.019 (95% CI)"
    assert ruled_out("inconclusive", "mean difference", -0.011, 0.019, -1) == "rules out a mean difference below -0.011 (95% CI)"
    assert ruled_out("inconclusive", "mean difference", -0.011, 0.019, 0) == "mean difference between -0.011 and +0.019 (95% CI)"
    assert ruled_out("supported", "mean difference", 0.01, 0.02, 1) == ""  # a decided verdict says enough
    assert ruled_out("inconclusive", "-", None, None, 0) == ""  # untestable: nothing is ruled out
    # a rank effect whose interval runs to -1/2 excludes no effect in the claimed direction
    assert ruled_out("inconclusive", "P(A > B) - 1/2", -0.5, -0.02, -1).startswith("rules out no size of effect")
    assert ruled_out("inconclusive", "P(A > B) - 1/2", -0.3, 0.1, -1) == "rules out a P(A > B) - 1/2 below -0.3 (95% CI)"


def test_what_fresh_seeds_do_to_a_verdict():
    from suite.analyze.confirmation import outcome

    assert outcome("supported", "supported") == outcome("refuted", "refuted") == "confirmed"
    assert outcome("supported", "inconclusive") == outcome("refuted", "inconclusive") == "flipped to inconclusive"
    assert outcome("supported", "refuted") == outcome("refuted", "supported") == "reversed"
    assert outcome("inconclusive", "inconclusive") == "inconclusive twice"
    assert outcome("inconclusive", "supported") == "decided only on fresh seeds"


def test_a_verdict_agrees_with_the_literature_when_it_decides_the_same_way():
    from suite.kinds import agreement

    holds, fails = {"cite": "x", "found": "holds"}, {"cite": "x", "found": "fails"}
    assert agreement("supported", holds) == agreement("refuted", fails) == "agrees"
    assert agreement("refuted", holds) == agreement("supported", fails) == "disagrees"
    assert agreement("inconclusive", holds) == "cannot tell: inconclusive"
    assert agreement("supported", None) is None
    assert agreement("refuted", holds, "x=0.5 still improving") == "cannot tell: x=0.5 still improving"


def test_a_comparison_of_spreads_uses_the_f_test_and_its_exact_interval():
    from scipy import stats

    rng = np.random.default_rng(3)
    steady, wild = list(0.8 + rng.normal(0, 0.002, 12)), list(0.8 + rng.normal(0, 0.02, 12))
    data = trials({0.0: steady, 1.0: wild})
    spread = {"metric": "test_accuracy", "compare": {"x": 0.0}, "against": {"x": 1.0}, "statistic": "sd"}
    v = one({**spread, "direction": "less"}, data)
    ratio = np.var(steady, ddof=1) / np.var(wild, ddof=1)
    assert v.verdict == "supported" and v.effect == pytest.approx(0.5 * math.log(ratio))
    assert v.p == pytest.approx(2 * stats.f.cdf(ratio, 11, 11)) and v.low < v.effect < v.high < 0
    assert one({**spread, "direction": "greater"}, data).verdict == "refuted"
    same = trials({0.0: list(0.8 + rng.normal(0, 0.01, 4)), 1.0: list(0.8 + rng.normal(0, 0.01, 4))})
    assert one({**spread, "direction": "less"}, same).verdict == "inconclusive"
    with pytest.raises(ValueError, match="statistic: sd"):
        expectation(says="s", **spread, within=0.01)


def test_the_literature_is_judged_only_inside_its_regime():
    rows = []
    for cell, (x, best, accuracy) in enumerate([(0.0, 5.0, 0.9), (0.5, 20.0, 0.6)]):  # x = 0.5 still improving at 20 of 20
        for seed in range(4):
            rows.append({"cell": cell, "seed": seed, "x": x, "status": "FINISHED", "test_accuracy": accuracy + 0.01 * seed,
                         "best_epoch": best, "epochs_run": 20.0, "train_accuracy": 1.0 if x == 0 else 0.7,
                         "act_std_ratio_init": 1.0 + x + 0.01 * seed})
    data = pd.DataFrame(rows)
    lit = {"cite": "someone", "found": "holds"}
    trained = one({"metric": "test_accuracy", "compare": {"x": 0.0}, "against": {"x": 0.5}, "direction": "greater",
                   "literature": lit}, data, grid={"x": [0.0, 0.5]})
    assert trained.outside == "x=0.5 still improving (median best epoch 20 of 20)"
    assert trained.verdict == "inconclusive" and trained.p_holm < 0.05  # decided by p, but budget-limited:
    assert trained.blocked == "budget-limited (x=0.5 still improving (median best epoch 20 of 20))"
    fits = one({"metric": "test_accuracy", "compare": {"x": 0.0}, "against": {"x": 0.5}, "direction": "greater",
                "literature": {**lit, "regime": "fits training set"}}, data, grid={"x": [0.0, 0.5]})
    assert fits.outside == "x=0.5 fits 0.70 of its training set"
    anywhere = one({"metric": "test_accuracy", "compare": {"x": 0.0}, "against": {"x": 0.5}, "direction": "greater",
                    "literature": {**lit, "regime": "any"}}, data, grid={"x": [0.0, 0.5]})
    assert anywhere.outside == ""
    at_init = one({"metric": "act_std_ratio_init", "compare": {"x": 0.5}, "against": {"x": 0.0}, "direction": "greater",
                   "literature": lit}, data, grid={"x": [0.0, 0.5]})
    assert at_init.outside == ""  # measured before training: the training regime does not apply


def test_a_verdict_on_accuracy_at_the_end_of_training_is_not_decided_while_an_arm_still_improves_at_its_cap():
    def arms(best_b: float, run_b: float):
        rows = []
        for cell, (x, best, run, accuracy) in enumerate([(0.0, 10.0, 40.0, 0.9), (0.5, best_b, run_b, 0.6)]):
            for seed in range(5):
                rows.append({"cell": cell, "seed": seed, "x": x, "status": "FINISHED", "test_accuracy": accuracy + 0.01 * seed,
                             "epoch_time_s": 1.0 + x + 0.01 * seed, "best_epoch": best, "epochs_run": run})
        return pd.DataFrame(rows)

    accuracy = {"metric": "test_accuracy", "compare": {"x": 0.0}, "against": {"x": 0.5}, "direction": "greater"}
    grid, caps = {"x": [0.0, 0.5]}, {0: 40, 1: 40}
    limited = one(accuracy, arms(38.0, 40.0), grid, caps=caps)
    assert limited.verdict == "inconclusive" and limited.p_holm < 0.05
    assert limited.blocked == "budget-limited (x=0.5 still improving (median best epoch 38 of 40))"
    assert one(accuracy, arms(30.0, 40.0), grid, caps=caps).verdict == "supported"  # best epoch 30 of 40: converged
    # early stopping ended it at 20 of 40 (its best epoch 19 restored): it had stopped improving
    assert one(accuracy, arms(19.0, 20.0), grid, caps=caps).verdict == "supported"
    seconds = {"metric": "epoch_time_s", "compare": {"x": 0.5}, "against": {"x": 0.0}, "direction": "greater"}
    assert one(seconds, arms(38.0, 40.0), grid, caps=caps).verdict == "supported"  # a cost per epoch, not an end state


def test_a_decaying_schedule_annealing_to_its_last_epoch_is_not_a_budget_cut_short():
    from suite.analyze.regime import caps
    from suite.study import load_study

    resolved = load_study(Path(__file__).parent.parent / "studies" / "lr_schedule.yaml", "quick")
    found = caps(resolved)
    schedule = {c.index: c.settings.train.schedule for c in resolved.cells}
    assert {i for i, cap in found.items() if cap == math.inf} == {i for i, s in schedule.items() if s != "constant"}
    assert all(found[i] == c.settings.train.epochs for i, c in enumerate(resolved.cells) if schedule[i] == "constant")


def test_a_comparison_whose_arm_ahead_is_the_one_still_improving_is_decided_and_says_so():
    """More training of the arm ahead can only widen its lead: its sign stands. The arm behind still improving
    withholds the verdict (above), and so it does a negligible outcome, which more training could undo."""
    def arms(best_a: float, accuracy_b: float):
        rows = []
        for cell, (x, best, accuracy) in enumerate([(0.0, best_a, 0.9), (0.5, 10.0, accuracy_b)]):
            for seed in range(5):
                rows.append({"cell": cell, "seed": seed, "x": x, "status": "FINISHED", "test_accuracy": accuracy + 0.001 * seed,
                             "best_epoch": best, "epochs_run": 40.0})
        return pd.DataFrame(rows)

    grid, caps = {"x": [0.0, 0.5]}, {0: 40, 1: 40}
    claim = {"metric": "test_accuracy", "compare": {"x": 0.0}, "against": {"x": 0.5}, "direction": "greater"}
    v = one(claim, arms(39.0, 0.6), grid, caps=caps)
    assert v.verdict == "supported" and v.blocked == "" and v.ahead == "x=0.0"
    assert "decided although x=0.0 was still improving at its cap: it is the arm ahead" in v.observed
    assert one({**claim, "direction": "less"}, arms(39.0, 0.6), grid, caps=caps).verdict == "refuted"
    close = one(claim, arms(39.0, 0.8995), grid, caps=caps)  # ahead by 0.0005: negligible, were it not withheld
    assert close.verdict == "inconclusive" and close.blocked.startswith("budget-limited") and close.p_equiv_holm < 0.05
    spread = one({**claim, "statistic": "sd", "direction": "less"}, arms(39.0, 0.6), grid, caps=caps)
    assert spread.verdict == "inconclusive" and spread.ahead == ""  # the side rule is about means
    # non-inferiority: the side rule holds where the lead lies on the estimate's side of the margin, not where the
    # arm behind is inside it (more training of the arm ahead could carry it past the margin)
    noninferior = {**claim, "direction": None, "not_below_by": 0.02}
    lead = one(noninferior, arms(39.0, 0.6), grid, caps=caps)
    assert lead.verdict == "supported" and lead.ahead == "x=0.0"
    behind = one({**noninferior, "compare": {"x": 0.5}, "against": {"x": 0.0}}, arms(39.0, 0.895), grid, caps=caps)
    assert behind.verdict == "inconclusive" and behind.ahead == "" and behind.blocked.startswith("budget-limited")


def test_an_effect_inside_its_margin_is_negligible_and_one_spanning_it_inconclusive():
    rng = np.random.default_rng(5)
    tight = trials({0.0: list(0.80 + rng.normal(0, 0.002, 8)), 1.0: list(0.801 + rng.normal(0, 0.002, 8))})
    claim = {"metric": "test_accuracy", "compare": {"x": 1.0}, "against": {"x": 0.0}, "direction": "greater"}
    v = one(claim, tight, grid={"x": [0.0, 1.0]})
    assert v.verdict == "negligible" and v.margin == 0.02 and "two points" in v.margin_from
    assert -0.02 < v.equiv_low < v.equiv_high < 0.02 and v.p_equiv_holm < 0.05
    wide = trials({0.0: list(0.80 + rng.normal(0, 0.05, 4)), 1.0: list(0.80 + rng.normal(0, 0.05, 4))})
    assert one(claim, wide, grid={"x": [0.0, 1.0]}).verdict == "inconclusive"
    declared = one({**claim, "margin": 0.0005, "margin_reason": "a tenth of a point matters here"}, tight,
                   grid={"x": [0.0, 1.0]})
    assert declared.verdict != "negligible" and declared.margin_from == "±0.0005 (a tenth of a point matters here)"
    with pytest.raises(ValueError, match="margin_reason"):
        expectation(says="s", **claim, margin=0.01)


def test_a_decided_effect_inside_its_margin_says_it_is_smaller_than_the_smallest_effect_that_matters():
    from suite.analyze import judgement

    rng = np.random.default_rng(5)
    claim = {"metric": "test_accuracy", "compare": {"x": 1.0}, "against": {"x": 0.0}, "direction": "greater"}
    slight = trials({0.0: list(0.800 + rng.normal(0, 0.001, 8)), 1.0: list(0.805 + rng.normal(0, 0.001, 8))})
    v = one(claim, slight, grid={"x": [0.0, 1.0]})
    assert v.verdict == "supported" and v.p_equiv_holm < 0.05
    row = judgement.table([v], 0.05)[4]
    assert "**supported**, but by less than the smallest effect that matters: its 90% interval" in row
    clear = trials({0.0: list(0.80 + rng.normal(0, 0.001, 8)), 1.0: list(0.85 + rng.normal(0, 0.001, 8))})
    assert judgement.slight(one(claim, clear, grid={"x": [0.0, 1.0]}), 0.05) == ""  # beyond its margin: a plain verdict


def test_the_two_questions_of_each_expectation_share_one_step_down_family():
    from suite.analyze.decision import step_down
    from suite.statistics import holm

    nan = math.nan
    assert step_down([0.01, 0.04], [nan, nan]) == (holm([0.01, 0.04]), [nan, nan])  # no margin: Holm exactly
    # expectation 1 decided, yet still holding its TOST hypothesis: the multiplier stays at 2 for the next step
    assert step_down([0.01, 0.03], [0.9, nan]) == ([0.02, 0.06], [0.9, nan])
    # both of expectation 0's hypotheses passed: then the multiplier drops, as in Holm
    primary, equivalence = step_down([0.001, 0.2], [0.002, 0.024])
    assert primary == [0.002, 0.2] and equivalence == pytest.approx([0.004, 0.024])


def test_seeds_that_share_a_search_are_counted_as_one_replicate_with_their_intraclass_correlation():
    """Three searches per arm, four seeds each, nearly copies of one another: the test counts 3 vs 3 searches."""
    rng = np.random.default_rng(11)
    rows = []
    for cell, (x, mean) in enumerate([(0.0, 0.80), (1.0, 0.83)]):
        for search in range(3):
            luck = rng.normal(0, 0.01)  # the luck of the search: shared by its seeds
            for k in range(4):
                rows.append({"cell": cell, "x": x, "seed": 4 * search + k, "search": 4 * search, "status": "FINISHED",
                             "test_accuracy": mean + luck + rng.normal(0, 0.001)})
    data = pd.DataFrame(rows)
    claim = {"metric": "test_accuracy", "compare": {"x": 1.0}, "against": {"x": 0.0}, "direction": "greater"}
    v = one(claim, data, grid={"x": [0.0, 1.0]})
    assert v.units == "searches" and v.n == 6
    assert "the test counts searches (6), not the 24 seeds" in v.observed and "intraclass correlation of seeds" in v.observed
    per_seed = one(claim, data.drop(columns="search"), grid={"x": [0.0, 1.0]})
    assert per_seed.units == "seeds" and per_seed.n == 24 and per_seed.p < v.p  # seeds as replicates: overconfident
    one_search = one(claim, data.assign(search=-1), grid={"x": [0.0, 1.0]})  # tune.per: cell
    assert one_search.verdict == "inconclusive" and "share 1 vs 1 searches" in one_search.blocked


def test_a_yes_no_outcome_counted_on_searches_compares_their_shares_and_validate_warns_of_one_search_per_arm():
    rows = []
    for cell, (x, shares) in enumerate([(0.0, (0.25, 0.5, 0.25)), (1.0, (1.0, 0.75, 1.0))]):
        for search, share in enumerate(shares):
            for k in range(4):
                rows.append({"cell": cell, "x": x, "seed": 4 * search + k, "search": 4 * search, "status": "FINISHED",
                             "reached_target": float(k < 4 * share)})
    claim = {"metric": "reached_target", "compare": {"x": 1.0}, "against": {"x": 0.0}, "direction": "greater"}
    v = one(claim, pd.DataFrame(rows), grid={"x": [0.0, 1.0]})
    assert v.test == "Welch t-test" and v.units == "searches" and v.blocked == "" and v.effect == pytest.approx(7 / 12)

    from suite.analyze.verdict import power_warnings
    from suite.study import load_study
    resolved = load_study(Path(__file__).parent.parent / "studies" / "dropout.yaml", "quick")
    per_cell = resolved.study.model_copy(update={"tune": resolved.study.tune.model_copy(update={"per": "cell"})})
    cells = [dataclasses.replace(c, tune=c.tune.model_copy(update={"per": "cell"})) for c in resolved.cells]
    assert not any("share" in w for w in power_warnings(resolved.study, resolved.cells))  # blocks of seeds: 3 searches
    assert any("its seeds share 1 vs 1 searches" in w for w in power_warnings(per_cell, cells))


def test_validate_plans_no_exact_floor_for_a_time_to_target_whose_seeds_share_searches():
    """Where seeds share searches, a time to target is judged by Welch's test on the searches' restricted means,
    which has no floor: 3 vs 3 searches is no reason to warn (the log-rank floor, 0.1, is for seeds)."""
    from suite.analyze.verdict import power_warnings
    from suite.study import load_study
    resolved = load_study(Path(__file__).parent.parent / "studies" / "activations.yaml", "quick")
    assert resolved.study.expect[0].metric == "epochs_to_target" and resolved.study.tune.per == "block"
    assert power_warnings(resolved.study, resolved.cells) == []
    per_seed = [dataclasses.replace(c, tune=c.tune.model_copy(update={"per": "seed"})) for c in resolved.cells]
    few = resolved.study.model_copy(update={"seeds": [0, 1, 2]})  # 3 vs 3 seeds, each its own search: log-rank
    assert any(w.startswith("expect[0] (epochs_to_target)") and "cannot give p below 0.1" in w
               for w in power_warnings(few, per_seed))


def test_a_search_whose_seeds_stopped_early_unreached_counts_them_as_not_reached_not_as_reaching_it_then():
    """activations at quick: ReLU reaches the target near epoch 13 in every seed; sigmoid never does, and early
    stopping ends its seeds between epochs 12 and 20. Per search, sigmoid's restricted mean is the whole shared
    budget (its Kaplan-Meier curve never falls), not the epochs its seeds happened to run."""
    rng = np.random.default_rng(3)
    rows = []
    for cell, (x, reached) in enumerate([(0.0, False), (1.0, True)]):
        for search in range(3):
            for k in range(4):
                run = 20 if (search, k) == (0, 0) else int(rng.integers(12, 20))  # the shared budget: 20
                rows.append({"cell": cell, "x": x, "seed": 4 * search + k, "search": 4 * search, "status": "FINISHED",
                             "epochs_run": 30 if reached else run, "epochs_to_target": run if reached else math.nan})
    claim = {"metric": "epochs_to_target", "compare": {"x": 1.0}, "against": {"x": 0.0}, "direction": "less"}
    v = one(claim, pd.DataFrame(rows), grid={"x": [0.0, 1.0]})
    assert v.units == "searches" and v.finding == "reachability"
    assert "within 20 epochs" in v.observed and " vs 20 epochs over 3 vs 3 searches" in v.observed
    assert v.effect < -2 and v.high < 0 and v.verdict == "supported"


def test_a_yes_no_outcome_is_negligible_when_newcombes_interval_lies_inside_ten_points():
    """Yes/no outcomes counted per seed (diverged, reached the target) have a margin too: ten points of the rate.
    The TOST is interval inclusion on Newcombe's (1 - 2 alpha) interval, its p the smallest alpha that includes it."""
    from suite.statistics import newcombe, newcombe_tost

    few = newcombe_tost(0, 12, 0, 12, 0.10, 0.05)  # neither arm diverges, but 12 seeds span more than ten points
    assert few.p > 0.05 and few.low < -0.10 < 0.10 < few.high
    many = newcombe_tost(1, 400, 2, 400, 0.10, 0.05)
    assert many.p < 1e-6 and -0.10 < many.low < many.high < 0.10
    beyond = newcombe_tost(10, 20, 2, 20, 0.10, 0.05)
    assert beyond.p == 1.0
    for k_a, k_b, n in ((0, 1, 40), (2, 3, 60), (5, 5, 80)):  # p <= alpha exactly when the interval lies inside
        e = newcombe_tost(k_a, n, k_b, n, 0.10, 0.05)
        lo, hi = newcombe(k_a, n, k_b, n, 0.90)
        assert (e.p <= 0.05) == (-0.10 < lo and hi < 0.10)
        if e.p < 0.5:
            lo, hi = newcombe(k_a, n, k_b, n, 1 - 2 * e.p * 1.001)
            assert -0.10 < lo and hi < 0.10
    rows = trials({0.0: [0.0] * 300, 1.0: [0.0] * 299 + [1.0]}, metric="diverged")
    v = one({"metric": "diverged", "compare": {"x": 1.0}, "against": {"x": 0.0}, "direction": "less"}, rows,
            grid={"x": [0.0, 1.0]})
    assert v.verdict.startswith("negligible") and v.margin == 0.10 and "ten points of the rate" in v.margin_from


def test_a_claim_of_equality_records_its_own_margin_as_the_one_that_matters():
    """``within`` is the claim's margin: recorded as where its smallest effect that matters comes from (so the
    scorecard's margins table lists it), while its kind's test, not a second TOST, decides it."""
    rows = trials({0.0: [0.80, 0.81, 0.82, 0.80], 1.0: [0.81, 0.80, 0.82, 0.81]})
    v = one({"metric": "test_accuracy", "compare": {"x": 1.0}, "against": {"x": 0.0}, "within": 0.02}, rows,
            grid={"x": [0.0, 1.0]})
    assert v.margin_from == "±0.02 (the claim's own: equal within it)" and np.isnan(v.p_equiv)


def test_an_expectation_whose_cells_a_profile_leaves_out_says_so_instead_of_no_finished_trials():
    """Issue 60: at smoke, dropout's report said "no finished trials" for verdicts whose cells the smoke grid drops."""
    e = expectation(says="x", metric="test_accuracy", compare={"model.dropout": 0.5}, against={"model.dropout": 0.0},
                    direction="greater", where={"data.train_size": 4000})
    rows = pd.DataFrame({"cell": [0, 1], "model.dropout": [0.5, 0.0], "data.train_size": [500, 500], "seed": [0, 0],
                         "status": "FINISHED", "test_accuracy": [0.5, 0.4]})
    (v,) = evaluate([e], rows, {"model.dropout": [0.5, 0.0]}, 0.05)
    assert v.verdict == "inconclusive"
    assert v.observed == ("none of the 2 finished trials is in the cells it names (data.train_size=4000): this "
                          "profile's grid leaves them out")
    (none,) = evaluate([e], rows.iloc[:0], {"model.dropout": [0.5, 0.0]}, 0.05)
    assert none.observed == "no finished trials"
