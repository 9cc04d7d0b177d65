"""What the MLflow UI shows of a study before anyone opens a trial.

The experiment's description (``mlflow.note.content``) states the claim, its
sources and the study file when a run starts, and the verdicts with the
report's figures once the report is built. The study's parent run gets a
description (profile, grid, counts), per-cell summary metrics (so the UI's
chart view has something to draw while the trials are collapsed under it) and
the trials table.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from suite import metrics
from suite.analyze.aggregate import fmt_ci
from suite.kinds.base import finished
from suite.record import Tracker
from suite.record.writing import short_label
from suite.study import ResolvedStudy

# per-cell means on the parent run (those a cell has: a regression's R² and errors in place of accuracy)
FIGURES = ("curves.png", "metrics.png", "search.png")


def introduce(resolved: ResolvedStudy, tracker: Tracker, parent: str) -> None:
    """At the start of a run: what the study tests, on the experiment; what this run does, on its parent run."""
    tracker.describe_experiment(resolved.name, "\n".join(claim(resolved)))
    tracker.describe_run(parent, run_note(resolved))


def publish(resolved: ResolvedStudy, tracker: Tracker, run_id: str, trials: pd.DataFrame, summary: pd.DataFrame,
            verdicts, figures: list[str], wall_s: float | None) -> None:
    """Once the report is built: the verdicts on the experiment, the summary and the trials table on ``run_id``."""
    lines = [*claim(resolved), *verdict_table(verdicts), *balance_section(trials, summary, resolved.axes),
             *figure_links(run_id, figures)]
    tracker.describe_experiment(resolved.name, "\n".join(lines))
    tracker.log_summary(run_id, summary_metrics(resolved, summary, verdicts, trials, wall_s))
    shown = [c for c in ("cell", *resolved.axes, "seed", "status", *metrics.published(resolved.study.data.task),
                         "epochs_to_target", "run_id") if c in trials]
    table = trials[shown].assign(cell=[_label(resolved, c) for c in trials["cell"]])
    tracker.log_table(run_id, table.astype(object).where(table.notna(), None), "trials.json")


def claim(resolved: ResolvedStudy) -> list[str]:
    s = resolved.study
    return [  # the claim first: the UI shows the first line until the description is expanded
        f"**Claim:** {s.claim}",
        "",
        f"**Study:** {s.title}. **Sources:** {'; '.join(s.sources) or 'none given'}",
        "",
        f"**Study file:** `{resolved.path.name}` (sha256 {resolved.file_sha[:12]}). Reproduce: "
        f"`suite run {resolved.command_args}`. "
        "Each child run is one trial, named by its cell and seed; the parent run holds the report, its figures "
        "and a summary per cell.",
        "",
    ]


def run_note(resolved: ResolvedStudy) -> str:
    s = resolved.study
    grid = "; ".join(f"`{axis}` in {', '.join(map(str, values))}" for axis, values in s.grid.items()) or "one cell"
    tuned = (f" Nuisance settings re-tuned per {s.tune.per} by a {s.tune.algorithm} search of up to {s.tune.trials} trials."
             if s.tune else "")
    return (
        f"Profile **{resolved.profile_name}**: {len(resolved.cells)} cells x {len(s.seeds)} seeds = "
        f"{len(resolved.trials)} trials of {s.train.epochs} epochs at most{s.rounds_said}. Grid: {grid}. Seeds: "
        f"{', '.join(map(str, s.seeds))}.{tuned} Expand this run to see its trials."
    )


def verdict_table(verdicts) -> list[str]:
    if not verdicts:
        return ["No expectations: the study only describes its measurements.", ""]
    lines = ["### Verdicts", "", "| expectation | verdict | p (Holm) | observed |", "|---|---|---|---|"]
    for v in verdicts:
        p = "–" if v.p_holm is None or (isinstance(v.p_holm, float) and math.isnan(v.p_holm)) else f"{v.p_holm:.3g}"
        lines.append(f"| {v.says} | **{v.verdict}**{f': {v.blocked}' if v.blocked else ''} | {p} | {v.observed} |")
    return [*lines, ""]


def figure_links(run_id: str, figures: list[str]) -> list[str]:
    """Links the UI resolves (its own artifact route) to the figures logged with the parent run."""
    links = [f"[{name}](get-artifact?path={name}&run_uuid={run_id})" for name in FIGURES if name in figures]
    return [f"**Figures:** {', '.join(links)} (the full report is `report.md` in the parent run's artifacts)", ""] if links else []


def summary_metrics(resolved: ResolvedStudy, summary: pd.DataFrame, verdicts, trials: pd.DataFrame,
                    wall_s: float | None) -> dict[str, float]:
    """Counts of verdicts and trials, the wall time, and each cell's mean of a few metrics (``test_accuracy/dropout 0.5``)."""
    out = {f"verdicts_{kind}": float(sum(v.verdict == kind for v in verdicts)) for kind in ("supported", "refuted", "negligible", "inconclusive")}
    out["trials_finished"] = float(len(finished(trials)))
    if wall_s is not None:
        out["wall_s"] = float(wall_s)
    for row in summary.itertuples(index=False):
        label = _metric_safe(_label(resolved, row.cell))
        for metric in metrics.published(resolved.study.data.task):
            value = getattr(row, f"{metric}_mean", math.nan)
            if value is not None and math.isfinite(value):
                out[f"{metric}/{label}"] = float(value)
    return out


