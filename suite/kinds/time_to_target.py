"""A comparison of two cells' times to target (``compare``/``against`` on an ``*_to_target`` metric).

Survival data: a seed that never reached the target is censored at its budget. Effect: the
difference in restricted mean time to target (RMST) up to the budget both arms share, with its
normal interval; test: the log-rank test, its p exact over relabellings of the seeds, so few seeds
put a floor under it (3 vs 3: never below 0.1). The words say whether the arms differ in how soon
they reach the target (both reach it in at least half their seeds) or in whether they reach it at all.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from suite import metrics
from suite.kinds import survival
from suite.kinds.base import NONE, SEARCH, Equivalence, Verdict, describe, no_data, not_planned, shares_search
from suite.kinds.censoring import UNITS, common_budget, survival_data
from suite.kinds.compare import Compare
from suite.statistics import permutation_p, welch_tost
from suite.kinds.margins import Margin
from suite.kinds.sizes import SIMULATIONS, TARGET_POWER, Plan, fewest, logrank_power


class TimeToTarget(Compare):
    kind: ClassVar[str] = "time_to_target"

    @classmethod
    def claims(cls, data: dict) -> bool:
        return data.get("metric") in metrics.CENSORED and data.get("statistic") != "sd"

    def two_arms(self, a_rows: pd.DataFrame, b_rows: pd.DataFrame, a: np.ndarray, b: np.ndarray, what: str) -> Verdict:
        if shares_search(a_rows) or shares_search(b_rows):
            return self._by_search(a_rows, b_rows, what)
        unit = UNITS[self.metric]
        (ta, ra), (tb, rb) = survival_data(a_rows, self.metric), survival_data(b_rows, self.metric)
        n = len(ta) + len(tb)
        tau = common_budget(self.metric, [a_rows, b_rows])
        (mean_a, se_a), (mean_b, se_b) = survival.rmst(ta, ra, tau), survival.rmst(tb, rb, tau)
        effect = mean_a - mean_b
        half = 1.96 * math.sqrt(se_a**2 + se_b**2)
        test = survival.logrank(ta, ra, tb, rb)
        how = ("no seed of either arm reached the target: nothing to test" if not (ra.any() or rb.any())
               else f"exact over all {test.labellings} relabellings" if test.enumerated
               else f"Monte Carlo over {test.labellings} relabellings")
        counts = f"reached {int(ra.sum())} of {len(ra)} vs {int(rb.sum())} of {len(rb)} seeds"
        (med_a, *ci_a), (med_b, *ci_b) = survival.median_time(ta, ra), survival.median_time(tb, rb)
        arms = (f"RMST up to {tau:.3g}: {_with_ci(mean_a, se_a)} vs {_with_ci(mean_b, se_b)} {unit}; "
                f"median {_median(med_a, ci_a)} vs {_median(med_b, ci_b)}")
        if math.isfinite(med_a) and math.isfinite(med_b):
            finding = "speed"
            word = "sooner" if effect < 0 else "later" if effect > 0 else "as soon"
            seen = f"{what}: reaches the target {word} ({arms}); {counts}"
        else:
            finding = "reachability"
            seen = f"{what}: reaches it at all? {counts}, within {tau:.3g} {unit} ({arms})"
        split = survival.separated(ta, ra, tb, rb)
        if split:
            first = describe(self.compare) if split > 0 else describe(self.against)
            seen += f"; complete separation: every seed of {first} reached the target before any seed of the other arm"
        low, high = (effect - half, effect + half) if half > 0 else (math.nan, math.nan)
        if half == 0:
            seen += "; no interval: neither arm's curve has any spread"
        return Verdict(says=self.says, metric=self.metric,
            test=f"log-rank test ({how}); RMST difference, normal interval", effect_name=f"RMST difference ({unit})",
            effect=float(effect), low=float(low), high=float(high), p=test.p_exact, expected_sign=self.sign,
            observed=seen, n=n, finding=finding)

    def _by_search(self, a_rows: pd.DataFrame, b_rows: pd.DataFrame, what: str) -> Verdict:
        """Where seeds share searches, the search is the replicate: each search's restricted mean time to target up
        to the budget both arms share (the area under its seeds' Kaplan-Meier curve, so a seed that stopped early
        without reaching the target counts as not reached, not as reaching it when it stopped), compared by
        Welch's t-test."""
        a, b, tau = self.search_means(a_rows, b_rows)
        unit = UNITS[self.metric]
        if len(a) < 2 or len(b) < 2:
            return no_data(self, "-", f"RMST difference ({unit})", self.sign, f"too few searches ({len(a)} vs {len(b)})",
                           len(a) + len(b), units="searches")
        diff = float(a.mean() - b.mean())
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            p, low, high = permutation_p(a, b, "two-sided"), math.nan, math.nan
        else:
            p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
            ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
            low, high = float(ci.low), float(ci.high)
        (ta, ra), (tb, rb) = survival_data(a_rows, self.metric), survival_data(b_rows, self.metric)
        counts = f"reached {int(ra.sum())} of {len(ra)} vs {int(rb.sum())} of {len(rb)} seeds"
        per = (f"restricted mean time to target up to {tau:.3g}, per search: {a.mean():.3g} vs {b.mean():.3g} {unit} over "
               f"{len(a)} vs {len(b)} searches")
        if math.isfinite(survival.median_time(ta, ra)[0]) and math.isfinite(survival.median_time(tb, rb)[0]):
            finding, seen = "speed", f"{what}: reaches the target {'sooner' if diff < 0 else 'later' if diff > 0 else 'as soon'} ({per}); {counts}"
        else:
            finding, seen = "reachability", f"{what}: reaches it at all? {counts}, within {tau:.3g} {unit} ({per})"
        return Verdict(says=self.says, metric=self.metric,
            test="Welch t-test on each search's restricted mean time to target",
            effect_name=f"RMST difference ({unit})", effect=diff, low=low, high=high, p=p, expected_sign=self.sign,
            observed=seen, n=len(a) + len(b), units="searches", finding=finding)

    def search_means(self, a_rows: pd.DataFrame, b_rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
        """Each search's restricted mean time to target up to the budget both arms share, and that budget. Called
        where seeds share searches, so both arms (slices of one frame) carry the search each trained with. A seed
        censored before that budget (early stopping ended it unreached) is censored there, not counted as an
        event: the Kaplan-Meier curve of its search carries it."""
        tau = common_budget(self.metric, [a_rows, b_rows])

        def means(rows):
            data = (survival_data(g, self.metric) for _, g in rows.groupby(["cell", SEARCH]))
            return np.array([survival.rmst(t, r, tau)[0] for t, r in data if len(t)])

        return means(a_rows), means(b_rows), tau

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """TOST of the RMST difference at ±margin, on its normal approximation (a relative margin: a share of the
        ``against`` arm's RMST up to the shared budget); where seeds share searches, Welch's TOST on the searches'
        restricted means."""
        if self.within is not None:
            return NONE
        a_rows, b_rows = self.arms(rows)
        if shares_search(a_rows) or shares_search(b_rows):
            a, b, _ = self.search_means(a_rows, b_rows)
            if len(a) < 2 or len(b) < 2:
                return NONE
            m = margin.at(float(b.mean()))
            return welch_tost(a, b, m, alpha)
        (ta, ra), (tb, rb) = survival_data(a_rows, self.metric), survival_data(b_rows, self.metric)
        if len(ta) < 2 or len(tb) < 2:
            return NONE
        tau = common_budget(self.metric, [a_rows, b_rows])
        (mean_a, se_a), (mean_b, se_b) = survival.rmst(ta, ra, tau), survival.rmst(tb, rb, tau)
        d, se = mean_a - mean_b, math.sqrt(se_a**2 + se_b**2)
        m = margin.at(mean_b)
        if not (se > 0 and m > 0 and math.isfinite(d)):
            return NONE
        p = max(stats.norm.sf((d + m) / se), stats.norm.cdf((d - m) / se))
        z = stats.norm.ppf(1 - alpha)
        return Equivalence(float(p), d - z * se, d + z * se, m)

    def too_few(self, rows: pd.DataFrame, alpha: float) -> str:
        if not shares_search(rows):
            return super().too_few(rows, alpha)
        a, b, _ = self.search_means(*self.arms(rows))  # Welch on the searches: no exact floor, but two per arm
        if min(len(a), len(b)) >= 2:
            return ""
        return (f"too few replicates: the seeds of each arm share {len(a)} vs {len(b)} searches, and a test counts "
                "searches (tune.per: seed gives each seed its own)")

    def smallest_p(self, n_a: int, n_b: int) -> float:
        """The log-rank p is exact over relabellings: at most 2 / C(n_a + n_b, n_a) of them are as extreme."""
        return 0.0 if n_a == 0 or n_b == 0 else 2 / math.comb(n_a + n_b, n_a)

    def plan(self, rows: pd.DataFrame, alpha: float) -> Plan:
        """Replicates per arm for 80% power of the test that decides it, planned not at the pilot's difference (a
        small pilot overstates it). Where seeds share searches, the test counts searches: their restricted means,
        planned for Welch's test as a comparison of means is (``Compare.welch_plan``). Otherwise seeds for the
        log-rank test, by simulation: each arm's pilot seeds (time, reached) drawn with replacement, the share of
        draws the test rejects is the power; the ``compare`` arm's draws come from its own pilot with probability w
        and from the other arm's otherwise, a mixture whose RMST difference is about w times the pilot's (``shrink``)."""
        a_rows, b_rows = self.arms(rows)
        if shares_search(a_rows) or shares_search(b_rows):
            a, b, tau = self.search_means(a_rows, b_rows)
            if len(a) < 2 or len(b) < 2:
                return not_planned(self, alpha, f"the pilot has too few searches ({len(a)} vs {len(b)})", min(len(a), len(b)))
            return self.welch_plan(a, b, alpha, f"each search's restricted mean time to target up to {tau:.3g}, by "
                                   "Welch's test (the test counts searches): ")
        arm_a, arm_b = survival_data(a_rows, self.metric), survival_data(b_rows, self.metric)
        n = min(len(arm_a[0]), len(arm_b[0]))
        if n < 2:
            return not_planned(self, alpha, "the pilot has too few trials", n)
        tau = common_budget(self.metric, [a_rows, b_rows])
        (mean_a, se_a), (mean_b, se_b) = survival.rmst(*arm_a, tau), survival.rmst(*arm_b, tau)
        effect = mean_a - mean_b
        note = (f"time to target: log-rank test, power by {SIMULATIONS} draws from the pilot's seeds; effect = RMST "
                f"difference up to {tau:.3g}")
        if not (arm_a[1].any() or arm_b[1].any()):
            return Plan(self.says, self.metric, n, effect, math.nan, alpha, None, math.nan, note + "; no seed reached the target")
        weight, how = self.shrink(effect, math.sqrt(se_a**2 + se_b**2), mean_b)
        needed = fewest(lambda k: logrank_power(arm_a, arm_b, k, alpha, weight), TARGET_POWER)
        return Plan(self.says, self.metric, n, effect, math.nan, alpha, needed, math.nan, f"{note}; {how}")

    def shrink(self, effect: float, se: float, reference: float) -> tuple[float, str]:
        """The share w of the pilot's RMST difference to plan for, and why: the bound of its 95% interval nearer
        zero where that lies beyond the smallest effect that matters, else the margin (as ``Compare.plan``); a
        difference no larger than that is planned as it is (a mixture of the pilots cannot enlarge it)."""
        margin = self.smallest_effect()
        if margin is None or not (math.isfinite(effect) and effect != 0):
            return 1.0, "planned at the pilot's difference"
        m = margin.at(reference)
        nearer = max(abs(effect) - stats.norm.ppf(0.975) * se, 0.0)  # no spread (se 0): no interval to shrink by
        target, why = ((nearer, "its 95% interval's bound nearer zero, beyond the smallest effect that matters")
                       if nearer > m else (m, "the smallest effect that matters"))
        if target >= abs(effect):
            return 1.0, f"planned at the pilot's difference, {effect:+.3g}: no larger than {why}, ±{m:.3g} ({margin.why})"
        return target / abs(effect), (f"planned at {math.copysign(target, effect):+.3g}, {why} (±{m:.3g}, {margin.why}), "
                                      f"by drawing the first arm's seeds from the other arm's pilot {1 - target / abs(effect):.0%} "
                                      "of the time")

    def survival_arms(self, rows: pd.DataFrame, axes: list[str]) -> list[tuple[str, pd.DataFrame]]:
        a_rows, b_rows = self.arms(rows)
        return [(describe(self.compare), a_rows), (describe(self.against), b_rows)]


def _with_ci(mean: float, se: float) -> str:
    return f"{mean:.3g}" if se == 0 else f"{mean:.3g} [{mean - 1.96 * se:.3g}, {mean + 1.96 * se:.3g}]"


def _median(median: float, ci: list[float]) -> str:
    """A median time to target with its interval; 'not reached' where the curve never falls to a half."""
    shown = lambda x: "not reached" if not math.isfinite(x) else f"{x:.3g}"  # noqa: E731
    return f"{shown(median)} [{shown(ci[0])}, {shown(ci[1])}]"
