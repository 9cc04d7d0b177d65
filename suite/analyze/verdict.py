"""Verdicts: does the data support each stated expectation of the claim?

Pure statistics on seed-level values (one value per trial), never on cell means
alone. Each expectation gets an effect size with a 95% interval, a test and its
p-value; the p-values of a study are Holm-corrected together, and a verdict is

- **supported**: significant after correction, in the claimed direction;
- **refuted**: significant after correction, against it (or, for "equal within
  a margin", the interval lies wholly outside the margin);
- **inconclusive**: neither. Too few seeds is a common, honest reason.

Censored values (target never reached) enter only through ranks, as slower than
every reached value: a claim about time is never judged on invented numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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
    """Spearman's rank correlation between the axis and the metric, over all seed-level values."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in order)
    xs, ys = [], []
    for _, group in rows.groupby("cell"):
        y = seed_values(group, e.metric)
        value = group[e.along].iloc[0]
        xs += [float(value) if numeric else float(order.index(value))] * len(y)
        ys += list(y)
    xs, ys = np.array(xs), np.array(ys)
    sign = 1 if e.trend == "increasing" else -1
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return Verdict(e.says, e.metric, "Spearman rank correlation", "rho", math.nan, math.nan, math.nan, math.nan,
                       sign, "no variation to correlate", len(ys))
    rho, p = stats.spearmanr(xs, ys)
    # Fisher-z interval with Bonett & Wright's (2000) standard error for Spearman's rho. (A bootstrap
    # within cells of three seeds duplicates values, inflates |rho| and can miss the estimate.)
    n = len(ys)
    if n > 3 and abs(rho) < 1:
        half = 1.96 * math.sqrt((1 + rho**2 / 2) / (n - 3))
        low, high = math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)
    else:
        low = high = float(rho)
    word = "increasing" if rho > 0 else "decreasing" if rho < 0 else "flat"
    return Verdict(e.says, e.metric, "Spearman rank correlation", "rho", float(rho), low, high, float(p),
                   sign, f"{e.metric} is {word} along {e.along} (rho = {rho:+.2f})", len(ys))


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
    a = seed_values(matching(rows, e.compare), e.metric)
    b = seed_values(matching(rows, e.against), e.metric)
    sign = 0 if e.within is not None else (1 if e.direction == "greater" else -1)
    what = f"{describe(e.compare)} vs {describe(e.against)}"
    if len(a) < 2 or len(b) < 2:
        return Verdict(e.says, e.metric, "-", "difference", math.nan, math.nan, math.nan, math.nan, sign,
                       f"too few trials ({len(a)} vs {len(b)})", len(a) + len(b))
    if e.statistic == "sd":
        return spread(e, a, b, what)
    if np.isinf(a).any() or np.isinf(b).any():  # censored: ranks only
        u, p = stats.mannwhitneyu(a, b, alternative="two-sided")
        effect = u / (len(a) * len(b))  # P(A > B) + P(A = B) / 2
        boots = [stats.mannwhitneyu(rng.choice(a, len(a)), rng.choice(b, len(b)))[0] / (len(a) * len(b))
                 for _ in range(BOOTSTRAP)]
        low, high = np.percentile(boots, [2.5, 97.5])
        reached = f"reached target {np.isfinite(a).sum()}/{len(a)} vs {np.isfinite(b).sum()}/{len(b)}"
        floor = 2 / math.comb(len(a) + len(b), len(a))  # the smallest two-sided p this test can give
        if floor >= 0.05:
            reached += f"; an exact rank test on {len(a)} vs {len(b)} seeds cannot go below p = {floor:.2g}"
        return Verdict(e.says, e.metric, "Mann-Whitney U (censored values ranked last)", "P(A > B) - 1/2",
                       float(effect - 0.5), float(low - 0.5), float(high - 0.5), float(p), sign,
                       f"{what}: medians {_fmt(_censored_median(a))} vs {_fmt(_censored_median(b))}; {reached}",
                       len(a) + len(b))
    if e.metric in BINARY_METRICS and e.within is None:  # yes/no per seed: Fisher's exact test on the counts
        table = [[int(a.sum()), int(len(a) - a.sum())], [int(b.sum()), int(len(b) - b.sum())]]
        p = float(stats.fisher_exact(table).pvalue)
        boots = [rng.choice(a, len(a)).mean() - rng.choice(b, len(b)).mean() for _ in range(BOOTSTRAP)]
        low, high = np.percentile(boots, [2.5, 97.5])
        return Verdict(e.says, e.metric, "Fisher's exact test", "difference in proportion", float(a.mean() - b.mean()),
                       float(low), float(high), p, sign,
                       f"{what}: {int(a.sum())}/{len(a)} vs {int(b.sum())}/{len(b)} seeds", len(a) + len(b))
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(0.95)
    diff = float(a.mean() - b.mean())
    p = float(result.pvalue)
    test = "Welch t-test"
    if e.within is not None:  # equivalence: two one-sided tests
        p = float(max(stats.ttest_ind(a + e.within, b, equal_var=False, alternative="greater").pvalue,
                      stats.ttest_ind(a - e.within, b, equal_var=False, alternative="less").pvalue))
        test = f"TOST (Welch), margin ±{e.within:g}"
    return Verdict(e.says, e.metric, test, "mean difference", diff, float(ci.low), float(ci.high), p, sign,
                   f"{what}: means {_fmt(a.mean())} vs {_fmt(b.mean())}", len(a) + len(b))


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
    result = stats.ttest_1samp(v, value)
    ci = result.confidence_interval(0.95)
    p, test = float(result.pvalue), "one-sample t-test"
    if e.near is not None:
        p = float(max(stats.ttest_1samp(v, value - e.within, alternative="greater").pvalue,
                      stats.ttest_1samp(v, value + e.within, alternative="less").pvalue))
        test = f"TOST (one-sample), margin ±{e.within:g}"
    return Verdict(e.says, e.metric, test, "mean - value", float(v.mean() - value), float(ci.low - value),
                   float(ci.high - value), p, sign, f"mean {e.metric} = {_fmt(v.mean())} (vs {value:g})", len(v))


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


def power_warnings(study, cells) -> list[str]:
    """One line per comparison that cannot reach the study's alpha at its number of seeds."""
    out = []
    for i, e in enumerate(study.expect):
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


def evaluate(expects: list[Expect], trials: pd.DataFrame, grid: dict[str, list], alpha: float, seed: int = 0) -> list[Verdict]:
    rng = np.random.default_rng(seed)  # the bootstrap is seeded: the same data give the same report
    done = trials[trials["status"] == "FINISHED"] if len(trials) else trials
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
        verdicts.append(v)
    for e, v, adjusted in zip(expects, verdicts, holm([v.p for v in verdicts])):
        v.p_holm = adjusted
        v.verdict = decide(v, alpha, e)
    return verdicts


def decide(v: Verdict, alpha: float, e: Expect) -> str:
    if math.isnan(v.p_holm) or math.isnan(v.effect):
        return "inconclusive"
    if v.expected_sign == 0:  # equivalence within a margin
        margin = e.within
        if v.p_holm < alpha:
            return "supported"
        if v.low > margin or v.high < -margin:
            return "refuted"
        return "inconclusive"
    if v.p_holm >= alpha or v.effect == 0:
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
