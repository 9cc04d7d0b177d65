"""The decision rules: from each expectation's p to its verdict, the study's p-values adjusted together.

The rule ``decide`` applies, in this order:

1. **blocked** (budget-limited, or too few replicates for any data to decide): *inconclusive*, whatever p;
2. no Holm-adjusted p, no effect, or the adjusted p at or above alpha: *inconclusive*;
3. an equivalence (a margin): *supported* when the estimate lies inside the margin, *refuted* beyond it
   (the kind's test is TOST inside, the one-sided test beyond, so a small p says which);
4. a direction: *supported* when the effect has the claimed sign, *refuted* against it (an effect of
   exactly 0 stays *inconclusive*).

The p-values of a study are Holm-adjusted together (``holm``); the scorecard adjusts every study's
together by Benjamini & Yekutieli (``benjamini_yekutieli``). ``ruled_out`` says what an inconclusive
verdict's interval still excludes.
"""

from __future__ import annotations

import math

import numpy as np

from suite.kinds.base import Verdict

SCALE_ENDS = {"P(A > B) - 1/2": 0.5, "difference in proportion": 1.0}  # effects bounded by +-end


def decide(v: Verdict, alpha: float, margin: float | None) -> str:
    """A verdict's outcome by the rule in this module's docstring; ``margin`` is the expectation's
    equivalence margin (None for a direction)."""
    if v.blocked or math.isnan(v.p_holm) or math.isnan(v.effect) or v.p_holm >= alpha:
        return "inconclusive"
    if v.expected_sign == 0:
        return "supported" if abs(v.effect) < margin else "refuted"
    if v.effect == 0:
        return "inconclusive"
    return "supported" if np.sign(v.effect) == v.expected_sign else "refuted"


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
