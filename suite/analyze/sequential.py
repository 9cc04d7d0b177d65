"""Seeds where a verdict is still open: rounds of seeds, each judged at a group-sequential boundary.

A study with ``rounds: {looks: K}`` (``suite.study.schema.Rounds``) trains its seeds as the first round. After
each round every verdict still open is judged again on all the seeds so far; one that is decided, negligible,
or beyond what more seeds could change stops there, and the next round (as many new seeds again) trains only the
cells an open verdict compares. A verdict is reported as it stood at the look where it stopped.

**The boundary.** The study's alpha is spent over the looks by a Lan & DeMets (1983) spending function,
``spent(t)`` at information fraction t = look / K: O'Brien-Fleming-like ``2 - 2 Phi(z_{1-a/2} / sqrt t)``
or Pocock-like ``a ln(1 + (e - 1) t)``. Each look tests at the alpha it spends, ``spent(k/K) -
spent((k-1)/K)`` (``level``), so the levels of a hypothesis over all its looks add up to at most its alpha
whatever the dependence between the looks (Bonferroni across looks): it needs no assumption about how a
rank, bootstrap or t statistic grows with seeds, and is conservative where the exact boundary (which uses the
correlation of the looks) would spend a little less. O'Brien-Fleming at K = 4 and alpha 0.05 tests its looks
at 0.0001, 0.0055, 0.018 and 0.026.

**Holm across looks.** A look's p is put on the scale of alpha (``at_look``: the smallest alpha whose level at
this look reaches p), and the study's family is adjusted by the same step-down as a single look
(``decision.step_down``), with every hypothesis rejected at an earlier look counted as rejected (p 0): the
alpha it held passes to the others, as in Maurer & Bretz's (2013) graphical group-sequential tests, whose
closed test this step-down is (a level is increasing in alpha, tested). A verdict stopped without a decision
keeps its hypotheses, never rejected. With one look this is the plain rule: p unchanged, no verdict stopped.

**Stopping.** A verdict stops at a look when it is decided (supported, refuted) or negligible; when no seeds can
decide it (budget-limited: more seeds cannot lift the epoch cap; a trend over too few cells: seeds add no cells);
and at the last look. There is no futility stop on a verdict's plan (``power``): a comparison whose interval reaches
inside its margin is planned for the margin, the seeds that decide it whatever the truth, which overstates what an
effect beyond the margin needs.
Stopping on it withheld decisions in a pilot: at early_stopping's quick, three verdicts that the plain rule decides
on the same first round (two claims of equality refuted, a difference supported) were stopped at look 1, their
plans asking for 134 seeds or "never". So an open verdict goes on to the next look; the looks bound what it costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd
from scipy import stats

from suite.analyze import design, power, regime, verdict
from suite.kinds.base import finished, matching
from suite.kinds.censoring import with_budgets

LOUDEST = 0.25  # a look's level grows with alpha up to about 0.33 at 10 looks (tested to here): a study with rounds has alpha <= it


def spent(t: float, alpha: float, spending: str) -> float:
    """The alpha spent by information fraction ``t`` (0 to 1)."""
    if t <= 0:
        return 0.0
    if t >= 1:
        return alpha
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    return float(2 * stats.norm.sf(stats.norm.isf(alpha / 2) / math.sqrt(t)))  # sf: no cancellation at small alpha


def level(look: int, looks: int, alpha: float, spending: str) -> float:
    """The nominal level of look ``look`` (1-based) of ``looks``: the alpha it spends."""
    return spent(look / looks, alpha, spending) - spent((look - 1) / looks, alpha, spending)


def at_look(p: float, look: int, looks: int, spending: str) -> float:
    """``p`` on the scale of alpha at this look: the smallest alpha whose level here reaches it (``p`` itself with one
    look; 1 where no alpha up to ``LOUDEST`` does). So p <= level(alpha) exactly when at_look(p) <= alpha."""
    if looks == 1 or math.isnan(p):
        return p
    if p > level(look, looks, LOUDEST, spending):
        return 1.0
    low, high = 0.0, LOUDEST
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if level(look, looks, middle, spending) < p else (low, middle)
    return high


@dataclass
class Look:
    """One look: its round's seeds, the cells that round trained, and the verdicts that stopped there, and why."""

    number: int
    seeds: list[int]
    cells: list[int]
    level: float  # the level this look tests at, at the study's alpha (Holm's last step)
    stopped: dict[int, str] = field(default_factory=dict)  # expectation index -> why it stopped here
    open: list[int] = field(default_factory=list)  # the expectations still open after it


