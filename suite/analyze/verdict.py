"""Verdicts: does the data support each stated expectation of the claim?

Pure statistics, never on invented numbers. Each expectation gets an effect size
with a 95% interval, one test and its p-value; the p-values of a study are
Holm-corrected together, and a verdict is decided by that adjusted p alone:

- **supported**: Holm-adjusted p below alpha, in the claimed direction (for "equal
  within a margin": the two one-sided tests (TOST) say the difference is inside it);
- **refuted**: Holm-adjusted p below alpha, against it (for a margin: the one-sided
  test says the difference lies beyond it);
- **inconclusive**: neither. Too few seeds is a common, honest reason.

The replicate is what varies independently: seeds within a cell for comparisons of
two cells, the cells themselves for a trend across cells (a cell's seeds replicate the cell, not the trend).
Time to target is survival data: a seed that never reached the target is censored
at its budget (Kaplan-Meier, restricted mean time to target, exact log-rank test).
A sample without variance gets an exact test and an exact statement, never p = 0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from suite.analyze import survival
from suite.analyze.censoring import UNITS, common_budget, survival_data, with_budgets
from suite.study import BINARY_METRICS, CENSORED_METRICS, TRIAL_METRICS, Expect

BOOTSTRAP = 2000


@dataclass
class Verdict:
    says: str
    metric: str
    test: str
    effect_name: str
    effect: float
    low: float  # 95% interval of the effect
    high: float
    p: float
    expected_sign: int  # +1 or -1: the sign of the effect the claim predicts; 0 for equivalence
    observed: str  # what the data showed, in words
    n: int
    p_holm: float = math.nan
    verdict: str = "inconclusive"
    finding: str = ""  # time to target: "speed" (both arms reach it; how much sooner) or "reachability" (whether at all)
    outside: str = ""  # why the compared arms were outside the cited finding's regime ("" when inside)
    blocked: str = ""  # why the verdict cannot be decided whatever its p ("budget-limited: ..."); "" when it can
    on_limit: str = ""  # compared cells whose tuned setting was chosen on a declared hard limit (design.on_limits)
    units: str = "seeds"  # what n counts
    power: dict | None = None  # an undecided verdict's plan (power.attach): the replicates 80% power asks for


# --------------------------------------------------------------------------
# Selecting seed-level values
# --------------------------------------------------------------------------


def matching(trials: pd.DataFrame, values: dict) -> pd.DataFrame:
    mask = pd.Series(True, index=trials.index)
    for axis, value in values.items():
        mask &= trials[axis].map(lambda v: _same(v, value))
    return trials[mask]


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):  # pandas turns a null grid value into NaN
        return (a is None or (isinstance(a, float) and math.isnan(a))) and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
    return a == b


def seed_values(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """One value per finished trial; a censored trial is +inf (slower than any reached one)."""
    if metric not in rows:
        return np.full(len(rows), np.inf if metric in CENSORED_METRICS else np.nan)
    v = rows[metric].astype(float).to_numpy()
    if metric in CENSORED_METRICS:
        return np.where(np.isnan(v), np.inf, v)
    return v[~np.isnan(v)]


def describe(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


# --------------------------------------------------------------------------
# The kinds of expectation
# --------------------------------------------------------------------------


def trend(e: Expect, rows: pd.DataFrame, order: list) -> Verdict:
    """Spearman's rank correlation between the axis and each cell's value, with the cell as the unit.

    A cell's seeds replicate that cell (its training and, searched per block or per seed, its tuning), not
    the trend: n is the number of cells. A cell's value is its mean over seeds, or for a time to target its restricted mean time
    up to the budget every cell shares. The p is exact (every ordering of the cells) up to 8 cells."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in order)
    cells = [(g[e.along].iloc[0], g) for _, g in rows.groupby("cell")]
    xs = np.array([float(x) if numeric else float(order.index(x)) for x, _ in cells])
    ys = np.array(cell_values(e.metric, [g for _, g in cells]))
    keep = np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    sign = 1 if e.trend == "increasing" else -1
    n = len(ys)
    test = f"Spearman rank correlation over {n} cells"
    if n < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        why = f"no variation to correlate over {n} cells"
        if e.metric in CENSORED_METRICS and n >= 3 and len(set(ys)) < 2:  # say where the sameness comes from
            tau = common_budget(e.metric, [g for _, g in cells])
            why += (f": up to the budget every cell shares ({tau:g} {UNITS.get(e.metric, '')}, the smallest cell's), "
                    f"every cell's restricted mean time to target is {ys[0]:.3g}, so that budget leaves nothing to compare")
        return Verdict(e.says, e.metric, test, "rho", math.nan, math.nan, math.nan, math.nan, sign, why, n, units="cells")
    rho = round(float(stats.spearmanr(xs, ys)[0]), 12)  # a perfect ordering is 1, not 1 - 1e-16
    if n <= 8:
        null = [stats.spearmanr(xs, perm)[0] for perm in itertools.permutations(ys)]
        p = float(np.mean(np.abs(np.nan_to_num(null)) >= abs(rho) - 1e-12))
        test += " (exact p over every ordering)"
    else:
        p = float(stats.spearmanr(xs, ys)[1])
    # Fisher-z interval with Bonett & Wright's (2000) standard error for Spearman's rho.
    if n > 3 and abs(rho) < 1:
        half = 1.96 * math.sqrt((1 + rho**2 / 2) / (n - 3))
        low, high = math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)
        note = ""
    else:
        low = high = math.nan
        note = f"; a perfect ordering of {n} cells has no Fisher-z interval" if abs(rho) == 1 else ""
    word = "increasing" if rho > 0 else "decreasing" if rho < 0 else "flat"
    per = "restricted mean time to target" if e.metric in CENSORED_METRICS else "mean over its seeds"
    return Verdict(e.says, e.metric, test, "rho", rho, low, high, p, sign,
                   f"{e.metric} is {word} along {e.along} (rho = {rho:+.2f} over {n} cells, each cell's {per}){note}",
                   n, units="cells")


