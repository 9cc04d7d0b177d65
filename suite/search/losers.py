"""Stopping a losing search candidate early: the median rule, and what it would have done to recorded searches.

The median stopping rule (Golovin et al. 2017, "Google Vizier", section 3.2.2): a candidate is stopped at epoch e
(from ``after`` on) when its best objective so far is worse than the median of the earlier candidates' best
objective so far at the same epoch (a candidate that ended before e counts with its last value). It needs
``earlier`` candidates before it, and it can never stop the current best: a candidate below the median is below
the best of them. Candidates are taken in the search's order (keras-tuner's trial ids), so a sweep's ladder,
trained together in a group, is judged as if trained one after another: the same curves, the same stops.

``replay`` replays the rule on a study's recorded search curves (MLflow keeps each candidate's
per-epoch history) and says, per search, whether the rule would have chosen another candidate and how many
candidate-epochs it would have saved: the evidence a study needs before declaring such a rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median

import pandas as pd

from suite.study.expectations import TARGET_METRICS


def best_so_far(curve: list[float], direction: str) -> list[float]:
    """The best finite value up to each epoch (NaN until the first finite one)."""
    out, best = [], math.nan
    for v in curve:
        if math.isfinite(v) and (math.isnan(best) or (v > best if direction == "max" else v < best)):
            best = v
        out.append(best)
    return out


def stops(curves: list[list[float]], direction: str, after: int, earlier: int = 2) -> list[int | None]:
    """For each candidate (in search order), the epoch (1-based) at which the median rule stops it, or None."""
    worse = (lambda a, b: a < b) if direction == "max" else (lambda a, b: a > b)
    kept: list[list[float]] = []  # each candidate's best-so-far, cut where the rule stopped it
    out: list[int | None] = []
    for curve in curves:
        mine, stop = best_so_far(curve, direction), None
        if len(kept) >= earlier:
            for e in range(after, len(mine)):  # stopping after its last epoch would save nothing
                rivals = [r[min(e, len(r)) - 1] for r in kept if r]
                rivals = [r for r in rivals if math.isfinite(r)]
                if len(rivals) >= earlier and (math.isnan(mine[e - 1]) or worse(mine[e - 1], median(rivals))):
                    stop = e
                    break
        out.append(stop)
        kept.append(mine[:stop] if stop else mine)
    return out


@dataclass
class Search:
    """One recorded search replayed under the rule."""

    cell: int
    for_seed: int
    candidates: int
    stopped: int
    epochs: int  # candidate-epochs the search trained
    saved: int  # of those, the ones the rule would not have trained
    chosen: str  # the recorded choice (its values)
    under_rule: str  # the rule's


def replay(searches: pd.DataFrame, curves: dict[str, list[float]], objective: str, after: int,
           earlier: int = 2) -> list[Search]:
    """Every search of a study (``searches``: one row per candidate, as ``Tracker.searches`` reads them; ``curves``:
    run id -> the objective per epoch) under the rule: a stopped candidate scores its best up to its stop."""
    direction = TARGET_METRICS[objective]
    pick = max if direction == "max" else min
    out = []
    done = searches[searches["status"] == "FINISHED"] if len(searches) else searches
    for (cell, for_seed), rows in done.groupby(["cell", "for_seed"]):
        rows = rows.sort_values("trial")
        series = [curves.get(r, []) for r in rows["run_id"]]
        at = stops(series, direction, after, earlier)
        values = list(rows["values"])
        chosen, under = (_chosen(values, [_score(c[:s] if s else c, direction) for c, s in zip(series, cut)], pick)
                         for cut in ([None] * len(series), at))
        out.append(Search(int(cell), int(for_seed), len(series), sum(s is not None for s in at),
                          sum(len(c) for c in series), sum(len(c) - s for c, s in zip(series, at) if s), chosen, under))
    return out


def until_divergence(scores: list[tuple[int, float]], losses: list[tuple[int, float]]) -> list[float]:
    """A candidate's objective per epoch (MLflow's (step, value) pairs) up to its first non-finite training loss: what a
    diverged model scores after that is not a result (as ``nuisance.score`` counts it)."""
    cut = next((step for step, v in losses if not math.isfinite(v)), None)
    return [v for step, v in scores if cut is None or step < cut]


def _chosen(values: list[str], scores: list[float], pick) -> str:
    """The values of the candidate with the best finite score ("" where none has one)."""
    finite = [s for s in scores if math.isfinite(s)]
    return values[scores.index(pick(finite))] if finite else ""


def _score(curve: list[float], direction: str) -> float:
    finite = [v for v in curve if math.isfinite(v)]
    return (max if direction == "max" else min)(finite) if finite else math.nan
