"""Seeds by power, decided before a run: what a pilot's trials say each expectation needs.

``suite power`` and every undecided verdict ask each expectation's kind for its plan
(``Expectation.plan``, with the power functions of ``suite.kinds.sizes``), at the study's alpha
divided by the number of tested expectations (Holm's first, strictest step: the bound every
verdict must be planned for). A comparison of means is planned for Welch's test (or TOST within a
margin), a time to target for the log-rank test by simulation from the pilot's seeds (shrunk the same
way), or for Welch's test on the searches' restricted means where seeds share searches, a spread for
the F-test, a trend in cells (its unit); the other kinds say why they are not planned.

A pilot's effect is an estimate: a small pilot overstates it as often as not, so the numbers are a
plan, not a promise. Planned once, then run; never seeds added until p drops below alpha.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.kinds.base import finished, matching, shares_search
from suite.kinds.censoring import with_budgets
from suite.kinds.sizes import MAX_SEEDS, Plan


def plan(expects: list, trials: pd.DataFrame, alpha: float, only: set[int] | None = None) -> list[Plan | None]:
    """Each expectation's plan, from its kind (those a kind cannot plan say why). With ``only``, the
    expectations at the other indices get None (each at the same per-test alpha)."""
    done = finished(trials) if "status" in trials else trials
    done = with_budgets(done) if len(done) else done
    per_test = alpha / max(len(expects), 1)
    return [None if only is not None and i not in only else e.plan(matching(done, e.where) if len(done) else done, per_test)
            for i, e in enumerate(expects)]


def attach(expects: list, verdicts: list, trials: pd.DataFrame, alpha: float, among: set[int] | None = None) -> None:
    """Give each verdict left inconclusive by its p (not blocked whatever the data) the plan `suite power`
    makes from these trials as its pilot: how many replicates 80% power asks for, at the effect its kind plans
    for (the pilot's interval's bound nearer zero, never below the margin; see each kind's ``plan``). With
    ``among``, only the verdicts at those indices (each still planned at the same per-test alpha).

    The effect is planned from the pilot's estimate, so the figure is a plan for a new run on new seeds (planned
    once, before it runs), never a count of seeds to add until p drops."""
    undecided = {i for i, v in enumerate(verdicts) if v.verdict == "inconclusive" and not v.blocked
                 and (among is None or i in among)}
    for i, p in enumerate(plan(expects, trials, alpha, only=undecided) if undecided else []):
        if p is not None:
            units = "searches per arm" if expects[i].units == "seeds per arm" and shares_search(trials) else expects[i].units
            verdicts[i].power = {"needed": p.seeds_needed, "now": p.seeds_now, "never": p.never, "units": units,
                                 "planned": math.isfinite(p.effect)}


def asks(plan: dict | None) -> str:
    """What an undecided verdict's plan asks for, in words ("" without one)."""
    if not plan:
        return ""
    if plan["needed"]:
        return f"`suite power`: {plan['needed']} {plan['units']} for 80% power ({plan['now']} now)"
    if plan["never"]:
        return "`suite power`: no number of seeds shows it (the observed difference lies outside the margin)"
    if plan["planned"]:
        return f"`suite power`: more than {MAX_SEEDS} {plan['units']} for 80% power"
    return ""


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
