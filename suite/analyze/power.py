"""Seeds by power, decided before a run: what a pilot's trials say each comparison needs.

For every ``compare`` expectation on a continuous metric, the pilot (a report's
``trials.csv``) gives the observed difference of means and the pooled spread
across seeds. From them, for a two-sided Welch test at the study's alpha divided
by the number of tested expectations (Holm's first, strictest step: the bound
every verdict must be planned for), come

- the **seeds per cell** for 80% power to detect the observed difference, and
- the **minimum detectable effect** at the study's current seeds (the difference
  that 80% power would catch), so an inconclusive verdict says how large an
  effect its seeds could have seen.

Time to target is planned for the log-rank test by simulation: each arm's pilot seeds (time,
reached) are drawn with replacement, n per arm, and the share of draws the test rejects is the
power (effect: the pilot's difference in restricted mean time to target). A trend is planned in
cells, its unit: the cells a Spearman test needs for 80% power at the pilot's rho (Fisher z with
Bonett & Wright's variance), and never fewer than the exact test's floor 2 / cells! allows.

Power uses the noncentral t distribution with equal groups. A pilot's effect is an
estimate: a small pilot overstates it as often as not, so the numbers are a plan,
not a promise. Planned once, then run; never seeds added until p drops below alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from suite.analyze import survival
from suite.analyze.censoring import common_budget, survival_data, with_budgets
from suite.analyze.verdict import cell_values, matching, seed_values, trend_floor
from suite.study import BINARY_METRICS, CENSORED_METRICS

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
    seeds_needed: int | None  # per side, for 80% power at the observed effect; None: cannot be planned
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
    return _fewest(lambda n: power(effect, sd, n, alpha), target)


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


def _fewest(power_at, target: float) -> int | None:
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
    return _smallest_effect(lambda effect: power(effect, sd, n, alpha), sd, target)


def _smallest_effect(power_at, start: float, target: float) -> float:
    """The smallest effect >= 0 with ``power_at(effect) >= target`` (power rising with the effect): doubling
    from ``start`` until it is reached, then bisection."""
    low, high = 0.0, start
    while power_at(high) < target:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if power_at(mid) < target else (low, mid)
    return high


def plan(expects: list, trials: pd.DataFrame, alpha: float, only: set[int] | None = None) -> list[Plan | None]:
    """A plan per ``compare`` expectation; the others say why they are not planned here. With ``only``, the
    expectations at the other indices get None (each at the same per-test alpha)."""
    done = trials[trials["status"] == "FINISHED"] if "status" in trials else trials
    done = with_budgets(done) if len(done) else done
    per_test = alpha / max(len(expects), 1)
    out = []
    for i, e in enumerate(expects):
        if only is not None and i not in only:
            out.append(None)
            continue
        if e.kind == "trend":
            out.append(_trend_plan(e, matching(done, e.where) if len(done) else done, per_test))
            continue
        if e.kind != "compare":
            out.append(Plan(e.says, e.metric, 0, math.nan, math.nan, per_test, None, math.nan,
                            f"a {e.kind} expectation: only two-group comparisons are planned"))
            continue
        rows = matching(done, e.where) if len(done) else done
        a = seed_values(matching(rows, e.compare), e.metric)
        b = seed_values(matching(rows, e.against), e.metric)
        n = min(len(a), len(b))
        if e.statistic == "sd":
            out.append(_spread_plan(e, a, b, per_test))
            continue
        if e.metric in CENSORED_METRICS:
            out.append(_survival_plan(e, matching(rows, e.compare), matching(rows, e.against), per_test))
            continue
        if e.metric in BINARY_METRICS and e.within is None:
            out.append(Plan(e.says, e.metric, n, math.nan, math.nan, per_test, None, math.nan,
                            "yes/no per seed (Fisher's exact test): plan on a continuous metric"))
            continue
        if len(a) < 2 or len(b) < 2:
            out.append(Plan(e.says, e.metric, n, math.nan, math.nan, per_test, None, math.nan,
                            f"the pilot has too few trials ({len(a)} vs {len(b)})"))
            continue
        effect = float(np.mean(a) - np.mean(b))
        sd = float(math.sqrt((np.var(a, ddof=1) * (len(a) - 1) + np.var(b, ddof=1) * (len(b) - 1)) / (len(a) + len(b) - 2)))
        if e.within is not None:
            out.append(_equivalence_plan(e, n, effect, sd, per_test))
            continue
        out.append(Plan(e.says, e.metric, n, effect, sd, per_test, seeds_for(effect, sd, per_test), detectable(sd, n, per_test)))
    return out


def attach(expects: list, verdicts: list, trials: pd.DataFrame, alpha: float) -> None:
    """Give each verdict left inconclusive by its p (not blocked whatever the data) the plan `suite power`
    makes from these trials as its pilot: how many replicates 80% power at the observed effect asks for.

    The observed effect is the pilot's estimate, so the figure is a plan for a new run on new seeds (planned
    once, before it runs), never a count of seeds to add until p drops."""
    undecided = {i for i, v in enumerate(verdicts) if v.verdict == "inconclusive" and not v.blocked}
    for i, p in enumerate(plan(expects, trials, alpha, only=undecided) if undecided else []):
        if p is not None:
            verdicts[i].power = {"needed": p.seeds_needed, "now": p.seeds_now, "never": p.never,
                                 "units": "cells" if expects[i].kind == "trend" else "seeds per arm",
                                 "planned": math.isfinite(p.effect)}


def asks(plan: dict | None) -> str:
    """What an undecided verdict's plan asks for, in words ("" without one)."""
    if not plan:
        return ""
    if plan["needed"]:
        return f"`suite power`: {plan['needed']} {plan['units']} for 80% power at the observed effect ({plan['now']} now)"
    if plan["never"]:
        return "`suite power`: no number of seeds shows it (the observed difference lies outside the margin)"
    if plan["planned"]:
        return f"`suite power`: more than {MAX_SEEDS} {plan['units']} at the observed effect"
    return ""


