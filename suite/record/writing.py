"""Writing runs: one parent run per ``suite run``, one child run per trial or search trial.

A trial's run is named like its cell (``dropout=0.5 train_size=4000 seed=1``);
the settings that act on it go in as params with plain values (the full
settings as ``settings.json``), its data as a dataset input, its per-epoch
metrics with ``step=epoch`` in batches, its provenance as tags.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE as MLFLOW_NOTE  # also the experiment's description

from suite.ground.errors import TrackingError, one_line
from suite.record.store import Store, study_tags
from suite.study import Cell, ResolvedStudy
from suite.study.applicable import in_effect, plain
from suite.usercode import plugins

EXPERIMENT_KIND = "mlflow.experimentKind"  # read by the UI to choose the experiment's page
BATCH = 1000  # MLflow's limit on metrics per log_batch call
DUPLICATE_ROW = re.compile(r"duplicate key|UniqueViolation|UNIQUE constraint failed|IntegrityError", re.IGNORECASE)
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "r2", "val_r2", "learning_rate", "epoch_train_s")  # r2: a regression's score


def short_label(values: dict) -> str:
    """A cell's values by their last name (``dropout=0.5 train_size=4000``), full names where two would clash."""
    last = [axis.rpartition(".")[2] for axis in values]
    names = [short if last.count(short) == 1 else axis for short, axis in zip(last, values)]
    return " ".join(f"{n}={plain(v)}" for n, v in zip(names, values.values())) or "base"


