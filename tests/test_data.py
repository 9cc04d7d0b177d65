"""Datasets and splits: sizes, stratification, train-only scaling, fingerprints, errors."""

import numpy as np
import pytest

from suite.ground.errors import DataError
from suite.study import Data
from suite.train.splits import (
    class_weights,
    corrupt_labels,
    fold_indices,
    imbalance_indices,
    oversample_indices,
    prepare,
    scale,
    split_indices,
    subsample_indices,
)


@pytest.mark.slow
def test_mnist1d_splits_and_fingerprint():
    s = prepare(Data(dataset="mnist1d", train_size=1000, validation=0.2))
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (800, 200, 1000)  # the official test split
    assert s.input_shape == (40,) and s.classes == 10
    assert np.allclose(s.x_train.mean(axis=0), 0, atol=1e-5)  # standardised on the training split
    again = prepare(Data(dataset="mnist1d", train_size=1000, validation=0.2, seed=0))
    other = prepare(Data(dataset="mnist1d", train_size=1000, validation=0.2, seed=1))
    assert again.fingerprint == s.fingerprint != other.fingerprint


@pytest.mark.slow
@pytest.mark.parametrize("dataset, shape, total", [("digits", (8, 8), 1797), ("mnist5k", (28, 28), 5000), ("synthetic", (40,), 5000)])
def test_datasets_without_a_test_split_hold_one_out(dataset, shape, total):
    s = prepare(Data(dataset=dataset, test=0.2, validation=0.25))
    assert s.input_shape == shape and s.classes == 10
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == total
    assert len(s.y_test) == pytest.approx(0.2 * total, abs=10)
    assert len(s.y_val) == pytest.approx(0.25 * (total - len(s.y_test)), abs=10)


def test_stratified_split_counts():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    keep, held = split_indices(y, 0.1, np.random.default_rng(0))
    assert np.bincount(y[held]).tolist() == [1, 2, 3, 4]
    assert sorted([*keep, *held]) == list(range(100))


def test_subsample_keeps_class_proportions():
    y = np.repeat(np.arange(3), [60, 30, 10])
    chosen = subsample_indices(y, 10, np.random.default_rng(0))
    assert np.bincount(y[chosen]).tolist() == [6, 3, 1]


def test_tiny_splits_hold_out_at_least_one():
    keep, held = split_indices(np.array([3, 7, 1]), 0.2, np.random.default_rng(0))
    assert (len(keep), len(held)) == (2, 1)


def test_scaling_uses_training_statistics_only():
    train = np.array([[0.0, 5.0], [2.0, 5.0]], dtype="float32")
    test = np.array([[4.0, 6.0]], dtype="float32")
    _, scaled = scale(train, [test], "standard")
    assert scaled.tolist() == [[3.0, 1.0]]  # (4 - 1) / 1; a constant feature keeps unit spread
    _, scaled = scale(train, [test], "minmax")
    assert scaled.tolist() == [[2.0, 1.0]]


@pytest.mark.slow
def test_errors_name_the_field():
    with pytest.raises(DataError, match="data.train_size: 5000 exceeds the 4000 training examples of mnist1d"):
        prepare(Data(dataset="mnist1d", train_size=5000))
    with pytest.raises(ValueError, match="unknown dataset"):
        Data(dataset="nope")


def test_imbalance_keeps_one_in_ratio_of_the_minority():
    y = np.repeat(np.arange(4), 100)
    keep = imbalance_indices(y, ratio=10, minority=2, classes=4, rng=np.random.default_rng(0))
    assert np.bincount(y[keep]).tolist() == [100, 100, 10, 10]
    keep = imbalance_indices(y, ratio=1000, minority=1, classes=4, rng=np.random.default_rng(0))
    assert np.bincount(y[keep]).tolist() == [100, 100, 100, 1]  # never a class with no example


def test_label_noise_redraws_exactly_that_many():
    y = np.repeat(np.arange(10), 50)
    noisy, chosen = corrupt_labels(y, 0.2, 10, np.random.default_rng(0))
    assert len(chosen) == 100 and len(set(chosen)) == 100
    untouched = np.setdiff1d(np.arange(500), chosen)
    assert np.array_equal(noisy[untouched], y[untouched])
    everything, chosen = corrupt_labels(y, 1.0, 10, np.random.default_rng(0))
    assert len(chosen) == 500
    assert 0.05 < np.mean(everything == y) < 0.15  # fully random labels: right by chance only


def test_oversampling_matches_the_largest_class():
    y = np.array([0] * 30 + [1] * 3 + [2] * 10)
    idx = oversample_indices(y, np.random.default_rng(0))
    assert np.bincount(y[idx]).tolist() == [30, 30, 30]
    assert set(range(len(y))) <= set(idx)  # every original example is kept


def test_class_weights_are_balanced():
    w = class_weights(np.array([0] * 30 + [1] * 10), 2)
    assert w == {0: 40 / 60, 1: 40 / 20}


