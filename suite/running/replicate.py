"""Replication: rerun recorded trials and compare their metrics with the record.

On the same machine and backend a trial is deterministic, so its metrics must
match exactly. Elsewhere (another CPU, a GPU, another backend) floating-point
order differs: a rerun of one trial must agree within ``TOLERANCE``, and a rerun
of a committed report's cells is compared as a sample (``same_distribution``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from suite import metrics, statistics
from suite.kinds.base import finished, same
from suite.record import EPOCH_METRICS, Tracker, provenance
from suite.running import preflight
from suite.search import nuisance
from suite.study import ResolvedStudy
from suite.train import groups, trial
from suite.train.kept import Kept

TIMINGS = metrics.TIMINGS  # not reproducible by nature; everything else must be
EXECUTION = {"group_width"}  # how a trial ran (how many trained with it in a replay's groups), not what it gave
TOLERANCE = 0.02  # largest difference allowed across machines or backends, on any metric of one rerun trial
ALPHA = 0.05  # a committed report rerun elsewhere: the family-wise error over every cell and metric compared
# What must match for a rerun to give the same numbers to the last digit: the backend, the device, and the
# CPU's instruction-set features (other kernels round differently). A record made before the features were
# tagged is compared within the tolerance.
SAME_PLACE = ("backend", "device", "cpu.features")
FILE_PRECISION = 1e-12  # a CSV keeps a float to about 15 significant digits: "identical" against a file means this close


@dataclass
class Difference:
    cell: str
    seed: int
    metric: str
    recorded: float | None
    replicated: float | None


def replicate(resolved: ResolvedStudy, tracker: Tracker, trials: int, seed: int = 0):
    """Rerun up to ``trials`` recorded trials (a seeded sample); return (compared, differences, exact)."""
    recorded = tracker.finished_trials(resolved)
    if not recorded:
        return 0, [], True
    kept = Kept()
    resolved = preflight.budgeted(resolved, kept)  # a budget in steps: the epoch caps the run set
    here = provenance.collect(provenance.CODE_ROOT)
    study_run = tracker.latest_study_run(resolved)
    tags = study_run.data.tags if study_run else {}
    same_place = all(tags.get(k) == here.get(k) for k in SAME_PLACE)
    cells = {cell.index: cell for cell in resolved.cells}
    tuned = tracker.tuned_values(resolved)  # a tuned study ran each trial with its search's choice: so do we
    seeds = sorted({s for _, s in recorded})  # with rounds, the seeds of every round that ran
    differences = []
    plan = groups.Plan()  # the groups recorded trials trained in, planned again as they come
    chosen = sample(sorted(recorded), trials, seed)
    for cell_index, trial_seed in chosen:
        cell = nuisance.tuned_by_seed(cells[cell_index], {s: tuned.get((cell_index, s)) or {} for s in seeds})
        before = recorded[(cell_index, trial_seed)]
        if before.get("group_width"):  # trained together with its cell's seeds: again in the same groups, same width
            regroup(plan, resolved, cell, trial_seed, before["group_width"])
        again = trial.run(cell.for_seed(trial_seed)[0], trial_seed, resolved.study.target,
                          diagnostics=tuple(resolved.study.diagnostics), kept=kept, groups=plan).metrics
        for metric in sorted(set(before) | {k for k, v in again.items() if v is not None}):
            if not reproducible(metric):
                continue
            a, b = before.get(metric), again.get(metric)
            if not agree(a, b, exact=same_place):
                differences.append(Difference(cell.label, trial_seed, metric, a, b))
    return len(chosen), differences, same_place


def regroup(plan, resolved: ResolvedStudy, cell, seed: int, width) -> None:
    """Plan the group a recorded trial trained in (its round's seeds of its cell, at its recorded width) again."""
    plan.cell(cell, resolved.study.round_seeds(seed), width=int(width))


def sample(keys: list, trials: int, seed: int) -> list:
    """A seeded sample of up to ``trials`` of ``keys``, in their order."""
    return [keys[i] for i in sorted(np.random.default_rng(seed).choice(len(keys), min(trials, len(keys)), replace=False))]


def reproducible(metric: str) -> bool:
    """Whether a rerun must give ``metric`` again: not timings, nor how it ran (``EXECUTION``), nor per-epoch or
    per-layer series (their summaries are compared)."""
    return not (metric in TIMINGS or metric in EXECUTION or metric in EPOCH_METRICS or "/" in metric)


def agree(a: float | None, b: float | None, exact: bool) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        missing = lambda x: x is None or (isinstance(x, float) and math.isnan(x))  # noqa: E731
        return missing(a) and missing(b)
    return a == b if exact else abs(a - b) <= TOLERANCE


# --------------------------------------------------------------------------
# Against committed files (suite replicate --from results/<study>/<profile>/trials.csv)
# --------------------------------------------------------------------------


@dataclass
class FromFiles:
    """What a rerun against a committed report found."""

    mode: str  # "exact" (the recorded machine matches this one) or "statistical"
    why: str  # why that mode, in words
    rerun: int  # trials rerun
    differences: list[str]  # one line each: a trial's metric (exact), a cell's metric or a reversed verdict (statistical)
    verdicts_compared: bool  # every trial was rerun, so the verdicts were judged again and compared
    compared: int = 0  # statistical: the (cell, metric) samples compared, one Holm family
    notes: list[str] = field(default_factory=list)  # reported, not failed: a verdict flipped to inconclusive, ...


def same_distribution(committed: pd.DataFrame, rerun: pd.DataFrame, used: list[str], labels: dict,
                      alpha: float = ALPHA) -> tuple[int, list[str]]:
    """Whether the rerun seeds of each cell could come from the distribution the committed seeds came from, on
    each metric in ``used``: one two-sample test per (cell, metric), the same seeds' two samples, adjusted
    together by Holm so that a sound record fails with probability at most ``alpha`` however many are compared.

    The test follows the metric's shape (``suite/metrics.py``): Welch's t for a mean, Mann-Whitney's U for a
    time to target (a miss ranks last), Fisher's exact test for a yes/no outcome. Treating the two samples as
    independent is conservative where a rerun of a seed resembles its record (the usual case: same seeds).
    Returns the number of tests and one line per (cell, metric) whose adjusted p is below ``alpha``."""
    tests = []
    for cell_index in sorted(set(rerun["cell"])):
        before, after = (rows[rows["cell"] == cell_index] for rows in (committed, rerun))
        for metric in used:
            if metric not in before or metric not in after:
                continue
            values = pd.concat([after[metric], before[metric]])
            shape = metrics.get(metric).shape if metric in metrics.BY_NAME else "mean"
            if values.fillna(math.inf if shape == "censored" else math.nan).nunique(dropna=True) <= 1:
                continue  # every seed the same on both sides (all zero, all missed): nothing to test, p = 1 by design
            test = {"censored": statistics.rank_sum, "binary": statistics.counts}.get(shape, statistics.welch)
            result = test(after[metric].tolist(), before[metric].tolist())
            if not math.isnan(result.pvalue):
                tests.append((cell_index, metric, result, after[metric], before[metric]))
    adjusted = statistics.holm([r.pvalue for _, _, r, _, _ in tests])
    lines = []
    for (cell_index, metric, r, after, before), p in zip(tests, adjusted):
        if p < alpha:
            censored = metric in metrics.CENSORED
            lines.append(f"{labels.get(cell_index, cell_index)}: {metric} rerun {_centre(after, censored)} against committed "
                         f"{_centre(before, censored)} ({r.test}, n {r.n_a} and {r.n_b}, Holm p {p:.3g} over {len(tests)})")
    return len(tests), lines


def _centre(values: pd.Series, censored: bool) -> str:
    """A sample's centre as its test reads it: a time to target's median (misses last), else its mean and SD."""
    if censored:
        reached = values.notna().mean()
        return f"median {values.median():.4g} ({reached:.0%} reached)"
    return f"mean {values.mean():.4g} ± sd {values.std():.2g}"


def calibration(committed: pd.DataFrame, used: list[str], draws: int, seed: int = 0, alpha: float = ALPHA,
                resample: str = "split") -> float:
    """The share of sound reruns that ``same_distribution`` passes, from a committed record alone.

    Each draw makes two samples per cell that come from one distribution, and compares them as a replication
    would: ``split`` cuts each cell's committed seeds at random into two halves (the real distribution, half
    the seeds); ``normal`` draws both samples, each as many seeds as the cell has, from the cell's fitted
    normal (a time to target or a yes/no outcome by bootstrap from the committed seeds). A calibrated rule
    passes at least ``1 - alpha`` of the draws. (Comparing a fresh sample with the committed one it was drawn
    from would pass nearly always, and prove nothing.)"""
    rng = np.random.default_rng(seed)
    labels = {c: c for c in committed["cell"]}
    cells = [rows.reset_index(drop=True) for _, rows in committed.groupby("cell")]
    passed = 0
    for _ in range(draws):
        first, second = [], []
        for rows in cells:
            if resample == "split":
                order = rng.permutation(len(rows))
                first.append(rows.iloc[order[: len(rows) // 2]])
                second.append(rows.iloc[order[len(rows) // 2:]])
                continue
            for out in (first, second):
                sample = rows.iloc[rng.integers(0, len(rows), len(rows))].reset_index(drop=True).copy()
                for metric in used:
                    values = rows[metric].dropna() if metric in rows else ()
                    if metrics.get(metric).shape == "mean" and len(values) > 1:
                        sample[metric] = rng.normal(values.mean(), values.std(ddof=1), len(rows))
                out.append(sample)
        _, lines = same_distribution(pd.concat(first), pd.concat(second), used, labels, alpha)
        passed += not lines
    return passed / draws


def from_files(resolved: ResolvedStudy, trials_csv, trials: int, seed: int = 0) -> FromFiles:
    """Rerun a seeded sample of the trials a committed ``trials.csv`` records, from their recorded settings
    (cell, tuned values) and seeds, without MLflow and without searching again.

    Where the recorded machine matches this one (device and CPU instruction-set features, from the report's
    ``verdicts.json``) every metric must be identical. Elsewhere the comparison is statistical: every seed of
    each sampled cell is rerun, and each (cell, metric the verdicts use) is compared as two samples
    (``same_distribution``, Holm over all of them); when every trial was rerun, the verdicts are judged again
    and judged as a confirmation on fresh seeds judges them: a reversal (supported against refuted) fails, and
    any other change (to inconclusive, say) is reported."""
    import json
    from pathlib import Path

    from suite.analyze import confirmation, design, regime, verdict
    from suite.analyze.confirmation import read
    from suite.analyze.rejudge import same_design
    from suite.ground.errors import SuiteError

    path = Path(trials_csv)
    if not path.is_file():
        raise SuiteError(f"--from: no such file {path}")
    committed = pd.read_csv(path)
    committed = finished(committed)
    recorded = read(path.with_name("verdicts.json")) or {}
    same_design(resolved, recorded, path)
    here = provenance.collect(provenance.CODE_ROOT)
    matches = recorded.get("device") == here["device"] and recorded.get("cpu_features") == here["cpu.features"]
    if matches:
        why = f"recorded on this machine's kind ({here['device']}; CPU features {here['cpu.features']})"
    elif not recorded.get("cpu_features"):
        why = f"the record names no CPU features (recorded on {recorded.get('device')}; here {here['device']})"
    else:
        why = (f"recorded on {recorded.get('device')} with {recorded.get('cpu_features')}; here {here['device']} with "
               f"{here['cpu.features']}")
    from suite.train import backend

    in_groups = "group_width" in committed.columns and bool(committed["group_width"].notna().any())
    if in_groups and backend.name() != "jax":  # grouped training runs on JAX only: here each trial alone, other numbers
        matches = False
        why = f"its trials trained in groups on JAX; the {backend.name()} backend here trains each trial alone"
    cells = {c.index: c for c in resolved.cells}
    for cell_index, cell_rows in committed.groupby("cell"):
        cell = cells.get(int(cell_index))
        if cell is None or not all(same(cell_rows[a].iloc[0], v) for a, v in cell.values.items() if a in cell_rows):
            raise SuiteError(f"--from: {path} records cell {cell_index}, which the study file no longer has as it was; "
                             "check out the commit that made it")
    row = {(int(r["cell"]), int(r["seed"])): r for _, r in committed.iterrows()}  # each trial's committed row
    keys = sorted(row)
    picked = sample(keys, trials, seed)
    if not matches:  # a cell's mean needs all its seeds
        chosen_cells = {c for c, _ in picked}
        picked = [k for k in keys if k[0] in chosen_cells]
    kept, plan = Kept(), groups.Plan()
    resolved = preflight.budgeted(resolved, kept)

    def tuned(r) -> dict:
        return json.loads(r["tuned"]) if isinstance(r.get("tuned"), str) and r["tuned"] else {}

    wanted = {i for i, _ in picked}
    tuned_cells = {c.index: nuisance.tuned_by_seed(c, {s: tuned(r) for (i, s), r in row.items() if i == c.index})
                   for c in resolved.cells if c.index in wanted}  # each seed at its recorded choice
    again = {}
    for cell_index, trial_seed in picked:
        cell = tuned_cells[cell_index]
        width = row[(cell_index, trial_seed)].get("group_width")
        if matches and isinstance(width, (int, float)) and math.isfinite(width) and width:  # with its cell's seeds: so again
            regroup(plan, resolved, cell, trial_seed, width)
        again[(cell_index, trial_seed)] = trial.run(cell.for_seed(trial_seed)[0], trial_seed, resolved.study.target,
                                                    diagnostics=tuple(resolved.study.diagnostics), kept=kept,
                                                    groups=plan).metrics
    differences: list[str] = []
    label = {c.index: c.label for c in resolved.cells}
    if matches:
        for (cell_index, trial_seed), found in again.items():
            before = row[(cell_index, trial_seed)]
            for metric in sorted(k for k in found if k in committed.columns and reproducible(k)):
                a = None if pd.isna(before[metric]) else float(before[metric])
                b = found[metric]
                if not (agree(a, b, exact=True) or (a is not None and b is not None and math.isclose(a, b, rel_tol=FILE_PRECISION))):
                    differences.append(f"{label[cell_index]} seed={trial_seed}: {metric} recorded {a!r}, rerun {b!r}")
        return FromFiles("exact", why, len(again), differences, False)
    used = sorted({getattr(e, "metric", None) for e in resolved.study.expect} & set(committed.columns) - TIMINGS)
    rerun_rows = committed.copy()
    for (cell_index, trial_seed), found in again.items():
        at = (rerun_rows["cell"] == cell_index) & (rerun_rows["seed"] == trial_seed)
        for metric, value in found.items():
            if metric in rerun_rows.columns:
                rerun_rows.loc[at, metric] = value
    rerun_cells = rerun_rows[rerun_rows["cell"].isin({c for c, _ in again})]
    tested, differences = same_distribution(committed, rerun_cells, used, label)
    notes = []
    compared = len(again) == len(keys)
    if compared and resolved.study.expect:
        caps = regime.caps(resolved)
        before, after = (verdict.evaluate(resolved.study.expect, design.with_searches(resolved, rows), resolved.study.grid,
                                          resolved.study.alpha, caps=caps) for rows in (committed, rerun_rows))
        for b, a in zip(before, after):
            if b.verdict == a.verdict:
                continue
            what = confirmation.outcome(b.verdict, a.verdict)
            line = f"verdict '{b.says}': committed {b.verdict}, rerun {a.verdict} ({what})"
            (differences if what == confirmation.REVERSED else notes).append(line)
    return FromFiles("statistical", why, len(again), differences, compared, tested, notes)
