"""Checks on the training record behind a verdict: was each compared arm trained long enough, and was it
in the regime of the published finding the expectation cites?

- **budget-limited**: a verdict on a measure taken at the end of training (``END_OF_TRAINING``) is not
  decided while a compared cell trained to its epoch cap with its median best epoch in the last 10% of
  that cap (``still_improving``): more training could still move it. With a side (``ahead_only``): in a
  comparison of two arms on a score that rises with training, where only the arm ahead was still
  improving, more training could only widen the gap, so a decided sign stands (and says so); a
  negligible or undecided outcome stays withheld;
- **outside the regime**: "agrees" or "disagrees" with a cited finding is said only when the compared
  arms were in its regime (``outside_regime``): converged, fitting the training set, or reaching the
  target in at least half their seeds for a finding about how soon.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite import metrics
from suite.kinds import survival
from suite.kinds.base import Expectation, label, seed_values
from suite.kinds.censoring import survival_data

STILL_IMPROVING = 0.9  # a cell whose median best epoch falls in the last 10% of its epochs had not converged
FITS = 0.99  # "fits the training set": mean training accuracy at least this

# Measures taken when training ends (or at its best epoch): only meaningful for arms that had stopped improving.
END_OF_TRAINING = metrics.AT_END


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


def budget_limited(e: Expectation, rows: pd.DataFrame, axes: list[str], caps: dict[int, int] | None) -> str:
    """Why a verdict on a measure at the end of training is not decided ("" when it can be): its compared
    cells still improving when their budget ran out."""
    if e.metric not in END_OF_TRAINING:
        return ""
    limited = [f"{label(g, axes)} {why}" for g in e.compared(rows) if (why := still_improving(g, caps))]
    return "budget-limited (" + first_few(limited) + ")" if limited else ""


# Scores that rise as the monitored validation metric improves: training the arm ahead longer widens its lead.
RISE_WITH_TRAINING = metrics.RISES


def ahead_only(e: Expectation, rows: pd.DataFrame, axes: list[str], caps: dict[int, int] | None) -> str:
    """The arm ahead, when it holds every cell still improving at its cap ("" otherwise): a two-arm comparison of
    means (``compare`` with a direction, or non-inferiority where the estimate and the lead lie on one side of its
    margin) on a score in ``RISE_WITH_TRAINING``."""
    if e.kind != "compare" or e.equal_within is not None or e.metric not in RISE_WITH_TRAINING:
        return ""
    arms = e.arms(rows)
    means = [float(np.nanmean(seed_values(arm, e.metric))) if len(arm) else math.nan for arm in arms]
    if not all(math.isfinite(m) for m in means) or means[0] == means[1]:
        return ""
    if np.sign(means[0] - means[1]) != np.sign(means[0] - means[1] - e.boundary):
        return ""  # non-inferiority with the compare arm behind, inside its margin: a wider lead moves toward the margin
    direction = 1 if metrics.BETTER[e.metric] == "max" else -1
    lead, lag = (arms[0], arms[1]) if direction * (means[0] - means[1]) > 0 else (arms[1], arms[0])
    if any(still_improving(g, caps) for _, g in lag.groupby("cell")):
        return ""
    improving = [label(g, axes) for _, g in lead.groupby("cell") if still_improving(g, caps)]
    return first_few(improving)


def outside_regime(e: Expectation, rows: pd.DataFrame, axes: list[str], caps: dict[int, int] | None = None) -> str:
    """Why the compared arms were outside the regime of the finding the expectation cites ("" when inside).

    A metric measured at initialization (before any training step) is in every training regime alike."""
    if e.metric in metrics.AT_INIT:
        return ""
    reasons = []
    for g in e.compared(rows):
        where = label(g, axes)
        if e.metric in metrics.CENSORED:  # a finding about how much sooner needs arms that reach the target
            t, r = survival_data(g, e.metric)
            if len(t) and not math.isfinite(survival.median_time(t, r)[0]):
                reasons.append(f"{where} reached the target in {int(r.sum())} of {len(r)} seeds (the finding is about "
                               "how soon, not whether)")
        elif e.literature.regime == "converged":
            why = still_improving(g, caps)
            if why:
                reasons.append(f"{where} {why}")
        elif e.literature.regime == "fits training set" and "train_accuracy" in g:
            accuracy = g["train_accuracy"].astype(float).mean()
            if accuracy < FITS:
                reasons.append(f"{where} fits {accuracy:.2f} of its training set")
    return first_few(reasons)


def first_few(reasons: list[str]) -> str:
    return "; ".join([*reasons[:2], f"and {len(reasons) - 2} more cells"] if len(reasons) > 2 else reasons)
