"""Verdicts: does the data support each stated expectation of the claim?

Pure statistics, never on invented numbers. Each expectation's kind (``suite.kinds``) gives an
effect size with a 95% interval, one test and its p-value; this module runs them over a study's
finished trials, adds what the training record says (``regime``: budget-limited arms, a cited
finding's regime; the kind's floor: too few replicates; tuned settings on a hard limit), adjusts
the study's p-values together by Holm, and decides each verdict by the rule in ``decision``:

- **supported**: not blocked, Holm-adjusted p below alpha, in the claimed direction (for "equal
  within a margin": the estimate inside it, by the two one-sided tests);
- **refuted**: not blocked, Holm-adjusted p below alpha, against it (for a margin: beyond it);
- **inconclusive**: neither, or blocked (budget-limited, or too few replicates for any data to
  decide). Too few seeds is a common, honest reason.

The replicate is what varies independently: seeds within a cell for comparisons of two cells,
the cells themselves for a trend across cells. A sample without variance gets an exact test and
an exact statement, never p = 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite.analyze import decision, regime
from suite.kinds import Expectation, Verdict
from suite.kinds.base import describe, finished, label, matching, no_data, shares_search
from suite.kinds.censoring import with_budgets


def evaluate(expects: list[Expectation], trials: pd.DataFrame, grid: dict[str, list], alpha: float, seed: int = 0,
             caps: dict[int, int] | None = None, limits: dict[int, str] | None = None) -> list[Verdict]:
    """Each expectation's verdict (``tested``, then ``decided`` as one Holm family)."""
    verdicts = tested(expects, trials, grid, alpha, seed, caps, limits)
    decided(expects, verdicts, alpha)
    return verdicts


def tested(expects: list[Expectation], trials: pd.DataFrame, grid: dict[str, list], alpha: float, seed: int = 0,
           caps: dict[int, int] | None = None, limits: dict[int, str] | None = None) -> list[Verdict]:
    """Each expectation's test and TOST, not yet decided. ``caps`` (cell index -> its epoch budget, ``regime.caps``) lets a verdict on
    a measure taken at the end of training see which arms were still improving at their cap: those verdicts
    are not decided ("budget-limited"). Without ``caps`` each cell's median epochs run stands in. ``limits``
    (cell index -> what its searches chose on a hard limit, ``design.on_limits``) names those cells in the
    verdicts that compare them."""
    rng = np.random.default_rng(seed)  # the bootstrap is seeded: the same data give the same report
    done = with_budgets(finished(trials)) if len(trials) else trials
    axes = list(grid)
    selected = [matching(done, e.where) if len(done) else done for e in expects]  # each expectation's rows
    verdicts = []
    for e, rows in zip(expects, selected):
        if rows.empty:  # none finished, or none in the cells it names (a profile's grid may leave them out)
            why = ("no finished trials" if done.empty else
                   f"none of the {len(done)} finished trials is in the cells it names ({describe(e.where)}): this "
                   "profile's grid leaves them out" if e.where else "no finished trial in the cells it compares")
            verdicts.append(no_data(e, "-", "-", 0, why, 0))
            continue
        v = e.test(rows, grid, rng)
        v.shared_seeds = v.units == "seeds" and any(shares_search(g) for g in e.compared(rows))
        if e.literature is not None:
            v.outside = regime.outside_regime(e, rows, axes, caps)
        budget, few = regime.budget_limited(e, rows, axes, caps), e.too_few(rows, alpha)
        v.blocked = "; ".join(filter(None, (budget, few)))
        v.beyond_seeds = "budget" if budget else "cells" if few and not e.seeds_lift_floor else ""
        v.ahead = regime.ahead_only(e, rows, axes, caps) if budget and not few else ""
        if limits:
            v.on_limit = "; ".join(f"{label(g, axes)}: {limits[int(g['cell'].iloc[0])]}"
                                   for g in e.compared(rows) if int(g["cell"].iloc[0]) in limits)
        verdicts.append(v)
    equivalence(expects, verdicts, selected, grid, alpha, seed)
    return verdicts


def decided(expects: list[Expectation], verdicts: list[Verdict], alpha: float, primary: list[float] | None = None,
            equivalent: list[float] | None = None) -> None:
    """Each verdict decided (``decision.decide``) on its p-values adjusted together (``decision.step_down``): its
    own, or ``primary`` and ``equivalent`` in their place (a look's, ``suite.analyze.sequential``)."""
    primary = [v.p for v in verdicts] if primary is None else primary
    equivalent = [v.p_equiv for v in verdicts] if equivalent is None else equivalent
    adjusted, adjusted_equiv = decision.step_down(primary, equivalent)
    for e, v, p, p_equiv in zip(expects, verdicts, adjusted, adjusted_equiv):
        v.p_holm, v.p_equiv_holm = p, p_equiv
        v.verdict = decision.decide(v, alpha, e.equal_within)
        if v.ahead and v.verdict in ("supported", "refuted"):  # the side rule decided it: say so, withhold nothing
            v.observed += (f"; decided although {v.ahead} was still improving at its cap: it is the arm ahead, so "
                           "more training could only widen the gap")
            v.blocked = v.beyond_seeds = ""
    return verdicts


def equivalence(expects: list[Expectation], verdicts: list[Verdict], selected: list[pd.DataFrame],
                grid: dict[str, list], alpha: float, seed: int) -> None:
    """Each claim of a direction's smallest effect that matters, and the TOST that its effect lies inside it
    (``selected``: each expectation's rows, as ``evaluate`` chose them). Its own seeded generator: the kinds'
    tests draw the same numbers with or without it."""
    rng = np.random.default_rng(seed + 1)
    for e, v, rows in zip(expects, verdicts, selected):
        if own := e.own_margin():  # equality or non-inferiority: its own margin decides it (its kind's test, not this)
            v.margin_from = own
            continue
        margin = e.smallest_effect()
        if margin is None or rows.empty:
            continue
        tost = e.equivalence(rows, grid, rng, margin, alpha)
        v.margin_from = margin.words()
        v.margin, v.p_equiv, v.equiv_low, v.equiv_high = tost.margin, tost.p, tost.low, tost.high


def power_warnings(study, cells) -> list[str]:
    """One line per expectation that cannot reach Holm's first step (the study's alpha over its expectations, the
    level a verdict must be planned for, as ``suite power`` plans) at its planned replicates, whatever the data
    (``suite validate``, before anything trains): its kind's floor (``too_few_planned``)."""
    m = max(len(study.expect), 1)
    step = f", planned for Holm's first step (alpha {study.alpha:g} over {m} expectations)" if m > 1 else ""
    step += f", on the first of up to {study.looks} rounds of seeds" if study.looks > 1 else ""
    return [f"expect[{i}] ({e.metric}){step}: {why}"
            for i, e in enumerate(study.expect) if (why := e.too_few_planned(cells, list(study.seeds), study.alpha / m))]

