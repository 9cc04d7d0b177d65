"""The user's own data: a table (CSV, Parquet) or arrays (NPZ) read into a ``Source``.

A table has one label column (``data.label``): classes, or a quantity under ``data.task: regression``
(numbers, kept as they are; ``suite.train.tasks``). Every other column is a feature, taken as
it comes: numeric, boolean and categorical columns, with missing values, are encoded per
split by ``suite.train.tables`` (fitted on the training rows alone), and a column's kind can
be declared (``data.columns``). Classes, strings or integers, are encoded in sorted order
and keep their names. An ``.npz`` holds ``x`` and ``y`` (any input
shape) and, optionally, ``x_test`` and ``y_test``; without them ``splits`` holds out
``data.test`` of ``x``, stratified and seeded, as for the built-in datasets.

Every problem is a one-line ``DataError`` naming the file and the column or array,
raised before anything trains (the runner prepares every cell's data first).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from suite.ground.errors import DataError, one_line
from suite.train import tables
from suite.train.datasets import Source
from suite.train.kept import Kept

FORMATS = (".csv", ".parquet", ".npz")


def version(path: str | None) -> str:
    """What tells one version of a file from the next (modification time and size); "" for no file."""
    if path is None or not Path(path).is_file():
        return ""
    stat = Path(path).stat()
    return f"|{stat.st_mtime_ns}:{stat.st_size}"


def read(path: str, label: str | None, columns: dict[str, str] | None = None, kept: Kept | None = None,
         task: str | None = None) -> Source:
    """The file's arrays, read once per version of the file and run (``kept``: a grid over splits reads it once).
    ``task``: ``data.task`` (None: classes, and a label that looks like a quantity is refused)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data.path: no such file {file}")
    columns = dict(columns or {})
    key = (str(file), label, version(path), tuple(sorted(columns.items())), task)
    return (kept or Kept()).files.get_or_make(
        key, lambda: _arrays(file, task) if file.suffix == ".npz" else _table(file, label, columns, task))


def load_table(file: Path, label: str | None):
    """A CSV or Parquet table as a data frame, or one line saying why not: unreadable (binary data, a ragged CSV,
    an empty file), no rows, no column named ``label`` (a file without a header row names none), or a label column
    without a single value."""
    import pandas as pd

    try:
        table = pd.read_parquet(file) if file.suffix.lower() == ".parquet" else pd.read_csv(file)
    except Exception as e:  # noqa: BLE001 - any reader failure is "cannot read this file"
        raise DataError(f"data.path: cannot read {file.name} as {file.suffix[1:]}: {one_line(e)}") from None
    if table.empty:
        raise DataError(f"data.path: {file.name} has no rows")
    if label not in table.columns:
        raise DataError(f"data.label: no column {label!r} in {file.name} (columns: {', '.join(map(str, table.columns))}; "
                        "a file without a header row names its first row's values)")
    if table[label].isna().all():
        raise DataError(f"data.label: column {label!r} of {file.name} holds no value in any of its {len(table)} rows")
    return table


def _table(file: Path, label: str | None, columns: dict[str, str], task: str | None = None) -> Source:
    import pandas as pd

    table = load_table(file, label)
    features = table.drop(columns=[label])
    if features.shape[1] == 0:
        raise DataError(f"data.path: {file.name} has no feature column besides {label!r}")
    labels = table[label]
    where = f"column {label!r} of {file.name}"
    note = _quantity(labels, where, task)
    unlabelled = int(labels.isna().sum())
    if unlabelled == len(labels):
        raise DataError(f"data.label: column {label!r} of {file.name} has no label on any row")
    if unlabelled:  # a row without its label teaches nothing: dropped, and said (init, every run's tags, the report)
        features, labels = features[labels.notna()].reset_index(drop=True), labels[labels.notna()].reset_index(drop=True)
    plan = tables.plan(features, columns, file.name)
    plan = replace(plan, unlabelled=unlabelled, label_note=note)
    frame = tables.as_frame(features, plan)
    rows = np.arange(len(labels), dtype="float64").reshape(-1, 1)  # row ids: each split encodes its own rows
    if task == "regression":
        return Source(rows, _quantities(labels, where), table=frame, plan=plan)
    values = labels.to_numpy() if pd.api.types.is_numeric_dtype(labels) else labels.astype(str).to_numpy()
    names, y = np.unique(values, return_inverse=True)
    _two_classes(names, where)
    return Source(rows, y.astype("int64"), class_names=tuple(str(n) for n in names), table=frame, plan=plan)


CONTINUOUS = 20  # a numeric label with more distinct values than this, some of them not whole numbers, is a quantity
FRACTIONAL = 0.1  # "some": at least this share of the rows
# Whole numbers (a mass in grams, a count, a price in whole units) are a quantity where they take many distinct values
# for the table's size: AutoGluon's rule (``infer_problem_type``): more than 10% of the rows under 1,000 rows, more
# than 5% beyond, or more than 1,000 in all.
MANY_SHARE_SMALL, MANY_SHARE_LARGE, LARGE_TABLE, MANY_WHOLE = 0.10, 0.05, 1000, 1000


