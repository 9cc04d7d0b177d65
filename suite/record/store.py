"""The MLflow store: connecting, the study's experiment, and finding a study's runs by their tags.

The client API is used directly, with explicit run ids, so nothing depends on
a global "active run"; any failure of the store becomes a one-line
``TrackingError``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from suite.ground.errors import TrackingError, one_line

if TYPE_CHECKING:
    from suite.study import ResolvedStudy


from mlflow.entities import ViewType  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

READS = ("search_", "get_", "download_artifacts", "list_")  # client methods that change nothing in the store


class _Guarded:
    """The MLflow client, with any failure of the store turned into a one-line TrackingError; a call that writes
    tells ``on_write`` first (the store's snapshot of runs is then out of date)."""

    def __init__(self, client: MlflowClient, uri: str, on_write=lambda: None):
        self._client, self._uri, self._on_write = client, uri, on_write

    def __getattr__(self, name):
        method = getattr(self._client, name)
        writes = not name.startswith(READS)

        def call(*args, **kwargs):
            if writes:
                self._on_write()
            return self._guarded(name, method, *args, **kwargs)

        return call

    def _guarded(self, name: str, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - whatever broke, the store is what failed
            refused = _refusal(e)
            raise TrackingError(f"tracking store {self._uri}: {refused or f'{name} failed ({one_line(e)})'}") from None

    def metric_history_bulk(self, run_ids: list[str], key: str):
        """One metric's values over many runs in one query, from a database store (its ``get_metric_history_bulk``,
        the query behind the UI's charts; not in the client API); None from a store without it (a tracking server)."""
        bulk = getattr(self._client._tracking_client.store, "get_metric_history_bulk", None)
        return None if bulk is None else self._guarded("get_metric_history_bulk", bulk, run_ids, key, max_results=None)


class Store:
    """A connection to one tracking store (``uri``), checked on opening."""

    def __init__(self, uri: str, artifact_root: Path | None = None):
        self.uri = uri
        self.artifact_root = artifact_root
        try:
            if uri.startswith("sqlite:///"):
                Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)
        except Exception as e:  # noqa: BLE001 - any failure here means "cannot track"
            refused = _refusal(e)
            raise TrackingError(f"tracking store {uri}: {refused or f'cannot be reached ({one_line(e)})'}") from None
        self._held: dict | None = None  # inside snapshot(): (study, kind) -> its active runs, each fetched once
        self._writes = 0  # writes through this store so far, but those to a study's own run (own_run_writes)
        self._own_run_only = False
        self.client = _Guarded(client, uri, on_write=self._forget_runs)
        if uri.startswith("sqlite:"):
            self._forget_default()

    def _forget_default(self) -> None:
        """MLflow puts an empty ``Default`` experiment in every new database, pointing at ``mlruns/0``; a
        suite's own store holds studies only, so an empty one is deleted (one with runs is left alone)."""
        default = self.client.get_experiment_by_name("Default")
        if default is not None and default.lifecycle_stage == "active":
            if not self.client.search_runs([default.experiment_id], max_results=1, run_view_type=ViewType.ALL):
                self.client.delete_experiment(default.experiment_id)

    def experiment(self, name: str, create: bool = True) -> str | None:
        """The study's experiment id, created on first use (before any worker starts)."""
        try:
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            if not create:
                return None
            location = self.artifact_root.resolve().as_uri() if self.artifact_root else None
            return self.client.create_experiment(name, artifact_location=location)
        except Exception as e:  # noqa: BLE001
            raise TrackingError(f"tracking store {self.uri}: cannot create experiment {name!r} ({one_line(e)})") from None

    @contextlib.contextmanager
    def snapshot(self, carried: tuple | None = None):
        """Inside, each study's runs of each kind are read from the store once, every later query answered from
        that read, until a write through this store (which reads again). Only where no other process writes the
        study meanwhile: settling the record under the study's lock, resuming the tuner, reading it for a report
        after every trial ended. Each query read every run's tags, params and metrics again (9 of them when
        resuming: 0.55 s each at 300 runs, measured, almost all of it building SQLAlchemy objects).

        ``carried`` (from ``carry()`` at the end of an earlier snapshot) starts this one from that one's reads,
        unless anything was written through this store since: resuming a study then reads its 10,000 trial runs
        once, not once to settle the record and again for the tuner (16 s each, measured)."""
        outer = self._held is None
        if outer:
            self._held = dict(carried[1]) if carried is not None and carried[0] == self._writes else {}
        try:
            yield self
        finally:
            if outer:
                self._held = None

    def _forget_runs(self) -> None:
        if self._own_run_only:  # a write to the study's own run or its experiment: the trials read stay valid
            for kind in [k for k in (self._held or {}) if k[1] == "study"]:
                del self._held[kind]
            return
        self._writes += 1
        if self._held:
            self._held.clear()

    def carry(self) -> tuple:
        """This snapshot's reads, for a later ``snapshot(carried=...)``; void once anything is written."""
        return self._writes, dict(self._held or {})

    @contextlib.contextmanager
    def own_run_writes(self):
        """Inside, writes touch only the study's own run and its experiment (never a trial's or a search's): the
        snapshot keeps its trial and search runs, and drops only its study runs."""
        self._own_run_only = True
        try:
            yield self
        finally:
            self._own_run_only = False

    def runs(
        self, name: str, kind: str, config_sha: str | None = None, profile: str | None = None, superseded: bool = False
    ) -> list:
        """Active runs of a study by tags; runs replaced by --rerun-stale are left out unless asked for."""
        if self._held is None:
            found = self._query(name, kind, config_sha, profile)
        else:  # one read of the study's runs of this kind; the tags filtered here
            if (name, kind) not in self._held:
                self._held[(name, kind)] = self._query(name, kind)
            found = [r for r in self._held[(name, kind)]
                     if (config_sha is None or r.data.tags.get("suite.config_sha") == config_sha)
                     and (profile is None or r.data.tags.get("suite.profile") == profile)]
        return [r for r in found if superseded or r.data.tags.get("suite.superseded") != "true"]

    def _query(self, name: str, kind: str, config_sha: str | None = None, profile: str | None = None) -> list:
        exp = self.experiment(name, create=False)
        if exp is None:
            return []
        query = f"tags.`suite.kind` = '{kind}'"
        if config_sha is not None:
            query += f" and tags.`suite.config_sha` = '{config_sha}'"
        if profile is not None:
            query += f" and tags.`suite.profile` = '{profile}'"
        runs, token = [], None
        while True:
            page = self.client.search_runs([exp], query, ViewType.ACTIVE_ONLY, max_results=1000, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs


def study_tags(resolved: ResolvedStudy) -> dict[str, str]:
    return {
        "suite.study": resolved.name,
        "suite.profile": resolved.profile_name,
        "suite.file_sha": resolved.file_sha,
        "suite.config_sha": resolved.config_sha,
    }


def _refusal(e: Exception) -> str | None:
    """What to say when a server with authentication (``mlflow server --app-name basic-auth``) refused us."""
    status = getattr(e, "get_http_status_code", lambda: None)()
    text = str(e)
    if status == 401 or "error code 401" in text:
        return ("the server refused the credentials (HTTP 401): set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD to an account it knows")
    if status == 403 or "error code 403" in text:
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "this account")
        return f"{user} may not write here (HTTP 403): ask the server's admin for EDIT permission on the experiment"
    return None


