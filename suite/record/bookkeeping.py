"""Resume bookkeeping: stale trials, superseded and discarded runs, runs orphaned by a dead process."""

from __future__ import annotations

import os
import socket

from suite.record.store import Store
from suite.study import ResolvedStudy


class Bookkeeping(Store):
    """Decides what a rerun of a study may keep."""

    def stale_trials(self, resolved: ResolvedStudy, code_version: str, backend: str | None = None) -> list:
        """Finished trials of this study and profile made by another study file, another version of the code or
        (given ``backend``) on another backend: a study's trials are never mixed across backends."""
        return [
            run
            for kind in ("trial", "search")
            for run in self.runs(resolved.name, kind, profile=resolved.profile_name)
            if run.info.status == "FINISHED"
            and (run.data.tags.get("suite.config_sha") != resolved.config_sha
                 or run.data.tags.get("suite.code_version") != code_version
                 or (backend is not None and run.data.tags.get("backend", backend) != backend))
        ]

    def discard(self, resolved: ResolvedStudy) -> None:
        """--fresh: soft-delete every trial run of this study and profile (recoverable, but out of every report),
        and mark its earlier study runs superseded, by a tag and in the name the UI lists, keeping their reports."""
        for kind in ("trial", "search"):
            for run in self.runs(resolved.name, kind, profile=resolved.profile_name, superseded=True):
                self.client.delete_run(run.info.run_id)
        for run in self.runs(resolved.name, "study", profile=resolved.profile_name):
            self.client.set_tag(run.info.run_id, "suite.superseded", "true")
            name = run.data.tags.get("mlflow.runName", resolved.name)
            if not name.startswith("(superseded by --fresh) "):
                self.client.set_tag(run.info.run_id, "mlflow.runName", f"(superseded by --fresh) {name}")

    def supersede(self, runs: list) -> None:
        """Mark stale runs as replaced: kept in the store (nothing recorded is lost), left out of every report."""
        for run in runs:
            self.client.set_tag(run.info.run_id, "suite.superseded", "true")

    def held_elsewhere(self, resolved: ResolvedStudy, home: str):
        """A RUNNING study run of this study and profile that another live ``suite run`` may hold: one from
        another workspace on this machine whose process is alive, or one from another machine (whose
        process cannot be checked from here). Runs of this workspace are the lock's: never another's."""
        here = socket.gethostname()
        for run in self.runs(resolved.name, "study", resolved.config_sha):
            tags = run.data.tags
            if run.info.status != "RUNNING" or (tags.get("suite.host") == here and tags.get("suite.home") == home):
                continue
            if tags.get("suite.host") != here or _alive(tags.get("suite.pid")):
                return run
        return None

    def close_orphans(self, resolved: ResolvedStudy) -> int:
        """Mark runs left RUNNING by a process that died as KILLED, so none looks finished."""
        orphans = [
            run
            for kind in ("study", "trial", "search")
            for run in self.runs(resolved.name, kind, resolved.config_sha)
            if run.info.status == "RUNNING"
        ]
        for run in orphans:
            self.client.set_terminated(run.info.run_id, "KILLED")
        return len(orphans)


def _alive(pid: str | None) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True