SIMULATIONS = 400


def logrank_power(arm_a: tuple, arm_b: tuple, n: int, alpha: float, seed: int = 0) -> float:
    """Power of the log-rank test (asymptotic p) with ``n`` seeds per arm, each arm's seeds drawn with
    replacement from its pilot (times, reached): the pilot's curves taken as the truth."""
    rng = np.random.default_rng(seed)
    (ta, ra), (tb, rb) = arm_a, arm_b
    rejected = 0
    for _ in range(SIMULATIONS):
        i, j = rng.integers(0, len(ta), n), rng.integers(0, len(tb), n)
        rejected += survival.asymptotic_p(ta[i], ra[i], tb[j], rb[j]) < alpha
    return rejected / SIMULATIONS


def _survival_plan(e, a_rows: pd.DataFrame, b_rows: pd.DataFrame, alpha: float) -> Plan:
    """Time to target: seeds per arm for 80% power of the log-rank test, by simulation from the pilot."""
    arm_a, arm_b = survival_data(a_rows, e.metric), survival_data(b_rows, e.metric)
    n = min(len(arm_a[0]), len(arm_b[0]))
    if n < 2:
        return Plan(e.says, e.metric, n, math.nan, math.nan, alpha, None, math.nan, "the pilot has too few trials")
    tau = common_budget(e.metric, [a_rows, b_rows])
    effect = survival.rmst(*arm_a, tau)[0] - survival.rmst(*arm_b, tau)[0]
    note = (f"time to target: log-rank test, power by {SIMULATIONS} draws from the pilot's seeds; effect = RMST "
            f"difference up to {tau:.3g}")
    if not (arm_a[1].any() or arm_b[1].any()):
        return Plan(e.says, e.metric, n, effect, math.nan, alpha, None, math.nan, note + "; no seed reached the target")
    needed = _fewest(lambda k: logrank_power(arm_a, arm_b, k, alpha), TARGET_POWER)
    return Plan(e.says, e.metric, n, effect, math.nan, alpha, needed, math.nan, note)


