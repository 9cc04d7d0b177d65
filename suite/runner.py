"""Running a study: check everything, search the grid, then write the report.

The order matters: the study file, the datasets and the tracking store are all
checked before the first trial, so a typo or a missing dataset costs seconds,
and nothing is written to the store until they pass.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from suite import data, provenance, report
from suite.errors import SuiteError
from suite.study import ResolvedStudy
from suite.tracking import Tracker, default_uri

CODE_ROOT = Path(__file__).resolve().parent.parent  # the commit recorded is the code's, not the workspace's


@dataclass(frozen=True)
class Workspace:
    """Where studies are read and results, the MLflow store and tuner state are written."""

    root: Path

    @classmethod
    def current(cls) -> "Workspace":
        return cls(Path(os.environ.get("SUITE_HOME", ".")).resolve())

    @property
    def studies(self) -> Path:
        return self.root / "studies"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def state(self) -> Path:
        return self.root / ".suite"

    def tracker(self) -> Tracker:
        return Tracker(default_uri(self.root), artifact_root=self.state / "artifacts")

    def report_dir(self, resolved: ResolvedStudy) -> Path:
        # One folder per profile, so a smoke run never overwrites a committed quick report.
        # Study and profile names are validated as [a-z0-9_-], so this cannot leave results/.
        return self.results / resolved.name / (resolved.profile or "base")


def run_study(resolved: ResolvedStudy, ws: Workspace, fresh: bool = False) -> Path:
    tracker = ws.tracker()
    for cell in resolved.cells:  # every dataset loads (and is cached) before any trial
        data.prepare(cell.settings.data)

    tuner_dir = ws.state / "tuner" / resolved.name
    with exclusive(tuner_dir / f"{resolved.config_sha[:16]}.lock", resolved):
        return _search(resolved, ws, tracker, tuner_dir, fresh)


@contextmanager
def exclusive(lock: Path, resolved: ResolvedStudy):
    """One `suite run` per study and profile at a time: a second one refuses instead of duplicating trials."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SuiteError(
                f"another `suite run` is already running study {resolved.name!r} with profile "
                f"{resolved.profile or 'base'}; wait for it to finish (the lock is released when it exits)"
            ) from None
        yield  # the lock goes with the process, however it ends


def _search(resolved: ResolvedStudy, ws: Workspace, tracker: Tracker, tuner_dir: Path, fresh: bool) -> Path:
    from suite.tuner import StudyTuner  # imports keras-tuner and Keras: only when training

    if fresh:
        shutil.rmtree(tuner_dir / resolved.config_sha[:16], ignore_errors=True)
        for run_id in tracker.trials(resolved).get("run_id", []):
            tracker.client.delete_run(run_id)  # soft delete: recoverable, but out of every report
    # We hold the lock, so a run still marked RUNNING belongs to a process that died: say so.
    tracker.close_orphans(resolved)
    tags = provenance.collect(CODE_ROOT)
    parent = tracker.start_study(resolved, tags)
    status = "FAILED"
    try:
        tuner = StudyTuner(resolved, tracker, parent, tags, tuner_dir)
        tuner.search()
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except RuntimeError as e:
        if "consecutive failures" in str(e):  # keras-tuner's stop on systematic failure
            last = str(e).strip().splitlines()[-1]
            raise SuiteError(f"study stopped: several trials in a row failed; last error: {last}") from None
        raise
    finally:
        tracker.end(parent, status)
    return report.write(resolved, tracker, ws.report_dir(resolved), parent_run=parent)
