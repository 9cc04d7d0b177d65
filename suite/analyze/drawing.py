"""The report's figures: each one's data gathered here, from the trials, the MLflow record and the study,
then drawn by ``figures`` (matplotlib only, one function per PNG).

``draw`` draws every figure a report shows (curves, metrics, the search's, the diagnostics');
``survival`` draws the time-to-target figure, from the trials alone (``suite report --from-files``
redraws it with the verdicts).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from suite import metrics
from suite.analyze import figures
from suite.analyze.design import searchers
from suite.kinds import censoring
from suite.kinds.base import finished, matching
from suite.record import Tracker
from suite.study import ResolvedStudy


def draw(resolved: ResolvedStudy, trials: pd.DataFrame, progress: pd.DataFrame, tracker: Tracker, out: Path) -> None:
    """curves.png and metrics.png; search.png for a tuned study; the diagnostics figures when probed."""
    done = finished(trials)
    regression = resolved.study.data.task == "regression"
    score = "val_r2" if regression else "val_accuracy"  # the per-epoch score the curves show
    curves = tracker.histories(list(done["run_id"]), score)  # one query, not one per trial
    histories: dict[int, list] = {}
    for row in done.itertuples():
        histories.setdefault(row.cell, []).append(curves[row.run_id])
    target = resolved.study.target
    marked = target.value if target.metric == score and target.direction == "max" else None
    figures.curves(histories, {c.index: c.values for c in resolved.cells}, score, out / "curves.png", marked)
    metrics_figure(resolved, trials, out)
    if not progress.empty:
        groups = {c.index: without_seed(c) for c in resolved.cells}
        budget = max((c.tune.budget(c.settings.train.epochs) for c in resolved.cells if c.tune), default=0)
        figures.search_curves(progress, groups, budget, out / "search.png")
        isolation(resolved, trials, progress, groups, out / "isolation.png")
    if resolved.study.diagnostics:  # short labels: the figures have many panels
        labels = {c.index: ", ".join(map(str, c.values.values())) or "base" for c in resolved.cells}
        diagnosed(trials, tracker, labels, out, legend_title=", ".join(a.rpartition(".")[2] for a in resolved.axes) or None)


def diagnosed(trials: pd.DataFrame, tracker: Tracker, labels: dict[int, str], out: Path, legend_title: str | None = None) -> None:
    """The diagnostics figures, from the per-layer series and histograms each trial logged."""
    done = finished(trials)
    keys = [c for c in done.columns if c.startswith(("act_std/", "grad_norm/"))]
    series = {k: tracker.histories(list(done["run_id"]), k) for k in keys}  # one query per key, not per trial and key
    per_cell: dict[int, list[dict]] = {}
    histograms: dict[int, dict] = {}
    for row in done.itertuples():
        per_cell.setdefault(row.cell, []).append({k: series[k][row.run_id] for k in keys})
        if row.cell not in histograms:
            found = tracker.load_json(row.run_id, "activations_init.json")
            if found:
                histograms[row.cell] = found
    figures.diagnostics(per_cell, labels, out / "diagnostics.png", legend_title)
    if histograms:
        figures.activation_histograms(histograms, labels, out / "activations.png")


def without_seed(cell) -> str:
    """A cell's label without its search seed: the cells a search-seed axis replicates share it."""
    return ", ".join(f"{k}={v}" for k, v in cell.values.items() if k != "tune.seed") or "base"


def isolation(resolved: ResolvedStudy, trials: pd.DataFrame, progress: pd.DataFrame, groups: dict, path: Path) -> None:
    """isolation.png: every search's score against each tuned numeric setting, the chosen value starred."""
    from suite.study.space import numeric

    spaces = [c.tune.space for c in resolved.cells if c.tune is not None]
    settings = list(dict.fromkeys(p for space in spaces for p, entry in space.items() if numeric(entry)))
    if not settings or "tuned" not in trials:
        return
    log = {p for space in spaces for p, entry in space.items() if not isinstance(entry, list) and entry.kind == "log"}
    log |= {p for space in spaces for p, entry in space.items()
            if isinstance(entry, list) and numeric(entry) and min(entry) > 0 and max(entry) / min(entry) >= 100}
    chosen = {}
    tuned = trials.dropna(subset=["tuned"])
    for row, for_seed in zip(tuned.itertuples(), searchers(resolved, tuned)):
        chosen.setdefault((row.cell, for_seed), json.loads(row.tuned))
    figures.isolation(finished(progress), groups, chosen, settings, log, path)


def survival(expects, trials: pd.DataFrame, axes: list[str], path: Path) -> bool:
    """The Kaplan-Meier figure of every expectation whose kind draws arms on it (False, and no file, when none does)."""
    done = censoring.with_budgets(finished(trials))
    panels = []
    for e in expects:
        parts = e.survival_arms(matching(done, e.where), axes)
        arms = [(label, *censoring.survival_data(g, e.metric), censoring.horizon(g, e.metric))
                for label, g in parts if not g.empty]
        if arms:
            panels.append((e.says, censoring.UNITS[e.metric], arms))
    if not panels:
        return False
    figures.survival(panels, path)
    return True


def panels(task: str) -> list[tuple[str, str]]:
    """The panels of ``metrics.png`` for ``task`` (``metrics.panels``), each with its title."""
    def title(m: metrics.Metric) -> str:
        unit = f" ({m.unit})" if m.unit and m.unit not in m.label and m.shape != "censored" else ""
        return m.label + unit + (" (reached only)" if m.shape == "censored" else "")
    return [(m.name, title(m)) for m in metrics.panels(task)]


def metrics_figure(resolved: ResolvedStudy, trials: pd.DataFrame, out: Path) -> None:
    """``metrics.png``: each panel's metric of the finished trials against the grid (from the trials alone)."""
    figures.metrics_vs_axis(finished(trials), resolved.axes, out / "metrics.png", panels(resolved.study.data.task))
