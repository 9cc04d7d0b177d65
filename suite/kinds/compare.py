"""A comparison of two cells (``compare: {...}``, ``against: {...}``): one greater or less than the
other (``direction``), equal within a margin (``within``), or not worse than the other by more than a
margin (non-inferiority: ``not_below_by``, ``not_above_by``).

Its replicate is the seed of each arm. Means are compared by Welch's t-test (for a margin: the two
one-sided tests, TOST, inside it; the one-sided test beyond it; for non-inferiority, the one-sided test on
whichever side of its boundary the estimate lies); yes/no metrics by Fisher's exact
test on the counts, whose p has a floor at few seeds (3 vs 3: never below 0.1); arms without any
spread by the exact permutation test. Two refinements have modules of their own: a time to target
(``time_to_target``) and a comparison of spreads (``spread``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import model_validator
from pydantic_core import PydanticCustomError
from scipy import optimize, stats

from suite import metrics, statistics
from suite.ground.fields import PositiveFloat
from suite.kinds.base import (
    NONE,
    Equivalence,
    Expectation,
    Verdict,
    counted,
    describe,
    fmt,
    matching,
    no_data,
    not_planned,
    replicates,
    same,
    searches_anything,
    shares_search,
)
from suite.kinds.margins import Margin
from suite.kinds.sizes import TARGET_POWER, Plan, detectable, equivalence_power, fewest, seeds_for
from suite.statistics import nearer_zero, newcombe, newcombe_tost, permutation_p, pooled_sd, welch_tost


class Compare(Expectation):
    kind: ClassVar[str] = "compare"
    marks: ClassVar[tuple[str, ...]] = ("compare", "against")
    shown: ClassVar[str] = "compare+against"
    values_in: ClassVar[tuple[str, ...]] = ("compare", "against")

    compare: dict[str, Any] | None = None
    against: dict[str, Any] | None = None
    direction: Literal["greater", "less"] | None = None
    within: PositiveFloat | None = None  # instead of a direction: equal within this margin (TOST)
    not_below_by: PositiveFloat | None = None  # or: compare's mean is at least against's minus this (non-inferiority)
    not_above_by: PositiveFloat | None = None  # or: compare's mean is at most against's plus this (a loss, a time)
    statistic: Literal["mean"] = "mean"  # what it compares (``spread`` compares "sd")

    @model_validator(mode="after")
    def _two_arms_one_claim(self):
        if self.compare is None or self.against is None:
            raise PydanticCustomError("value", "a comparison needs both compare and against")
        claims = (self.direction, self.within, self.not_below_by, self.not_above_by)
        if sum(c is not None for c in claims) != 1:
            raise PydanticCustomError("value", "a comparison needs exactly one of direction, within, not_below_by "
                                               "or not_above_by")
        if self.boundary and self.metric in metrics.BINARY + metrics.CENSORED:
            raise PydanticCustomError("value", "not_below_by and not_above_by need a metric measured on every trial "
                                               "as a number, not a yes/no or censored one")
        return self

    @property
    def equal_within(self) -> float | None:
        return self.within

    @property
    def sign(self) -> int:
        if self.within is not None:
            return 0
        return 1 if self.direction == "greater" or self.not_below_by is not None else -1

    @property
    def boundary(self) -> float:
        """What the claimed sign is judged against: 0 for a direction; for non-inferiority, how far the compare arm
        may fall behind (``-not_below_by``) or ahead (``+not_above_by``) and the claim still hold."""
        return -self.not_below_by if self.not_below_by is not None else self.not_above_by or 0.0

    def own_margin(self) -> str:
        if self.boundary:
            words = "below" if self.boundary < 0 else "above"
            return f"{self.boundary:+g} (the claim's own: not {words} the other arm by more than it)"
        return super().own_margin()

    def arms(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        return matching(rows, self.compare), matching(rows, self.against)

    def test(self, rows: pd.DataFrame, grid: dict[str, list], rng) -> Verdict:
        """The kind's test on each arm's replicates: its seeds, or the searches its seeds share (``replicates``)."""
        a_rows, b_rows = self.arms(rows)
        (a, unit), (b, _) = replicates(a_rows, self.metric), replicates(b_rows, self.metric)
        what = f"{describe(self.compare)} vs {describe(self.against)}"
        if len(a) < 2 or len(b) < 2:
            return no_data(self, "-", "difference", self.sign, f"too few {unit} ({len(a)} vs {len(b)})", len(a) + len(b),
                           units=unit)
        return counted(self.two_arms(a_rows, b_rows, a, b, what), pd.concat([a_rows, b_rows]), self.metric, unit)

    def two_arms(self, a_rows: pd.DataFrame, b_rows: pd.DataFrame, a: np.ndarray, b: np.ndarray, what: str) -> Verdict:
        """The test, once each arm has at least two seeds."""
        sign = self.sign
        yes_no = set(np.unique(np.concatenate([a, b]))) <= {0.0, 1.0}  # searches' shares are no longer yes or no
        if self.metric in metrics.BINARY and self.within is None and yes_no:  # Fisher's exact test on the counts
            table = [[int(a.sum()), int(len(a) - a.sum())], [int(b.sum()), int(len(b) - b.sum())]]
            p = float(stats.fisher_exact(table).pvalue)
            low, high = newcombe(int(a.sum()), len(a), int(b.sum()), len(b))
            return Verdict(says=self.says, metric=self.metric, test="Fisher's exact test; Newcombe's score interval",
                effect_name="difference in proportion", effect=float(a.mean() - b.mean()), low=low, high=high, p=p,
                expected_sign=sign, observed=f"{what}: {int(a.sum())}/{len(a)} vs {int(b.sum())}/{len(b)} seeds",
                n=len(a) + len(b))
        diff = float(a.mean() - b.mean())
        seen = f"{what}: means {fmt(a.mean())} vs {fmt(b.mean())}"
        if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: an exact permutation test, an exact statement
            return self._without_variance(a, b, what)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
        m = self.within
        if self.boundary:  # non-inferiority: the one-sided test on the estimate's side of the boundary
            side = "greater" if diff > self.boundary else "less"
            p = float(stats.ttest_ind(a - self.boundary, b, equal_var=False, alternative=side).pvalue)
            test = f"Welch one-sided, against the non-inferiority margin {self.boundary:+g}"
        elif m is None:
            p, test = float(stats.ttest_ind(a, b, equal_var=False).pvalue), "Welch t-test"
        elif abs(diff) < m:  # inside the margin: the two one-sided tests (TOST) can support equivalence
            p = statistics.tost(a, b, m)
            test = f"TOST (Welch), margin ±{m:g}"
        else:  # beyond it: the one-sided test that the difference lies beyond the margin can refute it
            side = "greater" if diff > 0 else "less"
            p = float(stats.ttest_ind(a - (m if diff > 0 else -m), b, equal_var=False, alternative=side).pvalue)
            test = f"Welch one-sided, beyond the margin ±{m:g}"
        return Verdict(says=self.says, metric=self.metric, test=test, effect_name="mean difference", effect=diff,
            low=float(ci.low), high=float(ci.high), p=p, expected_sign=sign, observed=seen, n=len(a) + len(b),
            boundary=self.boundary)

    def _without_variance(self, a: np.ndarray, b: np.ndarray, what: str) -> Verdict:
        """Both arms without spread (e.g. every seed at training accuracy 1.000): the difference is known
        exactly, and the only test left is the permutation test, whose p is exact."""
        diff = float(a[0] - b[0])
        seen = f"{what}: all {len(a)} seeds at {a[0]:.3f} vs all {len(b)} at {b[0]:.3f}"
        m = self.within
        if self.boundary:
            p = permutation_p(a - self.boundary, b, "greater" if diff > self.boundary else "less")
        elif m is not None and abs(diff) < m:
            p = statistics.tost(a, b, m)
        elif m is not None:
            p = permutation_p(a - (m if diff > 0 else -m), b, "greater" if diff > 0 else "less")
        else:
            p = permutation_p(a, b, "two-sided")
        return Verdict(says=self.says, metric=self.metric, test="exact permutation test (no spread within either arm)",
            effect_name="mean difference", effect=diff, low=math.nan, high=math.nan, p=p, expected_sign=self.sign,
            observed=seen + "; the difference is exact, so no interval", n=len(a) + len(b), boundary=self.boundary)

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """TOST of the difference of means at ±margin (Welch; the exact permutation test where neither arm has any
        spread). A relative margin is a share of the ``against`` arm's mean. A yes/no metric counted per seed is a
        difference of proportions: TOST by Newcombe's interval (``newcombe_tost``), as its test is Fisher's."""
        if self.own_margin():
            return NONE
        a, b = (replicates(arm, self.metric)[0] for arm in self.arms(rows))
        if len(a) < 2 or len(b) < 2:
            return NONE
        m = margin.at(float(np.mean(b)))
        if self.metric in metrics.BINARY and set(np.unique(np.concatenate([a, b]))) <= {0.0, 1.0}:
            return newcombe_tost(int(a.sum()), len(a), int(b.sum()), len(b), m, alpha)
        return welch_tost(a, b, m, alpha)

    def smallest_p(self, n_a: int, n_b: int) -> float:
        """The smallest two-sided p this comparison can reach with n_a and n_b trials, whatever the data: Fisher's
        test is exact, so few trials put a floor under p; Welch's test has no such floor (0 here)."""
        if n_a == 0 or n_b == 0:
            return 0.0
        return 2 / math.comb(n_a + n_b, n_a) if self.metric in metrics.BINARY and self.within is None else 0.0

    def too_few(self, rows: pd.DataFrame, alpha: float) -> str:
        arms = self.arms(rows)
        if shares_search(rows):
            values = [replicates(arm, self.metric)[0] for arm in arms]
            n_a, n_b = map(len, values)
            if min(n_a, n_b) < 2:
                return (f"too few replicates: the seeds of each arm share {n_a} vs {n_b} searches, and a test counts "
                        "searches (tune.per: seed gives each seed its own)")
            if not set(np.unique(np.concatenate(values))) <= {0.0, 1.0}:
                return ""  # the searches' shares of a yes/no outcome: Welch's test, which has no floor
        else:
            n_a, n_b = (len(arm) for arm in arms)
        floor = self.smallest_p(n_a, n_b)
        if floor <= alpha:
            return ""
        unit = "searches" if shares_search(rows) else "seeds"
        return f"too few replicates: {n_a} vs {n_b} {unit} cannot give p below {floor:.2g} whatever the data (add {unit})"

    def too_few_planned(self, cells: list, seeds: list, alpha: float) -> str:
        def replicates_of(values) -> tuple[int, bool]:
            """The arm's replicates as planned, and whether they are searches its seeds share."""
            arm = [c for c in cells if all(same(c.values.get(k), v) for k, v in {**self.where, **values}.items())]
            if any(searches_anything(c) and c.tune.per != "seed" for c in arm):
                return sum(len(c.tune.searches(seeds)) if searches_anything(c) else len(seeds) for c in arm), True
            return len(arm) * len(seeds), False

        (n_a, shared_a), (n_b, shared_b) = replicates_of(self.compare), replicates_of(self.against)
        if (shared_a or shared_b) and min(n_a, n_b) < 2:
            return (f"its seeds share {n_a} vs {n_b} searches, and a test counts searches, so its verdict can only be "
                    "inconclusive: give each seed its own search (tune.per: seed) or more blocks")
        if (shared_a or shared_b) and self.metric not in metrics.BINARY:
            return ""  # the searches' means (restricted means of a time to target) by Welch's test: no floor
        floor = self.smallest_p(n_a, n_b)
        if floor <= alpha:
            return ""
        return (f"{n_a} vs {n_b} trials cannot give p below {floor:.2g} (alpha {alpha:.3g}), so its verdict can only "
                "be inconclusive: add seeds")

    def plan(self, rows: pd.DataFrame, alpha: float) -> Plan:
        """Seeds per arm for 80% power, planned not at the pilot's difference (a small pilot overstates it) but at
        the bound of its 95% Welch interval nearer zero, as a trend is. Where that bound lies beyond the smallest
        effect that matters (``margins``), the truth is most likely there too: seeds to detect it. Where it does not,
        seeds that decide it either way whatever the truth: enough for Welch's test to detect an effect of the
        margin, and for TOST to show an effect of 0 inside it. Without a margin, for the pilot's difference. A claim
        of equality (``within``) is planned for TOST at the pilot's difference. Also the smallest difference its
        seeds detect now."""
        a, b = (replicates(arm, self.metric)[0] for arm in self.arms(rows))
        n = min(len(a), len(b))
        if self.metric in metrics.BINARY and self.within is None:
            return not_planned(self, alpha, "yes/no per seed (Fisher's exact test): plan on a continuous metric", n)
        if len(a) < 2 or len(b) < 2:
            return not_planned(self, alpha, f"the pilot has too few trials ({len(a)} vs {len(b)})", n)
        effect, sd = float(np.mean(a) - np.mean(b)), pooled_sd(a, b)
        if self.within is not None:
            return self._equivalence_plan(n, effect, sd, alpha)
        if self.boundary:  # non-inferiority, planned for a true difference of 0 (two-sided power: conservative)
            return Plan(self.says, self.metric, n, effect, sd, alpha, seeds_for(self.boundary, sd, alpha),
                        detectable(sd, n, alpha), f"non-inferiority at {self.boundary:+g}: seeds to show it when the "
                        "arms are truly equal")
        return self.welch_plan(a, b, alpha)

    def welch_plan(self, a: np.ndarray, b: np.ndarray, alpha: float, note: str = "") -> Plan:
        """Replicates per arm for 80% power of Welch's test on ``a`` against ``b`` (seeds, or searches' means), at
        the effect ``plan`` says; ``note`` is prefixed to the plan's own."""
        n, effect, sd = min(len(a), len(b)), float(np.mean(a) - np.mean(b)), pooled_sd(a, b)
        margin = self.smallest_effect()
        if margin is None or sd <= 0:
            return Plan(self.says, self.metric, n, effect, sd, alpha, seeds_for(effect, sd, alpha), detectable(sd, n, alpha),
                        note)
        m = margin.at(float(np.mean(b)))
        shrunk = nearer_zero(a, b)
        if abs(shrunk) > m:
            return Plan(self.says, self.metric, n, effect, sd, alpha, seeds_for(shrunk, sd, alpha), detectable(sd, n, alpha),
                        f"{note}planned at {shrunk:+.3g}, its 95% interval's bound nearer zero, beyond the smallest effect "
                        f"that matters, ±{m:.3g} ({margin.why}): to detect it")
        detect, show = seeds_for(m, sd, alpha), fewest(lambda k: equivalence_power(0.0, sd, k, m, alpha), TARGET_POWER)
        needed = max(detect, show) if detect and show else None
        return Plan(self.says, self.metric, n, effect, sd, alpha, needed, detectable(sd, n, alpha),
                    f"{note}planned for the smallest effect that matters, ±{m:.3g} ({margin.why}): to detect it, and to show "
                    "an effect of 0 inside it")

    def _equivalence_plan(self, n: int, effect: float, sd: float, alpha: float) -> Plan:
        """Equivalence within ±margin (TOST): seeds for 80% power to show it at the pilot's difference, and
        "detectable now" as the largest true difference it would be shown at with 80% power at n seeds."""
        margin = self.within
        if sd <= 0 or abs(effect) >= margin:
            needed = None
            note = f"equivalence within ±{margin:g} (TOST): the pilot's difference lies outside the margin, so no seeds show it"
        else:
            needed = fewest(lambda k: equivalence_power(effect, sd, k, margin, alpha), TARGET_POWER)
            note = f"equivalence within ±{margin:g} (TOST): seeds to show it; detectable now = the largest difference shown"
        largest = math.nan
        if sd > 0 and equivalence_power(0.0, sd, n, margin, alpha) >= TARGET_POWER:  # falls to 0 at the margin
            largest = float(optimize.brentq(lambda d: equivalence_power(d, sd, n, margin, alpha) - TARGET_POWER, 0.0,
                                            margin, xtol=1e-15))
        return Plan(self.says, self.metric, n, effect, sd, alpha, needed, largest, note,
                    never=needed is None and abs(effect) >= margin)

    def compared(self, rows: pd.DataFrame) -> list[pd.DataFrame]:
        return [g for arm in self.arms(rows) for _, g in arm.groupby("cell")]
