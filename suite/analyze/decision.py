"""The decision rules: from each expectation's p-values to its verdict, the study's p-values adjusted together.

Each expectation is tested twice: by its kind's test (is there an effect, and which way?) and, for a claim
of a direction, by the two one-sided tests (TOST) that its effect lies inside the smallest effect that
matters (``suite.kinds.margins``). The two nulls of one expectation cannot both be true (no effect at all
lies inside any margin), so all the study's p-values form one family, adjusted by ``step_down``: Holm's
procedure where a step's multiplier counts the expectations still holding an unrejected hypothesis (the
closed test whose intersections hold at most one null per expectation). With no equivalence p it is Holm.

The rule ``decide`` applies, in this order:

1. **blocked** (budget-limited, or too few replicates for any data to decide): *inconclusive*, whatever p,
   except a budget limit on the arm ahead alone (``v.ahead``, ``regime.ahead_only``), where more training
   could only widen the gap: there a decided sign (step 2) stands, and nothing else;
2. the kind's adjusted p below alpha, with an effect:
   - a claim of equality within a margin (``within``): *supported* when the estimate lies inside the margin,
     *refuted* beyond it (the kind's test is TOST inside, the one-sided test beyond, so a small p says which);
   - a direction: *supported* when the effect has the claimed sign, *refuted* against it (an effect of
     exactly 0 stays *inconclusive*); a claim of non-inferiority (``not_below_by``, ``not_above_by``) is a
     direction judged against its margin (``v.boundary``) instead of 0: "not below by more than 0.02" is
     supported when the effect lies above -0.02, refuted below it;
3. the TOST's adjusted p below alpha: *negligible*: the (1 - 2 alpha) interval lies inside ±margin, so the
   claimed effect, if it exists, is too small to matter here;
4. otherwise *inconclusive*.

The scorecard adjusts every study's p-values together by Benjamini & Yekutieli
(``suite.statistics.benjamini_yekutieli``). ``ruled_out`` says what an inconclusive verdict's interval still excludes.
"""

from __future__ import annotations

import math

import numpy as np

from suite.kinds.base import Verdict

SCALE_ENDS = {"P(A > B) - 1/2": 0.5, "difference in proportion": 1.0}  # effects bounded by +-end


OUTCOMES = ("supported", "refuted", "negligible", "inconclusive")


def decide(v: Verdict, alpha: float, within: float | None) -> str:
    """A verdict's outcome by the rule in this module's docstring; ``within`` is the margin of a claim of
    equality (None for a direction)."""
    if v.blocked and not v.ahead:
        return "inconclusive"
    if not (math.isnan(v.p_holm) or math.isnan(v.effect) or v.p_holm >= alpha):
        if v.expected_sign == 0:
            return "supported" if abs(v.effect) < within else "refuted"
        if v.effect != v.boundary:
            return "supported" if np.sign(v.effect - v.boundary) == v.expected_sign else "refuted"
    if v.blocked:
        return "inconclusive"
    if v.p_equiv_holm < alpha:  # NaN compares False: no equivalence test, no negligible verdict
        return "negligible"
    return "inconclusive"


def step_down(primary: list[float], equivalence: list[float]) -> tuple[list[float], list[float]]:
    """Adjusted p-values of each expectation's two hypotheses (its kind's test, its TOST), as one family.

    Holm's step-down over every p, smallest first, where the multiplier at a step is the number of
    expectations with a hypothesis not yet passed (NaN p-values are no hypothesis, and stay NaN). Without
    equivalence p-values it is ``holm`` exactly: ``step_down([0.01, 0.04], [nan, nan])`` gives
    ``([0.02, 0.04], [nan, nan])``."""
    tests = sorted((p, i, which) for which, ps in enumerate((primary, equivalence)) for i, p in enumerate(ps)
                   if not math.isnan(p))
    adjusted = ([math.nan] * len(primary), [math.nan] * len(equivalence))
    running = 0.0
    for rank, (p, i, which) in enumerate(tests):
        live = len({j for _, j, _ in tests[rank:]})  # expectations still holding a hypothesis at this step
        running = max(running, min(1.0, live * p))
        adjusted[which][i] = running
    return adjusted


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
