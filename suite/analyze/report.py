"""The report: what MLflow holds about a study, as tables, figures and prose.

Built from MLflow alone (never from the tuner's folder), so ``suite report``
rebuilds it without training. Every file is written atomically: a crash while
reporting leaves the previous version, never half a file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import yaml

from suite import metrics
from suite.analyze import aggregate, confirmation, design, drawing, judgement, notes, sequential
from suite.analyze.aggregate import fmt_ci
from suite.analyze.design import searchers
from suite.ground.errors import SuiteError
from suite.kinds.base import finished, matching
from suite.record import EPOCH_METRICS, Tracker, provenance
from suite.study import TARGET_METRICS, ResolvedStudy
from suite.study.applicable import plugin_unused
from suite.workspace import atomic_write


def write(resolved: ResolvedStudy, tracker: Tracker, out: Path, parent_run: str | None = None) -> Path:
    """Read the study's record, then write its files in turn: tables, figures, verdicts, the report."""
    with tracker.snapshot():  # every trial has ended: one read of each kind of run
        trials, progress, found = recorded(resolved, tracker)
        study_run = tracker.latest_study_run(resolved)
        spent = attempts_wall_s(study_run, tracker.runs(resolved.name, "study", resolved.config_sha),
                                [*tracker.runs(resolved.name, "trial", resolved.config_sha),
                                 *tracker.runs(resolved.name, "search", resolved.config_sha)])
    summary = aggregate.summarize(trials, resolved.axes)
    out.mkdir(parents=True, exist_ok=True)
    edges, verdicts, sequence = judgement.judge(resolved, trials, progress)
    # with rounds: the cells each later round trained, and the one due next (its trials "not yet run")
    resolved = replace(resolved, grown=sequence.grown + ((sequence.next,) if sequence.next else ()))
    write_tables(resolved, trials, summary, progress, out)
    drawing.draw(resolved, trials, progress, tracker, out)
    survival_png = drawing.survival(resolved.study.expect, trials, resolved.axes, out / "survival.png")
    entry = {**scorecard_entry(resolved, verdicts, study_run, spent), "design": design.checks(resolved, trials, progress, edges),
             **sequential.record(sequence)}
    atomic_write(out / "verdicts.json", json.dumps(entry, indent=2) + "\n")
    confirmed = []
    if resolved.confirm:  # the original report's verdicts, beside: what became of them on fresh seeds
        original = confirmation.read(out.with_name(resolved.profile or "base") / "verdicts.json")
        confirmed = confirmation.section(original, entry)
    built = provenance.commit(provenance.CODE_ROOT)  # which code wrote the report (the trials carry their own)
    recorded_sections = {"## Environment": environment(study_run, trials, built)}  # what MLflow's study run recorded
    atomic_write(out / "report.md", render(resolved, trials, summary, verdicts, progress, found, confirmed, survival_png,
                                           sequence, recorded_sections))
    run_id = parent_run or (study_run.info.run_id if study_run else None)
    if run_id:  # the parent run shows the report, and the UI the verdicts
        tracker.log_artifacts(run_id, out)
        figures_made = sorted(p.name for p in out.glob("*.png"))
        notes.publish(resolved, tracker, run_id, trials, summary, verdicts, figures_made, entry["wall_s"])
    return out / "report.md"


