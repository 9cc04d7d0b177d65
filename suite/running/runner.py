"""Running a study: check everything, search the grid, then write the report.

The order matters: the study file, the datasets, the user's model builders and
the tracking store are all checked before the first trial, so a typo or a
missing dataset costs seconds, and nothing is written to the store until they pass.
"""

from __future__ import annotations

import fcntl
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from suite.analyze import notes, report
from suite.ground import timing
from suite.ground.errors import SuiteError, TrackingError
from suite.record import Tracker, provenance
from suite.running import preflight
from suite.search.access import Access
from suite.study import ResolvedStudy
from suite.train.kept import Kept
from suite.workspace import Workspace


@dataclass(frozen=True)
class Parallel:
    """Trials in parallel: ``workers`` local worker processes, the oracle served on ``listen`` (host:port)
    to callers with ``access`` (the shared token; a certificate for TLS)."""

    workers: int = 0
    listen: str = "127.0.0.1:0"  # 0.0.0.0:PORT lets workers on other machines connect (with a token)
    access: Access = Access()


@dataclass
class StudyRun:
    """One study run in progress: what every round of it reads, named once (the study as resolved so far, where it
    records, the parent run and its tags, the tuner's folder, how it trains, and what it keeps across trials)."""

    resolved: ResolvedStudy
    ws: Workspace
    tracker: Tracker
    tags: dict  # the parent run's provenance tags (code version, backend, device, executor)
    tuner_dir: Path
    kept: Kept
    parallel: Parallel | None = None
    grouped: bool = False
    parent: str = ""  # the parent (study) run's id, once started
    groups: object = None  # groups.Plan of the round under way: the trials that train together (grouped path only)
    bar: object = None  # console.RunBar: the whole run's trials, searches included, done of those planned

    def planned(self) -> int:
        """The trials the run plans so far: every search candidate of every cell that searches, and every compared
        trial (a sweep's boundary check or Hyperband's rounds may add candidates as they go)."""
        from suite.kinds.base import searches_anything

        seeds: dict[int, list[int]] = {}
        for cell, seed in self.resolved.trials:
            seeds.setdefault(cell.index, []).append(seed)
        searched = sum(c.tune.trials * len(c.tune.searches(seeds[c.index])) for c in self.resolved.cells
                       if searches_anything(c) and c.index in seeds)
        return searched + len(self.resolved.trials)

    @property
    def code(self) -> str:
        """The code version (a hash of the trial-computing modules): part of every trial's identity."""
        return self.tags["suite.code_version"]


@dataclass(frozen=True)
class Record:
    """What a run may do to what the store already holds (the flags of ``suite run``)."""

    fresh: bool = False  # discard the study's recorded trials and start over
    rerun_stale: bool = False  # rerun trials of another study file or code version (kept, marked superseded)
    takeover: bool = False  # the study's run RUNNING from another workspace or machine is known dead: go on


def run_study(resolved: ResolvedStudy, ws: Workspace, record: Record = Record(), parallel: Parallel | None = None,
              grouped: bool = False, kept: Kept | None = None) -> Path:
    """Run (or resume) one study and write its report; ``kept``: what the run starts from (``suite run`` of several
    studies gives each ``Kept.next_study()``, so their raw datasets load once), a fresh ``Kept`` if None."""
    with timing.section("study.setup"):
        tracker = ws.tracker()
    kept = Kept() if kept is None else kept  # kept across trials: data, compiled models, groups
    with timing.section("study.data"):
        preflight.check(resolved, kept)  # every dataset loads and every plugin family builds, before any trial
        resolved = preflight.budgeted(resolved, kept)  # a budget in steps: each cell's epoch cap

    if parallel is not None and resolved.study.looks > 1:
        raise SuiteError(f"rounds: {resolved.name} adds seeds in rounds, each decided by a look at the last; run it "
                         "in one process (without --workers)")
    tuner_dir = ws.state / "tuner" / resolved.name
    with exclusive(tuner_dir / f"{resolved.profile_name}.lock", resolved):
        with timing.section("study.setup"):
            tags = {**provenance.collect(provenance.CODE_ROOT), "train.executor": "grouped" if grouped else "alone"}
        return _search(StudyRun(resolved, ws, tracker, tags, tuner_dir, kept, parallel, grouped), record)



