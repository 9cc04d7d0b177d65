"""Seeds by power: the textbook sample sizes, and a plan read from a pilot's trials."""

import math

import numpy as np
from scipy import stats
import pandas as pd
import pytest

from suite.analyze import power
from suite.cli import main
from suite.kinds import Verdict, expectation, sizes


@pytest.mark.parametrize("d, n", [(0.5, 64), (0.8, 26), (1.0, 17)])  # Cohen (1988), two-sided t test, alpha 0.05
def test_seeds_for_80_percent_power_match_cohens_table(d, n):
    assert sizes.seeds_for(d, 1.0, 0.05) == n
    assert sizes.power(d, 1.0, n, 0.05) >= 0.8 > sizes.power(d, 1.0, n - 1, 0.05)


def test_the_detectable_effect_is_the_one_planned_for_and_shrinks_with_seeds():
    assert sizes.detectable(1.0, 17, 0.05) == pytest.approx(1.0, abs=0.03)
    assert sizes.detectable(2.0, 17, 0.05) == pytest.approx(2 * sizes.detectable(1.0, 17, 0.05))
    assert sizes.detectable(1.0, 64, 0.05) < sizes.detectable(1.0, 17, 0.05)
    assert sizes.seeds_for(0.0, 1.0, 0.05) is None and math.isnan(sizes.detectable(0.0, 5, 0.05))


def test_a_plan_from_a_pilot_uses_its_spread_and_the_holm_bound():
    rng = np.random.default_rng(0)
    rows = [{"status": "FINISHED", "model.width": w, "seed": s, "best_val_accuracy": 0.6 + 0.02 * (w == 64) + rng.normal(0, 0.01)}
            for w in (8, 64) for s in range(5)]
    expects = [
        expectation(says="Wider is better.", metric="best_val_accuracy", compare={"model.width": 64}, against={"model.width": 8}, direction="greater"),
        expectation(says="Reaches 0.5.", metric="best_val_accuracy", above=0.5),
    ]
    first, second = power.plan(expects, pd.DataFrame(rows), alpha=0.05)
    assert first.alpha == 0.025 and first.seeds_now == 5
    assert first.effect == pytest.approx(0.02, abs=0.015) and first.sd == pytest.approx(0.01, abs=0.006)
    # planned for the margin (two points of accuracy), not the pilot's estimate: to detect 0.02 and to show 0 inside it
    detect = sizes.seeds_for(0.02, first.sd, 0.025)
    show = sizes.fewest(lambda k: sizes.equivalence_power(0.0, first.sd, k, 0.02, 0.025), 0.8)
    assert first.seeds_needed == max(detect, show) and "smallest effect that matters, ±0.02" in first.note
    assert second.seeds_needed is None and "only two-group comparisons" in second.note
    assert "| Wider is better. | best_val_accuracy | 5 |" in power.table([first, second])


def test_a_difference_far_beyond_its_margin_is_planned_at_its_intervals_bound_nearer_zero():
    """A pilot whose whole interval lies beyond the margin (weight_decay's -0.54 train accuracy over 3 seeds, Holm p
    0.055) is planned at the bound nearer zero, a few seeds; not at the margin, over 1000. One whose interval
    reaches inside the margin is planned at the margin, to detect it and to show 0 inside it."""
    from suite.statistics import nearer_zero

    def pilot(high):
        return pd.DataFrame([{"status": "FINISHED", "model.l2": l2, "seed": s, "train_accuracy": v}
                             for l2, values in ((0.0, (0.84, 0.85, 0.86)), (0.1, high)) for s, v in enumerate(values)])

    says = dict(says="worse", metric="train_accuracy", compare={"model.l2": 0.1}, against={"model.l2": 0.0}, direction="less")
    far = pilot((0.20, 0.31, 0.42))
    (p,) = power.plan([expectation(**says)], far, alpha=0.05)
    a, b = (far[far["model.l2"] == x]["train_accuracy"].to_numpy() for x in (0.1, 0.0))
    bound = nearer_zero(a, b)
    assert -0.54 < bound < -0.02 and bound == pytest.approx(-0.54 + stats.t.ppf(0.975, 2.04) * math.sqrt(0.0121 / 3 + 0.0001 / 3), abs=0.01)
    assert p.seeds_needed == sizes.seeds_for(bound, p.sd, 0.05) and p.seeds_needed < 10
    assert f"planned at {bound:+.3g}, its 95% interval's bound nearer zero" in p.note
    (q,) = power.plan([expectation(**says)], pilot((0.0, 0.31, 0.62)), alpha=0.05)  # the same mean, spread wide
    assert "smallest effect that matters, ±0.02" in q.note and q.seeds_needed is None  # over 1000 at SD 0.22
    assert nearer_zero(np.array([1.0, 1.0]), np.array([0.0, 0.0])) == 0.0  # no spread: no interval to shrink by