def recorded(resolved: ResolvedStudy, tracker: Tracker) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The study's latest trial per (cell, seed), each with its cell's search result; the search trials; their summary."""
    recorded = tracker.trials(resolved)
    if recorded.empty:
        raise SuiteError(
            f"no recorded trials for study {resolved.name!r} (profile {resolved.profile_name}) in "
            f"{tracker.uri}; run it first: suite run {resolved.path}{resolved.flags}"
        )
    trials = aggregate.latest_per_trial(recorded)
    progress = aggregate.search_progress(tracker.searches(resolved)) if resolved.study.tune else pd.DataFrame()
    found = aggregate.search_summary(progress) if not progress.empty else pd.DataFrame()
    if not found.empty:  # each search's result joins the trials it chose for, so verdicts can judge it
        searched = ["cell", "for_seed", "search_best_val_accuracy", "search_epochs_to_target", "search_epochs"]
        trials = trials.assign(for_seed=searchers(resolved, trials)).merge(found[searched], on=["cell", "for_seed"], how="left").drop(columns="for_seed")
    return trials, progress, found


def write_tables(resolved: ResolvedStudy, trials: pd.DataFrame, summary: pd.DataFrame, progress: pd.DataFrame,
                 out: Path) -> None:
    """trials.csv (one row per trial: per-trial metrics only; per-epoch series stay in MLflow, where their
    "latest value" would mislead here), summary.csv (one row per cell), searches.csv (one row per search trial)."""
    columns = ["cell", *resolved.axes, "seed", "status"]
    skip = {*columns, "run_id", "start_time", "error", "data_fingerprint", "data_preprocessing", "parent", "code_version",
            *EPOCH_METRICS}
    metrics = sorted(c for c in trials.columns if c not in skip and "/" not in c)  # "act_std/03": a series
    atomic_write(
        out / "trials.csv", trials[[*columns, *metrics, "data_fingerprint", "code_version", "run_id", "error"]].to_csv(index=False)
    )
    atomic_write(out / "summary.csv", summary.to_csv(index=False))
    if not progress.empty:
        shown = ["cell", "for_seed", "trial", "status", "values", "why", "search_score", "best_val_accuracy", "reached_target", "search_epochs",
                 *(["search_stopped_epoch"] if "search_stopped_epoch" in progress else []), "spent", "best_so_far",
                 "code_version", "run_id", *(["error"] if "error" in progress else [])]
        atomic_write(out / "searches.csv", progress.reindex(columns=shown).to_csv(index=False))


# --------------------------------------------------------------------------
# Markdown, section by section in the order render prints them
# --------------------------------------------------------------------------


def render(
    resolved: ResolvedStudy, trials: pd.DataFrame, summary: pd.DataFrame, verdicts, progress: pd.DataFrame,
    found: pd.DataFrame, confirmed: list[str] = (), survival_png: bool = False, sequence=None,
    recorded: dict[str, list[str]] | None = None, judged: str = "",
) -> str:
    """The report, section by section: what was tested, the verdicts, the evidence, how to reproduce it.

    Everything is computed from the trials and the study file except the sections in ``recorded`` (heading ->
    lines): the environment the study run recorded in MLflow, and a table's preprocessing where the trials
    written to ``trials.csv`` no longer hold it (``suite report --from-files`` keeps those from the report);
    ``judged``: a line closing the verdict section, which commit judged the trials again and how."""
    recorded = recorded or {}
    preprocessing = preprocessing_section(trials) or recorded.get("## Data preprocessing", [])
    lines = [
        *header(resolved, trials, summary),
        *design_section(resolved),
        *judgement.table(verdicts, resolved.study.alpha, resolved.study.expect, survival_png, sequence),
        *([judged, ""] if judged else []),
        *confirmed,
        *search_section(resolved, trials, progress, found),
        *reference_section(resolved.study, trials),
        *results_section(resolved, summary),
        *notes.balance_section(trials, summary, resolved.axes),
        *figures_section(resolved.study),
        *settings_section(resolved.study),
        *preprocessing,
        *(recorded.get("## Environment") or ["## Environment", "", "(no study run recorded)", ""]),
        *reproduce_section(resolved, searched=not progress.empty),
    ]
    return "\n".join(lines)


def header(resolved: ResolvedStudy, trials: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    s, t = resolved.study, resolved.study.target
    n_finished = len(finished(trials))
    failed = int((trials["status"] == "FAILED").sum())
    diverged = int(summary["diverged"].sum())
    pending = len(resolved.trials) - len(trials)
    first = len(resolved.cells) * len(s.seeds)  # the first round's trials
    return [
        f"# {s.title}",
        "",
        f"> **Claim.** {s.claim}",
        "",
        f"Sources: {'; '.join(s.sources) or 'none given'}.",
        "",
        f"Study `{s.name}`, profile `{resolved.profile_name}`: {len(resolved.cells)} cells x {len(s.seeds)} seeds = "
        + (f"{first} trials, then {len(resolved.trials) - first} more in {len(resolved.grown)} later rounds "
           f"(up to {s.looks} looks, see Looks); " if s.looks > 1 else "")
        + f"{len(resolved.trials)} trials; {n_finished} finished, {failed} failed, {diverged} diverged"
        + (f", **{pending} not yet run**" if pending > 0 else "")
        + (f". Target: `{t.metric}` {'>=' if t.direction == 'max' else '<='} {t.value}." if t.declared
           else ". Target: none declared (no time to target)."),
        "",
    ]


def design_section(resolved: ResolvedStudy) -> list[str]:
    """What the comparison varies, re-tunes and holds still, and why: read before the verdicts."""
    s = resolved.study
    base = s.settings().model_dump()
    tuned = list(dict.fromkeys(path for cell in resolved.cells if cell.tune for path in cell.tune.space))
    scientific = ", ".join(f"`{axis}`" for axis in s.grid) or "none (a single cell)"
    if tuned:
        algorithms = sorted({c.tune.algorithm for c in resolved.cells if c.tune})
        nuisance = (f"{', '.join(f'`{p}`' for p in tuned)}, re-tuned for every cell by a {'/'.join(algorithms)} search "
                    "on the validation split (see *Nuisance search*)")
    else:
        nuisance = "none: every cell trains at the same settings"
    lines = ["## Design", "", f"- **Scientific** (the grid: what the claim is about): {scientific}.",
             f"- **Nuisance** (re-tuned per cell): {nuisance}."]
    if s.design.fixed:
        lines.append("- **Fixed**, and why:")
        lines += [f"  - `{path}` = `{_setting(base, path)}`: {why}" for path, why in s.design.fixed.items()]
        lines.append("  - everything else at the values under *Settings*.")
    else:
        lines.append("- **Fixed**: everything else, at the values under *Settings*; the study file gives no reasons (`design.fixed`).")
    if s.design.note:
        lines += ["", s.design.note]
    return [*lines, ""]


def _setting(tree: dict, path: str):
    for part in path.split("."):
        tree = tree[part]
    return tree


def search_section(resolved: ResolvedStudy, trials: pd.DataFrame, progress: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    """How the nuisance settings were tuned, each cell's search, a plain search's top trials and the search figures."""
    from suite.study.space import numeric

    tune = resolved.study.tune
    if tune is None:
        return []
    lines = ["## Nuisance search", "", search_intro(resolved), ""]
    if found.empty:
        return [*lines, "No search trial is recorded yet.", ""]
    lines += search_table(resolved, trials, progress, found)
    lines += stop_rule_line(tune, progress)
    if not resolved.axes:  # a plain hyperparameter search: its best trials
        lines += top_trials(tune, progress, resolved.study.data.task == "regression")
    found_what = "R²" if resolved.study.data.task == "regression" else "accuracy"
    lines += [f"![best validation {found_what} found against epochs spent](search.png)", ""]
    if any(numeric(entry) for c in resolved.cells if c.tune for entry in c.tune.space.values()):
        lines += ["The isolation plot: each search's score against the value it tried, the chosen value starred (a star at "
                  "the end of its cell's points was chosen on the edge of what was tried).", "",
                  "![search score against each tuned setting, chosen values starred](isolation.png)", ""]
    return lines


def search_intro(resolved: ResolvedStudy) -> str:
    """What was tuned, by which search, within which budget, and what the verdicts' intervals cover as a result."""
    tune, epochs = resolved.study.tune, resolved.study.train.epochs
    tuned = dict.fromkeys(path for cell in resolved.cells for path in cell.tune.space)  # with a hyper-model's hp.* calls
    repeats = f" x {tune.repeats} seeds (a trial scores the mean of its {tune.repeats} runs)" if tune.repeats > 1 else ""
    blocks = "; ".join(", ".join(map(str, b)) for seeds in resolved.study.rounds_of_seeds()[:len(resolved.grown) + 1]
                       for b in tune.seed_blocks(seeds)) if tune.per == "block" else ""
    covers = {
        "seed": "each seed of the study had its own search, on its own search seed, and trained with that search's best "
                "setting (`tune.per: seed`): the intervals of the verdicts cover the luck of tuning as well as that of "
                "initialization and data order.",
        "block": f"the seeds of the study were split into {tune.blocks} blocks ({blocks}), each with its own search on its "
                 "own search seed, whose best setting every seed of the block trained with (`tune.per: block`): the "
                 "intervals of the verdicts cover the luck of tuning, across blocks, as well as that of initialization "
                 "and data order.",
    }.get(tune.per, "the best setting of each cell was then rerun with every seed of the study, and those reruns are the "
                    "trials compared everywhere else in this report. Each cell was tuned once: the intervals of the verdicts "
                    "cover initialization and data order, not the luck of tuning (`tune.per: seed` gives each seed its own "
                    "search).")
    return (f"Tuned for every cell: {', '.join(f'`{p}`' for p in tuned)}, on the validation split, by keras-tuner's "
            f"`{tune.algorithm}` search (unless a cell says otherwise), within {tune.trials} trials x {epochs} epochs"
            f"{repeats} = {tune.budget(epochs)} epochs per search; the objective is the best `{tune.objective}` over "
            f"epochs. Search trials train with their own seed; {covers}")