def _serve(resolved: ResolvedStudy, ws: Workspace, tracker: Tracker, parent: str, tuner, parallel: Parallel) -> None:
    """The chief: serve the study's oracle to workers until every trial has ended."""
    import sys

    from suite.search import access as guard
    from suite.search import distributed

    if resolved.study.tune is not None:  # the workers apply the values the chief's searches chose
        from suite.search import nuisance

        tracker.log_dict(parent, nuisance.chosen(resolved), TUNED_FILE)
    access = parallel.access
    if parallel.workers and not access.token:  # the workers it starts itself share a token nobody else knows
        access = replace(access, token=guard.new_token())
    server, chief = distributed.serve(tuner.oracle, parallel.listen, access)
    say = lambda line: print(f"chief: {line}", file=sys.stderr, flush=True)  # noqa: E731
    say(f"serving {len(resolved.trials)} trials on {chief} ({'TLS' if access.tls else 'plain gRPC'}, "
        f"{'token required' if access.token else 'no token: loopback only'}); {parallel.workers} local workers"
        + ("" if parallel.workers else f"; start workers with: suite worker {resolved.path} --chief HOST:{chief.rpartition(':')[2]}"))
    if not access.tls and not guard.is_loopback(distributed.parse_address(parallel.listen, "--listen")[0]):
        say("warning: without TLS the token crosses the network in clear text; add --tls-cert and --tls-key")
    logs = ws.state / "workers" / resolved.name
    workers = distributed.spawn(resolved.path, resolved.profile, chief, parallel.workers, logs, access, resolved.confirm)
    try:
        distributed.wait(tuner.oracle, len(resolved.trials), workers, logs, report=say)
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.terminate()
        server.stop(grace=5)
    say(f"all {len(resolved.trials)} trials ended; worker logs in {logs}")


TUNED_FILE = "tuned_cells.json"


def work(resolved: ResolvedStudy, ws: Workspace, chief: str, worker_id: str, access: Access = Access()) -> int:
    """A worker: run the trials the chief hands out, recording each in the shared store, until none are left."""
    import grpc

    from suite.search import access as guard
    from suite.search import distributed, nuisance
    from suite.search.tuner import StudyTuner

    distributed.parse_address(chief, "--chief")  # a malformed address fails before anything else
    tracker = ws.tracker()
    tags = provenance.collect(provenance.CODE_ROOT)
    code = tags["suite.code_version"]
    study_run = tracker.latest_study_run(resolved)
    if study_run is None or study_run.info.status != "RUNNING":
        raise SuiteError(
            f"no chief is running {resolved.name} [{resolved.profile_name}] in {tracker.uri}: start `suite run "
            f"{resolved.name} --workers N` first, with the same MLFLOW_TRACKING_URI"
        )
    if study_run.data.tags.get("suite.code_version") != code:
        raise SuiteError(
            f"this worker's code ({code}) differs from the chief's ({study_run.data.tags.get('suite.code_version')}): "
            "check out the same commit on every machine"
        )
    if resolved.study.tune is not None:
        chosen = tracker.load_json(study_run.info.run_id, TUNED_FILE) or {}
        resolved = nuisance.with_tuned(resolved, {int(k): v for k, v in chosen.items()})
    kept = Kept()
    preflight.check(resolved, kept)  # a worker's datasets load (and plugin families build) before its first trial
    resolved = preflight.budgeted(resolved, kept)
    directory = ws.state / "tuner" / resolved.name / "workers" / worker_id
    with distributed.as_worker(chief, worker_id):
        tuner = StudyTuner(resolved, tracker, study_run.info.run_id, tags, directory, code, label=worker_id, kept=kept)
        distributed.connect(tuner, chief, access)
        try:
            tuner.search()
        except grpc.RpcError as e:
            raise guard.refused(e, chief) from None
    return tuner.progress.done - tuner.progress.skipped


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
                f"{resolved.profile_name}; wait for it to finish (the lock is released when it exits)"
            ) from None
        yield  # the lock goes with the process, however it ends


def _search(run: StudyRun, record: Record) -> Path:
    from keras_tuner.errors import FatalError  # imports keras-tuner: only when training

    tracker = run.tracker
    with tracker.snapshot():  # under the study's lock: no other process writes its runs meanwhile
        _settle_the_record(run.resolved, tracker, run.tuner_dir, run.code, record, str(run.ws.root), run.tags["backend"])
        with tracker.own_run_writes():
            run.parent = tracker.start_study(run.resolved, run.tags, str(run.ws.root))
            notes.introduce(run.resolved, tracker, run.parent)
        carried = tracker.carry()  # the trial runs read: the tuner's, unless a search writes before it
    status = "FAILED"
    from suite.ground.console import RunBar

    run.bar = RunBar(run.planned())
    try:
        while True:  # a round of seeds (one, without ``rounds:``), then its look says whether another is due
            _train_round(run, carried)  # keras-tuner giving up on failing trials is one line (search.tuner.GaveUp)
            grown = _next_round(run.resolved, tracker)
            if grown is None:
                break
            before = run.planned()
            run.resolved, carried = replace(run.resolved, grown=grown), None
            run.bar.grow(run.planned() - before)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except (TrackingError, FatalError) as e:  # the store failed (through keras-tuner as a FatalError, or directly)
        raise TrackingError(f"{e}; every finished trial is recorded: rerun the same command to resume") from None
    finally:
        run.bar.close()
        try:
            tracker.end(run.parent, status)
            if status == "KILLED":  # the interrupt may have come between a trial's run opening and its own guard
                tracker.close_orphans(run.resolved)
        except TrackingError:
            pass  # the store is gone; the next run marks this run KILLED
    with timing.section("study.report"):
        return report.write(run.resolved, tracker, run.ws.report_dir(run.resolved), parent_run=run.parent)