def _trend_plan(e, rows: pd.DataFrame, alpha: float) -> Plan:
    """A trend across cells: the cells (its replicates) for 80% power at the pilot's rho."""
    groups = [g for _, g in rows.groupby("cell")] if len(rows) else []
    ys = np.array(cell_values(e.metric, groups)) if groups else np.array([])
    xs = np.array([g[e.along].iloc[0] for g in groups]) if groups else np.array([])
    keep = np.isfinite(ys)
    cells = int(keep.sum())
    floor = next(k for k in range(2, 20) if trend_floor(k) < alpha)  # the fewest cells the exact p allows
    note = f"a trend: its replicates are cells (the exact test needs at least {floor} at this alpha)"
    if cells < 3 or len(set(ys[keep])) < 2:
        return Plan(e.says, e.metric, cells, math.nan, math.nan, alpha, None, math.nan, note + "; the pilot cannot show rho")
    rho = float(stats.spearmanr(xs[keep].astype(float) if xs.dtype != object else np.arange(cells), ys[keep])[0])
    if abs(rho) >= 1:
        needed = floor
    elif rho == 0:
        needed = None
    else:
        z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(TARGET_POWER)
        needed = max(floor, math.ceil((z / math.atanh(abs(rho))) ** 2 * (1 + rho**2 / 2) + 3))
    return Plan(e.says, e.metric, cells, rho, math.nan, alpha, needed, math.nan, note + f"; effect = rho over {cells} cells; "
                "seeds for 80% power = cells needed")


def _equivalence_plan(e, n: int, effect: float, sd: float, alpha: float) -> Plan:
    """Equivalence within ±margin (TOST): seeds for 80% power to show it at the pilot's difference, and
    "detectable now" as the largest true difference it would be shown at with 80% power at n seeds."""
    margin = e.within
    if sd <= 0 or abs(effect) >= margin:
        needed = None
        note = f"equivalence within ±{margin:g} (TOST): the pilot's difference lies outside the margin, so no seeds show it"
    else:
        needed = _fewest(lambda k: equivalence_power(effect, sd, k, margin, alpha), TARGET_POWER)
        note = f"equivalence within ±{margin:g} (TOST): seeds to show it; detectable now = the largest difference shown"
    largest = math.nan
    if sd > 0 and equivalence_power(0.0, sd, n, margin, alpha) >= TARGET_POWER:
        low, high = 0.0, margin
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if equivalence_power(mid, sd, n, margin, alpha) >= TARGET_POWER else (low, mid)
        largest = low
    return Plan(e.says, e.metric, n, effect, sd, alpha, needed, largest, note, never=needed is None and abs(effect) >= margin)


def _spread_plan(e, a: np.ndarray, b: np.ndarray, alpha: float) -> Plan:
    """A comparison of spreads: the effect is log(SD A / SD B), planned for the F-test of variances."""
    n = min(len(a), len(b))
    if n < 2 or np.var(a, ddof=1) <= 0 or np.var(b, ddof=1) <= 0:
        return Plan(e.says, e.metric, n, math.nan, math.nan, alpha, None, math.nan, "the pilot shows no spread to compare")
    effect = 0.5 * math.log(np.var(a, ddof=1) / np.var(b, ddof=1))
    needed = _fewest(lambda k: spread_power(effect, k, alpha), TARGET_POWER) if effect else None
    smallest = _smallest_effect(lambda log_ratio: spread_power(log_ratio, n, alpha), 1.0, TARGET_POWER)
    return Plan(e.says, e.metric, n, effect, math.nan, alpha, needed, smallest,
                "a comparison of spreads: effect and detectable are log(SD A / SD B), for the F-test of variances")


def table(plans: list[Plan]) -> str:
    """The plans as a Markdown table."""
    lines = ["| expectation | metric | seeds now | effect | SD | alpha per test | seeds for 80% power | detectable now | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in plans:
        needed = str(p.seeds_needed) if p.seeds_needed else "never" if p.never else (f"> {MAX_SEEDS}" if math.isfinite(p.effect) else "-")
        cells = [p.says, p.metric, str(p.seeds_now) if p.seeds_now else "-", _num(p.effect), _num(p.sd),
                 f"{p.alpha:.3g}", needed, _num(p.detectable), p.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _num(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.3g}"