def cell_values(metric: str, groups: list[pd.DataFrame]) -> list[float]:
    """One value per cell: the mean over its seeds, or for a censored metric its restricted mean
    time to target up to the budget all the cells share."""
    if metric not in CENSORED_METRICS:
        values = [seed_values(g, metric) for g in groups]
        return [float(np.nanmean(v)) if len(v) else math.nan for v in values]
    data = [survival_data(g, metric) for g in groups]
    tau = common_budget(metric, groups)
    return [survival.rmst(t, r, tau)[0] if len(t) else math.nan for t, r in data]


def best_at(e: Expect, rows: pd.DataFrame, axes: list[str], rng) -> Verdict:
    """Margin of the claimed cell over the best other cell, with a bootstrap over seeds."""
    better = 1 if TRIAL_METRICS[e.metric] == "max" else -1
    groups = {cell: seed_values(g, e.metric) for cell, g in rows.groupby("cell")}
    groups = {c: v for c, v in groups.items() if len(v)}
    claimed = set(matching(rows, e.best_at)["cell"]) & set(groups)
    label = {cell: describe({a: g[a].iloc[0] for a in e.best_at}) for cell, g in rows.groupby("cell")}
    full_label = {cell: describe({a: g[a].iloc[0] for a in axes}) for cell, g in rows.groupby("cell")}
    if len(claimed) != 1 or len(groups) < 2:
        return Verdict(e.says, e.metric, "bootstrap over seeds", "margin", math.nan, math.nan, math.nan, math.nan,
                       1, "the claimed cell or its rivals have no data", sum(map(len, groups.values())))
    (cell,) = claimed
    stat = _censored_median if e.metric in CENSORED_METRICS else np.mean
    rivals = [c for c in groups if c != cell]

    def differences(samples: dict) -> np.ndarray:  # claimed minus each rival, "better" made positive
        return np.array([_difference(better * stat(samples[cell]), better * stat(samples[r])) for r in rivals])

    observed = differences(groups)
    # p-values from pairwise tests, not from the bootstrap: with a handful of seeds the
    # bootstrap's spread is far too narrow (it cannot see beyond the values it has).
    claimed_values = better * groups[cell]
    if observed.min() > 0:
        # Supported only if the claimed cell beats *every* rival (intersection-union test).
        p = 2 * max(_one_sided(claimed_values, better * groups[r], "greater") for r in rivals)
    else:
        # Refuted only if some rival is significantly better (Bonferroni over the rivals),
        # not merely because the best of several noisy rivals tends to look best.
        p = 2 * len(rivals) * min(_one_sided(claimed_values, better * groups[r], "less") for r in rivals)
    p = min(1.0, p)
    closest = rivals[int(np.argmin(observed))]
    a, b = claimed_values, better * groups[closest]
    if e.metric in CENSORED_METRICS or len(a) < 2 or len(b) < 2:
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
    seen = (f"best: {full_label[best]} ({_fmt(scores[best])}); claimed {label[cell]} ({_fmt(scores[cell])})"
            if best != cell else f"{label[cell]} is best ({_fmt(scores[cell])})")
    test = "pairwise Mann-Whitney U" if e.metric in CENSORED_METRICS else "pairwise Welch t-tests"
    return Verdict(e.says, e.metric, f"{test}; {interval}", "margin over best rival", float(observed), float(low),
                   float(high), float(p), 1, seen, sum(map(len, groups.values())))


