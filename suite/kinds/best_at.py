"""A best cell: this cell beats every other (``best_at: {dropout: 0.5}``), "best" in the metric's
declared direction.

Supported only if the claimed cell beats *every* rival (an intersection-union test over pairwise
one-sided tests); refuted only if some rival is significantly better (Bonferroni over the rivals),
not merely because the best of several noisy rivals tends to look best.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from suite.kinds.base import (
    BOOTSTRAP,
    NONE,
    Equivalence,
    Expectation,
    Verdict,
    cells_as_arms,
    counted,
    describe,
    fmt,
    matching,
    no_data,
    replicates,
)
from suite import metrics
from suite.statistics import welch_tost
from suite.kinds.margins import Margin


class BestAt(Expectation):
    kind: ClassVar[str] = "best_at"
    marks: ClassVar[tuple[str, ...]] = ("best_at",)
    shown: ClassVar[str] = "best_at"
    values_in: ClassVar[tuple[str, ...]] = ("best_at",)

    best_at: dict[str, Any]

    def test(self, rows: pd.DataFrame, grid: dict[str, list], rng) -> Verdict:
        """Margin of the claimed cell over the best other cell. The p-values come from pairwise tests, not from a
        bootstrap: with a handful of seeds the bootstrap's spread is far too narrow (it cannot see beyond the values
        it has). The interval is Welch's against the closest rival, or a bootstrap over seeds where a value is
        censored or an arm has one seed."""
        axes = list(grid)
        better = 1 if metrics.BETTER[self.metric] == "max" else -1
        groups = {cell: replicates(g, self.metric)[0] for cell, g in rows.groupby("cell")}
        groups = {c: v for c, v in groups.items() if len(v)}
        unit = replicates(rows, self.metric)[1]
        claimed = set(matching(rows, self.best_at)["cell"]) & set(groups)
        label = {cell: describe({a: g[a].iloc[0] for a in self.best_at}) for cell, g in rows.groupby("cell")}
        full_label = {cell: describe({a: g[a].iloc[0] for a in axes}) for cell, g in rows.groupby("cell")}
        if len(claimed) != 1 or len(groups) < 2:
            return no_data(self, "bootstrap over seeds", "margin", 1, "the claimed cell or its rivals have no data",
                           sum(map(len, groups.values())))
        (cell,) = claimed
        stat = _censored_median if self.metric in metrics.CENSORED else np.mean
        rivals = [c for c in groups if c != cell]

        def differences(samples: dict) -> np.ndarray:  # claimed minus each rival, "better" made positive
            return np.array([_difference(better * stat(samples[cell]), better * stat(samples[r])) for r in rivals])

        observed = differences(groups)
        claimed_values = better * groups[cell]
        if observed.min() > 0:
            p = 2 * max(one_sided(claimed_values, better * groups[r], "greater") for r in rivals)
        else:
            p = 2 * len(rivals) * min(one_sided(claimed_values, better * groups[r], "less") for r in rivals)
        p = min(1.0, p)
        closest = rivals[int(np.argmin(observed))]
        a, b = claimed_values, better * groups[closest]
        if self.metric in metrics.CENSORED or len(a) < 2 or len(b) < 2:
            margins = [  # margin over the closest rival, per bootstrap sample
                differences({c: rng.choice(v, size=len(v)) for c, v in groups.items()}).min() for _ in range(BOOTSTRAP)
            ]
            low, high = np.percentile(margins, [2.5, 97.5])
            interval = "margin CI by bootstrap over seeds"
        else:  # the Welch interval of the difference with the closest rival, consistent with the p-value
            ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
            low, high = ci.low, ci.high
            interval = "margin CI: Welch, against the closest rival"
        observed = observed.min()
        scores = {c: stat(v) for c, v in groups.items()}
        best = max(scores, key=lambda c: better * scores[c])
        seen = (f"best: {full_label[best]} ({fmt(scores[best])}); claimed {label[cell]} ({fmt(scores[cell])})"
                if best != cell else f"{label[cell]} is best ({fmt(scores[cell])})")
        test = "pairwise Mann-Whitney U" if self.metric in metrics.CENSORED else "pairwise Welch t-tests"
        return counted(Verdict(says=self.says, metric=self.metric, test=f"{test}; {interval}",
            effect_name="margin over best rival", effect=float(observed), low=float(low), high=float(high), p=float(p),
            expected_sign=1, observed=seen, n=sum(map(len, groups.values()))),
                       rows, self.metric, unit)

    def equivalence(self, rows: pd.DataFrame, grid: dict[str, list], rng, margin: Margin, alpha: float) -> Equivalence:
        """That no rival lies more than ±margin from the claimed cell: Welch's TOST against each rival, the largest p
        (an intersection-union test); the interval is against the rival that p comes from. Not for times to target."""
        if self.metric in metrics.CENSORED:
            return NONE
        groups = {cell: replicates(g, self.metric)[0] for cell, g in rows.groupby("cell")}
        claimed = set(matching(rows, self.best_at)["cell"]) & {c for c, v in groups.items() if len(v) >= 2}
        rivals = [v for c, v in groups.items() if c not in claimed and len(v) >= 2]
        if len(claimed) != 1 or not rivals:
            return NONE
        a = groups[claimed.pop()]
        m = margin.at(float(np.mean(a)))
        better = 1 if metrics.BETTER[self.metric] == "max" else -1  # on the scale of the margin over the best rival
        tests = [welch_tost(better * a, better * b, m, alpha) for b in rivals]
        return max(tests, key=lambda t: t.p if math.isfinite(t.p) else math.inf)

    def survival_arms(self, rows: pd.DataFrame, axes: list[str]) -> list[tuple[str, pd.DataFrame]]:
        return cells_as_arms(self, rows, axes)


def one_sided(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
    """Welch's one-sided p, or Mann-Whitney's where a value is censored (+inf)."""
    if np.isinf(a).any() or np.isinf(b).any():
        return float(stats.mannwhitneyu(a, b, alternative=alternative).pvalue)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def _censored_median(v) -> float:
    v = np.sort(np.asarray(v, dtype=float))
    if len(v) == 0:
        return math.nan
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else float((v[mid - 1] + v[mid]) / 2)


def _difference(a: float, b: float) -> float:
    if math.isinf(a) and math.isinf(b) and a == b:
        return 0.0  # both never reached: a tie, not NaN
    return a - b
