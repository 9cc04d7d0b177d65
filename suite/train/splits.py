"""Splits: the train/validation/test arrays every trial of a cell trains on.

``prepare`` loads a dataset (``suite.train.datasets``) or the user's file
(``suite.train.files``), holds out explicit validation and test splits, applies
the training-only transforms (subsampling, imbalance, label noise, rebalancing),
scales with statistics fitted on the training split alone, and fingerprints the
result so every run records exactly which arrays it saw.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from suite.ground.errors import DataError
from suite.train import files, tables, tasks
from suite.train.datasets import Source, load_source
from suite.train.kept import Kept


@dataclass(frozen=True)
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    fingerprint: str
    class_weight: dict[int, float] | None = None  # for data.rebalance: class_weight
    class_names: tuple[str, ...] | None = None  # a file's labels, by code (None: the codes are the labels)
    preprocessing: tuple[str, ...] = ()  # a raw table's encoding, column by column, in words (suite.train.tables)
    order: str = "shuffled"  # data.order: the order training takes the examples in (``fixed_order``)
    # data.task: regression: the training split's label mean and SD; every split's y is standardized by them
    label_scale: tuple[float, float] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.x_train.shape[1:]

    @property
    def outputs(self) -> int:
        """The model's output width: one logit per class, or a regression's one value."""
        return 1 if self.label_scale is not None else self.classes


def prepare(data, kept: Kept | None = None) -> Splits:
    """The splits for these data settings (a ``suite.study.Data``), built once per run (``kept``) and shared
    by its trials."""
    kept = kept or Kept()
    key = data.model_dump_json() + files.version(data.path)  # an edited file is new data
    return kept.splits.get_or_make(key, lambda: _prepare(data, kept))


def _prepare(data, kept: Kept) -> Splits:
    regression = data.task == tasks.REGRESSION
    source = (files.read(data.path, data.label, data.columns, kept, data.task) if data.path is not None
              else load_source(data, kept))
    if data.classes is not None:
        source = only_classes(source, data.classes)
    rng = np.random.default_rng(data.seed)
    label_type = "float64" if regression else "int64"
    y = source.y.astype(label_type)
    # the splits are stratified by class, or by a regression label's deciles: what strata() returns for it
    strata = tasks.strata if regression else (lambda labels: labels)
    x_pool, y_pool = source.x, y
    if source.x_test is None:
        pool, test = split_indices(strata(y), data.test, rng)
        x_pool, y_pool = source.x[pool], y[pool]
        x_test, y_test = source.x[test], y[test]
    else:
        x_test, y_test = source.x_test, source.y_test.astype(label_type)
    if data.train_size is not None:
        if data.train_size > len(y_pool):
            raise DataError(
                f"data.train_size: {data.train_size} exceeds the {len(y_pool)} training examples of {data.name}"
            )
        keep = subsample_indices(strata(y_pool), data.train_size, rng)
        x_pool, y_pool = x_pool[keep], y_pool[keep]
    kfold = getattr(data.validation, "kfold", None)  # a fraction, or {kfold: k}
    if kfold is not None:
        train, val = fold_indices(strata(y_pool), kfold, data.fold, rng)
    else:
        train, val = split_indices(strata(y_pool), data.validation, rng)
    if len(train) == 0 or len(val) == 0:
        raise DataError(
            f"data.validation: {data.validation} of {len(y_pool)} examples leaves an empty training or validation split"
        )
    classes = 0 if regression else int(max(y_pool.max(), y_test.max())) + 1
    # Training-split transforms, in this order; validation and test stay clean and untouched.
    if data.imbalance.ratio > 1:
        train = train[imbalance_indices(y_pool[train], data.imbalance.ratio, data.imbalance.minority, classes, rng)]
    y_train = y_pool[train]
    if data.label_noise > 0:
        y_train, _ = corrupt_labels(y_train, data.label_noise, classes, rng)
    if data.rebalance == "oversample":
        keep = oversample_indices(y_train, rng)
        train, y_train = train[keep], y_train[keep]
    weights = class_weights(y_train, classes) if data.rebalance == "class_weight" else None
    x_train, x_val = x_pool[train], x_pool[val]
    notes: tuple[str, ...] = ()
    if source.table is not None:  # a raw table: its rows are ids until encoded, fitted on the training rows alone
        rows = lambda ids: source.table.iloc[ids.ravel().astype("int64")]  # noqa: E731
        encoded = tables.fit(rows(x_train), source.plan)
        x_train, x_val, x_test = (encoded.transform(rows(ids)) for ids in (x_train, x_val, x_test))
        notes = encoded.notes
    if data.feature_scales > 0:
        x_train, x_val, x_test = spread_scales([x_train, x_val, x_test], data.feature_scales, data.seed)
    x_train, x_val, x_test = scale(x_train, [x_val, x_test], data.scaling)
    y_val, label_scale = y_pool[val], None
    if regression:  # trained on the label standardized by the training split alone; reported in its own units
        label_scale = (float(y_train.mean()), float(y_train.std()) or 1.0)
        y_train, y_val, y_test = (((v - label_scale[0]) / label_scale[1]).astype("float32") for v in (y_train, y_val, y_test))
        notes += (f"label: a quantity (data.task: regression), trained standardized by its training rows' mean "
                  f"{label_scale[0]:.4g} and SD {label_scale[1]:.4g}; errors reported in its own units",)
    arrays = dict(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)
    return Splits(**arrays, classes=classes, fingerprint=fingerprint(arrays), class_weight=weights,
                  class_names=source.class_names, preprocessing=notes, order=data.order, label_scale=label_scale)


def fixed_order(splits: Splits, seed: int, rows: np.ndarray | None = None) -> np.ndarray | None:
    """The training rows in the order every epoch takes them when ``data.order`` fixes one; ``None`` when each
    epoch reshuffles (``shuffled``, the default). ``once``: one permutation, drawn from the trial's seed and
    kept for every epoch; ``sorted``: that permutation sorted by class (stably), so that each batch holds one
    or two classes, in the same class order every epoch; ``none``: the rows as the split holds them. ``rows``: the examples to order (a bootstrap
    resample), all of them when left out."""
    if splits.order == "shuffled":
        return None
    rows = np.arange(len(splits.y_train)) if rows is None else np.asarray(rows)
    if splits.order == "none":  # as the split holds them, every epoch
        return rows.astype("int32")
    rows = rows[np.random.default_rng([seed, 404]).permutation(len(rows))]
    if splits.order == "sorted":
        rows = rows[np.argsort(splits.y_train[rows], kind="stable")]
    return rows.astype("int32")


def imbalance_indices(y: np.ndarray, ratio: float, minority: int, classes: int, rng) -> np.ndarray:
    """Keep every example of the majority classes and 1/ratio (at least one) of the last ``minority`` classes."""
    keep = []
    for label in range(classes):
        idx = np.flatnonzero(y == label)
        if label >= classes - minority:
            idx = rng.permutation(idx)[: max(1, int(round(len(idx) / ratio)))]
        keep.append(idx)
    return np.sort(np.concatenate(keep))


def corrupt_labels(y: np.ndarray, fraction: float, classes: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Redraw the labels of exactly round(fraction * n) examples uniformly from all classes (Zhang et al. 2017).

    A redrawn label can equal the true one, so fraction 1.0 gives fully random labels.
    Returns the new labels and the indices that were redrawn.
    """
    chosen = np.sort(rng.choice(len(y), size=int(round(fraction * len(y))), replace=False))
    noisy = y.copy()
    noisy[chosen] = rng.integers(0, classes, size=len(chosen))
    return noisy, chosen