def stop_rule_line(tune, progress: pd.DataFrame) -> list[str]:
    """What the study's declared rule for losing candidates (``tune.stop``) did: how many candidates it stopped."""
    if tune.stop is None:
        return []
    done = finished(progress)
    at = done["search_stopped_epoch"].dropna() if "search_stopped_epoch" in done else pd.Series(dtype=float)
    epochs = "" if not len(at) else (f", each after epoch {at.min():.0f}" if at.min() == at.max()
                                     else f", after epochs {at.min():.0f} to {at.max():.0f}")
    return [f"Losing candidates were stopped early by the rule the study declares (`tune.stop`, {tune.stop.rule}): from "
            f"epoch {tune.stop.after} on, a candidate whose best `{tune.objective}` so far was worse than the median of the "
            f"earlier candidates' at the same epoch (once {tune.stop.earlier} had run) stopped. It stopped {len(at)} of "
            f"{len(done)} candidates{epochs}; the epochs spent above count what each was allowed.", ""]


def search_table(resolved: ResolvedStudy, trials: pd.DataFrame, progress: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    """One row per search: its cell (and seed), budget spent, best found, the chosen value and where it lies."""
    per_seed = (found["for_seed"] >= 0).any() if "for_seed" in found else False
    if "tuned" in trials:
        keyed = trials.assign(for_seed=trials["seed"] if per_seed else -1)
        chosen = keyed.drop_duplicates(["cell", "for_seed"]).set_index(["cell", "for_seed"])["tuned"]
    else:
        chosen = pd.Series(dtype=str)
    axes = resolved.axes
    headers = [*(axes or ["cell"]), *(["for seed"] if per_seed else []), "algorithm", "trials (failed)", "epochs spent",
               "best val R² found" if resolved.study.data.task == "regression" else "best val acc found", "epochs to target", "chosen", "the chosen value among those tried"]
    rows = []
    cells = {c.index: c for c in resolved.cells}
    for r in found.to_dict("records"):
        cell = cells.get(r["cell"])
        if cell is None:
            continue
        to_target = r["search_epochs_to_target"]
        key = (r["cell"], r.get("for_seed", -1) if per_seed else -1)
        searched = progress[(progress["cell"] == r["cell"]) & (progress["for_seed"] == key[1])]
        rows.append(
            [
                *([str(v) for v in cell.values.values()] if axes else ["base"]),
                *([str(int(key[1]))] if per_seed else []),
                cell.tune.algorithm,
                f"{r['search_trials']} ({r['search_failed']})",
                f"{r['search_epochs']:.0f}",
                fmt(r["search_best_val_accuracy"], 3),
                "not reached" if to_target is None or pd.isna(to_target) else f"{to_target:.0f}",
                _values(chosen.get(key, "")),
                boundary(cell, searched, chosen.get(key, "")),
            ]
        )
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers), *("| " + " | ".join(r) + " |" for r in rows), ""]