def test_suite_power_reads_the_committed_quick_report(capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("SUITE_HOME", str(Path(__file__).resolve().parent.parent))
    assert main(["power", "dropout"]) == 0
    out = capsys.readouterr().out
    assert "the pilot is" in out and "| seeds for 80% power |" in out


def test_the_power_of_the_f_test_of_spreads_matches_a_simulation_and_plans_a_spread_comparison():
    from scipy import stats

    n = sizes.fewest(lambda k: sizes.spread_power(math.log(0.5), k, 0.05), 0.8)
    assert sizes.spread_power(math.log(0.5), n, 0.05) >= 0.8 > sizes.spread_power(math.log(0.5), n - 1, 0.05)
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.5, (4000, n)), rng.normal(0, 1.0, (4000, n))
    ratio = a.var(axis=1, ddof=1) / b.var(axis=1, ddof=1)
    p = 2 * np.minimum(stats.f.cdf(ratio, n - 1, n - 1), stats.f.sf(ratio, n - 1, n - 1))
    assert np.mean(p < 0.05) == pytest.approx(sizes.spread_power(math.log(0.5), n, 0.05), abs=0.03)
    rows = [{"status": "FINISHED", "k": k, "seed": s, "test_accuracy": 0.6 + rng.normal(0, 0.004 if k == 8 else 0.016)}
            for k in (1, 8) for s in range(4)]
    e = expectation(says="Steadier.", metric="test_accuracy", compare={"k": 8}, against={"k": 1}, direction="less", statistic="sd")
    (plan,) = power.plan([e], pd.DataFrame(rows), alpha=0.05)
    # planned for the margin (log SD ratio ±0.22), not for the pilot's ratio: to detect it and to show equal spreads
    m = 0.22
    detect = sizes.fewest(lambda k: sizes.spread_power(m, k, 0.05), 0.8)
    show = sizes.fewest(lambda k: sizes.spread_equivalence_power(m, k, 0.05), 0.8)
    assert plan.effect < 0 and plan.seeds_needed == max(detect, show) and "smallest effect that matters" in plan.note
    assert plan.seeds_needed > sizes.fewest(lambda k: sizes.spread_power(plan.effect, k, 0.05), 0.8)  # the pilot's: optimistic
    assert sizes.spread_power(-plan.detectable, 4, 0.05) == pytest.approx(0.8, abs=1e-6)
    # the TOST's power, against a simulation of equal spreads
    k = 60
    a, b = rng.normal(0, 1.0, (4000, k)), rng.normal(0, 1.0, (4000, k))
    ratio = a.var(axis=1, ddof=1) / b.var(axis=1, ddof=1)
    p_tost = np.maximum(stats.f.sf(ratio / math.exp(-2 * m), k - 1, k - 1), stats.f.cdf(ratio / math.exp(2 * m), k - 1, k - 1))
    assert np.mean(p_tost < 0.05) == pytest.approx(sizes.spread_equivalence_power(m, k, 0.05), abs=0.03)


