"""A report's design, checked as a reviewer checks it (../shared/REVIEW.md, the tuning playbook).

From the report's own trials and searches, three questions a verdict depends on:

- Is each search's chosen value inside the values it tried, or on an edge (and why did the search stop
  there: a declared hard limit, the end of a list, its trials spent)?
- Did any search try two candidates so close they are one (``space.NEAR``)?
- Was each cell still improving when its epoch budget ran out (``regime.still_improving``)?

``checks`` writes the answers into ``verdicts.json``; the scorecard adds them up over every study, and the
verdicts that use a cell whose choice sits on a hard limit say so (``on_limits``). The first two questions guard
verdicts that compare arms each at its tuned optimum; where every verdict measures the searches themselves
(``searches_studied``, as in the search_algorithms study), where a search stops is the outcome, and the scorecard
counts those searches apart. Pure functions of the tables: the same files give the same checks on any machine.
"""

from __future__ import annotations

import itertools
import json

import pandas as pd

from suite.analyze import regime
from suite.kinds.base import SEARCH, describe, finished, searches_anything
from suite.study import ResolvedStudy
from suite.study import space as geometry


def searchers(resolved: ResolvedStudy, trials: pd.DataFrame) -> list[int]:
    """For each trial, the search it trained with: the study seed that search is named for (``Tune.searcher``),
    or -1 for its cell's one search. A cell that searches nothing (no ``tune``, or ``tune.algorithm: none``) gives
    each trial its own seed: its seeds share no choice, so each is a replicate."""
    cells = {c.index: c for c in resolved.cells}

    def search(cell, seed: int) -> int:
        if not searches_anything(cell):
            return seed
        found = resolved.searcher(cell, seed)
        return -1 if found is None else found

    return [search(cells[cell], int(seed)) for cell, seed in zip(trials["cell"], trials["seed"])] if len(trials) else []


def with_searches(resolved: ResolvedStudy, trials: pd.DataFrame) -> pd.DataFrame:
    """The trials of a tuned study with the search each trained with (``kinds.base.SEARCH``): where seeds share a
    search, a test counts searches, not seeds (``kinds.base.replicates``). An untuned study's trials unchanged."""
    if not any(c.tune for c in resolved.cells) or trials.empty or SEARCH in trials:
        return trials
    return trials.assign(**{SEARCH: searchers(resolved, trials)})


def chosen(resolved: ResolvedStudy, trials: pd.DataFrame) -> dict[tuple[int, int], dict]:
    """(cell, search) -> the setting that search chose, as the trials that trained with it recorded it."""
    if "tuned" not in trials or trials.empty:
        return {}
    keyed = trials.assign(search=searchers(resolved, trials)).dropna(subset=["tuned"])
    return {(int(r.cell), int(r.search)): json.loads(r.tuned)
            for r in keyed.drop_duplicates(["cell", "search"]).itertuples() if str(r.tuned).startswith("{")}


SEARCH_METRICS = ("search_best_val_accuracy", "search_epochs_to_target")


def searches_studied(resolved: ResolvedStudy) -> bool:
    """Whether the searches are the study's subject, not tuning of a nuisance: every verdict is on a measure of
    the search itself (``SEARCH_METRICS``), none on the trials that train with a search's choice."""
    expect = resolved.study.expect
    return bool(expect) and all(e.metric in SEARCH_METRICS for e in expect)


def edges(resolved: ResolvedStudy, trials: pd.DataFrame, searches: pd.DataFrame) -> list[tuple[int, int, geometry.Edge]]:
    """(cell, search, edge) for every numeric setting every search chose, inside the values tried or not."""
    if searches.empty or "values" not in searches:
        return []
    cells = {c.index: c for c in resolved.cells}
    picks = chosen(resolved, trials)
    out = []
    for (cell, search), rows in _by_search(searches):
        c, best = cells.get(int(cell)), picks.get((int(cell), int(search)))
        if c is None or c.tune is None or not best:
            continue
        tried = [json.loads(v) for v in rows["values"] if isinstance(v, str)]
        found = geometry.edges(c.tune.space, dict(c.tune.limits), tried, best, extends=c.tune.algorithm == "sweep")
        out += [(int(cell), int(search), e) for e in found]
    return out


def near_duplicates(searches: pd.DataFrame) -> list[tuple[int, int]]:
    """(cell, search) of every search that tried two candidates within ``space.NEAR`` of each other."""
    if searches.empty or "values" not in searches:
        return []
    out = []
    for (cell, search), rows in _by_search(searches):
        tried = [json.loads(v) for v in rows["values"] if isinstance(v, str)]
        if any(a.keys() == b.keys() and geometry.near(a, b) for a, b in itertools.combinations(tried, 2)):
            out.append((int(cell), int(search)))
    return out


def on_limits(found: list[tuple[int, int, geometry.Edge]]) -> dict[int, str]:
    """Cell -> what its searches (``found``, from ``edges``) left on a declared hard limit (cells without are
    absent): the verdicts that use the cell say so, since its true optimum may lie beyond what the study allows."""
    hit: dict[int, dict[int, list[str]]] = {}  # cell -> search -> the settings it left on a hard limit
    for cell, search, e in found:
        if e.where != "inside" and e.why == "hard limit":
            hit.setdefault(cell, {}).setdefault(search, []).append(f"{e.path} = {e.value:g}")
    searched = {c: len({s for cc, s, _ in found if cc == c}) for c in hit}
    return {c: f"{', '.join(sorted({x for v in by.values() for x in v}))} on its hard limit in {len(by)} of "
               f"{searched[c]} searches" for c, by in hit.items()}


def checks(resolved: ResolvedStudy, trials: pd.DataFrame, searches: pd.DataFrame,
           found: list[tuple[int, int, geometry.Edge]]) -> dict:
    """What ``verdicts.json`` records of the design (``found``: the searches' ``edges``): counts, and each
    exception by its cell's label."""
    label = _labels(resolved)
    outside = [{"cell": label(c), "search": s, "setting": e.path, "value": e.value,
                "side": e.where, "why": e.why} for c, s, e in found if e.where != "inside"]
    dupes = near_duplicates(searches)
    done = finished(trials)
    caps = regime.caps(resolved)
    improving = [{"cell": label(int(c)), "why": why} for c, g in done.groupby("cell")
                 if (why := regime.still_improving(g, caps))] if len(done) else []
    return {
        "searches": len(_by_search(searches)) if not searches.empty else 0,
        "choices": len(found),  # (search, numeric setting) pairs judged inside or on an edge
        "searches_studied": searches_studied(resolved),
        "on_edge": outside,
        "near_duplicates": [{"cell": label(c), "search": s} for c, s in dupes],
        "cells": int(done["cell"].nunique()) if len(done) else 0,
        "still_improving": improving,
    }


def _by_search(searches: pd.DataFrame):
    """The search trials grouped by search: (cell, the seed it is named for, or -1 for the cell's one search)."""
    named = searches["for_seed"] if "for_seed" in searches else pd.Series(-1, index=searches.index)
    return searches.assign(search=named.fillna(-1).astype(int)).groupby(["cell", "search"])


def _labels(resolved: ResolvedStudy):
    cells = {c.index: c for c in resolved.cells}
    return lambda i: describe(dict(cells[i].values)) if i in cells and cells[i].values else "the only cell"
