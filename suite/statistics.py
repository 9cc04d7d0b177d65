"""Statistical tests with no opinion about studies: one function per test, scipy's habits.

Each function states its assumptions, its null and its alternative, and returns a small result object with
named fields, never a bare tuple. The expectation kinds (``suite/kinds/``), the verdicts' multiplicity
(``analyze/decision.py``) and replication (``running/replicate.py``) call them; none of them knows a study.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class TwoSample:
    """A two-sample test: its name, statistic and two-sided p-value, and the difference it tests (a minus b)."""

    test: str
    statistic: float
    pvalue: float
    difference: float
    n_a: int
    n_b: int


def _clean(values) -> np.ndarray:
    return np.asarray([float(v) for v in values if v is not None and not math.isnan(float(v))], dtype=float)


def welch(a, b) -> TwoSample:
    """Welch's two-sample t-test that two means are equal (two-sided), NaN values left out.

    Assumes independent samples, each roughly normal (or large enough for its mean to be), with variances
    that may differ. Where neither sample varies, the answer is exact: p = 1 for equal values, 0 otherwise;
    with fewer than two values on a side there is no test (p NaN).

    >>> welch([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).pvalue
    1.0
    """
    a, b = _clean(a), _clean(b)
    if len(a) < 2 or len(b) < 2:
        return TwoSample("Welch t", math.nan, math.nan, math.nan, len(a), len(b))
    difference = float(a.mean() - b.mean())
    if a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
        same = math.isclose(a[0], b[0], rel_tol=1e-12, abs_tol=1e-15)
        return TwoSample("Welch t", 0.0 if same else math.inf, 1.0 if same else 0.0, difference, len(a), len(b))
    t = stats.ttest_ind(a, b, equal_var=False)
    return TwoSample("Welch t", float(t.statistic), float(t.pvalue), difference, len(a), len(b))


def rank_sum(a, b) -> TwoSample:
    """The Mann-Whitney U test that neither sample tends to be larger (two-sided).

    For right-censored times at a common budget: a missing value (never reached) ranks after every value,
    so it counts as slower than any reached one without being given a number. Assumes independent samples;
    exact for small samples without ties. The difference is that of the medians (inf where one is a miss).
    """
    def ranked(values):
        return np.asarray([math.inf if v is None or math.isnan(float(v)) else float(v) for v in values], dtype=float)

    a, b = ranked(a), ranked(b)
    if len(a) < 1 or len(b) < 1:
        return TwoSample("Mann-Whitney U", math.nan, math.nan, math.nan, len(a), len(b))
    if len(set(np.concatenate([a, b]))) == 1:
        return TwoSample("Mann-Whitney U", 0.0, 1.0, 0.0, len(a), len(b))
    u = stats.mannwhitneyu(np.where(np.isinf(a), 1e300, a), np.where(np.isinf(b), 1e300, b), alternative="two-sided")
    median = lambda x: float(np.median(x))  # noqa: E731
    difference = median(a) - median(b) if math.isfinite(median(a)) and math.isfinite(median(b)) else math.inf
    return TwoSample("Mann-Whitney U", float(u.statistic), float(u.pvalue), difference, len(a), len(b))


def counts(a, b) -> TwoSample:
    """Fisher's exact test that two yes/no rates are equal (two-sided), from 0/1 values, NaN values left out."""
    a, b = _clean(a), _clean(b)
    if len(a) == 0 or len(b) == 0:
        return TwoSample("Fisher exact", math.nan, math.nan, math.nan, len(a), len(b))
    table = [[int(a.sum()), int(len(a) - a.sum())], [int(b.sum()), int(len(b) - b.sum())]]
    odds, p = stats.fisher_exact(table)
    return TwoSample("Fisher exact", float(odds), float(p), float(a.mean() - b.mean()), len(a), len(b))


# --------------------------------------------------------------------------
# Multiplicity
# --------------------------------------------------------------------------


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment: controls the family-wise error rate under any dependence between the
    tests. NaN p-values (untestable) are left out and stay NaN.

    >>> holm([0.01, 0.04, math.nan])
    [0.02, 0.04, nan]
    """
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m = len(indexed)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def benjamini_yekutieli(pvalues: list[float]) -> list[float]:
    """Benjamini & Yekutieli's (2001) step-up adjustment: controls the false discovery rate under any
    dependence between the tests (the expectations of one study share their trials). NaN stays NaN."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m = len(indexed)
    out = [math.nan] * len(pvalues)
    if m == 0:
        return out
    harmonic = sum(1 / k for k in range(1, m + 1))
    running = 1.0
    for rank in range(m, 0, -1):  # from the largest p down
        p, i = indexed[rank - 1]
        running = min(running, p * m * harmonic / rank)
        out[i] = min(1.0, running)
    return out