@pytest.mark.slow
def test_equivalence_is_planned_for_tost_and_matches_a_simulation():
    from scipy import stats

    sd, margin, effect = 0.01, 0.02, 0.005
    n = sizes.fewest(lambda k: sizes.equivalence_power(effect, sd, k, margin, 0.05), 0.8)
    assert sizes.equivalence_power(effect, sd, n, margin, 0.05) >= 0.8 > sizes.equivalence_power(effect, sd, n - 1, margin, 0.05)
    rng = np.random.default_rng(1)
    shown = 0
    for _ in range(2000):
        a, b = rng.normal(effect, sd, n), rng.normal(0, sd, n)
        p = max(stats.ttest_ind(a + margin, b, equal_var=False, alternative="greater").pvalue,
                stats.ttest_ind(a - margin, b, equal_var=False, alternative="less").pvalue)
        shown += p < 0.05
    assert shown / 2000 == pytest.approx(sizes.equivalence_power(effect, sd, n, margin, 0.05), abs=0.04)
    rows = [{"status": "FINISHED", "k": k, "seed": s, "test_accuracy": 0.6 + (0.03 if k == 2 else 0) + rng.normal(0, 0.005)}
            for k in (1, 2) for s in range(4)]
    e = expectation(says="Same.", metric="test_accuracy", compare={"k": 2}, against={"k": 1}, within=0.02)
    (outside,) = power.plan([e], pd.DataFrame(rows), alpha=0.05)
    assert outside.never and outside.seeds_needed is None and "| never |" in power.table([outside])


def test_time_to_target_is_planned_for_the_logrank_test_and_a_trend_in_cells():
    from suite.analyze.power import plan
    from suite.kinds import expectation
    from suite.kinds.sizes import logrank_power

    rows = []
    for seed in range(5):  # arm 1 reaches the target at epochs 5-9; arm 0 never within 40
        rows.append({"cell": 0, "seed": seed, "x": 0, "status": "FINISHED", "epochs_to_target": None, "epochs_run": 40.0})
        rows.append({"cell": 1, "seed": seed, "x": 1, "status": "FINISHED", "epochs_to_target": 5.0 + seed, "epochs_run": 40.0})
    for seed in range(5):
        rows.append({"cell": 2, "seed": seed, "x": 2, "status": "FINISHED", "epochs_to_target": 20.0 + seed, "epochs_run": 40.0})
    pilot = pd.DataFrame(rows)
    slower = expectation(says="s", metric="epochs_to_target", compare={"x": 0}, against={"x": 1}, direction="greater")
    (p,) = plan([slower], pilot, 0.05)
    assert p.effect == 33.0 and p.seeds_needed is not None and p.seeds_needed <= 5 and "log-rank" in p.note
    a = (np.array([40.0] * 5), np.array([False] * 5))
    assert logrank_power(a, a, 10, 0.05) <= 0.1  # equal curves: rejections near the size only
    trend = expectation(says="t", metric="epochs_to_target", along="x", trend="increasing")
    (t,) = plan([trend], pilot, 0.05)
    assert t.seeds_now == 3 and "cells" in t.note and t.seeds_needed >= 4  # 2 / 3! can never be below 0.05


