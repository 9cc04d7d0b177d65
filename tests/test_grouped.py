"""Trials that train together on JAX (suite.train.grouped), each in a fresh interpreter with KERAS_BACKEND=jax
(this test process holds the TensorFlow backend): a trial's numbers do not depend on its companions, and a
diverging trial is frozen while the others go on."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


# Not pytest.importorskip: importing JAX into this process, beside TensorFlow, crashed a later test (a segfault
# in pandas' C parser); the tests run JAX in their own interpreters.
pytestmark = [pytest.mark.slow,  # every test here trains
              pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")]

ROOT = Path(__file__).resolve().parent.parent

# Runs through the suite's runner need its store and tuner; the GPU machine (make gpu-check) has neither, and
# checks the grouped arithmetic alone there.
needs_runner = pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("mlflow", "keras_tuner")),
                                  reason="MLflow or keras-tuner is not installed: the runner's tests cannot run")


def jax_env() -> dict:
    """A JAX interpreter's environment: on the CPU unless the caller sets JAX_PLATFORMS (make gpu-check sets it empty:
    the device JAX finds)."""
    return {"JAX_PLATFORMS": "cpu", **os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}


DATA = r"""
import json, sys, types
import numpy as np
from suite.study import Model, Train
from suite.train import backend, models, optimizers
from suite.train.grouped import Group, Member

rng = np.random.default_rng(0)
x = rng.normal(size=(300, 12)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int64") + 2 * (x[:, 2] > 0)


def split(order):  # 200 examples to train on, 100 to validate on, in this data.order
    return types.SimpleNamespace(x_train=x[:200], y_train=y[:200], x_val=x[200:], y_val=y[200:], order=order,
                                 class_weight=None)
"""  # what the programs below, each run in a JAX interpreter of its own, start from

PROGRAM = DATA + r"""
lanes = sys.argv[1]  # mapped | looped
splits = split("shuffled")
m = Model(width=16, depth=2, dropout=0.2)
build = lambda: models.build(m, (12,), 4)
make = lambda lr: optimizers.optimizer(Train(optimizer="sgd", learning_rate=lr, momentum=0.9), 1)
fit = dict(patience=4, monitor="val_accuracy")  # early stopping that keeps each trial's best epoch
together = Group(build, make, 3, lanes=lanes).fit([Member(0, 0.05), Member(1, 0.05), Member(2, 1e12)], splits, 32, 6, **fit)
alone = Group(build, make, 3, lanes=lanes).fit([Member(0, 0.05)], splits, 32, 6, **fit)
narrow = Group(build, make, 1, lanes=lanes).fit([Member(0, 0.05)], splits, 32, 6, **fit)
other = Group(build, make, 3, lanes={"mapped": "looped", "looped": "mapped"}[lanes]).fit([Member(0, 0.05)], splits, 32, 6, **fit)
same = lambda a, b: a.history == b.history and all(np.array_equal(u, v) for u, v in zip(a.weights[0], b.weights[0]))
print(json.dumps({
    "same_alone": same(together[0], alone[0]),
    "width_1_moves": max(float(np.max(np.abs(u - v))) for u, v in zip(together[0].weights[0], narrow[0].weights[0])),
    "other_lanes_move": max(float(np.max(np.abs(u - v))) for u, v in zip(alone[0].weights[0], other[0].weights[0])),
    "epochs": [len(o.history["loss"]) for o in together],
    "diverged": [o.diverged_epoch for o in together],
    "best_epoch": together[0].best_epoch,
    "best_val": max(together[0].history["val_accuracy"]),
    "best_is_kept": together[0].history["val_accuracy"][together[0].best_epoch - 1] == max(together[0].history["val_accuracy"]),
    "seeds_differ": together[0].history["loss"] != together[1].history["loss"],
    "platform": __import__("jax").default_backend(),
}))
"""


@pytest.mark.parametrize("lanes", ["mapped", "looped"])
def test_a_group_trains_each_trial_as_if_alone_and_freezes_a_diverging_one(lanes):
    """Either way of running a group's lanes (side by side, or the active ones one after another): a trial's numbers
    do not depend on its companions at a fixed width, and the two ways differ by rounding only."""
    done = subprocess.run([sys.executable, "-c", PROGRAM, lanes], cwd=ROOT, env=jax_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r["same_alone"]  # the same width: bit for bit the same, whatever shares the group
    # Another width: other kernels, rounding-level differences only. A GPU multiplies float32 in TF32 by default
    # (10 bits of mantissa): measured on an H200, 1.8e-4 after 6 epochs, where a CPU stays under 1e-4.
    assert r["width_1_moves"] < (1e-4 if r["platform"] == "cpu" else 1e-3)
    assert r["other_lanes_move"] < (1e-4 if r["platform"] == "cpu" else 1e-3)
    assert r["diverged"][2] is not None and r["diverged"][:2] == [None, None]
    assert r["epochs"][:2] == [6, 6] and r["epochs"][2] == r["diverged"][2]  # frozen at divergence, the rest go on
    assert r["seeds_differ"] and 1 <= r["best_epoch"] <= 6 and r["best_is_kept"] and r["best_val"] > 0.3  # chance: 0.25


SCHEDULED = DATA + r"""
import keras
from suite.train.groups import unit_schedule, rates

splits = split("none")
m = Model(width=16, depth=2)
out = {}
for name, t in {"cosine": Train(optimizer="momentum", learning_rate=0.2, schedule="cosine", epochs=5, batch_size=32),
                "step_clip": Train(optimizer="adam", learning_rate=0.05, schedule="step", clip_norm=0.1, epochs=5,
                                   batch_size=32),
                "class_weight": Train(optimizer="adam", learning_rate=0.01, epochs=5, batch_size=32)}.items():
    weights = {0: 0.5, 1: 2.0, 2: 1.0, 3: 3.0} if name == "class_weight" else None
    splits.class_weight = weights
    steps = -(-200 // 32)
    build = lambda: models.build(m, (12,), 4)
    make = lambda lr: optimizers.optimizer(t.model_copy(update={"learning_rate": lr, "schedule": "constant"}), 1)
    together = Group(build, make, 2, unit_schedule(t, steps)).fit(
        [Member(0, t.learning_rate), Member(1, t.learning_rate / 2)], splits, 32, 5)
    backend.seed_everything(0)  # the same trial alone: Keras's fit, its optimizer with the schedule and clip norm
    model = build()
    model.compile(optimizer=optimizers.optimizer(t, steps), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen = []
    at_end = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))))
    alone = model.fit(x[:200], y[:200], batch_size=32, epochs=5, shuffle=False, verbose=0, callbacks=[at_end],
                      class_weight=weights)
    out[name] = {
        "loss": max(abs(a - b) for a, b in zip(together[0].history["loss"], alone.history["loss"])),
        "weights": max(float(np.max(np.abs(u - np.asarray(v.value))))
                       for u, v in zip(together[0].weights[0], model.trainable_variables)),
        "rates": max(abs(a - b) for a, b in zip(rates(t, steps, 5), seen)),
        "accuracy": max(abs(a - b) for a, b in zip(together[0].history["accuracy"], alone.history["accuracy"])),
        "own_rate": together[0].history["loss"] != together[1].history["loss"]}