def oversample_indices(y: np.ndarray, rng) -> np.ndarray:
    """Every example once, plus minority examples redrawn with replacement until each class matches the largest."""
    counts = np.bincount(y)
    extra = [
        rng.choice(np.flatnonzero(y == label), size=counts.max() - n, replace=True)
        for label, n in enumerate(counts)
        if 0 < n < counts.max()
    ]
    return np.sort(np.concatenate([np.arange(len(y)), *extra]))


def class_weights(y: np.ndarray, classes: int) -> dict[int, float]:
    """Weights inversely proportional to class frequency, averaging 1 over examples (scikit-learn's "balanced")."""
    counts = np.bincount(y, minlength=classes)
    return {c: float(len(y) / (classes * n)) if n else 0.0 for c, n in enumerate(counts)}


def split_indices(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hold out round(fraction * n) examples (at least one when n >= 2), spread over classes as evenly as their counts allow."""
    n_held = int(round(len(y) * fraction))
    if len(y) >= 2:
        n_held = min(max(n_held, 1), len(y) - 1)
    held = subsample_indices(y, n_held, rng) if n_held else np.array([], dtype="int64")
    keep = np.setdiff1d(np.arange(len(y)), held)
    return keep, held


def fold_indices(y: np.ndarray, k: int, fold: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stratified k-fold: every example in exactly one fold; ``fold`` is held out, the rest trains."""
    assignment = np.empty(len(y), dtype="int64")
    dealt = 0
    for label in np.unique(y):  # deal each class's examples round the folds, carrying on where the last class ended
        members = rng.permutation(np.flatnonzero(y == label))
        assignment[members] = (dealt + np.arange(len(members))) % k
        dealt += len(members)
    return np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold)