class Writer(Store):
    """Writes a study's runs."""

    _datasets: dict[str, str]  # run id -> the dataset its trial was started on, until the trial finishes

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._datasets = {}

    def start_study(self, resolved: ResolvedStudy, provenance: dict[str, str], home: str = "") -> str:
        exp = self.experiment(resolved.name)
        tags = {
            **provenance,
            **study_tags(resolved),
            "suite.kind": "study",
            # Who holds the study while this run is RUNNING: another workspace's `suite run` checks them.
            "suite.host": socket.gethostname(),
            "suite.pid": str(os.getpid()),
            "suite.home": home,
            "suite.axes": json.dumps(resolved.axes),
            "suite.trials": str(len(resolved.trials)),
        }
        families = {c.settings.model.family for c in resolved.cells}
        overridden = [note for family, note in plugins.PLUGINS.overridden.items() if family in families]
        if overridden:  # the user's own compile() is replaced: said on the run, as it was in the terminal
            tags["suite.compile_overridden"] = " | ".join(overridden)[:5000]
        try:
            run = self.client.create_run(exp, run_name=f"{resolved.name} [{resolved.profile_name}]", tags=tags)
        except Exception as e:  # noqa: BLE001
            raise TrackingError(f"tracking store {self.uri}: cannot write a run ({one_line(e)})") from None
        self._params(run.info.run_id, in_effect(resolved.study.settings(), keep=tuple(resolved.axes)))
        try:  # what the trials were computed from: the study file, and the user's plugin files
            for source in (resolved.path, *(p.path for p in plugins.PLUGINS.loaded)):
                self.client.log_artifact(run.info.run_id, str(source), "source")
        except Exception as e:  # noqa: BLE001
            raise TrackingError(f"tracking store {self.uri}: cannot store the study's files ({one_line(e)})") from None
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
        name = f"{short_label(cell.values)} seed={seed}"
        run = self.client.create_run(self.experiment(resolved.name), run_name=name, tags=tags)
        self._params(run.info.run_id, {**in_effect(cell.settings, keep=tuple(resolved.axes)), "seed": seed})
        self.client.log_dict(run.info.run_id, cell.settings.model_dump(mode="json"), "settings.json")
        self._datasets[run.info.run_id] = cell.settings.data.name
        return run.info.run_id

    def start_search(self, resolved: ResolvedStudy, parent: str, cell: Cell, trial_id: str, values: dict, provenance,
                     why: str = "", for_seed: int | None = None) -> str:
        """One trial of a cell's nuisance search: its values as params, tagged apart from the compared trials
        (``why``: what put a sweep's candidate there, as tag ``search.candidate``)."""
        tags = {
            **provenance,
            **study_tags(resolved),
            MLFLOW_PARENT_RUN_ID: parent,
            "suite.kind": "search",
            "suite.cell": str(cell.index),
            "suite.cell_values": json.dumps(cell.values),
            "suite.search_trial": trial_id,
            "suite.search_values": json.dumps(values),
            **({"search.candidate": why} if why else {}),
            **({"suite.search_for_seed": str(for_seed)} if for_seed is not None else {}),  # tune.per: seed
        }
        name = f"{short_label(cell.values)} search #{int(trial_id) + 1}" + ("" if for_seed is None else f" for seed {for_seed}")
        run = self.client.create_run(self.experiment(resolved.name), run_name=name, tags=tags)
        self._params(run.info.run_id, values)
        self._datasets[run.info.run_id] = cell.settings.data.name
        return run.info.run_id

    def finish_trial(self, run_id: str, result) -> None:
        """A trial's metrics, its data as an input, its artifacts; the run ends FINISHED."""
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
        tags = [RunTag("data.fingerprint", result.splits_fingerprint), RunTag("model.parameters", str(result.parameters))]
        if result.class_names:  # a data file's labels: class code i is the i-th name
            tags.append(RunTag("data.classes", ", ".join(result.class_names)[:5000]))
        if result.group:  # trained together with other trials: which group (its seconds are shares of the group's)
            tags.append(RunTag("train.group", result.group[:5000]))
        if result.preprocessing:  # a raw table's encoding, column by column (fitted on the training rows)
            tags.append(RunTag("data.preprocessing", " | ".join(result.preprocessing)[:5000]))
        self.client.log_batch(run_id, tags=tags)
        dataset = self._datasets.pop(run_id, None)
        if dataset:
            self._log_input(run_id, data_input(dataset, result.splits_fingerprint))
        for name, content in result.artifacts.items():
            self.client.log_dict(run_id, content, name)
        self.client.set_terminated(run_id, "FINISHED")

    def _log_input(self, run_id: str, dataset: DatasetInput, attempts: int = 3) -> None:
        """Link the trial's data to its run. The store keeps one row per dataset, created by the first run
        that logs it: two workers finishing trials on the same data at once can both try to insert it,
        and the loser's insert fails on the unique key (seen on a Postgres-backed server in CI). By then
        the row exists, so trying again links to it; any other failure is the store's, and stops."""
        for attempt in range(attempts):
            try:
                self.client.log_inputs(run_id, datasets=[dataset])
                return
            except TrackingError as e:
                if attempt == attempts - 1 or not DUPLICATE_ROW.search(str(e)):
                    raise
                time.sleep(0.1 * (attempt + 1))

    def fail_trial(self, run_id: str, message: str) -> None:
        self.client.set_tag(run_id, "suite.error", message[-4000:])
        self.client.set_terminated(run_id, "FAILED")

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status)

    def log_dict(self, run_id: str, content: dict, name: str) -> None:
        self.client.log_dict(run_id, content, name)

    def describe_experiment(self, name: str, markdown: str) -> None:
        """The experiment's description in the UI, which opens it as model training (runs and their
        charts) rather than as the GenAI overview of traces that MLflow 3 shows an untyped experiment."""
        experiment = self.experiment(name)
        self.client.set_experiment_tag(experiment, MLFLOW_NOTE, markdown)
        self.client.set_experiment_tag(experiment, EXPERIMENT_KIND, "custom_model_development")

    def describe_run(self, run_id: str, markdown: str) -> None:
        self.client.set_tag(run_id, MLFLOW_NOTE, markdown)

    def log_summary(self, run_id: str, metrics: dict[str, float]) -> None:
        """Metrics of the study as a whole (step 0), on its parent run."""
        now = int(time.time() * 1000)
        items = [Metric(k, v, now, 0) for k, v in metrics.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(run_id, metrics=items[i : i + BATCH])

    def log_table(self, run_id: str, table, name: str) -> None:
        self.client.log_table(run_id, table, name)

    def log_artifacts(self, run_id: str, folder: Path) -> None:
        self.client.log_artifacts(run_id, str(folder))

    def _params(self, run_id: str, params: dict) -> None:
        items = [Param(k, plain(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow's limit on params per log_batch call
            self.client.log_batch(run_id, params=items[i : i + 100])


def data_input(name: str, fingerprint: str) -> DatasetInput:
    """The data a trial trained on, for the UI's Dataset column: its name, and the fingerprint of its
    splits as digest (the same name with another digest is other data: another subsample or file)."""
    dataset = MetaDataset(CodeDatasetSource({"suite.dataset": name}), name=name, digest=fingerprint)
    return DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, "training")])
