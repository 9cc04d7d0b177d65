"""Writing runs: one parent run per ``suite run``, one child run per trial or search trial.

A trial's settings go in as params, its per-epoch metrics with ``step=epoch``
in batches, its provenance as tags.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from suite.errors import TrackingError
from suite.record.store import Store, one_line, study_tags
from suite.study import Cell, ResolvedStudy

BATCH = 1000  # MLflow's limit on metrics per log_batch call
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_train_s")


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value)
    return out


class Writer(Store):
    """Writes a study's runs."""

    def start_study(self, resolved: ResolvedStudy, provenance: dict[str, str]) -> str:
        exp = self.experiment(resolved.name)
        tags = {
            **provenance,
            **study_tags(resolved),
            "suite.kind": "study",
            "suite.axes": json.dumps(resolved.axes),
            "suite.trials": str(len(resolved.trials)),
        }
        try:
            run = self.client.create_run(exp, run_name=f"{resolved.name} [{resolved.profile_name}]", tags=tags)
        except Exception as e:  # noqa: BLE001
            raise TrackingError(f"tracking store {self.uri}: cannot write a run ({one_line(e)})") from None
        settings = flatten(resolved.study.settings().model_dump(mode="json"))
        self._params(run.info.run_id, settings)
        return run.info.run_id

    def start_trial(
        self, resolved: ResolvedStudy, parent: str, cell: Cell, seed: int, trial_id: str, provenance, tuned: dict | None = None
    ) -> str:
        tags = {
            **provenance,
            **study_tags(resolved),
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
            **study_tags(resolved),
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

    def log_dict(self, run_id: str, content: dict, name: str) -> None:
        self.client.log_dict(run_id, content, name)

    def log_artifacts(self, run_id: str, folder: Path) -> None:
        self.client.log_artifacts(run_id, str(folder))

    def _params(self, run_id: str, params: dict[str, str]) -> None:
        items = [Param(k, v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow's limit on params per log_batch call
            self.client.log_batch(run_id, params=items[i : i + 100])