@pytest.mark.slow
def test_a_time_to_target_is_planned_at_a_shrunk_difference_and_on_searches_where_seeds_share_them():
    from suite.analyze.power import plan
    from suite.kinds import expectation
    from suite.kinds.sizes import logrank_power

    rng = np.random.default_rng(3)
    rows = [{"cell": c, "seed": s, "search": s // 4, "x": c, "status": "FINISHED", "epochs_run": 40.0,
             "epochs_to_target": float(np.clip(round(mean + rng.normal(0, 4) + 2 * (s // 4)), 1, 39))}
            for c, mean in ((0, 20.0), (1, 14.0)) for s in range(12)]
    claim = expectation(says="s", metric="epochs_to_target", compare={"x": 0}, against={"x": 1}, direction="greater")
    seeds = pd.DataFrame(rows).drop(columns="search")
    (p,) = plan([claim], seeds, 0.05)
    arms = [(seeds[seeds.cell == c].epochs_to_target.to_numpy(), np.ones(12, bool)) for c in (0, 1)]
    assert "planned at +" in p.note and "from the other arm's pilot" in p.note  # some draws come from the other
    at_pilot = next(k for k in range(2, 200) if logrank_power(*arms, k, 0.05) >= 0.8)
    assert p.seeds_needed > at_pilot and p.seeds_now == 12  # the shrunk difference asks for more seeds
    (searched,) = plan([claim], pd.DataFrame(rows), 0.05)  # 3 searches of 4 seeds per arm: the test counts searches
    assert searched.seeds_now == 3 and "Welch's test (the test counts searches)" in searched.note


def test_an_undecided_verdict_is_given_the_seeds_its_plan_asks_for_and_a_decided_or_blocked_one_none():
    rng = np.random.default_rng(1)
    rows = [{"status": "FINISHED", "model.width": w, "seed": s, "best_val_accuracy": 0.6 + 0.01 * (w == 64) + rng.normal(0, 0.02)}
            for w in (8, 64) for s in range(4)]
    expects = [expectation(says="Wider is better.", metric="best_val_accuracy", compare={"model.width": 64},
                      against={"model.width": 8}, direction="greater")] * 3
    trials = pd.DataFrame(rows)
    verdicts = [Verdict(says="Wider is better.", metric="best_val_accuracy", test="welch", effect_name="difference",
        effect=0.01, low=-0.01, high=0.03, p=0.2, expected_sign=1, observed="", n=4, verdict=v,
        blocked=b) for v, b in (("inconclusive", ""), ("supported", ""),
                                                           ("inconclusive", "budget-limited (64 still improving)"))]
    power.attach(expects, verdicts, trials, alpha=0.05)
    undecided, decided, blocked = verdicts
    assert decided.power is None and blocked.power is None
    first = power.plan(expects, trials, alpha=0.05)[0]
    assert undecided.power == {"needed": first.seeds_needed, "now": 4, "never": False, "units": "seeds per arm",
                               "planned": True}
    assert first.seeds_needed > 4  # the pilot's p did not decide it: more seeds than it had
    assert power.asks(undecided.power) == (f"`suite power`: {first.seeds_needed} seeds per arm for 80% power "
                                           "(4 now)")
    assert power.asks(None) == ""
    assert "no number of seeds" in power.asks({"needed": None, "never": True, "planned": True})
    assert power.asks({"needed": None, "never": False, "planned": True, "units": "cells"}).endswith("cells for 80% power")


def test_a_trend_is_planned_at_its_intervals_bound_nearer_zero_and_never_below_its_margin():
    """A trend is planned at the bound of its pilot's interval nearer zero, never below the smallest trend that matters;
    a perfect ordering of 6 cells (rho 1, which 6 cells cannot pin down) has no interval, so it is planned at that
    margin (rho 0.3): 89 cells at alpha 0.05, where the pilot's rho would have asked for the exact test's floor."""
    from suite.analyze.power import plan
    from suite.kinds import expectation

    pilot = pd.DataFrame([{"cell": x, "seed": s, "x": x, "status": "FINISHED", "train_loss": x + 0.01 * s}
                          for x in range(6) for s in range(3)])
    (t,) = plan([expectation(says="t", metric="train_loss", along="x", trend="increasing")], pilot, 0.05)
    assert t.effect == 1.0 and t.seeds_needed == 89 and "planned at 0.3" in t.note
    order = (0, 2, 1, 3, 5, 4)  # each cell's loss: rising, with two neighbours swapped
    noisy = pilot.assign(train_loss=[float(order[x]) for x in pilot["x"]])
    (n,) = plan([expectation(says="t", metric="train_loss", along="x", trend="increasing")], noisy, 0.05)
    assert 0.8 < n.effect < 0.9 and n.seeds_needed == 89  # rho 0.83 over 6 cells: its interval reaches below 0.3