def _train_round(run: StudyRun, carried) -> None:
    """The searches and compared trials of the study's latest round of seeds (its only one, without ``rounds:``);
    whatever the record holds already is skipped."""
    from suite.search import nuisance
    from suite.search.tuner import StudyTuner

    resolved, kept, round_ = run.resolved, run.kept, len(run.resolved.grown)
    if run.grouped:  # a sweep's ladder trains together (suite.train.groups); each round's groups are its own
        from suite.train import groups

        run.groups = groups.Plan()
        nuisance.plan_groups(resolved, run.groups, round_)
    if resolved.study.tune is not None:  # nuisance settings first: each cell's search picks its values
        resolved = nuisance.tune_cells(resolved, run.tracker, run.parent, run.tags, run.tuner_dir, run.code, kept=kept,
                                       groups=run.groups, bar=run.bar)
    if run.grouped:  # each cell's seeds, at its tuned settings, train together
        run.groups.cells(resolved, round_)
    with timing.section("study.setup"), run.tracker.snapshot(carried):  # before any worker starts
        tuner = StudyTuner.resume(resolved, run.tracker, run.parent, run.tags, run.tuner_dir, run.code, kept=kept,
                                  groups=run.groups, bar=run.bar)
    with timing.section("study.trials"):
        if run.parallel is None:
            tuner.search()
        else:
            _serve(resolved, run.ws, run.tracker, run.parent, tuner, run.parallel)


def _next_round(resolved: ResolvedStudy, tracker: Tracker) -> tuple[frozenset[int], ...] | None:
    """The cells each later round trains, up to the round due next (or still incomplete, after a kill), as the looks on
    the record decide (``sequential``); None when no round is due: one look only, every verdict stopped, the last look
    taken, or a trial failed (its error first)."""
    if resolved.study.looks == 1:
        return None
    from suite.analyze import judgement

    with tracker.snapshot():
        trials, progress, _ = report.recorded(resolved, tracker)
    if (trials["status"] == "FAILED").any():
        return None
    _, _, sequence = judgement.judge(resolved, trials, progress)
    if sequence.next is None:
        return None
    look = sequence.looks[-1]
    print(f"{resolved.name}: look {look.number} of {sequence.of}: {len(look.open)} verdicts open; round {look.number + 1} "
          f"trains {len(sequence.next)} of {len(resolved.cells)} cells", flush=True)
    return sequence.grown + (sequence.next,)


def _settle_the_record(resolved: ResolvedStudy, tracker: Tracker, tuner_dir: Path, code: str, record: Record, home: str,
                       backend: str) -> None:
    """Before a run: a run of the study live in another workspace is refused; --fresh forgets the study's
    trials; stale trials (another file, code or backend) are refused, or with --rerun-stale marked superseded;
    runs a dead process left RUNNING are marked KILLED."""
    holder = tracker.held_elsewhere(resolved, home)
    if holder is not None and not record.takeover:
        tags = holder.data.tags
        raise SuiteError(
            f"another `suite run` holds {resolved.name} [{resolved.profile_name}] in {tracker.uri}: its run "
            f"{holder.info.run_id} is RUNNING on {tags.get('suite.host', '?')} (pid {tags.get('suite.pid', '?')}, "
            f"workspace {tags.get('suite.home', '?')}); wait for it, or if that process is gone, rerun with --takeover"
        )
    if record.fresh:
        shutil.rmtree(tuner_dir, ignore_errors=True)
        tuner_dir.mkdir(parents=True)
        tracker.discard(resolved)
    stale = tracker.stale_trials(resolved, code, backend)
    if stale and not record.rerun_stale:
        files = {r.data.tags.get("suite.config_sha") for r in stale} - {resolved.config_sha}
        codes = {r.data.tags.get("suite.code_version") for r in stale} - {code}
        backends = {r.data.tags.get("backend") for r in stale} - {backend, None}
        why = " and ".join(
            w for w, changed in (("the study file (or profile) changed", files), ("the code changed", codes),
                                 (f"the backend changed ({', '.join(sorted(backends))} -> {backend})", backends)) if changed
        )
        keep = (f"; or keep the backend that recorded them: KERAS_BACKEND={sorted(backends)[0]}"
                if backends and not files and not codes else "")
        raise SuiteError(
            f"{len(stale)} recorded trials of {resolved.name} [{resolved.profile_name}] are stale: {why} since they ran; "
            f"rerun them with --rerun-stale (the old runs stay in MLflow, marked superseded) or start over with --fresh{keep}"
        )
    tracker.supersede(stale)
    # We hold the lock, so a run still marked RUNNING belongs to a process that died: say so.
    tracker.close_orphans(resolved)
