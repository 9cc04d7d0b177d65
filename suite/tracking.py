"""MLflow: where every study run and trial is recorded, and read back from.

One experiment per study; one parent run per ``suite run``; one child run per
trial, with its settings as params, per-epoch metrics with ``step=epoch`` and
provenance as tags. The client API is used directly, with explicit run ids, so
nothing depends on a global "active run".
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from suite.errors import TrackingError
from suite.study import Cell, ResolvedStudy

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")  # a dead server fails in seconds, not minutes

from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME  # noqa: E402

BATCH = 1000  # MLflow's limit on metrics per log_batch call
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_train_s")


def default_uri(home: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else an SQLite store inside the workspace."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(home / '.suite' / 'mlflow.db').resolve()}"


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value)
    return out


class _Guarded:
    """The MLflow client, with any failure of the store turned into a one-line TrackingError."""

    def __init__(self, client: MlflowClient, uri: str):
        self._client, self._uri = client, uri

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - whatever broke, the store is what failed
                raise TrackingError(f"tracking store {self._uri}: {name} failed ({_one_line(e)})") from None

        return call


class Tracker:
    def __init__(self, uri: str, artifact_root: Path | None = None):
        self.uri = uri
        self.artifact_root = artifact_root
        try:
            if uri.startswith("sqlite:///"):
                Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            self.client = _Guarded(MlflowClient(tracking_uri=uri), uri)
            self.client.search_experiments(max_results=1)
        except Exception as e:  # noqa: BLE001 - any failure here means "cannot track"
            raise TrackingError(f"tracking store {uri}: cannot be reached ({_one_line(e)})") from None

    # ---- writing ---------------------------------------------------------

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
            raise TrackingError(f"tracking store {self.uri}: cannot create experiment {name!r} ({_one_line(e)})") from None

    def start_study(self, resolved: ResolvedStudy, provenance: dict[str, str]) -> str:
        exp = self.experiment(resolved.name)
        tags = {
            **provenance,
            **_study_tags(resolved),
            "suite.kind": "study",
            "suite.axes": json.dumps(resolved.axes),
            "suite.trials": str(len(resolved.trials)),
        }
        try:
            run = self.client.create_run(exp, run_name=f"{resolved.name} [{resolved.profile_name}]", tags=tags)
        except Exception as e:  # noqa: BLE001
            raise TrackingError(f"tracking store {self.uri}: cannot write a run ({_one_line(e)})") from None
        settings = flatten(resolved.study.settings().model_dump(mode="json"))
        self._params(run.info.run_id, settings)
        return run.info.run_id

    def start_trial(
        self, resolved: ResolvedStudy, parent: str, cell: Cell, seed: int, trial_id: str, provenance, tuned: dict | None = None
    ) -> str:
        tags = {
            **provenance,
            **_study_tags(resolved),
            MLFLOW_PARENT_RUN_ID: parent,
            "suite.kind": "trial",
            "suite.cell": str(cell.index),
            "suite.cell_values": json.dumps(cell.values),
            "suite.seed": str(seed),
            "suite.tuner_trial": trial_id,
        }
        if tuned is not None:
            tags["suite.tuned"] = json.dumps(tuned)
        run = self.client.create_run(self.experiment(resolved.name), run_name=f"{cell.label} seed={seed}", tags=tags)
        self._params(run.info.run_id, {**flatten(cell.settings.model_dump(mode="json")), "seed": str(seed)})
        return run.info.run_id

    def start_search(self, resolved: ResolvedStudy, parent: str, cell: Cell, trial_id: str, values: dict, provenance) -> str:
        """One trial of a cell's nuisance search: its values as params, tagged apart from the compared trials."""
        tags = {
            **provenance,
            **_study_tags(resolved),
            MLFLOW_PARENT_RUN_ID: parent,
            "suite.kind": "search",
            "suite.cell": str(cell.index),
            "suite.cell_values": json.dumps(cell.values),
            "suite.search_trial": trial_id,
            "suite.search_values": json.dumps(values),
        }
        name = f"{cell.label} search #{int(trial_id) + 1}"
        run = self.client.create_run(self.experiment(resolved.name), run_name=name, tags=tags)
        self._params(run.info.run_id, {k: json.dumps(v) for k, v in values.items()})
        return run.info.run_id

    def finish_trial(self, run_id: str, result) -> None:
        now = int(time.time() * 1000)
        metrics = [
            Metric(key, value, now, epoch)
            for key in EPOCH_METRICS
            for epoch, value in enumerate(result.history.get(key, []), start=1)
        ]
        metrics += [Metric(key, value, now, 0) for key, value in result.metrics.items() if value is not None]
        metrics += [  # diagnostics: step 0 is initialization, step e the end of epoch e
            Metric(key, value, now, step)
            for key, values in result.series.items()
            for step, value in enumerate(values)
            if value == value  # NaN is not a measurement
        ]
        for i in range(0, len(metrics), BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + BATCH])
        self.client.log_batch(
            run_id,
            tags=[RunTag("data.fingerprint", result.splits_fingerprint), RunTag("model.parameters", str(result.parameters))],
        )
        for name, content in result.artifacts.items():
            self.client.log_dict(run_id, content, name)
        self.client.set_terminated(run_id, "FINISHED")

    def fail_trial(self, run_id: str, message: str) -> None:
        self.client.set_tag(run_id, "suite.error", message[-4000:])
        self.client.set_terminated(run_id, "FAILED")

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)

    def close_orphans(self, resolved: ResolvedStudy) -> int:
        """Mark runs left RUNNING by a process that died as KILLED, so none looks finished."""
        orphans = [
            run
            for kind in ("study", "trial", "search")
            for run in self._search(resolved.name, kind, resolved.config_sha)
            if run.info.status == "RUNNING"
        ]
        for run in orphans:
            self.client.set_terminated(run.info.run_id, "KILLED")
        return len(orphans)

    def log_dict(self, run_id: str, content: dict, name: str) -> None:
        self.client.log_dict(run_id, content, name)

    def log_artifacts(self, run_id: str, folder: Path) -> None:
        self.client.log_artifacts(run_id, str(folder))

    def _params(self, run_id: str, params: dict[str, str]) -> None:
        items = [Param(k, v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow's limit on params per log_batch call
            self.client.log_batch(run_id, params=items[i : i + 100])

    # ---- reading ---------------------------------------------------------

    def _search(
        self, name: str, kind: str, config_sha: str | None = None, profile: str | None = None, superseded: bool = False
    ) -> list:
        """Active runs of a study by tags; runs replaced by --rerun-stale are left out unless asked for."""
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
                return [r for r in runs if superseded or r.data.tags.get("suite.superseded") != "true"]

    def stale_trials(self, resolved: ResolvedStudy, code_version: str) -> list:
        """Finished trials of this study and profile made by another study file or another version of the code."""
        return [
            run
            for kind in ("trial", "search")
            for run in self._search(resolved.name, kind, profile=resolved.profile_name)
            if run.info.status == "FINISHED"
            and (run.data.tags.get("suite.config_sha") != resolved.config_sha
                 or run.data.tags.get("suite.code_version") != code_version)
        ]

    def discard(self, resolved: ResolvedStudy) -> None:
        """--fresh: soft-delete every trial run of this study and profile (recoverable, but out of every report)."""
        for kind in ("trial", "search"):
            for run in self._search(resolved.name, kind, profile=resolved.profile_name, superseded=True):
                self.client.delete_run(run.info.run_id)

    def supersede(self, runs: list) -> None:
        """Mark stale runs as replaced: kept in the store (nothing recorded is lost), left out of every report."""
        for run in runs:
            self.client.set_tag(run.info.run_id, "suite.superseded", "true")

    def trials(self, resolved: ResolvedStudy) -> pd.DataFrame:
        """Every recorded trial of this resolved study: one row per MLflow run."""
        rows = []
        for run in self._search(resolved.name, "trial", resolved.config_sha):
            tags = run.data.tags
            rows.append(
                {
                    "run_id": run.info.run_id,
                    "status": run.info.status,
                    "start_time": run.info.start_time,
                    "cell": int(tags["suite.cell"]),
                    "seed": int(tags["suite.seed"]),
                    **json.loads(tags["suite.cell_values"]),
                    "error": tags.get("suite.error", ""),
                    "data_fingerprint": tags.get("data.fingerprint"),
                    "parent": tags.get(MLFLOW_PARENT_RUN_ID),
                    "code_version": tags.get("suite.code_version"),
                    "tuned": tags.get("suite.tuned", ""),
                    **run.data.metrics,
                }
            )
        return pd.DataFrame(rows)

    def searches(self, resolved: ResolvedStudy) -> pd.DataFrame:
        """Every recorded nuisance-search trial of this resolved study: one row per MLflow run."""
        rows = [
            {
                "run_id": run.info.run_id,
                "status": run.info.status,
                "start_time": run.info.start_time,
                "cell": int(run.data.tags["suite.cell"]),
                "trial": int(run.data.tags["suite.search_trial"]),
                "values": run.data.tags["suite.search_values"],
                "code_version": run.data.tags.get("suite.code_version"),
                **run.data.metrics,
            }
            for run in self._search(resolved.name, "search", resolved.config_sha)
        ]
        return pd.DataFrame(rows)

    def finished_searches(self, resolved: ResolvedStudy, code_version: str) -> dict[tuple[int, str], dict]:
        """(cell, search trial id) -> metrics of every finished search trial of this code version."""
        return {
            (int(run.data.tags["suite.cell"]), run.data.tags["suite.search_trial"]): run.data.metrics
            for run in self._search(resolved.name, "search", resolved.config_sha)
            if run.info.status == "FINISHED" and run.data.tags.get("suite.code_version") == code_version
        }

    def finished_trials(self, resolved: ResolvedStudy, code_version: str | None = None) -> dict[tuple[int, int], dict]:
        """(cell, seed) -> metrics of every trial with a finished run (of this code version, if given)."""
        return {
            (int(run.data.tags["suite.cell"]), int(run.data.tags["suite.seed"])): run.data.metrics
            for run in self._search(resolved.name, "trial", resolved.config_sha)
            if run.info.status == "FINISHED"
            and (code_version is None or run.data.tags.get("suite.code_version") == code_version)
        }

    def tuned_values(self, resolved: ResolvedStudy) -> dict[int, dict]:
        """cell -> the nuisance values its search chose (and its trials ran with); empty for untuned cells."""
        return {
            int(run.data.tags["suite.cell"]): json.loads(run.data.tags["suite.tuned"])
            for run in self._search(resolved.name, "trial", resolved.config_sha)
            if run.data.tags.get("suite.tuned")
        }

    def latest_study_run(self, resolved: ResolvedStudy):
        runs = self._search(resolved.name, "study", resolved.config_sha)
        return max(runs, key=lambda r: r.info.start_time) if runs else None

    def load_json(self, run_id: str, name: str):
        """A JSON artifact of a run (e.g. the activation histograms), or None if it has none."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.client.download_artifacts(run_id, name, tmp)
            except TrackingError:  # a trial run without diagnostics has no such file
                return None
            return json.loads(Path(path).read_text())

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run_id, key))


def _study_tags(resolved: ResolvedStudy) -> dict[str, str]:
    return {
        "suite.study": resolved.name,
        "suite.profile": resolved.profile_name,
        "suite.file_sha": resolved.file_sha,
        "suite.config_sha": resolved.config_sha,
    }


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]