@dataclass
class Sequence:
    """The looks judged so far, the cells each later round trains, and the next round's cells (None: no round due)."""

    looks: list[Look]
    grown: tuple[frozenset[int], ...] = ()
    next: frozenset[int] | None = None
    of: int = 1  # the looks the study declares
    spending: str = ""


def judge(resolved, trials: pd.DataFrame, searches: pd.DataFrame) -> tuple[list, list, Sequence]:
    """The searches' edges (of the last look judged), each verdict as it stood at the look where it stopped (or
    the last one judged, while open), and the looks. A look is judged once every trial its round calls for is
    recorded, so a run killed during a round judges nothing of it: the same cells train again, and only what is missing."""
    s = resolved.study
    rounds, seq = s.rounds_of_seeds(), Sequence([], of=s.looks, spending=s.rounds.spending if s.rounds else "")
    final: dict[int, object] = {}  # the verdicts stopped so far, as they stood at their look
    edges: list = []
    latest: tuple[list, pd.DataFrame] = ([], trials)  # the last look's verdicts and the trials it judged
    ended = trials[trials["status"].isin(["FINISHED", "FAILED"])] if "status" in trials else trials  # not KILLED, RUNNING
    have = set(zip(ended["cell"].astype(int), ended["seed"].astype(int))) if len(ended) else set()
    for k in range(1, s.looks + 1):
        if k > 1:
            if not seq.next or not {(c, x) for c in seq.next for x in rounds[k - 1]} <= have:
                break  # its round has not run in full (yet): ``seq.next`` says which cells it trains
            seq.grown, seq.next = seq.grown + (seq.next,), None
        at = replace(resolved, grown=seq.grown)
        now = _designed(trials, rounds, seq.grown, "seed") if len(trials) else trials
        looked = _designed(searches, rounds, seq.grown, "for_seed") if len(searches) and "for_seed" in searches else searches
        edges = design.edges(at, now, looked)
        now = design.with_searches(at, now)
        verdicts = verdict.tested(s.expect, now, s.grid, s.alpha, caps=regime.caps(at), limits=design.on_limits(edges))
        primary, equivalent = _look_ps(verdicts, final, k, s.looks, seq.spending)
        verdict.decided(s.expect, verdicts, s.alpha, primary, equivalent)
        look = Look(k, rounds[k - 1], sorted(seq.grown[-1]) if k > 1 else [c.index for c in resolved.cells],
                    level(k, s.looks, s.alpha, seq.spending) if s.looks > 1 else s.alpha)
        for i, v in enumerate(verdicts):
            if i in final:
                continue
            why = _stops(v, k, s.looks)
            if s.looks > 1:
                v.look, v.stopped = k, why
            if why:
                look.stopped[i] = why
                final[i] = v
            else:
                look.open.append(i)
        power.attach(s.expect, verdicts, now, s.alpha, among=set(look.stopped))  # plans only where a verdict is reported
        seq.looks.append(look)
        latest = (verdicts, now)
        if not look.open:
            break
        seq.next = frozenset(_compared(s.expect, look.open, now)) or None
    verdicts, now = latest
    still = {i for i in range(len(s.expect)) if i not in final}  # open at the last look judged: reported as they stand
    if still:
        power.attach(s.expect, verdicts, now, s.alpha, among=still)
    return edges, [final.get(i) or verdicts[i] for i in range(len(s.expect))], seq


def _designed(rows: pd.DataFrame, rounds: list[list[int]], grown: tuple[frozenset[int], ...], seed: str) -> pd.DataFrame:
    """The trials (or searches, by the seed each searched for: ``seed`` names the column) the looks so far called for:
    every cell's first round, and each later round's in the cells its look chose (a cell's one search, -1, serves
    them all). Any other of those seeds (a run under another rule, one by hand) is left out."""
    ok = rows[seed].isin([-1, *rounds[0]])
    for r, cells in enumerate(grown, start=1):
        ok |= rows[seed].isin(rounds[r]) & rows["cell"].isin(list(cells))
    return rows[ok]


