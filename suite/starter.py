"""``suite init DATA --label COLUMN``: a first study file for the user's own data, which runs as written.

It reads the file as a study would (``suite.train.files``), so a file the suite cannot use is
refused here, in one line, not at the first trial. A raw table is taken as it comes: its
string, boolean, date and missing values are encoded per split (``suite.train.tables``; a date
column is declared ``date``: its year, month, day of the year and weekday), and a column a model
cannot use as it is (free text, a name on every row) is declared dropped in the study, with the
reason beside it, so the study runs on the file unchanged. The study is a plain search: an MLP, its
learning rate and width tuned, the best setting rerun with three seeds. Its target is measured,
not guessed: the validation accuracy a logistic regression (scikit-learn, no backend) reaches on
a stratified hold-out of the same rows, rounded down to two decimals.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from suite.ground.errors import SuiteError
from suite.train import files, tables


def baseline(source, seed: int = 0) -> tuple[float, tuple[str, ...]]:
    """Validation accuracy of a standardised logistic regression on a stratified 20% hold-out, and for a
    raw table how its columns were encoded (fitted on the hold-out's training rows, as a study's splits are)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = source.x.reshape(len(source.x), -1), source.y
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=stratify)
    notes: tuple[str, ...] = ()
    if source.table is not None:  # row ids: encode with statistics of the training rows only
        rows = lambda ids: source.table.iloc[ids.ravel().astype("int64")]  # noqa: E731
        encoded = tables.fit(rows(x_train), source.plan)
        x_train, x_val, notes = encoded.transform(rows(x_train)), encoded.transform(rows(x_val)), encoded.notes
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_train, y_train)
    return float(model.score(x_val, y_val)), notes


def inferred(path: Path, label: str, kind: str) -> dict[str, str]:
    """The feature columns inferred as ``kind`` ("refused": those a model cannot take as they are, free text and
    identifiers; "date": dates), with why."""
    import pandas as pd

    table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    found = {}
    for column in table.columns:
        if str(column) != label:
            got, reason = tables.infer(table[column])
            if got == kind:
                found[str(column)] = reason
    return found


def write(data: Path, label: str | None, out: Path | None = None) -> Path:
    """Write the study file for ``data`` (beside it unless ``out``); never over an existing file."""
    data = data.resolve()
    if data.suffix.lower() not in files.FORMATS:
        raise SuiteError(f"{data.name}: suite init reads {', '.join(files.FORMATS)} files")
    if data.suffix.lower() != ".npz" and label is None:
        raise SuiteError(f"{data.name}: a table needs --label COLUMN, the name of its class column")
    table = data.suffix.lower() != ".npz"
    readable = table and label is not None and data.is_file()
    dropped = inferred(data, label, "refused") if readable else {}
    dates = inferred(data, label, "date") if readable else {}  # offered as dates: year, month, day of year, weekday
    source = files.read(str(data), label if table else None, {c: "drop" for c in dropped})
    out = (out or data.with_suffix(".yaml")).resolve()
    if out.exists():
        raise SuiteError(f"{out}: exists; give another path with --out")
    name = re.sub(r"[^a-z0-9_-]", "_", data.stem.lower()).strip("_-")[:64] or "my_data"
    if not name[0].isalnum():
        name = f"d{name}"[:64]
    y = source.y
    counts = np.bincount(y)
    names = source.class_names or tuple(map(str, range(len(counts))))
    reached, notes = baseline(source)
    notes = tuple(n for n in notes if not any(n.startswith(f"{c}: dropped") for c in dropped))  # said below, with why
    target = np.floor(reached * 100) / 100
    try:
        where = data.relative_to(out.parent).as_posix()
    except ValueError:
        where = str(data)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    quoted = json.dumps  # a file or column name may hold anything YAML would read otherwise
    columns = ""
    if dropped or dates:
        columns = ", columns: {" + ", ".join([*(f"{quoted(c)}: date" for c in dates),
                                             *(f"{quoted(c)}: drop" for c in dropped)]) + "}"
    data_block = f"{{path: {quoted(where)}, label: {quoted(label)}{columns}}}" if table else f"{{path: {quoted(where)}}}"
    encoding = "".join(f"\n#   {note}" for note in notes)
    why = "".join(f"\n#   {c}: dropped, it {reason}" for c, reason in dropped.items())
    described = ("\n# Columns (encoded per split, fitted on its training rows; override a kind with data.columns):"
                 + encoding + why) if table and (notes or dropped) else ""
    features = len(source.plan.kinds) if source.plan else int(np.prod(source.x.shape[1:]))
    imbalance = ""
    if counts.max() >= 3 * max(counts.min(), 1):  # accuracy alone would flatter a model that misses the small classes
        imbalance = (f"\n# The classes are imbalanced (the smallest is {counts.min() / len(y):.0%} of the rows): always "
                     f"answering the largest class\n#   scores {counts.max() / len(y):.3f} accuracy. The report then shows "
                     "balanced accuracy and macro F1 beside accuracy;\n#   to weigh the small classes in training, add "
                     "rebalance: class_weight (or oversample) to data:.")
    text = f"""\
# A first study of {data.name}, written by `suite init` (README: "Your own data and your own model").
# Run:   suite run {out.name} --profile smoke     (a minute), then without --profile
# The data: {len(y)} rows, {features} feature columns, {len(counts)} classes ({shown});
#   the largest class is {counts.max() / len(y):.0%} of the rows.{imbalance}{described}
# The target: a logistic regression reached a validation accuracy of {reached:.3f} on a stratified 20%
#   hold-out of these rows (measured by `suite init`); the target asks the MLP for at least that.
# A plain search: `tune:` tries learning rates and widths, then the best setting is rerun with
#   every seed; the report lists the top trials. Add a `grid:` and `expect:` to test a claim.
name: {name}
title: An MLP on {data.name}
claim: A tuned MLP reaches at least a logistic regression's validation accuracy on {data.name}.
data: {data_block}
model: {{family: mlp, depth: 2, width: 64, activation: relu}}
train: {{optimizer: adam, learning_rate: 1.0e-3, batch_size: 32, epochs: 30, patience: 5}}
tune:
  algorithm: random
  trials: 8
  space:
    train.learning_rate: {{log: [1.0e-4, 1.0e-2]}}
    model.width: {{int: [16, 256]}}
seeds: [0, 1, 2]
target: {{metric: val_accuracy, value: {target:.2f}}}
profiles:
  smoke: {{train.epochs: 3, tune.trials: 2, seeds: [0]}}
"""
    out.write_text(text)
    return out, notes, dropped