@pytest.mark.slow
def test_transforms_apply_to_the_training_split_only():
    base = prepare(Data(dataset="mnist1d"))
    s = prepare(Data(dataset="mnist1d", imbalance={"ratio": 10, "minority": 5}, rebalance="class_weight"))
    assert np.bincount(s.y_train)[5:].tolist() == [round(n / 10) for n in np.bincount(base.y_train)[5:]]
    assert np.array_equal(s.y_val, base.y_val) and np.array_equal(s.y_test, base.y_test)
    assert s.class_weight is not None and s.class_weight[9] > s.class_weight[0]
    noisy = prepare(Data(dataset="mnist1d", label_noise=0.5))
    assert np.array_equal(noisy.x_train, base.x_train) and np.mean(noisy.y_train != base.y_train) > 0.4
    assert np.array_equal(noisy.y_val, base.y_val) and np.array_equal(noisy.y_test, base.y_test)
    over = prepare(Data(dataset="mnist1d", imbalance={"ratio": 10}, rebalance="oversample"))
    assert len(set(np.bincount(over.y_train))) == 1


@pytest.mark.slow
def test_kfold_partitions_the_pool():
    y = np.repeat(np.arange(4), 25)
    held = [fold_indices(y, 4, f, np.random.default_rng(0))[1] for f in range(4)]
    assert sorted(np.concatenate(held).tolist()) == list(range(100))  # every example in exactly one fold
    for h in held:  # stratified: 25 per fold, 6 or 7 of each class
        assert len(h) == 25 and set(np.bincount(y[h], minlength=4)) <= {6, 7}
    train, val = fold_indices(y, 4, 1, np.random.default_rng(0))
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    s = prepare(Data(dataset="mnist1d", train_size=400, validation={"kfold": 4}, fold=3))
    assert (len(s.y_train), len(s.y_val)) == (300, 100)
    with pytest.raises(ValueError, match="fold must be 0 without k-fold"):
        Data(fold=1)
    with pytest.raises(ValueError, match="below k"):
        Data(validation={"kfold": 4}, fold=4)


@pytest.mark.slow
def test_a_fixed_data_order_is_one_permutation_or_sorted_by_class():
    from suite.train.grouped import Group
    from suite.train.splits import fixed_order

    s = prepare(Data(dataset="mnist1d", train_size=500, order="shuffled"))
    assert fixed_order(s, seed=0) is None  # every epoch reshuffles
    once = prepare(Data(dataset="mnist1d", train_size=500, order="once"))
    a, b = fixed_order(once, seed=0), fixed_order(once, seed=1)
    assert sorted(a) == list(range(len(once.y_train))) and not np.array_equal(a, b)  # a permutation, by the seed
    assert np.array_equal(a, fixed_order(once, seed=0))
    by_class = prepare(Data(dataset="mnist1d", train_size=500, order="sorted"))
    rows = fixed_order(by_class, seed=0)
    assert sorted(rows) == list(range(len(by_class.y_train))) and np.all(np.diff(by_class.y_train[rows]) >= 0)
    batches = by_class.y_train[rows][: 32 * (len(rows) // 32)].reshape(-1, 32)
    assert max(len(set(batch)) for batch in batches) <= 2  # each batch holds one or two classes
    resample = np.array([3, 3, 1, 0])
    assert sorted(fixed_order(once, 0, resample)) == [0, 1, 3, 3]  # a bootstrap resample keeps its repeats
    grouped = Group.order(0, epoch=5, n=len(a), batch=64, fixed=a)  # the grouped path takes the same order
    assert np.array_equal(grouped.ravel()[: len(a)], a)


def test_a_dataset_loads_once_per_command_not_once_per_cell_or_study(tmp_path, monkeypatch):
    """suite validate regenerated MNIST-1D for every cell (7 s each: 2 min 17 s for the studies), and suite run
    once per study: preflight keeps one load for a study's cells, and the next study reuses it."""
    from suite.running import preflight
    from suite.study import load_study
    from suite.train import datasets
    from suite.train.kept import Kept

    calls = []
    real = datasets.LOADERS["synthetic"]
    monkeypatch.setitem(datasets.LOADERS._entries, "synthetic", lambda data: calls.append(data.dataset) or real(data))
    study = tmp_path / "many.yaml"
    study.write_text(
        "name: many\ntitle: t\nclaim: c\ndata: {dataset: synthetic}\nmodel: {depth: 1, width: 8}\n"
        "train: {epochs: 1}\ngrid:\n  model.width: [4, 8, 16]\nseeds: [0]\ntarget: {metric: val_accuracy, value: 0.5}\n"
    )
    resolved = load_study(study)
    preflight.check(resolved)
    assert len(calls) == 1  # three cells, one load
    loaded = Kept()
    preflight.check(resolved, loaded.next_study())
    preflight.check(resolved, loaded.next_study())
    assert len(calls) == 2  # two studies of one command: one more load, shared
    assert loaded.next_study().models is not loaded.models  # compiled models never cross studies
