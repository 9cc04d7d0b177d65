"""Datasets and splits: sizes, stratification, train-only scaling, fingerprints, errors."""

import numpy as np
import pytest

from suite.data import prepare, scale, split_indices, subsample_indices
from suite.errors import DataError
from suite.study import Data


def test_mnist1d_splits_and_fingerprint():
    s = prepare(Data(dataset="mnist1d", train_size=1000, validation=0.2))
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (800, 200, 1000)  # the official test split
    assert s.input_shape == (40,) and s.classes == 10
    assert np.allclose(s.x_train.mean(axis=0), 0, atol=1e-5)  # standardised on the training split
    again = prepare(Data(dataset="mnist1d", train_size=1000, validation=0.2, seed=0))
    other = prepare(Data(dataset="mnist1d", train_size=1000, validation=0.2, seed=1))
    assert again.fingerprint == s.fingerprint != other.fingerprint


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


def test_subsample_is_class_balanced():
    y = np.repeat(np.arange(3), [50, 50, 5])
    chosen = subsample_indices(y, 12, np.random.default_rng(0))
    assert np.bincount(y[chosen]).tolist() == [4, 4, 4]
    chosen = subsample_indices(y, 30, np.random.default_rng(0))
    assert np.bincount(y[chosen]).tolist() == [13, 12, 5] or np.bincount(y[chosen]).tolist() == [12, 13, 5]


def test_scaling_uses_training_statistics_only():
    train = np.array([[0.0, 5.0], [2.0, 5.0]], dtype="float32")
    test = np.array([[4.0, 6.0]], dtype="float32")
    _, scaled = scale(train, [test], "standard")
    assert scaled.tolist() == [[3.0, 1.0]]  # (4 - 1) / 1; a constant feature keeps unit spread
    _, scaled = scale(train, [test], "minmax")
    assert scaled.tolist() == [[2.0, 1.0]]


def test_errors_name_the_field():
    with pytest.raises(DataError, match="data.train_size: 5000 exceeds the 4000 training examples of mnist1d"):
        prepare(Data(dataset="mnist1d", train_size=5000))
    with pytest.raises(ValueError, match="unknown dataset"):
        Data(dataset="nope")
