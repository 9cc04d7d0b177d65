"""From trial rows to per-cell summaries: pure pandas, no MLflow.

Convergence metrics (``*_to_target``) are censored for trials that never
reached the target. They are summarised by the fraction that reached it and by
a median that treats unreached trials as slower than every reached one, so a
median that falls on an unreached trial is reported as not reached, never
invented.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from suite import metrics
from suite.kinds.base import FINISHED, finished


def fmt_ci(mean, half) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.3f}" if pd.isna(half) else f"{mean:.3f} ± {half:.3f}"


def latest_per_trial(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (cell, seed): the latest finished run, else the latest run of any status."""
    if trials.empty:
        return trials
    ranked = trials.assign(_finished=trials["status"].eq(FINISHED)).sort_values(["_finished", "start_time"])
    return ranked.groupby(["cell", "seed"]).tail(1).drop(columns="_finished").sort_values(["cell", "seed"])


def mean_ci(values) -> tuple[float, float, int]:
    """Mean and the half-width of its 95% t-interval (NaN for fewer than two values)."""
    v = np.asarray([x for x in values if x is not None and not pd.isna(x)], dtype=float)
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(v[0]), math.nan, 1
    half = stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n)
    return float(v.mean()), float(half), n


def censored_median(values) -> float:
    """Median where a missing value (target not reached) ranks after every number; inf if it lands there."""
    v = sorted(math.inf if x is None or pd.isna(x) else float(x) for x in values)
    if not v:
        return math.nan
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def summarize(trials: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Per cell: counts, mean and 95% CI of measured metrics, and censored medians."""
    rows = []
    for cell, group in trials.groupby("cell", sort=True):
        done = finished(group)
        row = {"cell": cell, **{axis: group[axis].iloc[0] for axis in axes}}
        row["trials"] = len(group)
        row["finished"] = len(done)
        row["failed"] = int((group["status"] == "FAILED").sum())
        row["diverged"] = int(done.get("diverged", pd.Series(dtype=float)).fillna(0).sum())
        row["reached_target"] = float(done["reached_target"].mean()) if len(done) and "reached_target" in done else math.nan
        for metric in metrics.SUMMARISED:
            mean, half, n = mean_ci(done[metric]) if metric in done else (math.nan, math.nan, 0)
            row[f"{metric}_mean"], row[f"{metric}_ci95"] = mean, half
            row[f"{metric}_median"] = float(done[metric].median()) if n else math.nan
        targeted = "reached_target" in done and done["reached_target"].notna().any()  # else no target was declared
        for metric in metrics.CENSORED:
            values = done[metric].tolist() if metric in done else [None] * len(done)
            row[f"{metric}_median"] = censored_median(values) if targeted else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Nuisance searches
# --------------------------------------------------------------------------


def search_progress(searches: pd.DataFrame) -> pd.DataFrame:
    """Each cell's search trials in order, with the epochs spent so far and the best validation accuracy so far.

    A failed trial spent epochs nobody recorded: it counts as a trial, with no epochs and no score.
    """
    if searches.empty:
        return searches
    if "for_seed" not in searches:  # a cell's one search (tune.per: cell)
        searches = searches.assign(for_seed=-1)
    order = [c for c in ("cell", "for_seed", "trial", "start_time") if c in searches]  # searches.csv has no start_time
    done = searches.sort_values(order).groupby(["cell", "for_seed", "trial"]).tail(1)
    done = done.assign(
        epochs=done.get("search_epochs", pd.Series(math.nan, index=done.index)).fillna(0),
        accuracy=done.get("best_val_accuracy", done.get("best_val_r2", pd.Series(math.nan, index=done.index))),
        reached=done.get("reached_target", pd.Series(0.0, index=done.index)).fillna(0).astype(bool),
    )
    done["spent"] = done.groupby(["cell", "for_seed"])["epochs"].cumsum()
    done["best_so_far"] = done.groupby(["cell", "for_seed"])["accuracy"].cummax()
    return done.reset_index(drop=True)


def search_summary(progress: pd.DataFrame) -> pd.DataFrame:
    """Per cell: trials and epochs spent, the best validation accuracy found, and the epochs spent
    until a trial first reached the target (None: never, within the budget)."""
    rows = []
    for (cell, for_seed), group in progress.groupby(["cell", "for_seed"], sort=True):
        hit = group[group["reached"]]
        rows.append(
            {
                "cell": cell,
                "for_seed": for_seed,  # -1: the cell's one search; else the study seed it searched for
                "search_trials": len(group),
                "search_failed": int((group["status"] == "FAILED").sum()),
                "search_epochs": float(group["epochs"].sum()),
                "search_best_val_accuracy": float(group["accuracy"].max()) if group["accuracy"].notna().any() else math.nan,
                "search_epochs_to_target": float(hit["spent"].iloc[0]) if len(hit) else None,
            }
        )
    return pd.DataFrame(rows)
