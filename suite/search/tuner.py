"""The tuner: runs the trial the oracle hands it and records it in MLflow.

A keras-tuner ``BaseTuner`` with its own ``run_trial``: the stock Keras tuner
would import TensorBoard and fit models its own way. One trial is one MLflow
child run; an exception inside a trial fails that trial (recorded with its
message) and the search goes on.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import sys
import traceback

import keras_tuner
from keras_tuner.engine.base_tuner import BaseTuner
from keras_tuner.errors import FailedTrialError, FatalError

from suite.ground import stopping, timing
from suite.ground.console import Progress
from suite.ground.errors import SuiteError, TrackingError
from suite.record import Tracker
from suite.search.oracle import GridOracle, trial_values
from suite.study import ResolvedStudy
from suite.train import trial as trials
from suite.train.kept import Kept


def in_creation_order(oracle) -> None:
    """Put a reloaded search's trials back in the order they were created. keras-tuner reloads them in the order
    its files glob (the file system's, not theirs), and every choice among equal scores follows that order: its
    best trial (``get_best_trials``, a stable sort) and the sweep's boundary check. Validation scores tie often
    (0.665 twice among four rates), so without this a search resumed after a kill could choose another value, or
    train a candidate the uninterrupted search never tried."""
    trials = getattr(oracle, "trials", None)
    if trials:
        ordered = sorted(trials.items(), key=lambda kv: (int(kv[0]), kv[0]) if str(kv[0]).isdigit() else (math.inf, kv[0]))
        trials.clear()
        trials.update(ordered)


class _StateCutShort(Exception):
    """keras-tuner's saved state could not be read; it has been removed."""


class GaveUp(SuiteError):
    """keras-tuner stopped a search: its oracle's last ``max_consecutive_failed_trials`` trials all FAILED."""


class RecordedTuner(BaseTuner):
    """A keras-tuner Tuner whose every trial is an MLflow run: the set-up, the record-keeping and the
    progress lines shared by the study's own tuner and the nuisance searches."""

    def __init__(self, oracle, directory, project_name: str, resolved: ResolvedStudy, tracker: Tracker):
        # The project folder is named by the resolved study's hash and the code version: the same
        # file, profile and code resume it; anything else starts its own.
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # keras-tuner prints "Reloading Tuner..."; Progress says it
                super().__init__(oracle=oracle, directory=str(directory), project_name=project_name)
        except json.JSONDecodeError as e:
            # keras-tuner writes its state files in place: a kill in the middle of a write leaves one cut short.
            # Its oracle may hold part of that state, so resume() builds the tuner again, oracle and all.
            project_dir = os.path.join(str(directory), project_name)
            shutil.rmtree(project_dir)
            raise _StateCutShort(f"{resolved.name}: the saved search state ({project_dir}) held a file cut short "
                                 f"({e.msg.lower()}), left by a kill while it was written") from e
        in_creation_order(self.oracle)
        self.oracle.verbose = 0  # the Progress lines replace keras-tuner's tables
        self.resolved, self.tracker = resolved, tracker
        self.last_metrics: dict = {}
        self.progress: Progress | None = None

    @classmethod
    def resume(cls, *args, **kwargs):
        """The tuner with its saved state, or started afresh when that state claims trials the store does
        not hold (it was left by a run against another store, or the store was emptied since).

        MLflow is the record; keras-tuner's state is only where a search stands. Trials the store does
        hold are still not rerun: a fresh search replays them from the record without training. The same holds
        when a state file was cut short by a kill in the middle of its write."""
        try:
            tuner = cls(*args, **kwargs)
        except _StateCutShort as e:
            print(f"{e}: the search starts over here, rerunning nothing the store has", file=sys.stderr)
            tuner = cls(*args, **kwargs)
        unrecorded = tuner.unrecorded()
        if unrecorded:
            print(
                f"{tuner.resolved.name}: the saved search state ({tuner.project_dir}) holds {unrecorded} finished "
                f"trials that {tuner.tracker.uri} does not (it belongs to another store, or this one was emptied): "
                "the search starts over here, rerunning nothing this store has",
                file=sys.stderr,
            )
            shutil.rmtree(tuner.project_dir)
            tuner = cls(*args, **kwargs)
        return tuner

    def search(self, *args, **kwargs):
        """keras-tuner's search; where it gives up on trials failing one after another, one line saying so (known
        by the oracle's own record of how its trials ended, not by the words of its message)."""
        try:
            return super().search(*args, **kwargs)
        except RuntimeError as e:
            if not self.gave_up():
                raise
            last = str(e).strip().splitlines()[-1]  # keras-tuner ends its message with the last trial's error
            raise GaveUp(f"study stopped: several trials in a row failed; last error: {last}") from None

    def gave_up(self) -> bool:
        """Whether the oracle's last ``max_consecutive_failed_trials`` ended trials all FAILED (its rule to stop)."""
        oracle = self.oracle
        limit, order = getattr(oracle, "max_consecutive_failed_trials", None), getattr(oracle, "end_order", None)
        if not limit or not order:
            return False
        last = [oracle.trials[t].status for t in order[-limit:]]
        return len(last) == limit and all(status == "FAILED" for status in last)

    def unrecorded(self) -> int:
        """Trials the saved state says finished but the store has no finished run of."""
        return sum(t.status == "COMPLETED" and not self.holds(t) for t in getattr(self.oracle, "trials", {}).values())

    def holds(self, trial) -> bool:
        """Whether the store has a finished run of ``trial``."""
        raise NotImplementedError

    def finished(self) -> int:
        """Trials this tuner's saved state already holds (a resumed search starts its count there); a worker,
        whose oracle is the chief's, holds none."""
        return sum(t.status in ("COMPLETED", "FAILED") for t in getattr(self.oracle, "trials", {}).values())

    def run_trial(self, trial):
        stopping.check()  # a safe point: a stop requested between trials ends the search before the next one
        try:
            with timing.section("tuner.run_trial"):
                return self._run(trial)
        except TrackingError as e:  # the store is gone: stop the search (keras-tuner re-raises FatalError)
            raise FatalError(str(e)) from e

    def _run(self, trial) -> dict:
        raise NotImplementedError

    def record(self, run_id: str, train):
        """``train()`` inside the MLflow run ``run_id``: an error fails the run (with its traceback) and the
        trial, and the search goes on; an interruption never leaves the run looking finished."""
        try:
            return train()
        except Exception as e:
            self.tracker.fail_trial(run_id, traceback.format_exc())
            self.last_metrics = {}
            raise FailedTrialError(f"{type(e).__name__}: {e}") from e
        except BaseException:
            self.tracker.end(run_id, "KILLED")
            raise

    def on_trial_end(self, trial):
        self.progress.end(trial.status, self.last_metrics, self.resolved.study.target)
        super().on_trial_end(trial)

    def save_model(self, trial_id, model, step=0):
        pass  # models are not kept: a trial is reproduced from its settings and seed

    def load_model(self, trial):
        raise NotImplementedError("trials keep no model; rerun the cell with its seed")


class StudyTuner(RecordedTuner):
    """The study's grid: every cell with every seed, each trial a child run (kind "trial")."""

    def __init__(
        self, resolved: ResolvedStudy, tracker: Tracker, parent_run: str, provenance: dict, directory, code: str, label: str = "",
        kept: Kept | None = None,
        groups=None,
        bar=None,
    ):
        target = resolved.study.target
        self.objective_name = f"best_{target.metric}"
        # In a worker keras-tuner replaces self.oracle by a client of the chief's; the plan stays here to decode trials.
        self.plan = GridOracle(resolved, keras_tuner.Objective(self.objective_name, target.direction))
        super().__init__(self.plan, directory, f"{resolved.config_sha[:12]}-{code[:8]}", resolved, tracker)
        self.parent_run, self.provenance = parent_run, provenance
        self.kept = kept or Kept()  # what the run keeps across its trials: data, compiled models
        self.groups = groups  # the run's plan of trials that train together (groups.Plan), on the grouped path
        # MLflow is the record: a trial finished there is never run again, even when a crash
        # came between MLflow's write and the tuner's own save; the plan skips it (no keras-tuner trial at all).
        self.recorded = tracker.finished_trials(resolved, code)
        done = [trial_values(cell, seed) for cell, seed in resolved.trials if (cell.index, seed) in self.recorded]
        self.plan.skip(done)
        # in the saved state or the record, and in this plan (a later round's trials are in the state, not in the first's)
        ended = len(self.plan.ended() & set(self.plan.keys()))
        self.progress = Progress(total=0 if label else len(resolved.trials), done=ended, label=label,  # a worker: no ETA
                                 bar=bar)

    def holds(self, trial) -> bool:
        cell, seed = self.plan.decode(trial.hyperparameters.values)
        return (cell.index, seed) in self.recorded

    def _run(self, trial):
        cell, seed = self.plan.decode(trial.hyperparameters.values)
        if (cell.index, seed) in self.recorded:
            self.last_metrics = self.recorded[(cell.index, seed)]
            return {self.objective_name: self.objective(self.last_metrics)}
        settings, tuned = cell.for_seed(seed)  # with tune.per: seed, this seed's own search's choice
        with timing.section("tracking.start_trial"):
            run_id = self.tracker.start_trial(
                self.resolved, self.parent_run, cell, seed, trial.trial_id, self.provenance, tuned=tuned
            )
        diagnostics = tuple(self.resolved.study.diagnostics)
        result = self.record(run_id, lambda: trials.run(settings, seed, self.resolved.study.target, diagnostics=diagnostics,
                                                         kept=self.kept, groups=self.groups))
        with timing.section("tracking.finish_trial"):
            self.tracker.finish_trial(run_id, result)
        self.last_metrics = result.metrics
        return {self.objective_name: self.objective(result.metrics)}

    def objective(self, metrics: dict) -> float:
        """The best value of the target metric; a run with no finite value still completes, ranked last."""
        best = metrics.get("target_best")
        if best is None:
            return -math.inf if self.resolved.study.target.direction == "max" else math.inf
        return best

    def on_trial_begin(self, trial):
        cell, seed = self.plan.decode(trial.hyperparameters.values)
        self.progress.begin(f"{cell.label} seed={seed}")