def top_trials(tune, progress: pd.DataFrame, regression: bool = False) -> list[str]:
    """A plain search's ten best trials by its objective (and validation accuracy, a regression's R², where that is
    not the objective)."""
    top = finished(progress).rename(columns={"search_score": "score"})
    top = top.sort_values(["score", "trial"], ascending=[TARGET_METRICS[tune.objective] == "min", True])
    score, short = ("val_r2", "best val R²") if regression else ("val_accuracy", "best val acc")
    accuracy_too = tune.objective != score  # the objective is often the score itself: one column then
    header = f"| rank | settings | best {tune.objective} |" + (f" {short} |" if accuracy_too else "") + " epochs |"
    rows = [f"| {i} | {_values(t.values)} | {t.score:.4g} |" + (f" {fmt(t.accuracy, 3)} |" if accuracy_too else "")
            + f" {t.epochs:.0f} |" for i, t in enumerate(top.head(10).itertuples(), start=1)]
    return ["### Top search trials", "", header, "|---" * header.count(" |") + "|", *rows, ""]


def boundary(cell, searched: pd.DataFrame, chosen: str) -> str:
    """Where a cell's chosen values lie among those its search tried (the playbook's boundary check), and how
    many candidates a sweep's boundary check added."""
    from suite.study import space

    if not chosen or searched.empty:
        return "–"
    tried = [json.loads(v) for v in searched["values"]]
    edges = space.edges(cell.tune.space, dict(cell.tune.limits), tried, json.loads(chosen), extends=cell.tune.algorithm == "sweep")
    added = int(searched.get("why", pd.Series(dtype=str)).fillna("").str.startswith("boundary check").sum())
    words = "; ".join(e.words() for e in edges) or "no numeric setting"
    return words + (f" ({added} candidate{'s' if added > 1 else ''} added by the boundary check)" if added else "")


