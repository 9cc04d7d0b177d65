"""Statistical tests with no opinion about studies: one function per test, scipy's habits.

Each function states its assumptions, its null and its alternative, and returns a small result object with
named fields, never a bare tuple. The expectation kinds (``suite/kinds/``), the verdicts' multiplicity
(``analyze/decision.py``) and replication (``running/replicate.py``) call them; none of them knows a study.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

EXACT_LIMIT = 20_000  # relabellings enumerated in full up to this many; beyond it, a Monte Carlo sample of this size


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
# Differences of means and of proportions: tests, intervals, equivalence
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Equivalence:
    """The two one-sided tests (TOST) that an effect lies inside ±margin: their p (the larger of the two), the
    (1 - 2 alpha) interval whose lying inside the margin they amount to, and the margin in the effect's units."""

    p: float = math.nan
    low: float = math.nan
    high: float = math.nan
    margin: float = math.nan


NO_EQUIVALENCE = Equivalence()


def pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    """The pooled standard deviation of two samples (two values each at least)."""
    return float(math.sqrt((np.var(a, ddof=1) * (len(a) - 1) + np.var(b, ddof=1) * (len(b) - 1)) / (len(a) + len(b) - 2)))


def nearer_zero(a: np.ndarray, b: np.ndarray) -> float:
    """The bound nearer zero of the 95% Welch interval of mean(a) - mean(b), or 0 where the interval spans zero or
    there is none (no spread)."""
    if np.var(a) + np.var(b) <= 0:
        return 0.0
    low, high = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    if low <= 0 <= high:
        return 0.0
    return float(low if low > 0 else high)


def tost(a: np.ndarray, b: np.ndarray, m: float) -> float:
    """The p of the two one-sided tests that mean(a) - mean(b) lies inside (-m, m): the larger of Welch's
    one-sided p against -m and against +m, or of the exact permutation tests where neither sample has any spread.

    Null: the difference lies at or beyond a margin; alternative: inside both. Assumes what Welch's test assumes
    (independent samples, each mean roughly normal); the permutation tests assume exchangeability only."""
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return max(permutation_p(a + m, b, "greater"), permutation_p(a - m, b, "less"))
    return float(max(stats.ttest_ind(a + m, b, equal_var=False, alternative="greater").pvalue,
                     stats.ttest_ind(a - m, b, equal_var=False, alternative="less").pvalue))


def welch_tost(a: np.ndarray, b: np.ndarray, m: float, alpha: float) -> Equivalence:
    """TOST of mean(a) - mean(b) inside ±m (``tost``), with the (1 - 2 alpha) Welch interval it amounts to (where
    neither sample has any spread the difference is exact, and so is its "interval")."""
    if not (m > 0 and np.isfinite(a).all() and np.isfinite(b).all()):
        return NO_EQUIVALENCE
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        diff = float(a[0] - b[0])
        return Equivalence(tost(a, b, m), diff, diff, m)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(1 - 2 * alpha)
    return Equivalence(tost(a, b, m), float(ci.low), float(ci.high), m)


def permutation_p(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
    """Exact permutation p of the difference in means (every relabelling of the pooled values; beyond
    ``EXACT_LIMIT`` relabellings, a seeded Monte Carlo sample of that many with the observed one).

    Null: the labels are exchangeable; ``alternative``: ``greater`` (a's mean larger), ``less`` or ``two-sided``."""
    pooled = np.concatenate([a, b])
    total = pooled.sum()
    observed = a.mean() - b.mean()
    if math.comb(len(pooled), len(a)) <= EXACT_LIMIT:
        labellings = (list(m) for m in itertools.combinations(range(len(pooled)), len(a)))
    else:
        rng = np.random.default_rng(0)
        labellings = [list(range(len(a))), *(rng.permutation(len(pooled))[: len(a)] for _ in range(EXACT_LIMIT))]
    sums = np.array([pooled[m].sum() for m in labellings])
    diffs = sums / len(a) - (total - sums) / len(b)
    eps = 1e-12
    if alternative == "greater":
        return float(np.mean(diffs >= observed - eps))
    if alternative == "less":
        return float(np.mean(diffs <= observed + eps))
    return float(np.mean(np.abs(diffs) >= abs(observed) - eps))


def newcombe(k_a: int, n_a: int, k_b: int, n_b: int, level: float = 0.95) -> tuple[float, float]:
    """Newcombe's (1998, method 10) hybrid score interval for a difference of two proportions k_a/n_a - k_b/n_b:
    Wilson's interval for each, combined; never zero-width, and inside [-1, 1]."""
    z = float(stats.norm.ppf(0.5 + level / 2))

    def wilson(k, n):
        p = k / n
        centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    pa, pb = k_a / n_a, k_b / n_b
    (la, ua), (lb, ub) = wilson(k_a, n_a), wilson(k_b, n_b)
    d = pa - pb
    return (d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2), d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2))


def newcombe_tost(k_a: int, n_a: int, k_b: int, n_b: int, m: float, alpha: float) -> Equivalence:
    """TOST of a difference of two proportions inside ±m by interval inclusion: the effect is inside at level alpha
    when Newcombe's (1 - 2 alpha) interval lies inside (-m, m). Its p is the smallest alpha at which that holds (the
    interval narrows as alpha grows, to the point estimate at 0.5): the root of the interval's outer edge minus m,
    found by Brent's method (``scipy.optimize.brentq``)."""
    if not m > 0:
        return NO_EQUIVALENCE
    interval = newcombe(k_a, n_a, k_b, n_b, 1 - 2 * alpha)
    if abs(k_a / n_a - k_b / n_b) >= m:
        return Equivalence(1.0, *interval, m)

    def outside(a: float) -> float:  # > 0 while the (1 - 2a) interval reaches beyond the margin; falls as a grows
        low, high = newcombe(k_a, n_a, k_b, n_b, 1 - 2 * a)
        return max(-low, high) - m

    low, high = 1e-12, 0.5
    if outside(low) < 0:
        return Equivalence(low, *interval, m)
    return Equivalence(float(optimize.brentq(outside, low, high, xtol=1e-15)), *interval, m)


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
