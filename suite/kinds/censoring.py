"""From trial rows to survival data: each trial's time to target, or the budget that censors it.

A trial that reached the target has an event time (its ``*_to_target`` value); one that did not
is right-censored at its budget: the epochs, steps, examples or seconds it trained.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite import metrics

CENSOR_AT = {m.name: m.censored_at for m in metrics.CATALOGUE if m.shape == "censored"}  # the trial's own follow-up
UNITS = {m.name: m.unit for m in metrics.CATALOGUE if m.shape == "censored"}


def survival_data(rows: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per finished trial: its time to target, or its budget where it never reached it (censored), and
    whether it reached it. (:func:`budgets` gives every trial's budget, reached or not; :func:`with_budgets`
    fills in steps and examples for trials recorded before they logged them.)"""
    if metric not in rows:
        return np.array([]), np.array([], dtype=bool)
    value = rows[metric].astype(float).to_numpy()
    reached = ~np.isnan(value)
    times = np.where(reached, value, budgets(rows, metric))
    if np.isnan(times).any():  # no budget recorded: censored at the latest time seen, which the log-rank test
        latest = np.nanmax(times) if (~np.isnan(times)).any() else 1.0  # treats alike (it is at risk at every event)
        times = np.where(np.isnan(times), latest, times)
    return times, reached


def budgets(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """Each trial's budget in the units of a censored metric (NaN where it was not recorded)."""
    column = CENSOR_AT[metric]
    return rows[column].astype(float).to_numpy() if column in rows else np.full(len(rows), np.nan)


def with_budgets(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials recorded before runs logged their budget in steps and examples get it from their epochs:
    steps (examples) per epoch from the trials of the same cell that reached the target, else from
    every such trial of the study when they all agree (as when the batch size does not vary)."""
    if "epochs_run" not in trials or "epochs_to_target" not in trials:
        return trials
    out = trials.copy()
    for metric, column in (("steps_to_target", "steps_run"), ("examples_to_target", "examples_run")):
        if metric not in out:
            continue
        recorded = out[column].astype(float) if column in out else pd.Series(np.nan, index=out.index)
        ratio = out[metric].astype(float) / out["epochs_to_target"].astype(float)
        per_cell = ratio.groupby(out["cell"]).transform("median")
        known = ratio.dropna().round(6).unique()
        if len(known) == 1:
            per_cell = per_cell.fillna(float(known[0]))
        out[column] = recorded.fillna(out["epochs_run"].astype(float) * per_cell)
    return out


def horizon(rows: pd.DataFrame, metric: str) -> float:
    """How far these trials were followed: their largest budget (their largest time where none is recorded)."""
    b = budgets(rows, metric)
    return float(np.nanmax(b)) if (~np.isnan(b)).any() else float(survival_data(rows, metric)[0].max())


def common_budget(metric: str, groups: list[pd.DataFrame]) -> float:
    """The budget every group was followed up to: the smallest of the groups' horizons, the horizon of a
    restricted mean."""
    horizons = [horizon(g, metric) for g in groups if metric in g and len(g)]
    return float(min(horizons)) if horizons else math.nan