def _stratified_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order in which every prefix holds each class in about its overall proportion."""
    order = rng.permutation(len(y))
    rank = np.empty(len(y), dtype="float64")
    for label in np.unique(y):
        members = order[y[order] == label]
        rank[members] = (np.arange(len(members)) + 0.5) / len(members)
    return order[np.lexsort((np.arange(len(y)), rank[order]))]


def subsample_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices, stratified: each class in about its proportion."""
    if n >= len(y):
        return np.arange(len(y))
    return np.sort(_stratified_order(y, rng)[:n])


def only_classes(source: Source, classes: list[int]) -> Source:
    """The examples of these classes only, relabelled 0..k-1 in the order listed (a task of its own)."""
    missing = set(classes) - set(np.unique(source.y).tolist())
    if missing:
        raise DataError(f"data.classes: {sorted(missing)} not among the dataset's labels")
    relabel = {c: i for i, c in enumerate(classes)}

    def keep(x, y):
        if x is None:
            return None, None
        mask = np.isin(y, classes)
        return x[mask], np.array([relabel[int(v)] for v in y[mask]], dtype="int64")

    x, y = keep(source.x, source.y)
    x_test, y_test = keep(source.x_test, source.y_test)
    names = None if source.class_names is None else tuple(source.class_names[c] for c in classes)
    return Source(x=x, y=y, x_test=x_test, y_test=y_test, class_names=names, table=source.table, plan=source.plan)


def spread_scales(splits: list[np.ndarray], decades: float, seed: int) -> list[np.ndarray]:
    """Give the raw features scales spread over ``decades`` orders of magnitude, the same in every split.

    Feature i is multiplied by 10**u_i, with u evenly spaced over [-decades/2, decades/2] and shuffled
    by its own generator, so the splits drawn from ``data.seed`` stay what they were.
    """
    shape = splits[0].shape[1:]
    u = np.linspace(-decades / 2, decades / 2, int(np.prod(shape)))
    factors = (10.0 ** np.random.default_rng([seed, 1]).permutation(u)).reshape(shape)
    return [(x * factors).astype("float32") for x in splits]


def scale(train: np.ndarray, others: list[np.ndarray], how: str) -> list[np.ndarray]:
    """Scale every split with statistics of the training split only."""
    if how == "none":
        return [train, *others]
    if how == "standard":
        shift, spread = train.mean(axis=0), train.std(axis=0)
    else:  # minmax
        shift, spread = train.min(axis=0), train.max(axis=0) - train.min(axis=0)
    spread = np.where(spread > 1e-8, spread, 1.0)  # constant features (blank pixels) stay finite
    return [((a - shift) / spread).astype("float32") for a in (train, *others)]


def fingerprint(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, a.dtype.str, a.shape]).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