def reference_section(s, trials: pd.DataFrame) -> list[str]:
    """Published values beside the measured ones: a calibration, not a verdict (the expectations are the verdicts)."""
    if not s.reference:
        return []
    done = finished(trials)
    lines = [
        "## Published reference",
        "",
        "| cells | metric | published | measured (mean ± 95% CI, seeds) | measured - published | source |",
        "|---|---|---|---|---|---|",
    ]
    for r in s.reference:
        rows = matching(done, r.where)
        values = rows[r.metric].dropna() if r.metric in rows else pd.Series(dtype=float)
        mean, half, n = aggregate.mean_ci(values)
        where = ", ".join(f"`{k}={v}`" for k, v in r.where.items()) or "all"
        measured = "–" if n == 0 else f"{fmt_ci(mean, half)} ({n})"
        diff = "–" if n == 0 else f"{mean - r.value:+.3f}"
        lines.append(f"| {where} | `{r.metric}` | {r.value:g} | {measured} | {diff} | {r.source} |")
    return [*lines, ""]


def _values(text: str) -> str:
    if not text:
        return "as written"
    values = json.loads(text)
    if not values:
        return "as written (not searched)"
    return ", ".join(f"`{k}={f'{v:.3g}' if isinstance(v, float) else v}`" for k, v in values.items())


def results_section(resolved: ResolvedStudy, summary: pd.DataFrame) -> list[str]:
    return [
        "## Results per cell",
        "",
        table(summary, resolved.axes, shown(resolved)),
        "",
        ("R², error and gap" if resolved.study.data.task == "regression" else "Accuracy and gap")
        + " columns: mean ± half-width of the 95% t-interval over seeds. "
        + ("*To target* columns: median over seeds, where a seed that never reached the target counts as slower than "
           "every seed that did; *not reached* means the median seed did not reach it. " if resolved.study.target.declared
           else "")
        + "Training seconds exclude validation and the first epoch's warm-up (compilation and pipeline set-up), which "
        "is the *warm-up s* column (median over seeds).",
        "",
        "## Observed",
        "",
        *observations(summary, resolved.axes, shown(resolved)),
        "",
    ]


def shown(resolved: ResolvedStudy) -> tuple[metrics.Metric, ...]:
    return shown_columns(resolved.study.data.task, resolved.study.target.declared)


def shown_columns(task: str | None, targeted: bool) -> tuple[metrics.Metric, ...]:
    """The *Results per cell* columns of a study's task (``metrics.columns``), whatever else its summary holds;
    without a declared target, none about reaching it."""
    return tuple(m for m in metrics.columns(task) if targeted or not (m.shape == "censored" or m.name == "reached_target"))


def table(summary: pd.DataFrame, axes: list[str], columns: tuple[metrics.Metric, ...]) -> str:
    """One row per cell, one column per metric in ``columns``, then the diverged and failed trials."""
    headers = [*(axes or ["cell"]), "seeds", *(m.label for m in columns), "diverged", "failed"]
    rows = []
    for r in summary.to_dict("records"):
        row = [str(r[a]) for a in axes] if axes else ["base"]
        row.append(f"{r['finished']}/{r['trials']}")
        row += [cell(m, r) for m in columns]
        row += [str(r["diverged"]), str(r["failed"])]
        rows.append(row)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cell(m: metrics.Metric, r: dict) -> str:
    """One metric of one summary row as the table shows it: a yes/no rate as a share, a time to target as its censored
    median, a timing as its median, anything else as mean ± 95% half-width."""
    if m.shape == "binary":
        return "–" if pd.isna(r[m.name]) else f"{r[m.name]:.0%}"
    if m.shape == "censored":
        v = r[f"{m.name}_median"]
        return "not reached" if v == math.inf else fmt(v, 1 if m.unit == "s" else 0)
    if m.timing:
        return fmt(r[f"{m.name}_median"], 3)
    return fmt_ci(r[f"{m.name}_mean"], r[f"{m.name}_ci95"])