def _label(resolved: ResolvedStudy, index: int) -> str:
    cells = {c.index: c for c in resolved.cells}
    return short_label(cells[index].values) if index in cells else str(index)


def _metric_safe(text: str) -> str:
    """MLflow metric names allow letters, digits, ``_ - . : /`` and spaces: ``dropout=0.5`` -> ``dropout 0.5``."""
    return re.sub(r"[^\w.\-: ]", " ", text.replace("=", " ")).strip()


IMBALANCED = 3.0  # the test split's largest class at least this many times its smallest: accuracy alone flatters


def balance_section(trials: pd.DataFrame, summary: pd.DataFrame, axes: list[str]) -> list[str]:
    """Where the test split's classes are imbalanced: the majority-class rate (what always answering the largest
    class scores) and, per cell, balanced accuracy and macro F1 beside accuracy. Nothing where they are balanced."""
    if "test_majority_rate" not in trials or trials["test_majority_rate"].isna().all():
        return []
    major, minor = float(trials["test_majority_rate"].max()), float(trials["test_minority_rate"].min())
    if minor > 0 and major / minor < IMBALANCED:
        return []
    ratio = f"{major / minor:.0f}x" if minor > 0 else "a class absent"
    lines = [
        "## Class balance", "",
        f"The test split is imbalanced: its largest class holds {major:.0%} of the rows, its smallest {minor:.0%} "
        f"({ratio}). Always answering the largest class scores an accuracy of {major:.3f}, so accuracy and a target "
        "reached on it can look good while the small classes are missed: balanced accuracy (the mean recall over "
        "classes, 1/k for that constant answer) and macro F1 say how each class fares. Mean ± 95% half-width over "
        "seeds; `data.rebalance` (class_weight or oversample) is the study setting that weighs the small classes.", "",
    ]
    headers = [*(axes or ["cell"]), "test accuracy", "above the majority rate", "balanced accuracy", "macro F1"]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in summary.to_dict("records"):
        row = [str(r[a]) for a in axes] if axes else ["base"]
        mean = r["test_accuracy_mean"]
        row += [fmt_ci(mean, r["test_accuracy_ci95"]), "–" if pd.isna(mean) else f"{mean - major:+.3f}",
                fmt_ci(r["test_balanced_accuracy_mean"], r["test_balanced_accuracy_ci95"]),
                fmt_ci(r["test_macro_f1_mean"], r["test_macro_f1_ci95"])]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]
