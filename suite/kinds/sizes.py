"""Sample sizes: the power of each test the kinds use, and the fewest replicates that reach 80% of it.

Power uses the noncentral t distribution with equal groups (Welch's test and TOST), the F
distribution (spreads), and simulation from a pilot's seeds (the log-rank test). A pilot's
effect is an estimate: a small pilot overstates it as often as not, so these numbers make a
plan for a new run on new seeds, planned once, never a count of seeds to add until p drops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from suite.kinds import survival

TARGET_POWER = 0.8
MAX_SEEDS = 1000


@dataclass(frozen=True)
class Plan:
    says: str
    metric: str
    seeds_now: int  # per side, in the pilot
    effect: float  # difference of means, compare - against
    sd: float  # pooled standard deviation across seeds
    alpha: float  # per test: the study's alpha over the tested expectations
    seeds_needed: int | None  # per side, for 80% power at the effect its kind plans for; None: cannot be planned
    detectable: float  # minimum detectable effect at seeds_now
    note: str = ""
    never: bool = False  # no number of seeds gives the power (an equivalence the pilot's difference lies outside)


def power(effect: float, sd: float, n: int, alpha: float) -> float:
    """Power of a two-sided two-sample t test with ``n`` seeds per side."""
    if n < 2 or sd <= 0:
        return math.nan
    df = 2 * n - 2
    noncentrality = abs(effect) / (sd * math.sqrt(2 / n))
    critical = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality))


def seeds_for(effect: float, sd: float, alpha: float, target: float = TARGET_POWER) -> int | None:
    """The fewest seeds per side reaching ``target`` power; None beyond MAX_SEEDS or with no effect."""
    if not math.isfinite(effect) or effect == 0 or not math.isfinite(sd) or sd <= 0:
        return None
    return fewest(lambda n: power(effect, sd, n, alpha), target)


def equivalence_power(effect: float, sd: float, n: int, margin: float, alpha: float) -> float:
    """Power of TOST (two one-sided t tests at ``alpha``) to show |difference| < ``margin`` with ``n`` seeds
    per side, when the true difference is ``effect``: P(-margin + t SE < observed < margin - t SE)."""
    if n < 2 or sd <= 0:
        return math.nan
    df, se = 2 * n - 2, sd * math.sqrt(2 / n)
    critical = stats.t.ppf(1 - alpha, df)
    inside = stats.t.cdf((margin - abs(effect)) / se - critical, df) + stats.t.cdf((margin + abs(effect)) / se - critical, df) - 1
    return float(max(0.0, inside))


def spread_power(log_ratio: float, n: int, alpha: float) -> float:
    """Power of the two-sided F-test of variances with ``n`` seeds per side, when the true SD ratio is
    exp(``log_ratio``): the observed variance ratio is the true one times an F(n-1, n-1) variable."""
    if n < 2:
        return math.nan
    df, true_ratio = n - 1, math.exp(2 * log_ratio)
    low, high = stats.f.ppf(alpha / 2, df, df), stats.f.isf(alpha / 2, df, df)
    return float(stats.f.cdf(low / true_ratio, df, df) + stats.f.sf(high / true_ratio, df, df))


def spread_equivalence_power(margin: float, n: int, alpha: float) -> float:
    """Power of the TOST of two spreads at ±``margin`` (log SD ratio) with ``n`` seeds per side, when they are equal:
    both one-sided F-tests reject, i.e. the variance ratio R ~ F(n-1, n-1) lies between exp(-2 margin) F_(1-alpha)
    and exp(2 margin) F_alpha (the test of ``spread.Spread.equivalence``)."""
    if n < 2:
        return math.nan
    df = n - 1
    low, high = math.exp(-2 * margin) * stats.f.isf(alpha, df, df), math.exp(2 * margin) * stats.f.ppf(alpha, df, df)
    return float(max(0.0, stats.f.cdf(high, df, df) - stats.f.cdf(low, df, df)))


def fewest(power_at, target: float) -> int | None:
    """The smallest n >= 2 with ``power_at(n) >= target`` (power rises with n); None beyond MAX_SEEDS."""
    low, high = 2, 2
    while power_at(high) < target:
        low, high = high, high * 2
        if high > MAX_SEEDS:
            return None
    while low < high:
        mid = (low + high) // 2
        if power_at(mid) >= target:
            high = mid
        else:
            low = mid + 1
    return high


def detectable(sd: float, n: int, alpha: float, target: float = TARGET_POWER) -> float:
    """The smallest difference detected with ``target`` power at ``n`` seeds per side."""
    if n < 2 or not math.isfinite(sd) or sd <= 0:
        return math.nan
    return smallest_effect(lambda effect: power(effect, sd, n, alpha), sd, target)


def smallest_effect(power_at, start: float, target: float) -> float:
    """The smallest effect >= 0 with ``power_at(effect) >= target`` (power rising with the effect): doubling
    from ``start`` until it is reached, then bisection."""
    low, high = 0.0, start
    while power_at(high) < target:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if power_at(mid) < target else (low, mid)
    return high


SIMULATIONS = 400


def logrank_power(arm_a: tuple, arm_b: tuple, n: int, alpha: float, weight: float = 1.0, seed: int = 0) -> float:
    """Power of the log-rank test (asymptotic p) with ``n`` seeds per arm, each arm's seeds drawn with
    replacement from its pilot (times, reached): the pilot's curves taken as the truth. With ``weight`` below 1,
    the first arm is the mixture that draws from its own pilot with that probability and from the second's
    otherwise: its survival curve, and so its restricted mean, moves that share of the way to the second's."""
    rng = np.random.default_rng(seed)
    (ta, ra), (tb, rb) = arm_a, arm_b
    pooled_t, pooled_r = np.concatenate([ta, tb]), np.concatenate([ra, rb])
    rejected = 0
    for _ in range(SIMULATIONS):
        i, j = rng.integers(0, len(ta), n), rng.integers(0, len(tb), n)
        if weight < 1:  # an index past len(ta) points into the second pilot
            i = np.where(rng.random(n) < weight, i, len(ta) + rng.integers(0, len(tb), n))
        rejected += survival.asymptotic_p(pooled_t[i], pooled_r[i], tb[j], rb[j]) < alpha
    return rejected / SIMULATIONS