def compare(e: Expect, rows: pd.DataFrame, rng) -> Verdict:
    a_rows, b_rows = matching(rows, e.compare), matching(rows, e.against)
    a, b = seed_values(a_rows, e.metric), seed_values(b_rows, e.metric)
    sign = 0 if e.within is not None else (1 if e.direction == "greater" else -1)
    what = f"{describe(e.compare)} vs {describe(e.against)}"
    if len(a) < 2 or len(b) < 2:
        return Verdict(e.says, e.metric, "-", "difference", math.nan, math.nan, math.nan, math.nan, sign,
                       f"too few trials ({len(a)} vs {len(b)})", len(a) + len(b))
    if e.statistic == "sd":
        return spread(e, a, b, what)
    if e.metric in CENSORED_METRICS:
        return time_to_target(e, a_rows, b_rows, what, sign)
    if e.metric in BINARY_METRICS and e.within is None:  # yes/no per seed: Fisher's exact test on the counts
        table = [[int(a.sum()), int(len(a) - a.sum())], [int(b.sum()), int(len(b) - b.sum())]]
        p = float(stats.fisher_exact(table).pvalue)
        low, high = newcombe(int(a.sum()), len(a), int(b.sum()), len(b))
        return Verdict(e.says, e.metric, "Fisher's exact test; Newcombe's score interval", "difference in proportion",
                       float(a.mean() - b.mean()), low, high, p, sign,
                       f"{what}: {int(a.sum())}/{len(a)} vs {int(b.sum())}/{len(b)} seeds", len(a) + len(b))
    diff = float(a.mean() - b.mean())
    seen = f"{what}: means {_fmt(a.mean())} vs {_fmt(b.mean())}"
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: an exact permutation test, an exact statement
        return _without_variance(e, a, b, what, sign)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    if e.within is None:
        p, test = float(stats.ttest_ind(a, b, equal_var=False).pvalue), "Welch t-test"
    elif abs(diff) < e.within:  # inside the margin: the two one-sided tests (TOST) can support equivalence
        p = float(max(stats.ttest_ind(a + e.within, b, equal_var=False, alternative="greater").pvalue,
                      stats.ttest_ind(a - e.within, b, equal_var=False, alternative="less").pvalue))
        test = f"TOST (Welch), margin ±{e.within:g}"
    else:  # beyond it: the one-sided test that the difference lies beyond the margin can refute it
        side = "greater" if diff > 0 else "less"
        p = float(stats.ttest_ind(a - (e.within if diff > 0 else -e.within), b, equal_var=False, alternative=side).pvalue)
        test = f"Welch one-sided, beyond the margin ±{e.within:g}"
    return Verdict(e.says, e.metric, test, "mean difference", diff, float(ci.low), float(ci.high), p, sign, seen,
                   len(a) + len(b))


def _without_variance(e: Expect, a: np.ndarray, b: np.ndarray, what: str, sign: int) -> Verdict:
    """Both arms without spread (e.g. every seed at training accuracy 1.000): the difference is known
    exactly, and the only test left is the permutation test, whose p is exact."""
    diff = float(a[0] - b[0])
    seen = f"{what}: all {len(a)} seeds at {a[0]:.3f} vs all {len(b)} at {b[0]:.3f}"
    if e.within is not None and abs(diff) < e.within:
        shift = e.within
        p = max(permutation_p(a + shift, b, "greater"), permutation_p(a - shift, b, "less"))
    elif e.within is not None:
        p = permutation_p(a - (e.within if diff > 0 else -e.within), b, "greater" if diff > 0 else "less")
    else:
        p = permutation_p(a, b, "two-sided")
    return Verdict(e.says, e.metric, "exact permutation test (no spread within either arm)", "mean difference", diff,
                   math.nan, math.nan, p, sign, seen + "; the difference is exact, so no interval", len(a) + len(b))


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


