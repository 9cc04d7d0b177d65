"""``suite init DATA --label COLUMN``: a first study file for the user's own data, which runs as written.

It reads the file as a study would (``suite.train.files``), so a file the suite cannot use is
refused here, in one line, not at the first trial. A raw table is taken as it comes: its
string, boolean, date and missing values are encoded per split (``suite.train.tables``; a date
column is declared ``date``: its year, month, day of the year and weekday), and a column a model
cannot use as it is (free text, a name on every row) is declared dropped in the study, with the
reason beside it, so the study runs on the file unchanged. The study is a plain search: an MLP, its
learning rate and width tuned, the best setting rerun with three seeds. What it claims is judged:
a standardised logistic regression (scikit-learn, no backend) is fitted on the study's own training
rows (its splits, read back from the written file) and scored on its validation rows (the target,
for the time to reach it) and its test rows (the bound the MLP's test accuracy must exceed, its
balanced accuracy where the classes are imbalanced).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suite.ground.errors import SuiteError
from suite.train import files, tables


@dataclass(frozen=True)
class Baseline:
    """What a standardised logistic regression (scikit-learn, no backend) scores on the study's own splits: fitted on
    its training rows, encoded and scaled as a trial's are, then scored on its validation and test rows."""

    val_accuracy: float
    test_accuracy: float
    test_balanced_accuracy: float


def baseline(splits) -> Baseline:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    model = LogisticRegression(max_iter=2000).fit(flat(splits.x_train), splits.y_train)
    return Baseline(float(model.score(flat(splits.x_val), splits.y_val)),
                    float(model.score(flat(splits.x_test), splits.y_test)),
                    float(balanced_accuracy_score(splits.y_test, model.predict(flat(splits.x_test)))))


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
    imbalanced = counts.max() >= 3 * max(counts.min(), 1)  # accuracy alone would flatter a model that misses the small classes
    imbalance = ""
    if imbalanced:
        imbalance = (f"\n# The classes are imbalanced (the smallest is {counts.min() / len(y):.0%} of the rows): always "
                     f"answering the largest class\n#   scores {counts.max() / len(y):.3f} accuracy. The claim is judged on "
                     "balanced accuracy, and the report shows it and macro F1\n#   beside accuracy; to weigh the small "
                     "classes in training, add rebalance: class_weight (or oversample) to data:.")
    try:
        where = data.relative_to(out.parent).as_posix()
    except ValueError:
        where = str(data)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    quoted = json.dumps  # a file or column name may hold anything YAML would read otherwise

    def data_block(declared: dict[str, str]) -> str:
        columns = ", columns: {" + ", ".join(f"{quoted(c)}: {kind}" for c, kind in declared.items()) + "}" if declared else ""
        return f"{{path: {quoted(where)}, label: {quoted(label)}{columns}}}" if table else f"{{path: {quoted(where)}}}"

    features = len(source.plan.kinds) if source.plan else int(np.prod(source.x.shape[1:]))
    measure = "test_balanced_accuracy" if imbalanced else "test_accuracy"
    what = "balanced accuracy" if imbalanced else "accuracy"

    def text(base: Baseline | None, notes=(), declared: dict[str, str] | None = None) -> str:
        b = base or Baseline(0.0, 0.0, 0.0)  # the draft, read back only for its splits
        score = b.test_balanced_accuracy if imbalanced else b.test_accuracy
        encoding = "".join(f"\n#   {note}" for note in notes)
        why = "".join(f"\n#   {c}: dropped, it {reason}" for c, reason in dropped.items())
        described = ("\n# Columns (encoded per split, fitted on its training rows; override a kind with data.columns):"
                     + encoding + why) if table and (notes or dropped) else ""
        return f"""\
# A first study of {data.name}, written by `suite init` (README: "Your own data and your own model").
# Run:   suite run {out.name} --profile smoke     (a minute), then without --profile
# The data: {len(y)} rows, {features} feature columns, {len(counts)} classes ({shown});
#   the largest class is {counts.max() / len(y):.0%} of the rows.{imbalance}{described}
# The baseline, measured by `suite init` on this study's own splits (data.seed 0: the rows every trial sees):
#   a standardised logistic regression fitted on the training rows scored a validation accuracy of
#   {b.val_accuracy:.4f} (the target: the MLP's epochs to reach it), and a test {what} of {score:.4f}.
# The claim is judged (expect:): is the tuned MLP's mean test {what} over its seeds above the baseline's?
# A plain search: `tune:` tries learning rates and widths, then the best setting is rerun with
#   every seed; the report lists the top trials. Add a `grid:` to compare settings.
name: {name}
title: An MLP on {data.name}
claim: A tuned MLP scores a higher test {what} than a logistic regression on {data.name}.
data: {data_block(declared or {})}
model: {{family: mlp, depth: 2, width: 64, activation: relu}}
train: {{optimizer: adam, learning_rate: 1.0e-3, batch_size: 32, epochs: 30, patience: 5}}
tune:
  algorithm: random
  trials: 8
  space:
    train.learning_rate: {{log: [1.0e-4, 1.0e-2]}}
    model.width: {{int: [16, 256]}}
seeds: [0, 1, 2]
target: {{metric: val_accuracy, value: {b.val_accuracy:.4f}}}
expect:
  - says: The tuned MLP's test {what} is above the logistic regression's ({score:.4f}, measured by suite init)
    metric: {measure}
    above: {score:.4f}
profiles:
  smoke: {{train.epochs: 3, tune.trials: 2, seeds: [0]}}
"""

    draft = out.with_name(f".{out.stem}.init-draft.yaml")  # beside the study: its data path reads the same
    try:
        draft.write_text(text(None, declared={c: "drop" for c in dropped}))  # dates inferred: their notes say why
        from suite.study import load_study
        from suite.train.splits import prepare

        splits = prepare(load_study(draft).cells[0].settings.data)
    finally:
        draft.unlink(missing_ok=True)
    notes = tuple(n for n in splits.preprocessing if not any(n.startswith(f"{c}: dropped") for c in dropped))  # said below
    out.write_text(text(baseline(splits), notes, declared={**{c: "date" for c in dates}, **{c: "drop" for c in dropped}}))
    return out, notes, dropped