def looks_like_quantity(labels) -> str | None:
    """Why a label column looks like a quantity (a price, a temperature, a mass in whole grams) rather than
    classes, or None: the rule applied, in words."""
    import pandas as pd

    present = labels.dropna()
    distinct = present.nunique()
    if not pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present) or distinct <= CONTINUOUS:
        return None
    fractional = float((present != present.round()).mean())
    if fractional >= FRACTIONAL:
        return f"{distinct} distinct values, {fractional:.0%} of them not whole numbers"
    share = MANY_SHARE_SMALL if len(present) < LARGE_TABLE else MANY_SHARE_LARGE
    if distinct > MANY_WHOLE or distinct > share * len(present):
        return (f"{distinct} distinct whole numbers in {len(present)} rows: more than {share:.0%} of the rows"
                if distinct <= MANY_WHOLE else f"{distinct} distinct whole numbers: more than {MANY_WHOLE}")
    return None


def _quantity(labels, where: str, task: str | None) -> str:
    """A label that looks like a quantity, in a study that did not say what its label is, is refused in one line
    that names ``data.task`` (taking each distinct number as a class would answer another question without a
    word); where the study declares classes, it is said in the notes. Returns that note ("" for none)."""
    if task == "regression":
        return ""
    why = looks_like_quantity(labels)
    if why is None:
        return ""
    if task is None:
        raise DataError(f"data.label: {where} looks like a quantity, not classes ({why}): declare data.task: regression "
                        "to predict it, or data.task: classification to take each value as a class")
    return f"declared classes (data.task: classification), although it looks like a quantity ({why})"


def _quantities(labels, where: str) -> np.ndarray:
    """A regression's labels as float64, the rows without one already dropped: numbers, finite, not all equal."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(labels) or pd.api.types.is_bool_dtype(labels):
        raise DataError(f"data.label: {where} holds {labels.dtype} values, not numbers: a regression (data.task: "
                        "regression) predicts a quantity")
    y = labels.to_numpy(dtype="float64")
    if not np.isfinite(y).all():
        raise DataError(f"data.label: {where} holds an infinite value: a regression needs finite numbers")
    if np.ptp(y) == 0:
        raise DataError(f"data.label: {where} holds one value only ({y[0]:g}): nothing to predict")
    return y


def _arrays(file: Path, task: str | None = None) -> Source:
    try:
        with np.load(file, allow_pickle=False) as arrays:
            found = {k: arrays[k] for k in arrays.files}
    except Exception as e:  # noqa: BLE001
        raise DataError(f"data.path: cannot read {file.name} as npz: {one_line(e)}") from None
    return source_of(found, f"data.path: {file.name}", task)


def source_of(found: dict, where: str, task: str | None = None) -> Source:
    """A ``Source`` from arrays ``x``, ``y`` and optionally ``x_test``, ``y_test`` (an .npz file's, or a
    registered dataset's); labels of any kind, encoded in sorted order, or a regression's numbers as they
    are. ``where`` starts every message."""
    for name in ("x", "y"):
        if name not in found:
            raise DataError(f"{where}: no array {name!r} (it has: {', '.join(found) or 'none'})")
    if ("x_test" in found) != ("y_test" in found):
        raise DataError(f"{where}: give both x_test and y_test, or neither")
    found = {k: np.asarray(v) for k, v in found.items()}
    pairs = [("x", "y")] + ([("x_test", "y_test")] if "x_test" in found else [])
    for xs, ys in pairs:
        if len(found[xs]) != len(found[ys]):
            raise DataError(f"{where}: {xs} has {len(found[xs])} rows but {ys} has {len(found[ys])}")
        if found[ys].ndim != 1:
            raise DataError(f"{where}: {ys} must be one label per row, got shape {found[ys].shape}")
        if not np.issubdtype(found[xs].dtype, np.number) or not np.isfinite(found[xs]).all():
            raise DataError(f"{where}: {xs} must hold finite numbers")
    if len(found["y"]) == 0:
        raise DataError(f"{where}: x and y have no rows")
    every = np.concatenate([found["y"], found.get("y_test", found["y"][:0])])
    x = found["x"].astype("float32")
    x_test = found["x_test"].astype("float32") if "x_test" in found else None
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise DataError(f"{where}: x_test's rows have shape {found['x_test'].shape[1:]}, x's {x.shape[1:]}")
    import pandas as pd

    what = f"y of {where.split(': ', 1)[-1]}"
    if task == "regression":
        every = _quantities(pd.Series(every), what)
        n = len(found["y"])
        return Source(x, every[:n], x_test, every[n:] if x_test is not None else None)
    if task is None:
        _quantity(pd.Series(every), what, None)  # a quantity taken as classes: refused, naming data.task
    names, codes = np.unique(every, return_inverse=True)
    _two_classes(names, what)
    y, y_test = codes[: len(found["y"])].astype("int64"), codes[len(found["y"]) :].astype("int64")
    class_names = tuple(map(str, names))
    if x_test is None:
        return Source(x, y, class_names=class_names)
    return Source(x, y, x_test, y_test, class_names)


def _two_classes(names, where: str) -> None:
    if len(names) < 2:
        raise DataError(f"data.label: {where} holds one class only ({names[0]!r}): nothing to classify")