def time_to_target(e: Expect, a_rows: pd.DataFrame, b_rows: pd.DataFrame, what: str, sign: int) -> Verdict:
    """Two arms' times to target as right-censored survival data.

    Effect: the difference in restricted mean time to target (RMST) up to the budget both arms share,
    with its normal interval; test: the log-rank test, its p exact over relabellings of the seeds. The
    words say whether the arms differ in how soon they reach the target (both reach it in at least half
    their seeds) or in whether they reach it at all."""
    unit = UNITS[e.metric]
    (ta, ra), (tb, rb) = survival_data(a_rows, e.metric), survival_data(b_rows, e.metric)
    n = len(ta) + len(tb)
    tau = common_budget(e.metric, [a_rows, b_rows])
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
        first = describe(e.compare) if split > 0 else describe(e.against)
        seen += f"; complete separation: every seed of {first} reached the target before any seed of the other arm"
    low, high = (effect - half, effect + half) if half > 0 else (math.nan, math.nan)
    if half == 0:
        seen += "; no interval: neither arm's curve has any spread"
    return Verdict(e.says, e.metric, f"log-rank test ({how}); RMST difference, normal interval",
                   f"RMST difference ({unit})", float(effect), float(low), float(high), test.p_exact, sign, seen, n,
                   finding=finding)


def spread(e: Expect, a: np.ndarray, b: np.ndarray, what: str) -> Verdict:
    """The spread across seeds of two cells: effect log(SD_A / SD_B), with the F-test of the variance ratio
    and its exact interval (both assume seeds normally spread around each cell's mean)."""
    sign = 1 if e.direction == "greater" else -1
    var_a, var_b = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
    sds = f"{what}: SD across seeds {_fmt(math.sqrt(var_a))} vs {_fmt(math.sqrt(var_b))}"
    if var_a <= 0 or var_b <= 0:
        return Verdict(e.says, e.metric, "F-test of variances", "log(SD A / SD B)", math.nan, math.nan, math.nan,
                       math.nan, sign, sds + " (a cell without spread has no ratio)", len(a) + len(b))
    ratio, df_a, df_b = var_a / var_b, len(a) - 1, len(b) - 1
    p = float(min(1.0, 2 * min(stats.f.cdf(ratio, df_a, df_b), stats.f.sf(ratio, df_a, df_b))))
    low, high = ratio / stats.f.ppf(0.975, df_a, df_b), ratio / stats.f.ppf(0.025, df_a, df_b)
    return Verdict(e.says, e.metric, "F-test of variances", "log(SD A / SD B)", 0.5 * math.log(ratio),
                   0.5 * math.log(low), 0.5 * math.log(high), p, sign, f"{sds} (ratio {math.sqrt(ratio):.2f})",
                   len(a) + len(b))


def bound(e: Expect, rows: pd.DataFrame) -> Verdict:
    v = seed_values(rows, e.metric)
    value = next(x for x in (e.below, e.above, e.near) if x is not None)
    sign = -1 if e.below is not None else 1 if e.above is not None else 0
    if len(v) < 2:
        return Verdict(e.says, e.metric, "-", "mean - value", math.nan, math.nan, math.nan, math.nan, sign,
                       f"too few trials ({len(v)})", len(v))
    seen = f"mean {e.metric} = {_fmt(v.mean())} (vs {value:g})"
    if np.ptp(v) == 0:  # every seed the same value: the sign test is exact, and the statement is too
        return _constant_bound(e, v, value, sign)
    result = stats.ttest_1samp(v, value)
    ci = result.confidence_interval(0.95)
    p, test = float(result.pvalue), "one-sample t-test"
    diff = float(v.mean() - value)
    if e.near is not None and abs(diff) < e.within:
        p = float(max(stats.ttest_1samp(v, value - e.within, alternative="greater").pvalue,
                      stats.ttest_1samp(v, value + e.within, alternative="less").pvalue))
        test = f"TOST (one-sample), margin ±{e.within:g}"
    elif e.near is not None:
        shifted = value + e.within if diff > 0 else value - e.within
        p = float(stats.ttest_1samp(v, shifted, alternative="greater" if diff > 0 else "less").pvalue)
        test = f"one-sample t, one-sided beyond the margin ±{e.within:g}"
    return Verdict(e.says, e.metric, test, "mean - value", diff, float(ci.low - value), float(ci.high - value), p, sign,
                   seen, len(v))


