"""A comparison of two cells (``compare: {...}``, ``against: {...}``): one greater or less than the
other (``direction``), or equal within a margin (``within``).

Its replicate is the seed of each arm. Means are compared by Welch's t-test (for a margin: the two
one-sided tests, TOST, inside it; the one-sided test beyond it); yes/no metrics by Fisher's exact
test on the counts, whose p has a floor at few seeds (3 vs 3: never below 0.1); arms without any
spread by the exact permutation test. Two refinements have modules of their own: a time to target
(``time_to_target``) and a comparison of spreads (``spread``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import model_validator
from pydantic_core import PydanticCustomError
from scipy import stats

from suite.ground.fields import PositiveFloat
from suite.kinds import survival
from suite.kinds.base import Expectation, Verdict, describe, fmt, matching, no_data, not_planned, same, seed_values
from suite.kinds.metrics import BINARY_METRICS
from suite.kinds.sizes import TARGET_POWER, Plan, detectable, equivalence_power, fewest, seeds_for


class Compare(Expectation):
    kind: ClassVar[str] = "compare"
    marks: ClassVar[tuple[str, ...]] = ("compare", "against")
    shown: ClassVar[str] = "compare+against"
    values_in: ClassVar[tuple[str, ...]] = ("compare", "against")

    compare: dict[str, Any] | None = None
    against: dict[str, Any] | None = None
    direction: Literal["greater", "less"] | None = None
    within: PositiveFloat | None = None  # instead of a direction: equal within this margin (TOST)
    statistic: Literal["mean"] = "mean"  # what it compares (``spread`` compares "sd")

    @model_validator(mode="after")
    def _two_arms_one_claim(self):
        if self.compare is None or self.against is None:
            raise PydanticCustomError("value", "a comparison needs both compare and against")
        if (self.direction is None) == (self.within is None):
            raise PydanticCustomError("value", "a comparison needs exactly one of direction or within")
        return self

    @property
    def margin(self) -> float | None:
        return self.within

    @property
    def sign(self) -> int:
        return 0 if self.within is not None else (1 if self.direction == "greater" else -1)

    def arms(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        return matching(rows, self.compare), matching(rows, self.against)

    def test(self, rows: pd.DataFrame, grid: dict[str, list], rng) -> Verdict:
        a_rows, b_rows = self.arms(rows)
        a, b = seed_values(a_rows, self.metric), seed_values(b_rows, self.metric)
        what = f"{describe(self.compare)} vs {describe(self.against)}"
        if len(a) < 2 or len(b) < 2:
            return no_data(self, "-", "difference", self.sign, f"too few trials ({len(a)} vs {len(b)})", len(a) + len(b))
        return self.two_arms(a_rows, b_rows, a, b, what)

    def two_arms(self, a_rows: pd.DataFrame, b_rows: pd.DataFrame, a: np.ndarray, b: np.ndarray, what: str) -> Verdict:
        """The test, once each arm has at least two seeds."""
        sign = self.sign
        if self.metric in BINARY_METRICS and self.within is None:  # yes/no per seed: Fisher's exact test on the counts
            table = [[int(a.sum()), int(len(a) - a.sum())], [int(b.sum()), int(len(b) - b.sum())]]
            p = float(stats.fisher_exact(table).pvalue)
            low, high = newcombe(int(a.sum()), len(a), int(b.sum()), len(b))
            return Verdict(self.says, self.metric, "Fisher's exact test; Newcombe's score interval",
                           "difference in proportion", float(a.mean() - b.mean()), low, high, p, sign,
                           f"{what}: {int(a.sum())}/{len(a)} vs {int(b.sum())}/{len(b)} seeds", len(a) + len(b))
        diff = float(a.mean() - b.mean())
        seen = f"{what}: means {fmt(a.mean())} vs {fmt(b.mean())}"
        if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: an exact permutation test, an exact statement
            return self._without_variance(a, b, what)
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
        m = self.within
        if m is None:
            p, test = float(stats.ttest_ind(a, b, equal_var=False).pvalue), "Welch t-test"
        elif abs(diff) < m:  # inside the margin: the two one-sided tests (TOST) can support equivalence
            p = float(max(stats.ttest_ind(a + m, b, equal_var=False, alternative="greater").pvalue,
                          stats.ttest_ind(a - m, b, equal_var=False, alternative="less").pvalue))
            test = f"TOST (Welch), margin ±{m:g}"
        else:  # beyond it: the one-sided test that the difference lies beyond the margin can refute it
            side = "greater" if diff > 0 else "less"
            p = float(stats.ttest_ind(a - (m if diff > 0 else -m), b, equal_var=False, alternative=side).pvalue)
            test = f"Welch one-sided, beyond the margin ±{m:g}"
        return Verdict(self.says, self.metric, test, "mean difference", diff, float(ci.low), float(ci.high), p, sign,
                       seen, len(a) + len(b))

    def _without_variance(self, a: np.ndarray, b: np.ndarray, what: str) -> Verdict:
        """Both arms without spread (e.g. every seed at training accuracy 1.000): the difference is known
        exactly, and the only test left is the permutation test, whose p is exact."""
        diff = float(a[0] - b[0])
        seen = f"{what}: all {len(a)} seeds at {a[0]:.3f} vs all {len(b)} at {b[0]:.3f}"
        m = self.within
        if m is not None and abs(diff) < m:
            p = max(permutation_p(a + m, b, "greater"), permutation_p(a - m, b, "less"))
        elif m is not None:
            p = permutation_p(a - (m if diff > 0 else -m), b, "greater" if diff > 0 else "less")
        else:
            p = permutation_p(a, b, "two-sided")
        return Verdict(self.says, self.metric, "exact permutation test (no spread within either arm)", "mean difference",
                       diff, math.nan, math.nan, p, self.sign, seen + "; the difference is exact, so no interval",
                       len(a) + len(b))

    def smallest_p(self, n_a: int, n_b: int) -> float:
        """The smallest two-sided p this comparison can reach with n_a and n_b trials, whatever the data: Fisher's
        test is exact, so few trials put a floor under p; Welch's test has no such floor (0 here)."""
        if n_a == 0 or n_b == 0:
            return 0.0
        return 2 / math.comb(n_a + n_b, n_a) if self.metric in BINARY_METRICS and self.within is None else 0.0

    def too_few(self, rows: pd.DataFrame, alpha: float) -> str:
        n_a, n_b = (len(arm) for arm in self.arms(rows))
        floor = self.smallest_p(n_a, n_b)
        if floor <= alpha:
            return ""
        return f"too few replicates: {n_a} vs {n_b} seeds cannot give p below {floor:.2g} whatever the data (add seeds)"

    def too_few_planned(self, cells: list, seeds: int, alpha: float) -> str:
        def trials(values):
            return sum(all(same(c.values.get(k), v) for k, v in {**self.where, **values}.items()) for c in cells) * seeds

        n_a, n_b = trials(self.compare), trials(self.against)
        floor = self.smallest_p(n_a, n_b)
        if floor <= alpha:
            return ""
        return (f"{n_a} vs {n_b} trials cannot give p below {floor:.2g} (alpha {alpha:g}), so its verdict can only "
                "be inconclusive: add seeds")

    def plan(self, rows: pd.DataFrame, alpha: float) -> Plan:
        """Seeds per arm for 80% power of Welch's test at the pilot's difference and pooled spread (or of TOST at
        its margin), and the smallest difference its seeds detect now."""
        a, b = (seed_values(arm, self.metric) for arm in self.arms(rows))
        n = min(len(a), len(b))
        if self.metric in BINARY_METRICS and self.within is None:
            return not_planned(self, alpha, "yes/no per seed (Fisher's exact test): plan on a continuous metric", n)
        if len(a) < 2 or len(b) < 2:
            return not_planned(self, alpha, f"the pilot has too few trials ({len(a)} vs {len(b)})", n)
        effect = float(np.mean(a) - np.mean(b))
        sd = float(math.sqrt((np.var(a, ddof=1) * (len(a) - 1) + np.var(b, ddof=1) * (len(b) - 1)) / (len(a) + len(b) - 2)))
        if self.within is not None:
            return self._equivalence_plan(n, effect, sd, alpha)
        return Plan(self.says, self.metric, n, effect, sd, alpha, seeds_for(effect, sd, alpha), detectable(sd, n, alpha))

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
        if sd > 0 and equivalence_power(0.0, sd, n, margin, alpha) >= TARGET_POWER:
            low, high = 0.0, margin
            for _ in range(60):
                mid = (low + high) / 2
                low, high = (mid, high) if equivalence_power(mid, sd, n, margin, alpha) >= TARGET_POWER else (low, mid)
            largest = low
        return Plan(self.says, self.metric, n, effect, sd, alpha, needed, largest, note,
                    never=needed is None and abs(effect) >= margin)

    def compared(self, rows: pd.DataFrame) -> list[pd.DataFrame]:
        return [g for arm in self.arms(rows) for _, g in arm.groupby("cell")]


