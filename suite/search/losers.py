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

A study that declares it (``tune.stop: {rule: median, after: A, earlier: K}``) has its searches apply it while
they train (``Stopping``): a candidate trained alone checks it after every epoch (``fitting.StopLosing``), and a
sweep's ladder trained as one group checks it for every lane after every epoch, in search order (a frozen lane
costs nothing on a CPU). Both ask the same question as ``stops``, epoch by epoch (``Median.losing``), so a search
stops the candidates the replay of its own unstopped curves would, at the same epochs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Median:
    """The median rule as a study declares it: from epoch ``after`` on, once ``earlier`` candidates came before."""

    after: int = 10
    earlier: int = 2
    direction: str = "max"  # of the search's objective

    def losing(self, mine: list[float], rivals: list[list[float]]) -> bool:
        """Whether a candidate whose objective so far is ``mine`` (its epochs 1..e) stops after epoch e: its best so far
        is worse than the median of the ``rivals``' (the earlier candidates' curves, each cut where it ended or was
        stopped) best so far at epoch e, or it has no finite value yet."""
        e = len(mine)
        if e < self.after or len(rivals) < self.earlier:
            return False
        at = [best_so_far(r, self.direction)[min(e, len(r)) - 1] for r in rivals if r]
        at = [v for v in at if math.isfinite(v)]
        if len(at) < self.earlier:
            return False
        best = best_so_far(mine, self.direction)[-1]
        return math.isnan(best) or (best < median(at) if self.direction == "max" else best > median(at))


def stops(curves: list[list[float]], direction: str, after: int, earlier: int = 2) -> list[int | None]:
    """For each candidate (in search order), the epoch (1-based) at which the median rule stops it, or None."""
    rule, kept, out = Median(after, earlier, direction), [], []
    for curve in curves:  # stopping after its last epoch would save nothing
        stop = next((e for e in range(after, len(curve)) if rule.losing(curve[:e], kept)), None)
        out.append(stop)
        kept.append(curve[:stop] if stop else curve)
    return out


@dataclass
class Stopping:
    """One search candidate under its study's declared rule: the rule, the objective it judges, and the earlier
    candidates of its search (in search order: each one's values and its curve as ``curve`` reads it, cut where it
    ended). A group of candidates takes those that are not its own members (``without``). The executors ask it after
    every epoch (``fitting.StopLosing``, ``grouped.Group.fit``)."""

    rule: Median
    objective: str
    rivals: list[tuple[dict, list[float]]] = field(default_factory=list)

    def losing(self, mine: list[float], companions: list[list[float]] = ()) -> bool:
        """Whether the candidate stops now; ``companions``: the curves so far of its group's members before it."""
        return self.rule.losing(mine, [c for _, c in self.rivals] + list(companions))

    def curve(self, history: dict[str, list[float]]) -> list[float]:
        return curve(history, self.objective)

    def without(self, members: list[dict]) -> Stopping:
        """The same, less the rivals a group trains itself: those whose values ``members`` (each a member's own
        settings) hold."""
        def trained(values: dict) -> bool:
            return any(all(m.get(k) == v for k, v in values.items()) for m in members)

        return Stopping(self.rule, self.objective, [(v, c) for v, c in self.rivals if not trained(v)])


def key(values: dict) -> str:
    """A candidate's values as one comparable text (``oracle.canonical``'s)."""
    return json.dumps(values, sort_keys=True, default=str)


def curve(history: dict[str, list[float]], objective: str) -> list[float]:
    """A candidate's objective per epoch up to its first non-finite training loss (as ``until_divergence``)."""
    losses, values = history.get("loss", []), history.get(objective, [])
    cut = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    return list(values[:cut])


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