def _constant_bound(e: Expect, v: np.ndarray, value: float, sign: int) -> Verdict:
    """All seeds at one value c: c - value is exact; the p is the exact sign test's (every seed on one side
    of the bound has probability 1/2^n when the median sits on it), so 5 seeds can give no less than 0.062."""
    c, n = float(v[0]), len(v)
    diff = c - value
    if e.near is not None and abs(diff) < e.within:  # inside the margin: both one-sided sign tests
        p, test = sign_floor(e, n), f"exact sign test, TOST, margin ±{e.within:g}"
    elif e.near is not None:
        p, test = sign_floor(e, n), f"exact sign test, one-sided beyond the margin ±{e.within:g}"
    else:
        p, test = (1.0 if diff == 0 else sign_floor(e, n)), "exact sign test"
    return Verdict(e.says, e.metric, test + " (no spread across seeds)", "mean - value", diff, math.nan, math.nan, p,
                   sign, f"all {n} seeds at {c:.3f} (vs {value:g}); the difference is exact, so no interval", n)


def steadier(e: Expect, rows: pd.DataFrame, rng) -> Verdict:
    """Spread across replicates of the average over an axis, against the spread of single values.

    Each replicate (e.g. one data.seed: one partition into folds) gives one averaged estimate
    (the mean over the folds) and several single estimates (each fold alone, as one hold-out
    split would). Effect: log(SD of averaged / SD of single); the interval and p-value come
    from a bootstrap over replicates, which keeps each replicate's folds together.
    """
    keys = [e.replicate] if e.replicate == "seed" else [e.replicate, "seed"]
    table = rows.pivot_table(index=keys, columns=e.steadier, values=e.metric, aggfunc="mean").dropna()
    if len(table) < 3 or table.shape[1] < 2:
        return Verdict(e.says, e.metric, "-", "log SD ratio", math.nan, math.nan, math.nan, math.nan, -1,
                       f"too few complete replicates ({len(table)})", int(table.size))
    values = table.to_numpy(dtype=float)

    def log_ratio(v: np.ndarray) -> float:
        averaged = v.mean(axis=1).std(ddof=1)
        single = np.sqrt(np.mean(v.var(axis=0, ddof=1)))  # pooled over the axis's values
        return math.log(averaged / single) if averaged > 0 and single > 0 else math.nan

    observed = log_ratio(values)
    boots = np.array([log_ratio(values[rng.integers(0, len(values), len(values))]) for _ in range(BOOTSTRAP)])
    boots = boots[np.isfinite(boots)]
    low, high = np.percentile(boots, [2.5, 97.5]) if len(boots) else (math.nan, math.nan)
    p = min(1.0, 2 * min(np.mean(boots >= 0), np.mean(boots <= 0))) if len(boots) else math.nan
    p = max(p, 1 / BOOTSTRAP) if not math.isnan(p) else p
    return Verdict(
        e.says, e.metric, f"bootstrap over {len(values)} replicates ({e.replicate})", "log(SD averaged / SD single)",
        observed, float(low), float(high), p, -1,
        f"SD across replicates: averaged over {e.steadier} {math.exp(observed) if math.isfinite(observed) else math.nan:.2f}"
        f" x that of a single {e.steadier}", int(values.size),
    )


# --------------------------------------------------------------------------
# A study's verdicts
# --------------------------------------------------------------------------


