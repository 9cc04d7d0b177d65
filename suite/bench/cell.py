"""One cell end to end against the floor (part ``cell`` of ``make bench``): the throughput issue's goal of "a 6-seed
cell of 30 epochs, from the first trial's start to the last trial's end, at most 1.6x the floor".

The study's largest cell (an MLP: the NumPy floor is written for one) becomes a study file of its own: that cell's
settings fixed, 6 seeds, 30 epochs with no early stopping, no search, no expectations. It is run as a user runs it,
``suite run`` in a fresh process and store, three ways back to back:

- **default, cold**: the default executor (``--executor auto``), with an empty JAX compilation cache, as a first run;
- **default, warm**: the same in a fresh store, with the cache the cold run left (as any later run of a study whose
  programs were compiled before: ``.suite/jax-cache`` persists);
- **tensorflow**: one trial at a time on TensorFlow (where it is installed).

*End to end* is the span from the first trial run's start to the last one's end, as MLflow recorded them (the
trials' data, builds, training, validation, measurement and records; the process's start-up, set-up and report
fall outside). The floor is the NumPy floor's steady epoch (``floor.numpy_floor``) times 6 x 30 trial-epochs,
measured in this process after the runs.
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
from pathlib import Path

import yaml

from suite.bench import processes
from suite.bench.floor import largest_cell, mlp_cell, numpy_floor

SEEDS, EPOCHS = 6, 30


def study_of_cell(study: Path, profile: str | None, cell, out: Path) -> Path:
    """A study file of ``study``'s ``cell`` (under ``profile``) alone: its grid values (or case) fixed, ``SEEDS``
    seeds, ``EPOCHS`` epochs without early stopping, no search and no expectations."""
    from suite.study import load_study

    raw = yaml.safe_load(study.read_text())
    for key, value in (raw.get("profiles") or {}).get(profile or "", {}).items():  # the profile's fixed settings
        if "." in key and not key.startswith(("grid.", "tune.")):
            section, name = key.split(".", 1)
            raw.setdefault(section, {})[name] = value
    cases = raw.get("cases") or {}
    for axis, value in cell.values.items():
        for key, v in (cases[value].items() if axis == "case" else [(axis, value)]):
            section, name = key.split(".", 1)
            raw.setdefault(section, {})[name] = v
    for drop in ("grid", "cases", "tune", "expect", "profiles", "design", "rounds", "literature"):
        raw.pop(drop, None)
    raw["name"] = f"{study.stem}_cell"
    raw["claim"] = f"none: {study.stem}'s largest cell ({cell.label}) timed end to end"
    raw["seeds"] = list(range(SEEDS))
    raw.setdefault("train", {}).update(epochs=EPOCHS, patience=None)
    path = out / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    load_study(path)  # a derived file that does not load fails here, naming its field
    return path


def trial_span(home: Path, name: str) -> dict:
    """The first trial's start to the last trial's end, in seconds, and the trials counted, from the run's store."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{home / '.suite' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], "tags.`suite.kind` = 'trial'")
    finished = [r for r in runs if r.info.status == "FINISHED"]
    if len(finished) != SEEDS:
        raise RuntimeError(f"bench cell: {len(finished)} of {SEEDS} trials finished")
    start = min(r.info.start_time for r in finished)
    end = max(r.info.end_time for r in finished)
    backends = sorted({r.data.tags.get("backend", "") for r in finished})
    executors = sorted({r.data.tags.get("train.executor", "") for r in finished})
    return {"span_s": (end - start) / 1000, "trials": len(finished), "backend": ", ".join(backends),
            "executor": ", ".join(executors)}


def measure(scratch: Path, study: Path, profile: str, log=print) -> dict:
    from suite.study import load_study

    folder = scratch / "cell-study"
    folder.mkdir(parents=True, exist_ok=True)
    original = largest_cell(load_study(study, profile))
    path = study_of_cell(study, profile, original, folder)
    runs = []
    cache = scratch / "cell-cold" / ".suite" / "jax-cache"  # what the cold run compiles, the warm run starts with
    for way, name, backend, executor in (("default, cold cache", "cell-cold", None, "auto"),
                                         ("default, warm cache", "cell-warm", None, "auto"),
                                         ("tensorflow", "cell-tensorflow", "tensorflow", "alone")):
        if backend == "tensorflow" and importlib.util.find_spec("tensorflow") is None:
            continue
        log(f"bench: {path.stem}, {SEEDS} seeds x {EPOCHS} epochs, {way} ...")
        home = scratch / name
        shutil.rmtree(home, ignore_errors=True)
        if name == "cell-warm":  # an otherwise fresh workspace
            shutil.copytree(cache, home / ".suite" / "jax-cache")
        timed = processes.suite_run(scratch, name, path, "", backend, executor=executor, keep=True)
        runs.append({"way": way, "wall_s": timed.wall_s, **trial_span(timed.home, path.stem)})

    resolved = load_study(path)
    cell, splits, layers = mlp_cell(resolved, "cell")
    s = cell.settings
    floor_epoch = statistics.median(numpy_floor(layers, len(splits.y_train), s.train.batch_size, 10)[1:])
    floor_s = floor_epoch * SEEDS * EPOCHS
    for r in runs:
        r["over_floor"] = r["span_s"] / floor_s
    return {"cell": original.label, "study": study.stem, "layers": layers, "train_examples": len(splits.y_train),
            "batch_size": s.train.batch_size, "seeds": SEEDS, "epochs": EPOCHS, "floor_epoch_s": floor_epoch,
            "floor_s": floor_s, "runs": runs}


def section(c: dict) -> list[str]:
    layers = "-".join(map(str, c["layers"]))
    lines = [
        f"## One cell end to end: {c['seeds']} seeds x {c['epochs']} epochs ({c['study']}'s largest cell, {c['cell']})", "",
        f"MLP {layers}, {c['train_examples']:,} training examples, batch {c['batch_size']}, no early stopping, no search. "
        "*End to end*: from the first trial run's start to the last one's end, as MLflow recorded them (data, "
        "builds, compilation, training, validation, measurement and records; start-up and the report outside). "
        f"The floor: the NumPy floor's steady epoch ({c['floor_epoch_s'] * 1000:.1f} ms) times "
        f"{c['seeds'] * c['epochs']} trial-epochs = {c['floor_s']:.1f} s. Goal: at most 1.6x.", "",
        "| run | path | end to end s | over the floor | whole command s |", "|---|---|---|---|---|",
    ]
    for r in c["runs"]:
        lines.append(f"| {r['way']} | {r['executor']} ({r['backend']}) | {r['span_s']:.1f} | **{r['over_floor']:.2f}x** | "
                     f"{r['wall_s']:.1f} |")
    return [*lines, ""]