def permutation_p(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
    """Exact permutation p of the difference in means (every relabelling of the pooled values)."""
    pooled = np.concatenate([a, b])
    total = pooled.sum()
    observed = a.mean() - b.mean()
    if math.comb(len(pooled), len(a)) <= survival.EXACT_LIMIT:
        labellings = (list(m) for m in itertools.combinations(range(len(pooled)), len(a)))
    else:  # a seeded Monte Carlo sample of relabellings (with the observed one), beyond what enumeration affords
        rng = np.random.default_rng(0)
        labellings = [list(range(len(a))), *(rng.permutation(len(pooled))[: len(a)] for _ in range(survival.EXACT_LIMIT))]
    sums = np.array([pooled[m].sum() for m in labellings])
    diffs = sums / len(a) - (total - sums) / len(b)
    eps = 1e-12
    if alternative == "greater":
        return float(np.mean(diffs >= observed - eps))
    if alternative == "less":
        return float(np.mean(diffs <= observed + eps))
    return float(np.mean(np.abs(diffs) >= abs(observed) - eps))


def newcombe(k_a: int, n_a: int, k_b: int, n_b: int) -> tuple[float, float]:
    """Newcombe's (1998, method 10) hybrid score interval for a difference of two proportions: never zero-width."""
    def wilson(k, n):
        p, z = k / n, 1.959963984540054
        centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    pa, pb = k_a / n_a, k_b / n_b
    (la, ua), (lb, ub) = wilson(k_a, n_a), wilson(k_b, n_b)
    d = pa - pb
    return (d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2), d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2))