def smallest_p(e: Expect, n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value a comparison can reach with n_a and n_b trials, whatever the data.

    Rank tests (censored metrics) and Fisher's test (yes/no metrics) are exact, so few trials put a
    floor under p: 3 vs 3 can never go below 0.1. Welch's test has no such floor (0 here)."""
    if e.kind != "compare" or n_a == 0 or n_b == 0:
        return 0.0
    if e.metric in CENSORED_METRICS or (e.metric in BINARY_METRICS and e.within is None):
        return 2 / math.comb(n_a + n_b, n_a)
    return 0.0


def trend_floor(k: int) -> float:
    """The smallest p a trend's exact rank test over k cells can reach: 2 / k! (the two perfect orderings)."""
    return 2 / math.factorial(k)


def sign_floor(e: Expect, n: int) -> float:
    """The p of the exact sign test when all n seeds sit on one side of a bound (``_constant_bound``): one-sided
    against a margin (``near``), two-sided otherwise."""
    return 0.5**n if e.near is not None else min(1.0, 2 * 0.5**n)


def too_few(e: Expect, rows: pd.DataFrame, alpha: float) -> str:
    """Why no data could decide this verdict at its number of replicates ("" when some could): a trend's exact
    p over k cells is at least 2 / k!, an exact test of n_a vs n_b seeds has its own floor (``smallest_p``), and
    a bound whose seeds all sit on one value is tested by the exact sign test, whose p is at least 1 / 2^n."""
    if e.kind == "trend":
        k = rows["cell"].nunique()
        floor = trend_floor(k) if k >= 2 else 0.0
        why = f"a trend over {k} cells cannot give p below {floor:.2g} whatever the data (add cells)"
    elif e.kind == "compare":
        n_a, n_b = len(matching(rows, e.compare)), len(matching(rows, e.against))
        floor = smallest_p(e, n_a, n_b)
        why = f"{n_a} vs {n_b} seeds cannot give p below {floor:.2g} whatever the data (add seeds)"
    elif e.kind == "bound" and e.metric in rows:
        v = rows[e.metric].astype(float).dropna()
        if len(v) == 0 or np.ptp(v) != 0:  # with a spread the t-test decides, and it has no floor
            return ""
        floor = sign_floor(e, len(v))
        why = (f"with every one of its {len(v)} seeds at the same value, the exact sign test cannot give p below "
               f"{floor:.2g} (add seeds)")
    else:
        return ""
    return f"too few replicates: {why}" if floor > alpha else ""


def power_warnings(study, cells) -> list[str]:
    """One line per comparison that cannot reach the study's alpha at its number of seeds, and per trend
    that cannot at its number of cells (its replicates: the exact p of k cells is at least 2 / k!)."""
    out = []
    for i, e in enumerate(study.expect):
        if e.kind == "trend":
            k = sum(all(_same(c.values.get(key), v) for key, v in e.where.items()) for c in cells)
            if k >= 2 and trend_floor(k) > study.alpha:
                out.append(f"expect[{i}] ({e.metric}): a trend over {k} cells cannot give p below "
                           f"{trend_floor(k):.2g} (alpha {study.alpha:g}): its replicates are cells, so add cells")
            continue
        if e.kind != "compare":
            continue

        def trials(values):
            return sum(all(_same(c.values.get(k), v) for k, v in {**e.where, **values}.items()) for c in cells) * len(study.seeds)

        floor = smallest_p(e, trials(e.compare), trials(e.against))
        if floor > study.alpha:
            out.append(
                f"expect[{i}] ({e.metric}): {trials(e.compare)} vs {trials(e.against)} trials cannot give p below {floor:.2g} "
                f"(alpha {study.alpha:g}), so its verdict can only be inconclusive: add seeds"
            )
    return out


def evaluate(expects: list[Expect], trials: pd.DataFrame, grid: dict[str, list], alpha: float, seed: int = 0,
             caps: dict[int, int] | None = None, limits: dict[int, str] | None = None) -> list[Verdict]:
    """Each expectation's verdict. ``caps`` (cell index -> its epoch budget, ``train.epochs``) lets a verdict on
    a measure taken at the end of training see which arms were still improving at their cap: those verdicts
    are not decided ("budget-limited"). Without ``caps`` each cell's median epochs run stands in. ``limits``
    (cell index -> what its searches chose on a hard limit, ``design.on_limits``) names those cells in the
    verdicts that compare them."""
    rng = np.random.default_rng(seed)  # the bootstrap is seeded: the same data give the same report
    done = with_budgets(trials[trials["status"] == "FINISHED"]) if len(trials) else trials
    verdicts = []
    for e in expects:
        rows = matching(done, e.where) if len(done) else done
        if rows.empty:
            v = Verdict(e.says, e.metric, "-", "-", math.nan, math.nan, math.nan, math.nan, 0, "no finished trials", 0)
        elif e.kind == "trend":
            v = trend(e, rows, list(grid[e.along]))
        elif e.kind == "best_at":
            v = best_at(e, rows, list(grid), rng)
        elif e.kind == "compare":
            v = compare(e, rows, rng)
        elif e.kind == "steadier":
            v = steadier(e, rows, rng)
        else:
            v = bound(e, rows)
        if e.literature is not None and not rows.empty:
            v.outside = outside_regime(e, rows, list(grid), caps)
        if not rows.empty and e.metric in END_OF_TRAINING:
            limited = [f"{label} {why}" for label, why in improving_cells(e, rows, list(grid), caps)]
            if limited:
                v.blocked = "budget-limited (" + _first_few(limited) + ")"
        if not rows.empty and (few := too_few(e, rows, alpha)):
            v.blocked = "; ".join(filter(None, (v.blocked, few)))
        if not rows.empty and limits:
            v.on_limit = "; ".join(f"{_label(g, list(grid))}: {limits[int(g['cell'].iloc[0])]}"
                                   for g in _compared(e, rows) if int(g["cell"].iloc[0]) in limits)
        verdicts.append(v)
    for e, v, adjusted in zip(expects, verdicts, holm([v.p for v in verdicts])):
        v.p_holm = adjusted
        v.verdict = decide(v, alpha, e)
    return verdicts


STILL_IMPROVING = 0.9  # a cell whose median best epoch falls in the last 10% of its epochs had not converged
FITS = 0.99  # "fits the training set": mean training accuracy at least this


# Measures taken when training ends (or at its best epoch): only meaningful for arms that had stopped improving.
END_OF_TRAINING = frozenset(m for m in TRIAL_METRICS if m.startswith(("test_", "train_accuracy", "train_loss",
                                                                       "final_val", "best_val", "generalization")))


def _compared(e: Expect, rows: pd.DataFrame) -> list[pd.DataFrame]:
    """The cells an expectation compares, one frame each."""
    if e.kind == "compare":
        return [g for part in (matching(rows, e.compare), matching(rows, e.against)) for _, g in part.groupby("cell")]
    return [g for _, g in rows.groupby("cell")]


def _label(g: pd.DataFrame, axes: list[str]) -> str:
    return describe({a: g[a].iloc[0] for a in axes if a in g}) or "the only cell"


def caps(resolved) -> dict[int, float]:
    """Each cell's epoch budget (its ``train.epochs``): what "trained to its cap" means for a cell. A budget in
    steps (``train.steps``) has its cap set from the data at run time: those cells are left out (their
    median epochs run stands in). A decaying learning-rate schedule anneals over its budget by design: its
    best epoch falls at the end because the rate reaches its final value there, not because training was
    cut short, so its cell has no cap to be limited by (``math.inf``)."""
    return {c.index: math.inf if c.settings.train.schedule != "constant" else int(c.settings.train.epochs)
            for c in resolved.cells if c.settings.train.steps is None}


def still_improving(g: pd.DataFrame, caps: dict[int, int] | None) -> str:
    """Why one cell had not converged ("" when it had): its median best epoch in the last 10% of its budget, and
    (given its cap in ``caps``) it trained to the cap. A run that early stopping ended before the cap had stopped
    improving."""
    if not {"best_epoch", "epochs_run"} <= set(g):
        return ""
    cap = (caps or {}).get(int(g["cell"].iloc[0])) if "cell" in g else None
    best, run = g["best_epoch"].astype(float).median(), g["epochs_run"].astype(float).median()
    budget = float(cap) if cap else run
    if math.isnan(best) or run < budget or best <= STILL_IMPROVING * budget:
        return ""
    return f"still improving (median best epoch {best:g} of {budget:g})"


def improving_cells(e: Expect, rows: pd.DataFrame, axes: list[str], caps: dict[int, int] | None) -> list[tuple[str, str]]:
    """(label, why) for each compared cell still improving when its budget ran out."""
    out = []
    for g in _compared(e, rows):
        why = still_improving(g, caps)
        if why:
            out.append((_label(g, axes), why))
    return out


def _first_few(reasons: list[str]) -> str:
    return "; ".join([*reasons[:2], f"and {len(reasons) - 2} more cells"] if len(reasons) > 2 else reasons)


def outside_regime(e: Expect, rows: pd.DataFrame, axes: list[str], caps: dict[int, int] | None = None) -> str:
    """Why the compared arms were outside the regime of the finding the expectation cites ("" when inside).

    A metric measured at initialization (before any training step) is in every training regime alike."""
    if e.metric.endswith("_init") or e.metric == "initial_loss":
        return ""
    reasons = []
    for g in _compared(e, rows):
        label = _label(g, axes)
        if e.metric in CENSORED_METRICS:  # a finding about how much sooner needs arms that reach the target
            t, r = survival_data(g, e.metric)
            if len(t) and not math.isfinite(survival.median_time(t, r)[0]):
                reasons.append(f"{label} reached the target in {int(r.sum())} of {len(r)} seeds (the finding is about "
                               "how soon, not whether)")
        elif e.literature.regime == "converged":
            why = still_improving(g, caps)
            if why:
                reasons.append(f"{label} {why}")
        elif e.literature.regime == "fits training set" and "train_accuracy" in g:
            accuracy = g["train_accuracy"].astype(float).mean()
            if accuracy < FITS:
                reasons.append(f"{label} fits {accuracy:.2f} of its training set")
    return _first_few(reasons)


def decide(v: Verdict, alpha: float, e: Expect) -> str:
    """The one rule: a verdict is decided by its Holm-adjusted p below alpha, and its sign says which way.
    For a margin, the estimate picks the test (TOST inside, one-sided beyond), so a decided verdict
    inside the margin supports and one beyond it refutes."""
    if v.blocked or math.isnan(v.p_holm) or math.isnan(v.effect) or v.p_holm >= alpha:
        return "inconclusive"
    if v.expected_sign == 0:
        return "supported" if abs(v.effect) < e.within else "refuted"
    if v.effect == 0:
        return "inconclusive"
    return "supported" if np.sign(v.effect) == v.expected_sign else "refuted"


SCALE_ENDS = {"P(A > B) - 1/2": 0.5, "difference in proportion": 1.0}  # effects bounded by +-end


def ruled_out(verdict: str, effect_name: str, low: float | None, high: float | None, expected_sign: int) -> str:
    """What an inconclusive verdict still says: the effects its 95% interval excludes ("" otherwise).

    "Dropout 0.5 is better" left inconclusive with a difference of +0.004 [-0.011, +0.019] still rules
    out an advantage above 0.019: a finding about the claim's size, not only a failure to decide."""
    if verdict != "inconclusive" or low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    end = SCALE_ENDS.get(effect_name)  # a bounded effect whose interval reaches the end of its scale excludes nothing
    bound = high if expected_sign > 0 else low if expected_sign < 0 else None
    if end is not None and bound is not None and abs(bound) >= end - 1e-12:
        return f"rules out no size of effect: its 95% CI reaches the end of the scale ({bound:+.3g}); more seeds needed"
    if expected_sign > 0:
        return f"rules out a {effect_name} above {high:+.3g} (95% CI)"
    if expected_sign < 0:
        return f"rules out a {effect_name} below {low:+.3g} (95% CI)"
    return f"{effect_name} between {low:+.3g} and {high:+.3g} (95% CI)"


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment; NaN p-values (untestable) are left out and stay NaN."""
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


def _with_ci(mean: float, se: float) -> str:
    return f"{mean:.3g}" if se == 0 else f"{mean:.3g} [{mean - 1.96 * se:.3g}, {mean + 1.96 * se:.3g}]"


def _median(median: float, ci: list[float]) -> str:
    """A median time to target with its interval; 'not reached' where the curve never falls to a half."""
    shown = lambda x: "not reached" if not math.isfinite(x) else f"{x:.3g}"  # noqa: E731
    return f"{shown(median)} [{shown(ci[0])}, {shown(ci[1])}]"


def _one_sided(a: np.ndarray, b: np.ndarray, alternative: str) -> float:
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


def _fmt(x: float) -> str:
    return "not reached" if x == math.inf else f"{x:.3g}"
