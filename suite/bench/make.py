"""``make bench``: what the suite itself costs, measured, written to results/bench/.

- floor: the study's largest cell trained by the suite, by bare ``model.fit``, and as plain NumPy
  matrix products (the arithmetic floor), per epoch and per whole trial (floor.py);
- overhead: a study run by the suite against the same fits in a bare
  ``model.fit`` loop (overhead.py, bare.py), each a fresh process;
- backends: the same study on every installed Keras backend (backends.py);
- workers: the same study with 1, 2, ... parallel workers (keras-tuner's chief over gRPC): trials per hour;
- scaling: `suite report` and resume against 10/100/1,000 recorded trials (scaling.py);
- grouped: the largest cell's seeds, and a rate search, trained together on JAX (grouped.py), against
  the same trials alone and the floor (needs JAX: ``pip install -e '.[jax]'``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from suite.bench import backends, cell, grouped, overhead, processes, scaling
from suite.record import provenance
from suite.workspace import atomic_write

PARTS = ("floor", "overhead", "backends", "workers", "scaling", "grouped", "cell")
# The grouped part's whole-study runs, back to back: name -> (backend, --executor)
WAYS = {"tensorflow": ("tensorflow", "alone"), "jax": ("jax", "alone"), "grouped": ("jax", "grouped"),
        "default": (None, "auto")}


def run(study: Path, profile: str, out: Path, parts=PARTS, sizes=(10, 100, 1000), workers=(1, 2), group_sizes="1,5",
        ways=tuple(WAYS), log=print) -> Path:
    """``ways``: which whole-study runs the grouped part makes (``WAYS``; all four by default, TensorFlow first: the
    ratios are to the first run made)."""
    scratch = Path(tempfile.mkdtemp(prefix="suite-bench-"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    found: dict = {"study": study.stem, "profile": profile, "started": started,
                   "environment": provenance.collect(provenance.CODE_ROOT)}
    try:
        if "floor" in parts:
            log(f"bench: {study.stem} [{profile}]'s largest cell: suite, bare model.fit and the NumPy floor ...")
            found["floor"] = processes.floor_run(scratch, study, profile)
        if "overhead" in parts or "backends" in parts:
            log(f"bench: suite run {study.stem} [{profile}] on tensorflow ...")
            suite = processes.suite_run(scratch, "tensorflow", study, profile, "tensorflow")
            trials = len(suite.trials(study.stem, profile))
            if "overhead" in parts:
                log("bench: the same fits in a bare model.fit loop ...")
                bare = processes.bare_run(scratch, study, profile)
                found["overhead"] = overhead.breakdown(
                    suite.sections, suite.wall_s, trials, bare.wall_s, bare.sections["fit_s"]
                )
            if "backends" in parts:
                installed = backends.installed()
                found["backends"] = [backends.figures(suite, study.stem, profile, "tensorflow")]
                for name in installed:
                    if name != "tensorflow":
                        log(f"bench: suite run {study.stem} [{profile}] on {name} ...")
                        found["backends"].append(backends.measure(scratch, study, profile, name))
                found["backends_missing"] = [b for b in backends.BACKENDS if b not in installed]
        if "workers" in parts:
            found["workers"] = []
            for n in workers:
                log(f"bench: suite run {study.stem} [{profile}] with {n} parallel workers ...")
                timed = processes.suite_run(scratch, f"workers-{n}", study, profile, workers=n)
                ran = backends.recorded_backends(timed.home, study.stem)  # every trial recorded exactly once
                trials = len(timed.trials(study.stem, profile))
                found["workers"].append({"workers": n, "trials": trials, "runs_recorded": sum(ran.values()),
                                         "wall_s": timed.wall_s, "trials_per_hour": trials / timed.wall_s * 3600})
        if "grouped" in parts:
            if "jax" not in backends.installed():
                found["grouped_missing"] = "JAX is not installed: pip install -e '.[jax]'"
            else:
                log(f"bench: {study.stem} [{profile}]'s largest cell, its seeds and a rate search trained together on JAX ...")
                found["grouped"] = processes.grouped_run(scratch, study, profile, group_sizes)
                found["grouped_study"] = []
                # the two paths back to back, and JAX alone; then the default (--executor auto), which picks one of them
                for way in (w for w in WAYS if w in ways):
                    (backend, how), name = WAYS[way], {"grouped": "jax --grouped"}.get(way, way)
                    log(f"bench: suite run {study.stem} [{profile}] on {name} ...")
                    timed = processes.suite_run(scratch, name.replace(" --", "-"), study, profile, backend, executor=how)
                    verdicts = json.loads((timed.home / "results" / study.stem / profile / "verdicts.json").read_text())
                    if how == "auto":  # which path the default took: the backend its trials were recorded with
                        name = f"default (on {', '.join(sorted(backends.recorded_backends(timed.home, study.stem)))})"
                    found["grouped_study"].append({
                        "run": name, "wall_s": timed.wall_s, "trials_s": timed.sections.get("study.trials"),
                        "verdicts": [v["verdict"] for v in verdicts["verdicts"]],
                        "says": [v["says"] for v in verdicts["verdicts"]],
                    })
        if "cell" in parts:
            found["cell"] = cell.measure(scratch, study, profile, log)
        if "scaling" in parts:
            found["scaling"] = []
            for n in sizes:
                log(f"bench: report and resume with {n} recorded trials ...")
                found["scaling"].append(scaling.measure(scratch, n))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "bench.json", json.dumps(found, indent=1) + "\n")
    atomic_write(out / "README.md", render(found))
    return out


def floor_section(fl: dict, study: str, profile: str) -> list[str]:
    floor = fl["floor_epoch_s"]
    net = "-".join(map(str, fl["layers"]))
    return [
        f"## Speed against the arithmetic floor ({study}, {profile}: cell {fl['cell']})",
        "",
        f"MLP {net}, {fl['train_examples']:,} training examples, batch {fl['batch_size']}, {fl['epochs']} epochs. "
        "Per epoch: the median over epochs 2 onwards, training only (validation excluded), results waited for. "
        f"The suite trains with: {fl['training_loop']}.",
        "",
        "| | seconds per epoch | over the floor |",
        "|---|---|---|",
        f"| NumPy matrix products (forward, backward, update): the floor | {floor * 1000:.1f} ms | 1.00 |",
        f"| bare `model.fit` | {fl['bare_epoch_s'] * 1000:.1f} ms | {fl['bare_epoch_s'] / floor:.2f} |",
        f"| the suite's trial | {fl['suite_epoch_s'] * 1000:.1f} ms | **{fl['suite_epoch_s'] / floor:.2f}** |",
        "",
        f"A whole trial of the suite (data, build, warm-up, {fl['epochs']} epochs with validation, measurement), "
        f"against the floor's {fl['epochs']} epochs ({fl['floor_epochs_s']:.2f} s): a cell's first trial, which traces "
        f"the compiled epoch and forward pass, took {fl['suite_trial_wall_s']:.2f} s, "
        f"**{fl['suite_trial_wall_s'] / fl['floor_epochs_s']:.2f}x**; the next seed's, which reuses them (as a "
        f"study's further seeds do), {fl['suite_next_trial_wall_s']:.2f} s, "
        f"**{fl['suite_next_trial_wall_s'] / fl['floor_epochs_s']:.2f}x**. Goals: at most 2.0x per epoch, 3.0x per trial.",
        "",
    ]


def _bookkeeping(o: dict) -> float:
    """Seconds the suite spent on its own records rather than on data, models and training."""
    study, trial = o["per_study"], o["per_trial"]
    return study["setup_s"] + study["report_s"] + o["trials"] * (trial["tracking_s"] + trial["tuner_s"])


def invocation(f: dict) -> str:
    """The command that made ``f``, read from what it holds: its parts (``--parts`` unless all of them) and the grouped
    part's whole-study runs (``--ways`` unless all four)."""
    parts = [p for p in PARTS if p in f or (p == "grouped" and "grouped_missing" in f)]
    command = f"suite bench {f['study']} --profile {f['profile']}"
    if parts != list(PARTS):
        command += f" --parts {','.join(parts)}"
    if "grouped_study" in f:
        named = {"jax --grouped": "grouped"}
        ways = [named.get(r["run"], r["run"].split(" ")[0]) for r in f["grouped_study"]]
        if ways != list(WAYS):
            command += f" --ways {','.join(ways)}"
    return command


