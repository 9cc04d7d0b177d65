"""Trials that train together on JAX (suite.train.grouped), each in a fresh interpreter with KERAS_BACKEND=jax
(this test process holds the TensorFlow backend): a trial's numbers do not depend on its companions, and a
diverging trial is frozen while the others go on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = r"""
import json, types
import numpy as np
from suite.study import Model, Train
from suite.train import models, optimizers
from suite.train.grouped import Group, Member

rng = np.random.default_rng(0)
x = rng.normal(size=(300, 12)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int64") + 2 * (x[:, 2] > 0)
splits = types.SimpleNamespace(x_train=x[:200], y_train=y[:200], x_val=x[200:], y_val=y[200:])
m = Model(width=16, depth=2, dropout=0.2)
build = lambda: models.build(m, (12,), 4)
make = lambda lr: optimizers.optimizer(Train(optimizer="sgd", learning_rate=lr, momentum=0.9), 1)
together = Group(build, make, 3).fit([Member(0, 0.05), Member(1, 0.05), Member(2, 1e12)], splits, 32, 6)
alone = Group(build, make, 3).fit([Member(0, 0.05)], splits, 32, 6)
narrow = Group(build, make, 1).fit([Member(0, 0.05)], splits, 32, 6)
same = lambda a, b: a.history == b.history and all(np.array_equal(u, v) for u, v in zip(a.weights[0], b.weights[0]))
print(json.dumps({
    "same_alone": same(together[0], alone[0]),
    "width_1_moves": max(float(np.max(np.abs(u - v))) for u, v in zip(together[0].weights[0], narrow[0].weights[0])),
    "epochs": [len(o.history["loss"]) for o in together],
    "diverged": [o.diverged_epoch for o in together],
    "best_epoch": together[0].best_epoch,
    "best_val": max(together[0].history["val_accuracy"]),
    "seeds_differ": together[0].history["loss"] != together[1].history["loss"],
}))
"""


def test_a_group_trains_each_trial_as_if_alone_and_freezes_a_diverging_one():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r["same_alone"]  # the same width: bit for bit the same, whatever shares the group
    assert r["width_1_moves"] < 1e-4  # another width: other kernels, rounding-level differences only
    assert r["diverged"][2] is not None and r["diverged"][:2] == [None, None]
    assert r["epochs"][:2] == [6, 6] and r["epochs"][2] == r["diverged"][2]  # frozen at divergence, the rest go on
    assert r["seeds_differ"] and 1 <= r["best_epoch"] <= 6 and r["best_val"] > 0.3  # above chance (0.25)
