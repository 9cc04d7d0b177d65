"""``suite report --from-files``: build a study's report again from the files its run already wrote.

Pure analysis, no MLflow and no training: the verdicts, ``verdicts.json``, ``summary.csv``, the figures
drawn from the trials (``metrics.png``, ``survival.png``) and the whole of ``report.md`` are rebuilt from
``trials.csv`` (and ``searches.csv`` for the searches), so a change to the statistics or to any section of the
report reaches every committed report on any machine. What the files cannot say is kept from the report: the
environment the study run recorded, a table's preprocessing, and the figures drawn from MLflow's per-epoch
histories (``curves.png``, the diagnostics) or search records. The provenance of the trials is kept, and the
judging commit is stamped beside it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from suite.analyze import aggregate, confirmation, design, drawing, judgement, report, sequential
from suite.ground.errors import SuiteError
from suite.record import provenance
from suite.study import ResolvedStudy
from suite.workspace import atomic_write

KEPT = ("## Environment", "## Data preprocessing")  # sections no file beside the report holds


def same_design(resolved: ResolvedStudy, recorded: dict, where: Path) -> None:
    """Refuse to judge or rerun recorded trials under another design: the study file's settings (not its prose)
    must be those that made them (``config_sha``, recorded with every report since it was added)."""
    made = recorded.get("config_sha")
    if made and made != resolved.config_sha:
        raise SuiteError(f"{where}: these trials were made by another version of {resolved.path.name} (its settings "
                         f"changed since commit {str(recorded.get('commit'))[:10]}); rerun the study, or check out that commit")


def rejudge(resolved: ResolvedStudy, out: Path) -> Path:
    previous = confirmation.read(out / "verdicts.json") or {}
    same_design(resolved, previous, out / "trials.csv")
    trials = read_trials(out)
    searches = pd.read_csv(out / "searches.csv") if (out / "searches.csv").is_file() else pd.DataFrame()
    progress = aggregate.search_progress(searches)
    found = aggregate.search_summary(progress) if not progress.empty else pd.DataFrame()
    s = resolved.study
    edges, verdicts, sequence = judgement.judge(resolved, trials, progress)
    resolved = replace(resolved, grown=sequence.grown + ((sequence.next,) if sequence.next else ()))
    summary = aggregate.summarize(trials, resolved.axes)
    atomic_write(out / "summary.csv", summary.to_csv(index=False))
    drawing.metrics_figure(resolved, trials, out)
    survival_png = drawing.survival(s.expect, trials, resolved.axes, out / "survival.png")
    built = provenance.commit(provenance.CODE_ROOT)
    judged = {"commit": built["git.commit"], "dirty": built["git.dirty"] == "true",
              "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"), "from": "trials.csv"}
    entry = {
        "study": s.name, "title": s.title, "claim": s.claim, "sources": s.sources, "profile": resolved.profile_name,
        **{k: previous.get(k) for k in ("commit", "dirty", "date", "wall_s", "device", "cpu_features", "config_sha")},
        "judged": judged,
        "verdicts": judgement.records(verdicts, s.expect),
        "design": design.checks(resolved, trials, progress, edges),
        **sequential.record(sequence),
    }
    atomic_write(out / "verdicts.json", json.dumps(entry, indent=2) + "\n")
    path = out / "report.md"
    before = path.read_text() if path.is_file() else ""
    confirmed = []
    if resolved.confirm:
        original = confirmation.read(out.with_name(resolved.profile or "base") / "verdicts.json")
        confirmed = confirmation.section(original, entry)
    stamp = (f"Judged from this report's `trials.csv` by commit `{judged['commit'][:10]}`"
             + (" (with uncommitted changes)" if judged["dirty"] else "") + f" on {judged['date']} "
             f"(`suite report {resolved.command_args} --from-files`); the trials are the run's, unchanged.")
    text = report.render(resolved, trials, summary, verdicts, progress, found, confirmed, survival_png, sequence,
                         recorded={heading: section(before, heading) for heading in KEPT}, judged=stamp)
    atomic_write(path, text)
    return path


def section(text: str, heading: str) -> list[str]:
    """The lines of ``text``'s section under ``heading``, heading included, up to the next ``## `` heading ([] if none)."""
    rows = text.split("\n")
    if heading not in rows:
        return []
    start = rows.index(heading)
    end = next((i for i in range(start + 1, len(rows)) if rows[i].startswith("## ")), len(rows))
    return rows[start:end]


def read_trials(out: Path) -> pd.DataFrame:
    path = out / "trials.csv"
    if not path.is_file():
        raise SuiteError(f"{path}: no trials written here yet; run the study first (or rebuild from MLflow: suite report)")
    trials = pd.read_csv(path)
    searches = out / "searches.csv"
    if "search_epochs" not in trials and searches.is_file():  # the budget that censors a search's epochs to target
        spent = pd.read_csv(searches).groupby("cell")["search_epochs"].sum().rename("search_epochs")
        trials = trials.merge(spent, left_on="cell", right_index=True, how="left")
    return trials