print(json.dumps(out))
"""


def test_a_group_trains_a_decaying_schedule_a_clip_norm_and_class_weights_as_kerass_fit_does_alone():
    """A schedule is each lane's rate times the schedule at the optimizer's iteration, set before each step (as Keras
    computes it from a LearningRateSchedule); clipping is the optimizer's own; class weights weigh each example's loss
    (over the batch's size), not its accuracy, as Keras's fit reports them. Against Keras's fit of the same trial
    alone, in the same data order: the same weights to float32 rounding, and the same rate at each epoch's end."""
    done = subprocess.run([sys.executable, "-c", SCHEDULED], cwd=ROOT, env=jax_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    for name, diff in r.items():  # measured on 2 CPU cores: 0 and 2.4e-7 (weights), 1.5e-8 and 4.5e-8 (loss)
        assert diff["weights"] < 1e-5 and diff["loss"] < 1e-5 and diff["rates"] < 1e-7 and diff["accuracy"] < 1e-6, (name, diff)
        assert diff["own_rate"], name  # each lane at its own rate


PROBED = DATA + r"""
from suite.train import diagnostics

splits = split("shuffled")
m = Model(width=16, depth=3, activation="relu", normalization="batch")
build = lambda: models.build(m, (12,), 4)
make = lambda lr: optimizers.optimizer(Train(optimizer="sgd", learning_rate=lr), 1)
kinds = ("activations", "gradients")
taps = lambda model: diagnostics.Taps(model, x[:200], y[:200], "relu", kinds)
together = Group(build, make, 3, probe=taps).fit([Member(0, 0.1), Member(1, 0.1), Member(2, 1e30)], splits, 32, 4)
other = Group(build, make, 3, probe=taps).fit([Member(0, 0.1), Member(5, 0.3)], splits, 32, 4)

def alone(weights):  # the probe of a trial trained alone, on a Keras model holding these weights
    backend.seed_everything(0)
    model = build()
    if weights is not None:
        for variable, value in zip(model.trainable_variables, weights[0]):
            variable.assign(value)
        for variable, value in zip(model.non_trainable_variables, weights[1]):
            variable.assign(value)
    return diagnostics.Probe(model, x[:200], y[:200], "relu", kinds).measure(histograms=True)

def gap(a, b):
    return max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-6) for k in b)

first, hists = alone(None)
last, _ = alone(together[0].weights)
record = together[0].record
print(json.dumps({
    "entries": [len(o.record.per_epoch) for o in together], "epochs": [len(o.history["loss"]) for o in together],
    "keys": sorted(record.per_epoch[0]) == sorted(first),
    "initial": gap(record.per_epoch[0], first), "final": gap(record.per_epoch[-1], last),
    "edges": max(abs(a - b) for k in hists for a, b in zip(record.histograms[k][0], hists[k][0])),
    "counts": sum(abs(a - b) for k in hists for a, b in zip(record.histograms[k][1], hists[k][1])),
    "layers": sorted(record.histograms) == sorted(hists),
    "companions": record.per_epoch == other[0].record.per_epoch,
    "seeds_differ": record.per_epoch[0] != together[1].record.per_epoch[0],
}))
"""


def test_a_group_probes_each_lane_as_a_trial_alone_is_probed():
    """The diagnostics' probes mapped over a group's lanes (diagnostics.Taps): each lane's record, at initialization and
    after its last epoch, is what the probe of a trial alone measures on a Keras model holding that lane's weights;
    a diverging lane's record ends where it froze; a lane's record does not depend on its companions."""
    done = subprocess.run([sys.executable, "-c", PROBED], cwd=ROOT, env=jax_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r["entries"] == [e + 1 for e in r["epochs"]] and r["epochs"][:2] == [4, 4] and r["epochs"][2] < 4
    assert r["keys"] and r["layers"] and r["companions"] and r["seeds_differ"], r
    assert r["initial"] < 1e-5 and r["final"] < 1e-4 and r["edges"] < 1e-5 and r["counts"] <= 2, r  # float32 rounding


STUDY = """
name: grouped
title: seeds that train together
claim: a grouped run records every trial as its own run, and replicates exactly.
data: {dataset: digits, train_size: 300}
model: {family: mlp, depth: 1, width: 16}
train: {optimizer: adam, learning_rate: 0.01, batch_size: 32, epochs: 3}
grid:
  model.dropout: [0.0, 0.2]
seeds: [0, 1, 2]
target: {metric: val_accuracy, value: 0.5}
"""

RUN = r"""
import json, os, sys
from mlflow.tracking import MlflowClient
from suite.cli import main
from suite.train import grouped
grouped.MOST = int(os.environ.get("MOST", grouped.MOST))  # as on a device with room for MOST trials of this model
code = main(["run", "grouped", "--grouped"])
again = main(["replicate", "grouped", "--trials", "2"])
client = MlflowClient(sys.argv[1])
exp = client.get_experiment_by_name("grouped")
runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
print(json.dumps({"code": code, "replicate": again, "statuses": sorted({r.info.status for r in runs}), "runs": len(runs),
                  "groups": sorted({r.data.tags.get("train.group", "") for r in runs}),
                  "widths": sorted({r.data.metrics.get("group_width") for r in runs}),
                  "curves": min(len(client.get_metric_history(r.info.run_id, "val_accuracy")) for r in runs)}))
"""


def jax_home(tmp_path, name: str, study: str) -> tuple[dict, str]:
    """A workspace holding one study, the environment of a JAX process run there, and its store's URI."""
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / f"{name}.yaml").write_text(study)
    env = {**jax_env(), "SUITE_HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env, f"sqlite:///{tmp_path / '.suite' / 'mlflow.db'}"


def run_program(program: str, tmp_path, env: dict, store: str) -> dict:
    """Run ``program`` (given the store's URI) in a JAX interpreter in the workspace; the JSON it prints last."""
    done = subprocess.run([sys.executable, "-c", program, store], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_runner
@pytest.mark.parametrize("most, groups, width", [
    (None, ["seeds [0, 1, 2], trained together: 3 of 3"], 3.0),
    (2, ["seeds [0, 1], trained together: 2 of 2 (group 1 of 2)", "seeds [2], trained together: 1 of 1 (group 2 of 2)"],
     2.0),  # a device with room for two: a cell's three seeds in two groups of width 2, the second padded
])
def test_a_grouped_run_records_each_trial_and_replicates_it_exactly(tmp_path, most, groups, width):
    env, store = jax_home(tmp_path, "grouped", STUDY)
    if most is not None:
        env["MOST"] = str(most)
    r = run_program(RUN, tmp_path, env, store)
    assert r["code"] == 0 and r["statuses"] == ["FINISHED"] and r["runs"] == 6  # each trial its own run
    assert r["groups"] == groups and r["widths"] == [width]
    assert r["curves"] == 3  # its own per-epoch curve
    assert r["replicate"] == 0  # rerun in the group its record names, of the same width: the same numbers


KILLED = r"""
import json, sys
from collections import Counter
from mlflow.tracking import MlflowClient
from suite.cli import main
code = main(["run", "grouped", "--grouped"])  # resumes the killed run
again = main(["replicate", "grouped", "--trials", "6"])
client = MlflowClient(sys.argv[1])
exp = client.get_experiment_by_name("grouped")
runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
finished = Counter((r.data.tags["suite.cell"], r.data.tags["suite.seed"]) for r in runs if r.info.status == "FINISHED")
print(json.dumps({"code": code, "replicate": again, "finished": sorted(finished.values()), "trials": len(finished),
                  "statuses": sorted(r.info.status for r in runs)}))
"""


@needs_runner
def test_a_group_killed_mid_training_leaves_its_trial_killed_and_a_rerun_finishes_each_trial_once(tmp_path):
    import signal
    import time

    from mlflow.tracking import MlflowClient

    env, store = jax_home(tmp_path, "grouped", STUDY.replace("epochs: 3", "epochs: 150"))  # a group long enough to kill
    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", "grouped", "--grouped"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock, deadline, running = tmp_path / ".suite" / "tuner" / "grouped" / "base.lock", time.time() + 300, []
    while time.time() < deadline and proc.poll() is None and not lock.exists():  # the store is created and migrated
        time.sleep(0.1)
    client = MlflowClient(store)
    while time.time() < deadline and proc.poll() is None and not running:  # the first trial trains its cell's group
        exp = client.get_experiment_by_name("grouped")
        runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'") if exp else []
        running = [r for r in runs if r.info.status == "RUNNING"]
        time.sleep(0.05)
    assert proc.poll() is None and len(running) == 1 and len(runs) == 1, "the group ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    r = run_program(KILLED, tmp_path, env, store)
    assert r["code"] == 0 and r["trials"] == 6 and r["finished"] == [1] * 6  # each trial finished exactly once
    assert r["statuses"] == ["FINISHED"] * 6 + ["KILLED"]  # the trial that was training its group: KILLED, once
    assert r["replicate"] == 0  # the resumed group's numbers are a fresh group's, bit for bit


SWEPT = STUDY.replace("name: grouped", "name: swept") + """tune:
  algorithm: sweep
  trials: 5
  repeats: 2
  space:
    train.learning_rate: {log: [1.0e-3, 1.0e-1], step: 10}
  limits:
    train.learning_rate: [1.0e-4, 1.0]
"""

SEARCHED = r"""
import json, sys
from mlflow.tracking import MlflowClient
from suite.cli import main
code = main(["run", "swept", "--grouped"])
again = main(["replicate", "swept", "--trials", "2"])
client = MlflowClient(sys.argv[1])
exp = client.get_experiment_by_name("swept")
search = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'search'")
trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
print(json.dumps({"code": code, "replicate": again,
                  "ladder": sorted({(r.data.tags["search.candidate"], r.data.tags.get("train.group", ""),
                                     r.data.metrics.get("group_width")) for r in search}),
                  "trial_groups": sorted({r.data.tags.get("train.group", "") for r in trials})}))
"""


@needs_runner
def test_a_sweeps_ladder_trains_as_one_group_and_its_boundary_check_alone(tmp_path):
    r = run_program(SEARCHED, tmp_path, *jax_home(tmp_path, "swept", SWEPT))
    assert r["code"] == 0 and r["replicate"] == 0
    ladder = [row for row in r["ladder"] if row[0] == "ladder"]
    # every rung of every cell's ladder (3 rates x 2 repeat seeds) in one group per cell: its first run's record
    assert {(g.split(", trained")[0], w) for _, g, w in ladder} == {
        ("seeds [1000003, 1010010] x rates ['0.001', '0.01', '0.1']", 6.0)}
    assert all(g == "" and w is None for why, g, w in r["ladder"] if why.startswith("boundary check"))  # alone
    assert all(g.startswith("seeds [0, 1, 2], trained together") for g in r["trial_groups"])


DEFAULT = r"""
import json, sys
from mlflow.tracking import MlflowClient
from suite.cli import main
code = main(["run", "grouped", "scheduled"])  # KERAS_BACKEND unset: each study on its own path
tensorflow_here = "tensorflow" in sys.modules  # this process trained the grouped study: JAX, no TensorFlow
client = MlflowClient(sys.argv[1])
seen = {}
for name in ("grouped", "scheduled"):
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    seen[name] = sorted({(r.data.tags.get("backend"), r.data.tags.get("train.executor"), bool(r.data.tags.get("train.group")))
                         for r in runs}) + [len(runs)]
print(json.dumps({"code": code, "tensorflow_here": tensorflow_here, "seen": seen}))
"""


@needs_runner
def test_the_default_path_groups_what_groups_and_trains_the_rest_alone_on_tensorflow(tmp_path):
    """``suite run`` without KERAS_BACKEND: a study whose trials all group trains grouped on JAX in this process, with
    no TensorFlow imported; an ensemble (it cannot group) alone on TensorFlow, in a child process. Each
    study's trials carry their backend and executor, and a rerun on the other backend is refused as stale."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed: every study goes to JAX")
    env, store = jax_home(tmp_path, "grouped", STUDY)
    env.pop("KERAS_BACKEND")
    (tmp_path / "studies" / "scheduled.yaml").write_text(
        STUDY.replace("name: grouped", "name: scheduled").replace("width: 16}", "width: 16, members: 2}"))
    listed = subprocess.run([sys.executable, "-m", "suite", "list"], cwd=tmp_path, env=env, capture_output=True, text=True)
    rows = {line.split()[0]: line for line in listed.stdout.splitlines() if line and not line.startswith(" ")}
    assert "grouped (jax)" in rows["grouped"] and "alone (tensorflow)" in rows["scheduled"], listed.stdout
    assert "alone: an ensemble (model.members above 1)" in listed.stdout
    r = run_program(DEFAULT, tmp_path, env, store)
    assert r["code"] == 0 and not r["tensorflow_here"]
    assert r["seen"] == {"grouped": [["jax", "grouped", True], 6], "scheduled": [["tensorflow", "alone", False], 6]}
    replicated = subprocess.run([sys.executable, "-m", "suite", "replicate", "grouped", "--trials", "2"], cwd=tmp_path,
                                env=env, capture_output=True, text=True)  # on the backend that made them: exact
    assert replicated.returncode == 0 and "metrics must be identical" in replicated.stdout, replicated.stderr[-2000:]
    again = subprocess.run([sys.executable, "-m", "suite", "run", "grouped", "--executor", "alone"], cwd=tmp_path,
                           env=env, capture_output=True, text=True)
    assert again.returncode == 2, again.stderr[-2000:]
    assert "6 recorded trials of grouped [base] are stale: the backend changed (jax -> tensorflow)" in again.stderr
    assert "keep the backend that recorded them: KERAS_BACKEND=jax" in again.stderr


CACHED = r"""
import json, sys
from mlflow.tracking import MlflowClient
from suite.cli import main
code = main(["run", "grouped", "--grouped"])
client = MlflowClient(sys.argv[1])
exp = client.get_experiment_by_name("grouped")
runs = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
print(json.dumps({"code": code, "losses": sorted((r.data.tags["suite.cell"], r.data.tags["suite.seed"], r.data.metrics["train_loss"])
                                                  for r in runs)}))
"""


EPOCH_PROGRAMS = ("jit__one_epoch", "jit__active_lanes_epoch")  # a group's epoch: its lanes mapped, or looped


@needs_runner
def test_a_compiled_group_is_kept_on_disk_and_a_later_process_gets_the_same_numbers_from_it(tmp_path):
    """JAX's persistent compilation cache (suite.ground.process.prepare): a fresh process loads the group's compiled
    epoch instead of compiling it again, and its trials' numbers are the same to the bit."""
    cache = tmp_path / "jax-cache"
    seen = []
    for attempt in ("first", "second"):
        home = tmp_path / attempt
        home.mkdir()
        env, store = jax_home(home, "grouped", STUDY)
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
        seen.append(run_program(CACHED, home, env, store))
        if attempt == "first":
            kept = sorted(p.name for p in cache.iterdir() if p.name.startswith(EPOCH_PROGRAMS))
            assert kept  # the group's epoch, compiled and kept
    assert seen[0]["code"] == seen[1]["code"] == 0 and seen[0]["losses"] == seen[1]["losses"]
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(EPOCH_PROGRAMS)) == kept  # loaded, not compiled anew


STOPPED = STUDY.replace("epochs: 3}", "epochs: 12}").replace("seeds: [0, 1, 2]", "seeds: [0, 1, 2]") + """tune:
  algorithm: sweep
  trials: 5
  per: block
  blocks: 2
  space:
    train.learning_rate: {log: [1.0e-3, 1.0], step: 10}
  limits:
    train.learning_rate: [1.0e-4, 3.0]
"""

RULED = r"""
import contextlib, io, json, sys
from mlflow.tracking import MlflowClient
from suite.cli import main
client = MlflowClient(sys.argv[1])
out = {}
for name in ("free_grouped", "free_alone", "ruled_grouped", "ruled_alone"):
    code = main(["run", name, "--executor", name.split("_")[1]])
    exp = client.get_experiment_by_name(name)
    searches = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'search'")
    trials = client.search_runs([exp.experiment_id], "tags.`suite.kind` = 'trial'")
    out[name] = {"code": code,
                 "searches": sorted([r.data.tags["suite.cell"] + "/" + r.data.tags["suite.search_for_seed"],
                                     int(r.data.tags["suite.search_trial"]),
                                     [m.value for m in client.get_metric_history(r.info.run_id, "val_accuracy")],
                                     r.data.metrics.get("search_stopped_epoch"), r.data.tags.get("train.group", "")]
                                    for r in searches),
                 "tuned": sorted([r.data.tags["suite.seed"], r.data.tags["suite.tuned"]] for r in trials)}
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        out[name]["replayed"] = [main(["stop-rule", name, "--profile", "", "--after", "3"]), said.getvalue()]
from suite.study import find_study, load_study  # what a resumed search reads its earlier candidates' curves from
from suite.workspace import Workspace
ws = Workspace.current()
resolved = load_study(find_study("ruled_alone", ws.studies))
code = searches[0].data.tags["suite.code_version"]
from suite.search.losers import until_divergence
found = ws.tracker().search_histories(resolved, code, 0, 0, ("val_accuracy", "loss"))
out["on_record"] = {trial: until_divergence(h["val_accuracy"], h["loss"]) for trial, h in found.items()}
print(json.dumps(out))
"""


@needs_runner
def test_a_declared_stop_rule_stops_the_candidates_its_replay_names_grouped_and_alone(tmp_path):
    """The median rule declared in a study (tune.stop) stops, while the search trains, exactly the candidates and epochs
    that replaying it on the same search's unstopped curves names (``losers.stops``), on either executor: in a group each
    lane is judged against the earlier lanes of its own search (two searches, one per block, share the group), alone
    each candidate against the earlier ones on record. The stopped curves are the unstopped ones cut there, and every
    search chooses what it chose unstopped."""
    from suite.search import losers

    rule = "  stop: {rule: median, after: 3, earlier: 2}\n"
    env, store = jax_home(tmp_path, "free_grouped", STOPPED.replace("name: grouped", "name: free_grouped"))
    for name in ("free_alone", "ruled_grouped", "ruled_alone"):
        text = STOPPED.replace("name: grouped", f"name: {name}")
        (tmp_path / "studies" / f"{name}.yaml").write_text(text + rule if name.startswith("ruled") else text)
    r = run_program(RULED, tmp_path, env, store)
    for executor in ("grouped", "alone"):
        stopped = 0
        free, ruled = r[f"free_{executor}"], r[f"ruled_{executor}"]
        assert free["code"] == ruled["code"] == 0
        assert ruled["tuned"] == free["tuned"]  # the same choices
        for block in ("0/0", "0/2", "1/0", "1/2"):  # each cell's search for each block
            curves = [c for b, _, c, _, _ in free["searches"] if b == block]
            expected = losers.stops(curves, "max", after=3, earlier=2)
            got = [s for b, _, _, s, _ in ruled["searches"] if b == block]
            assert got == [None if e is None else float(e) for e in expected], (executor, block)
            for c, (_, _, cut, _, _), e in zip(curves, [s for s in ruled["searches"] if s[0] == block], expected):
                assert cut == c[:e] if e else cut == c
            stopped += sum(e is not None for e in expected)
        grouped = {g for *_, g in ruled["searches"] if g}
        assert bool(grouped) == (executor == "grouped")
        assert free["replayed"][0] == 0 and (f"would stop {stopped} candidates" in free["replayed"][1]
                                             and "choose another candidate in 0 of 4 searches" in free["replayed"][1])
        assert ruled["replayed"][0] == 0 and f"stopped {stopped} of {len(ruled['searches'])} candidates" in ruled["replayed"][1]
        report = (tmp_path / "results" / f"ruled_{executor}" / "base" / "report.md").read_text()
        assert f"It stopped {stopped} of {len(ruled['searches'])} candidates" in report
        assert stopped > 0  # the rule had something to stop (4 candidates of 16 on each executor)
    assert r["on_record"] == {str(t): c for b, t, c, _, _ in r["ruled_alone"]["searches"] if b == "0/0"}


EPSILONS = DATA + r"""
splits = split("shuffled")
m = Model(width=16, depth=2)
build = lambda: models.build(m, (12,), 4)
def make(epsilon):
    return lambda lr: optimizers.optimizer(Train(optimizer="adam", learning_rate=lr, epsilon=epsilon), 1)
fit = lambda group, members: group.fit(members, splits, 32, 4)
lanes = fit(Group(build, make(1e-7), 2), [Member(0, 0.01, 0.5), Member(0, 0.01, 1e-8)])
own = [fit(Group(build, make(e), 2), [Member(0, 0.01)])[0] for e in (0.5, 1e-8)]  # the optimizer's own epsilon
same = lambda a, b: a.history == b.history and all(np.array_equal(u, v) for u, v in zip(a.weights[0], b.weights[0]))
print(json.dumps({"as_its_own": [same(lanes[i], own[i]) for i in range(2)], "differ": not same(lanes[0], lanes[1])}))
"""


def test_a_lane_trains_with_its_own_epsilon_as_an_optimizer_built_with_it():
    """An Adam-family optimizer holds epsilon in a variable (``optimizers._variable_epsilon``), so a group's lanes each
    carry their own, as they carry their rate: a lane with epsilon e trains exactly as a group whose optimizer was built
    with e, and two epsilons give two trainings."""
    done = subprocess.run([sys.executable, "-c", EPSILONS], cwd=ROOT, env=jax_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r == {"as_its_own": [True, True], "differ": True}


POINTS = STUDY.replace("name: grouped", "name: points").replace("optimizer: adam", "optimizer: rmsprop") + """tune:
  algorithm: sweep
  trials: 5
  extensions: 1
  space:
    train.learning_rate: {log: [1.0e-3, 1.0e-1]}
    train.epsilon: {log: [1.0e-8, 1.0e-2]}
"""

PLANNED = SEARCHED.replace('"swept"', '"points"')  # the ladder test's program, on this study


@needs_runner
def test_a_sweep_over_the_rate_and_epsilon_trains_its_points_as_one_group(tmp_path):
    """An RMSprop sweep over rate and epsilon fixes its quasi-random points before scoring any: they train as one group
    per cell (each lane its own rate and epsilon), its boundary check alone; suite replicate rebuilds the same groups."""
    assert "optimizer: rmsprop" in POINTS
    r = run_program(PLANNED, tmp_path, *jax_home(tmp_path, "points", POINTS))
    assert r["code"] == 0 and r["replicate"] == 0
    points = {g.split(", trained")[0] for why, g, _ in r["ladder"] if why == "quasi-random"}
    assert len(points) == 1  # one group per cell's search: its 4 points, each its own rate and epsilon
    assert " x rates [" in (group := points.pop()) and " x epsilons [" in group, group
    assert {g for why, g, _ in r["ladder"] if why.startswith("boundary check")} <= {""}  # alone, where there is one
