"""Running the suite (or the bare baseline) as a fresh process, timed from outside.

Every measurement of ``make bench`` starts its own Python process in its own
scratch workspace, so start-up and imports are counted, and no cache or store
is shared between the things compared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from suite.ground.errors import SuiteError
from suite.record.provenance import CODE_ROOT


@dataclass
class Timed:
    wall_s: float  # the whole process, start-up included
    home: Path  # its workspace: studies/, results/, .suite/
    sections: dict  # seconds per timing section (suite runs), or the baseline's own figures

    def trials(self, study: str, profile: str) -> pd.DataFrame:
        return pd.read_csv(self.home / "results" / study / profile / "trials.csv")


def workspace(scratch: Path, name: str, study: Path, keep: bool = False) -> Path:
    """A fresh workspace holding the study (``keep``: whatever the folder already holds stays, such as a filled
    JAX cache)."""
    home = scratch / name
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    (home / "studies").mkdir(parents=True, exist_ok=keep)
    shutil.copy(study, home / "studies" / study.name)
    return home


def environment(home: Path, keras_backend: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "KERAS_BACKEND")}
    # each run its own store and its own, empty, JAX compilation cache: every run compiles as a first run does
    env.update(SUITE_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(CODE_ROOT),
               JAX_COMPILATION_CACHE_DIR=str(home / ".suite" / "jax-cache"))
    if keras_backend:
        env["KERAS_BACKEND"] = keras_backend
    return env


def run(command: list[str], env: dict, what: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=CODE_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise SuiteError(f"bench: {what} failed (exit {done.returncode}): {lines[-1] if lines else 'no output'}")
    return wall


def suite_run(
    scratch: Path, name: str, study: Path, profile: str, keras_backend: str | None = None, workers: int = 0,
    executor: str = "alone", keep: bool = False,
) -> Timed:
    """``suite run`` of the study in a fresh workspace and store (with ``workers`` parallel workers if > 0), on the
    given ``--executor`` (alone by default: one trial at a time, the baseline every part compares against); ``keep``:
    in the folder as it is (``workspace``). An empty ``profile``: the study file as written."""
    home = workspace(scratch, name, study, keep)
    timings = home / "timings.json"
    command = [sys.executable, "-m", "suite", "run", study.stem, *(["--profile", profile] if profile else []),
               "--timings", str(timings), "--executor", executor]
    command += ["--workers", str(workers)] if workers else []
    wall = run(command, environment(home, keras_backend), f"suite run {study.stem} ({name})")
    sections = {k: v["seconds"] for k, v in json.loads(timings.read_text()).items()}
    return Timed(wall, home, sections)


def floor_run(scratch: Path, study: Path, profile: str) -> dict:
    """The largest cell's training speed against the NumPy floor and bare model.fit (suite/bench/floor.py)."""
    home = workspace(scratch, "floor", study)
    out = home / "floor.json"
    command = [sys.executable, "-m", "suite.bench.floor", str(home / "studies" / study.name), profile, str(out)]
    run(command, environment(home), f"floor measurement of {study.stem}")
    return json.loads(out.read_text())


def bare_run(scratch: Path, study: Path, profile: str) -> Timed:
    """The same trials as a bare ``model.fit`` loop (suite/bench/bare.py)."""
    home = workspace(scratch, "bare", study)
    out = home / "bare.json"
    command = [sys.executable, "-m", "suite.bench.bare", str(home / "studies" / study.name), profile, str(out)]
    wall = run(command, environment(home), f"bare model.fit loop of {study.stem}")
    return Timed(wall, home, json.loads(out.read_text()))


def grouped_run(scratch: Path, study: Path, profile: str, sizes: str = "1,5") -> dict:
    """The largest cell's seeds trained as one group on JAX, against alone and the floor (suite/bench/grouped.py)."""
    home = workspace(scratch, "grouped", study)
    out = home / "grouped.json"
    command = [sys.executable, "-m", "suite.bench.grouped", str(home / "studies" / study.name), profile, str(out), sizes]
    run(command, environment(home, "jax"), f"grouped training of {study.stem}")
    return json.loads(out.read_text())
