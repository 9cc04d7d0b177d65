"""Resume bookkeeping: stale trials, superseded and discarded runs, runs orphaned by a dead process."""

from __future__ import annotations

from suite.record.store import Store
from suite.study import ResolvedStudy


class Bookkeeping(Store):
    """Decides what a rerun of a study may keep."""

    def stale_trials(self, resolved: ResolvedStudy, code_version: str) -> list:
        """Finished trials of this study and profile made by another study file or another version of the code."""
        return [
            run
            for kind in ("trial", "search")
            for run in self.runs(resolved.name, kind, profile=resolved.profile_name)
            if run.info.status == "FINISHED"
            and (run.data.tags.get("suite.config_sha") != resolved.config_sha
                 or run.data.tags.get("suite.code_version") != code_version)
        ]

    def discard(self, resolved: ResolvedStudy) -> None:
        """--fresh: soft-delete every trial run of this study and profile (recoverable, but out of every report)."""
        for kind in ("trial", "search"):
            for run in self.runs(resolved.name, kind, profile=resolved.profile_name, superseded=True):
                self.client.delete_run(run.info.run_id)

    def supersede(self, runs: list) -> None:
        """Mark stale runs as replaced: kept in the store (nothing recorded is lost), left out of every report."""
        for run in runs:
            self.client.set_tag(run.info.run_id, "suite.superseded", "true")

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