def record(seq: Sequence) -> dict:
    """The looks as ``verdicts.json`` keeps them (nothing for a study judged once)."""
    if seq.of <= 1:
        return {}
    return {"rounds": {"looks": seq.of, "spending": seq.spending, "next": sorted(seq.next) if seq.next else None,
                       "judged": [{"look": x.number, "seeds": x.seeds, "cells": x.cells, "level": x.level,
                                   "stopped": {str(i): why for i, why in x.stopped.items()}, "open": x.open}
                                  for x in seq.looks]}}


def _look_ps(verdicts: list, final: dict, look: int, looks: int, spending: str) -> tuple[list[float], list[float]]:
    """The p-values a look adjusts as one family: an open verdict's on the scale of alpha at this look; a verdict
    decided earlier holds its rejected hypothesis at 0; one stopped undecided keeps its hypotheses at 1."""
    primary, equivalent = [], []
    for i, v in enumerate(verdicts):
        before = final.get(i)
        if before is None:
            primary.append(at_look(v.p, look, looks, spending))
            equivalent.append(at_look(v.p_equiv, look, looks, spending))
        elif before.verdict in ("supported", "refuted"):
            primary.append(0.0)
            equivalent.append(math.nan)
        elif before.verdict == "negligible":
            primary.append(math.nan)
            equivalent.append(0.0)
        else:
            primary.append(math.nan if math.isnan(before.p) else 1.0)
            equivalent.append(math.nan if math.isnan(before.p_equiv) else 1.0)
    return primary, equivalent


def _stops(v, look: int, looks: int) -> str:
    """Why a verdict stops at this look ("" while more seeds could still decide it)."""
    if v.verdict != "inconclusive":
        return "decided" if v.verdict != "negligible" else "inside its margin"
    if look == looks:
        return "the last look" if looks > 1 else "judged"
    if v.beyond_seeds == "budget":
        return "budget-limited: more seeds cannot lift the epoch cap"
    if v.beyond_seeds == "cells":
        return "too few cells: more seeds cannot add cells"
    return ""  # no futility stop on a plan: see the module's docstring


def _compared(expects: list, open_: list[int], trials: pd.DataFrame) -> set[int]:
    """The cells the open verdicts compare: the next round trains these alone."""
    done = with_budgets(finished(trials)) if len(trials) else trials
    cells: set[int] = set()
    for i in open_:
        rows = matching(done, expects[i].where) if len(done) else done
        cells |= {int(g["cell"].iloc[0]) for g in expects[i].compared(rows)} if len(rows) else set()
    return cells


def words(seq: Sequence, alpha: float) -> list[str]:
    """The report's section on the looks (none for a study judged once)."""
    if seq.of <= 1:
        return []
    name = {"obrien_fleming": "O'Brien-Fleming-like", "pocock": "Pocock-like"}[seq.spending]
    lines = [
        "### Looks: seeds in rounds where a verdict was open",
        "",
        f"Declared before the data (`rounds: {{looks: {seq.of}, spending: {seq.spending}}}`): the seeds above are the first "
        f"round; after each round every open verdict was judged on all the seeds so far, and the next round (as many new "
        f"seeds) trained only the cells an open verdict compares. Alpha {alpha:g} is spent over {seq.of} looks by the "
        f"{name} Lan-DeMets function, each look testing at the alpha it spends (Bonferroni across looks: no assumption on "
        "how the looks correlate), within one Holm family where a hypothesis rejected at a look passes its alpha on. A "
        "verdict stops when decided or negligible, when no seeds can decide it (budget-limited, or a trend over too few "
        "cells), or at the last look; it is reported as it stood there.",
        "",
        "| look | its round's seeds | cells trained | level at alpha (Holm's last step) | stopped here | still open |",
        "|---|---|---|---|---|---|",
    ]
    for look in seq.looks:
        stopped = "; ".join(f"{i + 1}: {why}" for i, why in look.stopped.items()) or "–"
        lines.append(f"| {look.number} of {seq.of} | {', '.join(map(str, look.seeds))} | {len(look.cells)} | "
                     f"{look.level:.2g} | {stopped} | {', '.join(str(i + 1) for i in look.open) or '–'} |")
    due = f" The next round trains {len(seq.next)} cells: `suite run` goes on." if seq.next else ""
    lines += ["", f"Verdicts are numbered as in the table above.{due}", ""]
    return lines
