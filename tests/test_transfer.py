"""Transfer: a source task of other classes, weights moved into a model with a fresh output layer."""

import keras
import numpy as np
import pytest

from suite.ground.errors import DataError
from suite.study import Model, Settings, Target
from suite.train import datasets, models, splits, transfer, trial
from suite.train.kept import Kept


def test_only_classes_keeps_those_examples_and_relabels_them_in_order():
    source = datasets.Source(x=np.arange(10.0)[:, None], y=np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) % 5)
    kept = splits.only_classes(source, [3, 1])
    assert sorted(kept.y.tolist()) == [0, 0, 1, 1] and set(kept.x[kept.y == 0, 0]) == {3.0, 8.0}
    with pytest.raises(DataError, match="data.classes"):
        splits.only_classes(source, [7])


def test_transplant_copies_all_but_the_output_layer_and_freezes_on_request():
    m = Model(depth=2, width=8)
    keras.utils.set_random_seed(0)
    source = models.build(m, (4,), 3)
    weights = [[keras.ops.convert_to_numpy(w) for w in layer.weights] for layer in source.layers]
    keras.utils.set_random_seed(1)
    target = models.build(m, (4,), 3)
    transfer.transplant(target, weights, freeze=True)
    for s, t in zip(source.layers[:-1], target.layers[:-1]):
        for a, b in zip(s.weights, t.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        assert not t.trainable
    assert target.layers[-1].trainable
    assert not np.array_equal(keras.ops.convert_to_numpy(source.layers[-1].kernel), keras.ops.convert_to_numpy(target.layers[-1].kernel))


def test_a_transfer_without_a_source_task_is_refused():
    with pytest.raises(Exception, match="pretrain.classes"):
        Settings.model_validate({"train": {"transfer": "full"}})


@pytest.mark.slow
def test_a_head_only_trial_runs_from_a_cached_source_model():
    settings = Settings.model_validate(
        {"data": {"dataset": "digits", "classes": [5, 6, 7, 8, 9], "train_size": 150}, "model": {"depth": 1, "width": 8},
         "train": {"epochs": 2, "transfer": "head"}, "pretrain": {"classes": [0, 1, 2, 3, 4], "epochs": 1}}
    )
    kept = Kept()  # what a run keeps across its trials
    source = transfer.pretrained(settings, 0, kept)
    assert transfer.pretrained(settings, 0, kept) is source  # kept: the head and full cells share one source model
    full = settings.model_copy(update={"train": settings.train.model_copy(update={"transfer": "full"})})
    assert transfer.pretrained(full, 0, kept) is source
    assert transfer.pretrained(settings, 0) is not source  # a call given nothing to keep in starts afresh
    result = trial.run(settings, 0, Target(metric="val_accuracy", value=0.5), kept=kept)
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0 and result.metrics["epochs_run"] >= 1