def render(f: dict) -> str:
    env = f["environment"]
    lines = [
        "# make bench: what the suite costs",
        "",
        f"Generated by `{invocation(f)}` on {f['started']}, "
        f"commit `{env['git.commit'][:10]}`{' (dirty)' if env['git.dirty'] == 'true' else ''}, {env['device']}, "
        f"Python {env['python']}, TensorFlow {env.get('version.tensorflow', '-')}, Keras {env.get('version.keras', '-')}, "
        f"keras-tuner {env.get('version.keras-tuner', '-')}, MLflow {env.get('version.mlflow', '-')}. "
        "Every figure is from this one run; ratios compare runs made back to back on the same machine.",
        "",
    ]
    if "floor" in f:
        lines += floor_section(f["floor"], f["study"], f["profile"])
    if "grouped" in f:
        lines += grouped.section(f["grouped"])
    if "grouped_study" in f:
        lines += grouped.study_section(f["grouped_study"], f["study"], f["profile"])
    elif "grouped_missing" in f:
        lines += ["## Trials that train together (JAX)", "", f"Not measured: {f['grouped_missing']}.", ""]
    if "cell" in f:
        lines += cell.section(f["cell"])
    if "overhead" in f:
        o = f["overhead"]
        lines += [
            f"## Overhead: the suite against a bare model.fit loop ({f['study']}, {f['profile']}, {o['trials']} trials)",
            "",
            "| | wall time | in model.fit |",
            "|---|---|---|",
            f"| `suite run` (fresh process and store, report included) | {o['suite_wall_s']:.1f} s | {o['training_share']:.0%} |",
            f"| bare loop: build, compile, `model.fit` (fresh process) | {o['bare_wall_s']:.1f} s | {o['bare_training_share']:.0%} |",
            "",
            f"**Ratio suite / bare: {o['ratio']:.3f}**"
            + ("; the suite's compiled epoch outruns `model.fit`'s per-step dispatch, so this ratio no longer isolates "
               "what the suite adds. " if o["ratio"] < 1 else f"; the suite's overhead is **{o['overhead_share']:.1%}** of its wall time. ")
            + f"Its own bookkeeping (set-up, MLflow writes, keras-tuner, the report) took **{_bookkeeping(o):.1f} s, "
            f"{_bookkeeping(o) / o['suite_wall_s']:.1%}** of its wall time.",
            "",
            "Fixed costs of the suite run:",
            "",
            "| once per study | seconds | | once per trial | seconds |",
            "|---|---|---|---|---|",
        ]
        study_rows = [("start-up and imports", "startup_s"), ("set-up (store, provenance, tuner)", "setup_s"),
                      ("data", "data_s"), ("report", "report_s")]
        trial_rows = [("build and compile", "build_s"), ("measure (every split, test scores)", "measure_s"),
                      ("MLflow writes", "tracking_s"), ("keras-tuner bookkeeping", "tuner_s"), ("other", "other_s")]
        for i in range(max(len(study_rows), len(trial_rows))):
            a = study_rows[i] if i < len(study_rows) else ("", None)
            b = trial_rows[i] if i < len(trial_rows) else ("", None)
            av = f"{o['per_study'][a[1]]:.2f}" if a[1] else ""
            bv = f"{o['per_trial'][b[1]]:.3f}" if b[1] else ""
            lines.append(f"| {a[0]} | {av} | | {b[0]} | {bv} |")
        lines.append("")
    if "backends" in f:
        lines += [
            f"## Backends: the same study file ({f['study']}, {f['profile']}) on each installed Keras backend",
            "",
            "| backend | wall time | time per epoch (median, steady) | first epoch's extra | build per trial | mean test accuracy | runs recorded with this backend |",
            "|---|---|---|---|---|---|---|",
        ]
        for b in f["backends"]:
            lines.append(
                f"| {b['backend']} | {b['wall_s']:.1f} s | {b['epoch_s'] * 1000:.1f} ms | {b['first_epoch_extra_s']:.2f} s | "
                f"{b['build_s']:.2f} s | {b['test_accuracy']:.3f} | {sum(b['runs_recorded'].values())} of {b['trials']} |"
            )
        if f.get("backends_missing"):
            lines.append(f"\nNot installed here, so not measured: {', '.join(f['backends_missing'])}.")
        lines.append("")
    if "workers" in f:
        lines += [
            f"## Parallel workers ({f['study']}, {f['profile']}; `suite run --workers N`, chief oracle over gRPC on loopback)",
            "",
            "| workers | wall time | trials per hour | speed-up over 1 worker | trial runs recorded |",
            "|---|---|---|---|---|",
        ]
        one = f["workers"][0]["trials_per_hour"]
        for w in f["workers"]:
            lines.append(f"| {w['workers']} | {w['wall_s']:.1f} s | {w['trials_per_hour']:.0f} | "
                         f"{w['trials_per_hour'] / one:.2f} | {w['runs_recorded']} of {w['trials']} |")
        lines += ["", f"This machine has {os.cpu_count()} CPU cores; workers beyond that compete for them.", ""]
    if "scaling" in f:
        lines += [
            "## Scaling: `suite report` and resume against recorded trials",
            "",
            "Synthetic finished trials (20 epochs each) written through the suite's own tracker; resume must find them "
            "all recorded and train none. In-process times (no start-up).",
            "",
            "| recorded trials | writing them | `suite report` | resume (nothing left to train) | report per trial | resume per trial |",
            "|---|---|---|---|---|---|",
        ]
        for s in f["scaling"]:
            lines.append(
                f"| {s['trials']} | {s['record_s']:.1f} s | {s['report_s']:.2f} s | {s['resume_s']:.2f} s | "
                f"{s['report_s'] / s['trials'] * 1000:.1f} ms | {s['resume_s'] / s['trials'] * 1000:.1f} ms |"
            )
        lines.append("")
    return "\n".join(lines)