def observations(summary: pd.DataFrame, axes: list[str], columns: tuple[metrics.Metric, ...]) -> list[str]:
    """Which cell is best on each headline metric: computed, never written by hand."""
    if len(summary) < 2:
        return ["A single cell: nothing to compare."]

    def label(r):
        return ", ".join(f"`{a}={r[a]}`" for a in axes)

    out = []
    for m in (m for m in columns if m.headline):
        column = f"{m.name}_median" if m.shape == "censored" else f"{m.name}_mean"
        values = summary[column].replace(math.inf, math.nan)
        if values.notna().sum() == 0:
            out.append(f"- {m.headline}: " + ("no cell reached the target in most of its seeds." if m.shape == "censored"
                                               else "no finished trial measured it."))
            continue
        r = summary.loc[[values.idxmax() if m.better == "max" else values.idxmin()]].to_dict("records")[0]  # keeps ints ints
        out.append(f"- {m.headline}: {label(r)} ({fmt(r[column], 0 if m.unit == 'epochs' else 3)}).")
    return out


def fmt(v, digits: int = 3) -> str:
    return "–" if v is None or pd.isna(v) else f"{v:.{digits}f}"


def figures_section(s) -> list[str]:
    lines = [
        "## Figures",
        "",
        "![validation R² per epoch](curves.png)" if s.data.task == "regression" else "![validation accuracy per epoch](curves.png)",
        "",
        "![headline metrics against the grid](metrics.png)",
        "",
    ]
    if "activations" in s.diagnostics:
        lines += [
            "![activation spread and gradient norm per layer](diagnostics.png)",
            "",
            "![activation histograms per layer at initialization](activations.png)",
            "",
        ]
    elif s.diagnostics:
        lines += ["![gradient norm per layer](diagnostics.png)", ""]
    return lines


def settings_section(s) -> list[str]:
    shown = {**settings_shown(s), "grid": s.grid, "seeds": s.seeds}
    if s.target.declared:
        shown["target"] = s.target.model_dump()
    return ["## Settings", "", "```yaml", yaml.safe_dump(shown, sort_keys=False).rstrip(), "```", ""]


def settings_shown(s) -> dict:
    settings = s.settings().model_dump(mode="json")
    for name in plugin_unused(s.model.family):  # a plugin family's own layers: the MLP's shape does nothing
        settings["model"].pop(name.removeprefix("model."), None)
    if s.data.dataset != "synthetic" or s.data.path:  # its generator's settings would only distract
        del settings["data"]["synthetic"]
    if s.data.path:  # the user's file, not a built-in dataset
        del settings["data"]["dataset"]
    else:
        for key in ("path", "label", "columns"):
            settings["data"].pop(key, None)
    return settings


def preprocessing_section(trials: pd.DataFrame) -> list[str]:
    """How a raw table's columns became numbers, as the trials recorded it (fitted on each split's training rows)."""
    done = trials.get("data_preprocessing", pd.Series(dtype=str)).dropna()
    found = sorted({text for text in done if text})
    if not found:
        return []
    lines = ["## Data preprocessing", "",
             "The table's feature columns, encoded by a scikit-learn `ColumnTransformer` fitted on the training rows of "
             "each split alone (never on validation or test rows):", ""]
    for text in found[:3]:  # one per distinct encoding (a grid over splits may give several)
        lines += [f"- {note}" for note in text.split(" | ")] + [""]
    return lines


