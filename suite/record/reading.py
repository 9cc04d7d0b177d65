"""Reading a study back from MLflow: its trials, searches and chosen settings, as data frames and dicts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from suite.ground.errors import TrackingError
from suite.record.store import Store
from suite.study import ResolvedStudy


def tuned_metrics(tuned: str) -> dict[str, float]:
    """What a trial's tuned values give to judge (``tuned_log10_learning_rate``: the decade of the learning rate its
    search chose, so a claim about the rate a setting tolerates is a comparison like any other)."""
    rate = json.loads(tuned).get("train.learning_rate") if tuned else None
    return {"tuned_log10_learning_rate": math.log10(rate)} if isinstance(rate, (int, float)) and rate > 0 else {}


class Reader(Store):
    """Reads a study's runs back."""

    def trials(self, resolved: ResolvedStudy) -> pd.DataFrame:
        """Every recorded trial of this resolved study: one row per MLflow run."""
        rows = []
        for run in self.runs(resolved.name, "trial", resolved.config_sha):
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
                    "data_preprocessing": tags.get("data.preprocessing", ""),
                    "parent": tags.get(MLFLOW_PARENT_RUN_ID),
                    "code_version": tags.get("suite.code_version"),
                    "tuned": tags.get("suite.tuned", ""),
                    **tuned_metrics(tags.get("suite.tuned", "")),
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
                "why": run.data.tags.get("search.candidate", ""),
                "for_seed": -1 if _for_seed(run) is None else _for_seed(run),  # -1: the cell's one search
                "code_version": run.data.tags.get("suite.code_version"),
                "error": run.data.tags.get("suite.error", ""),
                **run.data.metrics,
            }
            for run in self.runs(resolved.name, "search", resolved.config_sha)
        ]
        return pd.DataFrame(rows)

    def finished_searches(self, resolved: ResolvedStudy, code_version: str) -> dict[tuple[int, int | None, str], dict]:
        """(cell, the seed it searched for or None, search trial id) -> metrics of every finished search trial of
        this code version."""
        return {
            (int(run.data.tags["suite.cell"]), _for_seed(run), run.data.tags["suite.search_trial"]): run.data.metrics
            for run in self.runs(resolved.name, "search", resolved.config_sha)
            if run.info.status == "FINISHED" and run.data.tags.get("suite.code_version") == code_version
        }

    def search_histories(self, resolved: ResolvedStudy, code_version: str, cell: int, for_seed: int | None,
                         keys: tuple[str, ...]) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """Search trial id -> each of ``keys``' (step, value) history, for one search's finished trials of this code
        version (what a declared stop rule judges a resumed search's later candidates against)."""
        runs = {run.data.tags["suite.search_trial"]: run.info.run_id for run in self.runs(resolved.name, "search", resolved.config_sha)
                if run.info.status == "FINISHED" and run.data.tags.get("suite.code_version") == code_version
                and (int(run.data.tags["suite.cell"]), _for_seed(run)) == (cell, for_seed)}
        read = {key: self.histories(list(runs.values()), key) for key in keys}
        return {trial: {key: read[key][r] for key in keys} for trial, r in runs.items()}

    def finished_trials(self, resolved: ResolvedStudy, code_version: str | None = None) -> dict[tuple[int, int], dict]:
        """(cell, seed) -> metrics of every trial with a finished run (of this code version, if given)."""
        return {
            (int(run.data.tags["suite.cell"]), int(run.data.tags["suite.seed"])): run.data.metrics
            for run in self.runs(resolved.name, "trial", resolved.config_sha)
            if run.info.status == "FINISHED"
            and (code_version is None or run.data.tags.get("suite.code_version") == code_version)
        }

    def tuned_values(self, resolved: ResolvedStudy) -> dict[tuple[int, int], dict]:
        """(cell, seed) -> the nuisance values its search chose (and the trial ran with); empty for untuned cells."""
        return {
            (int(run.data.tags["suite.cell"]), int(run.data.tags["suite.seed"])): json.loads(run.data.tags["suite.tuned"])
            for run in self.runs(resolved.name, "trial", resolved.config_sha)
            if run.data.tags.get("suite.tuned")
        }

    def latest_study_run(self, resolved: ResolvedStudy):
        runs = self.runs(resolved.name, "study", resolved.config_sha)
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

    def histories(self, run_ids: list[str], key: str) -> dict[str, list[tuple[int, float]]]:
        """``history`` of many runs: from a database store in one query per ``BULK`` runs (its
        ``get_metric_history_bulk``, the query behind the UI's charts), else one query per run (a tracking server)."""
        found: dict[str, list[tuple[int, float]]] = {run_id: [] for run_id in run_ids}
        for start in range(0, len(run_ids), BULK):
            chunk = self.client.metric_history_bulk(run_ids[start:start + BULK], key)
            if chunk is None:  # a store without the bulk read
                return {run_id: self.history(run_id, key) for run_id in run_ids}
            for m in chunk:
                found[m.run_id].append((m.step, m.value))
        return {run_id: sorted(values) for run_id, values in found.items()}


BULK = 500  # run ids per bulk query: within SQLite's limit of bound variables


def _for_seed(run) -> int | None:
    """The study seed a search searched for (``tune.per: seed``); None for a cell's one search."""
    seed = run.data.tags.get("suite.search_for_seed")
    return None if seed is None else int(seed)