def environment(study_run, trials: pd.DataFrame, built: dict) -> list[str]:
    """Where the trials came from, as the study run recorded it, and which code wrote the report."""
    if study_run is None:
        return ["## Environment", "", "(no study run recorded)", ""]
    tags = study_run.data.tags
    when = dt.datetime.fromtimestamp(study_run.info.start_time / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(f"{k.removeprefix('version.')} {v}" for k, v in sorted(tags.items()) if k.startswith("version."))
    prints = sorted(set(trials["data_fingerprint"].dropna())) if "data_fingerprint" in trials else []
    took = ""
    if study_run.info.end_time:
        seconds = (study_run.info.end_time - study_run.info.start_time) / 1000
        spent = f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"  # a short run is not "0.0 min"
        took = f"; wall time {spent} ({int(trials['parent'].eq(study_run.info.run_id).sum())} trials run in it)"
    return [
        "## Environment",
        "",
        f"- Run: {when}; MLflow run `{study_run.info.run_id}`{took}",
        f"- Trials run by commit `{tags.get('git.commit', 'unknown')}`"
        + (" (with uncommitted changes)" if tags.get("git.dirty") == "true" else "")
        + f"; report built by commit `{built['git.commit']}`" + (" (with uncommitted changes)" if built["git.dirty"] == "true" else ""),
        f"- Backend: {tags.get('backend')}; device: {tags.get('device')}; "
        f"training loop: {tags.get('train.loop', 'keras fit')}; XLA: {tags.get('train.xla', 'off')}; "
        + (f"executor: {tags['train.executor']}; " if tags.get("train.executor") else "")
        + f"CPU instruction-set features: {tags.get('cpu.features', 'not recorded')}",
        f"- Python {tags.get('python')} on {tags.get('platform')}",
        f"- Packages: {versions}",
        f"- Data fingerprints: {', '.join(f'`{p}`' for p in prints) or 'none'}",
        f"- Code version (hash of the trial-computing modules) of the trials: {', '.join(f'`{c}`' for c in sorted(set(trials['code_version'].dropna()))) or 'unknown'}",
        f"- Study file sha256: `{tags.get('suite.file_sha', '')[:16]}`; resolved config: `{tags.get('suite.config_sha', '')[:16]}`",
        "",
    ]


def reproduce_section(resolved: ResolvedStudy, searched: bool) -> list[str]:
    return [
        "## Reproduce",
        "",
        "```sh",
        f"suite run {resolved.command_args}"
        "   # resumes: finished trials are skipped",
        f"suite report {resolved.command_args}   # rebuilds this report from MLflow",
        "```",
        "",
        "Files: `trials.csv` (one row per trial), `summary.csv` (one row per cell), `verdicts.json`, `curves.png`, `metrics.png`"
        + ("; `searches.csv` (one row per search trial), `search.png`." if searched else "."),
        "",
    ]


def attempts_wall_s(latest, attempts: list, children: list) -> float | None:
    """The wall time the study's record cost: the sum over its attempts (study runs) since it last started over
    (``--fresh``), each from its start to its end; one a kill ended counts to the end of the last trial or search
    it finished, since its recorded end is when a later attempt found it orphaned. None while the latest runs.
    A study stopped and resumed counts both attempts; one run again when finished adds its few seconds."""
    if latest is None or not latest.info.end_time:
        return None
    last_child: dict[str, int] = {}
    for run in children:
        parent, end = run.data.tags.get("mlflow.parentRunId"), run.info.end_time
        if parent and end:
            last_child[parent] = max(last_child.get(parent, 0), end)
    total = 0.0
    for run in {r.info.run_id: r for r in [*attempts, latest]}.values():
        end = run.info.end_time if run.info.status == "FINISHED" else last_child.get(run.info.run_id)
        if end:
            total += max(end - run.info.start_time, 0) / 1000
    return total


def scorecard_entry(resolved: ResolvedStudy, verdicts, study_run, wall_s: float | None = None) -> dict:
    s = resolved.study
    tags = study_run.data.tags if study_run else {}
    when = study_run.info.start_time if study_run else None
    return {
        "study": s.name,
        "title": s.title,
        "claim": s.claim,
        "sources": s.sources,
        "profile": resolved.profile_name,
        "commit": tags.get("git.commit", "unknown"),
        "dirty": tags.get("git.dirty") == "true",
        "date": dt.datetime.fromtimestamp(when / 1000, dt.timezone.utc).strftime("%Y-%m-%d") if when else None,
        # the study's wall time over its attempts (``attempts_wall_s``; None while it runs) and where: the scorecard
        # sums what the verdicts cost
        "wall_s": wall_s,
        "device": tags.get("device"),
        "cpu_features": tags.get("cpu.features"),  # with the device: whether a rerun elsewhere can match exactly
        "config_sha": resolved.config_sha,  # the design that made the trials: judging them again needs the same
        "verdicts": judgement.records(verdicts, s.expect),
    }
